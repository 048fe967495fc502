"""What a ``.tflite`` file holds, read from its flatbuffer without TensorFlow or an interpreter.

The flatbuffer is read by :mod:`blazepose_sdk.assets.tflite_file` with a generated TFLite schema
module: ``ai_edge_litert``'s ``schema_py_generated`` (shipped with the LiteRT wheel), else the
``tflite`` package from PyPI (pure Python; ``pip install tflite`` on boards that only have
``tflite-runtime``). Without either, size and hash are still reported and parameters/FLOPs are None.

What is counted:

* **params**: elements of the constant tensors (tensors backed by a non-empty buffer; a buffer
  shared by several tensors counts once), i.e. weights and biases. int32/int64 constants are left
  out (they are shapes, paddings and axes) except where they are the bias of a convolution or
  fully-connected op (int8 models keep biases in int32). Sparse tensors count their dense shape.
* **flops**: 2 x multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
  FULLY_CONNECTED, from the op's tensor shapes. Bias adds, activations, element-wise ops,
  pooling, resizing and (de)quantization are not counted; for the BlazePose networks they are a
  few percent of the total.
* **quantization**: ``int8`` (int8/uint8 weights and activations), ``int16x8``, ``int8-weights``
  (int8 weights, float activations: dynamic-range quantization), ``float16`` (float16 weights
  dequantized at load) or ``float32``, from the dtypes of constant tensors (most elements) and
  of activation tensors (most tensors).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from blazepose_sdk.assets import tflite_file
from blazepose_sdk.stages.runtime import file_sha256

# Input position of the bias of each counted op (TFLite kernel signatures); its keys are the
# BuiltinOperator names whose FLOPs are counted.
_BIAS_INPUT = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3}
_INDEX_DTYPES = {"int32", "int64"}
_INT8_LIKE = {"int8", "uint8", "int4"}


@dataclass(frozen=True)
class ModelInfo:
    """Static description of one .tflite file.

    Attributes:
        path, file_size_bytes, sha256: the file.
        params: parameter count (see the module docstring), None when no schema module is installed.
        flops: floating-point operations of one inference (2 x MACs of the counted ops), or None.
        quantization: ``int8``, ``int16x8``, ``int8-weights``, ``float16`` or ``float32`` (None if unknown).
        input_dtypes: dtype of each model input, e.g. ``["float32"]``.
        weight_elements: constant-tensor elements per dtype (int32/int64 index tensors excluded).
        counted_ops: number of ops per counted op type.
        sparse: whether any constant tensor is stored sparse.
        note: why params/FLOPs are missing, if they are.
    """

    path: str
    file_size_bytes: int
    sha256: str
    params: int | None = None
    flops: int | None = None
    quantization: str | None = None
    input_dtypes: list[str] = field(default_factory=list)
    weight_elements: dict[str, int] = field(default_factory=dict)
    counted_ops: dict[str, int] = field(default_factory=dict)
    sparse: bool = False
    note: str | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "file_size_bytes": self.file_size_bytes,
            "sha256": self.sha256,
            "params": self.params,
            "flops": self.flops,
            "quantization": self.quantization,
            "input_dtypes": list(self.input_dtypes),
            "weight_elements": dict(self.weight_elements),
            "counted_ops": dict(self.counted_ops),
            "sparse": self.sparse,
            "note": self.note,
        }


# -- pure helpers (shapes in TFLite layout: NHWC activations, OHWI filters) ----------------------
def conv2d_macs(output_shape, filter_shape) -> int:
    """MACs of CONV_2D: every output element sums kh * kw * cin products (filter (cout, kh, kw, cin))."""
    return int(np.prod(output_shape, dtype=np.int64)) * int(np.prod(filter_shape[1:], dtype=np.int64))


def depthwise_conv2d_macs(output_shape, filter_shape) -> int:
    """MACs of DEPTHWISE_CONV_2D: every output element sums kh * kw products (filter (1, kh, kw, cout))."""
    return int(np.prod(output_shape, dtype=np.int64)) * int(filter_shape[1]) * int(filter_shape[2])


def fully_connected_macs(output_shape, weights_shape) -> int:
    """MACs of FULLY_CONNECTED: every output element sums ``in`` products (weights (units, in))."""
    return int(np.prod(output_shape, dtype=np.int64)) * int(weights_shape[-1])


def transpose_conv_macs(input_shape, filter_shape) -> int:
    """MACs of TRANSPOSE_CONV: each input element spreads over kh * kw * cout outputs (filter (cout, kh, kw, cin))."""
    return int(np.prod(input_shape, dtype=np.int64)) * int(np.prod(filter_shape[:3], dtype=np.int64))


def quantization_label(
    input_dtypes: list[str], weight_elements: dict[str, int], activation_dtypes: dict[str, int]
) -> str:
    """Name the quantization scheme from tensor dtypes (see the module docstring)."""
    weights = max(weight_elements, key=weight_elements.get) if weight_elements else "float32"
    activations = max(activation_dtypes, key=activation_dtypes.get) if activation_dtypes else "float32"
    if any(d in _INT8_LIKE for d in input_dtypes):
        activations = "int8"
    if weights in _INT8_LIKE:
        if activations == "int16":
            return "int16x8"
        return "int8" if activations in _INT8_LIKE else "int8-weights"
    if weights in ("float16", "bfloat16"):
        return "float16"
    return "float32"


def _shape(tensor: tflite_file.Tensor) -> tuple[int, ...]:
    return tuple(max(d, 1) for d in tensor.shape)  # -1 (dynamic batch) counts as 1


def analyze_tflite(path: str | os.PathLike, schema: ModuleType | None = None) -> ModelInfo:
    """Read size, hash, parameter count, FLOPs and quantization of a .tflite file.

    ``schema`` defaults to :func:`blazepose_sdk.assets.tflite_file.schema_module`. Raises
    ValueError for a file that is not a TFLite flatbuffer.
    """
    p = Path(path)
    content = p.read_bytes()
    base = {"path": str(p), "file_size_bytes": len(content), "sha256": file_sha256(p)}
    if not tflite_file.is_tflite(content):
        raise ValueError(f"{p} is not a TFLite flatbuffer (missing 'TFL3' identifier)")
    schema = schema or tflite_file.schema_module()
    if schema is None:
        return ModelInfo(**base, note="no TFLite schema module: `pip install tflite` to count params and FLOPs")
    model = tflite_file.load(content, schema)

    params = 0
    flops = 0
    seen_buffers: set[int] = set()
    weight_elements: Counter = Counter()
    activation_dtypes: Counter = Counter()
    counted_ops: Counter = Counter()
    input_dtypes: list[str] = []
    sparse = False
    for g in range(model.num_subgraphs):
        graph = tflite_file.subgraph(model, g)
        tensors = graph.tensors
        shapes = [_shape(t) for t in tensors]
        dtypes = [t.dtype for t in tensors]
        if g == 0:
            input_dtypes = [dtypes[i] for i in graph.inputs]
        constants = {t.index for t in tensors if tflite_file.is_constant(model, t)}
        biases: set[int] = set()
        for op in graph.operators:
            if op.builtin not in _BIAS_INPUT:
                continue
            ins, outs = op.inputs, op.outputs
            bias_at = _BIAS_INPUT[op.builtin]
            if len(ins) > bias_at and ins[bias_at] >= 0:
                biases.add(ins[bias_at])
            if op.builtin == "CONV_2D":
                macs = conv2d_macs(shapes[outs[0]], shapes[ins[1]])
            elif op.builtin == "DEPTHWISE_CONV_2D":
                macs = depthwise_conv2d_macs(shapes[outs[0]], shapes[ins[1]])
            elif op.builtin == "FULLY_CONNECTED":
                macs = fully_connected_macs(shapes[outs[0]], shapes[ins[1]])
            else:
                macs = transpose_conv_macs(shapes[ins[2]], shapes[ins[1]])
            flops += 2 * macs
            counted_ops[op.builtin] += 1
        for i in constants:
            b = tensors[i].buffer
            if b in seen_buffers:
                continue
            if dtypes[i] in _INDEX_DTYPES and i not in biases:
                continue
            seen_buffers.add(b)
            n = int(np.prod(shapes[i], dtype=np.int64))
            params += n
            sparse = sparse or tensors[i].sparse
            if dtypes[i] not in _INDEX_DTYPES:
                weight_elements[dtypes[i]] += n
        for i in range(len(tensors)):
            if i not in constants:
                activation_dtypes[dtypes[i]] += 1
    return ModelInfo(
        **base,
        params=params,
        flops=flops,
        quantization=quantization_label(input_dtypes, dict(weight_elements), dict(activation_dtypes)),
        input_dtypes=input_dtypes,
        weight_elements=dict(weight_elements),
        counted_ops=dict(counted_ops),
        sparse=sparse,
    )
