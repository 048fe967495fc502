"""The independent real set: agreement rule, MoveNet crop geometry and TF.js decoding, label files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blazepose_sdk.bench import independent_set as ind
from blazepose_sdk.bench.datasets import coco17_of, load_labels, to_coco_gt
from blazepose_sdk.bench.peers import movenet as mn
from blazepose_sdk.errors import FetchError, ModelHashMismatchError, ModelNotFoundError
from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, COCO17_NAMES


# -- agreement rule --------------------------------------------------------------------------
def test_agree_keypoints_mean_disagree_missing():
    a = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    b = np.array([[2.0, 0.0], [30.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    a_ok = np.array([True, True, False, True])
    b_ok = np.array([True, True, True, False])
    # threshold 0.05 x 100 = 5 px: 2 px agrees, 20 px does not
    label, status, dist = ind.agree_keypoints(a, a_ok, b, b_ok, size_px=100.0, fraction=0.05)
    assert list(status) == [ind.AGREED, ind.DISAGREE, ind.MISSING, ind.MISSING]
    np.testing.assert_allclose(label[0], [1.0, 0.0])
    assert np.isnan(label[1:]).all()
    np.testing.assert_allclose(dist[:2], [2.0, 20.0])
    assert np.isnan(dist[2:]).all()


def test_agreement_threshold_is_strict():
    a, b = np.array([[0.0, 0.0]]), np.array([[5.0, 0.0]])
    ok = np.array([True])
    assert ind.agree_keypoints(a, ok, b, ok, 100.0, 0.05)[1][0] == ind.DISAGREE  # 5 is not < 5
    assert ind.agree_keypoints(a, ok, b, ok, 100.1, 0.05)[1][0] == ind.AGREED


def test_person_size_is_geometric_mean_of_the_two_box_diagonals():
    a = np.array([[0.0, 0.0], [30.0, 40.0], [500.0, 500.0]])  # diagonal 50 (third point not confident)
    b = np.array([[0.0, 0.0], [60.0, 80.0], [0.0, 0.0]])  # diagonal 100
    ok_a = np.array([True, True, False])
    assert ind.person_size_px(a, ok_a, b, np.ones(3, bool)) == pytest.approx(math.sqrt(50 * 100))
    assert ind.person_size_px(a, np.array([True, False, False]), b, np.ones(3, bool)) == 0.0


def _pose(offset=0.0, conf=1.0):
    """(17, 3) standing person, 100 px wide, ~400 px tall, plus ``offset`` px in x."""
    y = np.array([20, 15, 15, 18, 18, 80, 80, 150, 150, 210, 210, 220, 220, 320, 320, 420, 420], float)
    x = np.array([50, 45, 55, 40, 60, 20, 80, 10, 90, 5, 95, 30, 70, 30, 70, 30, 70], float) + 100
    return np.column_stack([x + offset, y, np.full(17, conf)])


def test_combine_agree_and_one_model_missing():
    heavy, movenet = _pose(), _pose(offset=4.0, conf=0.9)
    person = ind.combine(heavy, movenet, 640, 480)
    assert person.agreed.all()
    np.testing.assert_allclose(person.label_xy[:, 0], heavy[:, 0] + 2.0)
    assert person.keep_reason() is None
    assert person.area_px == pytest.approx((95 + 4 - 5) * (420 - 15))
    # MoveNet confident nowhere: every joint missing, the person is left out
    lost = ind.combine(heavy, _pose(conf=0.1), 640, 480)
    assert (lost.status == ind.MISSING).all()
    assert "agreed joints" in lost.keep_reason()
    # a joint outside the image is not confident
    off = heavy.copy()
    off[0, :2] = [-5.0, 20.0]
    assert ind.combine(off, movenet, 640, 480).status[0] == ind.MISSING


def test_keep_rule_needs_the_pck_torso_joints():
    heavy, movenet = _pose(), _pose()
    movenet[COCO17_NAMES.index("right_hip"), 0] += 200.0  # far away: disagree
    person = ind.combine(heavy, movenet, 640, 480)
    assert person.status[COCO17_NAMES.index("right_hip")] == ind.DISAGREE
    assert person.agreed.sum() == 16
    assert "right_hip" in person.keep_reason()


def test_review_decisions():
    person = ind.combine(_pose(), _pose(offset=2.0), 640, 480)
    assert ind.apply_decision(person, {"action": "drop"}) is None
    fixed = ind.apply_decision(person, {"action": "fix", "ignore": ["nose"], "set_px": {"left_ankle": [1.0, 2.0]}})
    assert fixed.status[0] == "hand-ignored" and np.isnan(fixed.label_xy[0]).all()
    k = COCO17_NAMES.index("left_ankle")
    assert fixed.status[k] == "hand-set"
    np.testing.assert_allclose(fixed.label_xy[k], [1.0, 2.0])
    assert ind.labelled_mask(fixed.status).sum() == 16
    assert person.status[0] == ind.AGREED  # the original is untouched
    with pytest.raises(ValueError):
        ind.apply_decision(person, {"action": "maybe"})


def test_committed_review_file_is_valid():
    doc = ind.load_review()
    assert doc["format"] == ind.REVIEW_FORMAT
    for key, decision in doc["decisions"].items():
        group, frame = key.split("_f")
        assert group in ind.VIDEOS.values() and int(frame) % ind.REVIEW_EVERY == 0
        assert decision["action"] in ("keep", "fix", "drop")
        for name in decision.get("ignore", []) + list(decision.get("set_px", {})):
            assert name in COCO17_NAMES
    for g in doc.get("groups", {}).values():
        assert set(g["ignore"]) <= set(COCO17_NAMES)


# -- label file ------------------------------------------------------------------------------
def test_label_file_reads_back_through_the_accuracy_loader(tmp_path):
    person = ind.combine(_pose(), _pose(offset=2.0), 640, 480)
    person = ind.apply_decision(person, {"action": "fix", "ignore": ["left_eye"]})
    entry = {"file": "images/a.png", "group": "cam01", "width": 640, "height": 480,
             "persons": [ind.person_entry(person)]}
    path = ind.write_labels(tmp_path / "labels.json", [entry], "test set")
    labelled = load_labels(path)
    assert len(labelled.items) == 1 and labelled.keypoints == "blazepose33"
    item = labelled.items[0]
    assert item.group == "cam01" and item.path == tmp_path / "images" / "a.png"
    label = item.persons[0]
    assert label.visible.sum() == 16 and not label.visible[BLAZEPOSE_TO_COCO17[1]]
    xy, vis = coco17_of(label, "blazepose33")
    np.testing.assert_allclose(xy[vis], person.label_xy[vis], atol=1e-3)
    assert label.area_px == pytest.approx(person.area_px, abs=0.1)
    gt = to_coco_gt(labelled)
    assert gt["annotations"][0]["num_keypoints"] == 16
    assert gt["annotations"][0]["area"] == pytest.approx(person.area_px, abs=0.1)


def test_wheel_is_checked(tmp_path):
    with pytest.raises(FetchError):
        ind.fetch_wheel(tmp_path, str(tmp_path / "absent.whl"))
    bad = tmp_path / ind.POSE2SIM_WHEEL
    bad.write_bytes(b"not the wheel")
    with pytest.raises(ModelHashMismatchError):
        ind.fetch_wheel(tmp_path / "out", str(bad))
    assert not (tmp_path / "out" / "source" / ind.POSE2SIM_WHEEL).exists()


# -- MoveNet crop geometry -------------------------------------------------------------------
def test_initial_crop_pads_to_a_centred_square():
    assert mn.initial_crop_region(640, 480) == mn.CropRegion(0.0, -80.0, 640.0)
    assert mn.initial_crop_region(1080, 1920) == mn.CropRegion(-420.0, 0.0, 1920.0)


def _keypoints(score=0.9):
    kp = np.zeros((17, 3))
    kp[:, :2] = [110.0, 200.0]
    kp[mn.LEFT_HIP, :2], kp[mn.RIGHT_HIP, :2] = [100.0, 200.0], [120.0, 200.0]
    kp[mn.LEFT_SHOULDER, :2], kp[mn.RIGHT_SHOULDER, :2] = [100.0, 150.0], [120.0, 150.0]
    kp[16, :2] = [110.0, 300.0]  # right ankle 100 px below the hips
    kp[:, 2] = score
    return kp


def test_crop_region_known_numbers():
    # centre (110, 200); torso: 1.9 x max(10, 50) = 95; body: 1.2 x max(10, 100) = 120 -> half 120
    assert mn.crop_region(_keypoints(), 640, 480) == mn.CropRegion(-10.0, 80.0, 240.0)
    # the ankle not confident: body range 50 -> 1.2 x 50 = 60 < 95 -> half 95
    kp = _keypoints()
    kp[16, 2] = 0.1
    assert mn.crop_region(kp, 640, 480) == mn.CropRegion(15.0, 105.0, 190.0)


def test_crop_region_falls_back_to_the_whole_image():
    kp = _keypoints()
    kp[[mn.LEFT_HIP, mn.RIGHT_HIP], 2] = 0.1  # no confident hip
    assert not mn.torso_visible(kp)
    assert mn.crop_region(kp, 640, 480) == mn.initial_crop_region(640, 480)
    # a person bigger than half the image: the square would exceed it
    assert mn.crop_region(_keypoints(), 200, 200) == mn.initial_crop_region(200, 200)


def test_crop_image_and_back_to_image_pixels():
    image = np.zeros((480, 640, 3), np.uint8)
    image[203, 117] = 255  # pixel centre (117.5, 203.5) in continuous coordinates
    region = mn.CropRegion(-10.0, 80.0, 240.0)
    crop = mn.crop_image(image, region, size=240)  # 1 crop pixel per image pixel
    v, u = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
    assert (u, v) == (127, 123)
    np.testing.assert_allclose(region.to_image(np.array([[(u + 0.5) / 240, (v + 0.5) / 240]])), [[117.5, 203.5]])


def test_movenet_missing_from_the_cache_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="python -m convert.movenet --variant thunder"):
        mn.MoveNetThunder()
    assert mn.main(["run", str(tmp_path / "x.png")]) == 2


def test_movenet_finds_the_basketball_player(basketball_rgb):
    try:
        mn.cached_model("thunder", "float32")
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
    with mn.MoveNetThunder(num_threads=2) as model:
        kp = model.process(basketball_rgb)
    assert (kp[:, 2] >= mn.KEYPOINT_SCORE_THRESHOLD).all()
    # the full-body player at the left of basketball1.png (datasets.PAN_CLIP_PERSON_CENTER (102, 292))
    assert 30 < kp[:, 0].min() and kp[:, 0].max() < 170
    assert 90 < kp[:, 1].min() < 130 and 430 < kp[:, 1].max() < 480
    assert kp[0, 1] < kp[5, 1] < kp[11, 1] < kp[13, 1] < kp[15, 1]  # nose above shoulder, hip, knee, ankle
