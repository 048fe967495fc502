"""Copy-paste geometry (pure numpy): the paste affine, labels moved by it, boxes, the alpha
composite, and a sample's SDK ROI. Data-engine pixels (pixel centres at j + 0.5) unless a name says
index coordinates (OpenCV's, pixel j at j; :func:`engine_to_index_affine`).
"""

from __future__ import annotations

import math

import numpy as np

from blazepose_sdk.geometry.roi import Roi, roi_from_keypoints
from blazepose_sdk.geometry.topology import FLIP_INDEX, NUM_LANDMARKS
from training.data.augment import ENGINE_TO_SDK_PX, transform_points
from training.data.sample import Sample, alignment_points


def rotation_matrix(angle_rad: float) -> np.ndarray:
    """2x2 rotation, clockwise on screen for positive angles (y down), as ``blazepose_sdk.geometry.roi``."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def paste_affine(src_center_px, dst_center_px, scale: float, rotation_rad: float, flip: bool) -> np.ndarray:
    """2x3 affine (data-engine pixels) that mirrors about the vertical line through
    ``src_center_px`` (when ``flip``), scales by ``scale``, rotates by ``rotation_rad`` about it and
    moves it to ``dst_center_px``: ``p' = dst + R s F (p - src)``."""
    f = np.diag([-1.0 if flip else 1.0, 1.0])
    linear = rotation_matrix(rotation_rad) @ (scale * f)
    src = np.asarray(src_center_px, np.float64).reshape(2)
    dst = np.asarray(dst_center_px, np.float64).reshape(2)
    return np.hstack([linear, (dst - linear @ src)[:, None]])


def engine_to_index_affine(affine: np.ndarray) -> np.ndarray:
    """The same map in OpenCV's index coordinates (pixel j at j = engine j + 0.5 - 0.5):
    ``p_idx' = A (p_idx + 0.5) - 0.5``; pass the result to ``cv2.warpAffine``."""
    a = np.asarray(affine, np.float64)
    out = a.copy()
    out[:, 2] = a[:, :2] @ [ENGINE_TO_SDK_PX, ENGINE_TO_SDK_PX] + a[:, 2] - ENGINE_TO_SDK_PX
    return out


def transform_labels(landmarks_px: np.ndarray, visibility: np.ndarray, landmark_mask: np.ndarray,
                     world_m: np.ndarray, affine: np.ndarray, image_size: tuple[int, int]):
    """Labels of a person moved by a similarity ``affine`` (data-engine pixels; see paste_affine).

    x, y go through the affine; z (pixel units of x) is multiplied by its scale; world landmarks
    (metres, camera-aligned x right / y down) turn with the image (x, y by the affine's rotation).
    A mirroring affine (negative determinant) also negates world x and swaps the left/right rows
    (FLIP_INDEX) of every array, as ``training.data.augment.landmark_crop``. Landmarks that end
    outside the ``(width, height)`` image get visibility 0. Returns
    (landmarks_px, visibility, landmark_mask, world_m) as float32.
    """
    a = np.asarray(affine, np.float64)
    lin = a[:, :2]
    det = float(np.linalg.det(lin))
    flip = det < 0
    scale = math.sqrt(abs(det))
    lm = np.asarray(landmarks_px, np.float64).copy()
    lm[:, :2] = transform_points(a, lm[:, :2])
    lm[:, 2] *= scale
    rot = lin / scale  # R F
    w = np.asarray(world_m, np.float64).copy()
    w[:, :2] = w[:, :2] @ rot.T  # F negates x, R turns x, y with the image
    vis = np.asarray(visibility, np.float64).copy()
    mask = np.asarray(landmark_mask, np.float64).copy()
    if flip:
        lm, vis, mask, w = lm[FLIP_INDEX], vis[FLIP_INDEX], mask[FLIP_INDEX], w[FLIP_INDEX]
    width, height = image_size
    inside = (lm[:, 0] >= 0) & (lm[:, 0] < width) & (lm[:, 1] >= 0) & (lm[:, 1] < height)
    vis = vis * inside
    return lm.astype(np.float32), vis.astype(np.float32), mask.astype(np.float32), w.astype(np.float32)


def box_from_points(xy_px: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """xyxy box of (N, 2) points clipped to a (width, height) image (as pseudo_label's boxes)."""
    xy = np.asarray(xy_px, np.float64).reshape(-1, 2)
    w, h = image_size
    return np.clip(np.r_[xy.min(0), xy.max(0)], 0, [w, h, w, h]).astype(np.float32)


def composite(background: np.ndarray, foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * foreground + (1 - alpha) * background`` of uint8 RGB images, alpha (H, W) in
    [0, 1]; rounded to uint8."""
    a = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)[..., None]
    out = a * foreground.astype(np.float32) + (1.0 - a) * background.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def known_landmarks(s: Sample) -> np.ndarray:
    """(33,) bool: the landmarks the sample's own alignment points were made from (all 33 for
    teacher and synthetic samples, whose every landmark has a position; else the labelled ones)."""
    full = np.ones(NUM_LANDMARKS, bool)
    a = alignment_points(s.landmarks_px, full)
    if np.isfinite(a).all() and np.allclose(a, s.alignment_px, atol=0.05):
        return full
    return np.asarray(s.landmark_mask) > 0


def person_roi(s: Sample) -> Roi | None:
    """The SDK's ROI for the sample's person (SDK pixel coordinates), from its labels."""
    xy = np.asarray(s.landmarks_px, np.float64)[:, :2] - ENGINE_TO_SDK_PX
    return roi_from_keypoints(xy, known_landmarks(s))
