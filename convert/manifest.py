"""The SDK manifest entry of a converted model (``manifest.json`` beside the .tflite files).

The schema (format ``blazepose-sdk-manifest/1``) is owned by the SDK and documented in
:mod:`blazepose_sdk.assets.manifest`; its names are re-exported here for the converter. This module adds
the int8 edge arithmetic a TENSOR entry describes: an int8 input is fed as
``q = clip(round(x / scale) + zero_point, -128, 127)`` with ``x`` the float value after
normalization; an int8 output is decoded as ``(q - zero_point) * scale``.
"""

from __future__ import annotations

import numpy as np

from blazepose_sdk.assets.manifest import (  # noqa: F401 - re-exported for convert/ and its users
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    entry_for_model,
    load_manifest,
    manifest_entry,
    update_manifest,
)
from blazepose_sdk.stages.roles import output_roles  # noqa: F401 - re-exported for convert/ and its users
from blazepose_sdk.stages.runtime import dequantize, quantize


def quantize_input(x: np.ndarray, tensor: dict) -> np.ndarray:
    """Float input -> the dtype the manifest's TENSOR entry says (identity for float tensors)."""
    q = tensor.get("quantization")
    if not q:
        return np.asarray(x, dtype=tensor["dtype"])
    return quantize(x, np.dtype(tensor["dtype"]), q["scale"], q["zero_point"])


def dequantize_output(q: np.ndarray, tensor: dict) -> np.ndarray:
    """Raw output -> float32 as the manifest's TENSOR entry says."""
    quant = tensor.get("quantization")
    if not quant:
        return np.asarray(q, np.float32)
    return dequantize(q, quant["scale"], quant["zero_point"])
