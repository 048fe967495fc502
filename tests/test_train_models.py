"""Build each model, take a few optimizer steps on a tiny batch (the loss must drop), export the
inference model to TFLite and check that the SDK's own stages accept and decode it."""

from __future__ import annotations

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras

from blazepose_sdk.stages.detector import PoseDetector
from blazepose_sdk.stages.landmarker import PoseLandmarker
from blazepose_sdk.stages.roles import output_roles as shape_roles
from blazepose_sdk.assets.models import model_file_from_path
from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.stages.runtime import TFLiteModel, file_sha256
from training.config import (
    LITE_WIDTH,
    DetectorLossConfig,
    DetectorModelConfig,
    LandmarkLossConfig,
    LandmarkModelConfig,
    TrainConfig,
    load_config,
)
from training.losses import detector_losses, landmark_losses
from training.models.detector import build_detector
from training.models.export import detector_manifest_entry, landmark_manifest_entry, to_tflite, write_manifest
from training.models.landmark import build_landmark_model, inference_model
from training.train_detector import detector_example
from training.train_landmarks import landmark_example


def _stick_figure(rng, size=256):
    """A drawn stick figure (RGB uint8) and its 33 landmarks in data-engine pixels."""
    import cv2

    img = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
    hip = np.array([size / 2, size * 0.6]) + rng.uniform(-10, 10, 2)
    lm = np.zeros((33, 3), np.float32)
    lm[:11, :2] = hip + [0, -0.45 * size] + rng.uniform(-6, 6, (11, 2))
    lm[11:23, :2] = hip + [0, -0.3 * size] + rng.uniform(-40, 40, (12, 2))
    lm[23:, :2] = hip + [0, 0.15 * size] + rng.uniform(-30, 30, (10, 2))
    lm[23, :2], lm[24, :2] = hip + [12, 0], hip - [12, 0]
    for p in lm[:, :2]:
        cv2.circle(img, (int(p[0]), int(p[1])), 3, (255, 255, 255), -1)
    return img, lm


def _steps(model, loss_of, images, n, lr):
    """``n`` Adam steps on one batch, eagerly (tracing a tf.function costs more than 8 steps)."""
    opt = keras.optimizers.Adam(lr)

    def step():
        with tf.GradientTape() as tape:
            loss = loss_of(model(images, training=True))["total"]
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return [float(step()) for _ in range(n)]


def test_config_files_load():
    from pathlib import Path

    cfg_dir = Path(__file__).resolve().parents[1] / "training" / "configs"
    lite = load_config(cfg_dir / "landmark_lite.yaml", "landmark", {"train.steps": 7})
    assert lite.model.width == LITE_WIDTH and lite.train.steps == 7
    assert load_config(cfg_dir / "detector.yaml", "detector").model.input_size == 224
    with pytest.raises(ValueError):
        load_config(None, "landmark", {"model.nope": 1})


def test_landmark_model_trains_and_exports_for_the_sdk(tmp_path):
    keras.utils.set_random_seed(0)
    cfg = LandmarkModelConfig(width=LITE_WIDTH)
    model = build_landmark_model(cfg)
    assert 0.4e6 < model.count_params() < 1.5e6  # Lite: INT8 file must stay <= 1.5 MB
    rng = np.random.default_rng(0)
    crops, targets = [], []
    for _ in range(2):
        img, lm = _stick_figure(rng)
        c, t = landmark_example(img, lm, np.ones(33), np.ones(33), rng.normal(0, 0.3, (33, 3)), 1.0, cfg, TrainConfig())
        crops.append(c)
        targets.append(t)
    images = tf.constant(np.stack(crops))
    tgt = {k: tf.constant(np.stack([t[k] for t in targets])) for k in targets[0]}
    losses = _steps(model, lambda out: landmark_losses(out, tgt, LandmarkLossConfig()), images, 8, 3e-3)
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-3:]) < 0.7 * losses[0], losses

    path = to_tflite(inference_model(model), tmp_path / "lm.tflite", "float")
    with TFLiteModel(path) as tfl:
        assert tfl.inputs[0].shape == (1, 256, 256, 3)
        assert sorted(o.shape for o in tfl.outputs) == [(1, 1), (1, 117), (1, 195)]
        lmk = PoseLandmarker(tfl)
        assert lmk.num_rows == 39 and not lmk.refine
        frame = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
        out = lmk(frame, Roi(200.0, 150.0, 200.0, 0.3))
        assert out.landmarks_px.shape == (33, 5) and out.world_m.shape == (33, 3)
        assert 0.0 <= out.presence <= 1.0 and np.isfinite(out.world_m).all()
    # The export's manifest is the SDK's: PoseTracker would check the hash and use these roles.
    write_manifest(tmp_path, [landmark_manifest_entry(path)])
    lm_file = model_file_from_path(path)
    assert lm_file.sha256 == file_sha256(path) and lm_file.value_range == (0.0, 1.0)
    with TFLiteModel(path) as tfl:
        lmk = PoseLandmarker(tfl)
        assert lm_file.output_roles == tuple(shape_roles("landmark", [o.shape for o in tfl.outputs], 256))
        assert (lmk.landmarks_output, lmk.presence_output, lmk.world_output) == (
            lm_file.output_roles.index("landmarks"), lm_file.output_roles.index("presence"),
            lm_file.output_roles.index("world"))
        # The TFLite model computes what Keras computes (x, y in tensor px, sigmoid presence).
        from blazepose_sdk.geometry.image import crop_roi
        from blazepose_sdk.stages.landmarker import LANDMARK_VALUE_RANGE

        x = crop_roi(frame, Roi(200.0, 150.0, 200.0, 0.3), 256, LANDMARK_VALUE_RANGE)
        ref = model(x, training=False)
        got = tfl.run(x)
        got_lm = next(g for g in got if g.size == 195)
        np.testing.assert_allclose(got_lm.reshape(39, 5), ref["landmarks"].numpy()[0], rtol=1e-3, atol=1e-2)
        got_p = next(g for g in got if g.size == 1)
        assert float(got_p.reshape(-1)[0]) == pytest.approx(float(tf.sigmoid(ref["pose_presence"])[0, 0]), abs=1e-4)


def test_detector_trains_and_exports_for_the_sdk(tmp_path):
    keras.utils.set_random_seed(0)
    cfg = DetectorModelConfig()
    model = build_detector(cfg)
    rng = np.random.default_rng(1)
    xs, labels, boxes = [], [], []
    for _ in range(2):
        img, lm = _stick_figure(rng)
        face = np.r_[lm[:11, :2].min(0) - 4, lm[:11, :2].max(0) + 4].astype(np.float32)
        x, t = detector_example(img, lm, np.ones(33), face, 1.0, cfg, DetectorLossConfig(), TrainConfig())
        xs.append(x)
        labels.append(t["labels"])
        boxes.append(t["boxes"])
    tgt = {"labels": tf.constant(np.stack(labels)), "boxes": tf.constant(np.stack(boxes))}
    assert float(tf.reduce_sum(tf.cast(tgt["labels"] > 0, tf.float32))) >= 2
    losses = _steps(model, lambda out: detector_losses(out[0], out[1], tgt, DetectorLossConfig(), 224),
                    tf.constant(np.stack(xs)), 8, 3e-3)
    assert np.mean(losses[-3:]) < 0.7 * losses[0], losses

    path = to_tflite(model, tmp_path / "det.tflite", "float")
    with TFLiteModel(path) as tfl:
        assert tfl.inputs[0].shape == (1, 224, 224, 3)
        assert sorted(o.shape for o in tfl.outputs) == [(1, 2254, 1), (1, 2254, 12)]
        det = PoseDetector(tfl, min_score=0.0)
        assert det.input_size == 224 and det.anchors.shape == (2254, 4)
        found = det(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
        assert len(found) >= 1 and all(0.0 <= d.score <= 1.0 for d in found)
    write_manifest(tmp_path, [detector_manifest_entry(path)])
    det_file = model_file_from_path(path)
    assert det_file.sha256 == file_sha256(path) and det_file.value_range == (-1.0, 1.0)
    assert det_file.output_roles[det.box_output] == "boxes" and det_file.output_roles[det.score_output] == "scores"


def test_detector_cli_trains_resumes_and_exports(tmp_path):
    """`python -m training.train_detector` end to end on 4 records: 2 steps with a checkpoint,
    a rerun that resumes at step 2 and stops at 3, then --export-only of the latest checkpoint
    (Keras file, float and INT8 TFLite, manifest) that the SDK's detector accepts."""
    import json

    from training.data.sample import Sample, ShardedWriter, alignment_points, encode_jpeg
    from training.train_detector import main

    rng = np.random.default_rng(2)
    with ShardedWriter(str(tmp_path / "rec"), 4, per_shard=4) as w:
        for i in range(4):
            img, lm = _stick_figure(rng)
            mask = np.ones(33, np.float32)
            face = np.r_[lm[:11, :2].min(0) - 4, lm[:11, :2].max(0) + 4].astype(np.float32)
            w.write(Sample(image_jpeg=encode_jpeg(img), landmarks_px=lm, visibility=mask, landmark_mask=mask,
                           box_xyxy_px=np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32),
                           alignment_px=alignment_points(lm, mask).astype(np.float32),
                           face_box_xyxy_px=face, has_face_box=1.0, source="test", image_id=f"s{i}"))
    run = tmp_path / "run"
    common = ["--run-dir", str(run), "--set", f"train.data=[{tmp_path}/rec-*.tfrecord]", "--set", "train.batch_size=2",
              "--set", "train.warmup=1", "--set", "train.log_every=1", "--set", "train.checkpoint_every=1",
              "--set", "train.shuffle_buffer=4", "--strategy", "default", "--precision", "float32"]
    assert main(common + ["--set", "train.steps=2"]) == 0
    assert main(common + ["--set", "train.steps=3"]) == 0
    steps = [json.loads(line)["step"] for line in (run / "losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]  # resumed at 2, not restarted
    assert main(common + ["--set", "train.steps=3", "--export-only"]) == 0
    out = run / "export"
    assert {"pose_detection_ours.keras", "pose_detection_ours.tflite", "pose_detection_ours_int8.tflite",
            "manifest.json"} <= {p.name for p in out.iterdir()}
    restored = keras.models.load_model(out / "pose_detection_ours.keras")
    x = np.random.default_rng(3).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    det_file = model_file_from_path(out / "pose_detection_ours_int8.tflite")
    with TFLiteModel(out / "pose_detection_ours.tflite") as tfl:
        got = tfl.run(x)
        boxes = next(g for g in got if g.shape[-1] == 12)
        np.testing.assert_allclose(boxes, restored(x)[0].numpy(), rtol=1e-3, atol=1e-3)
    with TFLiteModel(det_file.path, expected_sha256=det_file.sha256) as tfl:
        PoseDetector(tfl, value_range=det_file.value_range, output_roles=det_file.output_roles)
