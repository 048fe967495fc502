"""The one reader of ``.tflite`` files: operators, tensors and buffers of a TFLite flatbuffer,
without TensorFlow or an interpreter.

The flatbuffer is parsed with a module generated from TFLite's schema.fbs: ai-edge-litert's
``schema_py_generated`` (in the LiteRT wheel the SDK installs), else the ``tflite`` package
(pure Python; ``pip install tflite`` on boards that only have tflite-runtime).

* read-only views, with either module: :func:`load` a file, then :func:`subgraph` (its
  :class:`Tensor` and :class:`Operator` records), :func:`op_names`, :func:`buffer_bytes`,
  :func:`is_constant`;
* the schema's object API, ai-edge-litert's module only: :func:`operator_options` and
  :func:`tensor_sparsity` (one record each), :func:`to_object` (the whole model as a mutable
  ``ModelT`` tree, for tools that rewrite a model), :func:`add_buffer`, :func:`pack_model` and
  :func:`write_model`.

Used by the benchmarks (bench.modelinfo, bench.npu, bench.ceiling), convert/ and training/'s
importer of the official weights (training.tflite_graph).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

# Schema modules tried in order (module path); both are generated from TFLite's schema.fbs.
SCHEMA_MODULES = ("ai_edge_litert.schema_py_generated", "tflite")
# file_identifier of schema.fbs: bytes 4..8 of every .tflite.
FILE_IDENTIFIER = b"TFL3"


class SchemaUnavailableError(RuntimeError):
    """No TFLite schema module is installed (or none with the object API, where that is needed)."""


def schema_module() -> ModuleType | None:
    """The first importable TFLite schema module of :data:`SCHEMA_MODULES`, or None."""
    for name in SCHEMA_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "Model"):
            return module
    return None


def object_api_schema() -> ModuleType | None:
    """The schema module if it has the object API (``ModelT.Pack``: ai-edge-litert's), else None."""
    schema = schema_module()
    return schema if schema is not None and hasattr(getattr(schema, "ModelT", None), "Pack") else None


def _require_object_api(schema: ModuleType | None = None) -> ModuleType:
    schema = schema if schema is not None else object_api_schema()
    if schema is None or not hasattr(getattr(schema, "ModelT", None), "Pack"):
        raise SchemaUnavailableError("no TFLite schema module with the object API (ai-edge-litert's "
                                     "schema_py_generated)")
    return schema


def enum_names(enum: str, schema: ModuleType | None = None) -> dict[int, str]:
    """value -> name of one enum of schema.fbs (``"BuiltinOperator"``, ``"TensorType"``, ``"Padding"``...)."""
    schema = schema if schema is not None else schema_module()
    if schema is None:
        raise SchemaUnavailableError("no TFLite schema module: install ai-edge-litert or `pip install tflite`")
    return {v: k for k, v in vars(getattr(schema, enum)).items() if not k.startswith("_")}


def is_tflite(content: bytes) -> bool:
    """Whether ``content`` carries the TFLite file identifier (``TFL3`` at bytes 4..8)."""
    return len(content) >= 8 and bytes(content[4:8]) == FILE_IDENTIFIER


# -- read-only views -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TFLiteFile:
    """A parsed ``.tflite``: its bytes, the flatbuffer's root ``Model`` table and the schema module that read it."""

    content: bytes
    model: object
    schema: ModuleType

    @property
    def num_subgraphs(self) -> int:
        return int(self.model.SubgraphsLength())


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph.

    ``type_code`` is its TensorType value, ``type_name`` the enum's name in schema.fbs
    (``"FLOAT32"``, ``"INT8"``; the number as text if the schema module does not know it).
    ``scale`` / ``zero_point``: its quantization parameters (empty: none). ``buffer``: index of
    its buffer (0 is the schema's empty sentinel; see :func:`is_constant`).
    """

    index: int
    name: str
    shape: tuple[int, ...]  # as stored; -1 for a dynamic dimension
    type_code: int
    type_name: str
    buffer: int
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    sparse: bool  # stored in TFLite's sparse format (SparsityParameters; see tensor_sparsity)

    @property
    def dtype(self) -> str:
        """numpy-style name of the type (``float32``, ``int8``); ``type<n>`` if the schema does not know it."""
        return self.type_name.lower() if not self.type_name.isdigit() else f"type{self.type_code}"


@dataclass(frozen=True)
class Operator:
    """One operator of a subgraph.

    ``code``: its BuiltinOperator value (the larger of the operator code's ``builtin_code`` and
    ``deprecated_builtin_code``), ``builtin`` that enum's name (``"CONV_2D"``, ``"CUSTOM"``;
    ``BUILTIN_<n>`` if the schema module does not know it), ``custom_code`` the custom op's
    name ("" for builtin ops). ``inputs`` / ``outputs``: tensor indices, -1 for an absent optional input.
    """

    index: int
    code: int
    builtin: str
    custom_code: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    @property
    def name(self) -> str:
        """The custom code of a custom op, else the builtin name."""
        return self.custom_code or self.builtin


@dataclass(frozen=True)
class Subgraph:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def load(source: str | os.PathLike | bytes, schema: ModuleType | None = None) -> TFLiteFile:
    """Parse a ``.tflite`` (path or bytes) with ``schema`` (default :func:`schema_module`).

    Raises:
        ValueError: not a TFLite flatbuffer (no ``TFL3`` identifier).
        SchemaUnavailableError: no schema module is installed.
    """
    content = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if not is_tflite(content):
        raise ValueError("not a TFLite flatbuffer (missing 'TFL3' identifier)")
    schema = schema if schema is not None else schema_module()
    if schema is None:
        raise SchemaUnavailableError("no TFLite schema module: install ai-edge-litert or `pip install tflite`")
    get_root = getattr(schema.Model, "GetRootAs", None) or schema.Model.GetRootAsModel
    return TFLiteFile(content, get_root(content, 0), schema)


def _text(raw) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw or "")


def _ints(values) -> tuple[int, ...]:
    """A flatbuffer vector read with ``...AsNumpy()`` (0 when the vector is absent) as ints."""
    return tuple(int(v) for v in values) if isinstance(values, np.ndarray) else ()


def _builtin_code(opcode) -> int:
    # the tflite package's older schemas have only deprecated_builtin_code (an int8: ops up to 127)
    code = opcode.BuiltinCode() if hasattr(opcode, "BuiltinCode") else 0
    return max(int(code), int(opcode.DeprecatedBuiltinCode()))


def subgraph(f: TFLiteFile, index: int = 0) -> Subgraph:
    """Tensors, operators and I/O tensor indices of subgraph ``index`` (0: the main graph)."""
    model, graph = f.model, f.model.Subgraphs(index)
    type_names = enum_names("TensorType", f.schema)
    op_names_by_code = enum_names("BuiltinOperator", f.schema)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    codes = [(_builtin_code(c), _text(c.CustomCode())) for c in codes]
    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        q = t.Quantization()
        type_code = int(t.Type())
        tensors.append(Tensor(
            index=i, name=_text(t.Name()), shape=_ints(t.ShapeAsNumpy()), type_code=type_code,
            type_name=type_names.get(type_code, str(type_code)), buffer=int(t.Buffer()),
            scale=tuple(float(v) for v in q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else (),
            zero_point=_ints(q.ZeroPointAsNumpy()) if q is not None else (),
            sparse=t.Sparsity() is not None,
        ))
    operators = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code, custom = codes[op.OpcodeIndex()]
        operators.append(Operator(k, code, op_names_by_code.get(code, f"BUILTIN_{code}"), custom,
                                  _ints(op.InputsAsNumpy()), _ints(op.OutputsAsNumpy())))
    return Subgraph(tuple(tensors), tuple(operators), _ints(graph.InputsAsNumpy()), _ints(graph.OutputsAsNumpy()))


def op_names(f: TFLiteFile, index: int = 0) -> list[str]:
    """:attr:`Operator.name` of every operator of subgraph ``index``, in execution order."""
    return [op.name for op in subgraph(f, index).operators]


def buffer_bytes(f: TFLiteFile, index: int) -> bytes | None:
    """Bytes of buffer ``index`` (inside the flatbuffer, or after it for models over 2 GB); None if empty."""
    if index <= 0 or index >= f.model.BuffersLength():
        return None
    buf = f.model.Buffers(index)
    if buf.DataLength() > 0:
        return buf.DataAsNumpy().tobytes()
    offset = int(buf.Offset()) if hasattr(buf, "Offset") else 0
    if offset > 1:
        return bytes(f.content[offset:offset + int(buf.Size())])
    return None


def is_constant(f: TFLiteFile, tensor: Tensor) -> bool:
    """Whether a tensor is backed by data in the file (weights, biases, shapes)."""
    if tensor.buffer <= 0 or tensor.buffer >= f.model.BuffersLength():
        return False
    buf = f.model.Buffers(tensor.buffer)
    return buf.DataLength() > 0 or (hasattr(buf, "Offset") and int(buf.Offset()) > 1)


# -- object API ----------------------------------------------------------------------------------
def operator_options(f: TFLiteFile, op_index: int, subgraph_index: int = 0) -> dict:
    """Builtin options of one operator as a dict of the object API's field names (``strideH``,
    ``padding``, ``fusedActivationFunction``...); {} for an op without options."""
    schema = _require_object_api(f.schema)
    op = f.model.Subgraphs(subgraph_index).Operators(op_index)
    options = schema.BuiltinOptionsCreator(op.BuiltinOptionsType(), op.BuiltinOptions())
    return dict(vars(options)) if options is not None else {}


def tensor_sparsity(f: TFLiteFile, tensor_index: int, subgraph_index: int = 0):
    """The schema's ``SparsityParametersT`` of a sparse tensor (``traversalOrder``, ``blockMap``,
    ``dimMetadata``), or None for a dense one."""
    schema = _require_object_api(f.schema)
    sparsity = f.model.Subgraphs(subgraph_index).Tensors(tensor_index).Sparsity()
    return schema.SparsityParametersT.InitFromObj(sparsity) if sparsity is not None else None


def to_object(f: TFLiteFile):
    """The whole model as the schema's mutable object tree (``ModelT``): what TensorFlow's
    ``flatbuffer_utils.read_model`` gives. Buffers and custom options stored after the flatbuffer
    (models over 2 GB) are read into the tree."""
    schema = _require_object_api(f.schema)
    model = schema.ModelT.InitFromObj(f.model)
    for buffer in model.buffers or []:
        if buffer.offset:
            buffer.data = bytearray(f.content[buffer.offset:buffer.offset + buffer.size])
            buffer.offset = buffer.size = 0
    for graph in model.subgraphs or []:
        for op in graph.operators or []:
            if getattr(op, "largeCustomOptionsOffset", 0):
                start = op.largeCustomOptionsOffset
                op.customOptions = bytearray(f.content[start:start + op.largeCustomOptionsSize])
                op.largeCustomOptionsOffset = op.largeCustomOptionsSize = 0
    return model


def add_buffer(model, data: bytes) -> int:
    """Append a buffer holding ``data`` to a ``ModelT``; returns its index."""
    buffer = _require_object_api().BufferT()
    buffer.data = np.frombuffer(data, np.uint8)
    model.buffers.append(buffer)
    return len(model.buffers) - 1


def pack_model(model) -> bytes:
    """A ``ModelT`` as ``.tflite`` bytes."""
    import flatbuffers  # a dependency of ai-edge-litert, whose schema module made the tree

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def write_model(model, path: str | os.PathLike) -> Path:
    """Write a ``ModelT`` to ``path`` as a ``.tflite`` file."""
    path = Path(path)
    path.write_bytes(pack_model(model))
    return path


def drop_unused_tensors(model, graph) -> None:
    """Remove the tensors of ``graph`` (a ``SubGraphT`` of the ``ModelT`` ``model``) that no
    operator, graph input or output refers to, renumber the rest (operators, graph I/O and
    signature maps follow) and empty the buffers no tensor uses any more."""
    used = {int(i) for i in graph.inputs} | {int(i) for i in graph.outputs}
    for op in graph.operators:
        used |= {int(i) for i in op.inputs if i >= 0} | {int(i) for i in op.outputs}
    order = sorted(used)
    remap = {old: new for new, old in enumerate(order)}
    graph.tensors = [graph.tensors[i] for i in order]
    graph.inputs = np.array([remap[int(i)] for i in graph.inputs], np.int32)
    graph.outputs = np.array([remap[int(i)] for i in graph.outputs], np.int32)
    for op in graph.operators:
        op.inputs = np.array([remap[int(i)] if i >= 0 else -1 for i in op.inputs], np.int32)
        op.outputs = np.array([remap[int(i)] for i in op.outputs], np.int32)
    for sig in model.signatureDefs or []:
        for m in list(sig.inputs or []) + list(sig.outputs or []):
            m.tensorIndex = remap[int(m.tensorIndex)]
    live = {t.buffer for t in graph.tensors}
    for k, buffer in enumerate(model.buffers):
        if k and k not in live:  # buffer 0 is the schema's empty sentinel
            buffer.data = None


def without_outputs(source: str | os.PathLike | bytes, drop: set[int]) -> bytes:
    """The model of ``source`` (a one-subgraph ``.tflite``) without the graph outputs at the
    positions in ``drop`` and without every operator that only they needed: the remaining
    outputs are computed by the same operators on the same weights, so they are bit-identical,
    and the dropped branch costs nothing at run time (e.g. the landmark model's 256x256
    segmentation decoder when no mask is asked for).

    Raises:
        ValueError: a position in ``drop`` is not an output, or every output would go.
        SchemaUnavailableError: no schema module with the object API is installed.
    """
    model = to_object(load(source))
    graph = model.subgraphs[0]
    outputs = [int(i) for i in graph.outputs]
    if not drop <= set(range(len(outputs))) or len(drop) >= len(outputs):
        raise ValueError(f"cannot drop outputs {sorted(drop)} of a model with {len(outputs)} outputs")
    kept = [t for k, t in enumerate(outputs) if k not in drop]
    needed = set(kept)
    ops = []
    for op in reversed(graph.operators):
        if needed & {int(i) for i in op.outputs}:
            ops.append(op)
            needed |= {int(i) for i in op.inputs if i >= 0}
    graph.operators = ops[::-1]
    graph.outputs = np.array(kept, np.int32)
    kept_set = set(kept)
    for sig in model.signatureDefs or []:
        sig.outputs = [m for m in sig.outputs or [] if int(m.tensorIndex) in kept_set]
    drop_unused_tensors(model, graph)
    return pack_model(model)
