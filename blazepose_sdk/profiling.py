"""Where the time goes: wall time per pipeline stage, the one timing mechanism of the SDK.

A :class:`StageTimes` collects seconds per named stage. Give one to a tracker
(``tracker.stage_times = StageTimes()``) and its detector and landmark stages record into it; a
:class:`~blazepose_sdk.app.video.VideoReader` with ``stage_times`` records decoding. ``blazepose run
--profile`` prints :func:`format_profile` at the end, and ``blazepose bench pipeline`` builds its
stage columns from the same records. Without a StageTimes nothing is recorded.

Stages (:data:`STAGES`, in pipeline order):

* ``read``: the video decoder (``cv2.VideoCapture.read``); on the reader thread when the reader
  prefetches, so it overlaps the rest;
* ``to_rgb``: BGR -> RGB of the decoded frame (same thread as ``read``);
* ``frame_wait``: time the caller's loop waited for the next frame (the part of ``read`` +
  ``to_rgb`` that did not overlap);
* ``frame_check``: :func:`blazepose_sdk.geometry.image.as_rgb_uint8`;
* ``detector_letterbox``, ``detector_inference``, ``detector_decode``: the person detector's input
  warp (letterbox to 224 x 224, scaled to its value range), the interpreter call, and anchor
  decoding + weighted NMS + mapping to image pixels;
* ``landmark_warp``, ``landmark_inference``, ``landmark_decode``: the ROI warp to 256 x 256, the
  interpreter call, and tensor decoding + heatmap refinement + projection + world rotation;
* ``smoothing``: the rest of ``PoseTracker.process``: One-Euro filters, the next frame's ROI and
  the result objects;
* ``draw``, ``write``: the CLI's annotation and output writing (video file, JSON lines).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

STAGES = (
    "read",
    "to_rgb",
    "frame_wait",
    "frame_check",
    "detector_letterbox",
    "detector_inference",
    "detector_decode",
    "landmark_warp",
    "landmark_inference",
    "landmark_decode",
    "smoothing",
    "draw",
    "write",
)
# Stages that run on a video reader's own thread when it prefetches (they overlap the others).
READER_THREAD_STAGES = ("read", "to_rgb")


class StageTimes:
    """Seconds and call counts per stage; ``keep_calls`` also keeps every call's seconds.

    ``add`` may be called from a reader thread and the main thread at once.
    """

    def __init__(self, keep_calls: bool = False) -> None:
        self.keep_calls = keep_calls
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.totals: dict[str, float] = {}
            self.counts: dict[str, int] = {}
            self.samples: dict[str, list[float]] = {}

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.totals[stage] = self.totals.get(stage, 0.0) + seconds
            self.counts[stage] = self.counts.get(stage, 0) + 1
            if self.keep_calls:
                self.samples.setdefault(stage, []).append(seconds)

    def total(self, stages: Iterable[str]) -> float:
        """Seconds summed over ``stages``."""
        return sum(self.totals.get(s, 0.0) for s in stages)


def profile_rows(times: StageTimes, frames: int) -> list[dict]:
    """One row per recorded stage, pipeline order first: stage, calls, total_ms, ms_per_frame
    (total over ``frames``), ms_per_call."""
    names = [s for s in STAGES if s in times.totals] + sorted(set(times.totals) - set(STAGES))
    rows = []
    for s in names:
        total_ms = 1000.0 * times.totals[s]
        calls = times.counts.get(s, 0)
        rows.append({
            "stage": s,
            "calls": calls,
            "total_ms": total_ms,
            "ms_per_frame": total_ms / frames if frames else 0.0,
            "ms_per_call": total_ms / calls if calls else 0.0,
        })
    return rows


def format_profile(times: StageTimes, frames: int, wall_s: float | None = None) -> str:
    """A plain-text table of :func:`profile_rows`; with ``wall_s``, a last line comparing the
    main thread's stages with the loop's wall time (the rest is untimed loop overhead)."""
    rows = profile_rows(times, frames)
    lines = [f"{'stage':<20} {'calls':>6} {'total ms':>10} {'ms/frame':>9} {'ms/call':>8}"]
    for r in rows:
        note = "  (reader thread)" if r["stage"] in READER_THREAD_STAGES and "frame_wait" in times.totals else ""
        lines.append(f"{r['stage']:<20} {r['calls']:>6} {r['total_ms']:>10.1f} {r['ms_per_frame']:>9.2f} "
                     f"{r['ms_per_call']:>8.2f}{note}")
    if wall_s is not None and frames:
        overlapped = READER_THREAD_STAGES if "frame_wait" in times.totals else ()
        timed = sum(r["total_ms"] for r in rows if r["stage"] not in overlapped)
        lines.append(f"{'wall (loop)':<20} {frames:>6} {1000.0 * wall_s:>10.1f} {1000.0 * wall_s / frames:>9.2f}"
                     f"   untimed {1000.0 * wall_s - timed:.1f} ms")
    return "\n".join(lines)
