"""Frame sources and sinks (OpenCV): images, video files, webcams, streams, annotated mp4 output.

Frames come out as RGB uint8. Readers and writers are context managers and raise
:class:`~blazepose_sdk.errors.VideoError` for anything that cannot be opened or read. A file is
decoded on a reader thread a few frames ahead of the caller (OpenCV releases the GIL while it
decodes), so decoding overlaps the pose models.

Outputs never replace an existing file with a half-written one: images and videos are written to a
temporary file beside the target (:func:`temp_file_beside`) and renamed over it once complete.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import VideoError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
# Frames a file reader decodes ahead of the caller on its thread (cameras: none, so that a
# slow consumer never sees stale frames from a buffer of ours).
DEFAULT_PREFETCH_FRAMES = 2
_END = object()  # end of stream, from the reader thread
# How long opening a network stream (http://, rtsp://, ...) may take before VideoError, where the
# OpenCV backend supports CAP_PROP_OPEN_TIMEOUT_MSEC (FFmpeg does); our choice. Also the longest
# wait for one frame of a stream (CAP_PROP_READ_TIMEOUT_MSEC).
STREAM_OPEN_TIMEOUT_S = 10.0
# A file's frame is reported as following a gap (SourceGap) when the container's time since the
# previous frame is more than this many frame intervals: a variable-frame-rate file's slow stretches
# (24 fps in a 30 fps file: 1.25 intervals) are not gaps, one dropped frame (2 intervals) is. Our choice.
GAP_INTERVALS = 1.5
# A file that ends more than this many frames before the frame count in its header is reported as
# ended early (SourceGap at the end): some containers only estimate the count. Our choice.
FRAME_COUNT_TOLERANCE = 1
# How many recent frame intervals a file's usual interval is the median of (frames_skipped); our choice.
GAP_HISTORY_FRAMES = 31
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def source_kind(source: str | int | os.PathLike) -> str:
    """What a video source is: ``"camera"`` (an int index, or a ``/dev/video*`` device path),
    ``"stream"`` (a URL: ``scheme://...``, opened by OpenCV's FFmpeg backend) or ``"file"``."""
    if isinstance(source, int):
        return "camera"
    text = os.fspath(source)
    if _URL.match(text):
        return "stream"
    if re.match(r"^/dev/video\d*$", text):
        return "camera"
    return "file"


def temp_file_beside(path: str | os.PathLike) -> Path:
    """A new empty file in ``path``'s folder with the same suffix (``out.mp4`` ->
    ``out.partial-1a2b3c4d.mp4``), for writing what then replaces ``path`` with ``os.replace``
    (atomic on one file system: readers see the old file or the new one, never half of it). Its
    permissions are what a plain ``open(path, "w")`` would give (umask applies).

    Raises:
        VideoError: the folder cannot be written.
    """
    p = Path(os.path.realpath(path))  # through a symlink: its target is replaced, not the link
    while True:
        tmp = p.with_name(f"{p.stem}.partial-{secrets.token_hex(4)}{p.suffix}")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise VideoError(f"cannot write in {p.parent}: {exc.strerror or exc}") from None


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


def is_special_file(path: str | os.PathLike) -> bool:
    """An existing path that is neither a regular file nor a folder (a FIFO, a character device
    such as /dev/stdout or /dev/null): outputs are written to it directly, never replaced."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def write_file_replacing(path: str | os.PathLike, data: bytes, what: str | None = None) -> None:
    """Write ``data`` to ``path`` so that an existing file is replaced only once the new one is
    complete (a temporary file beside it, :func:`temp_file_beside`, then ``os.replace``); a
    special file (:func:`is_special_file`) is written as it is. ``what`` names the output in the
    error (default: the path). Raises VideoError."""
    if is_special_file(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    tmp = temp_file_beside(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, os.path.realpath(path))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise VideoError(f"cannot write {what or path}: {exc.strerror or exc}") from None


def write_image(path: str | os.PathLike, image_rgb: np.ndarray) -> None:
    """Write an RGB image; the format follows the file suffix. An existing file is replaced only
    once the new one is complete (:func:`write_file_replacing`)."""
    p = Path(path)
    ok, buf = cv2.imencode(p.suffix or ".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise VideoError(f"cannot encode image as {p.suffix!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    write_file_replacing(p, buf.tobytes())


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


def frames_skipped(last_pos: float | None, pos: float | None, last_ms: float | None, container_ms: float | None,
                   interval_ms: float) -> int:
    """How many frames a file skipped between two frames read one after the other, from what the
    decoder reports after each read: its position in frames (``CAP_PROP_POS_FRAMES``) and its time
    (``CAP_PROP_POS_MSEC``, ms). ``interval_ms``: the file's usual time between frames. 0 when
    neither jumps (a time jump counts only beyond ``GAP_INTERVALS`` intervals) or when the backend
    reports nothing (0)."""
    by_count = by_time = 0
    if last_pos is not None and pos is not None and last_pos > 0 and pos > 0 and np.isfinite([last_pos, pos]).all():
        by_count = int(round(pos - last_pos)) - 1
    if last_ms is not None and container_ms is not None and np.isfinite([last_ms, container_ms]).all() \
            and last_ms >= 0 and container_ms > 0:
        jump_ms = container_ms - last_ms
        if jump_ms > GAP_INTERVALS * interval_ms:
            by_time = int(round(jump_ms / interval_ms)) - 1
    return max(0, by_count, by_time)


@dataclass(frozen=True)
class SourceGap:
    """Frames of a file that were not decoded (damaged, dropped or cut off).

    Attributes:
        frame_index: index (among the frames the reader yielded) of the first frame after the
            gap; for a file that ends early, the number of frames read (the frame that never came).
        missing_frames: how many frames are missing there (from the container's frame positions
            and times, or from the frame count in its header at the end).
        jump_ms: time from the previous frame to this one, as the container says (None at the end).
        at_end: True when the file ended ``missing_frames`` frames before the frame count in its
            header (truncated, or damaged somewhere: frames after a damaged part come with early
            timestamps, since the container's times count only the frames that are there).
    """

    frame_index: int
    missing_frames: int
    jump_ms: float | None = None
    at_end: bool = False

    def to_dict(self) -> dict:
        d = {"missing_frames": self.missing_frames}
        if self.jump_ms is not None:
            d["jump_ms"] = round(self.jump_ms, 3)
        return d


class VideoReader:
    """Reads a video file, a camera (int index or ``/dev/video*`` device) or a stream (a URL such
    as ``rtsp://`` or ``http://``, with :data:`STREAM_OPEN_TIMEOUT_S`) frame by frame.

    Iterating yields ``(timestamp_ms, frame_rgb)``. A file's and a stream's timestamps come from
    the container (:func:`frame_timestamp_ms`); a camera's from the monotonic clock, 0 at its first
    frame. They always increase.

    Frames a file skips are recorded, never hidden: ``gaps`` lists a :class:`SourceGap` for each
    jump in the container's frame position or time (:func:`frames_skipped`; the frame after it is
    ``gap_before(index)``) and, once the end is reached, one with ``at_end`` when fewer frames came
    than the header's frame count (a truncated file, or one damaged in the middle whose later
    timestamps are then early). ``frames_read``: frames yielded so far.

    ``prefetch``: frames decoded ahead on a reader thread (None: :data:`DEFAULT_PREFETCH_FRAMES`
    for files and streams, 0 for cameras; 0 decodes in the caller's thread). The frames and timestamps are the
    same either way. ``bgr``: yield the frames in OpenCV's BGR order as decoded, skipping the
    whole-frame conversion; pass them on with ``PoseTracker.process(frame, t, bgr=True)``. ``stage_times``: a :class:`~blazepose_sdk.profiling.StageTimes` that records
    ``read``, ``to_rgb`` and, with prefetch, ``frame_wait`` (see :mod:`blazepose_sdk.profiling`).
    """

    def __init__(self, source: str | int | os.PathLike, prefetch: int | None = None, bgr: bool = False) -> None:
        self.source = source
        self.bgr = bool(bgr)
        self.kind = source_kind(source)
        if isinstance(source, int):
            self._cap = cv2.VideoCapture(source)
        elif self.kind == "stream":
            ms = int(STREAM_OPEN_TIMEOUT_S * 1000)
            self._cap = cv2.VideoCapture(str(source), cv2.CAP_FFMPEG,
                                         [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        elif self.kind == "camera":
            if not os.path.exists(source):
                raise VideoError(f"camera not found: {source}")
            self._cap = cv2.VideoCapture(os.fspath(source))
        else:
            p = Path(source)
            if not p.is_file():
                raise VideoError(f"video not found: {p}")
            self._cap = cv2.VideoCapture(str(p))
        if not self._cap.isOpened():
            self._cap.release()
            raise VideoError(f"cannot open video source {source!r}"
                             + (f" (no answer within {STREAM_OPEN_TIMEOUT_S:g} s, refused, or not a video)"
                                if self.kind == "stream" else ""))
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if prefetch is None:
            prefetch = 0 if self.kind == "camera" else DEFAULT_PREFETCH_FRAMES
        self.gaps: list[SourceGap] = []
        self._gap_at: dict[int, SourceGap] = {}
        self.frames_read = 0
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

    def gap_before(self, index: int) -> SourceGap | None:
        """The gap just before frame ``index`` (counted as yielded), or None."""
        return self._gap_at.get(index)

    @property
    def frames_missing(self) -> int:
        """Frames known to be missing so far (the sum over ``gaps``)."""
        return sum(g.missing_frames for g in self.gaps)

    def _add_gap(self, gap: SourceGap) -> None:
        self._gap_at[gap.frame_index] = gap
        self.gaps.append(gap)

    def _decode(self) -> Iterator[tuple[float, np.ndarray]]:
        index = 0
        last_t: float | None = None
        camera_start: float | None = None
        last_pos: float | None = None
        last_ms: float | None = None
        # the file's usual frame interval: the median of the recent ones (a gap, or a header whose
        # fps is an average over the gaps, does not move it), 1000 / fps until there are a few
        intervals: deque = deque(maxlen=GAP_HISTORY_FRAMES)
        while True:
            t0 = time.perf_counter()
            ok, frame = self._cap.read()
            t1 = time.perf_counter()
            if not ok or frame is None:
                break
            if frame.ndim != 3 or frame.size == 0:
                raise VideoError(f"frame {index} of {self.source!r} is not a colour image")
            if self.kind == "camera":
                now = time.monotonic()
                camera_start = now if camera_start is None else camera_start
                t = frame_timestamp_ms(index, (now - camera_start) * 1000.0 or None, self.fps, last_t)
            else:
                container_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
                pos = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
                interval_ms = float(np.median(intervals)) if len(intervals) >= 3 else 1000.0 / self.fps
                missing = frames_skipped(last_pos, pos, last_ms, container_ms, interval_ms)
                jump_ms = float(container_ms - last_ms) if last_ms is not None and container_ms > 0 else None
                if missing:
                    self._add_gap(SourceGap(index, missing, jump_ms))
                elif jump_ms is not None and jump_ms > 0:
                    intervals.append(jump_ms)
                last_pos, last_ms = pos, container_ms
                t = frame_timestamp_ms(index, container_ms, self.fps, last_t)
            last_t = t
            index += 1
            self.frames_read = index
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
        if self.kind == "file" and self.frame_count is not None:
            short = self.frame_count - index - self.frames_missing
            if short > FRAME_COUNT_TOLERANCE:
                self._add_gap(SourceGap(index, short, None, at_end=True))

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
    """Writes RGB frames to an mp4 (mp4v) or avi (MJPG) file; opened on the first frame.

    The frames go to a temporary file beside ``path`` (same suffix, :func:`temp_file_beside`) that
    :meth:`close` renames to ``path``: an existing file is replaced only by a complete, playable
    video, and not at all when no frame was written.
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None
        self._tmp: Path | None = None
        self.frames_written = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        h, w = frame_rgb.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            self._tmp = temp_file_beside(self.path)
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                self._tmp.unlink(missing_ok=True)
                self._tmp = None
                raise VideoError(f"cannot open {self.path} for writing")
            self._size = (w, h)
        if (w, h) != self._size:
            frame_rgb = cv2.resize(frame_rgb, self._size)
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it to ``path`` (idempotent)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            tmp, self._tmp = self._tmp, None
            try:
                os.replace(tmp, os.path.realpath(self.path))
            except OSError as exc:
                raise VideoError(f"cannot write {self.path} (the video is in {tmp}): {exc.strerror or exc}") from None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_image_path(source: str | os.PathLike) -> bool:
    return Path(str(source)).suffix.lower() in IMAGE_SUFFIXES


def folder_images(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder (by suffix, :data:`IMAGE_SUFFIXES`; sub-folders skipped),
    sorted by name: what ``blazepose run FOLDER`` and ``blazepose batch`` process, in that order."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_image_path(p))


def input_kind(path: str | os.PathLike) -> str:
    """What ``blazepose run`` makes of a local path: ``"folder"`` (its images), ``"image"`` (an
    image suffix) or ``"video"`` (any other file)."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    return "image" if is_image_path(path) else "video"
