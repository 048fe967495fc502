"""ROI geometry against hand-computed values."""

import math

import cv2
import numpy as np
import pytest

from blazepose_sdk.geometry.roi import (
    Roi, alignment_points_of_roi, body_circle_points, image_to_roi, image_to_tensor_matrix, letterbox_roi, normalize_radians,
    project_landmarks, roi_from_alignment_points, roi_from_keypoints, roi_to_image, rotate_world_landmarks,
)


def test_upright_person_gives_unrotated_roi():
    # hip centre (100, 200), body-circle point 80 px straight above
    roi = roi_from_alignment_points([100, 200], [100, 120])
    assert roi.center_x_px == 100 and roi.center_y_px == 200
    assert roi.size_px == pytest.approx(2 * 80 * 1.25)
    assert roi.rotation_rad == pytest.approx(0.0)


def test_person_lying_with_head_right_is_rotated_90_degrees():
    # body-circle point to the right of the hips: the head points +x, so the crop is turned
    # +90 deg (clockwise on screen) for its top edge to face the head
    roi = roi_from_alignment_points([50, 50], [90, 50])
    assert roi.rotation_rad == pytest.approx(math.pi / 2)
    assert roi.size_px == pytest.approx(100.0)
    # the top-centre of the crop (0.5, 0) is where the head is: (50 + 50, 50)
    np.testing.assert_allclose(roi_to_image([[0.5, 0.0]], roi), [[100.0, 50.0]], atol=1e-9)
    # the crop's left edge centre lies above the hips (y smaller)
    np.testing.assert_allclose(roi_to_image([[0.0, 0.5]], roi), [[50.0, 0.0]], atol=1e-9)


def test_upside_down_person():
    roi = roi_from_alignment_points([0, 0], [0, 10])
    assert abs(roi.rotation_rad) == pytest.approx(math.pi)


def test_normalize_radians_range():
    for a in (-7.0, -math.pi, 0.0, math.pi, 4.0, 10.0):
        n = normalize_radians(a)
        assert -math.pi <= n < math.pi
        assert math.isclose(math.cos(n), math.cos(a), abs_tol=1e-12)


def test_roi_at_image_border_keeps_geometry():
    # a person at the top-left corner: the ROI extends outside the image, math still exact
    roi = roi_from_alignment_points([0, 0], [0, -40])
    corners = roi.corners_px()
    np.testing.assert_allclose(corners, [[-50, -50], [50, -50], [50, 50], [-50, 50]], atol=1e-9)


@pytest.mark.parametrize("size", [3.0, 20000.0])
def test_tiny_and_huge_rois_round_trip(size):
    roi = Roi(320.0, 240.0, size, 0.3)
    pts = np.array([[0.1, 0.2], [0.5, 0.5], [0.9, 0.7]])
    np.testing.assert_allclose(image_to_roi(roi_to_image(pts, roi), roi), pts, atol=1e-9)


def test_tiny_roi_is_invalid_but_letterbox_of_1px_image_crops():
    assert not Roi(5, 5, 1.0, 0).is_valid()
    assert not Roi(float("nan"), 5, 10, 0).is_valid()
    m = image_to_tensor_matrix(letterbox_roi(1, 1), 224)
    assert np.isfinite(m).all()
    with pytest.raises(ValueError):
        image_to_tensor_matrix(Roi(0, 0, 0.0, 0), 8)


def test_letterbox_roi_is_centered_square_of_long_side():
    roi = letterbox_roi(640, 480)
    assert (roi.center_x_px, roi.center_y_px, roi.size_px, roi.rotation_rad) == (320, 240, 640, 0)
    # the top-left image corner lands at tensor y = 224 * (80 / 640) (letterbox band of 80 px)
    m = image_to_tensor_matrix(roi, 224)
    np.testing.assert_allclose(m @ [0, 0, 1], [0.0, 28.0], atol=1e-9)


def test_affine_matrix_matches_roi_to_image_and_warps_a_known_pixel():
    roi = Roi(40.0, 30.0, 20.0, math.pi / 2)
    m = image_to_tensor_matrix(roi, 10)
    # ROI-normalized (0.25, 0.5) -> tensor (2.5, 5); the same point in the image:
    p_img = roi_to_image([[0.25, 0.5]], roi)[0]
    np.testing.assert_allclose(m @ [*p_img, 1.0], [2.5, 5.0], atol=1e-9)
    # with rotation +90 deg the crop's x axis points down the image: (0.25,0.5) -> (40, 30 - 5)
    np.testing.assert_allclose(p_img, [40.0, 25.0], atol=1e-9)
    # a single bright pixel ends up where the matrix says
    img = np.zeros((60, 80), np.uint8)
    img[23:28, 38:43] = 255  # a 5x5 block centred on (40, 25)
    out = cv2.warpAffine(img, m, (10, 10), flags=cv2.INTER_LINEAR).astype(float)
    ys, xs = np.mgrid[0:10, 0:10]
    centroid = [(xs * out).sum() / out.sum(), (ys * out).sum() / out.sum()]
    # OpenCV samples output pixel index i at M^-1(i): the block's centre lands at (2.5, 5)
    np.testing.assert_allclose(centroid, [2.5, 5.0], atol=0.05)


def test_project_landmarks_scales_z_and_keeps_extra_columns():
    roi = Roi(100.0, 100.0, 50.0, 0.0)
    lm = np.array([[0.5, 0.5, 0.1, 0.9, 0.8], [0.0, 1.0, -0.2, 0.1, 0.2]])
    out = project_landmarks(lm, roi)
    np.testing.assert_allclose(out, [[100, 100, 5, 0.9, 0.8], [75, 125, -10, 0.1, 0.2]], atol=1e-9)


def test_world_landmarks_rotate_about_z():
    w = np.array([[1.0, 0.0, 0.3]])
    np.testing.assert_allclose(rotate_world_landmarks(w, math.pi / 2), [[0.0, 1.0, 0.3]], atol=1e-12)


def _lying_person_coco17() -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 keypoints of a person lying with the head to the right: hips at x 100,
    shoulders at x 160, nose at x 200, ankles at x 20 (y 50 +- 10 across the body)."""
    xy = np.full((17, 2), np.nan)
    xy[0] = (200, 50)  # nose
    xy[5], xy[6] = (160, 40), (160, 60)  # shoulders
    xy[11], xy[12] = (100, 40), (100, 60)  # hips
    xy[15], xy[16] = (20, 45), (20, 55)  # ankles
    return xy, np.isfinite(xy).all(axis=1)


def test_roi_from_keypoints_puts_the_body_circle_about_the_hips():
    xy, labelled = _lying_person_coco17()
    points = body_circle_points(xy, labelled, hips=(11, 12), shoulders=(5, 6))
    # radius = the farthest labelled keypoint from the hip centre (100, 50): the nose, 100 px
    np.testing.assert_allclose(points, [[100, 50], [200, 50]], atol=1e-9)
    roi = roi_from_keypoints(xy, labelled, hips=(11, 12), shoulders=(5, 6))
    assert (roi.center_x_px, roi.center_y_px) == pytest.approx((100, 50))
    assert roi.size_px == pytest.approx(2 * 100 * 1.25)
    assert roi.rotation_rad == pytest.approx(math.pi / 2)  # head to the right: turned like the tracker does
    # BlazePose-33 indices by default: the same person written at its BlazePose rows
    xy33, lab33 = np.full((33, 2), np.nan), np.zeros(33, bool)
    for coco, bp in ((0, 0), (5, 11), (6, 12), (11, 23), (12, 24), (15, 27), (16, 28)):
        xy33[bp], lab33[bp] = xy[coco], True
    assert roi_from_keypoints(xy33, lab33) == roi


def test_roi_from_keypoints_without_hips_falls_back_to_the_box():
    xy, labelled = _lying_person_coco17()
    labelled[[11, 12]] = False
    assert body_circle_points(xy, labelled, (11, 12), (5, 6)) is None
    roi = roi_from_keypoints(xy, labelled, (11, 12), (5, 6))
    # box x 20..200, y 40..60: centre (110, 50), side 1.25 x 180, upright
    assert roi == Roi(110.0, 50.0, 225.0, 0.0)
    only_one = np.zeros(17, bool)
    only_one[0] = True
    assert roi_from_keypoints(xy, only_one, (11, 12), (5, 6)) is None


def test_alignment_points_of_roi_inverts_roi_from_alignment_points():
    # hand-computed: an upright ROI of side 200 at (100, 200): radius 80, the point straight above
    np.testing.assert_allclose(alignment_points_of_roi(Roi(100.0, 200.0, 200.0, 0.0)), [[100, 200], [100, 120]], atol=1e-9)
    # rotated: side 2 x 40 x 1.25 = 100, the point 40 px to the left of the centre (rotation -pi/2)
    np.testing.assert_allclose(alignment_points_of_roi(Roi(50.0, 50.0, 100.0, -math.pi / 2)), [[50, 50], [10, 50]], atol=1e-9)
    # and any ROI round-trips
    rng = np.random.default_rng(0)
    for _ in range(50):
        roi = Roi(*rng.uniform(-50, 500, 2), rng.uniform(5, 400), rng.uniform(-math.pi, math.pi))
        back = roi_from_alignment_points(*alignment_points_of_roi(roi))
        np.testing.assert_allclose([back.center_x_px, back.center_y_px, back.size_px], [roi.center_x_px, roi.center_y_px, roi.size_px], atol=1e-9)
        assert abs(normalize_radians(back.rotation_rad - roi.rotation_rad)) < 1e-9
