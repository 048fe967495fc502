"""``blazepose batch``: many videos (or image folders) on a pool of workers, locally or on a Ray cluster.

    blazepose batch INPUT [INPUT ...] --out DIR [--address auto | ray://HOST:10001] [--workers N]
        [--coco] [--model NAME] [--options FILE.json] [other `blazepose run` tracker flags]

Every input is one task that keeps its own tracker state from its first frame to its last. A worker
(:class:`~blazepose_sdk.app.batch_worker.BatchWorker`, a Ray actor) loads the models once and serves
many tasks. For each input, DIR gets ``KEY.jsonl`` (and ``KEY.coco.json`` with ``--coco``), byte for
byte what ``blazepose run INPUT --json KEY.jsonl [--coco KEY.coco.json]`` writes with the same
options, and ``DIR/batch.json`` records per input its sha256, frames, poses, fps, the worker, the
outputs' sha256 and any error.

Resuming: an output is written under a temporary name and renamed once its input is done, then the
record is updated. A rerun skips an input only when its record entry says done, the input's
sha256 and the result-changing options are the same, and every output file has its recorded sha256;
anything else (a crash, a killed run, a changed option) is computed again. A worker killed
mid-input is restarted by Ray and its input retried from the start (``max_retries``). A bad input is
recorded with its error; the others go on.

Without ``--address`` a local Ray starts with one worker per core; without Ray installed, one local
process does the same work (``pip install "blazepose-sdk[cluster]"`` installs Ray).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._version import __version__
from ..options import TrackerOptions
from ..stages.runtime import file_sha256
from .batch_engines import BatchError, Progress, run_tasks
from .batch_worker import InputOutput, InputTask
from .video import folder_images, input_kind

RECORD_NAME = "batch.json"
PARTIAL_SUFFIX = ".partial"
# Result-neutral options (runtime_name() docs: results do not depend on the thread count).
_NEUTRAL_OPTIONS = ("num_threads",)


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs.

    out_dir: folder of the outputs and of ``batch.json`` (created).
    address: None (start a local Ray, or no Ray at all), ``"auto"`` (the running cluster) or
        ``"ray://HOST:10001"`` (Ray Client).
    workers: worker processes (None: the cluster's CPUs / threads_per_worker, also the most; a new
        local Ray gets this many CPUs, default one per core).
    threads_per_worker: TFLite threads per model, and the CPUs each worker asks Ray for.
    engine: ``"auto"`` (Ray when installed, else one local process), ``"ray"`` or ``"local"``.
    coco: also write ``KEY.coco.json``; max_frames: stop each video after this many frames.
    max_retries: restarts of a killed worker, and retries of the input it was running.
    progress: a tqdm bar on stderr (never when stderr is None).
    """

    out_dir: Path
    address: str | None = None
    workers: int | None = None
    threads_per_worker: int = 1
    engine: str = "auto"
    coco: bool = False
    max_frames: int | None = None
    max_retries: int = 3
    progress: bool = True


@dataclass
class BatchReport:
    """What a batch did: ``entries`` are the record entries by key; done, skipped and failed
    are keys; ``engine`` is "ray", "local" or "none" (nothing to run); seconds is the wall time (s)."""

    entries: dict[str, dict]
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    engine: str = "none"
    workers: int = 0
    seconds: float = 0.0

    @property
    def frames(self) -> int:
        return sum(self.entries[k].get("frames", 0) for k in self.done)


def input_sha256(path: Path, kind: str) -> str:
    """The file's sha256; for a folder, the sha256 of its ``name<TAB>sha256`` lines of image files."""
    if kind != "folder":
        return file_sha256(path)
    lines = [f"{p.name}\t{file_sha256(p)}\n" for p in folder_images(path)]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def plan_tasks(inputs: Sequence[str], coco: bool = False, max_frames: int | None = None) -> list[InputTask]:
    """One task per input. The key is the input's name without suffix; inputs sharing a name
    get ``NAME-<8 hex of the absolute path's sha1>``, whatever their order."""
    names = [Path(s).stem or Path(s).resolve().name for s in inputs]
    tasks = []
    for source, name in zip(inputs, names):
        path = Path(source).resolve()
        key = name if names.count(name) == 1 else f"{name}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        tasks.append(InputTask(key, source, str(path), input_kind(path), max_frames, coco))
    if len({t.key for t in tasks}) != len(tasks):
        raise BatchError("an input is given twice: " + ", ".join(inputs))
    return tasks


def settings_of(options: TrackerOptions, coco: bool, max_frames: int | None) -> dict:
    """The options that change a result (JSON-ready), recorded with each input."""
    tracker = {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in dataclasses.asdict(options).items()
               if k not in _NEUTRAL_OPTIONS}
    return {"tracker": tracker, "coco": coco, "max_frames": max_frames}


def _digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write under a temporary name, then rename: ``path`` is either absent, old, or complete."""
    tmp = path.with_name(path.name + PARTIAL_SUFFIX)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_record(out_dir: Path) -> dict:
    """``out_dir/batch.json`` (an empty one when absent or unreadable)."""
    try:
        record = json.loads((out_dir / RECORD_NAME).read_text())
        if isinstance(record, dict) and isinstance(record.get("inputs"), dict):
            return record
    except (OSError, ValueError):
        pass
    return {"inputs": {}}


def is_complete(entry: dict | None, out_dir: Path, sha: str | None, settings_sha: str) -> bool:
    """True when a record entry says done for this input content and these options, and every
    output it lists is there with its recorded sha256."""
    if not entry or entry.get("status") != "done" or sha is None or entry.get("input_sha256") != sha \
            or entry.get("settings_sha256") != settings_sha or not entry.get("outputs"):
        return False
    for out in entry["outputs"].values():
        file = out_dir / out["file"]
        if not file.is_file() or file_sha256(file) != out["sha256"]:
            return False
    return True


def _frame_estimate(task: InputTask) -> int:
    """Frames the progress bar expects for a task (the container's count for videos)."""
    if task.kind == "image":
        return 1
    if task.kind == "folder":
        return len(folder_images(task.path))
    import cv2

    cap = cv2.VideoCapture(task.path)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if cap.isOpened() else 0
    cap.release()
    return count if task.max_frames is None else min(count, task.max_frames)


def run_batch(inputs: Sequence[str], tracker_options: TrackerOptions, options: BatchOptions,
              on_progress: Callable[[Progress], None] | None = None) -> BatchReport:
    """Run every input not yet complete in ``options.out_dir`` and return the report (the record
    is also written after each input). Never raises for a bad input: it is in ``report.failed``."""

    start = time.perf_counter()
    out_dir = Path(options.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if tracker_options.num_threads is None:
        tracker_options = dataclasses.replace(tracker_options, num_threads=options.threads_per_worker)
    settings = settings_of(tracker_options, options.coco, options.max_frames)
    settings_sha = _digest(settings)
    record = load_record(out_dir)
    record.update({"generator": "blazepose batch", "version": __version__, "settings": settings})
    entries: dict[str, dict] = record["inputs"]
    report = BatchReport(entries)

    def save() -> None:
        _write_atomic(out_dir / RECORD_NAME, json.dumps(record, indent=1, sort_keys=True).encode())

    pending: list[InputTask] = []
    for task in plan_tasks(inputs, options.coco, options.max_frames):
        base = {"input": task.source, "kind": task.kind, "settings_sha256": settings_sha}
        try:
            sha = input_sha256(Path(task.path), task.kind)
        except OSError as exc:
            entries[task.key] = base | {"status": "failed", "input_sha256": None,
                                        "errors": [f"VideoError: input cannot be read: {task.source} ({exc.strerror})"]}
            report.failed.append(task.key)
            continue
        if is_complete(entries.get(task.key), out_dir, sha, settings_sha):
            report.skipped.append(task.key)
            continue
        entries[task.key] = base | {"status": "pending", "input_sha256": sha}
        pending.append(task)
    save()

    def finish(task: InputTask, out: InputOutput) -> None:
        entry = entries[task.key] | {
            "frames": out.frames, "poses": out.poses, "people": out.people, "fps": out.fps,
            "video_fps": out.video_fps, "seconds": out.seconds, "worker": out.worker,
            "errors": [out.error] if out.error else list(out.image_errors)}
        if out.error:
            entry.update(status="failed", outputs={})
            report.failed.append(task.key)
        else:
            files = {"jsonl": (f"{task.key}.jsonl", out.jsonl)}
            if out.coco is not None:
                files["coco"] = (f"{task.key}.coco.json", out.coco)
            for name, data in files.values():
                _write_atomic(out_dir / name, data)
            entry.update(status="done", outputs={kind: {"file": name, "sha256": hashlib.sha256(data).hexdigest(),
                                                        "bytes": len(data)} for kind, (name, data) in files.items()})
            (report.failed if out.image_errors else report.done).append(task.key)
        entries[task.key] = entry
        save()

    if pending:
        report.engine, report.workers = run_tasks(pending, tracker_options, options, finish, on_progress,
                                                  total_frames=sum(_frame_estimate(t) for t in pending))
        record.update({"engine": report.engine, "workers": report.workers})
    report.seconds = round(time.perf_counter() - start, 3)
    save()
    return report



def failure_summary(report: BatchReport) -> str:
    """One line naming the failed inputs and their first errors."""
    parts = [f"{k} ({(report.entries[k].get('errors') or ['?'])[0]})" for k in report.failed[:3]]
    more = f" and {len(report.failed) - 3} more" if len(report.failed) > 3 else ""
    total = len(report.done) + len(report.skipped) + len(report.failed)
    return f"{len(report.failed)} of {total} inputs failed (see batch.json): {'; '.join(parts)}{more}"


def iter_outputs(out_dir: str | os.PathLike) -> Iterator[tuple[str, Path]]:
    """(key, path of KEY.jsonl) of every input the record of ``out_dir`` says is done."""
    for key, entry in sorted(load_record(Path(out_dir))["inputs"].items()):
        if entry.get("status") == "done":
            yield key, Path(out_dir) / entry["outputs"]["jsonl"]["file"]
