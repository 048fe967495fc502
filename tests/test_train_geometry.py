"""Training targets against known answers: label points land on the right tensor pixel of the
SDK's own crop (with the data engine's half-pixel convention), world landmarks turn back with
the SDK's rotate_world_landmarks, and detector targets are the exact inverse of decode_boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from blazepose_sdk.geometry.anchors import DecodeOptions, decode_boxes
from blazepose_sdk.geometry.roi import image_to_roi, letterbox_roi, roi_from_alignment_points, rotate_world_landmarks
from training.config import DetectorLossConfig, DetectorModelConfig, LandmarkModelConfig, TrainConfig
from training.data.sample import alignment_points
from training.models.detector import encode_targets, match_anchors, matching_anchors, sdk_anchors
from training.train_detector import detector_example
from training.train_landmarks import landmark_example

# Body-circle radius that makes the ROI exactly 256 px (ROI side = 2 * r * 1.25).
R_256 = 256 / 2.5


def _person(hip_data_px, angle_rad):
    """33 landmarks (data-engine pixels) of a stick figure whose hip centre is ``hip_data_px``
    and whose hip -> head direction is ``angle_rad`` (screen angle, 0 = right, pi/2 = up); the
    nose sits exactly R_256 from the hip centre, every other landmark closer."""
    u = np.array([math.cos(angle_rad), -math.sin(angle_rad)])  # towards the head
    v = np.array([u[1], -u[0]])  # across the body
    hip = np.asarray(hip_data_px, np.float64)
    lm = np.zeros((33, 3))
    for i in range(33):
        lm[i, :2] = hip + 0.3 * R_256 * u + ((i % 7) - 3) * 4.0 * v
    lm[23, :2], lm[24, :2] = hip + 10 * v, hip - 10 * v
    lm[11, :2], lm[12, :2] = hip + 60 * u + 15 * v, hip + 60 * u - 15 * v
    lm[0, :2] = hip + R_256 * u
    return lm


def _write_records(tmp_path, n=2):
    """``n`` Samples (stick-figure labels on blurred noise, with world landmarks) as TFRecords."""
    import cv2

    from training.data.sample import Sample, ShardedWriter, encode_jpeg

    rng = np.random.default_rng(3)
    with ShardedWriter(str(tmp_path / "s"), n) as w:
        for i in range(n):
            lm = _person((150.5 + 10 * i, 170.5), math.radians(70.0 + 30 * i))
            lm[:, 2] = rng.normal(0, 5, 33)
            img = cv2.GaussianBlur(rng.integers(0, 255, (320, 300, 3), dtype=np.uint8), (0, 0), 3)
            xy = lm[:, :2]
            w.write(Sample(image_jpeg=encode_jpeg(img, 100), landmarks_px=lm.astype(np.float32),
                           visibility=np.ones(33, np.float32), landmark_mask=np.ones(33, np.float32),
                           box_xyxy_px=np.r_[xy.min(0), xy.max(0)].astype(np.float32),
                           alignment_px=alignment_points(lm, np.ones(33)).astype(np.float32),
                           world_m=rng.normal(0, 0.3, (33, 3)).astype(np.float32), has_world=1.0))
    return w.paths


@pytest.mark.parametrize("angle_deg", [90.0, 0.0, 180.0])
def test_label_point_lands_on_its_tensor_pixel(angle_deg):
    # Hip centre on a pixel corner in data coordinates (200.5 = centre of pixel 200 in the
    # SDK's convention), so the crop is an exact integer shift / quarter turn of the image.
    lm = _person((200.5, 200.5), math.radians(angle_deg))
    row, col = 170, 215  # a bright pixel, labelled as the left wrist at its data-engine centre
    lm[15, :2] = (col + 0.5, row + 0.5)
    img = np.zeros((400, 400, 3), np.uint8)
    img[row, col] = 255
    mask = np.ones(33, np.float32)
    crop, t = landmark_example(img, lm, np.ones(33), mask, np.zeros((33, 3)), 0.0, LandmarkModelConfig(), TrainConfig())
    assert crop.shape == (256, 256, 3)
    r, c = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
    assert crop[r, c, 0] == pytest.approx(1.0)  # the pixel was copied, not blurred
    np.testing.assert_allclose(t["coords"][15, :2], (c, r), atol=1e-3)
    # Auxiliary rows: the hip centre is the crop centre, the body-circle point straight above.
    np.testing.assert_allclose(t["coords"][33, :2], (128, 128), atol=1e-3)
    np.testing.assert_allclose(t["coords"][34, :2], (128, 128 - R_256), atol=1e-3)
    assert t["coord_mask"][:35].all() and not t["coord_mask"][35:].any()
    assert t["pose_presence"][0] == 1.0


def test_world_targets_turn_back_with_the_sdk_rotation():
    lm = _person((150.5, 180.5), math.radians(30.0))  # leaning: ROI rotated by 60 degrees
    world = np.random.default_rng(0).normal(size=(33, 3)).astype(np.float32)
    _, t = landmark_example(np.zeros((300, 300, 3), np.uint8), lm, np.ones(33), np.ones(33), world, 1.0,
                            LandmarkModelConfig(), TrainConfig())
    a = alignment_points(lm, np.ones(33)) - 0.5
    roi = roi_from_alignment_points(a[0], a[1])
    assert roi.rotation_rad == pytest.approx(math.radians(60.0))
    np.testing.assert_allclose(rotate_world_landmarks(t["world"][:33], roi.rotation_rad), world, atol=1e-5)
    assert t["world_mask"][0] == 1.0


def test_detector_targets_invert_the_sdk_decoder():
    rng = np.random.default_rng(1)
    anchors = sdk_anchors(224)
    assert anchors.shape == (2254, 4)
    box = np.array([[0.30, 0.20, 0.42, 0.33]])
    kp = rng.uniform(0, 1, (1, 4, 2))
    assign = match_anchors(box, matching_anchors(224), 0.5)
    assert (assign >= 0).sum() >= 1
    raw = encode_targets(box, kp, anchors, assign, 224)
    dec = decode_boxes(raw, anchors, DecodeOptions())[assign >= 0]
    np.testing.assert_allclose(dec[:, :4], np.repeat(box, len(dec), 0), atol=1e-5)
    np.testing.assert_allclose(dec[:, 4:], np.repeat(kp.reshape(1, 8), len(dec), 0), atol=1e-5)


def test_small_faces_get_every_anchor_centred_on_them():
    """A face far smaller than the stride-8 SSD anchors: every anchor whose centre lies on the face
    is positive (not only the best-IoU one), the ring around it is ignored, the rest background."""
    from training.models.detector import BACKGROUND, IGNORED, _iou_one_to_many

    match = matching_anchors(224)
    box = np.array([[101.0, 61.0, 115.0, 75.0]]) / 224  # 14 px face, anchors are >= 33 px
    assign = match_anchors(box, match, 0.5)
    centres = match[:, :2] * 224
    on_face = (centres[:, 0] >= 101) & (centres[:, 0] <= 115) & (centres[:, 1] >= 61) & (centres[:, 1] <= 75)
    assert on_face.sum() >= 2 and (assign[on_face] == 0).all()
    near = (np.abs(centres[:, 0] - 108) <= 14) & (np.abs(centres[:, 1] - 68) <= 14) & ~on_face
    best = int(np.argmax(_iou_one_to_many(box[0], match)))
    near[best] = False
    assert near.any() and (assign[near] == IGNORED).all()
    far = ~(on_face | near) & (np.arange(len(assign)) != best)
    assert (assign[far] == BACKGROUND).all()


def test_detector_example_labels_the_letterboxed_face():
    lm = _person((160.5, 120.5), math.radians(90.0))
    face = np.array([150.0, 10.0, 170.0, 30.0], np.float32)
    img = np.zeros((240, 320, 3), np.uint8)
    x, t = detector_example(img, lm, np.ones(33), face, 1.0, DetectorModelConfig(), DetectorLossConfig(), TrainConfig())
    assert x.shape == (224, 224, 3) and x.min() == -1.0
    pos = t["labels"] > 0
    assert pos.sum() >= 1 and set(np.unique(t["labels"])) == {-1.0, 0.0, 1.0}  # near misses ignored
    dec = decode_boxes(t["boxes"], sdk_anchors(224))[pos]
    frame = letterbox_roi(320, 240)
    want_box = image_to_roi(np.array([[face[0], face[1]], [face[2], face[3]]]) - 0.5, frame).reshape(4)
    np.testing.assert_allclose(dec[0, :4], want_box, atol=1e-5)
    want_hip = image_to_roi(np.array([[160.0, 120.0]]), frame)[0]
    np.testing.assert_allclose(dec[0, 4:6], want_hip, atol=1e-5)


def test_engine_pipeline_targets_match_the_builtin_crops(tmp_path):
    """The data engine's tf.data pipeline, mapped by engine_targets, gives the same crops and
    targets as this package's own SDK-geometry crops (no augmentation)."""
    from training.config import load_config
    from training.train_landmarks import make_dataset, make_engine_dataset

    files = _write_records(tmp_path)
    cfg = load_config(None, "landmark")
    a_img, a = next(iter(make_engine_dataset(files, cfg.model, cfg.train, 2, training=False)))
    b_img, b = next(iter(make_dataset(files, cfg.model, cfg.train, 2, augment=False)))
    assert np.abs(a_img.numpy() - b_img.numpy()).mean() < 0.01  # same crop up to JPEG decoders
    for k in ("coords", "world"):
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), atol=1e-3, err_msg=k)
    for k in ("coord_mask", "z_mask", "vis_mask", "visibility", "presence", "pose_presence", "world_mask"):
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)


def test_evaluate_scores_a_perfect_and_a_shifted_predictor(tmp_path):
    from training.config import load_config
    from training.data.sample import read_tfrecords
    from training.train_landmarks import evaluate, landmark_example

    files = _write_records(tmp_path, 3)
    cfg = load_config(None, "landmark")
    truth = []
    for s in read_tfrecords(files):
        _, t = landmark_example(s.image_rgb(), s.landmarks_px, s.visibility, s.landmark_mask, s.world_m,
                                s.has_world, cfg.model, cfg.train)
        truth.append(t)
    state = {"i": 0}

    def oracle(shift_px):
        def predict(crops):
            i = state["i"]
            state["i"] += len(crops)
            lm = np.stack([t["coords"] for t in truth[i:i + len(crops)]]) + [shift_px, 0.0, 0.0]
            return lm, np.stack([t["world"] for t in truth[i:i + len(crops)]])
        return predict

    perfect = evaluate(oracle(0.0), files, cfg.model, batch_size=2)
    assert perfect["crops"] == 3 and perfect["pck@0.2"] == 1.0
    assert perfect["mean_err_px"] == pytest.approx(0.0, abs=1e-3) and perfect["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)
    state["i"] = 0
    far = evaluate(oracle(200.0), files, cfg.model, batch_size=2)
    assert far["pck@0.2"] == 0.0 and far["mean_err_px"] == pytest.approx(200.0, abs=1e-3)
