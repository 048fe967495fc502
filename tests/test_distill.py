"""FPD distillation: the loss mixes teacher and ground truth as specified, one distillation
step of a tiny Lite-HRNet student lowers it, unlabelled records take only the teacher term, and
the black-box teacher maps its points into the crop and survives tf.data's parallel calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from training.config import DistillConfig
from training.distill import make_loss_fn
from training.distill_data import (
    downscale_crops,
    make_dataset_fn,
    side_teachers,
    split_batch,
    strip_labels,
    teacher_to_crop_px,
    tflite_teacher_fn,
)
from training.losses import fpd_coordinate_loss, fpd_heatmap_loss, gaussian_targets, joints_mse

K = 33


def _maps(seed, b=2, h=16, w=16):
    return tf.constant(np.random.default_rng(seed).uniform(0, 1, (b, h, w, K)).astype(np.float32))


def test_joints_mse_known_value():
    pred = tf.ones((1, 4, 4, 2))
    target = tf.zeros((1, 4, 4, 2))
    # 0.5 * mean((1 - 0)^2) = 0.5 for joint 0; joint 1 weighted 0 -> mean over joints 0.25.
    assert float(joints_mse(pred, target, tf.constant([[1.0, 0.0]]))[0]) == pytest.approx(0.25)


def test_joints_mse_foreground_weight_known_value():
    # target 1 on one of 4 cells, prediction 0: plain 0.5 * 1/4; weighted (1 + 9 * 1) on that cell
    target = tf.constant(np.array([1.0, 0.0, 0.0, 0.0], np.float32).reshape(1, 2, 2, 1))
    pred = tf.zeros((1, 2, 2, 1))
    w = tf.ones((1, 1))
    assert float(joints_mse(pred, target, w)[0]) == pytest.approx(0.125)
    assert float(joints_mse(pred, target, w, fg_weight=9.0)[0]) == pytest.approx(1.25)
    # empty cells keep weight 1: a wrong value there costs the same as before
    assert float(joints_mse(pred + 1.0, tf.zeros_like(target), w, fg_weight=9.0)[0]) == pytest.approx(0.5)


def test_gaussian_targets_peak_at_point():
    pts = np.zeros((1, K, 3), np.float32)
    pts[0, :, 0], pts[0, :, 1] = 20.0, 12.0  # tensor px -> cell (5, 3) at stride 4
    target, weight = gaussian_targets(tf.constant(pts), tf.ones((1, K)), 16, 16, 4.0, 2.0)
    t = target.numpy()[0, ..., 0]
    assert np.unravel_index(t.argmax(), t.shape) == (3, 5) and t.max() == pytest.approx(1.0)
    assert np.all(weight.numpy() == 1)


def test_alpha_one_ignores_ground_truth_and_zero_ignores_teacher():
    s, t, g1, g2 = _maps(0), _maps(1), _maps(2), _maps(3)
    w, has = tf.ones((2, K)), tf.ones((2,))
    a1 = fpd_heatmap_loss(s, t, g1, w, has, alpha=1.0)["total"]
    a1b = fpd_heatmap_loss(s, t, g2, w, has, alpha=1.0)["total"]
    assert float(a1) == pytest.approx(float(a1b))
    a0 = fpd_heatmap_loss(s, t, g1, w, has, alpha=0.0)["total"]
    a0b = fpd_heatmap_loss(s, _maps(4), g1, w, has, alpha=0.0)["total"]
    assert float(a0) == pytest.approx(float(a0b))
    assert float(a1) != pytest.approx(float(a0))
    half = fpd_heatmap_loss(s, t, g1, w, has, alpha=0.5)["total"]
    assert float(half) == pytest.approx(0.5 * float(a1) + 0.5 * float(a0), rel=1e-5)
    # Without ground truth only the teacher counts, whatever alpha.
    no_gt = fpd_heatmap_loss(s, t, g1, w, tf.zeros((2,)), alpha=0.0)["total"]
    assert float(no_gt) == pytest.approx(float(a1))


def test_coordinate_variant():
    s = tf.zeros((1, K, 2))
    t = tf.fill((1, K, 2), 1.0)  # L1 distance 2 to the teacher
    g = tf.fill((1, K, 2), 3.0)  # 6 to the labels
    ones = tf.ones((1, K))
    assert float(fpd_coordinate_loss(s, t, ones, g, ones, tf.ones(1), 1.0)["total"]) == pytest.approx(2.0)
    assert float(fpd_coordinate_loss(s, t, ones, g, ones, tf.ones(1), 0.0)["total"]) == pytest.approx(6.0)
    assert float(fpd_coordinate_loss(s, t, ones, g, ones, tf.ones(1), 0.25)["total"]) == pytest.approx(5.0)


def test_one_distillation_step_lowers_the_loss():
    import keras

    from training.models.lite_hrnet import build_lite_hrnet, variant

    size = 64
    keras.utils.set_random_seed(0)
    student = build_lite_hrnet(variant("lite_hrnet_tiny", input_height=size, input_width=size, num_keypoints=K))
    teacher = build_lite_hrnet(variant("lite_hrnet_tiny", input_height=size, input_width=size, num_keypoints=K,
                                       width=24, name="teacher"))
    teacher.trainable = False
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 1, (4, size, size, 3)).astype(np.float32))
    targets = {"image": images, "landmarks": tf.constant(rng.uniform(4, 60, (4, K, 3)).astype(np.float32)),
               "landmark_mask": tf.ones((4, K)), "presence": tf.ones((4,))}
    loss_fn = make_loss_fn(DistillConfig(input_size=size, alpha=0.5), "heatmap", teacher, "keras")
    opt = keras.optimizers.Adam(1e-2)
    teacher_before = [w.numpy().copy() for w in teacher.weights]

    def loss_value():
        return loss_fn(student(images, training=True), targets)

    before = loss_value()
    with tf.GradientTape() as tape:
        loss = loss_value()["total"]
    grads = tape.gradient(loss, student.trainable_variables)
    opt.apply_gradients(zip(grads, student.trainable_variables))
    after = loss_value()
    assert float(after["total"]) < float(before["total"])
    assert float(before["kd"]) > 0 and float(before["gt"]) > 0
    for a, b in zip(teacher_before, teacher.weights):  # the teacher stays frozen
        np.testing.assert_array_equal(a, b.numpy())


def _targets(rng, b, size):
    return {"landmarks": tf.constant(rng.uniform(4, size - 4, (b, K, 3)).astype(np.float32)),
            "visibility": tf.ones((b, K)), "landmark_mask": tf.ones((b, K)), "presence": tf.ones((b,)),
            "teacher_xy": tf.constant(rng.uniform(4, size - 4, (b, K, 2)).astype(np.float32)),
            "teacher_conf": tf.constant(rng.uniform(0.2, 1.0, (b, K)).astype(np.float32))}


def test_unlabelled_sample_takes_only_the_teacher_term():
    size, rng = 64, np.random.default_rng(0)
    student = _maps(5, b=1)
    labelled = _targets(rng, 1, size)
    other_labels = dict(labelled, landmarks=labelled["landmarks"] + 7.0)
    teacher_keys = ("teacher_xy", "teacher_conf")

    def unlabelled(t):  # the pipeline strips the labels, the teacher's points are added after
        return {**strip_labels({k: v for k, v in t.items() if k not in teacher_keys}),
                **{k: t[k] for k in teacher_keys}}

    def loss(targets, alpha):
        return make_loss_fn(DistillConfig(input_size=size, alpha=alpha), "heatmap", None, "tflite")(student, targets)

    u = loss(unlabelled(labelled), 0.5)
    assert float(u["gt"]) == 0.0 and float(u["kd"]) > 0
    assert float(u["total"]) == pytest.approx(float(u["kd"]))  # alpha is 1 without labels
    assert float(loss(unlabelled(labelled), 0.0)["total"]) == pytest.approx(float(u["total"]))
    assert float(loss(unlabelled(other_labels), 0.5)["total"]) == pytest.approx(float(u["total"]))  # labels unread
    lab = loss(labelled, 0.5)  # the same crop with its labels mixes in the ground truth
    assert float(lab["gt"]) > 0
    assert float(lab["total"]) == pytest.approx(0.5 * float(lab["kd"]) + 0.5 * float(lab["gt"]), rel=1e-5)


def test_split_batch():
    assert split_batch(32, 0.5) == (16, 16)
    assert split_batch(32, 0.25) == (8, 24)
    assert split_batch(4, 0.0) == (1, 3) and split_batch(4, 1.0) == (3, 1)  # at least one of each


def _write_records(path, seed, n=4):
    from training.data.sample import Sample, ShardedWriter, alignment_points, encode_jpeg

    rng = np.random.default_rng(seed)
    with ShardedWriter(str(path), n, per_shard=n) as w:
        for i in range(n):
            lm = np.c_[rng.uniform(110, 210, (K, 2)), np.zeros(K)].astype(np.float32)
            mask = np.ones(K, np.float32)
            w.write(Sample(image_jpeg=encode_jpeg(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), 90),
                           landmarks_px=lm, visibility=mask, landmark_mask=mask,
                           box_xyxy_px=np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32),
                           alignment_px=alignment_points(lm, mask).astype(np.float32),
                           world_m=np.zeros((K, 3), np.float32), has_world=0.0,
                           face_box_xyxy_px=np.zeros(4, np.float32), has_face_box=0.0,
                           source="test", image_id=f"{seed}-{i}"))
    return w.paths


def test_unlabelled_records_arrive_without_labels(tmp_path):
    labelled, unlabelled = _write_records(tmp_path / "lab", 0), _write_records(tmp_path / "unl", 1)
    cfg = DistillConfig(input_size=64, data=labelled, unlabelled_data=unlabelled, labelled_fraction=0.25)
    images, targets = next(iter(make_dataset_fn(cfg, 4, "keras", None)()))
    assert images.shape == (4, 64, 64, 3) and float(tf.reduce_max(images[1:])) > 0  # crops are kept
    mask = targets["landmark_mask"].numpy()
    assert mask[0].sum() > 0  # 1 labelled crop first, then 3 unlabelled ones
    for k, v in targets.items():
        if k != "image":
            assert not np.any(v.numpy()[1:]), k
    with pytest.raises(ValueError, match="teacher"):
        make_dataset_fn(cfg, 4, "none", None)


def test_teacher_points_map_back_to_the_crop():
    # A 128 crop resized to 256: crop pixel j spans teacher pixels 2j - 0.5 .. 2j + 1.5 (centre 2j + 0.5).
    np.testing.assert_allclose(teacher_to_crop_px([[0.5, 254.5], [128.0, 64.0]], 256, 128),
                               [[0.0, 127.0], [63.75, 31.75]])
    np.testing.assert_allclose(teacher_to_crop_px([[3.0, 7.0]], 256, 256), [[3.0, 7.0]])


def test_tflite_teacher_under_parallel_tf_data(reference_models):
    """tf.data parallelizes stateless numpy functions; the teacher's interpreter must not be
    entered twice at once (it raised "reference to internal data" before it took turns)."""
    run_teacher = tflite_teacher_fn(str(reference_models / "pose_landmark_lite.tflite"))
    crops = np.random.default_rng(0).uniform(0, 1, (8, 1, 64, 64, 3)).astype(np.float32)

    def teach(c):
        xy, conf = tf.numpy_function(run_teacher, [c], [tf.float32, tf.float32], stateful=False)
        return xy, conf

    ds = tf.data.Dataset.from_tensor_slices(crops).map(teach, num_parallel_calls=4)
    out = list(ds)
    assert len(out) == 8
    for xy, conf in out:
        assert xy.shape == (1, K, 2) and np.all(np.isfinite(xy.numpy()))
        assert np.all((conf.numpy() >= 0) & (conf.numpy() <= 1))


def test_teacher_confidence_weights_or_scales_the_teacher_term():
    size, rng = 64, np.random.default_rng(1)
    targets = strip_labels({k: v for k, v in _targets(rng, 1, size).items() if not k.startswith("teacher")})
    xy = tf.constant(rng.uniform(8, size - 8, (1, K, 2)).astype(np.float32))
    targets["teacher_xy"] = xy
    conf = np.ones((1, K), np.float32)
    conf[0, 0] = 0.0  # the teacher is unsure of joint 0 only
    targets["teacher_conf"] = tf.constant(conf)
    perfect, _ = gaussian_targets(xy, tf.ones((1, K)), size // 4, size // 4, 4.0)  # unit Gaussians

    def kd(student, mode):
        cfg = DistillConfig(input_size=size, teacher_confidence=mode)
        return float(make_loss_fn(cfg, "heatmap", None, "tflite")(student, targets)["kd"])

    # "weight": unit-peak targets, the unsure joint weighs 0 -> a student of unit Gaussians is exact.
    assert kd(perfect, "weight") == pytest.approx(0.0, abs=1e-9)
    # "scale": the unsure joint's target is a flat zero map, so the same student is penalised.
    assert kd(perfect, "scale") > 1e-4
    flat0 = perfect.numpy().copy()
    flat0[..., 0] = 0.0
    assert kd(tf.constant(flat0), "scale") == pytest.approx(0.0, abs=1e-9)


def test_downscaled_crop_keeps_points_on_their_pixels():
    """A black-box teacher sees the 256 crop; the 64 student gets it area-downscaled with every
    pixel-unit target moved to the same image content."""
    image = np.zeros((1, 256, 256, 3), np.float32)
    image[0, 100:104, 40:44] = 1.0  # a 4x4 block centred at x = 41.5, y = 101.5 (index coordinates)
    targets = {"landmarks": tf.constant([[[41.5, 101.5, 8.0]]]), "aux": tf.constant([[[41.5, 101.5], [0.0, 0.0]]]),
               "teacher_xy": tf.constant([[[41.5, 101.5]]]), "presence": tf.ones((1,))}
    small, out = downscale_crops(tf.constant(image), targets, 64)
    assert small.shape == (1, 64, 64, 3)
    ys, xs = np.nonzero(small.numpy()[0, ..., 0])
    w = small.numpy()[0, ys, xs, 0]
    centre = [np.sum(xs * w) / w.sum(), np.sum(ys * w) / w.sum()]  # the block's centroid, 64-px crop
    for key in ("landmarks", "aux", "teacher_xy"):
        np.testing.assert_allclose(out[key].numpy()[0, 0, :2], centre, atol=1e-5)
    assert float(out["landmarks"][0, 0, 2]) == pytest.approx(2.0)  # z scales with x and y
    assert out["presence"] is targets["presence"]
    same, unchanged = downscale_crops(tf.constant(image), targets, 256)
    assert unchanged is targets


def test_regression_student_export_maps_points_to_the_sdk_crop(tmp_path):
    """A 128-px BlazePose student behind the 256-px SDK input: the in-graph 2x2 average pool is
    the area downscale it trained on, and its points come out in 256-px index coordinates
    (x' = 2 x + 0.5, z' = 2 z); the float TFLite file matches Keras and loads in the SDK."""
    import keras

    from blazepose_sdk.stages.landmarker import PoseLandmarker
    from blazepose_sdk.stages.runtime import TFLiteModel
    from training.distill_export import regression_export_model
    from training.students import build_student
    from training.models.export import to_tflite
    from training.models.landmark import inference_model

    keras.utils.set_random_seed(0)
    student = build_student("blazepose_lite", 128)
    wrapped = regression_export_model(student, 256)
    assert wrapped.inputs[0].shape[1:] == (256, 256, 3)
    crop = np.random.default_rng(0).uniform(0, 1, (1, 256, 256, 3)).astype(np.float32)
    small = crop.reshape(1, 128, 2, 128, 2, 3).mean(axis=(2, 4))  # 2x2 area downscale
    raw = np.asarray(inference_model(student)(small)[0]).reshape(39, 5)
    rows, presence, world = (np.asarray(t) for t in wrapped(crop))
    rows = rows.reshape(39, 5)
    np.testing.assert_allclose(rows[:, :2], 2 * raw[:, :2] + 0.5, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(rows[:, 2], 2 * raw[:, 2], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(rows[:, 3:], raw[:, 3:], rtol=1e-4, atol=1e-4)
    assert presence.shape == (1, 1) and world.shape == (1, 117)
    path = to_tflite(wrapped, tmp_path / "student.tflite", "float")
    with TFLiteModel(path) as m:
        PoseLandmarker(m)  # the SDK accepts it as a landmark model
        out = {int(np.prod(s.shape)): o for s, o in zip(m.outputs, m.run(crop))}
    np.testing.assert_allclose(out[195].reshape(39, 5), rows, rtol=1e-3, atol=1e-2)


# -- imported (official) students ------------------------------------------------------------
def test_score_kd_loss_known_values():
    from training.losses import score_kd_loss

    # visibility logit 0 (p = 0.5) against teacher 0.5: BCE = ln 2 for every landmark;
    # presence 0.5 against teacher 1.0: -ln 0.5 = ln 2; per sample ln 2 + ln 2
    loss = score_kd_loss(tf.zeros((2, 39)), tf.fill((2, 1), 0.5), tf.fill((2, 33), 0.5), tf.ones((2,)))
    np.testing.assert_allclose(loss.numpy(), [2 * np.log(2)] * 2, rtol=1e-5)
    # a confident student that agrees with a confident teacher costs almost nothing
    agree = score_kd_loss(tf.fill((1, 39), 12.0), tf.fill((1, 1), 0.999999), tf.ones((1, 33)), tf.ones((1,)))
    assert float(agree[0]) < 1e-4


def test_heatmap_kd_loss_zero_when_equal_and_skipped_without_teacher_maps():
    from training.losses import heatmap_kd_loss

    hm = tf.constant(np.random.default_rng(0).normal(size=(2, 8, 8, 39)).astype(np.float32))
    assert float(heatmap_kd_loss(hm, hm[..., :33])) == 0.0
    # one cell off by sigmoid 0.5 -> 0.5 in one joint's map: 0.25 / 33 joints, averaged over 1 sample
    s = tf.zeros((1, 8, 8, 33))
    t = tf.tensor_scatter_nd_update(tf.fill((1, 8, 8, 33), -1e4), [[0, 3, 3, 5]], [1e4])
    lower = tf.fill((1, 8, 8, 33), -1e4)
    assert float(heatmap_kd_loss(lower, t)) == pytest.approx(1.0 / 33, rel=1e-5)
    assert float(heatmap_kd_loss(s, tf.zeros((1, 0, 0, 33)))) == 0.0


def test_export_only_exports_the_latest_checkpoint(tmp_path):
    """`--export-only` restores the run's latest checkpoint (not fresh weights) and writes
    RUN/export_stepN with a manifest, without training."""
    import json

    from training.distill import main
    from training.students import build_student
    from training.models.runner import restore_latest

    records = _write_records(tmp_path / "lab", 0)
    run = tmp_path / "run"
    common = ["--student", "lite_hrnet_tiny", "--data", *records, "--run-dir", str(run), "--input-size", "64",
              "--batch-size", "2", "--steps", "2"]
    assert main(common + ["--checkpoint-every", "1", "--log-every", "1"]) == 0
    trained = build_student("lite_hrnet_tiny", 64)
    trained.load_weights(str(run / "student.weights.h5"))
    restored = build_student("lite_hrnet_tiny", 64)
    assert restore_latest(restored, run) == 2
    for a, b in zip(trained.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    fresh = build_student("lite_hrnet_tiny", 64)
    assert any(not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), restored.get_weights()))

    assert main(common + ["--export-only"]) == 0
    out = run / "export_step2"
    assert (out / "lite_hrnet_tiny.tflite").is_file() and (out / "lite_hrnet_tiny_int8.tflite").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"lite_hrnet_tiny.tflite", "lite_hrnet_tiny_int8.tflite"} <= set(manifest["models"])
    with pytest.raises(SystemExit, match="no checkpoint"):
        restore_latest(fresh, tmp_path / "empty")
    # the float16 weights-only files a milestone commits: the run's and the exported checkpoint's
    from training.weights_file import load_weights

    for small in (run / "student.weights.fp16.npz", out / "student.weights.fp16.npz"):
        loaded = build_student("lite_hrnet_tiny", 64)
        load_weights(loaded, small)
        for a, b in zip(trained.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a.astype(np.float16).astype(a.dtype), b)
    with pytest.raises(ValueError, match="not this model's"):
        load_weights(build_student("lite_hrnet_18", 64), run / "student.weights.fp16.npz")


def test_a_heatmap_student_exports_at_its_own_crop_with_heatmaps_out(tmp_path):
    """A heatmap student's SDK model is the student itself: its own input size (the SDK crops each
    landmark model at its input size, the crop it was trained on), its keypoint heatmaps out (the
    SDK decodes them), float and all-integer INT8, with manifest entries the SDK reads."""
    from ai_edge_litert.interpreter import Interpreter

    from blazepose_sdk.assets.manifest import load_manifest
    from convert.aeq import op_precisions
    from training.config import DistillConfig
    from training.distill_export import export_student
    from training.students import build_student

    records = _write_records(tmp_path / "lab", 0)
    for size in (96, 64):
        cfg = DistillConfig(student="lite_hrnet_tiny", input_size=size, data=records)
        paths = export_student(build_student("lite_hrnet_tiny", size), cfg, tmp_path / f"out{size}",
                               num_calibration=2)
        assert [Path(p).name for p in paths] == ["lite_hrnet_tiny.tflite", "lite_hrnet_tiny_int8.tflite"]
        for path in paths:
            interpreter = Interpreter(path)
            assert tuple(interpreter.get_input_details()[0]["shape"]) == (1, size, size, 3), path
            assert tuple(interpreter.get_output_details()[0]["shape"]) == (1, size // 4, size // 4, 33), path
        assert {dtype for _, _, dtype in op_precisions(paths[1])[:-1]} == {"int8"}
        entries = load_manifest(tmp_path / f"out{size}")["models"]
        assert [o["role"] for o in entries["lite_hrnet_tiny_int8.tflite"]["outputs"]] == ["keypoint_heatmaps"]


def test_side_teachers_give_aux_rows_and_presence_of_their_own_model(tmp_path):
    """``--aux-teacher`` / ``--presence-teacher``: those targets come from that model (run once
    when both name it), every other target from the teacher."""
    files = Path(__file__).resolve().parents[1] / "blazepose_sdk" / "model_files"
    teacher, side = str(files / "pose_landmark_lite.tflite"), str(files / "ours_pose_landmark_lite_int8.tflite")
    base = DistillConfig(student="imported:unused.keras", input_size=256, data=_write_records(tmp_path / "lab", 0),
                         aux_kd_weight=0.5)
    run_teacher = tflite_teacher_fn(teacher, with_scores=True, with_aux=True)
    run_side = tflite_teacher_fn(side, with_scores=True, with_aux=True)
    for aux_teacher, presence_teacher in ((side, ""), ("", side), (side, side), ("", "")):
        cfg = DistillConfig(**{**base.__dict__, "aux_teacher": aux_teacher, "presence_teacher": presence_teacher})
        assert len(side_teachers(cfg)) == int(bool(aux_teacher or presence_teacher))
        images, targets = next(iter(make_dataset_fn(cfg, 2, "tflite", teacher)()))
        own, other = run_teacher(images.numpy()), run_side(images.numpy())
        np.testing.assert_allclose(targets["teacher_xy"].numpy(), own[0], atol=1e-4)
        np.testing.assert_allclose(targets["teacher_aux"].numpy(), (other if aux_teacher else own)[5], atol=1e-4)
        np.testing.assert_allclose(targets["teacher_presence"].numpy(), (other if presence_teacher else own)[3], atol=1e-5)
        assert np.abs(own[5] - other[5]).max() > 0.1  # two different models' rows


def test_side_teachers_need_an_imported_student_a_black_box_teacher_and_the_aux_term(tmp_path, capsys):
    from training.distill import main

    base = ["--data", str(tmp_path), "--run-dir", str(tmp_path / "run")]
    imported = ["--student", "imported:x.keras", "--teacher", "reference-heavy"]
    for extra in (["--student", "lite_hrnet_18", "--aux-kd-weight", "0.5", "--aux-teacher", "reference-lite"],
                  ["--student", "imported:x.keras", "--presence-teacher", "reference-lite"],  # teacher none
                  imported + ["--aux-teacher", "reference-lite"],  # no --aux-kd-weight
                  imported + ["--aux-kd-weight", "0.5", "--aux-teacher", "VARIANT:W.h5"],
                  imported + ["--presence-teacher", "VARIANT:W.h5"]):
        with pytest.raises(SystemExit) as e:
            main(base + extra)
        assert e.value.code == 2
    assert "-teacher" in capsys.readouterr().err
