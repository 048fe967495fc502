"""Segmentation masks: the landmark model's ROI mask projected to the frame, and smoothed in time.

The landmark models' third output is a (1, 256, 256, 1) tensor of logits over the ROI crop.
MediaPipe turns it into a frame-sized probability mask in three steps, reproduced here:

1. ``TensorsToSegmentationCalculator`` (activation SIGMOID, tensors_to_pose_landmarks_and_segmentation.pbtxt):
   probability = sigmoid(logit), still in the ROI's tensor frame;
2. ``WarpAffineCalculator`` with the inverse of the crop matrix, BORDER_ZERO
   (pose_landmarks_and_segmentation_inverse_projection.pbtxt): back to frame pixels, 0 outside
   the ROI (:func:`roi_mask_to_image`);
3. ``SegmentationSmoothingCalculator`` with combine_with_previous_ratio 0.7
   (pose_segmentation_filtering.pbtxt): each pixel is pulled towards the previous frame's
   smoothed mask in proportion to how uncertain the new value is (:func:`smooth_mask`).

Pure numpy/OpenCV functions; :class:`MaskSmoother` only keeps the previous mask.
"""

from __future__ import annotations

import cv2
import numpy as np

from .anchors import sigmoid
from .roi import Roi, image_to_tensor_matrix

# pose_segmentation_filtering.pbtxt: SegmentationSmoothingCalculatorOptions.combine_with_previous_ratio
COMBINE_WITH_PREVIOUS_RATIO = 0.7
# segmentation_smoothing_calculator.cc: a polynomial in t^2 = (p - 0.5)^2 approximating the squared
# certainty (1 - H(p))^2 of a pixel with probability p (H: binary entropy in bits).
UNCERTAINTY_POLYNOMIAL = (5.68842, -0.748699, -57.8051, 291.309, -624.717)
# A pixel is "person" at probability >= this when a mask is binarised (IoU, cut-outs, drawing).
MASK_THRESHOLD = 0.5


def mask_probability(logits: np.ndarray) -> np.ndarray:
    """(N, N) float32 probabilities from the model's segmentation logits (any shape with N x N
    elements in its last two non-unit axes, e.g. (1, N, N, 1))."""
    x = np.asarray(logits, dtype=np.float32).squeeze()
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ValueError(f"segmentation logits must be a square map, got shape {np.shape(logits)}")
    return sigmoid(x)


def roi_mask_to_image(mask_roi: np.ndarray, roi: Roi, image_size: tuple[int, int]) -> np.ndarray:
    """Warp an (N, N) map over ``roi`` (the landmark model's tensor frame, tensor pixels) back to
    a (height, width) map in frame pixels: the inverse of the ROI crop
    (:func:`~blazepose_sdk.geometry.roi.image_to_tensor_matrix`), bilinear, zero outside the ROI.

    Args:
        mask_roi: (N, N) float values (probabilities) in the ROI's tensor frame.
        roi: the ROI the landmark model saw, in frame pixels.
        image_size: (width, height) of the frame in pixels.
    """
    m = np.asarray(mask_roi, np.float32)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"mask_roi must be square (N, N), got {m.shape}")
    w, h = (int(v) for v in image_size)
    matrix = image_to_tensor_matrix(roi, m.shape[0])
    # WARP_INVERSE_MAP: the matrix maps destination (frame) pixels to source (tensor) pixels
    return cv2.warpAffine(m, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def mask_uncertainty(probability: np.ndarray) -> np.ndarray:
    """How uncertain each pixel's probability is, in [0, 1]: 1 at p = 0.5, 0 near 0 and 1
    (MediaPipe's polynomial, see :data:`UNCERTAINTY_POLYNOMIAL`)."""
    c1, c2, c3, c4, c5 = UNCERTAINTY_POLYNOMIAL
    t = np.asarray(probability, np.float32) - np.float32(0.5)
    x = t * t
    certainty = x * (c1 + x * (c2 + x * (c3 + x * (c4 + x * c5))))
    return (1.0 - np.minimum(np.float32(1.0), certainty)).astype(np.float32)


def smooth_mask(new: np.ndarray, previous: np.ndarray, ratio: float = COMBINE_WITH_PREVIOUS_RATIO) -> np.ndarray:
    """MediaPipe's segmentation smoothing: ``new + (previous - new) * uncertainty(new) * ratio``,
    per pixel. Both masks are probabilities of the same shape."""
    n = np.asarray(new, np.float32)
    p = np.asarray(previous, np.float32)
    if n.shape != p.shape:
        raise ValueError(f"mask shapes differ: {n.shape} vs {p.shape}")
    return n + (p - n) * (mask_uncertainty(n) * np.float32(ratio))


def mask_iou(a: np.ndarray, b: np.ndarray, threshold: float = MASK_THRESHOLD) -> float:
    """Intersection over union of two probability (or boolean) masks binarised at ``threshold``;
    1.0 when both are empty."""
    ma = np.asarray(a) >= threshold
    mb = np.asarray(b) >= threshold
    if ma.shape != mb.shape:
        raise ValueError(f"mask shapes differ: {ma.shape} vs {mb.shape}")
    union = np.count_nonzero(ma | mb)
    return 1.0 if union == 0 else float(np.count_nonzero(ma & mb)) / union


class MaskSmoother:
    """Keeps the previous smoothed mask of one tracked person (MediaPipe's loopback)."""

    def __init__(self, ratio: float = COMBINE_WITH_PREVIOUS_RATIO) -> None:
        self.ratio = float(ratio)
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        """The smoothed mask; the first mask (and one whose size changed) passes unchanged."""
        m = np.asarray(mask, np.float32)
        out = m if self._previous is None or self._previous.shape != m.shape else smooth_mask(m, self._previous, self.ratio)
        self._previous = out
        return out
