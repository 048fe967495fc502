"""Keypoint heatmaps -> landmark rows: arg-max and DARK sub-pixel decoding, in numpy.

Heatmap students (Lite-HRNet) end at their heatmaps: the TFLite file has no decode tail, so its
INT8 graph is all-integer (Arm's vela maps it to an Ethos-U NPU; an in-graph ARG_MAX and the float
divisions of the decode were refused there), and the landmarker decodes here on the CPU.

DARK: Zhang et al., "Distribution-Aware Coordinate Representation for Human Pose Estimation",
CVPR 2020, section 3.2: (1) modulate the heatmap with a Gaussian blur of the training sigma
and rescale it to its original maximum; (2) take the log; (3) at the arg-max cell m, a
second-order Taylor expansion of the log-likelihood gives the maximum at
m - H(m)^-1 D(m), with D and H the first and second derivatives by central differences.

Frames: heatmap cells, cell (row r, col c) is the point (c, r); times the stride
(input side / heatmap width) it is a model-input pixel (``xy_roi``), the pixel convention of the
landmark models (pixel index j at j).
"""

from __future__ import annotations

import cv2
import numpy as np

from .roi import body_circle_points
from .topology import (
    AUX_BODY_CIRCLE,
    AUX_HIP_CENTER,
    BLAZEPOSE_TO_COCO17,
    COCO17_NAMES,
    LANDMARK_NAMES,
    NUM_LANDMARKS,
)

# Blur kernel of the DARK modulation for heatmaps trained with sigma 2 cells: the
# ``modulate_kernel=11`` of the reference test config (litehrnet_18_coco_256x192.py, mmpose).
DARK_KERNEL_SIZE = 11
# Sigma of that kernel: OpenCV's default for ksize 11 (0.3 * ((k - 1) / 2 - 1) + 0.8 = 2.0),
# which mmpose's cv2.GaussianBlur(hm, (k, k), 0) uses; it equals the training sigma.
DARK_SIGMA = 0.3 * ((DARK_KERNEL_SIZE - 1) * 0.5 - 1) + 0.8
# Floor of the heatmap before the log (mmpose's post_dark uses 1e-10).
LOG_FLOOR = 1e-10
# The Taylor offset is a sub-cell correction; larger steps mean a flat or non-concave peak.
MAX_OFFSET_CELLS = 1.0
# Clip of a heatmap peak used as a probability (visibility, presence).
CONFIDENCE_EPS = 1e-4
# Keypoint counts a heatmap model may have: BlazePose's 33, or COCO's 17.
KEYPOINT_COUNTS = (NUM_LANDMARKS, len(COCO17_NAMES))
# Rows of the decoded landmark array: the 33 landmarks, then the two auxiliary points.
NUM_DECODED_ROWS = NUM_LANDMARKS + 2


def _coco17_fill() -> np.ndarray:
    """For each BlazePose landmark, the COCO-17 keypoint it is read from: the same point where
    COCO has it, else the nearest COCO point on the body (eye for the eye corners, nose for the
    mouth, wrist for the hand points, ankle for heel and foot index)."""
    nearest = {"eye_inner": "eye", "eye_outer": "eye", "pinky": "wrist", "index": "wrist", "thumb": "wrist",
               "heel": "ankle", "foot_index": "ankle"}
    out = []
    for name in LANDMARK_NAMES:
        if name in COCO17_NAMES:
            out.append(COCO17_NAMES.index(name))
        elif name.startswith("mouth"):
            out.append(COCO17_NAMES.index("nose"))
        else:
            side, _, part = name.partition("_")
            out.append(COCO17_NAMES.index(f"{side}_{nearest[part]}"))
    return np.asarray(out, np.int64)


COCO17_FILL = _coco17_fill()
assert (COCO17_FILL[np.asarray(BLAZEPOSE_TO_COCO17)] == np.arange(len(COCO17_NAMES))).all()


def argmax_decode(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, K) heatmaps -> ((K, 2) x, y of the arg-max cell, (K,) maximum values)."""
    hm = np.asarray(heatmaps)
    h, w, k = hm.shape
    flat = hm.reshape(h * w, k)
    idx = flat.argmax(0)
    xy = np.stack([idx % w, idx // w], axis=1).astype(np.float64)
    return xy, flat[idx, np.arange(k)].astype(np.float64)


def dark_decode(heatmaps: np.ndarray, kernel_size: int = DARK_KERNEL_SIZE, sigma: float = DARK_SIGMA,
                modulate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """DARK sub-pixel decoding (module docstring) of (H, W, K) heatmaps.

    Returns ((K, 2) x, y in cells, (K,) maxima of the raw heatmaps). The blur pads with zeros;
    only the 3 x 3 cells about each arg-max are blurred (all the Taylor step reads). The
    reference's rescale of the blurred map to the raw maximum is left out: a constant factor
    adds a constant to the log, which the derivatives do not see (it only moves which cells
    are clamped at LOG_FLOOR, where a map is not positive about its peak). The Taylor step is
    skipped (arg-max kept) at border cells and where the Hessian is not negative definite, and
    is limited to MAX_OFFSET_CELLS per axis.
    """
    hm = np.asarray(heatmaps)
    h, w, k = hm.shape
    xy, maxvals = argmax_decode(hm)
    x, y = xy[:, 0].astype(np.int64), xy[:, 1].astype(np.int64)
    inside = (x >= 1) & (x < w - 1) & (y >= 1) & (y < h - 1)
    xc, yc = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)
    # (K, 3 + 2 half, 3 + 2 half) raw cells about each (clipped) arg-max, zero outside the map
    half = kernel_size // 2 if modulate else 0
    span = np.arange(-1 - half, 2 + half)
    rows, cols = yc[:, None] + span, xc[:, None] + span  # (K, n)
    row_ok, col_ok = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    local = hm[np.clip(rows, 0, h - 1)[:, :, None], np.clip(cols, 0, w - 1)[:, None, :],
               np.arange(k)[:, None, None]].astype(np.float64)
    local *= row_ok[:, :, None] & col_ok[:, None, :]
    if modulate:  # the separable blur of the 3 x 3 centre cells
        g = cv2.getGaussianKernel(kernel_size, sigma, cv2.CV_64F).ravel()
        local = np.lib.stride_tricks.sliding_window_view(local, kernel_size, axis=2) @ g  # (K, n, 3)
        local = np.lib.stride_tricks.sliding_window_view(local, kernel_size, axis=1) @ g  # (K, 3, 3)
    logh = np.log(np.maximum(local, LOG_FLOOR))  # (K, 3, 3), centre = the arg-max
    dx = 0.5 * (logh[:, 1, 2] - logh[:, 1, 0])
    dy = 0.5 * (logh[:, 2, 1] - logh[:, 0, 1])
    dxx = logh[:, 1, 2] - 2 * logh[:, 1, 1] + logh[:, 1, 0]
    dyy = logh[:, 2, 1] - 2 * logh[:, 1, 1] + logh[:, 0, 1]
    dxy = 0.25 * (logh[:, 2, 2] - logh[:, 2, 0] - logh[:, 0, 2] + logh[:, 0, 0])
    det = dxx * dyy - dxy * dxy
    ok = inside & (det > 0) & (dxx < 0)
    safe = np.where(ok, det, 1.0)
    out = xy.copy()
    out[:, 0] += np.where(ok, np.clip(-(dyy * dx - dxy * dy) / safe, -MAX_OFFSET_CELLS, MAX_OFFSET_CELLS), 0.0)
    out[:, 1] += np.where(ok, np.clip(-(dxx * dy - dxy * dx) / safe, -MAX_OFFSET_CELLS, MAX_OFFSET_CELLS), 0.0)
    return out, maxvals


def heatmap_landmark_rows(heatmaps: np.ndarray, input_size: int) -> tuple[np.ndarray, float]:
    """Decode one model's (H, W, K) keypoint heatmaps (K = 33, or 17 COCO keypoints; trained as
    unit-peak Gaussians of sigma DARK_SIGMA cells) on an ``input_size``-pixel square crop.

    Returns:
        rows: (35, 5) float64 in the landmark decoder's ROI-normalised frame (x, y = model-input
            pixels / input_size): rows 0..32 the landmarks (a COCO model's 17 points exactly,
            the others copied from the nearest COCO point, ``COCO17_FILL``), 33 the hip centre,
            34 the body-circle point (:func:`blazepose_sdk.geometry.roi.body_circle_points` of
            the 33, the points the next ROI is built from); z = 0; visibility = presence = the
            keypoint's heatmap peak, clipped to [CONFIDENCE_EPS, 1 - CONFIDENCE_EPS] (the
            auxiliary rows take the smallest of them).
        presence: the mean of the 33 rows' peaks, the pose-presence probability.
    """
    hm = np.asarray(heatmaps, np.float32)
    if hm.ndim == 4 and hm.shape[0] == 1:
        hm = hm[0]
    if hm.ndim != 3 or hm.shape[2] not in KEYPOINT_COUNTS:
        raise ValueError(f"keypoint heatmaps must be (H, W, K) with K in {KEYPOINT_COUNTS}, got {hm.shape}")
    xy_cells, peaks = dark_decode(hm)
    if hm.shape[2] != NUM_LANDMARKS:
        xy_cells, peaks = xy_cells[COCO17_FILL], peaks[COCO17_FILL]
    xy_roi = xy_cells * (input_size / float(hm.shape[1]))
    conf = np.clip(peaks, CONFIDENCE_EPS, 1.0 - CONFIDENCE_EPS)
    rows = np.zeros((NUM_DECODED_ROWS, 5), np.float64)
    rows[:NUM_LANDMARKS, :2] = xy_roi / float(input_size)
    rows[:NUM_LANDMARKS, 3] = rows[:NUM_LANDMARKS, 4] = conf
    rows[[AUX_HIP_CENTER, AUX_BODY_CIRCLE], :2] = body_circle_points(rows[:NUM_LANDMARKS, :2],
                                                                     np.ones(NUM_LANDMARKS, bool))
    rows[[AUX_HIP_CENTER, AUX_BODY_CIRCLE], 3:] = conf.min()
    return rows, float(conf.mean())


__all__ = [
    "COCO17_FILL",
    "DARK_KERNEL_SIZE",
    "DARK_SIGMA",
    "KEYPOINT_COUNTS",
    "NUM_DECODED_ROWS",
    "argmax_decode",
    "dark_decode",
    "heatmap_landmark_rows",
]
