"""Augmentation as pure numpy/OpenCV functions; ``training.data.pipeline`` wraps them in tf.data.

Two crops are made from a :class:`~training.data.sample.Sample`:

* the landmark crop (:func:`landmark_crop`): the SDK's inference ROI
  (``blazepose_sdk.geometry.roi.roi_from_alignment_points`` on the hip centre and body-circle point, side
  x ``ROI_SCALE`` = 1.25, hip->shoulder turned straight up), then scale/shift/rotation jitter,
  horizontal flip with left/right swap, random occlusion rectangles and colour jitter, as the
  BlazePose paper (Bazarevsky et al. 2020, sec. 3.2) describes;
* the detector input (:func:`detector_crop`): the whole image letterboxed to a square tensor
  (``blazepose_sdk.geometry.roi.letterbox_roi``), with flip, zoom/shift jitter and colour jitter.

Pixel conventions. The data engine puts the centre of pixel (row i, column j) at (j + 0.5, i + 0.5)
(``training.data.sample``). The SDK and OpenCV put pixel index j at coordinate j: ``cv2.warpAffine``
with ``blazepose_sdk.geometry.roi.image_to_tensor_matrix(roi, N)`` fills tensor pixel u from image
coordinate ``M^-1 u`` in that index convention. So every label is shifted by
``-ENGINE_TO_SDK_PX`` = -0.5 px before it goes through the warp matrix, and the targets come out
in *tensor index* coordinates: a landmark at target (u, v) sits on tensor pixel (round(u),
round(v)). A model trained on these targets, decoded by the SDK (``decode_landmark_tensor`` /
``project_landmarks``), gives image coordinates in the SDK's index convention (= data-engine
coordinates - 0.5), which is what the SDK reports everywhere.

Every function takes a ``numpy.random.Generator`` and draws from it in a fixed order, so the
output is a pure function of the inputs and the generator's seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from blazepose_sdk.geometry.roi import ROI_SCALE, Roi, image_to_tensor_matrix, letterbox_roi, roi_from_alignment_points
from blazepose_sdk.geometry.topology import FLIP_INDEX

# Data-engine pixel coordinates minus SDK/OpenCV pixel coordinates (see the module docstring).
ENGINE_TO_SDK_PX = 0.5
# Input sizes of the official models: pose_landmark_*.tflite takes 256x256, pose_detection.tflite
# 224x224 (their input tensors; also pose_landmark_by_roi_cpu.pbtxt / pose_detection_cpu.pbtxt).
LANDMARK_INPUT_SIZE = 256
DETECTOR_INPUT_SIZE = 224
# Sample.source of a person-free photo (training.data.negatives): every crop of it is a negative.
NEGATIVE_SOURCE_PREFIX = "negative:"


@dataclass(frozen=True)
class AugmentOptions:
    """Augmentation strengths. Fractions are of the ROI side; angles in degrees.

    Defaults: scale/shift +-10 % (the issue's "+-10 % scale/shift jitter"); rotation +-20 deg
    (our choice: the rotation error of a tracked ROI on fast motion); flip 0.5; occlusion
    rectangles (BlazePose paper sec. 3.2: "random rectangle objects of various colors") on half
    the crops, 1-3 of them, each side 10-40 % of the crop; colour jitter within the ranges below.
    ``negative_prob``: share of landmark crops taken away from the person (presence target 0);
    only used where the image has room for a crop that misses the person box.
    """

    scale_jitter: float = 0.10
    shift_jitter: float = 0.10
    rotation_deg: float = 20.0
    flip_prob: float = 0.5
    occlusion_prob: float = 0.5
    occlusion_count: tuple[int, int] = (1, 3)
    occlusion_side: tuple[float, float] = (0.10, 0.40)
    brightness: float = 0.25  # additive, fraction of 255
    contrast: tuple[float, float] = (0.7, 1.3)
    saturation: tuple[float, float] = (0.6, 1.4)
    hue_deg: float = 10.0
    gamma: tuple[float, float] = (0.8, 1.25)
    colour_prob: float = 0.8
    negative_prob: float = 0.0
    # Share of person crops made partial (:func:`partial_person_roi`): half of them a close-up, the
    # ROI scaled by ``partial_zoom`` around a random labelled body point; half the whole-body ROI on
    # an image cut by a simulated frame edge through the person box (``partial_cut`` of its span
    # kept), filled black or with the edge row/column replicated. Their presence stays 1 (a
    # black-box teacher decides how much person is left). 0: no draws, crops as before.
    partial_person_prob: float = 0.0
    partial_zoom: tuple[float, float] = (0.4, 0.8)
    partial_cut: tuple[float, float] = (0.3, 0.7)
    # Person-free photos without a detector ROI: a random upright square of this share of the
    # shorter side (whole-image to zoomed views, as a tracker ROI on clutter).
    person_free_side: tuple[float, float] = (0.2, 1.0)
    # Detector only: the letterbox ROI is zoomed by a factor in this range (>1 zooms out).
    detector_zoom: tuple[float, float] = (0.9, 1.3)
    detector_rotation_deg: float = 0.0
    # Landmark crops only: the share of crops (people and person-free alike) seen as a small,
    # compressed video would show them (:func:`degrade`): the ROI resampled to a side drawn
    # log-uniformly from ``degrade_side_px`` source pixels (when it had more), JPEG-coded there at
    # a quality from ``degrade_jpeg_quality``, and scaled back. 0: no draws, crops as before.
    degrade_prob: float = 0.0
    degrade_side_px: tuple[float, float] = (48.0, 256.0)
    degrade_jpeg_quality: tuple[int, int] = (20, 90)


NO_AUGMENT = AugmentOptions(scale_jitter=0.0, shift_jitter=0.0, rotation_deg=0.0, flip_prob=0.0, occlusion_prob=0.0,
                            colour_prob=0.0, negative_prob=0.0, detector_zoom=(1.0, 1.0), detector_rotation_deg=0.0)


# --- geometry -------------------------------------------------------------------------------
def transform_points(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (N, 2) points."""
    p = np.asarray(xy, np.float64).reshape(-1, 2)
    return p @ np.asarray(matrix, np.float64)[:, :2].T + np.asarray(matrix, np.float64)[:, 2]


def flip_matrix(tensor_size: int) -> np.ndarray:
    """2x3 horizontal mirror of an N-wide tensor in index coordinates: u -> N - 1 - u."""
    return np.array([[-1.0, 0.0, tensor_size - 1.0], [0.0, 1.0, 0.0]])


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``a after b``."""
    a3 = np.vstack([a, [0, 0, 1]])
    b3 = np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


def landmark_roi(alignment_px: np.ndarray, box_xyxy_px: np.ndarray) -> tuple[Roi, bool]:
    """The SDK's inference ROI for a sample, in SDK pixel coordinates, and whether it came
    from the alignment points.

    From the hip centre and body-circle point (data-engine pixels, shifted by -0.5) exactly as
    the tracker does: ``roi_from_alignment_points`` (side = 2 x radius x 1.25, rotated so the
    hip -> body-circle vector points up). Without alignment points (hips or shoulders not
    labelled) the fallback is an upright square on the box centre, side 1.25 x the longer box side.
    """
    a = np.asarray(alignment_px, np.float64)
    if np.isfinite(a[:2]).all() and np.hypot(*(a[1] - a[0])) > 1e-6:
        return roi_from_alignment_points(a[0] - ENGINE_TO_SDK_PX, a[1] - ENGINE_TO_SDK_PX), True
    x0, y0, x1, y1 = np.asarray(box_xyxy_px, np.float64)
    side = ROI_SCALE * max(x1 - x0, y1 - y0, 1.0)
    return Roi(0.5 * (x0 + x1) - ENGINE_TO_SDK_PX, 0.5 * (y0 + y1) - ENGINE_TO_SDK_PX, side, 0.0), False


def jitter_roi(roi: Roi, rng: np.random.Generator, scale: float, shift: float, rotation_deg: float) -> Roi:
    """Scale the side by U(1 - scale, 1 + scale), move the centre by U(-shift, shift) x side along
    the ROI's own axes, and add U(-rotation, rotation) degrees. Draws three numbers in that order
    (four with the shift's two axes)."""
    s = 1.0 + rng.uniform(-scale, scale)
    d = rng.uniform(-shift, shift, 2) * roi.size_px
    r = math.radians(rng.uniform(-rotation_deg, rotation_deg))
    c, sn = math.cos(roi.rotation_rad), math.sin(roi.rotation_rad)
    dx, dy = c * d[0] - sn * d[1], sn * d[0] + c * d[1]
    return Roi(roi.center_x_px + dx, roi.center_y_px + dy, roi.size_px * s, roi.rotation_rad + r)


def rotate_xy(xyz: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotate the x, y columns of (N, 3) points by ``-angle_rad`` (image frame -> ROI frame, the
    inverse of ``blazepose_sdk.geometry.roi.rotate_world_landmarks``)."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    out = np.asarray(xyz, np.float64).copy()
    x, y = out[:, 0].copy(), out[:, 1].copy()
    out[:, 0], out[:, 1] = c * x + s * y, -s * x + c * y
    return out


def flip_landmarks(landmarks_px: np.ndarray, visibility: np.ndarray, mask: np.ndarray, width_px: float,
                   world_m: np.ndarray | None = None):
    """Mirror (33, 3) pixel landmarks about the vertical centre line of an image ``width_px``
    wide and swap left/right rows (FLIP_INDEX). x -> width - x (continuous pixel coordinates);
    world x is negated. Returns (landmarks_px, visibility, mask, world_m)."""
    lm = np.asarray(landmarks_px, np.float32).copy()
    lm[:, 0] = width_px - lm[:, 0]
    out = (lm[FLIP_INDEX], np.asarray(visibility)[FLIP_INDEX], np.asarray(mask)[FLIP_INDEX])
    w = None
    if world_m is not None:
        w = np.asarray(world_m, np.float32).copy()
        w[:, 0] = -w[:, 0]
        w = w[FLIP_INDEX]
    return (*out, w)


# --- appearance -----------------------------------------------------------------------------
def occlude(image: np.ndarray, xy: np.ndarray, visibility: np.ndarray, rng: np.random.Generator,
            count: tuple[int, int], side: tuple[float, float]):
    """Paint random solid rectangles of random colours on an (N, N, 3) uint8 image (in place)
    and set the visibility of landmarks ``xy`` (index coordinates) that fall inside one to 0.

    Returns (image, visibility, rects) with rects an (K, 4) int array of x0, y0, x1, y1
    (inclusive-exclusive pixel ranges)."""
    n_h, n_w = image.shape[:2]
    vis = np.asarray(visibility, np.float32).copy()
    rects = []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        w = max(1, round(rng.uniform(*side) * n_w))
        h = max(1, round(rng.uniform(*side) * n_h))
        x0 = int(rng.integers(0, n_w - w + 1))
        y0 = int(rng.integers(0, n_h - h + 1))
        colour = rng.integers(0, 256, 3).astype(np.uint8)
        image[y0:y0 + h, x0:x0 + w] = colour
        rects.append((x0, y0, x0 + w, y0 + h))
        px = np.floor(np.asarray(xy, np.float64) + 0.5)  # the pixel a landmark sits on
        inside = (px[:, 0] >= x0) & (px[:, 0] < x0 + w) & (px[:, 1] >= y0) & (px[:, 1] < y0 + h)
        vis[inside] = 0.0
    return image, vis, np.asarray(rects, np.int64).reshape(-1, 4)


def colour_jitter(image: np.ndarray, rng: np.random.Generator, o: AugmentOptions) -> np.ndarray:
    """Brightness, contrast, saturation, hue and gamma jitter of an RGB uint8 image; returns uint8.
    Always draws the same count of numbers from ``rng``."""
    b = rng.uniform(-o.brightness, o.brightness) * 255.0
    c = rng.uniform(*o.contrast)
    s = rng.uniform(*o.saturation)
    h = rng.uniform(-o.hue_deg, o.hue_deg)
    g = rng.uniform(*o.gamma)
    img = image.astype(np.float32)
    mean = img.mean()
    img = (img - mean) * c + mean + b
    grey = img @ np.array([0.299, 0.587, 0.114], np.float32)
    img = grey[..., None] + (img - grey[..., None]) * s
    img = np.clip(img, 0, 255).astype(np.uint8)
    if abs(h) > 1e-3:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL)
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + round(h / 360.0 * 256)) % 256
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut)


# --- landmark crop ----------------------------------------------------------------------------
@dataclass
class LandmarkCrop:
    """One landmark-model training example. Tensor coordinates are index coordinates of the
    N x N crop (see the module docstring); arrays float32.

    image (N, N, 3) uint8 RGB; landmarks (33, 3): x, y in crop px, z in crop px (hip-relative
    depth, same scale as x); visibility (33,): 1 = inside the crop, not occluded in the source
    and not under an occlusion rectangle; landmark_mask (33,); world_m (33, 3): metres,
    hip-centred, in the crop's upright frame (the SDK rotates predictions back with
    ``rotate_world_landmarks``); has_world; presence: 1 = a person crop, 0 = a negative;
    aux (2, 2): hip centre and body-circle point in crop px; has_aux: 1 when they come from the
    sample's alignment points; matrix (2, 3): SDK image px -> crop px; flipped.
    """

    image: np.ndarray
    landmarks: np.ndarray
    visibility: np.ndarray
    landmark_mask: np.ndarray
    world_m: np.ndarray
    has_world: float
    presence: float
    aux: np.ndarray
    has_aux: float
    matrix: np.ndarray
    flipped: bool = False


def _negative_roi(box_xyxy_px, image_w: int, image_h: int, rng: np.random.Generator) -> Roi | None:
    """An upright square inside the image that misses the person box (grown by 10 %), or None
    after 10 tries."""
    x0, y0, x1, y1 = np.asarray(box_xyxy_px, np.float64)
    gx, gy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    x0, y0, x1, y1 = x0 - gx, y0 - gy, x1 + gx, y1 + gy
    for _ in range(10):
        side = rng.uniform(0.25, 0.7) * min(image_w, image_h)
        cx, cy = rng.uniform(side / 2, image_w - side / 2), rng.uniform(side / 2, image_h - side / 2)
        if cx + side / 2 < x0 or cx - side / 2 > x1 or cy + side / 2 < y0 or cy - side / 2 > y1:
            return Roi(cx - ENGINE_TO_SDK_PX, cy - ENGINE_TO_SDK_PX, side, 0.0)
    return None


def partial_person_roi(roi: Roi, landmarks_px, landmark_mask, rng: np.random.Generator, zoom) -> Roi:
    """A close-up of part of the body: ``roi`` (SDK px) scaled by U(zoom) and centred on a random
    labelled landmark (data-engine px; the ROI's centre when none is labelled), same rotation."""
    lm = np.asarray(landmarks_px, np.float64)[:, :2]
    ok = (np.asarray(landmark_mask) > 0) & np.isfinite(lm).all(1)
    scale = rng.uniform(*zoom)
    idx = np.flatnonzero(ok)
    i = int(rng.integers(0, len(idx))) if len(idx) else -1
    cx, cy = (lm[idx[i]] - ENGINE_TO_SDK_PX) if i >= 0 else (roi.center_x_px, roi.center_y_px)
    return Roi(float(cx), float(cy), roi.size_px * scale, roi.rotation_rad)


def cut_frame_edge(image: np.ndarray, box_xyxy_px, rng: np.random.Generator, keep) -> tuple[np.ndarray, tuple]:
    """A copy of ``image`` as if the camera's frame ended inside the person box: one side (left,
    right, top, bottom) is cut at U(keep) of the box's span from the opposite box edge, and
    everything beyond is black or the last kept row/column replicated (as the SDK's crop fills
    outside the frame). Returns (image, (side, cut px)); side 0-3 = left, right, top, bottom."""
    img = image.copy()
    h, w = img.shape[:2]
    x0, y0, x1, y1 = np.asarray(box_xyxy_px, np.float64)
    side = int(rng.integers(0, 4))
    f = rng.uniform(*keep)
    black = bool(rng.uniform() < 0.5)
    if side == 0:
        c = int(np.clip(round(x1 - f * (x1 - x0)), 1, w - 1))
        img[:, :c] = 0 if black else img[:, c:c + 1]
    elif side == 1:
        c = int(np.clip(round(x0 + f * (x1 - x0)), 1, w - 1))
        img[:, c:] = 0 if black else img[:, c - 1:c]
    elif side == 2:
        c = int(np.clip(round(y1 - f * (y1 - y0)), 1, h - 1))
        img[:c] = 0 if black else img[c:c + 1]
    else:
        c = int(np.clip(round(y0 + f * (y1 - y0)), 1, h - 1))
        img[c:] = 0 if black else img[c - 1:c]
    return img, (side, c)


def _outside_cut(xy_px, cut) -> np.ndarray:
    """Which (N, 2) data-engine points lie beyond a :func:`cut_frame_edge` cut."""
    side, c = cut
    x, y = np.asarray(xy_px, np.float64)[:, 0], np.asarray(xy_px, np.float64)[:, 1]
    return [x < c, x >= c, y < c, y >= c][side]


def degrade(crop: np.ndarray, roi_side_px: float, rng: np.random.Generator, side_px: tuple[float, float],
            jpeg_quality: tuple[int, int]) -> np.ndarray:
    """A (N, N, 3) uint8 RGB crop of a ROI ``roi_side_px`` source pixels wide, as a lower-resolution,
    compressed source would give it: resampled (area) to a side drawn log-uniformly from ``side_px``
    source pixels when the ROI had more, JPEG-coded at that size with a quality drawn uniformly from
    ``jpeg_quality`` (inclusive), and scaled back (bilinear) to N x N. Same shape and dtype out."""
    n = crop.shape[0]
    side = float(np.exp(rng.uniform(np.log(side_px[0]), np.log(side_px[1]))))
    quality = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
    small = max(8, int(round(n * min(1.0, side / max(float(roi_side_px), 1.0)))))
    out = cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA) if small < n else crop
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(out[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    if small < n:
        out = cv2.resize(out, (n, n), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out)


def is_person_free(sample) -> bool:
    """A record of a person-free photo (``training.data.negatives``): its crops are negatives."""
    return str(getattr(sample, "source", "")).startswith(NEGATIVE_SOURCE_PREFIX)


def _person_free_roi(sample, image_w: int, image_h: int, rng: np.random.Generator, side_range) -> Roi:
    """The ROI of a person-free record: from its alignment points (a detector's false detection)
    when it has them, else an upright square of ``side_range`` x the shorter side anywhere in the
    image (its centre inside the image); without ``rng`` the centred square of the shorter side."""
    a = np.asarray(sample.alignment_px, np.float64)
    if np.isfinite(a[:2]).all() and np.hypot(*(a[1] - a[0])) > 1e-6:
        return roi_from_alignment_points(a[0] - ENGINE_TO_SDK_PX, a[1] - ENGINE_TO_SDK_PX)
    if rng is None:
        return Roi(image_w / 2.0 - ENGINE_TO_SDK_PX, image_h / 2.0 - ENGINE_TO_SDK_PX, float(min(image_w, image_h)), 0.0)
    side = rng.uniform(*side_range) * min(image_w, image_h)
    cx = rng.uniform(min(side / 2, image_w / 2), max(image_w - side / 2, image_w / 2))
    cy = rng.uniform(min(side / 2, image_h / 2), max(image_h - side / 2, image_h / 2))
    return Roi(cx - ENGINE_TO_SDK_PX, cy - ENGINE_TO_SDK_PX, side, 0.0)


def landmark_crop(sample, rng: np.random.Generator, options: AugmentOptions | None = None,
                  input_size: int = LANDMARK_INPUT_SIZE, training: bool = True,
                  image_rgb: np.ndarray | None = None) -> LandmarkCrop:
    """Crop a :class:`~training.data.sample.Sample` for the landmark model.

    ``training=False`` gives the plain inference crop (no jitter, flip, occlusion or colour;
    ``rng`` is not used). The warp is ``cv2.warpAffine`` with bilinear sampling and replicated
    borders, as ``blazepose_sdk.geometry.image.crop_roi`` does for the landmark stage.
    """
    o = options or AugmentOptions()
    if not training:
        o = NO_AUGMENT
    img = sample.image_rgb() if image_rgb is None else image_rgb
    n = int(input_size)
    roi, has_aux = landmark_roi(sample.alignment_px, sample.box_xyxy_px)
    presence = 1.0
    if is_person_free(sample):  # a photo with no person: every crop is a negative (jittered as a person's)
        roi = _person_free_roi(sample, img.shape[1], img.shape[0], rng if training else None, o.person_free_side)
        presence = 0.0
        roi = jitter_roi(roi, rng, o.scale_jitter, o.shift_jitter, o.rotation_deg) if training else roi
    elif o.negative_prob > 0 and rng.uniform() < o.negative_prob:
        neg = _negative_roi(sample.box_xyxy_px, img.shape[1], img.shape[0], rng)
        if neg is not None:
            roi, presence = neg, 0.0
    cut = None
    if presence > 0 and o.partial_person_prob > 0 and rng.uniform() < o.partial_person_prob:
        if rng.uniform() < 0.5:
            roi = partial_person_roi(roi, sample.landmarks_px, sample.landmark_mask, rng, o.partial_zoom)
        else:
            img, cut = cut_frame_edge(img, sample.box_xyxy_px, rng, o.partial_cut)
    if presence > 0:
        roi = jitter_roi(roi, rng, o.scale_jitter, o.shift_jitter, o.rotation_deg)
    flipped = bool(o.flip_prob > 0 and rng.uniform() < o.flip_prob)
    m = image_to_tensor_matrix(roi, n)
    if flipped:
        m = compose(flip_matrix(n), m)
    crop = cv2.warpAffine(img, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    k = n / roi.size_px
    lm = np.zeros((33, 3), np.float64)
    lm[:, :2] = transform_points(m, np.asarray(sample.landmarks_px, np.float64)[:, :2] - ENGINE_TO_SDK_PX)
    lm[:, 2] = np.asarray(sample.landmarks_px, np.float64)[:, 2] * k
    vis = np.asarray(sample.visibility, np.float32).copy()
    if cut is not None:
        vis[_outside_cut(np.asarray(sample.landmarks_px)[:, :2], cut)] = 0.0
    mask = np.asarray(sample.landmark_mask, np.float32).copy()
    world = rotate_xy(sample.world_m, roi.rotation_rad)
    a = np.asarray(sample.alignment_px, np.float64)[:2]
    if has_aux:
        aux = transform_points(m, a - ENGINE_TO_SDK_PX)
    else:  # what the ROI implies: its centre and the point a half-side / 1.25 above it
        up = np.array([[n / 2.0, n / 2.0], [n / 2.0, n / 2.0 - n / (2.0 * ROI_SCALE)]])
        aux = up if not flipped else transform_points(flip_matrix(n), up)
    if flipped:  # the geometry is mirrored by the matrix; swap the left/right rows
        lm, vis, mask, world = lm[FLIP_INDEX], vis[FLIP_INDEX], mask[FLIP_INDEX], world[FLIP_INDEX]
        world[:, 0] = -world[:, 0]
    inside = (lm[:, 0] >= -0.5) & (lm[:, 0] < n - 0.5) & (lm[:, 1] >= -0.5) & (lm[:, 1] < n - 0.5)
    vis = vis * inside.astype(np.float32)
    if o.occlusion_prob > 0 and rng.uniform() < o.occlusion_prob:
        crop, vis, _ = occlude(crop, lm[:, :2], vis, rng, o.occlusion_count, o.occlusion_side)
    if o.colour_prob > 0 and rng.uniform() < o.colour_prob:
        crop = colour_jitter(crop, rng, o)
    if o.degrade_prob > 0 and rng.uniform() < o.degrade_prob:
        crop = degrade(crop, roi.size_px, rng, o.degrade_side_px, o.degrade_jpeg_quality)
    has_world = float(sample.has_world)
    if presence == 0.0:
        vis[:], mask[:], has_world, has_aux = 0.0, 0.0, 0.0, False
    return LandmarkCrop(
        image=crop, landmarks=lm.astype(np.float32), visibility=(vis * mask).astype(np.float32),
        landmark_mask=mask, world_m=world.astype(np.float32), has_world=has_world, presence=presence,
        aux=aux.astype(np.float32), has_aux=float(has_aux), matrix=m.astype(np.float32), flipped=flipped,
    )


# --- detector input ---------------------------------------------------------------------------
@dataclass
class DetectorCrop:
    """One detector training example: image (N, N, 3) uint8 RGB (the letterboxed frame; padding
    black); face_box (4,) xmin, ymin, xmax, ymax and alignment (4, 2) (hip centre, body-circle
    point, shoulder centre, upper-body-circle point), both normalised to the tensor (index
    coordinate / N, the SDK detector's decode frame); has_face_box, has_alignment; matrix."""

    image: np.ndarray
    face_box: np.ndarray
    has_face_box: float
    alignment: np.ndarray
    has_alignment: float
    matrix: np.ndarray
    flipped: bool = False


def detector_crop(sample, rng: np.random.Generator, options: AugmentOptions | None = None,
                  input_size: int = DETECTOR_INPUT_SIZE, training: bool = True,
                  image_rgb: np.ndarray | None = None) -> DetectorCrop:
    """Letterbox the whole image into an N x N tensor as ``blazepose_sdk.stages.detector.PoseDetector``
    (``letterbox_roi``, zero borders); training adds zoom/shift/rotation, flip and colour jitter.
    Alignment points need no left/right swap (they lie on the body's mid-line)."""
    o = options or AugmentOptions()
    if not training:
        o = NO_AUGMENT
    img = sample.image_rgb() if image_rgb is None else image_rgb
    n = int(input_size)
    roi = letterbox_roi(img.shape[1], img.shape[0])
    z = rng.uniform(*o.detector_zoom) if o.detector_zoom != (1.0, 1.0) else 1.0
    roi = Roi(roi.center_x_px, roi.center_y_px, roi.size_px * z, 0.0)
    if training:
        roi = jitter_roi(roi, rng, 0.0, o.shift_jitter, o.detector_rotation_deg)
    flipped = bool(o.flip_prob > 0 and rng.uniform() < o.flip_prob)
    m = image_to_tensor_matrix(roi, n)
    if flipped:
        m = compose(flip_matrix(n), m)
    crop = cv2.warpAffine(img, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    fb = np.asarray(sample.face_box_xyxy_px, np.float64) - ENGINE_TO_SDK_PX
    corners = transform_points(m, [[fb[0], fb[1]], [fb[2], fb[1]], [fb[2], fb[3]], [fb[0], fb[3]]])
    face = np.r_[corners.min(0), corners.max(0)] / n
    al = np.asarray(sample.alignment_px, np.float64)
    has_al = float(np.isfinite(al).all())
    al = transform_points(m, np.nan_to_num(al) - ENGINE_TO_SDK_PX) / n
    if o.colour_prob > 0 and rng.uniform() < o.colour_prob:
        crop = colour_jitter(crop, rng, o)
    has_face = float(sample.has_face_box)
    return DetectorCrop(image=crop, face_box=(face * has_face).astype(np.float32), has_face_box=has_face,
                        alignment=(al * has_al).astype(np.float32), has_alignment=has_al,
                        matrix=m.astype(np.float32), flipped=flipped)
