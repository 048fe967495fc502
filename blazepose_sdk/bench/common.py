"""Shared plumbing of the suites: data paths, progress bars, notes and the JSON payload."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .machine import describe_machine

# Bumped when a documented JSON field changes meaning or disappears.
SCHEMA_VERSION = 1
DATA_DIR_ENV = "BLAZEPOSE_DATA_DIR"


def default_data_dir() -> Path:
    """Sample data: $BLAZEPOSE_DATA_DIR, else ``<repo>/../shared/data`` (vtest.avi, basketball1.png)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[3] / "shared" / "data"


class Reporter:
    """Prints progress lines and keeps the notes (skips, fallbacks) that go into JSON and report.md."""

    def __init__(self, progress: bool = True, stream=None) -> None:
        self.progress_enabled = progress
        self.stream = stream or sys.stdout
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        """A line the reader must see (a skipped row, a missing dependency): printed and recorded."""
        self.notes.append(message)
        print(f"note: {message}", file=self.stream, flush=True)

    def say(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def progress(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "") -> tqdm:
        """A tqdm progress bar on stderr (silent with --no-progress)."""
        return tqdm(
            iterable, total=total, desc=desc, disable=not self.progress_enabled, leave=False, dynamic_ncols=True
        )


def _bench_args(argv: list[str]) -> list[str]:
    """The suite's own arguments, whether run as `blazepose bench ...` or `python -m blazepose_sdk.bench ...`."""
    args = list(argv[1:])
    return args[1:] if args[:1] == ["bench"] else args


def new_payload(suite: str, settings: dict, quick: bool, command: list[str] | None = None) -> dict:
    """The common head of every ``<suite>.json``."""
    return {
        "suite": suite,
        "schema_version": SCHEMA_VERSION,
        "command": "blazepose bench " + " ".join(command if command is not None else _bench_args(sys.argv)),
        "quick": bool(quick),
        "machine": describe_machine(),
        "settings": settings,
        "rows": [],
        "notes": [],
    }


def json_ready(value):
    """Convert numpy scalars/arrays, Paths and non-finite floats (-> None) for json.dump."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(out_dir: str | os.PathLike, suite: str, payload: dict) -> Path:
    """Write ``<out_dir>/<suite>.json`` and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{suite}.json"
    path.write_text(json.dumps(json_ready(payload), indent=2) + "\n")
    return path


def read_json(path: str | os.PathLike) -> dict:
    return json.loads(Path(path).read_text())


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, None when either is missing or the baseline is 0."""
    if value is None or baseline is None or not math.isfinite(value) or not math.isfinite(baseline) or baseline == 0:
        return None
    return value / baseline
