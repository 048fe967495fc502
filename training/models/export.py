"""Export of trained Keras models to TFLite (float32 or full-integer INT8) and their manifest.

The converted models keep float32 inputs and outputs (quantize/dequantize at the edges), so
the SDK feeds them exactly as the official models: the landmark model takes (1, 256, 256, 3)
in 0..1, the detector (1, 224, 224, 3) in [-1, 1]; ``manifest.json`` beside them is the SDK's
(:mod:`blazepose_sdk.assets.manifest`), so PoseTracker checks their hashes and reads their value ranges.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from blazepose_sdk.assets.manifest import MANIFEST_FILE, manifest_entry, update_manifest


def to_tflite(model, path: str | Path, quantize: str = "float",
              representative: Callable[[], Iterable[np.ndarray]] | None = None, sparse: bool = False) -> Path:
    """Convert a Keras model to ``path``.

    quantize: "float" (float32 weights), "float16" (half weights), or "int8" (full-integer
    weights and activations, float32 I/O; ``representative`` yields (1, S, S, 3) inputs for
    calibration, a few hundred real crops are the usual choice).
    sparse: weights that are mostly exact zeros are stored in TFLite's sparse format behind a
    DENSIFY op, as in the official detector (the converter's EXPERIMENTAL_SPARSITY; the runtime
    densifies them once at load, so the graph computes the same values).
    Outputs keep the model's output order (the SDK identifies them by shape anyway).
    """
    import tensorflow as tf

    try:
        # Keras 3 route: traces the model once (faster than SavedModel + from_saved_model).
        with contextlib.redirect_stdout(io.StringIO()):
            conv = tf.lite.TFLiteConverter.from_keras_model(batch_one_model(model))
            data = _convert(conv, quantize, representative, sparse)
    except Exception:  # noqa: BLE001 - fall back to the SavedModel route, batch fixed to 1
        with tempfile.TemporaryDirectory() as saved:
            spec = [tf.TensorSpec((1, *model.inputs[0].shape[1:]), tf.float32)]
            model.export(saved, format="tf_saved_model", verbose=False, input_signature=spec)
            data = _convert(tf.lite.TFLiteConverter.from_saved_model(saved), quantize, representative, sparse)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def batch_one_model(model):
    """``model`` behind batch-1 inputs (the same layers and weights), as the SDK runs it.

    With a free batch axis the converter computes every Reshape's target shape at run time
    (SHAPE, STRIDED_SLICE and PACK ops on a dynamic shape), which Arm's Ethos-U compiler (vela)
    leaves on the CPU ("Tensors must have constant shape"); with batch 1 they fold away.
    """
    import keras

    if all(t.shape[0] == 1 for t in model.inputs):
        return model
    inputs = [keras.Input(batch_shape=(1, *t.shape[1:]), dtype=t.dtype) for t in model.inputs]
    outputs = model(inputs[0] if len(inputs) == 1 else inputs)
    return keras.Model(inputs, outputs, name=model.name)


def _convert(conv, quantize: str, representative, sparse: bool = False) -> bytes:
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
    if sparse:
        conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY, *conv.optimizations]
    return conv.convert()


# Input value ranges of the exported models: those of the official models the SDK feeds
# (ImageToTensorCalculator output_tensor_float_range in pose_landmark_by_roi_cpu.pbtxt and
# pose_detection_cpu.pbtxt).
LANDMARK_VALUE_RANGE = (0.0, 1.0)
DETECTOR_VALUE_RANGE = (-1.0, 1.0)
# to_tflite's quantize mode -> the manifest's precision
PRECISIONS = {"float": "float32", "float16": "float16", "int8": "int8"}


def export_manifest_entry(path: str | Path, kind: str, quantize: str = "float") -> dict:
    """The SDK manifest entry (:mod:`blazepose_sdk.assets.manifest`) of a model written by :func:`to_tflite`.

    kind: "landmark" (input 0..1) or "detector" (input [-1, 1]); quantize: the mode it was
    converted with.
    """
    value_range = {"landmark": LANDMARK_VALUE_RANGE, "detector": DETECTOR_VALUE_RANGE}[kind]
    return manifest_entry(path, kind, PRECISIONS[quantize], value_range,
                          source={"format": "keras"}, converter={"path": f"keras->tflite ({quantize})"})


def landmark_manifest_entry(path: str | Path, quantize: str = "float") -> dict:
    """Manifest entry of an exported landmark model (the layout blazepose_sdk.stages.landmarker decodes)."""
    return export_manifest_entry(path, "landmark", quantize)


def detector_manifest_entry(path: str | Path, quantize: str = "float") -> dict:
    """Manifest entry of an exported detector (the layout blazepose_sdk.geometry.anchors.decode_boxes decodes)."""
    return export_manifest_entry(path, "detector", quantize)


def write_manifest(folder: str | Path, entries: list[dict]) -> Path:
    """Add ``entries`` to ``folder/manifest.json`` (format ``blazepose-sdk-manifest/1``)."""
    path = Path(folder) / MANIFEST_FILE
    for entry in entries:
        path = update_manifest(folder, entry)
    return path
