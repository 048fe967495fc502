"""The loops that feed inputs through a tracker, shared by ``blazepose run`` (:mod:`.run`) and
``blazepose batch``'s workers (:mod:`.batch_worker`): what each does with a result is its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InvalidFrameError, VideoError
from ..profiling import StageTimes
from ..results import PoseResult
from ..tracker import PoseTracker
from .video import VideoReader, read_image


def track_images(tracker: PoseTracker, files: list[Path], folder: bool, failed: list[str],
                 times: StageTimes | None = None) -> Iterator[tuple[int, Path, np.ndarray, PoseResult]]:
    """(image id, file, RGB frame, result) of each image of ``files`` through ``tracker`` (the
    image id counts every file, skipped ones too). For a folder (``folder``), a file that cannot be
    read or used is appended to ``failed`` as ``"name (why)"`` and skipped; a single image raises
    (VideoError, InvalidFrameError). ``times`` records the "read" stage."""
    for image_id, file in enumerate(files):
        try:
            t0 = time.perf_counter()
            frame = read_image(file)
            if times is not None:
                times.add("read", time.perf_counter() - t0)
            result = tracker.process(frame, timestamp_ms=0.0)
        except (VideoError, InvalidFrameError) as exc:
            if not folder:
                raise
            failed.append(f"{file.name} ({exc})")
            continue
        yield image_id, file, frame, result


def track_video(tracker: PoseTracker, reader: VideoReader,
                max_frames: int | None = None) -> Iterator[tuple[np.ndarray, PoseResult]]:
    """(frame, result) of each decoded frame of ``reader`` through ``tracker``, with the
    reader's timestamps (ms), stopping after ``max_frames`` frames (None: the whole source). The
    frame is in the reader's order: RGB, or BGR from ``VideoReader(..., bgr=True)``, which the
    tracker then takes as it is (only the model-input crops are swapped)."""
    for t_ms, frame in reader:
        if max_frames is not None and tracker.frames_processed >= max_frames:
            break
        yield frame, tracker.process(frame, timestamp_ms=t_ms, bgr=reader.bgr)
