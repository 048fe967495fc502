"""Read a ``.tflite`` flatbuffer into a plain graph: tensors, constant weights, operators, options.

The flatbuffer is parsed by :mod:`blazepose_sdk.assets.tflite_file` (the repo's one ``.tflite``
reader, LiteRT's schema module), so no interpreter runs here. Weights stored
as float16 behind ``DEQUANTIZE`` and sparse weights behind ``DENSIFY`` (TFLite's sparsity format,
``SparsityParameters`` in the schema) are folded into float32 constants by
:func:`fold_constants`, so the graph that comes out has only the compute operators.

:func:`densify` is pure numpy over the sparsity metadata and is tested on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blazepose_sdk.assets import tflite_file
from blazepose_sdk.errors import ModelLoadError

# TensorType enum of the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs) -> numpy.
_NUMPY_TYPES = {
    "FLOAT32": np.float32, "FLOAT16": np.float16, "FLOAT64": np.float64, "INT32": np.int32,
    "INT64": np.int64, "INT16": np.int16, "INT8": np.int8, "UINT8": np.uint8, "BOOL": np.bool_,
    "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
}


class TFLiteImportError(ModelLoadError):
    """A .tflite file cannot be read or rebuilt (not a flatbuffer, several subgraphs, ...)."""


class UnsupportedOpError(TFLiteImportError):
    """The graph holds an operator (or an option of one) the importer cannot rebuild exactly."""

    def __init__(self, op: str, detail: str = "") -> None:
        self.op = op
        super().__init__(f"unsupported TFLite operator {op}" + (f": {detail}" if detail else ""))


@dataclass
class Tensor:
    """One tensor of the graph; ``data`` is set for constants (weights, shapes, paddings)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # schema TensorType name, e.g. "FLOAT32"
    data: np.ndarray | None = None
    sparsity: object | None = None  # schema SparsityParametersT of a sparse constant
    quantized: bool = False  # carries (non-trivial) quantization parameters


@dataclass
class Operator:
    """One operator: its builtin name (``"CONV_2D"``, ``"CUSTOM:Name"``), tensor indices
    (-1 for an absent optional input) and builtin options as a dict (schema field names)."""

    index: int
    op: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class TFLiteGraph:
    """The first (only) subgraph of a model."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]

    def is_constant(self, index: int) -> bool:
        return index >= 0 and self.tensors[index].data is not None

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.operators:
            counts[op.op] = counts.get(op.op, 0) + 1
        return counts


def read_tflite(source: str | os.PathLike | bytes) -> TFLiteGraph:
    """Parse a ``.tflite`` file (path or bytes) into a :class:`TFLiteGraph` (constants not folded).

    Raises :class:`TFLiteImportError` for a file that is not a TFLite flatbuffer or that has
    more than one subgraph (control flow).
    """
    buf = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if not tflite_file.is_tflite(buf):
        raise TFLiteImportError("not a TFLite flatbuffer (missing 'TFL3' identifier)")
    model = tflite_file.load(buf)
    if model.num_subgraphs != 1:
        raise TFLiteImportError(f"the model has {model.num_subgraphs} subgraphs; only single-graph models import")
    graph = tflite_file.subgraph(model)

    tensors = []
    for t in graph.tensors:
        data = tflite_file.buffer_bytes(model, t.buffer)
        array = None
        if data is not None:
            if t.type_name not in _NUMPY_TYPES:
                raise TFLiteImportError(f"constant tensor {t.name!r} has type {t.type_name}, which is not read")
            array = np.frombuffer(data, dtype=_NUMPY_TYPES[t.type_name]).copy()
            if not t.sparse:
                array = array.reshape(t.shape)
        sparsity = tflite_file.tensor_sparsity(model, t.index) if t.sparse else None
        tensors.append(Tensor(t.index, t.name, t.shape, t.type_name, array, sparsity, len(t.scale) > 0))

    operators = []
    for op in graph.operators:
        name = f"CUSTOM:{op.custom_code}" if op.builtin == "CUSTOM" else op.builtin
        options = tflite_file.operator_options(model, op.index)
        operators.append(Operator(op.index, name, list(op.inputs), list(op.outputs), options))
    return TFLiteGraph(tensors, operators, list(graph.inputs), list(graph.outputs))


def _vector(union) -> np.ndarray:
    """Values of a schema Int32Vector/Uint16Vector/Uint8Vector union (array_segments/array_indices)."""
    if union is None or union.values is None:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(union.values, dtype=np.int64)


def densify(values: np.ndarray, dense_shape: tuple[int, ...], traversal_order: list[int],
            block_map: list[int], dim_formats: list[str], dense_sizes: list[int],
            segments: list[np.ndarray], indices: list[np.ndarray]) -> np.ndarray:
    """Expand a TFLite sparse tensor to its dense array (what the DENSIFY kernel computes).

    The stored ``values`` are the leaves of a walk over the ``traversal_order`` dimensions
    (original dimensions first, then block dimensions): a "DENSE" level enumerates
    ``0..dense_size-1``; a "SPARSE_CSR" level enumerates, for parent position p, the
    coordinates ``indices[l][segments[l][p]:segments[l][p + 1]]`` (CSR). A block dimension
    ``k`` (traversal entry ``rank + k``) refines original dimension ``block_map[k]``:
    ``coord = coord * block_size + block_coord``, the block size being that level's dense size.
    Missing elements are zero.
    """
    rank = len(dense_shape)
    levels = len(traversal_order)
    positions = np.zeros(1, dtype=np.int64)  # each node's position at its level (CSR parent index)
    coords = np.zeros((1, 0), dtype=np.int64)
    for level in range(levels):
        if dim_formats[level] == "DENSE":
            size = int(dense_sizes[level])
            child = np.tile(np.arange(size, dtype=np.int64), len(positions))
            positions = np.repeat(positions, size) * size + child
            coords = np.concatenate([np.repeat(coords, size, axis=0), child[:, None]], axis=1)
        elif dim_formats[level] == "SPARSE_CSR":
            seg, idx = segments[level], indices[level]
            starts, ends = seg[positions], seg[positions + 1]
            counts = ends - starts
            parent = np.repeat(np.arange(len(positions)), counts)
            offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
            positions = np.repeat(starts, counts) + offsets
            coords = np.concatenate([coords[parent], idx[positions][:, None]], axis=1)
        else:
            raise TFLiteImportError(f"unknown sparse dimension format {dim_formats[level]!r}")
    values = np.asarray(values).reshape(-1)
    if len(values) != len(coords):
        raise TFLiteImportError(f"sparse tensor holds {len(values)} values for {len(coords)} positions")
    dense_idx = np.zeros((len(coords), rank), dtype=np.int64)
    for level in range(rank):
        dense_idx[:, traversal_order[level]] = coords[:, level]
    for level in range(rank, levels):
        dim = block_map[traversal_order[level] - rank]
        dense_idx[:, dim] = dense_idx[:, dim] * int(dense_sizes[level]) + coords[:, level]
    out = np.zeros(dense_shape, dtype=values.dtype)
    out[tuple(dense_idx.T)] = values
    return out


def densify_sparse(values: np.ndarray, shape: tuple[int, ...], sparsity) -> np.ndarray:
    """The dense array of ``shape`` from stored ``values`` and a schema SparsityParameters
    (object API: ``traversalOrder``, ``blockMap``, ``dimMetadata``); see :func:`densify`."""
    fmt_names = tflite_file.enum_names("DimensionType")
    metas = list(sparsity.dimMetadata)
    block_map = sparsity.blockMap
    return densify(
        values, tuple(int(d) for d in shape),
        traversal_order=[int(v) for v in sparsity.traversalOrder],
        block_map=[int(v) for v in (block_map if block_map is not None else [])],
        dim_formats=[fmt_names[m.format] for m in metas],
        # a DENSE level has no segments/indices, a SPARSE_CSR level no dense size
        dense_sizes=[int(getattr(m, "denseSize", 0) or 0) for m in metas],
        segments=[_vector(getattr(m, "arraySegments", None)) for m in metas],
        indices=[_vector(getattr(m, "arrayIndices", None)) for m in metas],
    )


def densify_tensor(tensor: Tensor) -> np.ndarray:
    """The dense array of a sparse constant :class:`Tensor` (its schema sparsity metadata)."""
    return densify_sparse(tensor.data, tensor.shape, tensor.sparsity)


def fold_constants(graph: TFLiteGraph) -> TFLiteGraph:
    """Replace DENSIFY and DEQUANTIZE of constants by their float results.

    DENSIFY expands a sparse constant (:func:`densify_tensor`); DEQUANTIZE turns float16
    constants into float32 (exact); a DEQUANTIZE of an integer constant raises
    :class:`UnsupportedOpError`. A DEQUANTIZE of a non-constant tensor (a quantized model's
    activations) is left in the graph, where the model builder refuses it.
    """
    for t in graph.tensors:
        if t.sparsity is not None and t.data is not None:
            t.data = densify_tensor(t)
            t.sparsity = None
    kept = []
    for op in graph.operators:
        src = op.inputs[0] if op.inputs else -1
        if op.op in ("DENSIFY", "DEQUANTIZE") and graph.is_constant(src):
            value = graph.tensors[src].data
            if op.op == "DEQUANTIZE":
                value = _dequantize(graph.tensors[src], value)
            out = graph.tensors[op.outputs[0]]
            out.data = np.asarray(value).reshape(out.shape)
            continue
        kept.append(op)
    graph.operators = kept
    return graph


def _dequantize(tensor: Tensor, value: np.ndarray) -> np.ndarray:
    if tensor.dtype == "FLOAT16":
        return value.astype(np.float32)
    raise UnsupportedOpError("DEQUANTIZE", f"of {tensor.dtype} constant {tensor.name!r} (only float16 weights)")


def load_graph(source: str | os.PathLike | bytes) -> TFLiteGraph:
    """:func:`read_tflite` then :func:`fold_constants`."""
    return fold_constants(read_tflite(source))
