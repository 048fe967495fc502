"""The per-input work of ``blazepose batch``: one worker loads the models once and runs many inputs.

A task is one input (a video file, an image folder or one image). Each task starts from a fresh
tracker state and keeps it from its first frame to its last, so its records are those of
``blazepose run INPUT --json OUT [--coco OUT]``: ``PoseResult.to_dict()`` per frame (plus
``"source"`` per image of a folder) and ``PoseResult.to_coco`` entries. The worker is a plain
class; :mod:`blazepose_sdk.app.batch` runs it in this process or as a Ray actor.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VideoError
from ..tracker import PoseTracker, TrackerOptions
from .loops import track_images, track_video
from .video import VideoReader, folder_images

# A worker tells the driver how far a task got at most this often (frames), besides its end.
PROGRESS_EVERY_FRAMES = 10


@dataclass(frozen=True)
class InputTask:
    """One input of a batch.

    key: the output name in the batch folder (``KEY.jsonl``, ``KEY.coco.json``), unique.
    source: the input as the user gave it (``blazepose run`` writes it as given into ``"source"``).
    path: where a worker reads it (absolute, as workers may run in another folder).
    kind: ``"video"``, ``"folder"`` (image files of a folder, not recursive) or ``"image"``.
    max_frames: stop a video after this many frames (None: all).
    coco: also return COCO keypoint results.
    """

    key: str
    source: str
    path: str
    kind: str
    max_frames: int | None = None
    coco: bool = False


@dataclass
class InputOutput:
    """What a worker returns for one input.

    jsonl: the JSON-lines file, byte for byte as ``blazepose run --json`` writes it.
    coco: the COCO results file as ``blazepose run --coco`` writes it (None unless asked).
    frames: frames (video) or images read; poses: those with a pose; people: poses over all
        frames (several per frame with ``num_poses > 1``).
    seconds: wall time of the task (s); fps: frames per second of wall time.
    video_fps: the container's frame rate (videos; None otherwise).
    worker: ``host:pid`` of the process that ran it.
    image_errors: images of a folder that could not be read (``name (reason)``), as ``run`` lists them.
    error: ``"Type: message"`` when the input failed as a whole (then jsonl is empty).
    """

    key: str
    jsonl: bytes = b""
    coco: bytes | None = None
    frames: int = 0
    poses: int = 0
    people: int = 0
    seconds: float = 0.0
    fps: float | None = None
    video_fps: float | None = None
    worker: str = ""
    image_errors: list[str] = field(default_factory=list)
    error: str | None = None


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class BatchWorker:
    """Runs inputs one after another with models loaded once per mode (video; static images).

    ``report(key, frames_done, worker)`` is called every :data:`PROGRESS_EVERY_FRAMES` frames
    and at the end of each input. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, options: TrackerOptions, report: Callable[[str, int, str], None] | None = None) -> None:
        self.options = options
        self.report = report
        self.name = worker_name()
        self._trackers: dict[bool, PoseTracker] = {}

    def pid(self) -> int:
        """The operating-system process id of this worker."""
        return os.getpid()

    def _tracker(self, static: bool) -> PoseTracker:
        if static not in self._trackers:
            options = dataclasses.replace(self.options, static_image_mode=True) if static else self.options
            self._trackers[static] = PoseTracker(options)
        tracker = self._trackers[static]
        tracker.restart()  # each input: the results of a tracker just built
        return tracker

    def _report(self, key: str, frames: int) -> None:
        if self.report is not None:
            self.report(key, frames, self.name)

    def run(self, task: InputTask) -> InputOutput:
        """Process one input; an input that cannot be used comes back with ``error`` set (the
        worker goes on with the next one)."""
        start = time.perf_counter()
        out = InputOutput(key=task.key, worker=self.name)
        try:
            if task.kind == "video":
                self._run_video(task, out)
            else:
                self._run_images(task, out)
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the batch
            out = InputOutput(key=task.key, worker=self.name, error=f"{type(exc).__name__}: {exc}")
        out.seconds = round(time.perf_counter() - start, 3)
        out.fps = round(out.frames / out.seconds, 2) if out.seconds > 0 and out.frames else None
        self._report(task.key, out.frames)
        return out

    def _run_video(self, task: InputTask, out: InputOutput) -> None:
        lines: list[str] = []
        coco: list[dict] = []
        tracker = self._tracker(static=False)
        with VideoReader(task.path, bgr=True) as reader:  # nothing is drawn: no whole-frame conversion
            out.video_fps = reader.fps
            for _, result in track_video(tracker, reader, task.max_frames):
                out.poses += result.pose is not None
                out.people += len(result.poses)
                lines.append(json.dumps(result.to_dict()) + "\n")
                if task.coco:
                    coco.extend(result.to_coco(result.frame_index))
                if tracker.frames_processed % PROGRESS_EVERY_FRAMES == 0:
                    self._report(task.key, tracker.frames_processed)
        out.frames = tracker.frames_processed
        if out.frames == 0:
            raise VideoError(f"no frames could be decoded from {task.source}")
        out.jsonl = "".join(lines).encode()
        out.coco = json.dumps(coco).encode() if task.coco else None

    def _run_images(self, task: InputTask, out: InputOutput) -> None:
        path = Path(task.path)
        folder = task.kind == "folder"
        files = folder_images(path) if folder else [path]
        if not files:
            raise VideoError(f"no images in {task.source}")
        lines: list[str] = []
        coco: list[dict] = []
        tracker = self._tracker(static=True)
        for image_id, file, _, result in track_images(tracker, files, folder, out.image_errors):
            out.poses += result.pose is not None
            out.people += len(result.poses)
            # the path as `blazepose run SOURCE` names it: SOURCE/NAME for a folder
            label = str(Path(task.source) / file.name) if folder else str(Path(task.source))
            lines.append(json.dumps(result.to_dict() | {"source": label}) + "\n")
            if task.coco:
                coco.extend(result.to_coco(image_id))
            if (image_id + 1) % PROGRESS_EVERY_FRAMES == 0:
                self._report(task.key, image_id + 1)
        out.frames = len(files)
        out.jsonl = "".join(lines).encode()
        out.coco = json.dumps(coco).encode() if task.coco else None

    def close(self) -> None:
        for tracker in self._trackers.values():
            tracker.close()
        self._trackers.clear()

    def __enter__(self) -> "BatchWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProgressBoard:
    """Frames done per input and the worker doing it (a tiny Ray actor in a Ray batch)."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[int, str]] = {}

    def report(self, key: str, frames: int, worker: str) -> None:
        self._done[key] = (int(frames), worker)

    def snapshot(self) -> dict[str, tuple[int, str]]:
        return dict(self._done)


class RayBatchWorker(BatchWorker):
    """:class:`BatchWorker` as a Ray actor: progress goes to the :class:`ProgressBoard` actor
    named ``board`` (by name, not by handle: Ray restarts an actor only from inline arguments)."""

    def __init__(self, options: TrackerOptions, board: str | None = None) -> None:
        super().__init__(options, None if board is None else self._send)
        self._board_name, self._board = board, None

    def _send(self, key: str, frames: int, worker: str) -> None:
        if self._board is None:
            import ray

            self._board = ray.get_actor(self._board_name)
        self._board.report.remote(key, frames, worker)
