"""Rotated square regions of interest (ROIs) and the affine maps around them.

Pure numpy math, no I/O. Frames used here:

* image pixels (``*_px``): x right, y down, origin at the top-left corner of the frame;
* ROI-normalized (``*_roi``): 0..1 across the rotated crop, (0, 0) its top-left corner;
* tensor pixels: 0..N across an N x N model input, the same frame as ROI-normalized times N.

A rotation ``theta`` turns the ROI clockwise on screen (y points down). A point ``p`` in
ROI-normalized coordinates lies at ``center + size * R(theta) @ (p - 0.5)`` in the image, with
``R = [[cos, -sin], [sin, cos]]``, the convention of MediaPipe's LandmarkProjectionCalculator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Expansion of the alignment-point box, from RectTransformationCalculator (scale_x/scale_y 1.25)
# in mediapipe/modules/pose_landmark/pose_detection_to_roi.pbtxt and pose_landmarks_to_roi.pbtxt.
ROI_SCALE = 1.25
# rotation_vector_target_angle_degrees: 90 in the same graphs: the hip-centre -> body-circle
# vector (which points from the hips towards the head) is turned to point straight up.
TARGET_ANGLE_RAD = math.pi / 2
# Below this side length (pixels) a ROI cannot hold a person; it is treated as no ROI.
MIN_ROI_SIZE_PX = 2.0


@dataclass(frozen=True)
class Roi:
    """A rotated square region of an image.

    Attributes:
        center_x_px, center_y_px: centre in image pixels.
        size_px: side length in image pixels.
        rotation_rad: clockwise rotation on screen, radians in [-pi, pi).
    """

    center_x_px: float
    center_y_px: float
    size_px: float
    rotation_rad: float = 0.0

    def to_dict(self) -> dict:
        return {
            "center_x_px": float(self.center_x_px),
            "center_y_px": float(self.center_y_px),
            "size_px": float(self.size_px),
            "rotation_rad": float(self.rotation_rad),
        }

    def corners_px(self) -> np.ndarray:
        """(4, 2) corners in image pixels: top-left, top-right, bottom-right, bottom-left of the crop."""
        unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
        return roi_to_image(unit, self)

    def is_valid(self) -> bool:
        values = (self.center_x_px, self.center_y_px, self.size_px, self.rotation_rad)
        return all(math.isfinite(v) for v in values) and self.size_px >= MIN_ROI_SIZE_PX


def normalize_radians(angle: float) -> float:
    """Wrap an angle to [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def roi_from_alignment_points(
    center_xy_px: np.ndarray,
    scale_xy_px: np.ndarray,
    scale: float = ROI_SCALE,
    target_angle_rad: float = TARGET_ANGLE_RAD,
) -> Roi:
    """ROI from two alignment points, as AlignmentPointsRectsCalculator + RectTransformation.

    The ROI is centred on ``center_xy_px`` (the hip centre), its side is twice the distance to
    ``scale_xy_px`` (the body-circle point) times ``scale``, and it is rotated so that the
    vector centre -> scale point maps to ``target_angle_rad`` (straight up for pi/2).
    """
    c = np.asarray(center_xy_px, dtype=np.float64).reshape(2)
    s = np.asarray(scale_xy_px, dtype=np.float64).reshape(2)
    dx, dy = s[0] - c[0], s[1] - c[1]
    radius = math.hypot(dx, dy)
    rotation = normalize_radians(target_angle_rad - math.atan2(-dy, dx))
    return Roi(float(c[0]), float(c[1]), float(2.0 * radius * scale), rotation)


def alignment_points_of_roi(roi: Roi, scale: float = ROI_SCALE, target_angle_rad: float = TARGET_ANGLE_RAD) -> np.ndarray:
    """(2, 2) image px: the hip centre and body-circle point from which
    :func:`roi_from_alignment_points` gives ``roi`` (its inverse): the ROI centre, and the point
    ``size / (2 x scale)`` from it in the direction that maps to ``target_angle_rad``."""
    radius = roi.size_px / (2.0 * scale)
    theta = target_angle_rad - roi.rotation_rad  # = atan2(-dy, dx) of centre -> body-circle point
    c = np.array([roi.center_x_px, roi.center_y_px], np.float64)
    return np.stack([c, c + radius * np.array([math.cos(theta), -math.sin(theta)])])


def body_circle_points(
    xy_px: np.ndarray,
    labelled: np.ndarray,
    hips: tuple[int, int] = (23, 24),
    shoulders: tuple[int, int] = (11, 12),
) -> np.ndarray | None:
    """The two alignment points of a labelled person, (2, 2) image pixels, or None.

    Row 0 is the hip centre (mid-point of ``hips``); row 1 is the hip centre moved by ``r``
    along the unit vector hip centre -> shoulder centre, with ``r`` the radius of the circle
    about the hip centre that holds every labelled keypoint: the points the detector and the
    landmark model's auxiliary outputs predict, so that :func:`roi_from_alignment_points` of
    them is the ROI the tracker would use for that person. ``xy_px``: (K, 2) keypoints in
    image pixels; ``labelled``: (K,) bool; indices default to BlazePose-33 (COCO-17: hips
    (11, 12), shoulders (5, 6)). None when a hip or shoulder is not labelled.
    """
    xy = np.asarray(xy_px, dtype=np.float64)[:, :2]
    m = np.asarray(labelled, dtype=bool) & np.isfinite(xy).all(axis=1)
    if not m[list(hips) + list(shoulders)].all():
        return None
    hip = 0.5 * (xy[hips[0]] + xy[hips[1]])
    d = 0.5 * (xy[shoulders[0]] + xy[shoulders[1]]) - hip
    n = float(np.linalg.norm(d))
    u = d / n if n > 1e-9 else np.array([0.0, -1.0])
    r = float(np.max(np.linalg.norm(xy[m] - hip, axis=1)))
    return np.stack([hip, hip + r * u])


def roi_from_keypoints(
    xy_px: np.ndarray,
    labelled: np.ndarray,
    hips: tuple[int, int] = (23, 24),
    shoulders: tuple[int, int] = (11, 12),
) -> Roi | None:
    """The tracker's ROI for a person with known keypoints (image pixels), or None.

    From :func:`body_circle_points` when the hips and shoulders are labelled; otherwise an
    upright square on the centre of the labelled keypoints' box, side ``ROI_SCALE`` x its
    longer side. None with fewer than two labelled keypoints or a degenerate ROI.
    """
    points = body_circle_points(xy_px, labelled, hips, shoulders)
    if points is not None and np.hypot(*(points[1] - points[0])) > 1e-6:
        roi = roi_from_alignment_points(points[0], points[1])
    else:
        xy = np.asarray(xy_px, dtype=np.float64)[:, :2]
        m = np.asarray(labelled, dtype=bool) & np.isfinite(xy).all(axis=1)
        if m.sum() < 2:
            return None
        (x0, y0), (x1, y1) = xy[m].min(axis=0), xy[m].max(axis=0)
        roi = Roi(0.5 * (x0 + x1), 0.5 * (y0 + y1), ROI_SCALE * max(x1 - x0, y1 - y0), 0.0)
    return roi if roi.is_valid() else None


def letterbox_roi(image_width: int, image_height: int) -> Roi:
    """The unrotated square ROI that letterboxes a whole frame (keep aspect, centred padding).

    Cropping this ROI to a square tensor is MediaPipe's ImageToTensor with keep_aspect_ratio;
    mapping tensor coordinates back through it removes the letterbox.
    """
    return Roi(image_width / 2.0, image_height / 2.0, float(max(image_width, image_height)), 0.0)


def _rotation(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]], dtype=np.float64)


def roi_to_image(points_roi: np.ndarray, roi: Roi) -> np.ndarray:
    """Map (N, 2) ROI-normalized points to image pixels."""
    p = np.asarray(points_roi, dtype=np.float64).reshape(-1, 2)
    center = np.array([roi.center_x_px, roi.center_y_px])
    return center + roi.size_px * (p - 0.5) @ _rotation(roi.rotation_rad).T


def image_to_roi(points_px: np.ndarray, roi: Roi) -> np.ndarray:
    """Map (N, 2) image-pixel points to ROI-normalized coordinates (inverse of roi_to_image)."""
    p = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    center = np.array([roi.center_x_px, roi.center_y_px])
    return (p - center) @ _rotation(roi.rotation_rad) / roi.size_px + 0.5


def image_to_tensor_matrix(roi: Roi, tensor_size: int) -> np.ndarray:
    """2x3 affine matrix taking image pixels to tensor pixels of an N x N crop of ``roi``.

    Pass it to ``cv2.warpAffine(frame, M, (N, N))``. The ROI's corners land on the tensor's
    corners (0 and N), as the corner mapping in MediaPipe's ImageToTensorCalculator.
    """
    values = (roi.center_x_px, roi.center_y_px, roi.size_px, roi.rotation_rad)
    if not all(math.isfinite(v) for v in values) or roi.size_px <= 0:
        raise ValueError(f"cannot crop degenerate ROI {roi}")
    k = tensor_size / roi.size_px
    rt = _rotation(roi.rotation_rad).T
    center = np.array([roi.center_x_px, roi.center_y_px])
    linear = k * rt
    offset = tensor_size / 2.0 - linear @ center
    return np.hstack([linear, offset[:, None]])


def project_landmarks(landmarks_roi: np.ndarray, roi: Roi) -> np.ndarray:
    """Project ROI-normalized landmarks to image pixels.

    Args:
        landmarks_roi: (N, C>=3): x, y in ROI-normalized units, z in the same units as x (crop
            widths), then any extra columns (visibility, presence), copied unchanged.
    Returns:
        (N, C): x_px, y_px, z_px (z scaled by the ROI size, so it shares x's pixel units),
        then the extra columns.
    """
    lm = np.asarray(landmarks_roi, dtype=np.float64)
    out = lm.copy()
    out[:, :2] = roi_to_image(lm[:, :2], roi)
    out[:, 2] = lm[:, 2] * roi.size_px
    return out


def rotate_world_landmarks(world_m: np.ndarray, rotation_rad: float) -> np.ndarray:
    """Rotate (N, 3) world landmarks about the z axis by the ROI rotation.

    The landmark model predicts world landmarks in the upright ROI frame; MediaPipe's
    WorldLandmarkProjectionCalculator turns x, y back by the ROI rotation. Metres, hip-centred.
    """
    w = np.asarray(world_m, dtype=np.float64).copy()
    w[:, :2] = w[:, :2] @ _rotation(rotation_rad).T
    return w
