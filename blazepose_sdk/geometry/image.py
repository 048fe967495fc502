"""Frame checking and ROI cropping (OpenCV), shared by the detector and landmark stages."""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InvalidFrameError
from .roi import Roi, image_to_tensor_matrix

# Largest side we accept; 8000x8000 RGB is ~192 MB and still fine, 2**15 guards int overflow in warps.
MAX_SIDE_PX = 32767


def as_rgb_uint8(frame: object) -> np.ndarray:
    """Check a frame and return it as a C-contiguous (H, W, 3) uint8 RGB array.

    Accepted without loss: (H, W, 3) uint8 RGB; grayscale (H, W) or (H, W, 1), expanded to
    RGB; RGBA (H, W, 4), alpha dropped; non-contiguous views, copied; float frames with every
    value in [0, 1], scaled by 255. Everything else raises :class:`InvalidFrameError` with the
    reason (None, not an array, empty, other dtypes, NaN/inf, values outside [0, 1] in floats,
    other channel counts, absurd sizes).

    Colour order cannot be checked: pass RGB (OpenCV's imread gives BGR; convert it first).
    """
    if frame is None:
        raise InvalidFrameError("frame is None")
    if not isinstance(frame, np.ndarray):
        raise InvalidFrameError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3):
        raise InvalidFrameError(f"frame must be (H, W), (H, W, 3) or (H, W, 4); got shape {frame.shape}")
    if frame.ndim == 3 and frame.shape[2] not in (3, 4):
        raise InvalidFrameError(f"frame has {frame.shape[2]} channels; expected 1, 3 or 4")
    h, w = frame.shape[:2]
    if h == 0 or w == 0:
        raise InvalidFrameError(f"frame is empty (shape {frame.shape})")
    if h > MAX_SIDE_PX or w > MAX_SIDE_PX:
        raise InvalidFrameError(f"frame {w}x{h} exceeds the {MAX_SIDE_PX} px limit per side")
    if frame.dtype == np.uint8:
        pass
    elif frame.dtype in (np.float16, np.float32, np.float64):
        if not np.isfinite(frame).all():
            raise InvalidFrameError("frame contains NaN or infinite values")
        lo, hi = float(frame.min()), float(frame.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidFrameError(
                f"float frames must hold values in [0, 1]; got [{lo:g}, {hi:g}] "
                "(convert 0..255 data to uint8 first)"
            )
        frame = np.rint(frame.astype(np.float32) * 255.0).astype(np.uint8)
    else:
        raise InvalidFrameError(f"frame dtype {frame.dtype} not supported; use uint8 (0..255) or float in [0, 1]")
    if frame.ndim == 2:
        frame = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_GRAY2RGB)
    elif frame.shape[2] == 4:
        frame = frame[:, :, :3]
    return np.ascontiguousarray(frame)


def crop_roi(
    frame_rgb: np.ndarray,
    roi: Roi,
    tensor_size: int,
    value_range: tuple[float, float],
    border: str = "replicate",
    bgr: bool = False,
) -> np.ndarray:
    """Warp the (rotated) ROI of an RGB uint8 frame into a (1, N, N, 3) float32 tensor.

    Pixel values are mapped linearly from 0..255 to ``value_range``. ``border`` is ``"zero"``
    (pixels outside the frame are black, as the detector's BORDER_ZERO) or ``"replicate"``
    (edge pixels repeat, ImageToTensorCalculator's default, used for landmarks). ``bgr``: the
    frame is in OpenCV's BGR order; the N x N crop is turned to RGB instead of the whole frame
    (the warp treats each channel alike, so the tensor is the same as from the RGB frame).
    """
    matrix = image_to_tensor_matrix(roi, tensor_size)
    mode = cv2.BORDER_CONSTANT if border == "zero" else cv2.BORDER_REPLICATE
    crop = cv2.warpAffine(
        frame_rgb, matrix, (tensor_size, tensor_size), flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=0
    )
    if bgr:
        crop = crop[:, :, ::-1]
    lo, hi = value_range
    tensor = crop.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
    return tensor[None]
