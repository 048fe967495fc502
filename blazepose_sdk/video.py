"""Frame sources and sinks (OpenCV): images, video files, webcams, annotated mp4 output.

Frames come out as RGB uint8. Readers and writers are context managers and raise
:class:`~blazepose_sdk.errors.VideoError` for anything that cannot be opened or read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import VideoError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) RGB uint8."""
    p = Path(path)
    if not p.is_file():
        raise VideoError(f"image not found: {p}")
    data = np.fromfile(str(p), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise VideoError(f"cannot decode image {p} (corrupt or unsupported format)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_image(path: str | os.PathLike, image_rgb: np.ndarray) -> None:
    """Write an RGB image; the format follows the file suffix."""
    p = Path(path)
    ok, buf = cv2.imencode(p.suffix or ".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise VideoError(f"cannot encode image as {p.suffix!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    buf.tofile(str(p))


def frame_timestamp_ms(index: int, container_ms: float | None, fps: float, last_ms: float | None) -> float:
    """The timestamp (ms) of frame ``index`` of a file.

    ``container_ms`` is what the decoder reports for the frame just read (OpenCV's
    ``CAP_PROP_POS_MSEC``, which follows the container's time stamps, so variable-frame-rate files
    keep their real times). Some backends report 0 (or nothing) for every frame; then the time is
    ``index * 1000 / fps``. The result always increases: a time at or before ``last_ms`` becomes
    ``last_ms + 1``.
    """
    t = float(container_ms) if container_ms is not None and np.isfinite(container_ms) else 0.0
    if t <= 0.0 and index > 0:
        t = index * 1000.0 / fps
    if last_ms is not None and t <= last_ms:
        t = last_ms + 1.0
    return t


class VideoReader:
    """Reads a video file or a camera (int index) frame by frame.

    Iterating yields ``(timestamp_ms, frame_rgb)``. A file's timestamps come from the container
    (:func:`frame_timestamp_ms`); a camera's from the monotonic clock, 0 at its first frame. They
    always increase.
    """

    def __init__(self, source: str | int | os.PathLike) -> None:
        self.source = source
        if isinstance(source, int):
            self._cap = cv2.VideoCapture(source)
        else:
            p = Path(source)
            if not p.is_file():
                raise VideoError(f"video not found: {p}")
            self._cap = cv2.VideoCapture(str(p))
        if not self._cap.isOpened():
            self._cap.release()
            raise VideoError(f"cannot open video source {source!r}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        index = 0
        last_t: float | None = None
        camera_start: float | None = None
        while True:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                break
            if frame.ndim != 3 or frame.size == 0:
                raise VideoError(f"frame {index} of {self.source!r} is not a colour image")
            if isinstance(self.source, int):
                now = time.monotonic()
                camera_start = now if camera_start is None else camera_start
                t = frame_timestamp_ms(index, (now - camera_start) * 1000.0 or None, self.fps, last_t)
            else:
                t = frame_timestamp_ms(index, self._cap.get(cv2.CAP_PROP_POS_MSEC), self.fps, last_t)
            last_t = t
            index += 1
            yield t, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if index == 0:
            raise VideoError(f"no frame could be decoded from {self.source!r}")

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def video_frames(source: str | int | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(timestamp_ms, frame_rgb)`` from a video file or camera, closing it at the end."""
    with VideoReader(source) as reader:
        yield from reader


class VideoWriter:
    """Writes RGB frames to an mp4 (mp4v) or avi (MJPG) file; opened on the first frame."""

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None
        self.frames_written = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        h, w = frame_rgb.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise VideoError(f"cannot open {self.path} for writing")
            self._size = (w, h)
        if (w, h) != self._size:
            frame_rgb = cv2.resize(frame_rgb, self._size)
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_image_path(source: str | os.PathLike) -> bool:
    return Path(str(source)).suffix.lower() in IMAGE_SUFFIXES
