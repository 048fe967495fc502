"""Teacher pseudo-labels: the filter (thresholds -> masks/drops), the SDK -> data-engine
conversion, and the CLI on basketball1.png and a short clip with the official heavy model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.data.pseudo_label import PseudoLabelOptions, filter_pose, pose_to_sample, same_person

LEFT_HIP, RIGHT_HIP = 23, 24


def _pose(vis):
    lm = np.zeros((33, 5))
    lm[:, 0] = np.linspace(10, 90, 33)
    lm[:, 1] = np.linspace(20, 180, 33)
    lm[:, 3] = vis
    lm[:, 4] = 1.0
    return lm


def test_filter_masks_low_visibility_and_drops():
    vis = np.where(np.arange(33) < 20, 0.9, 0.3)
    opt = PseudoLabelOptions(min_presence=0.8, min_visibility=0.5, min_landmarks=16)
    verdict, mask, v = filter_pose(_pose(vis), 0.95, (100, 200), opt)
    assert verdict == "keep"
    np.testing.assert_array_equal(mask, (np.arange(33) < 20).astype(np.float32))
    np.testing.assert_array_equal(v, mask)
    assert filter_pose(_pose(vis), 0.79, (100, 200), opt)[0] == "low_presence"
    assert filter_pose(_pose(vis), float("nan"), (100, 200), opt)[0] == "low_presence"
    assert filter_pose(_pose(vis), 0.95, (100, 200), PseudoLabelOptions(min_landmarks=21))[0] == "few_landmarks"
    assert filter_pose(_pose(vis), 0.95, (100, 200), PseudoLabelOptions(min_landmarks=20))[0] == "keep"
    # a confident landmark outside the image stays labelled (mask 1) but is not visible
    p = _pose(np.full(33, 0.99))
    p[5, 0] = 100.0  # SDK x 100 = engine x 100.5, beyond the 100 px wide image
    p[6, 1] = -0.6  # engine y -0.1
    _, mask, v = filter_pose(p, 1.0, (100, 200), opt)
    assert mask.sum() == 33 and v[5] == 0 and v[6] == 0 and v.sum() == 31


def test_pose_to_sample_converts_pixels_and_world():
    lm = _pose(np.ones(33))
    world = np.random.default_rng(0).normal(size=(33, 3))
    mask = np.ones(33, np.float32)
    s = pose_to_sample(b"jpeg", lm, world, mask, mask, (100, 200), (10, 20, 30, 40), "pseudo:x", "img-p0")
    np.testing.assert_allclose(s.landmarks_px[:, :2], lm[:, :2] + 0.5, atol=1e-5)
    np.testing.assert_allclose(0.5 * (s.world_m[LEFT_HIP] + s.world_m[RIGHT_HIP]), 0, atol=1e-6)
    np.testing.assert_allclose(s.world_m[3] - s.world_m[7], world[3] - world[7], atol=1e-5)
    assert s.has_world == 1.0 and s.has_face_box == 1.0 and s.source == "pseudo:x"
    np.testing.assert_allclose(s.face_box_xyxy_px, [10.5, 20.5, 30.5, 40.5])
    hip = 0.5 * (s.landmarks_px[LEFT_HIP, :2] + s.landmarks_px[RIGHT_HIP, :2])
    np.testing.assert_allclose(s.alignment_px[0], hip, atol=1e-4)
    assert pose_to_sample(b"", lm, np.full((33, 3), np.nan), mask, mask, (100, 200)).has_world == 0.0


def test_same_person():
    a = _pose(np.ones(33))[:, :2]
    assert same_person(a, a + 3.0)  # 4.2 px mean distance, box side 160
    assert not same_person(a, a + 40.0)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, shared_data, reference_models):
    """basketball1.png plus a 6-frame clip (every 2nd frame labelled), default thresholds."""
    pytest.importorskip("tensorflow")
    from parity_images import make_pan_clip

    from blazepose_sdk.app.video import VideoWriter
    from training.data.pseudo_label import main

    d = tmp_path_factory.mktemp("pseudo")
    with VideoWriter(d / "clip.avi", 10) as w:
        for f in make_pan_clip(shared_data, 6):
            w.write(f)
    assert main([str(shared_data / "basketball1.png"), str(d / "clip.avi"), "--out", str(d / "out"),
                 "--every", "2"]) == 0
    return d


def test_cli_labels_image_and_clip(labelled, shared_data):
    from blazepose_sdk import PoseTracker, TrackerOptions
    from blazepose_sdk.app.video import read_image
    from training.data.sample import read_tfrecords

    m = json.loads((labelled / "out" / "manifest.json").read_text())
    c = m["counts"]
    assert c["frames"] == 4  # the image and clip frames 0, 2, 4
    assert c["keep"] >= 3 and c["keep"] + c["low_presence"] + c["few_landmarks"] + c["duplicate"] == c["detections"]
    samples = read_tfrecords(sorted((labelled / "out").glob("pseudo-*-of-*.tfrecord")))
    assert len(samples) == c["keep"] and not list((labelled / "out").glob("*.partial"))
    assert all(s.source == "pseudo:reference-heavy" and s.has_world == 1.0 for s in samples)
    s = next(s for s in samples if s.image_id == "basketball1-p0")
    assert s.image_id == "basketball1-p0" and s.landmark_mask.sum() >= 16
    assert s.image_jpeg[:3] == b"\xff\xd8\xff" and s.image_rgb().shape == (480, 640, 3)
    # the labels are the SDK's static-mode output, shifted into the data engine's pixel convention
    with PoseTracker(TrackerOptions(model="reference-heavy", static_image_mode=True)) as t:
        pose = t.process(read_image(shared_data / "basketball1.png")).pose
    np.testing.assert_allclose(s.landmarks_px[:, :2], pose.array_px[:, :2] + 0.5, atol=1e-3)
    np.testing.assert_array_equal(s.landmark_mask, (pose.array_px[:, 3] >= 0.5).astype(np.float32))
    assert not np.isnan(s.alignment_px).any() and s.has_face_box == 1.0
    assert s.alignment_px[1, 1] < s.alignment_px[0, 1]  # body-circle point above the hips (upright player)


def test_cli_thresholds_mask_and_drop(labelled, shared_data):
    from training.data.pseudo_label import PseudoLabelOptions, pseudo_label
    from training.data.sample import read_tfrecords

    img = str(shared_data / "basketball1.png")
    m = pseudo_label([img], str(labelled / "strict"), options=PseudoLabelOptions(min_visibility=0.9), progress=False)
    (s,) = read_tfrecords([labelled / "strict" / m["shards"][0]])
    assert 16 <= s.landmark_mask.sum() < 33  # the heavy model gives some landmarks 0.8-0.9 on this image
    assert np.all(s.visibility <= s.landmark_mask)
    m = pseudo_label([img], str(labelled / "none"), options=PseudoLabelOptions(min_presence=1.01), progress=False)
    assert m["counts"]["keep"] == 0 and m["counts"]["low_presence"] == 1 and m["shards"] == []
    m = pseudo_label([img], str(labelled / "few"), options=PseudoLabelOptions(min_visibility=0.999, min_landmarks=33),
                     progress=False)
    assert m["counts"]["few_landmarks"] == 1 and m["counts"]["keep"] == 0


# -- test-time augmentation ----------------------------------------------------------------
def test_mirror_roi_and_unmirror_are_inverse_and_swap_sides():
    from blazepose_sdk.geometry.roi import Roi
    from blazepose_sdk.geometry.topology import LANDMARK_NAMES
    from training.data.pseudo_label import mirror_roi, unmirror_landmarks, unmirror_world

    roi = Roi(30.0, 40.0, 50.0, 0.3)
    m = mirror_roi(roi, 100)
    assert (m.center_x_px, m.center_y_px, m.size_px, m.rotation_rad) == (69.0, 40.0, 50.0, -0.3)
    # the mirrored ROI's corners are the original corners mirrored (top-left <-> top-right)
    corners, mirrored = roi.corners_px(), m.corners_px()
    np.testing.assert_allclose(mirrored[[1, 0, 3, 2]], np.c_[99.0 - corners[:, 0], corners[:, 1]], atol=1e-9)
    lm = _pose(np.linspace(0.1, 0.9, 33))
    back = unmirror_landmarks(unmirror_landmarks(lm, 100), 100)
    np.testing.assert_allclose(back, lm)
    once = unmirror_landmarks(lm, 100)
    left_wrist, right_wrist = LANDMARK_NAMES.index("left_wrist"), LANDMARK_NAMES.index("right_wrist")
    np.testing.assert_allclose(once[left_wrist], [99.0 - lm[right_wrist, 0], *lm[right_wrist, 1:]])
    world = np.random.default_rng(1).normal(size=(33, 3))
    w1 = unmirror_world(world)
    assert w1[left_wrist, 0] == -world[right_wrist, 0] and w1[left_wrist, 1] == world[right_wrist, 1]
    np.testing.assert_allclose(unmirror_world(w1), world)


def test_merge_tta_averages_and_scores_agreement():
    from training.data.pseudo_label import merge_tta

    a = _pose(np.full(33, 0.8))
    b = a.copy()
    b[:, 0] += 2.0  # every landmark 2 px to the right in the second run
    b[0, 0] += 8.0  # the nose a further 8 px
    lm, world, presence, conf, spread = merge_tta(np.stack([a, b]), np.zeros((2, 33, 3)), np.array([0.9, 0.7]),
                                                  roi_side_px=200.0, max_spread=0.05)
    np.testing.assert_allclose(lm[1:, 0], a[1:, 0] + 1.0)
    np.testing.assert_allclose(spread[1:], 1.0)  # each run 1 px from the mean
    assert spread[0] == pytest.approx(5.0) and presence == pytest.approx(0.8)
    # agreement 1 - spread / (0.05 x 200 px): 0.9 for 1 px, 0.5 for 5 px; times visibility 0.8
    np.testing.assert_allclose(conf[1:], 0.72)
    assert conf[0] == pytest.approx(0.4)


def test_tta_labels_on_basketball(labelled, shared_data):
    """Flip + 3 scales with the heavy teacher: the averaged labels stay on the player (within a few
    pixels of the plain run), the flipped runs agree with the plain ones once left/right are
    swapped back, and every kept sample has its confidence record."""
    from training.data.pseudo_label import PseudoLabelOptions, pseudo_label
    from training.data.sample import read_tfrecords

    img = str(shared_data / "basketball1.png")
    opt = PseudoLabelOptions(tta_flip=True, tta_scales=(0.9, 1.0, 1.1))
    m = pseudo_label([img], str(labelled / "tta"), options=opt, progress=False)
    (s,) = read_tfrecords([labelled / "tta" / m["shards"][0]])
    (plain,) = read_tfrecords([labelled / "out" / json.loads((labelled / "out" / "manifest.json").read_text())
                               ["shards"][0]], limit=1)
    assert plain.image_id == s.image_id == "basketball1-p0"
    both = (s.landmark_mask > 0) & (plain.landmark_mask > 0)
    assert both.sum() >= 16
    d = np.linalg.norm(s.landmarks_px[both, :2] - plain.landmarks_px[both, :2], axis=1)
    assert np.median(d) < 4.0, d  # the player is about 300 px tall
    (record,) = [json.loads(line) for line in (labelled / "tta" / "confidence.jsonl").read_text().splitlines()]
    assert record["image_id"] == s.image_id and len(record["confidence"]) == 33
    conf = np.asarray(record["confidence"])
    np.testing.assert_array_equal(s.landmark_mask, (conf >= opt.min_visibility).astype(np.float32))
    # a spread of a few pixels on the clearly seen landmarks means the mirrored runs were swapped back
    # correctly (an unswapped left/right pair would sit tens of pixels apart)
    assert np.median(np.asarray(record["spread_px"])[both]) < 5.0
