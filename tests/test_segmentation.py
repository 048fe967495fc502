"""Segmentation masks: projection to the frame, MediaPipe's temporal smoothing, IoU."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.geometry.segmentation import (
    COMBINE_WITH_PREVIOUS_RATIO,
    MaskSmoother,
    mask_iou,
    mask_probability,
    mask_uncertainty,
    roi_mask_to_image,
    smooth_mask,
)


def test_projection_is_the_inverse_of_the_roi_crop():
    prob = np.zeros((256, 256), np.float32)
    prob[:, :128] = 1.0  # the left half of the tensor
    img = roi_mask_to_image(prob, Roi(20.0, 30.0, 16.0, 0.0), (64, 48))
    assert img.shape == (48, 64) and img.dtype == np.float32
    # the ROI spans x, y in [12, 28] x [22, 38]: the tensor's left half is x < 20
    assert img[30, 15] == pytest.approx(1.0) and img[30, 24] == pytest.approx(0.0)
    assert img[10, 15] == 0 and img[30, 40] == 0  # outside the ROI: zero (BORDER_ZERO)
    # rotated by 90 deg (clockwise): the tensor's left half is the ROI's upper half in the image
    img = roi_mask_to_image(prob, Roi(20.0, 30.0, 16.0, math.pi / 2), (64, 48))
    assert img[25, 20] == pytest.approx(1.0) and img[35, 20] == pytest.approx(0.0)


def test_a_coarser_mask_covers_the_same_roi():
    # a 4 x 4 mask over a 40 px ROI centred at (50, 50), i.e. x, y in [30, 70]: tensor coordinate
    # u maps to frame x = 30 + 10 u (the ROI's edges land on tensor coordinates 0 and N)
    mask = np.zeros((4, 4), np.float32)
    mask[1, 2] = 1.0  # tensor pixel (u, v) = (2, 1) -> frame (50, 40)
    img = roi_mask_to_image(mask, Roi(50.0, 50.0, 40.0, 0.0), (100, 100))
    assert img[40, 50] == pytest.approx(1.0)
    assert img[45, 55] == pytest.approx(0.25)  # half way to the next mask pixel in x and in y
    assert img[40, 60] == 0.0 and img[50, 50] == 0.0
    assert img.sum() == pytest.approx(100.0, rel=1e-4)  # a bilinear tent of 10 x 10 pixels


def test_probability_from_model_logits():
    logits = np.array([[[[0.0], [2.0]], [[-2.0], [50.0]]]], np.float32)  # (1, 2, 2, 1)
    p = mask_probability(logits)
    assert p.shape == (2, 2)
    np.testing.assert_allclose(p, [[0.5, 1 / (1 + math.exp(-2))], [1 / (1 + math.exp(2)), 1.0]], rtol=1e-6)
    with pytest.raises(ValueError):
        mask_probability(np.zeros((1, 2, 3, 1)))


def test_uncertainty_is_one_at_one_half_and_zero_when_sure():
    u = mask_uncertainty(np.array([0.5, 0.0, 1.0, 0.05, 0.95, 0.3]))
    assert u[0] == pytest.approx(1.0)
    assert 0.0 <= u[1] < 1e-4 and 0.0 <= u[2] < 1e-4  # the polynomial is ~0.99994 at the ends
    assert u[3] == pytest.approx(u[4], abs=1e-6)  # symmetric about 0.5
    # p = 0.3: x = 0.04, 1 - x (c1 + x (c2 + x (c3 + x (c4 + x c5)))) worked by hand
    assert u[5] == pytest.approx(0.7767, abs=1e-3)
    grid = mask_uncertainty(np.linspace(0.0, 0.5, 51))
    assert np.all(np.diff(grid) >= -1e-6)  # more uncertain the closer to 0.5


def test_smoothing_blends_uncertain_pixels_only():
    new = np.array([0.5, 1.0, 0.0], np.float32)
    prev = np.array([1.0, 0.0, 1.0], np.float32)
    out = smooth_mask(new, prev)
    # p = 0.5: fully uncertain -> 0.5 + (1 - 0.5) * 0.7; sure pixels keep the new value
    np.testing.assert_allclose(out, [0.5 + 0.5 * COMBINE_WITH_PREVIOUS_RATIO, 1.0, 0.0], atol=1e-4)
    with pytest.raises(ValueError):
        smooth_mask(new, prev[:2])


def test_smoother_passes_the_first_mask_and_restarts_on_reset_or_new_size():
    s = MaskSmoother()
    a = np.full((2, 2), 0.5, np.float32)
    np.testing.assert_array_equal(s(a), a)
    b = np.full((2, 2), 0.5, np.float32)
    np.testing.assert_allclose(s(np.zeros((2, 2), np.float32) + 0.5), b)  # 0.5 blended with 0.5
    np.testing.assert_array_equal(s(np.ones((3, 3), np.float32)), np.ones((3, 3)))  # new size: no blend
    s.reset()
    np.testing.assert_array_equal(s(a), a)


def test_iou():
    a = np.zeros((4, 4)); a[:2] = 0.9
    b = np.zeros((4, 4)); b[1:3] = 0.8
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_iou(a, a) == 1.0 and mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    with pytest.raises(ValueError):
        mask_iou(a, b[:2])
