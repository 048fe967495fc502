"""The SDK's model manifest: ``manifest.json`` beside exported/converted .tflite files.

Written by ``python -m convert`` and by the trainers' ``--export``; read by
:class:`~blazepose_sdk.tracker.PoseTracker` when it is given model file paths (the entry's
sha256 is checked, and its value range and output roles drive the stages).

Format ``blazepose-sdk-manifest/1``::

    {"format": "blazepose-sdk-manifest/1",
     "models": {"<file name>": ENTRY, ...}}

    ENTRY = {
      "file": "pose_landmark_lite_int8.tflite", "sha256": "<hex>", "bytes": 1234,
      "kind": "landmark" | "detector" | "generic",
      "precision": "float32" | "float16" | "dynamic" | "int8",
      "normalization": {"value_range": [lo, hi], "color": "RGB", "layout": "NHWC",
                        "formula": "x = pixel_uint8 * (hi - lo) / 255 + lo"},
      "inputs":  [TENSOR, ...],   # in interpreter order
      "outputs": [TENSOR, ...],   # in interpreter order (may differ from the float model's!)
      "source": {"file": ..., "sha256": ..., "format": "keras|savedmodel|onnx|tflite"},
      "converter": {"tensorflow": "<version>", "path": "keras->tflite" | "onnx->onnx2tf->tflite" | ...}
    }
    TENSOR = {"name": str, "index": int, "shape": [int], "dtype": "float32|int8|uint8|...",
              "quantization": {"scale": float, "zero_point": int} | null,
              "role": "landmarks|presence|segmentation|heatmap|world|boxes|scores" | null}

An int8 input is fed as ``q = clip(round(x / scale) + zero_point, -128, 127)`` with ``x`` the
float value after normalization; an int8 output is decoded as ``(q - zero_point) * scale``.

A ``manifest.json`` without a ``"format"`` key (such as the record that
``blazepose models fetch-reference`` writes in the model cache) is not a manifest of this
format and is ignored by :func:`entry_for_model`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import ManifestError
from ..stages.roles import DETECTOR_ROLES, LANDMARK_ROLES, output_roles, role_indices
from ..stages.runtime import TFLiteModel, file_sha256

MANIFEST_FORMAT = "blazepose-sdk-manifest/1"
MANIFEST_FILE = "manifest.json"
MODEL_KINDS = ("landmark", "detector", "generic")
def _tensor(spec, role) -> dict:
    return {
        "name": spec.name, "index": spec.index, "shape": list(spec.shape), "dtype": str(np.dtype(spec.dtype)),
        "quantization": {"scale": spec.scale, "zero_point": spec.zero_point} if spec.quantized else None,
        "role": role,
    }


def manifest_entry(path: str | os.PathLike, kind: str, precision: str, value_range: tuple[float, float],
                   source: dict | None = None, converter: dict | None = None) -> dict:
    """Build the manifest entry of the model at ``path`` (I/O read from the interpreter).

    ``value_range``: (lo, hi) the float input takes for pixel values 0..255.
    """
    path = Path(path)
    with TFLiteModel(path) as model:
        ins, outs = model.inputs, model.outputs
    input_size = ins[0].shape[1] if ins and len(ins[0].shape) == 4 else None
    roles = output_roles(kind, [tuple(s.shape) for s in outs], input_size)
    return {
        "file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size,
        "kind": kind, "precision": precision,
        "normalization": {"value_range": [float(value_range[0]), float(value_range[1])], "color": "RGB",
                          "layout": "NHWC", "formula": "x = pixel_uint8 * (hi - lo) / 255 + lo"},
        "inputs": [_tensor(s, None) for s in ins],
        "outputs": [_tensor(s, r) for s, r in zip(outs, roles)],
        "source": source or {}, "converter": converter or {},
    }


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path} is not a JSON object")
    return data


def _check_entry(path: Path, name: str, entry: object) -> None:
    if not isinstance(entry, dict):
        raise ManifestError(f"{path}: entry {name!r} is not an object")
    if entry.get("file") != name:
        raise ManifestError(f"{path}: entry {name!r} names file {entry.get('file')!r}")
    if not isinstance(entry.get("sha256"), str) or len(entry["sha256"]) != 64:
        raise ManifestError(f"{path}: entry {name!r} has no sha256")
    if entry.get("kind") not in MODEL_KINDS:
        raise ManifestError(f"{path}: entry {name!r} has kind {entry.get('kind')!r}, not one of {MODEL_KINDS}")
    vr = (entry.get("normalization") or {}).get("value_range")
    if not (isinstance(vr, list) and len(vr) == 2 and all(isinstance(v, (int, float)) for v in vr) and vr[0] < vr[1]):
        raise ManifestError(f"{path}: entry {name!r} has value_range {vr!r}, need [lo, hi] with lo < hi")
    outputs = entry.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(t, dict) for t in outputs):
        raise ManifestError(f"{path}: entry {name!r} has no outputs list")
    known = DETECTOR_ROLES if entry["kind"] == "detector" else LANDMARK_ROLES if entry["kind"] == "landmark" else ()
    try:
        role_indices([t.get("role") for t in outputs], known)
    except ManifestError as exc:
        raise ManifestError(f"{path}: entry {name!r}: {exc}") from None


def load_manifest(folder: str | os.PathLike) -> dict:
    """Read and check ``folder/manifest.json``; returns ``{"format": ..., "models": {file: ENTRY}}``.

    Raises:
        ManifestError: the file is missing or unreadable, not of format ``blazepose-sdk-manifest/1``,
            or an entry lacks file/sha256/kind/value_range/outputs or repeats an output role.
    """
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise ManifestError(f"no {MANIFEST_FILE} in {folder}")
    data = _read(path)
    if data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{path} has format {data.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    models = data.get("models")
    if not isinstance(models, dict):
        raise ManifestError(f"{path} has no \"models\" object")
    for name, entry in models.items():
        _check_entry(path, name, entry)
    return data


def entry_for_model(path: str | os.PathLike) -> dict | None:
    """The manifest entry of the .tflite file at ``path``, from ``manifest.json`` beside it.

    None when there is no manifest.json there, when it has no ``"format"`` key (another tool's
    record, e.g. the reference-model cache), or when it has no entry for this file name.
    Raises :class:`ManifestError` for a manifest of another format or a malformed one.
    """
    path = Path(path)
    manifest = path.parent / MANIFEST_FILE
    if not manifest.is_file() or "format" not in _read(manifest):
        return None
    return load_manifest(path.parent)["models"].get(path.name)


def update_manifest(folder: str | os.PathLike, entry: dict) -> Path:
    """Add or replace ``entry`` in ``folder/manifest.json`` (created if missing)."""
    path = Path(folder) / MANIFEST_FILE
    data = load_manifest(folder) if path.is_file() else {"format": MANIFEST_FORMAT, "models": {}}
    _check_entry(path, entry.get("file"), entry)
    data["models"][entry["file"]] = entry
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
