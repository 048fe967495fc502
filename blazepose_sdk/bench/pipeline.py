"""Pipeline suite: end-to-end PoseTracker throughput on videos, split into stages.

Each row (a detector + landmark pipeline) gets its own :class:`PoseTracker`. Frames are decoded
once and handed to every tracker in turn, the order rotating by one each frame, so all rows see
the same frames under the same machine load. Stage times come from the SDK's own profiler
(:mod:`blazepose_sdk.profiling`, the one behind ``blazepose run --profile``), grouped as follows.

Stages (milliseconds per frame, averaged over all frames so that they add up to the total):

* ``decode``: time the loop waited for the next frame (a video file is decoded and colour-converted
  on the reader's thread, ahead of the loop; the synthetic clip's frames are warped in the loop);
  shared by all rows.
* ``detector``: the whole person-detector call (letterbox crop, inference, anchor decoding, NMS),
  on the frames where it ran.
* ``crop``: warping the landmark ROI into the model input tensor.
* ``landmark``: landmark inference plus tensor decoding, heatmap refinement and projection.
* ``smoothing``: the rest of ``PoseTracker.process``: One-Euro smoothing, the next frame's ROI
  from the auxiliary landmarks, result assembly and the frame check.

``detector_rerun_rate`` = detector runs / frames; ``pose_frame_rate`` = frames with a pose / frames.

**Peers** (``--peers``, :func:`run_peers`): whole processes, ours against MediaPipe's own legacy
``solutions.pose`` (:mod:`blazepose_sdk.bench.peers.mediapipe_legacy`, in its own venv) on the same
video files. Each side is a fresh child process that decodes the file with OpenCV and runs its
pipeline frame by frame (ours: ``VideoReader`` + ``PoseTracker``, :func:`tracker_loop`, run as
``python -m blazepose_sdk.bench.pipeline loop VIDEO``); each reports its loop's wall and CPU
seconds. The runs alternate ours/theirs, ``repeats`` times, and the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.profiling import StageTimes
from blazepose_sdk.tracker import PoseTracker, TrackerOptions
from blazepose_sdk.app.video import VideoReader, read_image, video_frames

from .common import Reporter, ratio
from .datasets import PAN_CLIP_FPS, PAN_CLIP_SOURCE, pan_clip_frames
from .metrics import timing_stats
from .rows import BASELINE_ROW, ModelRow, reference_detector
from .tables import Table, fmt

STAGES = ("decode", "detector", "crop", "landmark", "smoothing")
VTEST_NAME = "vtest.avi"


@dataclass(frozen=True)
class PipelineSettings:
    """Options of the pipeline suite (``--quick`` uses :data:`QUICK_PIPELINE`).

    ``videos`` empty means the default sources: vtest.avi from the data folder and the synthetic
    pan/zoom/roll clip over basketball1.png (one continuous person).
    """

    threads: int | None = None
    max_frames: int | None = None
    videos: tuple[str, ...] = ()
    synthetic: bool = True
    synthetic_frames: int = 150
    delegate: str | None = None
    min_presence: float | None = None  # TrackerOptions.min_tracking_confidence (None: the SDK default)


QUICK_PIPELINE = PipelineSettings(max_frames=15, synthetic_frames=15)


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# How the profiler's stages (blazepose_sdk.profiling) add up to this suite's columns.
STAGE_GROUPS = {
    "detector": ("detector_letterbox", "detector_inference", "detector_decode"),
    "crop": ("landmark_warp",),
    "landmark": ("landmark_inference", "landmark_decode"),
}


def timed_tracker(options: TrackerOptions) -> tuple[PoseTracker, StageTimes]:
    """A PoseTracker recording every call's stage times (:mod:`blazepose_sdk.profiling`)."""
    tracker = PoseTracker(options)
    tracker.stage_times = StageTimes(keep_calls=True)
    return tracker, tracker.stage_times


def _calls(times: StageTimes) -> dict[str, list[float]]:
    """Seconds per call of the detector, the ROI crop, landmark inference, and the whole landmark
    stage after the crop (inference + decoding), from the profiler's per-call samples."""
    s = times.samples
    det = [sum(parts) for parts in zip(*(s.get(k, []) for k in STAGE_GROUPS["detector"]))]
    lm = [a + b for a, b in zip(s.get("landmark_inference", []), s.get("landmark_decode", []))]
    return {"detector": det, "crop": list(s.get("landmark_warp", [])),
            "landmark_inference": list(s.get("landmark_inference", [])), "landmark": lm}


def pipeline_rows(rows: list[ModelRow], reporter: Reporter) -> list[ModelRow]:
    """Rows that can run as a pipeline: pipelines, and landmark files paired with the reference detector."""
    out = []
    ref_det = reference_detector()
    for row in rows:
        if row.detector is not None:
            out.append(row)
        elif ref_det is None:
            reporter.note(f"{row.name}: a bare .tflite needs the reference detector (not cached); skipped")
        else:
            out.append(ModelRow(row.name, row.landmark, ref_det[0], False, None, ref_det[1]))
    return out


def tracker_options(
    row: ModelRow,
    threads: int | None,
    static: bool = False,
    delegate: str | None = None,
    min_presence: float | None = None,
) -> TrackerOptions:
    """TrackerOptions for a row. Reference rows go through their pipeline name so hashes are checked.
    ``min_presence`` overrides the pose-presence threshold (None: the SDK's default)."""
    common = {"num_threads": threads, "static_image_mode": static, "delegate": delegate}
    if min_presence is not None:
        common["min_tracking_confidence"] = float(min_presence)
    if row.pipeline is not None:
        return TrackerOptions(model=row.pipeline, **common)
    return TrackerOptions(detector_model=row.detector, landmark_model=row.landmark, **common)


@dataclass
class FrameSource:
    name: str
    description: str
    frames: object  # callable -> iterator of (timestamp_ms, frame_rgb)
    count: int | None


def frame_sources(settings: PipelineSettings, data_dir: Path, reporter: Reporter) -> list[FrameSource]:
    sources: list[FrameSource] = []
    videos = list(settings.videos)
    if not videos:
        vtest = data_dir / VTEST_NAME
        if vtest.is_file():
            videos.append(str(vtest))
        else:
            reporter.note(f"{vtest} not found: pass --video PATH (or --data-dir) for a real video")
    for v in videos:
        try:
            with VideoReader(v) as reader:
                count = reader.frame_count
                desc = f"{Path(v).name}: {reader.width}x{reader.height} @ {reader.fps:.1f} fps"
        except BlazePoseError as exc:
            reporter.note(f"video {v} skipped: {exc}")
            continue
        sources.append(FrameSource(Path(v).name, desc, lambda v=v: video_frames(v), count))
    if settings.synthetic and not settings.videos:
        src = data_dir / PAN_CLIP_SOURCE
        if src.is_file():
            image = read_image(src)
            n = settings.synthetic_frames
            sources.append(
                FrameSource(
                    "pan-clip",
                    f"synthetic: {n} frames of a virtual camera panning, zooming and rolling over {PAN_CLIP_SOURCE} "
                    f"(one person in view throughout) @ {PAN_CLIP_FPS:.0f} fps",
                    lambda image=image, n=n: pan_clip_frames(image, n),
                    n,
                )
            )
        else:
            reporter.note(f"{src} not found: synthetic pan clip skipped")
    return sources


def _summarise(
    name: str,
    frames: int,
    decode_s: float,
    times: StageTimes,
    totals: list[float],
    tracker: PoseTracker,
    poses: int,
) -> dict:
    stats = tracker.stats()
    process_s = float(np.sum(totals))
    sums = {group: times.total(stages) for group, stages in STAGE_GROUPS.items()}
    # smoothing: the rest of PoseTracker.process, so that the stages add up to the frame time
    sums["smoothing"] = process_s - sum(sums.values())
    per_frame = {s: 1000.0 * sums[s] / frames for s in STAGES if s != "decode"}
    per_frame["decode"] = 1000.0 * decode_s / frames
    return {
        "video": name,
        "frames": frames,
        "fps_end_to_end": frames / (decode_s + process_s) if decode_s + process_s > 0 else None,
        "fps_process": frames / process_s if process_s > 0 else None,
        "ms_per_frame": 1000.0 * (decode_s + process_s) / frames,
        "process_ms_per_frame": 1000.0 * process_s / frames,
        "process_ms": timing_stats(totals),
        "stage_ms_per_frame": {s: per_frame[s] for s in STAGES},
        "stage_ms_per_call": {k: timing_stats(v) for k, v in _calls(times).items()},
        "detector_runs": stats["detector_runs"],
        "landmark_runs": stats["landmark_runs"],
        "detector_rerun_rate": stats["detector_run_rate"],
        "pose_frames": poses,
        "pose_frame_rate": poses / frames,
    }


def run_source(
    source: FrameSource, rows: list[ModelRow], settings: PipelineSettings, threads: int, reporter: Reporter
) -> dict[str, dict]:
    """Run every row over one frame source, alternating; returns per-row summaries by row name."""
    trackers, stage_times, names = [], [], []
    for row in rows:
        try:
            tracker, times = timed_tracker(
                tracker_options(row, threads, delegate=settings.delegate, min_presence=settings.min_presence)
            )
        except BlazePoseError as exc:
            reporter.note(f"{row.name} skipped on {source.name}: {exc}")
            continue
        trackers.append(tracker)
        stage_times.append(times)
        names.append(row.name)
    if not trackers:
        return {}
    n = len(trackers)
    totals: list[list[float]] = [[] for _ in range(n)]
    poses = [0] * n
    decode_s = 0.0
    frames = 0
    limit = settings.max_frames
    total = min(x for x in (source.count, limit) if x is not None) if (source.count or limit) else None
    iterator = source.frames()
    try:
        with reporter.progress(total=total, desc=f"pipeline {source.name}") as bar:
            while limit is None or frames < limit:
                t0 = time.perf_counter()
                item = next(iterator, None)
                if item is None:
                    break
                decode_s += time.perf_counter() - t0
                t_ms, frame = item
                for k in range(n):
                    i = (frames + k) % n  # rotate the order every frame
                    t1 = time.perf_counter()
                    result = trackers[i].process(frame, t_ms)
                    totals[i].append(time.perf_counter() - t1)
                    poses[i] += result.pose is not None
                frames += 1
                bar.update(1)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        for t in trackers:
            t.close()
    if frames == 0:
        reporter.note(f"{source.name}: no frame could be read")
        return {}
    return {
        names[i]: _summarise(source.name, frames, decode_s, stage_times[i], totals[i], trackers[i], poses[i])
        for i in range(n)
    }


def run_pipeline(rows: list[ModelRow], settings: PipelineSettings, data_dir: Path, reporter: Reporter) -> list[dict]:
    """One JSON row per pipeline with a ``videos`` list (one entry per frame source)."""
    prows = pipeline_rows(rows, reporter)
    threads = settings.threads or default_threads()
    out = {
        r.name: {
            "name": r.name,
            "reference": r.reference,
            "detector": str(r.detector),
            "landmark": str(r.landmark),
            "threads": threads,
            "delegate": settings.delegate,
            "videos": [],
        }
        for r in prows
    }
    sources = frame_sources(settings, data_dir, reporter)
    for source in sources:
        reporter.say(f"pipeline: {source.description}")
        for name, summary in run_source(source, prows, settings, threads, reporter).items():
            summary["description"] = source.description
            out[name]["videos"].append(summary)
    base = out.get(BASELINE_ROW)
    for row in out.values():
        for v in row["videos"]:
            b = next((x for x in (base or {}).get("videos", []) if x["video"] == v["video"]), None)
            # decode is shared by all rows, so the ratio compares the tracker's own time per frame
            v["ratio_process_ms_vs_baseline"] = ratio(
                v["process_ms_per_frame"], b["process_ms_per_frame"] if b else None
            )
        row["baseline"] = BASELINE_ROW if base is not None else None
    return [r for r in out.values() if r["videos"]] if sources else list(out.values())


# -- peers: whole processes, ours vs MediaPipe's legacy solution -------------------------------
PEER_PIPELINE = "blazepose-lite"  # the official detector + Lite landmark files: MediaPipe's model_complexity 0
PEER_COMPLEXITY = 0
PEER_REPEATS = 3


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def tracker_loop(video: str, model: str = PEER_PIPELINE, threads: int | None = None,
                 max_frames: int | None = None, profile: bool = True, bgr: bool = True,
                 prefetch: int | None = None, detector: str | None = None, landmark: str | None = None) -> dict:
    """Our whole loop over a video file, as a user writes it: ``VideoReader`` + ``PoseTracker``
    (default options but the model), on OpenCV's BGR frames (``bgr``, the fast path) or on RGB
    frames; ``prefetch`` as :class:`VideoReader`'s (0: no reader thread). Returns the same summary
    as the MediaPipe runner: frames, pose_frames, load_s, wall_s and cpu_s of the loop; with
    ``profile`` the per-stage rows too. ``detector`` / ``landmark``: model files that replace the
    pipeline's (e.g. INT8 conversions of the same models)."""
    from blazepose_sdk.profiling import profile_rows

    t0 = time.perf_counter()
    tracker = PoseTracker(TrackerOptions(model=model, num_threads=threads, detector_model=detector,
                                         landmark_model=landmark))
    load_s = time.perf_counter() - t0
    times = StageTimes() if profile else None
    frames = poses = 0
    with tracker, VideoReader(video, prefetch=prefetch, bgr=bgr) as reader:
        tracker.stage_times = reader.stage_times = times
        cpu0, wall0 = _cpu_s(), time.perf_counter()
        for t_ms, frame in reader:
            if max_frames is not None and frames >= max_frames:
                break
            poses += tracker.process(frame, t_ms, bgr=bgr).pose is not None
            frames += 1
        wall_s, cpu_s = time.perf_counter() - wall0, _cpu_s() - cpu0
        detector_runs = tracker.detector_runs
    return {
        "peer": "blazepose-sdk",
        "model": model,
        "detector": detector,
        "landmark": landmark,
        "threads": threads,
        "bgr": bgr,
        "prefetch": reader.prefetch,
        "video": str(video),
        "frames": frames,
        "pose_frames": poses,
        "detector_runs": detector_runs,
        "load_s": load_s,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "profile": profile_rows(times, frames) if times is not None else None,
    }


def run_tracker_process(video: str | os.PathLike, model: str = PEER_PIPELINE, threads: int | None = None,
                        max_frames: int | None = None, timeout_s: float = 1800.0, bgr: bool = True,
                        prefetch: int | None = None) -> dict:
    """:func:`tracker_loop` in a fresh child process (this Python); adds ``process_wall_s``."""
    cmd = [sys.executable, "-m", "blazepose_sdk.bench.pipeline", "loop", str(video), "--model", model]
    if not bgr:
        cmd.append("--rgb")
    if prefetch is not None:
        cmd += ["--prefetch", str(prefetch)]
    if threads:
        cmd += ["--threads", str(threads)]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"tracker loop failed (exit {proc.returncode}): {last}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return float(statistics.median(values)) if values else None


def _side(runs: list[dict]) -> dict:
    frames = runs[0]["frames"] if runs else 0
    wall, cpu = _median(runs, "wall_s"), _median(runs, "cpu_s")
    return {
        "runs": runs,
        "frames": frames,
        "pose_frames": runs[0]["pose_frames"] if runs else None,
        "wall_s": wall,
        "cpu_s": cpu,
        "process_wall_s": _median(runs, "process_wall_s"),
        "fps": frames / wall if wall else None,
        "ms_per_frame": 1000.0 * wall / frames if wall and frames else None,
        "cpu_ms_per_frame": 1000.0 * cpu / frames if cpu is not None and frames else None,
    }


def run_peers(videos: list[str], mediapipe_python: str | None, reporter: Reporter, repeats: int = PEER_REPEATS,
              model: str = PEER_PIPELINE, complexity: int = PEER_COMPLEXITY, threads: int | None = None,
              max_frames: int | None = None) -> list[dict]:
    """Ours (``model``) against MediaPipe's legacy solution (``complexity``) on each video, whole
    processes, ``repeats`` runs each alternating ours/theirs, medians and ratios. Without a usable
    MediaPipe python every video still gets a row, with ``skipped`` saying why."""
    from blazepose_sdk.assets.models import resolve_pipeline

    from .peers.mediapipe_legacy import LANDMARK_FILES, mediapipe_python as find_python, run_mediapipe

    python, why = find_python(mediapipe_python)
    if python is None:
        reporter.note(f"peers: MediaPipe's legacy solution not run: {why}")
    # our pipeline's official landmark file goes into MediaPipe's package when it is the one this
    # complexity uses (Lite and Heavy are not in the wheel), so that nothing is downloaded
    try:
        landmark = resolve_pipeline(model).landmark.path
    except BlazePoseError:
        landmark = None
    if landmark is not None and Path(landmark).name != LANDMARK_FILES[complexity]:
        landmark = None
    out = []
    for video in videos:
        row = {"video": Path(video).name, "path": str(video), "ours_model": model, "ours_threads": threads,
               "mediapipe_model_complexity": complexity, "repeats": repeats, "skipped": None}
        ours: list[dict] = []
        theirs: list[dict] = []
        try:
            for r in range(repeats):
                order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
                for side in order:
                    if side == "ours":
                        ours.append(run_tracker_process(video, model, threads, max_frames))
                    elif python is not None:
                        theirs.append(run_mediapipe(python, video, complexity, landmark, max_frames))
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            row["skipped"] = f"failed: {exc}"
            reporter.note(f"peers on {row['video']}: {exc}")
        if python is None:
            row["skipped"] = f"MediaPipe not run: {why}"
        row["ours"] = _side(ours)
        row["mediapipe"] = _side(theirs)
        a, b = row["ours"], row["mediapipe"]
        row["ratio_wall"] = ratio(a["wall_s"], b["wall_s"])
        row["ratio_cpu"] = ratio(a["cpu_s"], b["cpu_s"])
        if a["frames"] and b["frames"] and a["frames"] != b["frames"]:
            reporter.note(f"peers on {row['video']}: ours read {a['frames']} frames, MediaPipe {b['frames']}")
        out.append(row)
    return out


def format_peers(rows: list[dict]) -> str:
    """A plain-text table of :func:`run_peers` rows: frames/s and CPU ms per frame of each side,
    and ours / MediaPipe's wall and CPU time."""
    def f(v, d=2):
        return "-" if v is None else f"{v:.{d}f}"

    lines = [f"{'video':<22} {'frames':>6} {'ours fps':>8} {'ours cpu ms/f':>13} {'MP fps':>7} {'MP cpu ms/f':>11} "
             f"{'wall x MP':>9} {'cpu x MP':>8} {'poses ours/MP':>13}"]
    for r in rows:
        a, b = r["ours"], r["mediapipe"]
        lines.append(f"{r['video']:<22} {a['frames']:>6} {f(a['fps'], 1):>8} {f(a['cpu_ms_per_frame']):>13} "
                     f"{f(b['fps'], 1):>7} {f(b['cpu_ms_per_frame']):>11} {f(r['ratio_wall']):>9} "
                     f"{f(r['ratio_cpu']):>8} {str(a['pose_frames']) + '/' + str(b['pose_frames']):>13}")
        if r.get("skipped"):
            lines.append(f"  skipped: {r['skipped']}")
    return "\n".join(lines)


def peers_table(payload: dict | None):
    """The report.md table of a pipeline payload's ``peers`` rows (:func:`run_peers`), or None."""
    rows = (payload or {}).get("peers") or []
    if not rows:
        return None
    cells = []
    for r in rows:
        a, b = r["ours"], r["mediapipe"]
        cells.append([r["video"], str(a["frames"]), fmt(a["fps"], 1), fmt(a["cpu_ms_per_frame"], 2), fmt(b["fps"], 1),
                      fmt(b["cpu_ms_per_frame"], 2), fmt(r["ratio_wall"], 2), fmt(r["ratio_cpu"], 2),
                      f"{a['pose_frames']} / {b['pose_frames'] if b['frames'] else '-'}", r.get("skipped") or ""])
    first = rows[0]
    caption = (
        f"Whole processes on the same video files: our VideoReader + PoseTracker loop ({first['ours_model']}) "
        f"against MediaPipe's legacy solutions.pose (model_complexity {first['mediapipe_model_complexity']}), each "
        f"side run {first['repeats']} times, alternating; medians of the frame loop's wall and CPU time (decoding "
        "included, model loading not). x MP = ours / MediaPipe's."
    )
    return Table("Whole loops vs MediaPipe's legacy solution",
                 ["video", "frames", "ours fps", "ours CPU ms/frame", "MediaPipe fps", "MediaPipe CPU ms/frame",
                  "wall x MP", "CPU x MP", "poses ours / MP", "skipped"], cells, caption)


def main(argv: list[str] | None = None) -> int:
    """``python -m blazepose_sdk.bench.pipeline loop VIDEO``: :func:`tracker_loop` as JSON (one line)."""
    p = argparse.ArgumentParser(prog="python -m blazepose_sdk.bench.pipeline")
    sub = p.add_subparsers(dest="command", required=True)
    loop = sub.add_parser("loop", help="our whole tracker loop over a video; prints JSON")
    loop.add_argument("video")
    loop.add_argument("--model", default=PEER_PIPELINE)
    loop.add_argument("--threads", type=int, default=None)
    loop.add_argument("--max-frames", type=int, default=None)
    loop.add_argument("--rgb", action="store_true",
                      help="convert every frame to RGB (the default path of video_frames)")
    loop.add_argument("--prefetch", type=int, default=None, help="frames decoded ahead (0: no reader thread)")
    loop.add_argument("--detector", help="detector .tflite replacing the pipeline's")
    loop.add_argument("--landmark", help="landmark .tflite replacing the pipeline's")
    args = p.parse_args(argv)
    print(json.dumps(tracker_loop(args.video, args.model, args.threads, args.max_frames, bgr=not args.rgb,
                                  prefetch=args.prefetch, detector=args.detector, landmark=args.landmark)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
