"""Frame sources and sinks (OpenCV): images, video files, webcams, annotated mp4 output.

Frames come out as RGB uint8. Readers and writers are context managers and raise
:class:`~blazepose_sdk.errors.VideoError` for anything that cannot be opened or read. A file is
decoded on a reader thread a few frames ahead of the caller (OpenCV releases the GIL while it
decodes), so decoding overlaps the pose models.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import VideoError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
# Frames a file reader decodes ahead of the caller on its thread (cameras: none, so that a
# slow consumer never sees stale frames from a buffer of ours).
DEFAULT_PREFETCH_FRAMES = 2
_END = object()  # end of stream, from the reader thread


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

    ``prefetch``: frames decoded ahead on a reader thread (None: :data:`DEFAULT_PREFETCH_FRAMES`
    for files, 0 for cameras; 0 decodes in the caller's thread). The frames and timestamps are the
    same either way. ``bgr``: yield the frames in OpenCV's BGR order as decoded, skipping the
    whole-frame conversion; pass them on with ``PoseTracker.process(frame, t, bgr=True)``. ``stage_times``: a :class:`~blazepose_sdk.profiling.StageTimes` that records
    ``read``, ``to_rgb`` and, with prefetch, ``frame_wait`` (see :mod:`blazepose_sdk.profiling`).
    """

    def __init__(self, source: str | int | os.PathLike, prefetch: int | None = None, bgr: bool = False) -> None:
        self.source = source
        self.bgr = bool(bgr)
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
        if prefetch is None:
            prefetch = 0 if isinstance(source, int) else DEFAULT_PREFETCH_FRAMES
        self.prefetch = max(0, int(prefetch))
        self.stage_times = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue | None = None
        # frames read ahead but not yet handed out when an iteration stopped early; the next
        # iteration starts with them, so stopping and resuming skips nothing
        self._pending: deque = deque()
        self._decoder: Iterator[tuple[float, np.ndarray]] | None = None

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._thread is not None:
            raise VideoError(f"{self.source!r} is already being read")
        if self._decoder is None:
            self._decoder = self._decode()
        while self._pending:
            item = self._pending.popleft()
            if item is _END:
                self._decoder = None
                return
            if isinstance(item, BaseException):
                raise item
            yield item
        if self.prefetch == 0:
            for item in self._decoder:  # not `yield from`: stopping early must not close the decoder
                yield item
            self._decoder = None
            return
        self._queue = queue.Queue(maxsize=self.prefetch)
        self._stop.clear()
        self._thread = threading.Thread(target=self._read_ahead, args=(self._queue,),
                                        name="blazepose-video-reader", daemon=True)
        self._thread.start()
        try:
            while True:
                t0 = time.perf_counter()
                item = self._queue.get()
                if self.stage_times is not None:
                    self.stage_times.add("frame_wait", time.perf_counter() - t0)
                if item is _END:
                    self._decoder = None  # a later iteration reads on (and finds nothing) as without prefetch
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop_reader()

    def _read_ahead(self, frames: queue.Queue) -> None:
        """Reader thread: decode into ``frames`` until the end, an error, or a stop request."""
        try:
            for item in self._decoder:
                if not self._put(frames, item):
                    return
            item = _END
        except BaseException as exc:  # handed to the caller's thread, raised there
            item = exc
        self._put(frames, item)

    def _put(self, frames: queue.Queue, item: object) -> bool:
        """Queue ``item``; on a stop request keep it in ``_pending`` instead and return False."""
        while not self._stop.is_set():
            try:
                frames.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        self._leftover = item
        return False

    def _stop_reader(self) -> None:
        """Stop the reader thread; frames it had read stay in ``_pending``, in order."""
        thread, frames, self._thread, self._queue = self._thread, self._queue, None, None
        if thread is None:
            return
        self._leftover = None
        self._stop.set()
        thread.join()
        while frames is not None and not frames.empty():
            self._pending.append(frames.get_nowait())
        if self._leftover is not None:
            self._pending.append(self._leftover)
            self._leftover = None

    def _decode(self) -> Iterator[tuple[float, np.ndarray]]:
        index = 0
        last_t: float | None = None
        camera_start: float | None = None
        while True:
            t0 = time.perf_counter()
            ok, frame = self._cap.read()
            t1 = time.perf_counter()
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
            if self.bgr:
                if self.stage_times is not None:
                    self.stage_times.add("read", t1 - t0)
                yield t, frame
                continue
            t2 = time.perf_counter()
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if self.stage_times is not None:
                self.stage_times.add("read", t1 - t0)
                self.stage_times.add("to_rgb", time.perf_counter() - t2)
            yield t, rgb
        if index == 0:
            raise VideoError(f"no frame could be decoded from {self.source!r}")

    def close(self) -> None:
        self._stop_reader()
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
