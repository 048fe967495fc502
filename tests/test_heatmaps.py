"""The SDK's decoding of keypoint heatmaps (blazepose_sdk.geometry.heatmaps): DARK sub-pixel
peaks, landmark rows of heatmap-only models, and how their output is recognised."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from blazepose_sdk.geometry.heatmaps import (
    COCO17_FILL,
    DARK_KERNEL_SIZE,
    DARK_SIGMA,
    LOG_FLOOR,
    argmax_decode,
    dark_decode,
    heatmap_landmark_rows,
)
from blazepose_sdk.geometry.roi import body_circle_points
from blazepose_sdk.stages.roles import output_roles


def gaussians(points_xy: np.ndarray, height: int, width: int, sigma: float = 2.0) -> np.ndarray:
    """(H, W, K) unit-peak Gaussians about (K, 2) points in cells (cell (r, c) at point (c, r))."""
    yy, xx = np.mgrid[:height, :width]
    d2 = (xx[..., None] - points_xy[:, 0]) ** 2 + (yy[..., None] - points_xy[:, 1]) ** 2
    return np.exp(-d2 / (2 * sigma**2)).astype(np.float32)


def full_map_dark(hm: np.ndarray) -> np.ndarray:
    """DARK as written in the paper's code: blur the whole map, log, Taylor step at the arg-max."""
    h, w, k = hm.shape
    xy, _ = argmax_decode(hm)
    out = xy.copy()
    for i in range(k):
        blur = cv2.GaussianBlur(hm[..., i].astype(np.float64), (DARK_KERNEL_SIZE, DARK_KERNEL_SIZE), DARK_SIGMA,
                                DARK_SIGMA, borderType=cv2.BORDER_CONSTANT)
        L = np.log(np.maximum(blur, LOG_FLOOR))
        x, y = int(xy[i, 0]), int(xy[i, 1])
        if not (1 <= x < w - 1 and 1 <= y < h - 1):
            continue
        g = np.array([(L[y, x + 1] - L[y, x - 1]) / 2, (L[y + 1, x] - L[y - 1, x]) / 2])
        hxy = (L[y + 1, x + 1] - L[y + 1, x - 1] - L[y - 1, x + 1] + L[y - 1, x - 1]) / 4
        hess = np.array([[L[y, x + 1] - 2 * L[y, x] + L[y, x - 1], hxy], [hxy, L[y + 1, x] - 2 * L[y, x] + L[y - 1, x]]])
        if np.linalg.det(hess) > 0 and hess[0, 0] < 0:
            out[i] += np.clip(-np.linalg.solve(hess, g), -1, 1)
    return out


def test_dark_recovers_subpixel_peaks():
    rng = np.random.default_rng(1)
    pts = rng.uniform(4, 44, (6, 2))
    hm = gaussians(pts, 48, 48)
    xy_arg, peaks = argmax_decode(hm)
    xy, peaks2 = dark_decode(hm)
    assert np.abs(xy - pts).max() < 0.05  # arg-max alone is off by up to 0.5 cell
    assert np.abs(xy_arg - pts).max() > 0.1
    np.testing.assert_allclose(peaks, peaks2)


def test_local_blur_equals_whole_map_blur():
    """Blurring only the cells about each peak gives the whole-map result, peaks near the
    border (zero padding) included."""
    rng = np.random.default_rng(5)
    pts = np.concatenate([rng.uniform(0, 47, (20, 2)), [[0.4, 10.0], [46.7, 46.2], [3.0, 1.2]]])
    hm = gaussians(pts, 48, 48, 2.5) * rng.uniform(0.3, 1.0, len(pts)).astype(np.float32)
    hm += rng.uniform(0, 0.05, hm.shape).astype(np.float32)
    np.testing.assert_allclose(dark_decode(hm)[0], full_map_dark(hm), atol=1e-9)


def test_dark_keeps_argmax_at_the_border_and_on_flat_maps():
    hm = np.zeros((16, 16, 3), np.float32)
    hm[0, 5, 0] = 1.0  # peak on the top row: no Taylor step
    hm[..., 1] = 0.5  # flat: arg-max cell 0 kept
    hm[7, 7, 2], hm[7, 8, 2] = 1.0, 1.0  # two equal cells: the step stays within one cell
    xy, peaks = dark_decode(hm)
    np.testing.assert_array_equal(xy[0], [5, 0])
    np.testing.assert_array_equal(xy[1], [0, 0])
    assert 7.0 <= xy[2, 0] <= 8.0 and xy[2, 1] == pytest.approx(7.0)
    np.testing.assert_allclose(peaks, [1.0, 0.5, 1.0])


def test_auxiliary_rows_hand_computed():
    """The decoded rows 33 and 34: hip centre, and hip centre + the farthest landmark's distance
    towards the shoulder centre (cells x 4 / 192 here)."""
    cells = np.tile([25.0, 30.0], (33, 1))  # 5 cells below the hip centre
    cells[[11, 12]] = [[22, 12], [28, 12]]  # shoulders: centre (25, 12)
    cells[[23, 24]] = [[22, 25], [28, 25]]  # hips: centre (25, 25)
    cells[0] = [25, 5]  # the nose, 20 cells above the hip centre: the farthest point
    rows, _ = heatmap_landmark_rows(gaussians(cells, 48, 48), 192)
    np.testing.assert_allclose(rows[33, :2] * 48, [25, 25], atol=0.05)
    np.testing.assert_allclose(rows[34, :2] * 48, [25, 5], atol=0.05)


def test_landmark_rows_from_keypoint_heatmaps():
    """Rows at the DARK positions x stride / input side, aux rows from them, the peaks as
    visibility and presence, their mean as pose presence."""
    rng = np.random.default_rng(3)
    pts = rng.uniform(6, 58, (33, 2))
    peaks = rng.uniform(0.2, 0.9, 33)
    hm = gaussians(pts, 64, 64) * peaks.astype(np.float32)
    rows, presence = heatmap_landmark_rows(hm[None], 256)
    assert rows.shape == (35, 5)
    np.testing.assert_allclose(rows[:33, :2] * 256, pts * 4.0, atol=0.25)
    np.testing.assert_allclose(rows[:33, 3], hm.reshape(-1, 33).max(0), rtol=1e-6)  # the sampled peaks
    np.testing.assert_array_equal(rows[:33, 3], rows[:33, 4])
    np.testing.assert_allclose(rows[33:, :2], body_circle_points(rows[:33, :2], np.ones(33, bool)))
    assert np.all(rows[:, 2] == 0) and np.all(rows[33:, 3] == rows[:33, 3].min())
    assert presence == pytest.approx(rows[:33, 3].mean())


def test_coco17_heatmaps_fill_33_rows():
    rng = np.random.default_rng(4)
    pts = rng.uniform(6, 42, (17, 2))
    rows, _ = heatmap_landmark_rows(gaussians(pts, 48, 48), 192)
    np.testing.assert_allclose(rows[:33, :2] * 192, pts[COCO17_FILL] * 4.0, atol=0.25)
    assert COCO17_FILL[0] == 0 and COCO17_FILL[9] == COCO17_FILL[10] == 0  # mouth from the nose
    with pytest.raises(ValueError):
        heatmap_landmark_rows(np.zeros((48, 48, 20), np.float32), 192)


def test_keypoint_heatmaps_role_from_shapes():
    assert output_roles("landmark", [(1, 48, 48, 33)], 192) == ["keypoint_heatmaps"]
    assert output_roles("landmark", [(1, 64, 48, 17)], 256) == ["keypoint_heatmaps"]
    # the official layout keeps its refinement heatmap
    official = output_roles("landmark", [(1, 195), (1, 1), (1, 256, 256, 1), (1, 64, 64, 39), (1, 117)], 256)
    assert official == ["landmarks", "presence", "segmentation", "heatmap", "world"]
