"""COCO / MPII / BlazePose-33 JSON loaders on fixtures the tests write."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from blazepose_sdk.geometry.topology import LANDMARK_NAMES
from training.data.loaders import load_bp33, load_coco, load_mpii

L = {n: i for i, n in enumerate(LANDMARK_NAMES)}


@pytest.fixture()
def image_dir(tmp_path):
    img = np.full((120, 100, 3), 127, np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), img)
    cv2.imwrite(str(tmp_path / "b.png"), img)
    return tmp_path


def test_coco_maps_17_keypoints_and_masks_missing(image_dir):
    kp = [0] * 51
    kp[0:3] = [50, 20, 2]  # nose visible
    kp[9 * 3:9 * 3 + 3] = [30, 60, 1]  # left wrist labelled, occluded
    d = {"images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 120}],
         "annotations": [{"id": 1, "image_id": 7, "keypoints": kp, "num_keypoints": 2,
                          "bbox": [10, 5, 60, 100], "iscrowd": 0, "category_id": 1},
                         {"id": 2, "image_id": 7, "keypoints": [0] * 51, "num_keypoints": 0,
                          "bbox": [0, 0, 1, 1], "iscrowd": 0, "category_id": 1}]}
    (image_dir / "c.json").write_text(json.dumps(d))
    (s,) = load_coco(image_dir / "c.json", image_dir)
    assert s.landmark_mask.sum() == 2
    assert s.landmark_mask[L["nose"]] == 1 and s.visibility[L["nose"]] == 1
    assert s.landmark_mask[L["left_wrist"]] == 1 and s.visibility[L["left_wrist"]] == 0
    np.testing.assert_allclose(s.landmarks_px[L["left_wrist"], :2], [30, 60])
    assert s.landmark_mask[L["left_pinky"]] == 0 and s.landmark_mask[L["right_wrist"]] == 0
    np.testing.assert_allclose(s.box_xyxy_px, [10, 5, 70, 105])
    assert np.isnan(s.alignment_px).all()  # hips/shoulders unlabelled
    assert s.image_rgb().shape == (120, 100, 3)
    assert s.image_jpeg == (image_dir / "a.jpg").read_bytes()


def test_mpii_maps_16_joints(image_dir):
    joints = [[-1, -1]] * 16
    joints = [list(map(float, j)) for j in joints]
    joints[0] = [20.0, 110.0]  # r_ankle
    joints[13] = [60.0, 30.0]  # l_shoulder
    joints[9] = [50.0, 2.0]  # head top: no BlazePose counterpart
    vis = [1 if j[0] >= 0 else 0 for j in joints]
    (image_dir / "m.json").write_text(json.dumps([{"image": "b.png", "joints": joints, "joints_vis": vis}]))
    (s,) = load_mpii(image_dir / "m.json", image_dir)
    assert s.landmark_mask.sum() == 2
    np.testing.assert_allclose(s.landmarks_px[L["right_ankle"], :2], [20, 110])
    np.testing.assert_allclose(s.landmarks_px[L["left_shoulder"], :2], [60, 30])
    np.testing.assert_allclose(s.box_xyxy_px, [20, 30, 60, 110])
    assert s.image_rgb().shape == (120, 100, 3)


def test_bp33_json_with_world_and_nulls(image_dir):
    lms = [[float(i), float(2 * i)] for i in range(33)]
    lms[5] = None
    world = np.arange(99, dtype=float).reshape(33, 3).tolist()
    d = {"version": 1, "people": [{"image": "a.jpg", "landmarks_px": lms, "world_m": world}]}
    (image_dir / "p.json").write_text(json.dumps(d))
    (s,) = load_bp33(image_dir / "p.json", image_dir)
    assert s.landmark_mask.sum() == 32 and s.landmark_mask[5] == 0 and s.visibility[5] == 0
    np.testing.assert_allclose(s.landmarks_px[7, :2], [7, 14])
    assert s.has_world == 1.0 and s.world_m[2, 1] == 7
    hip = 0.5 * (s.landmarks_px[23, :2] + s.landmarks_px[24, :2])
    np.testing.assert_allclose(s.alignment_px[0], hip)
