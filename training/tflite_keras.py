"""TFLite operators -> built-in Keras layers: the builder behind ``python -m training.import_tflite``.

Walks a :class:`training.tflite_graph.TFLiteGraph` (constants already folded to float32) in file
order and maps every operator of :data:`SUPPORTED_OPS` to ordinary Keras layers carrying the
file's weights as trainable variables; fused activations become their own layers. The Keras
outputs keep the .tflite output order and names. Shapes are NHWC, as in the file.
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Callable

import numpy as np

from blazepose_sdk.geometry.topology import NUM_LANDMARKS
from training.tflite_graph import Operator, TFLiteGraph, TFLiteImportError, UnsupportedOpError

# Every TFLite builtin this importer rebuilds (DEQUANTIZE of float16 constants and DENSIFY of
# sparse constants are folded into the weights by tflite_graph.fold_constants).
SUPPORTED_OPS = (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "PAD", "MAX_POOL_2D",
    "AVERAGE_POOL_2D", "RESIZE_BILINEAR", "DEPTH_TO_SPACE", "RESHAPE", "TRANSPOSE", "CONCATENATION",
    "LOGISTIC", "RELU", "RELU6", "TANH", "PRELU",
)
# ActivationFunctionType of the schema -> Keras activation name (None: identity).
_ACTIVATIONS = {0: None, 1: "relu", 2: "hard_tanh", 3: "relu6", 4: "tanh"}
_ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
# Padding enum of the schema.
_PADDING = {0: "same", 1: "valid"}
# a landmark fork's copied layers end in FORK_SUFFIX; with the auxiliary rows kept, the file's own
# landmark-only layers end in AUX_SUFFIX and rows 33 on leave through the layer AUX_ROWS_LAYER
FORK_SUFFIX, AUX_SUFFIX, AUX_ROWS_LAYER = "_lm", "_aux", "landmark_rows_aux"


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def _clean(name: str) -> str:
    """A valid Keras/TF scope name: letters, digits, ``_.-``, not starting with ``_``/``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip("_-") or "t"


class _Builder:
    """Walks the operators in file order (TFLite stores them topologically) and maps tensors."""

    def __init__(self, graph: TFLiteGraph, fork_landmark_blocks: int = 0, fork_keeps_aux_rows: bool = False) -> None:
        self.keras = _keras()
        self.graph = graph
        self.values: dict[int, object] = {}  # tensor index -> KerasTensor
        self.used: set[str] = set()
        self.output_names = {i: _clean(graph.tensors[i].name) for i in graph.outputs}
        self.fork_landmark_blocks = fork_landmark_blocks
        self.fork_keeps_aux_rows = fork_keeps_aux_rows
        if fork_keeps_aux_rows and not fork_landmark_blocks:
            raise TFLiteImportError("keeping the auxiliary rows on the original needs a landmark fork")
        self._fork_suffix = ""

    # -- names and weights -------------------------------------------------------------------
    def _unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def layer_name(self, op: Operator, suffix: str = "") -> str:
        out = op.outputs[0]
        if not suffix and self._fork_suffix != AUX_SUFFIX and out in self.output_names and out not in self.values:
            return self._unique(self.output_names[out])
        return self._unique(f"{op.op.lower()}_{op.index}{self._fork_suffix}{suffix}")

    def const(self, op: Operator, position: int, what: str) -> np.ndarray:
        index = op.inputs[position] if position < len(op.inputs) else -1
        if index < 0 or not self.graph.is_constant(index):
            raise UnsupportedOpError(op.op, f"{what} (input {position}) is not a constant")
        return np.asarray(self.graph.tensors[index].data)

    def optional_const(self, op: Operator, position: int) -> np.ndarray | None:
        index = op.inputs[position] if position < len(op.inputs) else -1
        return None if index < 0 else self.const(op, position, "bias")

    def value(self, index: int):
        if index in self.values:
            return self.values[index]
        t = self.graph.tensors[index]
        if t.data is not None:
            raise UnsupportedOpError("constant operand",
                                     f"tensor {t.name!r} is a constant where an activation is expected")
        raise TFLiteImportError(f"tensor {t.name!r} is used before it is computed")

    def shape(self, index: int) -> tuple[int, ...]:
        return self.graph.tensors[index].shape

    def fused(self, op: Operator, apply: Callable[[str], object]):
        """``apply(name)`` builds the op's layer(s) and returns its output; then the fused
        activation follows as its own layer, and the last layer gets the op's name."""
        activation = self._fused_name(op)
        if activation is None:
            return apply(self.layer_name(op))
        y = apply(self.layer_name(op, "_pre"))
        return self.keras.layers.Activation(activation, name=self.layer_name(op))(y)

    # -- the model ---------------------------------------------------------------------------
    def build(self, name: str | None = None):
        k = self.keras
        inputs = []
        for index in self.graph.inputs:
            t = self.graph.tensors[index]
            if t.dtype != "FLOAT32" or t.quantized:
                raise TFLiteImportError(f"input {t.name!r} is {t.dtype}{' quantized' if t.quantized else ''}; "
                                        "only float32 models import")
            layer_input = k.Input(shape=t.shape[1:], name=self._unique(_clean(t.name)))
            self.values[index] = layer_input
            inputs.append(layer_input)
        forked, landmark_only = self.fork_plan()
        joined = self.output_tensors_by_role()["landmarks"] if self.fork_keeps_aux_rows else None
        fork_values: dict[int, object] = {}
        for op in self.graph.operators:
            if op.index in landmark_only:
                if self.fork_keeps_aux_rows:  # the file's landmark rows too, for rows 33 on
                    self._build_op(op, suffix=AUX_SUFFIX)
                self._build_op(op, fork_values)
                continue
            self._build_op(op)
            if op.index in forked:
                self._build_op(op, fork_values)
        outputs = []
        # the original's tensors (the presence path, the per-operator check) and the fork's
        self.original_values, self.landmark_only_ops = self.values, landmark_only
        self.values = ChainMap(fork_values, self.values) if fork_values else self.values
        for index in self.graph.outputs:
            out = self.value(index)
            if index == joined:
                out = self._join_rows(out, self.original_values[index], self.output_names[index])
            wanted = self.output_names[index]
            if out._keras_history.operation.name != wanted or any(o is out for o in outputs):
                out = k.layers.Identity(name=self._unique(wanted))(out)
            outputs.append(out)
        # a single input is passed bare, so calling the model with one array matches its structure
        self.model = k.Model(inputs[0] if len(inputs) == 1 else inputs, outputs,
                             name=_clean(name or "imported_tflite"))
        return self.model

    def _join_rows(self, copy, original, name: str):
        """The landmark output with rows 0-32 (the 33 landmarks: x, y, z, visibility, presence) from
        the fork's copy and rows 33 on (the auxiliary points that set the tracker's next ROI) from
        the file's operators, in built-in layers (Reshape, Cropping1D, Concatenate)."""
        layers = self.keras.layers
        width = int(copy.shape[-1])
        if width % 5 or width // 5 <= NUM_LANDMARKS:
            raise TFLiteImportError(f"the landmark output has {width} values, not rows of 5 past {NUM_LANDMARKS}")
        rows = width // 5
        table = layers.Reshape((rows, 5), name=self._unique("landmark_rows_copy"))(copy)
        aux = layers.Reshape((rows, 5), name=self._unique("landmark_rows_original"))(original)
        marks = layers.Cropping1D((0, rows - NUM_LANDMARKS), name=self._unique("landmark_rows_0_32"))(table)
        aux = layers.Cropping1D((NUM_LANDMARKS, 0), name=self._unique(AUX_ROWS_LAYER))(aux)
        joined = layers.Concatenate(axis=1, name=self._unique("landmark_rows_joined"))([marks, aux])
        return layers.Reshape(tuple(int(d) for d in copy.shape[1:]), name=self._unique(name))(joined)

    def _build_op(self, op: Operator, fork_values: dict | None = None, suffix: str = "") -> None:
        """Build ``op``'s layer(s) on the values computed so far; with ``fork_values``, a second
        copy (layers named ``..._lm``) that reads the fork's tensors where it has them and writes
        its output there; with ``suffix``, on the original's tensors, layers named with it."""
        handler = getattr(self, "op_" + op.op.lower().replace(":", "_"), None)
        if handler is None:
            raise UnsupportedOpError(op.op, f"operator #{op.index} (supported: {', '.join(SUPPORTED_OPS)})")
        for index in op.outputs:
            t = self.graph.tensors[index]
            if t.dtype != "FLOAT32" or t.quantized:
                raise UnsupportedOpError(op.op, f"output {t.name!r} is {t.dtype}"
                                         f"{' quantized' if t.quantized else ''}; only float32 graphs import")
        base = self.values
        self._fork_suffix = suffix
        if fork_values is not None:
            self.values, self._fork_suffix = ChainMap(fork_values, base), FORK_SUFFIX
        try:
            out = handler(op)
            expected = self.shape(op.outputs[0])
            got = tuple(out.shape[1:])
            if got != tuple(expected[1:]):
                raise TFLiteImportError(f"{op.op} #{op.index} gives shape {got}, the file says {expected[1:]}")
            self.values[op.outputs[0]] = out  # with a fork: into fork_values (a ChainMap writes its first map)
        finally:
            self.values, self._fork_suffix = base, ""

    def output_tensors_by_role(self) -> dict[str, int]:
        """The graph's output tensor indices by the SDK's landmark-model output roles."""
        from blazepose_sdk.stages.roles import output_roles

        g = self.graph
        return dict(zip(output_roles("landmark", [g.tensors[i].shape for i in g.outputs]), g.outputs))

    def fork_plan(self) -> tuple[set[int], set[int]]:
        """(shared operators built twice, landmark-only operators built on the copy) for
        ``fork_landmark_blocks`` N: in a landmark model, the operators after the (N+1)-th last
        residual ADD of the trunk that the pose presence and the landmark rows share, and the
        operators that feed only the landmark rows (the output the SDK reads as ``landmarks``).
        The presence, world and every other output keep the original operators; the landmark rows
        read the copy, so a student can train the copy without moving the presence (or the world
        landmarks, which have no distillation target). N = 0: no fork. With
        ``fork_keeps_aux_rows`` the landmark-only operators are built on the original as well and
        rows 33 on of the landmark output come from there (:meth:`_join_rows`)."""
        n = self.fork_landmark_blocks
        if not n:
            return set(), set()
        g = self.graph
        roles = self.output_tensors_by_role()
        if "presence" not in roles or "landmarks" not in roles:
            raise TFLiteImportError("a landmark fork needs a landmark model (a presence and a landmarks output)")
        presence, heads = [roles["presence"]], [roles["landmarks"]]
        producer = {t: op for op in g.operators for t in op.outputs}

        def ancestors(tensors) -> set[int]:
            seen, stack = set(), list(tensors)
            while stack:
                op = producer.get(stack.pop())
                if op is not None and op.index not in seen:
                    seen.add(op.index)
                    stack.extend(op.inputs)
            return seen

        pres, marks = ancestors(presence), ancestors(heads)
        shared = pres & marks
        kinds = {op.index: op.op for op in g.operators}
        adds = sorted(i for i in shared if kinds[i] == "ADD")
        if len(adds) <= n:
            raise TFLiteImportError(f"the shared trunk has {len(adds)} residual blocks; cannot fork the last {n}")
        start = adds[-n - 1]
        return {i for i in shared if i > start}, marks - pres

    # -- operators ---------------------------------------------------------------------------
    def op_conv_2d(self, op: Operator):
        k = self.keras
        x = self.value(op.inputs[0])
        w = self.const(op, 1, "filter").astype(np.float32)  # (O, kh, kw, I / groups)
        b = self.optional_const(op, 2)
        o = op.options
        groups = self.shape(op.inputs[0])[-1] // w.shape[3]
        layer = k.layers.Conv2D(
            w.shape[0], w.shape[1:3], strides=(o["strideH"], o["strideW"]), padding=_padding(op),
            dilation_rate=(o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)), groups=groups,
            activation=self._fused_name(op), use_bias=b is not None, name=self.layer_name(op),
        )
        y = layer(x)
        layer.set_weights([w.transpose(1, 2, 3, 0)] + ([b.astype(np.float32)] if b is not None else []))
        return y

    def op_depthwise_conv_2d(self, op: Operator):
        k = self.keras
        x = self.value(op.inputs[0])
        w = self.const(op, 1, "filter").astype(np.float32)  # (1, kh, kw, C * M)
        b = self.optional_const(op, 2)
        o = op.options
        channels = self.shape(op.inputs[0])[-1]
        multiplier = w.shape[3] // channels
        layer = k.layers.DepthwiseConv2D(
            w.shape[1:3], strides=(o["strideH"], o["strideW"]), padding=_padding(op), depth_multiplier=multiplier,
            dilation_rate=(o.get("dilationHFactor", 1), o.get("dilationWFactor", 1)),
            activation=self._fused_name(op), use_bias=b is not None, name=self.layer_name(op),
        )
        y = layer(x)
        kernel = w[0].reshape(w.shape[1], w.shape[2], channels, multiplier)
        layer.set_weights([kernel] + ([b.astype(np.float32)] if b is not None else []))
        return y

    def op_fully_connected(self, op: Operator):
        k = self.keras
        x = self.value(op.inputs[0])
        w = self.const(op, 1, "weights").astype(np.float32)  # (O, I)
        b = self.optional_const(op, 2)
        in_shape = self.shape(op.inputs[0])
        if op.options.get("weightsFormat", 0) != 0:
            raise UnsupportedOpError(op.op, "shuffled weights format")
        if len(in_shape) > 2 and not op.options.get("keepNumDims", False):
            if int(np.prod(in_shape[1:])) != w.shape[1]:
                raise UnsupportedOpError(op.op, f"input {in_shape} flattens across the batch")
            x = k.layers.Reshape((w.shape[1],), name=self.layer_name(op, "_flat"))(x)
        layer = k.layers.Dense(w.shape[0], activation=self._fused_name(op), use_bias=b is not None,
                               name=self.layer_name(op))
        y = layer(x)
        layer.set_weights([w.T] + ([b.astype(np.float32)] if b is not None else []))
        return y

    def _fused_name(self, op: Operator) -> str | None:
        code = int(op.options.get("fusedActivationFunction", 0))
        if code not in _ACTIVATIONS:
            raise UnsupportedOpError(op.op, f"fused activation {_ACTIVATION_NAMES.get(code, code)}")
        return _ACTIVATIONS[code]

    def _binary(self, op: Operator, layer_class):
        a, b = op.inputs[:2]
        if self.graph.is_constant(a) or self.graph.is_constant(b):
            raise UnsupportedOpError(op.op, "with a constant operand")
        if self.shape(a) != self.shape(b):
            raise UnsupportedOpError(op.op, f"with broadcasting {self.shape(a)} vs {self.shape(b)}")
        xs = [self.value(a), self.value(b)]
        return self.fused(op, lambda name: layer_class(name=name)(xs))

    def op_add(self, op: Operator):
        return self._binary(op, self.keras.layers.Add)

    def op_mul(self, op: Operator):
        return self._binary(op, self.keras.layers.Multiply)

    def op_pad(self, op: Operator):
        k = self.keras
        x = self.value(op.inputs[0])
        pads = self.const(op, 1, "paddings").reshape(-1, 2).astype(int)
        shape = self.shape(op.inputs[0])
        if len(shape) != 4 or pads[0].any():
            raise UnsupportedOpError(op.op, f"paddings {pads.tolist()} of a rank-{len(shape)} tensor "
                                     "(only NHWC spatial and channel padding)")
        spatial = ((int(pads[1, 0]), int(pads[1, 1])), (int(pads[2, 0]), int(pads[2, 1])))
        if not pads[3].any():
            return k.layers.ZeroPadding2D(spatial, name=self.layer_name(op))(x)
        # channels too: view (H, W, C) as a 3-D volume with one channel and pad all three.
        h, w, c = shape[1:]
        y = k.layers.Reshape((h, w, c, 1), name=self.layer_name(op, "_5d"))(x)
        channels = (int(pads[3, 0]), int(pads[3, 1]))
        y = k.layers.ZeroPadding3D((*spatial, channels), name=self.layer_name(op, "_pad"))(y)
        out = self.shape(op.outputs[0])
        return k.layers.Reshape(out[1:], name=self.layer_name(op))(y)

    def _pool(self, op: Operator, layer_class):
        o = op.options
        x = self.value(op.inputs[0])
        size, strides = (o["filterHeight"], o["filterWidth"]), (o["strideH"], o["strideW"])
        return self.fused(op, lambda name: layer_class(size, strides=strides, padding=_padding(op), name=name)(x))

    def op_max_pool_2d(self, op: Operator):
        return self._pool(op, self.keras.layers.MaxPooling2D)

    def op_average_pool_2d(self, op: Operator):
        return self._pool(op, self.keras.layers.AveragePooling2D)

    def op_resize_bilinear(self, op: Operator):
        size = self.const(op, 1, "size").reshape(-1).astype(int)
        o = op.options
        if o.get("alignCorners", False) or not o.get("halfPixelCenters", False):
            raise UnsupportedOpError(op.op, f"align_corners={o.get('alignCorners')} half_pixel_centers="
                                     f"{o.get('halfPixelCenters')} (only half_pixel_centers=True, Keras' Resizing)")
        return self.keras.layers.Resizing(int(size[0]), int(size[1]), interpolation="bilinear",
                                          name=self.layer_name(op))(self.value(op.inputs[0]))

    def op_depth_to_space(self, op: Operator):
        k = self.keras
        block = int(op.options["blockSize"])
        h, w, c = self.shape(op.inputs[0])[1:]
        c_out = c // (block * block)
        # DCR order (TF/TFLite): out[h*b + i, w*b + j, c] = in[h, w, (i*b + j)*C_out + c]
        y = k.layers.Reshape((h, w, block, block, c_out), name=self.layer_name(op, "_split"))(self.value(op.inputs[0]))
        y = k.layers.Permute((1, 3, 2, 4, 5), name=self.layer_name(op, "_perm"))(y)
        return k.layers.Reshape((h * block, w * block, c_out), name=self.layer_name(op))(y)

    def op_reshape(self, op: Operator):
        in_shape, out_shape = self.shape(op.inputs[0]), self.shape(op.outputs[0])
        if not out_shape or out_shape[0] != in_shape[0] or any(d < 0 for d in out_shape):
            raise UnsupportedOpError(op.op, f"{in_shape} -> {out_shape} changes the batch dimension")
        return self.keras.layers.Reshape(out_shape[1:], name=self.layer_name(op))(self.value(op.inputs[0]))

    def op_transpose(self, op: Operator):
        # Keras' own DEPTH_TO_SPACE (Reshape, Permute, Reshape) converts to a 6-D TRANSPOSE, so
        # the files training.models.export writes hold it.
        perm = self.const(op, 1, "perm").reshape(-1).astype(int)
        if perm[0] != 0:
            raise UnsupportedOpError(op.op, f"perm {perm.tolist()} moves the batch dimension")
        return self.keras.layers.Permute(tuple(int(p) for p in perm[1:]),
                                         name=self.layer_name(op))(self.value(op.inputs[0]))

    def op_concatenation(self, op: Operator):
        if any(self.graph.is_constant(i) for i in op.inputs):
            raise UnsupportedOpError(op.op, "with a constant operand")
        xs = [self.value(i) for i in op.inputs]
        axis = int(op.options["axis"])
        return self.fused(op, lambda name: self.keras.layers.Concatenate(axis=axis, name=name)(xs))

    def _unary(self, op: Operator, activation: str):
        return self.keras.layers.Activation(activation, name=self.layer_name(op))(self.value(op.inputs[0]))

    def op_logistic(self, op: Operator):
        return self._unary(op, "sigmoid")

    def op_relu(self, op: Operator):
        return self._unary(op, "relu")

    def op_relu6(self, op: Operator):
        return self._unary(op, "relu6")

    def op_tanh(self, op: Operator):
        return self._unary(op, "tanh")

    def op_prelu(self, op: Operator):
        x = self.value(op.inputs[0])
        shape = self.shape(op.inputs[0])
        alpha = self.const(op, 1, "alpha").astype(np.float32)
        alpha = alpha.reshape((1,) * (len(shape) - 1 - alpha.ndim) + alpha.shape)  # to rank len(shape) - 1
        shared = [axis + 1 for axis in range(alpha.ndim) if alpha.shape[axis] == 1 and shape[axis + 1] != 1]
        layer = self.keras.layers.PReLU(shared_axes=shared or None, name=self.layer_name(op))
        y = layer(x)
        layer.set_weights([np.broadcast_to(alpha, layer.get_weights()[0].shape).copy()])
        return y


def _padding(op: Operator) -> str:
    code = int(op.options.get("padding", 0))
    if code not in _PADDING:
        raise UnsupportedOpError(op.op, f"padding mode {code}")
    return _PADDING[code]


def build_keras_model(graph: TFLiteGraph, name: str | None = None, fork_landmark_blocks: int = 0,
                      fork_keeps_aux_rows: bool = False):
    """A Keras functional model computing ``graph`` (constants already folded) with its weights
    as trainable variables; outputs in the graph's order, named after its output tensors. With
    ``fork_landmark_blocks`` N, the last N residual blocks of a landmark model's shared trunk are
    built twice (:meth:`_Builder.fork_plan`): same outputs, the presence on the original blocks and
    the landmark rows on the copy; with ``fork_keeps_aux_rows`` only rows 0-32 read the copy and
    the auxiliary rows (the tracker's ROI) stay the file's, like the presence.

    Raises :class:`UnsupportedOpError` naming the first operator (or option) it cannot rebuild.
    """
    return _Builder(graph, fork_landmark_blocks, fork_keeps_aux_rows).build(name)
