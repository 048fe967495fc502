"""Soak: a long run on a looped real video, tracking on and off, with resident memory sampled.

``blazepose bench soak [--frames 10000] [--sample-every 500] [--switch-every 1000] [--model M]``
loops a video (vtest.avi by default) through two trackers of the same pipeline, alternating every
``switch_every`` frames between the tracking one (the detector runs only when tracking is lost)
and a static one (detector on every frame), and records the process's resident set size (RSS)
every ``sample_every`` frames (both trackers run once before the first frame, so the baseline
includes both paths' buffers). A leak in either path shows as a rising curve. The suite reports
the curve and whether it is flat: the spread of the samples (max - min) within ``max_spread_pct``
(default 5%) of the first sample, which is taken after the models are loaded and warm.

A benchmark, not a timed test: it asserts nothing, it writes ``soak.json`` and a table.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.tracker import PoseTracker
from blazepose_sdk.app.video import VideoReader

from ._rss_probe import proc_status_kib
from .common import Reporter
from .pipeline import VTEST_NAME, pipeline_rows, tracker_options
from .rows import ModelRow

MIB = 1024.0 * 1024.0


@dataclass(frozen=True)
class SoakSettings:
    """Frame counts are frames processed (a video is looped as often as needed)."""

    frames: int = 10_000
    sample_every: int = 500
    switch_every: int = 1_000
    threads: int | None = None
    video: str | None = None
    delegate: str | None = None
    max_spread_pct: float = 5.0


QUICK_SOAK = SoakSettings(frames=600, sample_every=100, switch_every=200)


def rss_bytes() -> int | None:
    """The current resident set size of this process in bytes (Linux /proc), or None elsewhere."""
    kib = proc_status_kib("VmRSS")
    return None if kib is None else kib * 1024


def rss_flatness(frames: Sequence[int], rss_mib: Sequence[float], max_spread_pct: float = 5.0) -> dict:
    """How flat an RSS curve is.

    Args:
        frames: frame index of each sample (increasing).
        rss_mib: RSS at each sample in MiB; the first sample is the baseline (models loaded, warm).
        max_spread_pct: the largest (max - min) / baseline, in percent, still called flat.

    Returns:
        ``baseline_mib``, ``final_mib``, ``growth_pct`` (final vs baseline), ``spread_pct``
        ((max - min) / baseline), ``slope_mib_per_1k_frames`` (least-squares line), ``flat``.
    """
    f = np.asarray(frames, dtype=np.float64)
    r = np.asarray(rss_mib, dtype=np.float64)
    if f.shape != r.shape or f.ndim != 1 or len(f) < 2:
        raise ValueError("rss_flatness needs two or more (frame, rss) samples of equal length")
    base = float(r[0])
    if base <= 0:
        raise ValueError("the baseline RSS must be positive")
    spread = float((r.max() - r.min()) / base * 100.0)
    slope = float(np.polyfit(f, r, 1)[0] * 1000.0)
    return {
        "baseline_mib": base,
        "final_mib": float(r[-1]),
        "growth_pct": float((r[-1] - base) / base * 100.0),
        "spread_pct": spread,
        "slope_mib_per_1k_frames": slope,
        "flat": spread <= max_spread_pct,
    }


def looped_frames(video: str | os.PathLike, total: int) -> Iterator[tuple[float, np.ndarray]]:
    """``total`` (timestamp_ms, frame_rgb) pairs from ``video``, reopened at its end as often as
    needed. Timestamps keep increasing across loops (each loop starts one frame period after the
    last frame of the previous one), as one long clip would."""
    produced = 0
    offset_ms = 0.0
    while produced < total:
        last_ms = None
        period_ms = 1000.0 / 30.0
        with VideoReader(video) as reader:
            if reader.fps and reader.fps > 0:
                period_ms = 1000.0 / reader.fps
            for t_ms, frame in reader:
                yield offset_ms + t_ms, frame
                last_ms = t_ms
                produced += 1
                if produced >= total:
                    return
        if last_ms is None:
            raise BlazePoseError(f"video {video} gave no frames")
        offset_ms += last_ms + period_ms


def soak_row(row: ModelRow, settings: SoakSettings, video: str, reporter: Reporter) -> dict:
    """Run one pipeline for ``settings.frames`` frames; the RSS curve and its flatness."""
    tracking = PoseTracker(tracker_options(row, settings.threads, delegate=settings.delegate))
    static = PoseTracker(tracker_options(row, settings.threads, static=True, delegate=settings.delegate))
    samples: list[dict] = []
    window = {"frames": 0, "poses": 0, "detector_runs": 0}
    t_window = time.perf_counter()
    t0 = t_window
    bar = reporter.progress(total=settings.frames, desc=f"soak {row.name}")
    try:
        for i, (t_ms, frame) in enumerate(looped_frames(video, settings.frames)):
            if i == 0:
                static.process(frame)  # both trackers warm before the first sample (the baseline)
            mode = "tracking" if (i // settings.switch_every) % 2 == 0 else "static"
            result = (tracking if mode == "tracking" else static).process(frame, timestamp_ms=t_ms)
            window["frames"] += 1
            window["poses"] += result.pose is not None
            window["detector_runs"] += result.detector_ran
            if (i + 1) % settings.sample_every == 0 or i + 1 == settings.frames:
                now = time.perf_counter()
                rss = rss_bytes()
                samples.append({
                    "frame": i + 1,
                    "mode": mode,
                    "rss_mib": None if rss is None else rss / MIB,
                    "fps": window["frames"] / max(now - t_window, 1e-9),
                    **window,
                })
                window = {"frames": 0, "poses": 0, "detector_runs": 0}
                t_window = now
            bar.update(1)
    finally:
        bar.close()
        tracking.close()
        static.close()
    row_out = {
        "name": row.name,
        "reference": row.reference,
        "video": Path(video).name,
        "frames": sum(s["frames"] for s in samples),
        "wall_s": time.perf_counter() - t0,
        "samples": samples,
    }
    curve = [(s["frame"], s["rss_mib"]) for s in samples if s["rss_mib"] is not None]
    if len(curve) >= 2:
        row_out.update(rss_flatness(*zip(*curve), max_spread_pct=settings.max_spread_pct))
    else:
        reporter.note(f"{row.name}: resident memory cannot be read on this platform ({sys.platform}); no curve")
    return row_out


def run_soak(rows: list[ModelRow], settings: SoakSettings, data_dir: Path, reporter: Reporter) -> list[dict]:
    video = settings.video or str(data_dir / VTEST_NAME)
    if not Path(video).is_file():
        reporter.note(f"{video} not found: pass --video PATH (or --data-dir)")
        return []
    out = []
    for row in pipeline_rows(rows, reporter):
        try:
            out.append(soak_row(row, settings, video, reporter))
        except BlazePoseError as exc:
            reporter.note(f"{row.name}: soak stopped: {exc}")
    return out
