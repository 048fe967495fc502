"""Copy-paste inputs and their provenance: sample records, background frames, the real corpus's
frame table, and the guard that keeps reserved and held-out media out (docs/data.md, "Real
frames").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.data.copy_paste.options import CopyPasteError, ReservedSourceError
from training.data.corpus_sources import SPLITS
from training.data.sample import Sample

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
# Names of media that never enter training (docs/data.md, "Real frames"): the pose2sim package is
# the reserved test set, vtest.avi and the basketball scene are the held-out sources of the
# accuracy and presence benchmarks.
FORBIDDEN_NAME_PARTS = ("pose2sim", "vtest", "basketball")
TRAIN_SPLIT = SPLITS[0]  # "train"
# Two decoded images are the same frame when their mean absolute difference is below this
# (0..255 scale; our choice: JPEG re-encoding at quality 95 differs by about 1).
SAME_IMAGE_MAD = 4.0


def forbidden_reason(*names: str) -> str | None:
    """The reserved/held-out name part found in any of ``names`` (case-insensitive), or None."""
    for n in names:
        low = str(n).lower()
        for part in FORBIDDEN_NAME_PARTS:
            if part in low:
                return part
    return None


def entry_reason(entry: dict | None) -> str | None:
    """Why a real-corpus frame entry may not be used for training (None: it may)."""
    if entry is None:
        return None
    named = forbidden_reason(entry.get("source", ""), entry.get("scene", ""), entry.get("package", ""),
                             entry.get("image", ""), entry.get("file", ""))
    if named:
        return named
    if entry.get("split") != TRAIN_SPLIT:
        return f"corpus split {entry.get('split')!r}"
    return None


class CorpusIndex:
    """The real corpus's frame table (corpus.json): find a frame by its bytes or pixels."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.frames: list[dict] = []
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text())
                self.frames = list(data["frames"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CopyPasteError(f"cannot read the real corpus table {self.path}: {exc}") from exc
        self.by_sha = {f["sha256"]: f for f in self.frames if "sha256" in f}
        self._decoded: dict[str, np.ndarray | None] = {}

    def find_bytes(self, data: bytes) -> dict | None:
        return self.by_sha.get(hashlib.sha256(data).hexdigest())

    def find_pixels(self, rgb: np.ndarray) -> dict | None:
        """The frame of the same size whose pixels match ``rgb`` (a re-encoded copy), or None."""
        h, w = rgb.shape[:2]
        for f in self.frames:
            if f.get("width") != w or f.get("height") != h or self.path is None:
                continue
            key = f["image"]
            if key not in self._decoded:
                bgr = cv2.imread(str(self.path.parent / key), cv2.IMREAD_COLOR)
                self._decoded[key] = None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            ref = self._decoded[key]
            if ref is not None and float(np.mean(np.abs(ref.astype(np.float32) - rgb))) < SAME_IMAGE_MAD:
                return f
        return None

    def find(self, data: bytes, rgb: np.ndarray | None = None) -> dict | None:
        return self.find_bytes(data) or (self.find_pixels(rgb) if rgb is not None else None)


def find_corpus_json(dirs) -> Path | None:
    """corpus.json in one of ``dirs`` or up to two levels above (e.g. DIR/train -> DIR)."""
    for d in dirs:
        p = Path(d).resolve()
        for q in (p, *list(p.parents)[:2]):
            if (q / "corpus.json").is_file():
                return q / "corpus.json"
    return None


def check_person(s: Sample, entry: dict | None, index: int) -> None:
    """Refuse a person of a reserved test set or a held-out source (ReservedSourceError)."""
    reason = forbidden_reason(s.source, s.image_id) or entry_reason(entry)
    if reason:
        where = f" (corpus frame {entry.get('image')})" if entry else ""
        raise ReservedSourceError(f"sample {index} (source {s.source!r}, image_id {s.image_id!r}){where} is from a "
                                  f"reserved or held-out source ({reason}); it never goes into training data")


@dataclass
class Background:
    path: Path
    scene: str
    sha256: str
    image: np.ndarray | None = None  # RGB, longer side <= max_side, loaded on first use


def list_backgrounds(dirs, corpus: CorpusIndex) -> tuple[list[Background], dict]:
    """Image files under ``dirs`` (recursively, sorted) usable as backgrounds, and counts of the
    files left out by reason (reserved/held-out by name or by their corpus entry)."""
    out, excluded = [], {}
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise CopyPasteError(f"background folder not found: {root}")
        for p in sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES):
            data = p.read_bytes()
            entry = corpus.find_bytes(data)
            reason = forbidden_reason(str(p)) or entry_reason(entry)
            if reason:
                excluded[reason] = excluded.get(reason, 0) + 1
                continue
            scene = entry["scene"] if entry else p.parent.name
            out.append(Background(p, scene, hashlib.sha256(data).hexdigest()))
    return out, excluded


def load_background(bg: Background, max_side: int) -> np.ndarray:
    if bg.image is None:
        bgr = cv2.imread(str(bg.path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise CopyPasteError(f"cannot decode background {bg.path}")
        h, w = bgr.shape[:2]
        k = max_side / max(h, w)
        if k < 1:
            bgr = cv2.resize(bgr, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
        bg.image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return bg.image


def list_records(inputs) -> list[Path]:
    """TFRecord files of the given files/folders (folders: ``*.tfrecord`` inside, sorted)."""
    out = []
    for i in inputs:
        p = Path(i)
        if p.is_dir():
            out += sorted(p.glob("*.tfrecord"))
        elif p.is_file():
            out.append(p)
        else:
            raise CopyPasteError(f"samples not found: {p}")
    if not out:
        raise CopyPasteError(f"no .tfrecord files in {list(map(str, inputs))}")
    return out
