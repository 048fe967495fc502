"""INT8 straight from a float .tflite file with Google's ai-edge-quantizer (AEQ).

The ``--quantizer aeq`` route of ``python -m convert tflite`` and of
``python -m convert.int8_official``: no graph translation (no tf2onnx / onnx2tf round trip),
the original graph is quantized op by op.

* :func:`float32_tflite` rewrites a float model into the plain float32 form AEQ reads: sparse
  constant kernels (DENSIFY ops, as in the official ``pose_detection.tflite``) made dense,
  float16 constants behind DEQUANTIZE ops (all official BlazePose models) folded to float32
  constants, and a ``serving_default`` signature added when the file has none. Outputs are
  bit-identical to the original's (checked by the tests).
* :func:`int8_recipe`: int8 activations (asymmetric, one scale per tensor: what TFLite's int8
  kernels take) and int8 symmetric per-channel weights for every op AEQ supports, except the
  ops listed in ``keep_float`` (matched by their output tensor's name), which stay float;
  AEQ puts QUANTIZE/DEQUANTIZE around them.
* :func:`calibrate` runs the float model on representative inputs once and returns the
  min/max of every tensor; :func:`quantize` turns it into a model for any recipe, so a
  per-layer sweep calibrates once and quantizes many times (~0.1 s each).

Model I/O stays float32 (a QUANTIZE after the input, DEQUANTIZE before each output), so the
files drop into ``PoseTracker`` unchanged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

SIGNATURE_KEY = "serving_default"


def float32_tflite(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write ``src`` as a plain float32 TFLite model to ``dst`` (see module docstring)."""
    import tempfile

    from blazepose_sdk.assets import tflite_file

    from .onnx_bridge import densify_tflite

    with tempfile.TemporaryDirectory() as tmp:
        dense = densify_tflite(src, Path(tmp) / "dense.tflite") or Path(src)
        parsed = tflite_file.load(dense)
    ops = tflite_file.subgraph(parsed).operators
    model = tflite_file.to_object(parsed)
    schema = parsed.schema
    graph = model.subgraphs[0]
    kept = []
    for op, info in zip(graph.operators, ops):
        source = graph.tensors[int(op.inputs[0])] if len(op.inputs) else None
        data = model.buffers[source.buffer].data if source is not None else None
        if (info.builtin == "DEQUANTIZE" and source.type == schema.TensorType.FLOAT16
                and data is not None and len(data)):
            values = np.frombuffer(bytes(data), np.float16).astype(np.float32)
            graph.tensors[int(op.outputs[0])].buffer = tflite_file.add_buffer(model, values.tobytes())
            continue
        kept.append(op)
    graph.operators = kept
    tflite_file.drop_unused_tensors(model, graph)
    if not model.signatureDefs:
        model.signatureDefs = [_signature(schema, graph)]
    tflite_file.write_model(model, dst)
    return Path(dst)


def _signature(schema, graph):
    def tensor_map(i):
        m = schema.TensorMapT()
        m.name = graph.tensors[int(i)].name
        m.tensorIndex = int(i)
        return m

    sig = schema.SignatureDefT()
    sig.signatureKey = SIGNATURE_KEY
    sig.subgraphIndex = 0
    sig.inputs = [tensor_map(i) for i in graph.inputs]
    sig.outputs = [tensor_map(i) for i in graph.outputs]
    return sig


def quantizable_ops(float_path: str | os.PathLike) -> list[tuple[str, str]]:
    """(op type, output tensor name) of every op of the float model, in execution order.

    The output tensor name is what :func:`int8_recipe`'s ``keep_float`` matches.
    """
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(float_path))
    details = interp.get_tensor_details()
    names = {d["index"]: d["name"] for d in details}
    return [(op["op_name"], names[int(op["outputs"][0])]) for op in interp._get_ops_details()]


def op_scope_regex(name: str) -> str:
    """AEQ regex for one op, by its output tensor name (AEQ's op scope is the op's output tensor
    names joined by ";" plus a trailing ";")."""
    return f"^{re.escape(name)};$"


def int8_recipe(keep_float: Sequence[str] = (), per_channel: bool = True,
                quantize_only: Sequence[str] | None = None, float16_weights: bool = True) -> list[dict]:
    """AEQ recipe: int8 activations + int8 weights for all ops, ``keep_float`` ops left float.

    ``keep_float``: output tensor names (exact) of ops that stay float; with ``float16_weights``
    their conv kernels are stored as float16 (what the official models do: half the bytes,
    XNNPACK widens them once at load, outputs as with the float16 originals). ``quantize_only``:
    if given, only these ops are quantized and every other op stays float (a sensitivity probe).
    """
    from ai_edge_quantizer import qtyping, recipe_manager

    manager = recipe_manager.RecipeManager()
    granularity = qtyping.QuantGranularity.CHANNELWISE if per_channel else qtyping.QuantGranularity.TENSORWISE
    scopes = [".*"] if quantize_only is None else [op_scope_regex(n) for n in quantize_only]
    for scope in scopes:
        manager.add_static_config(scope, qtyping.TFLOperationName.ALL_SUPPORTED, activation_num_bits=8,
                                  weight_num_bits=8, weight_granularity=granularity)
    fp16 = qtyping.OpQuantizationConfig(
        weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
        compute_precision=qtyping.ComputePrecision.FLOAT, explicit_dequantize=True)
    for name in keep_float:
        scope = op_scope_regex(name)
        manager.add_quantization_config(scope, qtyping.TFLOperationName.ALL_SUPPORTED, algorithm_key="no_quantize")
        if float16_weights:  # float kernels stored as float16 behind DEQUANTIZE, as in the official files
            for op in (qtyping.TFLOperationName.CONV_2D, qtyping.TFLOperationName.DEPTHWISE_CONV_2D):
                manager.add_quantization_config(scope, op, op_config=fp16, algorithm_key="float_casting")
    # Model I/O stays float32: AEQ would otherwise make the graph input and every output int8,
    # and one int8 scale over the (1, 195) landmark tensor is ~1 px per step.
    for io_op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
        manager.add_quantization_config(".*", io_op, algorithm_key="no_quantize")
    return manager.get_quantization_recipe()


def _quietly(fn, *args, **kwargs):
    """Call ``fn`` with AEQ's tqdm progress bars and report prints silenced."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


def calibrate(float_path: str | os.PathLike, samples: Iterable[np.ndarray], num_threads: int = 2) -> dict:
    """Min/max of every tensor of the float model over ``samples`` ((H, W, C) or (1, H, W, C) each)."""
    from ai_edge_quantizer import quantizer

    q = quantizer.Quantizer(str(float_path), int8_recipe())
    input_name = _input_name(float_path)
    data = [{input_name: np.asarray(x, np.float32).reshape((1,) + np.shape(x)[-3:])} for x in samples]
    if not data:
        raise ValueError("calibration needs at least one sample")
    return _quietly(q.calibrate, {SIGNATURE_KEY: data}, num_threads=num_threads)


def quantize(float_path: str | os.PathLike, calibration: dict, keep_float: Sequence[str] = (),
             per_channel: bool = True, quantize_only: Sequence[str] | None = None,
             float16_weights: bool = True) -> bytes:
    """INT8 model bytes from a float32 model, its :func:`calibrate` result and the fallback list."""
    from ai_edge_quantizer import quantizer

    known = {name for _, name in quantizable_ops(float_path)}
    unknown = [k for k in list(keep_float) + list(quantize_only or []) if k not in known]
    if unknown:
        raise ValueError(f"no op of {Path(float_path).name} has the output tensor {unknown[:5]}")
    q = quantizer.Quantizer(str(float_path), int8_recipe(keep_float, per_channel, quantize_only, float16_weights))
    result = _quietly(q.quantize, calibration, enable_progress_bar=False, enable_progress_report=False)
    return bytes(result.quantized_model)


def _input_name(float_path) -> str:
    from ai_edge_litert.interpreter import Interpreter

    sig = Interpreter(model_path=str(float_path)).get_signature_list()
    if SIGNATURE_KEY not in sig:
        raise ValueError(f"{float_path} has no {SIGNATURE_KEY!r} signature: run float32_tflite first")
    (name,) = sig[SIGNATURE_KEY]["inputs"]
    return name


def op_precisions(model_path: str | os.PathLike) -> list[tuple[str, str, str]]:
    """(op type, output tensor name, output dtype name) of every op: which ops run float."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path))
    by_index = {d["index"]: d for d in interp.get_tensor_details()}
    out = []
    for op in interp._get_ops_details():
        t = by_index[int(op["outputs"][0])]
        out.append((op["op_name"], t["name"], np.dtype(t["dtype"]).name))
    return out


def fill_isolated(float_path: str | os.PathLike, keep_float: Sequence[str]) -> list[str]:
    """``keep_float`` plus every op that would be an int8 island: all the ops it reads from and
    all the ops that read its outputs stay float. Such an op costs a QUANTIZE before it and a
    DEQUANTIZE after it, more than its int8 kernel saves; as float it is exactly the original."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(float_path))
    names = {d["index"]: d["name"] for d in interp.get_tensor_details()}
    ops = interp._get_ops_details()
    producer = {int(o): k for k, op in enumerate(ops) for o in op["outputs"]}
    consumers: dict[int, list[int]] = {}
    for k, op in enumerate(ops):
        for i in op["inputs"]:
            consumers.setdefault(int(i), []).append(k)
    keep = set(keep_float)
    is_float = [names[int(op["outputs"][0])] in keep for op in ops]
    added = []
    for k, op in enumerate(ops):
        if is_float[k]:
            continue
        near = [producer[int(i)] for i in op["inputs"] if int(i) in producer]
        near += [c for o in op["outputs"] for c in consumers.get(int(o), [])]
        if near and all(is_float[j] for j in near):
            added.append(names[int(op["outputs"][0])])
    return list(keep_float) + added


def output_head(float_path: str | os.PathLike, output_name: str) -> list[str]:
    """Output tensor names of the ops that compute only model output ``output_name``: from the
    op writing it back through ops whose input feeds nothing else (e.g. the landmark models'
    pose-presence head RESHAPE <- LOGISTIC <- CONV_2D, up to the shared features)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(float_path))
    names = {d["index"]: d["name"] for d in interp.get_tensor_details()}
    ops = interp._get_ops_details()
    producer = {int(o): k for k, op in enumerate(ops) for o in op["outputs"]}
    consumers: dict[int, int] = {}
    for op in ops:
        if op["op_name"] == "SHAPE":  # reads only the shape (a Keras export's dynamic RESHAPE), not the values
            continue
        for i in op["inputs"]:
            consumers[int(i)] = consumers.get(int(i), 0) + 1
    by_name = {v: k for k, v in names.items()}
    if output_name not in by_name or by_name[output_name] not in producer:
        raise ValueError(f"{output_name!r} is not an op output of {Path(float_path).name}")
    head = []
    k = producer[by_name[output_name]]
    while True:
        head.append(names[int(ops[k]["outputs"][0])])
        data_input = int(ops[k]["inputs"][0])
        if data_input not in producer or consumers.get(data_input, 0) != 1:
            return head
        k = producer[data_input]
