"""Where the tasks of :func:`blazepose_sdk.app.batch.run_batch` run: Ray actors, or this one process.

Ray: ``workers`` actors (:class:`~blazepose_sdk.app.batch_worker.RayBatchWorker`, ``threads_per_worker``
CPUs each, ``max_restarts`` = ``max_task_retries`` = ``max_retries``), each given the next input as
soon as it is free; a tiny actor (:class:`~blazepose_sdk.app.batch_worker.ProgressBoard`) collects the
frames done per input for the progress bar. Results come back through Ray's object store (about
3 kB per frame of JSON for one person) and the driver writes them.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BlazePoseError
from ..tracker import TrackerOptions
from .batch_worker import BatchWorker, InputOutput, InputTask, ProgressBoard, RayBatchWorker

INSTALL_HINT = 'pip install "blazepose-sdk[cluster]"'


class BatchError(BlazePoseError, RuntimeError):
    """One or more inputs of a batch failed (each is recorded in the record), or no worker could run."""


@dataclass(frozen=True)
class Progress:
    """Frames done so far on one input (``worker``: ``host:pid`` of the process running it)."""

    key: str
    frames: int
    worker: str

    @property
    def pid(self) -> int:
        return int(self.worker.rsplit(":", 1)[1])


_DEVNULL = None  # stands in for a missing sys.stderr while Ray starts
# How often the driver looks at the progress board while it waits for results (s).
POLL_S = 0.5


def _bar(total_frames: int, inputs: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total_frames, unit="frame", desc=f"batch 0/{inputs} inputs", file=sys.stderr,
                disable=not enabled or sys.stderr is None, dynamic_ncols=True)


def ray_module(engine: str, address: str | None):
    """The ray module, or None for one local process (``engine="local"``, or Ray not installed and
    neither ``engine="ray"`` nor an address asked for it: then a line on stderr says how to install it)."""
    if engine == "local":
        return None
    try:
        import ray
    except ImportError:
        if engine == "ray" or address:
            raise BatchError(f"Ray is not installed: {INSTALL_HINT}") from None
        if sys.stderr is not None:
            print(f"blazepose: Ray is not installed, so one local process runs every input; for parallel "
                  f"workers: {INSTALL_HINT}", file=sys.stderr)
        return None
    return ray


def connect(ray, address: str | None, workers: int | None) -> bool:
    """Connect to Ray (a running session, ``address``, else a new local one with ``workers`` CPUs,
    default one per core); True when this call started it."""
    global _DEVNULL
    if ray.is_initialized():
        return False
    stderr = sys.stderr
    if stderr is None:  # no console (pythonw, services): ray.init needs a real stderr for faulthandler
        _DEVNULL = _DEVNULL or open(os.devnull, "w")  # noqa: SIM115 - kept open while Ray may write to it
        sys.stderr = _DEVNULL
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
    finally:
        sys.stderr = stderr
    return True


def run_tasks(tasks: list[InputTask], tracker_options: TrackerOptions, options, finish: Callable[[InputTask, InputOutput], None],
              on_progress=None, total_frames: int = 0) -> tuple[str, int]:
    """Run ``tasks``, calling ``finish(task, output)`` in the driver as each ends (any order);
    returns (engine, workers)."""
    ray = ray_module(options.engine, options.address)
    with _bar(total_frames, len(tasks), options.progress) as bar:
        if ray is None:
            _run_local(tasks, tracker_options, finish, on_progress, bar)
            return "local", 1
        started = connect(ray, options.address, options.workers)
        try:
            return "ray", _run_ray(ray, tasks, tracker_options, options, finish, on_progress, bar)
        finally:
            if started:
                ray.shutdown()


def _progress_callback(bar, on_progress, done_frames: dict[str, int]):
    """report(key, frames, worker) for the driver: moves the bar and calls ``on_progress``."""
    def report(key: str, frames: int, worker: str) -> None:
        if done_frames.get(key) == frames:
            return
        done_frames[key] = frames
        bar.n = sum(done_frames.values())
        bar.refresh()
        if on_progress is not None:
            on_progress(Progress(key, frames, worker))
    return report


def _run_local(tasks, tracker_options, finish, on_progress, bar) -> None:
    report = _progress_callback(bar, on_progress, {})
    with BatchWorker(tracker_options, report) as worker:
        for i, task in enumerate(tasks):
            finish(task, worker.run(task))
            bar.set_description(f"batch {i + 1}/{len(tasks)} inputs")


def _run_ray(ray, tasks, tracker_options, options, finish, on_progress, bar) -> int:
    cpus = max(1, tracker_options.num_threads or 1)
    fit = max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)  # more would wait for CPUs forever
    n = max(1, min(options.workers or fit, fit, len(tasks)))
    board_name = f"blazepose-batch-progress-{uuid.uuid4().hex[:12]}"
    board = ray.remote(ProgressBoard).options(num_cpus=0, name=board_name).remote()
    actor = ray.remote(RayBatchWorker).options(num_cpus=cpus, max_restarts=options.max_retries,
                                               max_task_retries=options.max_retries)
    idle = [actor.remote(tracker_options, board_name) for _ in range(n)]
    queue, running = deque(tasks), {}
    report = _progress_callback(bar, on_progress, {})
    finished = 0
    while queue or running:
        while idle and queue:
            worker, task = idle.pop(), queue.popleft()
            running[worker.run.remote(task)] = (worker, task)
        if not running:  # every worker is gone
            for task in queue:
                finish(task, InputOutput(task.key, error="BatchError: no worker left (every worker died)"))
            queue.clear()
            break
        ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
        for key, (frames, name) in ray.get(board.snapshot.remote()).items():
            report(key, frames, name)
        for ref in ready:
            worker, task = running.pop(ref)
            try:
                out = ray.get(ref)
                idle.append(worker)
            except ray.exceptions.RayActorError as exc:  # died more than max_retries times
                out = InputOutput(task.key, error=f"WorkerDied: {str(exc).splitlines()[0]}")
            except ray.exceptions.RayError as exc:
                out = InputOutput(task.key, error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
                idle.append(worker)
            finish(task, out)
            finished += 1
            bar.set_description(f"batch {finished}/{len(tasks)} inputs")
    for worker in idle:
        ray.kill(worker)
    ray.kill(board)
    return n
