"""Keras model / SavedModel -> TFLite flatbuffer, float or quantized.

One entry point, :func:`to_tflite`, drives ``tf.lite.TFLiteConverter``:

* ``float32``: plain conversion.
* ``float16``: weights stored as float16 (dequantized at load; XNNPACK may run fp16).
* ``dynamic``: dynamic-range quantization: int8 weights, float activations, no calibration data.
* ``int16x8``: int8 weights, int16 activations (TFLite's experimental 16x8 mode): far less
  activation rounding error, but XNNPACK has no int16 kernels, so it runs on slow reference
  kernels; a diagnostic, and an option for accelerators that support it. Float I/O.
* ``int8``: full-integer quantization: int8 weights (per-channel for conv/dense by default) and
  int8 activations calibrated on a representative dataset; model I/O int8, uint8 or float32.
  ``keep_float`` names tensors/ops that stay float (selective quantization, through
  ``tf.lite.experimental.QuantizationDebugger``); :func:`layer_sensitivity` ranks the layers
  whose quantization error is largest, to choose them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PRECISIONS = ("float32", "float16", "dynamic", "int8", "int16x8")
IO_DTYPES = ("float32", "int8", "uint8")
# A layer is "sensitive" when the RMS error its quantization adds is this many quantization
# steps or more (TensorFlow's selective-quantization guide, "Quantization debugger" tutorial,
# uses rmse/scale > 0.7 as its example cut; a well-quantized layer sits near 1/sqrt(12) = 0.29).
SENSITIVE_RMSE_PER_SCALE = 0.7


@dataclass
class QuantizeOptions:
    """How to convert.

    Attributes:
        precision: one of :data:`PRECISIONS`.
        io_dtype: model input/output dtype for ``int8`` (:data:`IO_DTYPES`); float32 keeps float
            I/O with quantize/dequantize ops inside the model.
        per_channel: per-channel weight scales for conv/dense (TFLite's default); False uses one
            scale per tensor (what some NPUs need).
        keep_float: tensor names (as :func:`layer_sensitivity` reports them) to leave in float.
        keep_float_ops: op types to leave in float everywhere (e.g. ``["MEAN"]``).
        calibration_steps: at most this many representative samples are used.
    """

    precision: str = "float32"
    io_dtype: str = "float32"
    per_channel: bool = True
    keep_float: list[str] = field(default_factory=list)
    keep_float_ops: list[str] = field(default_factory=list)
    calibration_steps: int = 200

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.io_dtype not in IO_DTYPES:
            raise ValueError(f"io_dtype must be one of {IO_DTYPES}, got {self.io_dtype!r}")
        if self.precision != "int8" and self.io_dtype != "float32":
            raise ValueError("int8/uint8 model I/O needs precision='int8'")


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def make_converter(source):
    """A TFLiteConverter for a keras.Model, a SavedModel folder, or a .keras/.h5 file."""
    tf = _tf()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            return tf.lite.TFLiteConverter.from_saved_model(str(path))
        import keras

        source = keras.models.load_model(str(path), compile=False)
    return tf.lite.TFLiteConverter.from_keras_model(source)


def representative_fn(calibration: np.ndarray, steps: int) -> Callable[[], Iterable[list[np.ndarray]]]:
    """A representative_dataset callable yielding ``[sample[None]]`` for the first ``steps`` samples."""
    data = np.asarray(calibration, dtype=np.float32)
    if data.ndim < 2 or len(data) == 0:
        raise ValueError("calibration data must be a non-empty (N, ...) array")

    def gen():
        for sample in data[:steps]:
            yield [sample[None]]

    return gen


def _configure(converter, options: QuantizeOptions, calibration: np.ndarray | None) -> None:
    tf = _tf()
    if options.precision == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.precision == "float16":
        converter.target_spec.supported_types = [tf.float16]
        return
    if options.precision == "dynamic":
        return
    if calibration is None:
        raise ValueError("integer quantization needs calibration data (a representative dataset)")
    if options.precision == "int16x8":
        converter.representative_dataset = representative_fn(calibration, options.calibration_steps)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        return
    converter.representative_dataset = representative_fn(calibration, options.calibration_steps)
    selective = bool(options.keep_float or options.keep_float_ops)
    # Selective quantization leaves some ops float, so the model cannot be integer-only.
    converter.target_spec.supported_ops = (
        [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.TFLITE_BUILTINS_INT8] if selective
        else [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    )
    io = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[options.io_dtype]
    converter.inference_input_type = io
    converter.inference_output_type = io
    converter._experimental_disable_per_channel = not options.per_channel


def to_tflite(source, options: QuantizeOptions, calibration: np.ndarray | None = None) -> bytes:
    """Convert ``source`` (keras.Model, SavedModel folder or .keras/.h5 file) to TFLite bytes.

    ``calibration``: (N, H, W, C) float32 samples in the model's input range (int8 only).
    """
    converter = make_converter(source)
    _configure(converter, options, calibration)
    if options.precision == "int8" and (options.keep_float or options.keep_float_ops):
        return _selective(converter, options)
    return bytes(converter.convert())


def _selective(converter, options: QuantizeOptions) -> bytes:
    """Calibrate, then quantize everything except the deny-listed nodes/ops.

    This is what ``tf.lite.experimental.QuantizationDebugger.get_nondebug_quantized_model``
    does, with the model I/O type kept (the debugger always returns float I/O).
    """
    tf = _tf()
    from tensorflow.lite.python.convert import mlir_quantize  # TF's own selective-quantization step

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    io = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[options.io_dtype]
    return bytes(mlir_quantize(
        calibrated,
        disable_per_channel=not options.per_channel,
        fully_quantize=options.io_dtype != "float32",
        input_data_type=io,
        output_data_type=io,
        denylisted_ops=list(options.keep_float_ops),
        denylisted_nodes=list(options.keep_float),
    ))


@dataclass(frozen=True)
class LayerError:
    """Quantization error of one quantized tensor, measured by TFLite's quantization debugger.

    ``rmse_per_scale``: RMS difference between the float and the quantized tensor, in units of
    the tensor's quantization step (~0.29 is pure rounding noise).
    """

    tensor: str
    op: str
    rmse_per_scale: float
    mean_abs_error: float
    scale: float

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def layer_sensitivity(source, calibration: np.ndarray, steps: int = 32, per_channel: bool = True) -> list[LayerError]:
    """Rank quantized tensors by how much error int8 adds there (largest first).

    Feed the names of the top entries to ``QuantizeOptions.keep_float`` to keep them float.
    """
    tf = _tf()
    converter = make_converter(source)
    _configure(converter, QuantizeOptions(precision="int8", per_channel=per_channel), calibration)
    converter.inference_input_type = tf.float32
    converter.inference_output_type = tf.float32
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative_fn(calibration, steps)
    )
    debugger.run()
    import csv
    import io

    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    buffer.seek(0)
    rows = []
    for row in csv.DictReader(buffer):
        scale = float(row.get("scale") or 0.0)
        mse = float(row.get("mean_squared_error") or 0.0)
        rows.append(LayerError(
            tensor=row.get("tensor_name", ""),
            op=row.get("op_name", ""),
            rmse_per_scale=float(np.sqrt(mse) / scale) if scale > 0 else 0.0,
            mean_abs_error=float(row.get("mean_abs_error") or 0.0),
            scale=scale,
        ))
    return sorted(rows, key=lambda r: -r.rmse_per_scale)


def sensitive_layers(errors: list[LayerError], threshold: float = SENSITIVE_RMSE_PER_SCALE, limit: int | None = None) -> list[str]:
    """Tensor names whose ``rmse_per_scale`` is at least ``threshold`` (worst first)."""
    names = [e.tensor for e in errors if e.rmse_per_scale >= threshold]
    return names[:limit] if limit is not None else names
