"""ONNX in and out: Keras -> ONNX (tf2onnx), TFLite -> ONNX (tf2onnx), ONNX -> TensorFlow
SavedModel (onnx2tf), and onnxruntime inference to check a conversion.

onnx2tf runs in a child process (:data:`ONNX2TF_RUNNER`) because it pins old versions of
TensorFlow/numpy in its package metadata and keeps global state; set ``$ONNX2TF_PYTHON`` to a
Python that has onnx2tf (e.g. an isolated venv) when the current one does not. Only the float
graph translation is taken from onnx2tf: quantization is then done by :mod:`convert.quantize`
on its SavedModel, with our own calibration data and options.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Default ONNX opset for exports: 17 is read by onnxruntime >= 1.13 and by onnx2tf.
DEFAULT_OPSET = 17
# TensorFlow SavedModel op names must match this (tensorflow/core/framework/node_def_util.cc);
# tf2onnx names nodes after fused TFLite tensors ("a;b;c"), which onnx2tf then rejects.
_TF_NAME_OK = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_TF_NAME_BAD_CHAR = re.compile(r"[^A-Za-z0-9_.\\/>-]")
ONNX2TF_RUNNER = Path(__file__).with_name("_onnx2tf_runner.py")
# onnx2tf loads this sample file from its working directory (and downloads it from GitHub if
# absent) for its internal output check whenever every input is an NHWC RGB image
# (onnx2tf/utils/common_functions.py, download_test_image_data). We write our own there.
ONNX2TF_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"


class ConversionError(RuntimeError):
    """An external converter (tf2onnx, onnx2tf) failed; the message carries its log tail."""


def keras_to_onnx(model, out_path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """Export a Keras model (keras.Model, .keras/.h5 file or SavedModel folder) with a fixed
    input shape to ONNX (NHWC input, as in Keras).

    The export goes through the model's float32 TFLite graph and tf2onnx's TFLite front end:
    the TFLite converter folds batch norms into the convolutions, while tf2onnx's Keras front
    end leaves them as channel-last Mul/Add constants that onnx2tf mis-transposes on the way
    back (our BlazePose landmark model failed to re-import that way). The ONNX file is then the
    same graph the SDK runs, and it imports back with ``python -m convert onnx``.
    """
    import tensorflow as tf

    # Batch fixed to 1: with a free batch dimension the graph computes every reshape's target
    # shape at run time (Shape -> Concat), which onnx2tf turns into int ops TFLite cannot convert.
    if isinstance(model, (str, os.PathLike)) and Path(model).is_dir():
        loaded = tf.saved_model.load(str(model))  # kept alive: the signature uses its variables
        signature = loaded.signatures["serving_default"]
        named = signature.structured_input_signature[1]  # a signature takes keyword arguments only
        names = list(named)
        specs = [tf.TensorSpec((1, *named[n].shape[1:]), named[n].dtype) for n in names]

        def call(*x):
            return signature(**dict(zip(names, x)))
    else:
        if isinstance(model, (str, os.PathLike)):
            import keras

            model = keras.models.load_model(str(model), compile=False)
        specs = [tf.TensorSpec((1, *t.shape[1:]), tf.float32) for t in model.inputs]

        def call(*x):
            return model(x[0] if len(x) == 1 else list(x))
    fn = tf.function(call).get_concrete_function(*specs)
    with tempfile.TemporaryDirectory(prefix="convert_keras_onnx_") as tmp:
        float_tflite = Path(tmp) / "float32.tflite"
        float_tflite.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([fn]).convert())
        return tflite_to_onnx(float_tflite, out_path, opset)


def tflite_to_onnx(tflite_path: str | os.PathLike, out_path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> Path:
    """Translate a float .tflite model to ONNX with tf2onnx's TFLite front end.

    float16 weights stored with DEQUANTIZE ops (as in the official BlazePose models) become
    float32 initializers; the input stays NHWC.
    """
    import tf2onnx

    with tempfile.TemporaryDirectory(prefix="convert_densify_") as tmp:
        dense = densify_tflite(tflite_path, Path(tmp) / "dense.tflite")
        tf2onnx.convert.from_tflite(str(dense or tflite_path), opset=opset, output_path=str(out_path))
    return Path(out_path)


def densify_tflite(tflite_path: str | os.PathLike, out_path: str | os.PathLike) -> Path | None:
    """Replace sparse constant weights (DENSIFY ops) by dense constants; None if there are none.

    The official pose_detection.tflite stores 38 of its conv kernels sparse (TFLite's
    SparsityParameters, CSR on the last dimension), which tf2onnx cannot read.
    """
    from blazepose_sdk.assets import tflite_file
    from training.tflite_graph import densify_sparse  # one sparse-layout reader (CSR and blocks)

    source = tflite_file.load(tflite_path)
    ops = tflite_file.subgraph(source).operators
    targets = [op for op in ops if op.builtin == "DENSIFY"]
    if not targets:
        return None
    model = tflite_file.to_object(source)
    graph = model.subgraphs[0]
    for op in targets:
        sparse = graph.tensors[op.inputs[0]]
        dtype = _TFLITE_DTYPES[sparse.type]
        values = np.frombuffer(bytes(model.buffers[sparse.buffer].data), dtype=dtype)
        dense = densify_sparse(values, tuple(int(d) for d in sparse.shape), sparse.sparsity)
        dense_buffer = tflite_file.add_buffer(model, dense.tobytes())
        graph.tensors[op.outputs[0]].buffer = dense_buffer
        # the now-unused sparse tensor must be readable too: tf2onnx parses every constant
        sparse.sparsity = None
        sparse.buffer = dense_buffer
    graph.operators = [kept for kept, op in zip(graph.operators, ops) if op.builtin != "DENSIFY"]
    tflite_file.write_model(model, out_path)
    return Path(out_path)


# TFLite TensorType -> numpy dtype, for the types sparse weights use (schema.fbs TensorType).
_TFLITE_DTYPES = {0: np.float32, 1: np.float16, 9: np.int8}


def sanitize_names(model):
    """Rename every tensor and node of an ONNX ModelProto to a name TensorFlow accepts.

    Graph input names are kept when already valid (they become the TFLite input names).
    Returns the model, modified in place.
    """
    graph = model.graph
    mapping: dict[str, str] = {}
    used: set[str] = set()

    def fix(name: str) -> str:
        if not name:
            return name
        if name in mapping:
            return mapping[name]
        new = name if _TF_NAME_OK.match(name) else _TF_NAME_BAD_CHAR.sub("_", name)
        if not re.match(r"^[A-Za-z0-9.]", new):
            new = "t" + new
        base, k = new, 1
        while new in used:
            new, k = f"{base}_{k}", k + 1
        used.add(new)
        mapping[name] = new
        return new

    for coll in (graph.input, graph.output, graph.value_info):
        for value in coll:
            value.name = fix(value.name)
    for tensor in graph.initializer:
        tensor.name = fix(tensor.name)
    for i, node in enumerate(graph.node):
        node.input[:] = [fix(x) for x in node.input]
        node.output[:] = [fix(x) for x in node.output]
        node.name = fix(node.name or f"node_{i}")
    return model


def decompose_depth_to_space(model):
    """Rewrite each DepthToSpace (DCR mode, static shape) as Reshape -> Transpose -> Reshape.

    onnx2tf 1.29 loses track of the layout of DepthToSpace between tf2onnx's transposes (the
    official pose_detection.tflite has three) and fails; the equivalent reshape/transpose chain
    converts. DCR: (N, C, H, W) -> (N, b, b, C/b^2, H, W) -> perm (0, 3, 4, 1, 5, 2) ->
    (N, C/b^2, H*b, W*b) (ONNX operator spec). Returns the model, modified in place.
    """
    import onnx
    from onnx import helper, numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    nodes = []
    for k, node in enumerate(model.graph.node):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        mode = attrs.get("mode", b"DCR")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        shape = shapes.get(node.input[0]) if node.op_type == "DepthToSpace" else None
        if node.op_type != "DepthToSpace" or mode != "DCR" or not shape or len(shape) != 4 or 0 in shape:
            nodes.append(node)
            continue
        n, c, h, w = shape
        b = int(attrs["blocksize"])
        tag = f"d2s_{k}"
        model.graph.initializer.extend([
            numpy_helper.from_array(np.array([n, b, b, c // (b * b), h, w], np.int64), f"{tag}_shape6"),
            numpy_helper.from_array(np.array([n, c // (b * b), h * b, w * b], np.int64), f"{tag}_shape4"),
        ])
        nodes += [
            helper.make_node("Reshape", [node.input[0], f"{tag}_shape6"], [f"{tag}_r6"], name=f"{tag}_reshape6"),
            helper.make_node("Transpose", [f"{tag}_r6"], [f"{tag}_t"], perm=[0, 3, 4, 1, 5, 2], name=f"{tag}_transpose"),
            helper.make_node("Reshape", [f"{tag}_t", f"{tag}_shape4"], list(node.output), name=f"{tag}_reshape4"),
        ]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def onnx_inputs(path: str | os.PathLike) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of the graph inputs that are not initializers (dynamic dims as -1)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    out = []
    for value in model.graph.input:
        if value.name in inits:
            continue
        dims = tuple(d.dim_value if d.dim_value > 0 else -1 for d in value.type.tensor_type.shape.dim)
        out.append((value.name, dims))
    return out


def is_nhwc_image(shape: tuple[int, ...]) -> bool:
    """True for (N, H, W, C) with C in 1..4 and H, W larger than C (a channels-last image)."""
    return len(shape) == 4 and 0 < shape[3] <= 4 and shape[1] > 4 and shape[2] > 4


def onnx_to_saved_model(
    onnx_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    sample_nhwc: np.ndarray | None = None,
    python: str | None = None,
    timeout_s: float = 1800.0,
) -> Path:
    """Translate an ONNX model to a float TensorFlow SavedModel with onnx2tf.

    NCHW image inputs (PyTorch exports) become NHWC, as TFLite and the SDK expect; NHWC inputs
    (tf2onnx exports) are kept as they are. ``sample_nhwc``: a few (N, H, W, 3) inputs in the
    model's value range for onnx2tf's own ONNX-vs-TF check (zeros when None).

    Raises:
        ConversionError: onnx2tf failed or is not installed in ``python``.
    """
    import onnx

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    python = python or os.environ.get("ONNX2TF_PYTHON") or sys.executable
    with tempfile.TemporaryDirectory(prefix="convert_onnx2tf_") as tmp:
        work = Path(tmp)
        model = sanitize_names(decompose_depth_to_space(onnx.load(str(onnx_path))))
        clean = work / "model.onnx"
        onnx.save(model, str(clean))
        nhwc = [name for name, shape in onnx_inputs(clean) if is_nhwc_image(shape)]
        _write_onnx2tf_sample(work / ONNX2TF_SAMPLE_FILE, sample_nhwc)
        args = {
            "input_onnx_file_path": str(clean),
            "output_folder_path": str(out_dir),
            "output_signaturedefs": True,
            "copy_onnx_input_output_names_to_tflite": True,
            "keep_nwc_or_nhwc_or_ndhwc_input_names": nhwc or None,
            "non_verbose": True,
        }
        (work / "args.json").write_text(json.dumps(args))
        try:
            proc = subprocess.run(
                [python, str(ONNX2TF_RUNNER), str(work / "args.json")],
                cwd=work, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(f"onnx2tf timed out after {timeout_s:.0f} s on {onnx_path}") from exc
        if proc.returncode != 0 or not (out_dir / "saved_model.pb").is_file():
            tail = (proc.stdout[-1500:] + "\n" + proc.stderr[-2500:]).strip()
            raise ConversionError(f"onnx2tf failed on {onnx_path} (exit {proc.returncode}):\n{tail}")
    return out_dir


def _write_onnx2tf_sample(path: Path, sample_nhwc: np.ndarray | None) -> None:
    import cv2

    frames = []
    if sample_nhwc is not None and len(sample_nhwc):
        for k in range(20):
            img = np.asarray(sample_nhwc[k % len(sample_nhwc)], dtype=np.float32)
            img = img if img.shape[-1] == 3 else np.repeat(img[..., :1], 3, axis=-1)
            frames.append(cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA))
        data = np.stack(frames).astype(np.float32)
    else:
        data = np.zeros((20, 128, 128, 3), np.float32)
    np.save(path, data)


class OnnxRunner:
    """onnxruntime session on CPU; :meth:`run` takes NHWC float32 arrays like a TFLite model.

    Inputs that are NCHW in the ONNX graph are transposed from NHWC before the call.
    """

    def __init__(self, path: str | os.PathLike, num_threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(num_threads)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.inputs = [(i.name, tuple(d if isinstance(d, int) else -1 for d in i.shape)) for i in self.session.get_inputs()]
        self.outputs = [(o.name, tuple(d if isinstance(d, int) else -1 for d in o.shape)) for o in self.session.get_outputs()]

    def run(self, *inputs_nhwc: np.ndarray) -> list[np.ndarray]:
        feed = {}
        for (name, shape), value in zip(self.inputs, inputs_nhwc):
            value = np.asarray(value, dtype=np.float32)
            if len(shape) == 4 and not is_nhwc_image(shape) and value.ndim == 4:
                value = np.transpose(value, (0, 3, 1, 2))
            feed[name] = np.ascontiguousarray(value)
        return [np.asarray(o, dtype=np.float32) for o in self.session.run(None, feed)]
