"""convert: trained models -> the .tflite files the SDK runs, with a parity report.

    python -m convert <keras|onnx|tflite> IN --to int8 --calib DIR --out OUT

Modules: quantize (Keras/SavedModel -> TFLite float32/float16/dynamic/int8, selective),
onnx_bridge (tf2onnx, onnx2tf, onnxruntime), calibration (representative data), parity (pure
metrics), report (run and compare models), manifest (the SDK's manifest entries), pipeline
(end-to-end jobs), heldout (built-in data sets). TensorFlow and the ONNX tools are imported
only where used.
"""

from .parity import OutputDiff, landmark_errors_px, output_diff, pck
from .quantize import QuantizeOptions, to_tflite

__all__ = ["OutputDiff", "QuantizeOptions", "landmark_errors_px", "output_diff", "pck", "to_tflite"]
