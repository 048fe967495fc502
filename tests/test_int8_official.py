"""INT8 of the official models (convert.aeq, convert.int8_official): the recipe path on a tiny
model, the fallback ops staying float, the float32 rewrite, and the metrics with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from convert.parity import box_iou, detector_agreement


# -- metrics with known answers ----------------------------------------------------------------
def test_box_iou_known_values():
    a = np.array([0.0, 0.0, 2.0, 2.0])
    b = np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 6.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(box_iou(a, b), [1.0, 2.0 / 6.0, 0.0, 0.0])


def test_detector_agreement_counts_same_person_and_hip_error():
    box = np.array([10.0, 10.0, 20.0, 20.0])
    ref = [
        (box, np.array([15.0, 40.0])),  # found again, hip 3-4-5 px away, and it is the best
        (box, np.array([15.0, 40.0])),  # found as the second detection, hip exact
        (box, np.array([15.0, 40.0])),  # only a different person found
        None,                           # float found nobody: not counted
    ]
    other = np.array([100.0, 100.0, 110.0, 110.0])
    cand = [
        (box[None] + 0.5, np.array([[18.0, 44.0]])),
        (np.stack([other, box]), np.array([[105.0, 130.0], [15.0, 40.0]])),
        (other[None], np.array([[105.0, 130.0]])),
        (np.zeros((0, 4)), np.zeros((0, 2))),
    ]
    out = detector_agreement(ref, cand)
    assert out["frames"] == 4 and out["frames_with_person"] == 3 and out["same_person"] == 2
    assert out["same_person_rate"] == pytest.approx(2 / 3)
    assert out["top1_same_rate"] == pytest.approx(1 / 3)
    assert out["hip_err_px_mean"] == pytest.approx(2.5)
    assert out["hip_err_px_max"] == pytest.approx(5.0)


def test_detector_agreement_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        detector_agreement([None], [])


def test_landmark_score_perfect_and_moved():
    from convert.int8_official import landmark_score

    rng = np.random.default_rng(0)
    xy = rng.uniform(50, 200, size=(3, 33, 2))
    xy[:, 11] = (100.0, 100.0)
    xy[:, 24] = (100.0, 200.0)  # torso 100 px -> PCK radius 20 px
    vis = np.ones((3, 33))
    assert landmark_score((xy, vis), (xy.copy(), vis)) == {"pck": 1.0, "mean_px": 0.0}
    moved = xy.copy()
    moved[0, 0] += (30.0, 0.0)  # one landmark of 99 beyond 20 px
    out = landmark_score((xy, vis), (moved, vis))
    assert out["pck"] == pytest.approx(98 / 99)
    assert out["mean_px"] == pytest.approx(30.0 / 99)


def test_meets_target_uses_issue_targets():
    from convert.int8_official import meets_target

    assert meets_target("lite", {"pck": 0.99})
    assert not meets_target("lite", {"pck": 0.9899})
    assert meets_target("full", {"pck": 0.98})
    assert not meets_target("lite", {"pck": 0.992}, margin=True)
    assert meets_target("detector", {"same_person_rate": 0.995, "hip_err_px_mean": 1.9})
    assert not meets_target("detector", {"same_person_rate": 0.98, "hip_err_px_mean": 0.1})
    assert not meets_target("detector", {"same_person_rate": 1.0, "hip_err_px_mean": 2.1})


# -- the recipe path on a tiny model -------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_fp16(tmp_path_factory):
    """A tiny conv -> depthwise -> conv + residual model stored like the official ones: float16
    weights behind DEQUANTIZE ops."""
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_quantizer")
    import keras

    inp = keras.Input((32, 32, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu6", name="stem")(inp)
    y = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = keras.layers.Conv2D(8, 1, name="pw")(y)
    x = keras.layers.Add(name="res")([x, y])
    out = keras.layers.Conv2D(4, 1, name="head")(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    path = tmp_path_factory.mktemp("tiny") / "tiny_fp16.tflite"
    path.write_bytes(converter.convert())
    return path


def _run(path, x):
    from blazepose_sdk.stages.runtime import TFLiteModel

    with TFLiteModel(path, num_threads=1) as m:
        return m.run(x)[0]


def test_float32_rewrite_folds_fp16_and_keeps_outputs(tiny_fp16, tmp_path):
    from convert import aeq

    ops_before = [op for op, _, _ in aeq.op_precisions(tiny_fp16)]
    assert "DEQUANTIZE" in ops_before
    f32 = aeq.float32_tflite(tiny_fp16, tmp_path / "tiny_f32.tflite")
    ops_after = [op for op, _, _ in aeq.op_precisions(f32)]
    assert "DEQUANTIZE" not in ops_after
    assert ops_after == [op for op in ops_before if op != "DEQUANTIZE"]
    x = np.random.default_rng(1).uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(_run(f32, x), _run(tiny_fp16, x))


def test_recipe_with_fallback_keeps_chosen_ops_float(tiny_fp16, tmp_path):
    from convert import aeq

    f32 = aeq.float32_tflite(tiny_fp16, tmp_path / "tiny_f32.tflite")
    rng = np.random.default_rng(2)
    calib = aeq.calibrate(f32, rng.uniform(0, 1, (8, 32, 32, 3)).astype(np.float32), num_threads=1)
    ops = aeq.quantizable_ops(f32)
    dw = [name for op, name in ops if op == "DEPTHWISE_CONV_2D"]
    assert len(dw) == 1

    all_int8 = tmp_path / "all.tflite"
    all_int8.write_bytes(aeq.quantize(f32, calib))
    kinds = {name: dtype for op, name, dtype in aeq.op_precisions(all_int8) if op not in ("QUANTIZE", "DEQUANTIZE")}
    assert kinds[dw[0]] == "int8"
    assert all(dtype == "int8" for dtype in kinds.values())

    mixed = tmp_path / "mixed.tflite"
    mixed.write_bytes(aeq.quantize(f32, calib, keep_float=dw))
    prec = aeq.op_precisions(mixed)
    kinds = {name: dtype for op, name, dtype in prec if op not in ("QUANTIZE", "DEQUANTIZE")}
    assert kinds[dw[0]] == "float32"
    assert sum(dtype == "int8" for dtype in kinds.values()) == len(kinds) - 1
    assert [op for op, _, _ in prec].count("DEQUANTIZE") >= 2  # into the float op, and the float output

    # float I/O, int8 inside: the mixed model tracks the float one closely on a calibration-like input
    x = rng.uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
    ref, out = _run(f32, x), _run(mixed, x)
    assert out.dtype == np.float32
    assert np.abs(out - ref).mean() < 0.05 * np.abs(ref).std()


def test_quantize_rejects_unknown_fallback_names(tiny_fp16, tmp_path):
    from convert import aeq

    f32 = aeq.float32_tflite(tiny_fp16, tmp_path / "tiny_f32.tflite")
    calib = aeq.calibrate(f32, np.zeros((1, 32, 32, 3), np.float32), num_threads=1)
    with pytest.raises(ValueError, match="no op"):
        aeq.quantize(f32, calib, keep_float=["not/a/tensor"])


# -- GPTQ rounding (pure math) --------------------------------------------------------------------
def test_gptq_round_with_uncorrelated_inputs_is_nearest_rounding():
    from convert.weight_rounding import gptq_round, symmetric_scales

    rng = np.random.default_rng(3)
    w = rng.normal(0, 1, (5, 12))
    s = symmetric_scales(w)
    q = gptq_round(w, np.eye(12) * 7.0, s, damping=0.0)
    np.testing.assert_array_equal(q, np.round(w / s[:, None]))


def test_gptq_round_lowers_output_error_and_keeps_each_rows_scale():
    from convert.weight_rounding import gptq_round, output_error, symmetric_scales

    rng = np.random.default_rng(4)
    mix = rng.normal(0, 1, (16, 16))
    x = rng.normal(0, 1, (2000, 16)) @ mix  # strongly correlated inputs, as conv patches are
    h = x.T @ x
    w = rng.normal(0, 1, (8, 16))
    s = symmetric_scales(w)
    q = gptq_round(w, h, s)
    near = np.clip(np.round(w / s[:, None]), -127, 127)
    assert output_error(w, q * s[:, None], h) < 0.5 * output_error(w, near * s[:, None], h)
    assert np.all(np.abs(q).max(axis=1) == 127)  # the largest weight stays at full scale
    assert np.all(np.abs(q) <= 127)
    np.testing.assert_allclose(symmetric_scales(q * s[:, None]), s)  # AEQ recomputes the same scale


def test_output_error_known_value():
    from convert.weight_rounding import output_error

    h = np.array([[2.0, 0.0], [0.0, 3.0]])
    assert output_error(np.zeros((1, 2)), np.array([[1.0, 1.0]]), h) == pytest.approx(5.0)


def test_gptq_kernels_are_reproduced_exactly_by_the_quantizer(tiny_fp16, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from convert import aeq
    from convert.weight_rounding import gptq_conv_weights, write_conv_weights

    f32 = aeq.float32_tflite(tiny_fp16, tmp_path / "tiny_f32.tflite")
    x = np.random.default_rng(5).uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
    rounded = gptq_conv_weights(f32, x)
    assert {v["op"] for v in rounded.values()} == {"CONV_2D", "DEPTHWISE_CONV_2D"}
    assert all(v["output_err_gptq"] <= v["output_err_nearest"] * 1.0001 for v in rounded.values())
    base = write_conv_weights(f32, rounded, tmp_path / "gptq.tflite")
    q_path = tmp_path / "q.tflite"
    q_path.write_bytes(aeq.quantize(base, aeq.calibrate(base, x, num_threads=1)))
    interp = Interpreter(model_path=str(q_path))
    quantized = {}
    for d in interp.get_tensor_details():
        if d["dtype"] == np.int8 and len(d["shape"]) == 4 and d["quantization_parameters"]["scales"].size > 1:
            p = d["quantization_parameters"]
            axis = p["quantized_dimension"]
            shape = [1] * 4
            shape[axis] = -1
            quantized[tuple(d["shape"])] = interp.get_tensor(d["index"]) * p["scales"].reshape(shape)
    for v in rounded.values():
        np.testing.assert_allclose(quantized[v["weights"].shape], v["weights"], rtol=1e-5, atol=1e-7)


def test_convert_cli_takes_the_aeq_route_options(tmp_path):
    from convert.__main__ import parse_args
    from convert.pipeline import ConvertOptions, run

    args = parse_args(["tflite", "m.tflite", "--quantizer", "aeq", "--weights", "gptq", "--out", str(tmp_path)])
    assert (args.quantizer, args.weights) == ("aeq", "gptq")
    with pytest.raises(ValueError, match="tflite"):
        run(ConvertOptions(fmt="keras", source=tmp_path / "m.keras", out_dir=tmp_path, quantizer="aeq"))
    with pytest.raises(ValueError, match="int8"):
        run(ConvertOptions(fmt="tflite", source=tmp_path / "m.tflite", out_dir=tmp_path, targets=["float16"],
                           quantizer="aeq"))


def test_int8_official_cli_rejects_unknown_models(tmp_path, capsys):
    from convert.int8_official import main

    assert main(["eval", "--out", str(tmp_path), "--models", "heavy"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_output_head_walks_back_to_the_shared_features(tiny_fp16, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from convert import aeq

    f32 = aeq.float32_tflite(tiny_fp16, tmp_path / "tiny_f32.tflite")
    (out,) = [d["name"] for d in Interpreter(model_path=str(f32)).get_output_details()]
    head = aeq.output_head(f32, out)
    types = {name: op for op, name in aeq.quantizable_ops(f32)}
    # head conv <- residual ADD; the ADD's first input (the stem) also feeds the depthwise: stop
    assert [types[n] for n in head] == ["CONV_2D", "ADD"]
    with pytest.raises(ValueError):
        aeq.output_head(f32, "nope")


def test_float_model_override_is_checked(tmp_path, capsys):
    from convert import int8_official

    assert int8_official.main(["quantize", "--out", str(tmp_path), "--models", "lite",
                               "--float-model", f"lite={tmp_path / 'missing.tflite'}"]) == 2
    assert "--float-model" in capsys.readouterr().err
    assert int8_official.main(["quantize", "--out", str(tmp_path), "--models", "lite",
                               "--float-model", "nope=x.tflite"]) == 2


def test_output_head_sees_through_a_dynamic_reshape(tmp_path):
    """A Keras model with a free batch exports its presence-style head (conv -> sigmoid -> reshape)
    with a SHAPE op reading the sigmoid's shape; that reader must not end the head there."""
    tf = pytest.importorskip("tensorflow")
    import keras

    from convert import aeq

    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu6", name="stem")(inp)
    x = keras.layers.Conv2D(1, 8, name="flag")(x)
    x = keras.layers.Activation("sigmoid", name="flag_sigmoid")(x)
    out = keras.layers.Reshape((1,), name="presence")(x)
    model = keras.Model(inp, out)
    path = tmp_path / "head.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    ops = [op["op_name"] for op in interp._get_ops_details()]
    (name,) = [d["name"] for d in interp.get_output_details()]
    head = aeq.output_head(path, name)
    types = {n: op for op, n in aeq.quantizable_ops(path)}
    assert "SHAPE" in ops  # the case under test: the export reads the sigmoid's shape
    # output RESHAPE <- LOGISTIC <- CONV_2D (and on into the stem, which feeds nothing else here)
    assert [types.get(n) for n in head[1:3]] == ["LOGISTIC", "CONV_2D"], (head, types)
