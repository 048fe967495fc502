"""Landmark decoding, heatmap refinement and filters against hand-computed values."""

import math

import numpy as np
import pytest

from blazepose_sdk.stages.landmarker import decode_landmark_tensor, refine_with_heatmap
from blazepose_sdk.geometry.smoothing import LowPassFilter, OneEuroFilter, PoseSmoother, exp_smoothing_alpha
from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, COCO17_NAMES, FLIP_INDEX, LANDMARK_NAMES


def test_decode_landmark_tensor():
    raw = np.zeros((39, 5), np.float32)
    raw[0] = [128, 64, -25.6, 0.0, math.log(3.0)]
    out = decode_landmark_tensor(raw.reshape(1, -1), 256, 39)
    np.testing.assert_allclose(out[0], [0.5, 0.25, -0.1, 0.5, 0.75], atol=1e-6)
    assert out.shape == (39, 5)


def test_heatmap_refinement_moves_to_weighted_mean():
    hm = np.full((8, 8, 1), -20.0, np.float32)  # sigmoid ~ 0
    hm[2, 5, 0] = 20.0  # confidence ~1 at row 2, col 5
    hm[2, 6, 0] = 20.0  # and at row 2, col 6
    lm = np.array([[0.55, 0.30, 0, 1, 1]])  # cell (col 4, row 2): both hot cells in the 7x7 window
    out = refine_with_heatmap(lm, hm, kernel_size=7, min_confidence=0.5)
    np.testing.assert_allclose(out[0, :2], [5.5 / 8, 2 / 8], atol=1e-4)


def test_heatmap_refinement_skips_unconfident_and_outside():
    hm = np.full((8, 8, 2), -5.0, np.float32)  # sigmoid(-5) = 0.0067 < 0.5
    lm = np.array([[0.5, 0.5, 0, 1, 1], [1.5, 0.5, 0, 1, 1]])
    np.testing.assert_allclose(refine_with_heatmap(lm, hm), lm)


def test_exp_smoothing_alpha_formula():
    # te = 1/30 s, tau = 1/(2 pi): alpha = 1 / (1 + 30 / (2 pi))
    assert exp_smoothing_alpha(1.0, 30.0) == pytest.approx(1.0 / (1.0 + 30.0 / (2 * math.pi)))


def test_low_pass_filter():
    f = LowPassFilter(0.1)
    assert f(np.array([1.0]))[0] == 1.0
    assert f(np.array([0.0]))[0] == pytest.approx(0.9)


def test_one_euro_constant_signal_is_unchanged_and_step_is_damped():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, derivate_cutoff=1.0)
    for i in range(5):
        assert f(np.array([2.0]), i / 30.0)[0] == pytest.approx(2.0)
    # a step with beta=0: pure exponential smoothing with alpha(min_cutoff=1, 30 Hz)
    a = exp_smoothing_alpha(1.0, 30.0)
    assert f(np.array([3.0]), 5 / 30.0)[0] == pytest.approx(2.0 + a * 1.0)


def test_one_euro_speed_term_is_scaled():
    # beta large: fast motion raises the cutoff, so the output follows the input more closely
    slow = OneEuroFilter(0.05, 80.0)
    slow(np.array([0.0]), 0.0, value_scale=1.0 / 1000.0)
    out_small_person = slow(np.array([10.0]), 1 / 30, value_scale=1.0 / 10.0)[0]
    fast = OneEuroFilter(0.05, 80.0)
    fast(np.array([0.0]), 0.0, value_scale=1.0 / 1000.0)
    out_big_person = fast(np.array([10.0]), 1 / 30, value_scale=1.0 / 1000.0)[0]
    assert 0 < out_big_person < out_small_person < 10.0


def test_one_euro_ignores_non_increasing_timestamps():
    f = OneEuroFilter(1.0, 0.0)
    f(np.array([0.0]), 1.0)
    assert f(np.array([5.0]), 1.0)[0] == 5.0  # returned raw
    assert f(np.array([5.0]), 2.0)[0] < 5.0  # state was not changed by the ignored sample


def test_pose_smoother_shapes():
    s = PoseSmoother()
    lm = np.random.default_rng(0).random((33, 5))
    out, world = s(lm, np.zeros((33, 3)), 0.0, 100.0)
    np.testing.assert_allclose(out, lm)
    assert world.shape == (33, 3)


def test_topology_maps():
    assert len(LANDMARK_NAMES) == 33
    assert (FLIP_INDEX[FLIP_INDEX] == np.arange(33)).all()
    assert LANDMARK_NAMES[FLIP_INDEX[LANDMARK_NAMES.index("left_wrist")]] == "right_wrist"
    assert LANDMARK_NAMES[FLIP_INDEX[LANDMARK_NAMES.index("mouth_left")]] == "mouth_right"
    assert FLIP_INDEX[0] == 0
    assert [LANDMARK_NAMES[i] for i in BLAZEPOSE_TO_COCO17] == list(COCO17_NAMES)
    assert list(BLAZEPOSE_TO_COCO17[:5]) == [0, 2, 5, 7, 8]


def test_heatmap_refinement_leaves_nan_landmarks_alone():
    lm = np.array([[np.nan, 0.5, 0, 1, 1]])
    out = refine_with_heatmap(lm, np.zeros((4, 4, 1), np.float32))
    assert np.isnan(out[0, 0]) and out[0, 1] == 0.5
