"""Deterministic test images for the MediaPipe parity fixtures.

The reference landmarks in ``tests/data/parity/*.json`` were produced by
``tools/make_parity_fixtures.py`` with MediaPipe's legacy
``mediapipe.solutions.pose``.  Each fixture entry carries a small *spec*
(a JSON dict) describing how its input image was derived from the shared
sample data (``basketball1.png`` / ``vtest.avi``); :func:`derive_image`
turns such a spec back into exactly the same RGB ``uint8`` image, so the SDK
tests can run our pipeline on it without MediaPipe installed.

Only numpy and OpenCV are used (no mediapipe import).  Scaling uses
``cv2.resize(..., interpolation=cv2.INTER_LINEAR)``; rotations and the clip's
virtual camera use :func:`warp_affine_bilinear`, a float64 numpy bilinear
warp with zero borders, because ``cv2.warpAffine``'s fixed-point output
differs between OpenCV releases (4.11 vs 5.0: up to 4 levels on ~2% of
pixels) while numpy's is reproducible.  Decoded ``vtest.avi`` frames can
still differ by 1-2 levels on a few pixels between FFmpeg builds, so
compare those images with a tolerance rather than by hash.

Spec format (flat dict)::

    {"source": "basketball1.png", "op": "identity"}
    {"source": "basketball1.png", "op": "rotate", "angle_deg": 30}
    {"source": "basketball1.png", "op": "flip"}                 # horizontal
    {"source": "basketball1.png", "op": "crop_scale",
     "crop_xywh": [x, y, w, h], "scale": 2.0}
    {"source": "basketball1.png", "op": "pad", "pad_ltrb": [l, t, r, b]}
    {"source": "vtest.avi", "frame": 120, "op": "crop_scale",
     "crop_xywh": [x, y, w, h], "scale": 4}

``rotate``: ``angle_deg`` is counter-clockwise as seen on screen.  Multiples
of 90 degrees are exact pixel permutations (``np.rot90``); other angles use
``cv2.warpAffine`` onto an expanded canvas (see :func:`rotate_expanded`).
``crop_scale``: the crop must lie inside the source; the output size is
``(round(w * scale), round(h * scale))``.
``pad``: zero (black) padding, in pixels.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Union

import cv2
import numpy as np

PathLike = Union[str, Path]

#: ``<repo>/../shared/data`` (i.e. /work/shared/data in the dev checkout).
DEFAULT_SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"

_VIDEO_CACHE: Dict[tuple, np.ndarray] = {}


def image_sha256(image: np.ndarray) -> str:
    """sha256 over shape + raw bytes of a C-contiguous uint8 image."""
    image = np.ascontiguousarray(image)
    h = hashlib.sha256()
    h.update(repr((image.shape, str(image.dtype))).encode())
    h.update(image.tobytes())
    return h.hexdigest()


def load_source(spec: Mapping[str, Any], shared_dir: PathLike = DEFAULT_SHARED_DIR) -> np.ndarray:
    """Load the untouched source image (RGB uint8) named by ``spec``."""
    shared_dir = Path(shared_dir)
    source = spec["source"]
    path = shared_dir / source
    if source.lower().endswith((".png", ".jpg", ".jpeg")):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(path)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if source.lower().endswith(".avi"):
        frame = int(spec["frame"])
        key = (str(path.resolve()), frame)
        if key not in _VIDEO_CACHE:
            _VIDEO_CACHE[key] = _read_video_frame(path, frame)
        return _VIDEO_CACHE[key].copy()
    raise ValueError(f"unknown source {source!r}")


def _read_video_frame(path: Path, frame: int) -> np.ndarray:
    # Decode sequentially from frame 0: seeking is not frame-exact for every
    # codec/backend, sequential decoding is.
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(path)
    try:
        for _ in range(frame + 1):
            ok, bgr = cap.read()
            if not ok:
                raise ValueError(f"{path} has no frame {frame}")
    finally:
        cap.release()
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rotation_matrix_expanded(width: int, height: int, angle_deg: float):
    """2x3 forward affine (source -> output pixel coords) and output size for
    rotating a ``width`` x ``height`` image by ``angle_deg`` (CCW on screen)
    around its centre, onto a canvas just large enough to hold it."""
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    new_w = int(round(abs(width * c) + abs(height * s)))
    new_h = int(round(abs(width * s) + abs(height * c)))
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    ncx, ncy = (new_w - 1) / 2.0, (new_h - 1) / 2.0
    # Same convention as cv2.getRotationMatrix2D (y axis points down).
    m = np.array(
        [
            [c, s, ncx - c * cx - s * cy],
            [-s, c, ncy + s * cx - c * cy],
        ],
        dtype=np.float64,
    )
    return m, (new_w, new_h)


def invert_affine(m) -> np.ndarray:
    """Inverse of a 2x3 affine matrix (float64)."""
    a, b, c = (float(v) for v in m[0])
    d, e, f = (float(v) for v in m[1])
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return np.array(
        [[ia, ib, -(ia * c + ib * f)], [id_, ie, -(id_ * c + ie * f)]],
        dtype=np.float64,
    )


def warp_affine_bilinear(image: np.ndarray, dst_to_src, out_size) -> np.ndarray:
    """Bilinear warp with constant-zero border, in float64 numpy.

    ``dst_to_src`` is a 2x3 matrix mapping output pixel coordinates (pixel
    centres at integers) to source pixel coordinates; ``out_size`` is
    ``(width, height)``.  Each output value is the bilinear blend of the four
    neighbouring source pixels (pixels outside the image count as 0),
    rounded half up.  Same semantics as ``cv2.warpAffine(...,
    flags=INTER_LINEAR | WARP_INVERSE_MAP, borderMode=BORDER_CONSTANT)`` up
    to OpenCV's 1/32-pixel fixed-point quantisation.
    """
    m = np.asarray(dst_to_src, dtype=np.float64)
    out_w, out_h = int(out_size[0]), int(out_size[1])
    h, w = image.shape[:2]
    img = image.reshape(h, w, -1)
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    sx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    sy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    x0f, y0f = np.floor(sx), np.floor(sy)
    fx, fy = (sx - x0f)[..., None], (sy - y0f)[..., None]
    # Indices into a copy padded by one zero pixel on every side; anything
    # further out is clamped onto that zero border.
    x0 = np.clip(x0f, -1, w).astype(np.int64) + 1
    y0 = np.clip(y0f, -1, h).astype(np.int64) + 1
    x1 = np.clip(x0f + 1, -1, w).astype(np.int64) + 1
    y1 = np.clip(y0f + 1, -1, h).astype(np.int64) + 1
    pad = np.zeros((h + 2, w + 2, img.shape[2]), dtype=np.float64)
    pad[1:-1, 1:-1] = img
    top = pad[y0, x0] * (1.0 - fx) + pad[y0, x1] * fx
    bot = pad[y1, x0] * (1.0 - fx) + pad[y1, x1] * fx
    val = top * (1.0 - fy) + bot * fy
    out = np.clip(np.floor(val + 0.5), 0, 255).astype(np.uint8)
    return out.reshape((out_h, out_w) + image.shape[2:])


def rotate_expanded(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate CCW by ``angle_deg`` onto an expanded, zero-filled canvas."""
    if float(angle_deg) % 90.0 == 0.0:
        return np.ascontiguousarray(np.rot90(image, k=int(round(angle_deg / 90.0)) % 4))
    h, w = image.shape[:2]
    m, size = rotation_matrix_expanded(w, h, angle_deg)
    return warp_affine_bilinear(image, invert_affine(m), size)


def crop_scale(image: np.ndarray, crop_xywh, scale: float) -> np.ndarray:
    x, y, w, h = (int(v) for v in crop_xywh)
    ih, iw = image.shape[:2]
    if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > iw or y + h > ih:
        raise ValueError(f"crop {crop_xywh} outside {iw}x{ih} image")
    crop = image[y:y + h, x:x + w]
    out_w, out_h = int(round(w * scale)), int(round(h * scale))
    if (out_w, out_h) == (w, h):
        return np.ascontiguousarray(crop)
    return cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_LINEAR)


def derive_image(spec: Mapping[str, Any], shared_dir: PathLike = DEFAULT_SHARED_DIR) -> np.ndarray:
    """Re-create the RGB uint8 test image described by ``spec``."""
    img = load_source(spec, shared_dir)
    op = spec.get("op", "identity")
    if op == "identity":
        out = img
    elif op == "rotate":
        out = rotate_expanded(img, float(spec["angle_deg"]))
    elif op == "flip":
        out = img[:, ::-1]
    elif op == "crop_scale":
        out = crop_scale(img, spec["crop_xywh"], float(spec.get("scale", 1.0)))
    elif op == "pad":
        l, t, r, b = (int(v) for v in spec["pad_ltrb"])
        out = cv2.copyMakeBorder(img, t, b, l, r, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    else:
        raise ValueError(f"unknown op {op!r}")
    return np.ascontiguousarray(out, dtype=np.uint8)


# --------------------------------------------------------------------------
# Synthetic video clip: a slowly panning / zooming / rotating virtual camera
# over basketball1.png, centred near the full-body player on the left.

PAN_CLIP_SOURCE = "basketball1.png"
PAN_CLIP_SIZE = (288, 384)  # output width, height


def pan_clip_params(t: int, num_frames: int = 60) -> Dict[str, float]:
    """Virtual-camera parameters of frame ``t``: centre in source pixels,
    source-pixel height covered by the output, and roll in degrees (CCW)."""
    u = t / max(num_frames - 1, 1)
    return {
        "center_x": 98.0 + 14.0 * math.sin(2.0 * math.pi * u),
        "center_y": 282.0 - 12.0 * u,
        "src_height": 470.0 - 90.0 * u,  # zooms in from ~1.2x to ~1.0x body height
        "angle_deg": 10.0 * math.sin(2.0 * math.pi * u),
    }


def pan_clip_matrix(params: Mapping[str, float], out_size=PAN_CLIP_SIZE) -> np.ndarray:
    """2x3 affine mapping *output* pixel coords to *source* pixel coords."""
    out_w, out_h = out_size
    s = params["src_height"] / out_h
    t = math.radians(params["angle_deg"])
    c, sn = math.cos(t), math.sin(t)
    # source = centre + s * R(-angle) @ (out - out_centre): content appears
    # rotated CCW by angle_deg on screen.
    a = np.array([[c * s, -sn * s], [sn * s, c * s]], dtype=np.float64)
    oc = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    b = np.array([params["center_x"], params["center_y"]]) - a @ oc
    return np.hstack([a, b[:, None]])


def make_pan_clip(shared_dir: PathLike = DEFAULT_SHARED_DIR, num_frames: int = 60) -> List[np.ndarray]:
    """``num_frames`` RGB uint8 frames (384 high x 288 wide) of a virtual
    camera panning, zooming and rolling over basketball1.png."""
    src = load_source({"source": PAN_CLIP_SOURCE}, shared_dir)
    frames = []
    for t in range(num_frames):
        m = pan_clip_matrix(pan_clip_params(t, num_frames))
        frames.append(warp_affine_bilinear(src, m, PAN_CLIP_SIZE))
    return frames


def rle_encode(binary: np.ndarray) -> List[int]:
    """Run lengths of a boolean mask flattened row by row, alternating False / True runs and
    starting with a (possibly empty) False run: the compact form the mask fixtures store."""
    flat = np.asarray(binary, dtype=bool).reshape(-1)
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    return ([0] + runs) if flat[0] else runs


def rle_decode(runs, height: int, width: int) -> np.ndarray:
    """The (height, width) boolean mask of :func:`rle_encode`'s run lengths."""
    values = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    if flat.size != height * width:
        raise ValueError(f"run lengths cover {flat.size} pixels, expected {height * width}")
    return flat.reshape(height, width)
