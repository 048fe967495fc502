"""Model latency on an Android phone over adb, written as ``latency.json`` (the latency suite's schema).

    python -m blazepose_sdk.bench.android --benchmark-model android_aarch64_benchmark_model --out DIR
        [--model NAME_OR_PATH ...] [--threads 1,2,4] [--runs 50] [--warmup 5] [--gpu] [--serial SERIAL]

The phone runs TFLite's own benchmark binary (``benchmark_model``; the TensorFlow team publishes
a prebuilt ``android_aarch64_benchmark_model``, see ``blazepose_sdk/bench/edge/README.md``) on
the same ``.tflite`` files as ``blazepose bench latency`` (the reference rows, the shipped
pipelines and ``--model`` rows, resolved on this computer and pushed to
``/data/local/tmp/blazepose``), with XNNPACK at each thread count and, with ``--gpu``, its GPU
delegate. Each run's statistics line (``count= ... min= ... avg= ... median= ... p95=``, in
microseconds) becomes a measurement: median, min, mean and p95 in ms (the binary reports no p90,
so ``p90_ms`` is None). A run that fails (a delegate that does not load, a model the GPU refuses)
keeps its row with the tool's error line. The ``machine`` object is read from the phone
(``/proc/cpuinfo``, ``getprop``, cpufreq governors, thermal zones) with the same parsers as on a
board, so ``blazepose bench merge`` compares the phone with a Raspberry Pi or this computer.

Models run one after the other here (the binary times one model per process), not alternated as
the Python suite does: keep the phone idle, on power, and note its temperature.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import shlex
import subprocess
import sys
from pathlib import Path

from blazepose_sdk.stages.runtime import TFLiteModel

from .common import SCHEMA_VERSION, Reporter, write_json
from .latency import add_ratios, latency_files, model_role
from .machine import (
    cpu_name_from_cpuinfo,
    cpu_temperature_from_zones,
    join_governors,
    parse_cpuinfo,
)
from .modelinfo import analyze_tflite
from .rows import resolve_rows
from .tables import print_tables

REMOTE_DIR = "/data/local/tmp/blazepose"


class AndroidBenchError(RuntimeError):
    """adb or the benchmark binary failed in a way that stops the run."""


# -- pure parsers --------------------------------------------------------------------------------
_PAIR = re.compile(r"(\w+)=(-?[\d.]+(?:e[-+]?\d+)?)")
_STATS_LINE = re.compile(r"^\s*(?:[A-Z]+: )?count=\d+ ")  # "INFO: count=50 first=... avg=... median=..."
_TIMINGS = re.compile(r"Inference timings in us: Init: ([\d.]+), First inference: ([\d.]+), "
                      r"Warmup \(avg\): ([\d.eE+-]+), Inference \(avg\): ([\d.eE+-]+)")


def parse_benchmark_output(text: str) -> dict:
    """benchmark_model's log -> ``{"runs", "median_ms", "p90_ms", "p95_ms", "min_ms", "mean_ms",
    "max_ms", "std_ms", "init_ms", "first_ms"}``.

    The timed runs are the last ``count=`` statistics line (the one before is the warm-up);
    values are microseconds in the log. Raises ValueError when the log has no inference timings
    (the run failed; the message is the tool's last error line).
    """
    m = _TIMINGS.search(text)
    stats_lines = [ln for ln in text.splitlines() if _STATS_LINE.match(ln)]
    if m is None or not stats_lines:
        errors = [ln.strip() for ln in text.splitlines() if "ERROR" in ln or "Failed" in ln or "failed" in ln]
        raise ValueError(errors[-1] if errors else "benchmark_model printed no inference timings")
    last = stats_lines[-1]
    pairs = {k: float(v) for k, v in _PAIR.findall(last)}
    if "(all same)" in last:  # count=N curr=X(all same)
        pairs.update({k: pairs["curr"] for k in ("min", "max", "avg", "median", "p95")}, std=0.0)

    def ms(key):
        return pairs[key] / 1000.0 if key in pairs else None

    return {
        "runs": int(pairs["count"]),
        "median_ms": ms("median"),
        "p90_ms": None,
        "p95_ms": ms("p95"),
        "min_ms": ms("min"),
        "mean_ms": ms("avg") if "avg" in pairs else float(m.group(4)) / 1000.0,
        "max_ms": ms("max"),
        "std_ms": ms("std"),
        "init_ms": float(m.group(1)) / 1000.0,
        "first_ms": float(m.group(2)) / 1000.0,
    }


def parse_getprop(text: str) -> dict[str, str]:
    """``adb shell getprop`` output (``[key]: [value]`` lines) as a dict."""
    return dict(re.findall(r"^\[([^\]]+)\]: \[([^\]]*)\]", text, flags=re.M))


def parse_zone_lines(text: str) -> list[tuple[str | None, str | None]]:
    """``type|temp`` lines (one per thermal zone, either side may be empty) as (type, temp) pairs."""
    zones = []
    for line in text.splitlines():
        if "|" in line:
            t, _, v = line.partition("|")
            zones.append((t.strip() or None, v.strip() or None))
    return zones


def android_machine(outputs: dict[str, str]) -> dict:
    """The ``machine`` object from the phone's command outputs (keys of :data:`MACHINE_COMMANDS`)."""
    props = parse_getprop(outputs.get("getprop", ""))
    info = parse_cpuinfo(outputs.get("cpuinfo"))
    khz = [int(v) for v in outputs.get("max_freq", "").split() if v.isdigit()]
    temperature, zone = cpu_temperature_from_zones(parse_zone_lines(outputs.get("thermal", "")))
    load = outputs.get("loadavg", "").split()[:3]
    mem = re.search(r"MemTotal:\s+(\d+) kB", outputs.get("meminfo", ""))
    maker, model = props.get("ro.product.manufacturer"), props.get("ro.product.model")
    soc = props.get("ro.soc.model") or props.get("ro.board.platform") or props.get("ro.hardware")
    release, sdk = props.get("ro.build.version.release"), props.get("ro.build.version.sdk")
    cores = info["processors"] or None
    return {
        "cpu_model": cpu_name_from_cpuinfo(outputs.get("cpuinfo")) or soc,
        "board": " ".join(x for x in (maker, model) if x) or None,
        "soc": soc,
        "cores_logical": cores,
        "cores_usable": cores,
        "cpu_max_mhz": max(khz) / 1000.0 if khz else None,
        "cpu_governor": join_governors(outputs.get("governors", "").split()),
        "cpu_temperature_c": temperature,
        "cpu_thermal_zone": zone,
        "load_average": [float(v) for v in load] if len(load) == 3 else None,
        "memory_total_mb": int(mem.group(1)) / 1024.0 if mem else None,
        "os": f"Android {release} (SDK {sdk})" if release else None,
        "system": "Android",
        "arch": outputs.get("arch", "").strip() or None,
        "python": None,
        "tflite_runtime": "benchmark_model (TFLite C++ benchmark binary)",
        "versions": {},
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 (py3.9)
    }


# Shell commands whose outputs make the machine object (each one `adb shell` call).
MACHINE_COMMANDS = {
    "cpuinfo": "cat /proc/cpuinfo",
    "getprop": "getprop",
    "governors": "for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor; do cat $f 2>/dev/null; done",
    "max_freq": "for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq; do cat $f 2>/dev/null; done",
    "thermal": 'for z in /sys/class/thermal/thermal_zone*; do echo "$(cat $z/type 2>/dev/null)|$(cat $z/temp 2>/dev/null)"; done',
    "loadavg": "cat /proc/loadavg",
    "meminfo": "cat /proc/meminfo",
    "arch": "uname -m",
}


# -- adb -----------------------------------------------------------------------------------------
class Adb:
    """``adb [-s SERIAL] shell|push``; every call returns (exit code, stdout + stderr)."""

    def __init__(self, serial: str | None = None, executable: str = "adb", timeout: float = 900) -> None:
        self.base = [executable] + (["-s", serial] if serial else [])
        self.timeout = timeout

    def _run(self, args: list[str]) -> tuple[int, str]:
        try:
            proc = subprocess.run(self.base + args, check=False, capture_output=True, text=True, timeout=self.timeout)
        except FileNotFoundError as exc:
            raise AndroidBenchError(f"adb not found ({exc}); install Android platform-tools") from exc
        return proc.returncode, proc.stdout + proc.stderr

    def shell(self, command: str) -> tuple[int, str]:
        return self._run(["shell", command])

    def push(self, local: str | Path, remote: str) -> None:
        rc, out = self._run(["push", str(local), remote])
        if rc != 0:
            raise AndroidBenchError(f"adb push {local} failed: {out.strip()[-300:]}")


def benchmark_command(binary: str, graph: str, threads: int, runs: int, warmup: int, gpu: bool) -> str:
    """The benchmark_model command line for one model and configuration."""
    args = [binary, f"--graph={graph}", f"--num_threads={threads}", f"--num_runs={runs}",
            f"--warmup_runs={warmup}", "--use_xnnpack=true"]
    if gpu:
        args = [a for a in args if a != "--use_xnnpack=true"] + ["--use_gpu=true"]
    return " ".join(shlex.quote(a) for a in args)


def run_android(adb, binary: Path, specs: list[str], threads: tuple[int, ...], runs: int, warmup: int,
                gpu: bool, reporter: Reporter) -> dict:
    """Push the binary and the models, time every (file, configuration), return the latency payload."""
    rows_spec, notes = resolve_rows(specs)
    for n in notes:
        reporter.note(n)
    rc, out = adb.shell(f"mkdir -p {REMOTE_DIR}")
    if rc != 0:
        raise AndroidBenchError(f"adb shell failed (is a phone connected? `adb devices`): {out.strip()[-300:]}")
    machine = android_machine({k: adb.shell(cmd)[1] for k, cmd in MACHINE_COMMANDS.items()})
    remote_bin = f"{REMOTE_DIR}/benchmark_model"
    adb.push(binary, remote_bin)
    adb.shell(f"chmod 755 {remote_bin}")
    configs = [{"config": f"cpu-{t}t", "threads": t, "delegate": None} for t in threads]
    if gpu:
        configs.append({"config": "delegate-gpu", "threads": max(threads), "delegate": "gpu"})
    rows = []
    for f in latency_files(rows_spec):
        info = analyze_tflite(f.path)
        with TFLiteModel(f.path, num_threads=1, expected_sha256=f.sha256) as probe:
            role = model_role(probe)
            shapes = [list(s.shape) for s in probe.inputs]
        remote = f"{REMOTE_DIR}/{f.path.name}"
        adb.push(f.path, remote)
        row = {"name": f.name, "path": str(f.path), "kind": "tflite", "reference": f.reference, "role": role,
               "input_shapes": shapes, "runtime": machine["tflite_runtime"], "measurements": [],
               **{k: v for k, v in info.to_dict().items() if k != "path"}}
        for c in reporter.progress(configs, desc=f.name):
            cmd = benchmark_command(remote_bin, remote, c["threads"], runs, warmup, c["delegate"] == "gpu")
            _, text = adb.shell(cmd)
            try:
                row["measurements"].append({**c, **parse_benchmark_output(text), "error": None})
            except ValueError as exc:
                row["measurements"].append({**c, "error": str(exc)})
                reporter.note(f"{f.name} [{c['config']}]: {exc}")
        rows.append(row)
    add_ratios(rows)
    return {
        "suite": "latency",
        "schema_version": SCHEMA_VERSION,
        "command": "python -m blazepose_sdk.bench.android " + " ".join(sys.argv[1:]),
        "quick": False,
        "machine": machine,
        "settings": {"threads": list(threads), "runs": runs, "warmup": warmup, "delegate": "gpu" if gpu else None,
                     "tool": "benchmark_model", "order": "sequential (one model per process)"},
        "rows": rows,
        "notes": reporter.notes,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m blazepose_sdk.bench.android", description=__doc__.splitlines()[0])
    p.add_argument("--benchmark-model", type=Path, required=True,
                   help="TFLite's benchmark_model binary for the phone (android_aarch64_benchmark_model)")
    p.add_argument("--out", required=True, help="folder for latency.json")
    p.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH", help="as in `blazepose bench`")
    p.add_argument("--threads", default="1,2,4", help="comma-separated thread counts (default 1,2,4)")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--gpu", action="store_true", help="also run each model with benchmark_model --use_gpu=true")
    p.add_argument("--serial", default=None, help="adb device serial (with several phones attached)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        threads = tuple(int(t) for t in args.threads.split(",") if t.strip())
    except ValueError:
        threads = ()
    if not threads or min(threads) < 1 or args.runs < 1 or args.warmup < 0:
        print("blazepose: error: --threads wants counts >= 1, --runs >= 1, --warmup >= 0", file=sys.stderr)
        return 2
    if not args.benchmark_model.is_file():
        print(f"blazepose: error: no benchmark binary at {args.benchmark_model}", file=sys.stderr)
        return 2
    reporter = Reporter(progress=not args.no_progress)
    try:
        payload = run_android(Adb(args.serial), args.benchmark_model, args.model, threads, args.runs, args.warmup,
                              args.gpu, reporter)
    except AndroidBenchError as exc:
        print(f"blazepose: error: {exc}", file=sys.stderr)
        return 2
    path = write_json(args.out, "latency", payload)
    from .report import build_report, suite_tables

    print_tables(suite_tables(payload))
    print(f"latency: {len(payload['rows'])} rows -> {path}; report: {build_report(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
