"""NPU suite: Arm's Ethos-U compiler (vela) on every INT8 model, for four Ethos-U NPUs.

    blazepose bench npu [--int8-dir [LABEL=]DIR] [--model [LABEL=]FILE.tflite] [--accelerator A] [--out DIR]

For each ``.tflite`` with integer activations (the INT8 files shipped in ``blazepose_sdk/model_files``, every
INT8 file of each ``--int8-dir`` (e.g. the output folder of ``python -m convert.int8_official
quantize``) and each ``--model``) and each accelerator (default Ethos-U55-128, U55-256,
U65-512, U85-256), vela (``pip install ethos-u-vela``) compiles the model with its default
system configuration and memory mode (it names them on stdout; they go into each row) and writes
its summary CSV. Each row holds:

* the op split in TFLite-graph terms: ops of the input graph, the ops vela left to the CPU (the
  non-``ethos-u`` operators of the compiled graph, by type) and the rest, mapped to the NPU;
  plus vela's own operator counts (after its graph rewrite, which splits and adds ops);
* why each CPU op type fell back (vela's "Warning (supported operators)" reasons);
* from the CSV: SRAM, DRAM and flash use (KiB), NPU cycles, estimated ms and inferences per
  second at the configuration's clock, MACs on the NPU;
* the convolution / fully-connected MACs (:mod:`.modelinfo`) of the whole model and of the ops
  left to the CPU (``cpu_macs``): the work the estimate leaves out.

**Every figure is Arm's estimate (vela's performance model), not a measurement**, and it covers the
NPU part only: the ops left to the CPU are not in the estimated time.

Parsing (:func:`parse_summary_csv`, :func:`parse_vela_log`, :func:`npu_row`) is pure; running
vela and reading graphs is in :func:`run_vela` and :func:`graph_op_types`.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from blazepose_sdk.assets import tflite_file

from .common import Reporter, new_payload, write_json
from .machine import describe_machine
from .modelinfo import analyze_tflite
from .tables import print_tables

# vela's --accelerator-config names (ethos-u-vela 5.2 `vela --help`) run by default.
DEFAULT_ACCELERATORS = ("ethos-u55-128", "ethos-u55-256", "ethos-u65-512", "ethos-u85-256")
# The custom-op code vela gives the NPU part of a compiled graph.
ETHOSU_CUSTOM_CODE = "ethos-u"
# TensorType values (TFLite schema.fbs) of integer activations the Ethos-U computes on.
INTEGER_ACTIVATION_TYPES = {9: "int8", 3: "uint8", 7: "int16"}
ESTIMATE_LABEL = "Arm's estimate (vela), not a measurement"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "model_files"


class VelaUnavailableError(RuntimeError):
    """ethos-u-vela is not installed."""


# -- pure parsing ------------------------------------------------------------------------------
def _number(text: str):
    """CSV cell -> int, float or the stripped string."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_summary_csv(text: str) -> dict:
    """vela's ``<model>_summary_<system config>.csv`` (a header line and one row) as a dict of numbers."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if len(rows) != 1:
        raise ValueError(f"vela summary CSV: expected one data row, got {len(rows)}")
    return {k.strip(): _number(v) for k, v in rows[0].items() if k is not None and v is not None}


_WARNING = re.compile(r"^Warning \(supported operators\) operator: (\S+), ofm: '(.*)'\s*$")
_OPERATORS = re.compile(r"^(CPU|NPU) operators = (\d+) \(([\d.]+)%\)")
_DEFAULT = re.compile(r"^Warning: No (system configuration|memory mode) specified\. Using a default of (\S+?)\.")


def parse_vela_log(text: str) -> dict:
    """vela's stdout: default system config / memory mode, operator counts, unsupported-op warnings.

    Returns ``{"system_config_default", "memory_mode_default", "vela_cpu_operators",
    "vela_npu_operators", "warnings": [{"op", "ofm", "reason"}]}`` (None where absent). A
    warning's reason is its ``Reason:`` line and the lines after it up to a blank line.
    """
    out: dict = {"system_config_default": None, "memory_mode_default": None,
                 "vela_cpu_operators": None, "vela_npu_operators": None, "warnings": []}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _DEFAULT.match(line)
        if m:
            key = "system_config_default" if m.group(1) == "system configuration" else "memory_mode_default"
            out[key] = m.group(2)
        m = _OPERATORS.match(line)
        if m:
            out[f"vela_{m.group(1).lower()}_operators"] = int(m.group(2))
        m = _WARNING.match(line)
        if m:
            reason: list[str] = []
            j = i + 1
            while j < len(lines) and lines[j].strip() and not _WARNING.match(lines[j]):
                reason.append(lines[j].strip())
                j += 1
            text_reason = "\n".join(reason)
            if text_reason.startswith("Reason: "):
                text_reason = text_reason[len("Reason: "):]
            out["warnings"].append({"op": m.group(1), "ofm": m.group(2), "reason": text_reason})
            i = j
            continue
        i += 1
    return out


def fallback_reasons(warnings: list[dict]) -> dict[str, dict[str, int]]:
    """Op type -> {reason: how many ops of that type gave it}.

    A reason is the first line of vela's (the constraint lines after it list what the accelerator
    accepts) without the tensor names in parentheses, so ops of one type with the same cause group
    together (``... unsupported DataType Float32 (name)`` -> ``... unsupported DataType Float32``).
    """
    out: dict[str, Counter] = {}
    for w in warnings:
        reason = re.sub(r"\s*\([^()]*\)", "", w["reason"].split("\n")[0]).strip()
        out.setdefault(w["op"], Counter())[reason] += 1
    return {op: dict(c) for op, c in out.items()}


def npu_row(name: str, path: str, accelerator: str, ops_in: list[str], ops_out: list[str],
            summary: dict, log: dict) -> dict:
    """One model x accelerator row from the input graph's op types, the compiled graph's op types,
    the parsed CSV and the parsed log."""
    cpu_ops = Counter(op for op in ops_out if op != ETHOSU_CUSTOM_CODE)
    n_cpu = sum(cpu_ops.values())
    seconds = summary.get("inference_time")
    flash = (summary.get("off_chip_flash_memory_used") or 0) + (summary.get("on_chip_flash_memory_used") or 0)
    reasons = fallback_reasons(log["warnings"])
    clock = summary.get("core_clock")
    return {
        "name": name,
        "path": path,
        "accelerator": accelerator,
        "accelerator_configuration": summary.get("accelerator_configuration"),
        "system_config": summary.get("system_config"),
        "memory_mode": summary.get("memory_mode"),
        "system_config_is_vela_default": log["system_config_default"] is not None,
        "core_clock_mhz": clock / 1e6 if isinstance(clock, (int, float)) else None,
        "ops_total": len(ops_in),
        "ops_npu": len(ops_in) - n_cpu,
        "ops_cpu": n_cpu,
        "cpu_op_types": dict(sorted(cpu_ops.items())),
        "npu_subgraphs": sum(1 for op in ops_out if op == ETHOSU_CUSTOM_CODE),
        "fallback_reasons": {op: reasons.get(op, {}) for op in sorted(cpu_ops)},
        # every op vela warned about, including ones its graph rewrite then removed or folded
        "vela_warnings": reasons,
        "vela_npu_operators": log["vela_npu_operators"],
        "vela_cpu_operators": log["vela_cpu_operators"],
        "sram_kib": summary.get("sram_memory_used"),
        "dram_kib": summary.get("dram_memory_used"),
        "flash_kib": flash,
        "weights_storage_area": summary.get("weights_storage_area"),
        "feature_map_storage_area": summary.get("feature_map_storage_area"),
        "cycles_npu": summary.get("cycles_npu"),
        "cycles_total": summary.get("cycles_total"),
        "est_ms": seconds * 1000.0 if isinstance(seconds, (int, float)) else None,
        "est_inferences_per_s": summary.get("inferences_per_second"),
        "macs": summary.get("nn_macs"),
        "estimate": ESTIMATE_LABEL,
        "error": None,
    }


# -- graphs and vela ---------------------------------------------------------------------------
def graph_op_types(path: str | os.PathLike) -> list[str]:
    """Op types of a .tflite's main subgraph, in order (builtin names; custom ops by their code)."""
    return tflite_file.op_names(tflite_file.load(path))


def integer_activation_share(path: str | os.PathLike) -> float:
    """Share of the main subgraph's activation tensors (no buffer data) that are int8/uint8/int16.

    1.0 (minus the float I/O) for a full-integer model, between for INT8 with float fallback ops,
    0 for float or dynamic-range models, which vela can only leave to the CPU.
    """
    model = tflite_file.load(path)
    kinds = [t.type_code in INTEGER_ACTIVATION_TYPES for t in tflite_file.subgraph(model).tensors
             if not tflite_file.is_constant(model, t)]  # constants: weights, biases, shapes
    return sum(kinds) / len(kinds) if kinds else 0.0


def vela_version() -> str | None:
    try:
        return metadata.version("ethos-u-vela")
    except metadata.PackageNotFoundError:
        return None


def vela_available() -> bool:
    return importlib.util.find_spec("ethosu") is not None and vela_version() is not None


@dataclass
class VelaRun:
    returncode: int
    stdout: str
    csv_text: str | None
    compiled: Path | None


def run_vela(model: str | os.PathLike, accelerator: str, out_dir: str | os.PathLike, timeout: float = 900) -> VelaRun:
    """Compile ``model`` for ``accelerator`` with vela's defaults into ``out_dir`` (stdout kept in vela.log)."""
    if not vela_available():
        raise VelaUnavailableError("ethos-u-vela is not installed: `pip install ethos-u-vela`")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(model).stem
    for old in [*out.glob(f"{stem}_summary_*.csv"), out / f"{stem}_vela.tflite"]:
        old.unlink(missing_ok=True)  # a failed run must not leave an earlier run's results to read
    cmd = [sys.executable, "-m", "ethosu.vela", str(model), "--accelerator-config", accelerator,
           "--output-dir", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    text = proc.stdout + ("\n" + proc.stderr if proc.stderr else "")
    (out / "vela.log").write_text(" ".join(cmd) + "\n" + text)
    csvs = sorted(out.glob(f"{stem}_summary_*.csv"))
    compiled = out / f"{stem}_vela.tflite"
    return VelaRun(proc.returncode, text, csvs[0].read_text() if csvs else None,
                   compiled if compiled.is_file() else None)


def vela_failure(text: str) -> str:
    """The line of a failed vela run that says why (its last error line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "error" in ln:
            return ln[:400]
    return lines[-1][:400] if lines else "vela failed with no output"


# -- which models ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NpuModel:
    name: str
    path: Path
    source: str  # shipped | int8-dir | --model


def _label(spec: str) -> tuple[str | None, str]:
    label, sep, value = spec.partition("=")
    return (label, value) if sep and label and not Path(spec).exists() else (None, spec)


def npu_models(specs: list[str], int8_dirs: list[str], shipped: bool = True) -> tuple[list[NpuModel], list[str]]:
    """The INT8 models to compile, and notes on what was left out and why."""
    candidates: list[NpuModel] = []
    notes: list[str] = []
    if shipped:
        candidates += [NpuModel(p.stem, p, "shipped") for p in sorted(SHIPPED_DIR.glob("*.tflite"))]
    for spec in int8_dirs:
        label, folder = _label(spec)
        d = Path(folder)
        if not d.is_dir():
            notes.append(f"--int8-dir {spec}: not a folder")
            continue
        candidates += [NpuModel(f"{label or d.name}/{p.stem}", p, "int8-dir") for p in sorted(d.glob("*.tflite"))]
    for spec in specs:
        label, file = _label(spec)
        p = Path(file)
        if not p.is_file():
            notes.append(f"--model {spec}: no such file")
            continue
        candidates.append(NpuModel(label or p.stem, p, "--model"))
    models, skipped, seen = [], [], set()
    for m in candidates:
        key = m.path.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            quant = analyze_tflite(m.path).quantization
            share = integer_activation_share(m.path)
        except (ValueError, OSError, RuntimeError) as exc:
            notes.append(f"{m.name}: not read ({exc})")
            continue
        if share > 0:
            models.append(m)
        else:
            skipped.append(f"{m.name} ({quant})")
    if skipped:
        notes.append("no integer activations (float or dynamic-range), so nothing for the NPU: " + ", ".join(skipped))
    names = Counter(m.name for m in models)
    models = [NpuModel(f"{m.path.parent.name}/{m.name}", m.path, m.source) if names[m.name] > 1 else m for m in models]
    return models, notes


# -- the suite ---------------------------------------------------------------------------------
def run_npu(models: list[NpuModel], accelerators: list[str], work: Path, reporter: Reporter) -> list[dict]:
    """Compile every model for every accelerator; one row each (a failed compile: a row with ``error``)."""
    rows = []
    for m in reporter.progress(models, desc="vela"):
        ops_in = graph_op_types(m.path)
        for acc in accelerators:
            out = work / re.sub(r"[^\w.-]+", "_", m.name) / acc
            t0 = time.perf_counter()
            run = run_vela(m.path, acc, out)
            if run.returncode != 0 or run.csv_text is None or run.compiled is None:
                why = vela_failure(run.stdout)
                reporter.note(f"{m.name} [{acc}]: vela failed: {why}")
                rows.append({"name": m.name, "path": str(m.path), "accelerator": acc, "ops_total": len(ops_in),
                             "error": why, "estimate": ESTIMATE_LABEL})
                continue
            row = npu_row(m.name, str(m.path), acc, ops_in, graph_op_types(run.compiled),
                          parse_summary_csv(run.csv_text), parse_vela_log(run.stdout))
            row["source"] = m.source
            # conv / depthwise / fully-connected MACs (modelinfo) of the whole model and of the ops
            # vela left to the CPU: the work the estimate does not include
            model_flops, cpu_flops = analyze_tflite(m.path).flops, analyze_tflite(run.compiled).flops
            row["model_macs"] = model_flops // 2 if model_flops is not None else None
            row["cpu_macs"] = cpu_flops // 2 if cpu_flops is not None else None
            row["integer_activation_share"] = round(integer_activation_share(m.path), 3)
            row["vela_output"] = str(out)
            row["compile_s"] = round(time.perf_counter() - t0, 2)
            rows.append(row)
    return rows


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/benchmarks", help="output folder for npu.json, report.md and vela's files")
    p.add_argument("--int8-dir", action="append", default=[], metavar="[LABEL=]DIR",
                   help="compile every INT8 .tflite in DIR (e.g. `python -m convert.int8_official quantize --out DIR`); "
                   "repeatable")
    p.add_argument("--model", action="append", default=[], metavar="[LABEL=]FILE",
                   help="an INT8 .tflite to compile; repeatable")
    p.add_argument("--accelerator", action="append", default=[], metavar="NAME",
                   help=f"vela --accelerator-config value; repeatable (default {', '.join(DEFAULT_ACCELERATORS)})")
    p.add_argument("--no-shipped", action="store_true", help="skip the INT8 files in blazepose_sdk/model_files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    """``blazepose bench npu``: returns the exit code (2 when vela is missing or no model is INT8)."""
    from .report import build_report, suite_tables

    if not _require_vela():
        return 2
    reporter = Reporter(progress=not args.no_progress)
    models, notes = npu_models(args.model, args.int8_dir, shipped=not args.no_shipped)
    for n in notes:
        reporter.note(n)
    if not args.int8_dir:
        reporter.note("no --int8-dir: the INT8 conversions of the official models are made by "
                      "`python -m convert.int8_official quantize --out DIR` (then --int8-dir DIR)")
    if not models:
        print("blazepose: error: no INT8 model to compile (pass --model or --int8-dir)", file=sys.stderr)
        return 2
    accelerators = args.accelerator or list(DEFAULT_ACCELERATORS)
    reporter.say(f"== npu == vela {vela_version()}: {len(models)} models x {len(accelerators)} accelerators")
    settings = {"accelerators": accelerators, "vela_version": vela_version(),
                "vela_options": "--accelerator-config A (vela's default --system-config and --memory-mode)",
                "estimate": ESTIMATE_LABEL}
    payload = new_payload("npu", settings, quick=False)
    t0 = time.perf_counter()
    payload["rows"] = run_npu(models, accelerators, Path(args.out) / "vela", reporter)
    payload["settings"]["wall_s"] = round(time.perf_counter() - t0, 1)
    payload["notes"] = reporter.notes
    end = describe_machine()
    payload["machine_end"] = {k: end[k] for k in ("load_average", "cpu_temperature_c", "timestamp_utc")}
    path = write_json(args.out, "npu", payload)
    print_tables(suite_tables(payload))
    reporter.say(f"npu: {len(payload['rows'])} rows -> {path}")
    print(f"report: {build_report(args.out)}")
    return 0


def _require_vela() -> bool:
    if vela_available():
        return True
    print("blazepose: error: ethos-u-vela is not installed (pip install ethos-u-vela, or the [npu] extra)",
          file=sys.stderr)
    return False
