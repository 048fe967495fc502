"""convert/: a tiny model through every conversion path, and the parity numbers on real files.

Paths: Keras -> TFLite float32 / float16 / dynamic / int8 (int8 and float I/O, per-channel and
per-tensor, selective); Keras -> ONNX (tf2onnx) checked with onnxruntime; TFLite -> ONNX ->
onnx2tf -> TFLite int8; a PyTorch-style NCHW ONNX model -> onnx2tf -> TFLite (NHWC); the CLI
end to end. Needs tensorflow, tf2onnx, onnx, onnxruntime and onnx2tf (see docs/convert.md).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from blazepose_sdk.stages.runtime import TFLiteModel

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from convert.manifest import manifest_entry
from convert.quantize import QuantizeOptions, layer_sensitivity, to_tflite
from convert.report import compare_outputs, parity_report

SIZE = 16


def _tiny(bias_shift: float = 0.0):
    """Conv -> depthwise -> conv -> pool -> two heads; same weights for the same call (fixed seed)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((SIZE, SIZE, 3), batch_size=1, name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    # 3*3*8*16 = 1152 weights: TFLite's dynamic-range quantizer skips tensors under 1024
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    points = keras.layers.Dense(10, name="points")(x)
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(x)
    model = keras.Model(inp, [points, score])
    if bias_shift:
        w, b = model.get_layer("points").get_weights()
        model.get_layer("points").set_weights([w, b + np.float32(bias_shift)])
    return model


@pytest.fixture(scope="module")
def tiny():
    return _tiny()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    return rng.uniform(0, 1, size=(24, SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def float_tflite(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("conv") / "tiny_float32.tflite"
    path.write_bytes(to_tflite(tiny, QuantizeOptions("float32")))
    return path


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_float_tflite_matches_keras(tiny, float_tflite, data):
    with TFLiteModel(float_tflite) as m:
        out = m.run(data[:1])
    ref = [np.asarray(o) for o in tiny(data[:1])]
    by_shape = {o.shape: o for o in out}
    for r in ref:
        np.testing.assert_allclose(by_shape[r.shape], r, atol=1e-5)


def test_parity_of_a_model_with_itself_is_zero(float_tflite, data):
    rep = parity_report("self", float_tflite, float_tflite, data[:6], latency_runs=2)
    assert [o.max_abs for o in rep.outputs] == [0.0, 0.0]
    assert rep.reference_bytes == rep.candidate_bytes
    assert set(rep.latency) == {"reference", "candidate"} and rep.latency["candidate"]["runs"] == 2


def test_parity_sees_a_deliberate_perturbation(float_tflite, data, tmp_path):
    shifted = _write(tmp_path, "shifted.tflite", to_tflite(_tiny(bias_shift=0.25), QuantizeOptions("float32")))
    rep = parity_report("shifted", float_tflite, shifted, data[:6], latency_runs=0)
    diffs = {o.shape: o for o in rep.outputs}
    # a bias shift of 0.25 moves every "points" value by exactly 0.25 and leaves "score" alone
    assert diffs[(1, 10)].max_abs == pytest.approx(0.25, abs=1e-5)
    assert diffs[(1, 10)].mean_abs == pytest.approx(0.25, abs=1e-5)
    assert diffs[(1, 1)].max_abs == 0.0


@pytest.mark.parametrize("precision", ["float16", "dynamic"])
def test_float16_and_dynamic_range(tiny, float_tflite, data, tmp_path, precision):
    path = _write(tmp_path, f"{precision}.tflite", to_tflite(tiny, QuantizeOptions(precision)))
    with TFLiteModel(path) as m:
        assert all(s.dtype == np.float32 for s in m.inputs + m.outputs)
    diffs = parity_report(precision, float_tflite, path, data[:6], latency_runs=0).outputs
    assert 0.0 < max(d.max_abs for d in diffs) < 0.05  # changed, but only a little


def test_int8_int8_io_and_manifest(tiny, float_tflite, data, tmp_path):
    path = _write(tmp_path, "int8.tflite", to_tflite(tiny, QuantizeOptions("int8", "int8"), data))
    with TFLiteModel(path) as m:
        assert m.inputs[0].dtype == np.int8 and m.inputs[0].quantized
        assert all(s.dtype == np.int8 for s in m.outputs)
        specs = {s.name: s for s in m.inputs + m.outputs}
    entry = manifest_entry(path, "generic", "int8", (0.0, 1.0))
    for t in entry["inputs"] + entry["outputs"]:
        assert t["dtype"] == "int8"
        assert t["quantization"] == {"scale": specs[t["name"]].scale, "zero_point": specs[t["name"]].zero_point}
    # input range 0..1 on 256 levels
    assert entry["inputs"][0]["quantization"]["scale"] == pytest.approx(1 / 255, rel=1e-3)
    assert len(entry["sha256"]) == 64
    diffs = parity_report("int8", float_tflite, path, data[:8], latency_runs=0).outputs
    assert 0.0 < max(d.max_abs for d in diffs) < 0.1


def test_int8_float_io_per_tensor_and_selective(tiny, float_tflite, data, tmp_path):
    per_channel = to_tflite(tiny, QuantizeOptions("int8", "float32"), data)
    per_tensor = to_tflite(tiny, QuantizeOptions("int8", "float32", per_channel=False), data)
    assert per_channel != per_tensor
    path = _write(tmp_path, "int8f.tflite", per_channel)
    with TFLiteModel(path) as m:
        assert m.inputs[0].dtype == np.float32 and not m.inputs[0].quantized
    ranking = layer_sensitivity(tiny, data, steps=8)
    assert ranking and ranking[0].rmse_per_scale >= ranking[-1].rmse_per_scale
    keep = [ranking[0].tensor]
    selective = _write(tmp_path, "sel.tflite", to_tflite(tiny, QuantizeOptions("int8", "int8", keep_float=keep), data))
    assert selective.read_bytes() != to_tflite(tiny, QuantizeOptions("int8", "int8"), data)
    with TFLiteModel(selective) as m:
        assert m.inputs[0].dtype == np.int8  # model I/O stays int8 with float layers inside
    assert parity_report("sel", float_tflite, selective, data[:4], latency_runs=0).outputs


def test_keras_to_onnx_matches_tflite(tiny, float_tflite, data, tmp_path):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    from convert.onnx_bridge import OnnxRunner, keras_to_onnx

    onnx_path = keras_to_onnx(tiny, tmp_path / "tiny.onnx")
    with TFLiteModel(float_tflite) as tfl:
        diffs = compare_outputs(tfl, OnnxRunner(onnx_path), data[:4])
    assert len(diffs) == 2 and max(d.max_abs for d in diffs) < 1e-4


def _onnx_round_trip(reference, onnx_path, data, tmp_path):
    """onnxruntime and the onnx2tf float TFLite both match ``reference``; returns the SavedModel."""
    from convert.onnx_bridge import OnnxRunner, onnx_to_saved_model

    with TFLiteModel(reference) as tfl:
        assert max(d.max_abs for d in compare_outputs(tfl, OnnxRunner(onnx_path), data[:4])) < 1e-4
    saved = onnx_to_saved_model(onnx_path, tmp_path / "sm", sample_nhwc=data[:4])
    back = _write(tmp_path, "back_float.tflite", to_tflite(str(saved), QuantizeOptions("float32")))
    assert max(d.max_abs for d in parity_report("rt", reference, back, data[:4], latency_runs=0).outputs) < 1e-4
    return saved


def test_saved_model_folder_to_onnx_matches_tflite(tiny, float_tflite, data, tmp_path):
    """A SavedModel folder (its serving signature takes keyword arguments) exports like a keras.Model."""
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    from convert.onnx_bridge import OnnxRunner, keras_to_onnx

    tiny.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    onnx_path = keras_to_onnx(tmp_path / "saved", tmp_path / "saved.onnx")
    with TFLiteModel(float_tflite) as tfl:
        diffs = compare_outputs(tfl, OnnxRunner(onnx_path), data[:4])
    assert len(diffs) == 2 and max(d.max_abs for d in diffs) < 1e-4


def test_tflite_to_onnx_to_tflite_int8(float_tflite, data, tmp_path):
    pytest.importorskip("onnx2tf")
    from convert.onnx_bridge import tflite_to_onnx

    saved = _onnx_round_trip(float_tflite, tflite_to_onnx(float_tflite, tmp_path / "rt.onnx"), data, tmp_path)
    int8 = _write(tmp_path, "rt_int8.tflite", to_tflite(str(saved), QuantizeOptions("int8", "int8"), data))
    with TFLiteModel(int8) as m:
        assert m.inputs[0].dtype == np.int8 and m.inputs[0].shape == (1, SIZE, SIZE, 3)
    assert 0.0 < max(d.max_abs for d in parity_report("rt8", float_tflite, int8, data[:8], latency_runs=0).outputs) < 0.1


def test_keras_with_batchnorm_to_onnx_and_back(data, tmp_path):
    """Conv + BatchNorm (as our BlazePose blocks): Keras -> ONNX -> onnx2tf -> TFLite keeps the outputs."""
    pytest.importorskip("onnx2tf")
    from convert.onnx_bridge import keras_to_onnx

    keras.utils.set_random_seed(3)
    inp = keras.Input((SIZE, SIZE, 3), batch_size=1, name="image")
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(inp)
    bn = keras.layers.BatchNormalization()
    x = keras.layers.ReLU()(bn(x))
    x = keras.layers.Conv2D(8, 1)(x)
    model = keras.Model(inp, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x)))
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 3).astype(np.float32), rng.normal(0, 1, 3).astype(np.float32),
                    rng.normal(0, 0.5, 3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)])
    reference = _write(tmp_path, "bn_float.tflite", to_tflite(model, QuantizeOptions("float32")))
    _onnx_round_trip(reference, keras_to_onnx(model, tmp_path / "bn.onnx"), data, tmp_path)


def test_nchw_onnx_import(data, tmp_path):
    """A PyTorch-style model (NCHW input, Conv/Relu/GlobalAveragePool/Gemm) comes out NHWC."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnx2tf")
    from onnx import TensorProto, helper, numpy_helper

    from convert.onnx_bridge import OnnxRunner, onnx_to_saved_model

    rng = np.random.default_rng(2)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(0, 0.1, (4,)).astype(np.float32), "b"),
        numpy_helper.from_array(rng.normal(0, 0.5, (4, 2)).astype(np.float32), "fc"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "nchw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "nchw.onnx")
    saved = onnx_to_saved_model(tmp_path / "nchw.onnx", tmp_path / "sm", sample_nhwc=data[:4])
    path = _write(tmp_path, "nchw.tflite", to_tflite(str(saved), QuantizeOptions("float32")))
    with TFLiteModel(path) as tfl:
        assert tfl.inputs[0].shape == (1, SIZE, SIZE, 3)
        diffs = compare_outputs(tfl, OnnxRunner(tmp_path / "nchw.onnx"), data[:4])
    assert diffs[0].max_abs < 1e-4


def test_densify_values_csr():
    """TFLite sparse storage: dim 0 dense (2 rows), dim 1 CSR; the 2x4 matrix [[0,5,0,7],[0,0,9,0]]."""
    from training.tflite_graph import densify_sparse

    def densify_values(shape, sparsity, values):
        return densify_sparse(values, shape, sparsity)

    meta = [SimpleNamespace(format=0, denseSize=2),
            SimpleNamespace(format=1, arraySegments=SimpleNamespace(values=[0, 2, 3]),
                            arrayIndices=SimpleNamespace(values=[1, 3, 2]))]
    sparsity = SimpleNamespace(blockMap=None, traversalOrder=[0, 1], dimMetadata=meta)
    dense = densify_values((2, 4), sparsity, np.array([5, 7, 9], np.float16))
    assert dense.tolist() == [[0, 5, 0, 7], [0, 0, 9, 0]]
    # column-major traversal: dim 1 first (dense, 4), then dim 0 as CSR
    meta = [SimpleNamespace(format=0, denseSize=4),
            SimpleNamespace(format=1, arraySegments=SimpleNamespace(values=[0, 0, 1, 2, 3]),
                            arrayIndices=SimpleNamespace(values=[0, 1, 0]))]
    sparsity = SimpleNamespace(blockMap=None, traversalOrder=[1, 0], dimMetadata=meta)
    assert densify_values((2, 4), sparsity, np.array([5, 9, 7], np.float32)).tolist() == [[0, 5, 0, 7], [0, 0, 9, 0]]


def test_cli_keras_to_int8_and_onnx(tiny, data, tmp_path):
    import cv2

    from convert.__main__ import main

    model_path = tmp_path / "tiny.keras"
    tiny.save(model_path)
    np.save(tmp_path / "calib.npy", data)
    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(3):
        cv2.imwrite(str(frames / f"{k}.png"), (data[k] * 255).astype(np.uint8))
    out = tmp_path / "out"
    assert main(["keras", str(model_path), "--to", "int8,onnx", "--calib", str(tmp_path / "calib.npy"),
                 "--eval", str(frames), "--latency-runs", "3", "--out", str(out)]) == 0
    report = json.loads((out / "parity.json").read_text())["reports"]
    assert [r["name"] for r in report] == ["tiny float32", "tiny int8_int8io"]
    assert max(o["max_abs"] for o in report[0]["onnx_check"]) < 1e-4
    assert report[0]["outputs"][0]["max_abs"] == 0.0  # float reference vs itself
    assert report[1]["outputs"][0]["max_abs"] > 0.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["models"]) == {"tiny_float32.tflite", "tiny_int8_int8io.tflite"}
    assert manifest["models"]["tiny_int8_int8io.tflite"]["inputs"][0]["dtype"] == "int8"
    assert (out / "tiny.onnx").is_file()


def test_calibration_from_data_engine_records(tmp_path):
    """Data-engine TFRecords -> landmark crops cut at each sample's alignment points."""
    sample_mod = pytest.importorskip("training.data.sample")
    import tensorflow as tf

    from blazepose_sdk.geometry.image import crop_roi
    from blazepose_sdk.geometry.roi import roi_from_alignment_points
    from convert.calibration import calibration_inputs

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    align = np.array([[80, 70], [80, 30], [80, 40], [80, 20]], np.float32)  # hip centre, body-circle point, ...
    s = sample_mod.Sample(
        image_jpeg=sample_mod.encode_jpeg(rgb, quality=100), landmarks_px=np.zeros((33, 3), np.float32),
        visibility=np.ones(33, np.float32), landmark_mask=np.ones(33, np.float32),
        box_xyxy_px=np.array([40, 10, 120, 110], np.float32), alignment_px=align,
    )
    with tf.io.TFRecordWriter(str(tmp_path / "s-00000-of-00001.tfrecord")) as w:
        w.write(sample_mod.to_example_bytes(s))
        w.write(sample_mod.to_example_bytes(s))
    crops = calibration_inputs("landmark", (1, 32, 32, 3), tmp_path)
    assert crops.shape == (2, 32, 32, 3) and crops.dtype == np.float32
    expected = crop_roi(s.image_rgb(), roi_from_alignment_points(align[0], align[1]), 32, (0.0, 1.0))[0]
    np.testing.assert_allclose(crops[0], expected, atol=1e-6)


def test_depth_to_space_rewrite_is_exact():
    """DepthToSpace (DCR) -> Reshape/Transpose/Reshape gives the same numbers in onnxruntime."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from convert.onnx_bridge import decompose_depth_to_space

    graph = helper.make_graph(
        [helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2)], "d2s",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 3, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 10])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = np.arange(120, dtype=np.float32).reshape(1, 8, 3, 5)
    import onnxruntime as ort

    def run(m):
        return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    before = run(model)
    rewritten = decompose_depth_to_space(model)
    assert [n.op_type for n in rewritten.graph.node] == ["Reshape", "Transpose", "Reshape"]
    np.testing.assert_array_equal(run(rewritten), before)
