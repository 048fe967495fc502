"""Export of trained Keras models to TFLite (float32 or full-integer INT8) and their manifest.

The converted models keep float32 inputs and outputs (quantize/dequantize at the edges), so
the SDK feeds them exactly as the official models: the landmark model takes (1, 256, 256, 3)
in 0..1, the detector (1, 224, 224, 3) in [-1, 1].
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from blazepose_sdk.runtime import file_sha256


def to_tflite(model, path: str | Path, quantize: str = "float",
              representative: Callable[[], Iterable[np.ndarray]] | None = None) -> Path:
    """Convert a Keras model to ``path``.

    quantize: "float" (float32 weights), "float16" (half weights), or "int8" (full-integer
    weights and activations, float32 I/O; ``representative`` yields (1, S, S, 3) inputs for
    calibration, a few hundred real crops are the usual choice).
    Outputs keep the model's output order (the SDK identifies them by shape anyway).
    """
    import tensorflow as tf

    try:
        # Keras 3 route: traces the model once (faster than SavedModel + from_saved_model).
        with contextlib.redirect_stdout(io.StringIO()):
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            data = _convert(conv, quantize, representative)
    except Exception:  # noqa: BLE001 - fall back to the SavedModel route, batch fixed to 1
        with tempfile.TemporaryDirectory() as saved:
            spec = [tf.TensorSpec((1, *model.inputs[0].shape[1:]), tf.float32)]
            model.export(saved, format="tf_saved_model", verbose=False, input_signature=spec)
            data = _convert(tf.lite.TFLiteConverter.from_saved_model(saved), quantize, representative)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _convert(conv, quantize: str, representative) -> bytes:
    import tensorflow as tf

    if quantize == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if representative is None:
            raise ValueError("int8 quantization needs a representative dataset")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([np.asarray(x, np.float32)] for x in representative())
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.float32
        conv.inference_output_type = tf.float32
    elif quantize != "float":
        raise ValueError(f"unknown quantize mode {quantize!r}")
    return conv.convert()


def landmark_manifest_entry(path: Path, input_size: int, num_rows: int, name: str) -> dict:
    """Manifest entry of a landmark model (the layout blazepose_sdk.landmarker decodes)."""
    return {
        "name": name, "file": Path(path).name, "sha256": file_sha256(path), "bytes": Path(path).stat().st_size,
        "kind": "landmark", "input": {"shape": [1, input_size, input_size, 3], "dtype": "float32",
                                      "value_range": [0.0, 1.0], "crop": "rotated ROI, replicate border"},
        "outputs": {
            "landmarks": {"shape": [1, num_rows * 5], "layout": f"{num_rows} x (x, y, z tensor px, visibility logit, presence logit); rows 33, 34 = hip centre, body-circle point"},
            "pose_presence": {"shape": [1, 1], "layout": "probability (sigmoid applied)"},
            "world": {"shape": [1, num_rows * 3], "layout": f"{num_rows} x (x, y, z) metres, hip-centred, ROI-upright axes"},
        },
    }


def detector_manifest_entry(path: Path, input_size: int, num_anchors: int, name: str) -> dict:
    """Manifest entry of a detector (the layout blazepose_sdk.anchors.decode_boxes decodes)."""
    return {
        "name": name, "file": Path(path).name, "sha256": file_sha256(path), "bytes": Path(path).stat().st_size,
        "kind": "detector", "input": {"shape": [1, input_size, input_size, 3], "dtype": "float32",
                                      "value_range": [-1.0, 1.0], "crop": "letterboxed frame, zero border"},
        "outputs": {
            "regressors": {"shape": [1, num_anchors, 12], "layout": "x, y, w, h, then (x, y) of hip centre, body-circle point, shoulder centre, upper-body-circle point; raw units, scale = input size, anchors of blazepose_sdk.anchors.generate_anchors"},
            "classificators": {"shape": [1, num_anchors, 1], "layout": "score logits"},
        },
    }


def write_manifest(path: str | Path, entries: list[dict]) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"version": 1, "models": entries}, indent=1, sort_keys=True))
    return path
