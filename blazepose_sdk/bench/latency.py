"""Latency suite: per .tflite file, inference time at 1/2/4 threads (and a delegate), memory, size.

Every file is loaded once per configuration (thread count or delegate), all at the same time,
and every (file, configuration) pair is timed in the same process in alternating order: after
``warmup`` untimed runs each, rounds go over the pairs A, B, C, A, B, C, ...; in a round each
pair runs one untimed re-warm (the previous one evicted its weights from the caches) and then
``block`` timed runs. Slow drift in machine load therefore hits every row and every thread
count alike, which keeps the ratios to BlazePose-lite trustworthy on a noisy machine. (All
interpreters stay loaded together: about the sum of the models' peak RSS.) A run is :meth:`TFLiteModel.run` on random input
in [0, 1): the interpreter call plus the input/output copies (and int8 (de)quantization) an
application pays through the SDK.

Peak RSS is measured per file in a fresh child process (``blazepose_sdk.bench._rss_probe``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blazepose_sdk.stages.detector import PoseDetector
from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.stages.landmarker import PoseLandmarker
from blazepose_sdk.stages.runtime import TFLiteModel

from .common import Reporter, ratio
from .metrics import timing_stats
from .modelinfo import analyze_tflite
from .rows import BASELINE_ROW, REFERENCE_DETECTOR_ROW, ModelRow


@dataclass(frozen=True)
class LatencySettings:
    """Options of the latency suite (``--quick`` uses :data:`QUICK_LATENCY`)."""

    threads: tuple[int, ...] = (1, 2, 4)
    runs: int = 60
    warmup: int = 5
    block: int = 10
    delegate: str | None = None
    rss: bool = True
    teachers: tuple[str, ...] = field(default_factory=tuple)


# How blazepose_sdk.stages.runtime.TFLiteModel's ModelLoadError starts when a delegate library does not load.
DELEGATE_LOAD_ERROR = "cannot load delegate"

QUICK_LATENCY = LatencySettings(threads=(1, 2, 4), runs=5, warmup=1, block=5)


@dataclass(frozen=True)
class FileRow:
    name: str
    path: Path
    sha256: str | None
    reference: bool
    role: str = "other"


def latency_files(rows: list[ModelRow]) -> list[FileRow]:
    """The distinct .tflite files behind the rows: each landmark/single file, then pipeline detectors."""
    files: list[FileRow] = []
    seen: set[Path] = set()

    def add(name: str, path: Path, sha: str | None, reference: bool) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(FileRow(name, path, sha, reference))

    for row in rows:
        add(row.name, row.landmark, row.sha256, row.reference)
    for row in rows:
        if row.detector is not None:
            add(
                REFERENCE_DETECTOR_ROW if row.reference else f"{row.name}-detector",
                row.detector,
                row.detector_sha256,
                row.reference,
            )
    return files


def model_role(model: TFLiteModel) -> str:
    """``detector`` or ``landmark`` when the file fits that SDK stage, else ``other``."""
    for role, stage in (("landmark", PoseLandmarker), ("detector", PoseDetector)):
        try:
            stage(model)
            return role
        except (BlazePoseError, ValueError, IndexError):
            continue
    return "other"


def measure_alternating(
    calls: list, runs: int, warmup: int, block: int, reporter: Reporter, desc: str
) -> list[list[float]]:
    """Time each zero-argument callable ``runs`` times, alternating between them (see module doc)."""
    for call in calls:
        for _ in range(warmup):
            call()
    times: list[list[float]] = [[] for _ in calls]
    block = max(1, block)
    rounds = -(-runs // block)
    with reporter.progress(total=rounds * len(calls), desc=desc) as bar:
        for _ in range(rounds):
            for i, call in enumerate(calls):
                call()  # re-warm, untimed
                for _ in range(min(block, runs - len(times[i]))):
                    t0 = time.perf_counter()
                    call()
                    times[i].append(time.perf_counter() - t0)
                bar.update(1)
    return times


def measure_rss(path: Path, threads: int | None, delegate: str | None, runs: int) -> dict:
    """Peak RSS of a child process that loads and runs ``path`` (see :mod:`blazepose_sdk.bench._rss_probe`)."""
    cmd = [sys.executable, "-m", "blazepose_sdk.bench._rss_probe", str(path), "--runs", str(runs)]
    if threads:
        cmd += ["--threads", str(threads)]
    if delegate:
        cmd += ["--delegate", delegate]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the folder holding blazepose_sdk
    env["PYTHONPATH"] = root + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else root
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"RSS probe failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def _configs(settings: LatencySettings) -> list[dict]:
    configs = [{"config": f"cpu-{t}t", "threads": t, "delegate": None} for t in settings.threads]
    if settings.delegate:
        configs.append(
            {
                "config": f"delegate-{Path(settings.delegate).name}",
                "threads": max(settings.threads),
                "delegate": settings.delegate,
            }
        )
    return configs


def run_latency(rows: list[ModelRow], settings: LatencySettings, reporter: Reporter) -> list[dict]:
    """Measure every file behind ``rows``; one JSON row per file (plus one per teacher)."""
    files = latency_files(rows)
    out_rows: list[dict] = []
    for f in files:
        row = {"name": f.name, "path": str(f.path), "kind": "tflite", "reference": f.reference, "measurements": []}
        try:
            info = analyze_tflite(f.path)
            row.update({k: v for k, v in info.to_dict().items() if k != "path"})
            if info.note:
                reporter.note(f"{f.name}: {info.note}")
            with TFLiteModel(f.path, num_threads=1, expected_sha256=f.sha256) as probe:
                row["role"] = model_role(probe)
                row["input_shapes"] = [list(s.shape) for s in probe.inputs]
                row["runtime"] = probe.runtime
        except (BlazePoseError, ValueError, OSError) as exc:
            reporter.note(f"skipped {f.name} ({f.path}): {exc}")
            continue
        out_rows.append(row)

    # Every (file, configuration) pair is loaded at once and all are timed in one alternation,
    # so thread-count comparisons are as fair as file comparisons.
    # A delegate that does not load (no such library, an ABI mismatch) fails the same way for every
    # file: it is tried once, its rows say why, and the CPU configurations are timed as usual.
    rng = np.random.default_rng(0)
    models, calls, owners = [], [], []
    unloadable: dict[str, str] = {}
    try:
        for config in _configs(settings):
            for row in out_rows:
                if config["config"] in unloadable:
                    row["measurements"].append({**config, "error": unloadable[config["config"]]})
                    continue
                try:
                    model = TFLiteModel(row["path"], num_threads=config["threads"], delegate=config["delegate"])
                except BlazePoseError as exc:
                    row["measurements"].append({**config, "error": str(exc)})
                    if config["delegate"] and str(exc).startswith(DELEGATE_LOAD_ERROR):
                        unloadable[config["config"]] = str(exc)
                        reporter.note(f"[{config['config']}] no row timed with delegate {config['delegate']!r}: {exc}")
                    else:
                        reporter.note(f"{row['name']} [{config['config']}]: {exc}")
                    continue
                inputs = [rng.random(s.shape, dtype=np.float32) for s in model.inputs]
                models.append(model)
                calls.append(lambda m=model, x=inputs: m.run(*x))
                owners.append((row, config))
        times = measure_alternating(calls, settings.runs, settings.warmup, settings.block, reporter, "latency")
    finally:
        for m in models:
            m.close()
    for (row, config), t in zip(owners, times):
        row["measurements"].append({**config, **timing_stats(t), "error": None})
    order = {c["config"]: i for i, c in enumerate(_configs(settings))}
    for row in out_rows:
        row["measurements"].sort(key=lambda m: order[m["config"]])

    if settings.rss:
        for row in reporter.progress(out_rows, desc="peak RSS"):
            try:
                rss = measure_rss(Path(row["path"]), settings.threads[0], None, min(settings.runs, 10))
            except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
                reporter.note(f"{row['name']}: peak RSS not measured: {exc}")
                continue
            row["peak_rss_mb"] = rss["peak_rss_mb"]
            row["rss_baseline_mb"] = rss["baseline_rss_mb"]
            if rss["peak_rss_mb"] is not None and rss["baseline_rss_mb"] is not None:
                row["rss_model_mb"] = rss["peak_rss_mb"] - rss["baseline_rss_mb"]
    add_ratios(out_rows)
    out_rows.extend(run_teachers(settings, reporter))
    return out_rows


def add_ratios(rows: list[dict]) -> None:
    """Set ``baseline`` and per-measurement ``ratio_vs_baseline`` (median / the baseline's median).

    Detectors are compared with the reference detector, every other file with BlazePose-lite's
    landmark model, always in the same configuration.
    """
    by_name = {r["name"]: r for r in rows}
    for row in rows:
        base_name = REFERENCE_DETECTOR_ROW if row.get("role") == "detector" else BASELINE_ROW
        base = by_name.get(base_name)
        row["baseline"] = base_name if base is not None else None
        base_medians = {m["config"]: m.get("median_ms") for m in (base or {}).get("measurements", [])}
        for m in row["measurements"]:
            m["ratio_vs_baseline"] = ratio(m.get("median_ms"), base_medians.get(m["config"]))


def run_teachers(settings: LatencySettings, reporter: Reporter) -> list[dict]:
    """Teacher rows on /GPU:0, or notes saying why they were skipped."""
    if not settings.teachers:
        reporter.note("teachers: none given (--teacher SAVEDMODEL_DIR_OR_KERAS_FILE); GPU teacher rows skipped")
        return []
    from .teacher import benchmark_teacher, gpu_status

    usable, status = gpu_status()
    if not usable:
        for t in settings.teachers:
            reporter.note(f"teacher {t} skipped: no GPU ({status})")
        return []
    reporter.say(f"teachers on GPU: {status}")
    rows = []
    for t in settings.teachers:
        try:
            rows.append(benchmark_teacher(t, settings.runs, settings.warmup))
        # TensorFlow raises many exception types; one failing teacher must not end the run.
        except Exception as exc:  # noqa: BLE001
            reporter.note(f"teacher {t} failed: {type(exc).__name__}: {exc}")
    return rows
