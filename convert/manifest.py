"""The SDK manifest entry of a converted model (``manifest.json`` beside the .tflite files).

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
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from blazepose_sdk.runtime import TFLiteModel, file_sha256

MANIFEST_FORMAT = "blazepose-sdk-manifest/1"
MANIFEST_FILE = "manifest.json"


def output_roles(kind: str, shapes: list[tuple[int, ...]], input_size: int | None = None) -> list[str | None]:
    """Name each output by shape, with the same rules the SDK's PoseDetector/PoseLandmarker use."""
    roles: list[str | None] = [None] * len(shapes)
    sizes = [int(np.prod(s)) for s in shapes]
    if kind == "detector":
        for i, s in enumerate(shapes):
            if len(s) == 3:
                roles[i] = "scores" if s[2] == 1 else "boxes" if s[2] >= 12 else None
    elif kind == "landmark":
        heat = [i for i, s in enumerate(shapes) if len(s) == 4 and input_size and s[1] < input_size]
        rows = shapes[heat[0]][3] if heat else None
        for i, (s, n) in enumerate(zip(shapes, sizes)):
            if i in heat:
                roles[i] = "heatmap"
            elif len(s) == 4:
                roles[i] = "segmentation"
            elif n == 1:
                roles[i] = "presence"
            elif len(s) == 2 and rows and n == rows * 5:
                roles[i] = "landmarks"
            elif len(s) == 2 and rows and n == rows * 3:
                roles[i] = "world"
    return roles


def _tensor(spec, role) -> dict:
    return {
        "name": spec.name, "index": spec.index, "shape": list(spec.shape), "dtype": str(np.dtype(spec.dtype)),
        "quantization": {"scale": spec.scale, "zero_point": spec.zero_point} if spec.quantized else None,
        "role": role,
    }


def manifest_entry(path: str | os.PathLike, kind: str, precision: str, value_range: tuple[float, float],
                   source: dict | None = None, converter: dict | None = None) -> dict:
    """Build the manifest entry of the model at ``path`` (I/O read from the interpreter)."""
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


def update_manifest(folder: str | os.PathLike, entry: dict) -> Path:
    """Add or replace ``entry`` in ``folder/manifest.json`` (created if missing)."""
    path = Path(folder) / MANIFEST_FILE
    data = json.loads(path.read_text()) if path.is_file() else {"format": MANIFEST_FORMAT, "models": {}}
    if data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not a {MANIFEST_FORMAT} manifest")
    data["models"][entry["file"]] = entry
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def quantize_input(x: np.ndarray, tensor: dict) -> np.ndarray:
    """Float input -> the dtype the manifest's TENSOR entry says (identity for float tensors)."""
    q = tensor.get("quantization")
    if not q:
        return np.asarray(x, dtype=tensor["dtype"])
    info = np.iinfo(np.dtype(tensor["dtype"]))
    return np.clip(np.rint(np.asarray(x, np.float32) / q["scale"] + q["zero_point"]), info.min, info.max).astype(tensor["dtype"])


def dequantize_output(q: np.ndarray, tensor: dict) -> np.ndarray:
    """Raw output -> float32 as the manifest's TENSOR entry says."""
    quant = tensor.get("quantization")
    if not quant:
        return np.asarray(q, np.float32)
    return ((np.asarray(q).astype(np.float32) - quant["zero_point"]) * np.float32(quant["scale"])).astype(np.float32)
