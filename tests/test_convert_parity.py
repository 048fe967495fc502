"""convert/: the parity arithmetic and the manifest, with hand-computed answers (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from convert.manifest import dequantize_output, output_roles, quantize_input
from convert.parity import (
    PCK_THRESHOLD,
    landmark_errors_px,
    landmark_parity,
    latency_summary,
    match_outputs,
    output_diff,
    pck,
    torso_size_px,
)


def _pose(n: int = 2) -> np.ndarray:
    """(n, 33, 2) landmarks with left shoulder (11) at (0, 0) and right hip (24) at (30, 40): torso 50 px."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, size=(n, 33, 2))
    xy[:, 11] = (0.0, 0.0)
    xy[:, 24] = (30.0, 40.0)
    return xy


def test_output_diff_of_a_model_with_itself_is_zero():
    ref = [np.arange(12, dtype=np.float32).reshape(1, 12) * k for k in range(4)]
    d = output_diff("out", ref, [r.copy() for r in ref])
    assert (d.max_abs, d.mean_abs, d.rel_mean_abs) == (0.0, 0.0, 0.0)
    assert d.shape == (1, 12)


def test_output_diff_of_a_perturbed_model_is_the_perturbation():
    ref = [np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32)]
    cand = [np.array([[0, 1, 0, -3]], np.float32), np.zeros((1, 4), np.float32)]
    d = output_diff("out", ref, cand)
    assert d.max_abs == 3.0
    assert d.mean_abs == pytest.approx(4.0 / 8.0)
    assert d.rel_mean_abs == 0.0  # reference is constant: no scale to divide by
    ref2 = [np.array([[1.0, -1.0]]), np.array([[1.0, -1.0]])]  # std 1
    assert output_diff("o", ref2, [r + 0.5 for r in ref2]).rel_mean_abs == pytest.approx(0.5)


def test_output_diff_refuses_shape_mismatch():
    with pytest.raises(ValueError):
        output_diff("o", [np.zeros((1, 3))], [np.zeros((1, 4))])


def test_match_outputs_by_name_shape_and_ordinal():
    ref = [("Identity", (1, 195)), ("Identity_1", (1, 1)), ("Identity_3", (1, 64, 64, 39))]
    cand = [("StatefulPartitionedCall:3", (1, 64, 64, 39)), ("StatefulPartitionedCall:0", (1, 195)),
            ("StatefulPartitionedCall:1", (1, 1))]
    assert match_outputs(ref, cand) == [1, 2, 0]
    # two outputs of the same shape: the ordinal decides
    ref = [("Identity", (1, 4)), ("Identity_1", (1, 4))]
    cand = [("StatefulPartitionedCall:1", (1, 4)), ("StatefulPartitionedCall:0", (1, 4))]
    assert match_outputs(ref, cand) == [1, 0]
    assert match_outputs(ref, list(reversed(ref))) == [1, 0]  # same names win
    with pytest.raises(ValueError):
        match_outputs([("a", (1, 3))], [("b", (1, 4))])


def test_pck_perfect_and_known_misses():
    ref = _pose()
    assert torso_size_px(ref).tolist() == [50.0, 50.0]
    assert pck(ref, ref) == 1.0
    pred = ref.copy()
    # threshold = 0.2 * 50 = 10 px: move 3 landmarks of pose 0 by 11 px (miss), 2 by 9 px (hit)
    pred[0, [0, 1, 2], 0] += 11.0
    pred[0, [3, 4], 1] += 9.0
    assert PCK_THRESHOLD == 0.2
    assert pck(pred, ref) == pytest.approx(1.0 - 3 / 66)
    visible = np.ones((2, 33), bool)
    visible[0, [0, 1]] = False  # two of the misses are not counted
    assert pck(pred, ref, visible) == pytest.approx(1.0 - 1 / 64)
    errors = landmark_errors_px(pred, ref)
    assert errors[0, 0] == pytest.approx(11.0) and errors[0, 3] == pytest.approx(9.0) and errors[1].max() == 0.0


def test_landmark_parity_self_is_zero_and_shift_is_measured():
    ref = _pose(3)
    vis = np.ones((3, 33))
    same = landmark_parity(ref, ref, vis, np.ones(3), np.ones(3))
    assert (same.mean_px, same.max_px, same.pck, same.presence_max_abs) == (0.0, 0.0, 1.0, 0.0)
    shifted = landmark_parity(ref + np.array([3.0, 4.0]), ref, vis, np.full(3, 0.9), np.ones(3))
    assert shifted.mean_px == pytest.approx(5.0) and shifted.p95_px == pytest.approx(5.0)
    assert shifted.pck == 1.0  # 5 px < 10 px
    assert shifted.presence_max_abs == pytest.approx(0.1)
    assert shifted.mean_torso_px == pytest.approx(50.0)
    # landmarks the float model sees as invisible (visibility <= 0.5) do not count
    vis[:, 0] = 0.0
    far = ref.copy()
    far[:, 0] += 100.0
    assert landmark_parity(far, ref, vis, np.ones(3), np.ones(3)).max_px == 0.0


def test_latency_summary_in_ms():
    s = latency_summary([0.001, 0.002, 0.003])
    assert s["median_ms"] == pytest.approx(2.0) and s["mean_ms"] == pytest.approx(2.0) and s["runs"] == 3


def test_manifest_int8_io_round_trip():
    tensor = {"dtype": "int8", "quantization": {"scale": 1.0 / 255.0, "zero_point": -128}}
    x = np.array([0.0, 0.6, 1.0, 2.0], np.float32)
    q = quantize_input(x, tensor)
    assert q.dtype == np.int8 and q.tolist() == [-128, 25, 127, 127]  # 2.0 saturates
    assert dequantize_output(q, tensor)[:3] == pytest.approx([0.0, 153 / 255, 1.0], abs=1e-6)
    assert quantize_input(x, {"dtype": "float32", "quantization": None}).tolist() == x.tolist()


def test_output_roles_follow_the_sdk_rules():
    landmark = [(1, 117), (1, 1), (1, 64, 64, 39), (1, 195), (1, 256, 256, 1)]
    assert output_roles("landmark", landmark, 256) == ["world", "presence", "heatmap", "landmarks", "segmentation"]
    assert output_roles("detector", [(1, 2254, 1), (1, 2254, 12)]) == ["scores", "boxes"]
    assert output_roles("generic", [(1, 3)]) == [None]
