"""Pipeline suite: end-to-end PoseTracker throughput on videos, split into stages.

Each row (a detector + landmark pipeline) gets its own :class:`PoseTracker`. Frames are decoded
once and handed to every tracker in turn, the order rotating by one each frame, so all rows see
the same frames under the same machine load. The SDK is not modified: the tracker's
``detector`` and ``landmarker`` callables and the landmarker's model are wrapped with timers.

Stages (milliseconds per frame, averaged over all frames so that they add up to the total):

* ``decode``: reading and colour-converting the frame (video decode, or warping a frame of the
  synthetic clip); shared by all rows.
* ``detector``: the whole person-detector call (letterbox crop, inference, anchor decoding, NMS),
  on the frames where it ran.
* ``crop``: warping the landmark ROI into the model input tensor.
* ``landmark``: landmark inference plus tensor decoding, heatmap refinement and projection.
* ``smoothing``: the rest of ``PoseTracker.process``: One-Euro smoothing, the next frame's ROI
  from the auxiliary landmarks, result assembly and the frame check.

``detector_rerun_rate`` = detector runs / frames; ``pose_frame_rate`` = frames with a pose / frames.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.tracker import PoseTracker, TrackerOptions
from blazepose_sdk.video import VideoReader, read_image, video_frames

from .common import Reporter, ratio
from .datasets import PAN_CLIP_FPS, PAN_CLIP_SOURCE, pan_clip_frames
from .metrics import timing_stats
from .rows import BASELINE_ROW, ModelRow, reference_detector

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


class _Clock:
    """Per-frame stage timings written by the wrappers below."""

    def __init__(self) -> None:
        self.frame: dict[str, float] = {}
        self.run_start = self.run_end = 0.0
        self.calls: dict[str, list[float]] = {"detector": [], "crop": [], "landmark_inference": [], "landmark": []}

    def add(self, stage: str, seconds: float) -> None:
        self.frame[stage] = self.frame.get(stage, 0.0) + seconds
        if stage in self.calls:
            self.calls[stage].append(seconds)


class _TimedDetector:
    def __init__(self, inner, clock: _Clock) -> None:
        self._inner, self._clock = inner, clock

    def __call__(self, frame):
        t0 = time.perf_counter()
        out = self._inner(frame)
        self._clock.add("detector", time.perf_counter() - t0)
        return out

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _TimedModel:
    def __init__(self, inner, clock: _Clock) -> None:
        self._inner, self._clock = inner, clock

    def run(self, *inputs):
        self._clock.run_start = time.perf_counter()
        out = self._inner.run(*inputs)
        self._clock.run_end = time.perf_counter()
        return out

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _TimedLandmarker:
    def __init__(self, inner, clock: _Clock) -> None:
        self._inner, self._clock = inner, clock
        inner.model = _TimedModel(inner.model, clock)

    def __call__(self, frame, roi):
        c = self._clock
        t0 = time.perf_counter()
        out = self._inner(frame, roi)
        t3 = time.perf_counter()
        c.add("crop", c.run_start - t0)
        c.add("landmark_inference", c.run_end - c.run_start)
        c.add("landmark", t3 - c.run_start)
        return out

    def __getattr__(self, name):
        return getattr(self._inner, name)


def timed_tracker(options: TrackerOptions) -> tuple[PoseTracker, _Clock]:
    """A PoseTracker whose detector and landmarker report their time to the returned clock."""
    tracker = PoseTracker(options)
    clock = _Clock()
    tracker.detector = _TimedDetector(tracker.detector, clock)
    tracker.landmarker = _TimedLandmarker(tracker.landmarker, clock)
    return tracker, clock


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
    sums: dict,
    totals: list[float],
    calls: dict,
    tracker: PoseTracker,
    poses: int,
) -> dict:
    stats = tracker.stats()
    process_s = float(np.sum(totals))
    per_frame = {s: 1000.0 * sums.get(s, 0.0) / frames for s in STAGES if s != "decode"}
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
        "stage_ms_per_call": {k: timing_stats(v) for k, v in calls.items()},
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
    trackers, clocks, names = [], [], []
    for row in rows:
        try:
            tracker, clock = timed_tracker(
                tracker_options(row, threads, delegate=settings.delegate, min_presence=settings.min_presence)
            )
        except BlazePoseError as exc:
            reporter.note(f"{row.name} skipped on {source.name}: {exc}")
            continue
        trackers.append(tracker)
        clocks.append(clock)
        names.append(row.name)
    if not trackers:
        return {}
    n = len(trackers)
    sums: list[dict[str, float]] = [{} for _ in range(n)]
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
                    clock = clocks[i]
                    clock.frame = {}
                    t1 = time.perf_counter()
                    result = trackers[i].process(frame, t_ms)
                    elapsed = time.perf_counter() - t1
                    stage = clock.frame
                    stage["smoothing"] = elapsed - sum(stage.get(s, 0.0) for s in ("detector", "crop", "landmark"))
                    for key, value in stage.items():
                        sums[i][key] = sums[i].get(key, 0.0) + value
                    totals[i].append(elapsed)
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
        names[i]: _summarise(source.name, frames, decode_s, sums[i], totals[i], clocks[i].calls, trackers[i], poses[i])
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
