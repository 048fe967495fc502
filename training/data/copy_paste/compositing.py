"""One copy-paste output (training.data.copy_paste step 2): a background (procedural, or a
random crop of a real frame), the paste affine of one cut-out and the pasted sample with its
moved labels. Affines map the source image's data-engine pixels to the output's.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from blazepose_sdk.geometry.topology import FLIP_INDEX
from training.data.augment import ENGINE_TO_SDK_PX, colour_jitter, transform_points
from training.data.copy_paste.cutouts import Cutout
from training.data.copy_paste.geometry import (
    box_from_points,
    composite,
    engine_to_index_affine,
    known_landmarks,
    paste_affine,
    person_roi,
    transform_labels,
)
from training.data.copy_paste.options import CopyPasteOptions
from training.data.sample import Sample, alignment_points, encode_jpeg


def synthetic_background(rng: np.random.Generator, max_side: int) -> np.ndarray:
    """A procedural RGB background (our own, in the spirit of training.data.synth's): a colour
    gradient, low-frequency noise, random rectangles, discs and lines; random aspect ratio."""
    long_side = int(rng.integers(max_side * 2 // 3, max_side + 1))
    aspect = float(rng.uniform(0.56, 1.0))
    short_side = max(64, int(round(long_side * aspect)))
    w, h = (long_side, short_side) if rng.uniform() < 0.6 else (short_side, long_side)
    a, c = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    g = np.linspace(0, 1, h)[:, None, None]
    img = a + (c - a) * g * np.ones((1, w, 1))
    noise = cv2.resize(rng.uniform(-0.25, 0.25, (8, 8, 3)), (w, h), interpolation=cv2.INTER_CUBIC)
    img8 = (np.clip(img + noise, 0, 1) * 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 16))):
        colour = tuple(int(x) for x in rng.integers(0, 256, 3))
        p = rng.integers(-w // 4, w + w // 4, 4)
        kind = int(rng.integers(3))
        if kind == 0:
            cv2.rectangle(img8, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, -1)
        elif kind == 1:
            cv2.circle(img8, (int(p[0]), int(p[1])), int(rng.integers(5, max(6, min(w, h) // 3))), colour, -1)
        else:
            cv2.line(img8, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, int(rng.integers(1, 10)))
    return img8


def crop_background(image: np.ndarray, rng: np.random.Generator, o: CopyPasteOptions) -> np.ndarray:
    """A random crop (each side U(background_crop) of the frame's), mirrored with
    ``background_flip_prob``."""
    h, w = image.shape[:2]
    cw = max(16, int(round(rng.uniform(*o.background_crop) * w)))
    ch = max(16, int(round(rng.uniform(*o.background_crop) * h)))
    cw, ch = min(cw, w), min(ch, h)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = image[y0:y0 + ch, x0:x0 + cw]
    if rng.uniform() < o.background_flip_prob:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def place_affine(cut: Cutout, out_size: tuple[int, int], rng: np.random.Generator, o: CopyPasteOptions):
    """(affine in the source image's engine pixels -> output, scale, rotation, flip, anchored) for
    one paste. A person cut by its source border (``cut.touches``) is pasted upright with that
    border on the output's border (mirrored sides swap)."""
    s = cut.sample
    roi = person_roi(s)
    w, h = out_size
    flip = bool(rng.uniform() < o.flip_prob)
    rot = math.radians(rng.uniform(-o.rotation_deg, o.rotation_deg))
    target = rng.uniform(*o.person_scale) * min(w, h)
    scale = min(target / roi.size_px, o.max_upscale)
    trunc = rng.uniform() < o.truncation_prob
    ux, uy = rng.uniform(), rng.uniform()
    t = cut.touches
    anchored = any(t.values())
    if anchored:
        rot = 0.0
    src_c = np.array([roi.center_x_px, roi.center_y_px]) + ENGINE_TO_SDK_PX
    a = paste_affine(src_c, (0.0, 0.0), scale, rot, flip)
    # the cut-out's corners (engine pixels of the source image) give the pasted extent
    x0, y0 = cut.offset_xy
    x1, y1 = x0 + cut.alpha.shape[1], y0 + cut.alpha.shape[0]
    ext = transform_points(a, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    lo, hi = ext.min(0), ext.max(0)
    shift = np.zeros(2)
    for k, (u, size) in enumerate(((ux, w), (uy, h))):
        if trunc and not anchored:  # the hip centre anywhere in the image
            shift[k] = u * size
        elif hi[k] - lo[k] <= size:  # fits: anywhere it stays whole
            shift[k] = -lo[k] + u * (size - (hi[k] - lo[k]))
        else:  # larger than the image: anywhere it still covers the image
            shift[k] = size - hi[k] + u * ((hi[k] - lo[k]) - size)
    if anchored:  # upright: each cut source border goes onto the matching output border
        sw, sh = cut.source_size
        if t["left"] or t["right"]:
            x_out = transform_points(a, [[0.0 if t["left"] else float(sw), 0.0]])[0, 0]
            to_left = t["left"] != flip  # a mirror puts the source's left border on the right
            shift[0] = (0.0 if to_left else w) - x_out
        if t["top"] or t["bottom"]:
            y_out = transform_points(a, [[0.0, 0.0 if t["top"] else float(sh)]])[0, 1]
            shift[1] = (0.0 if t["top"] else h) - y_out
    a[:, 2] += shift
    return a, scale, rot, flip, anchored


def paste(cut: Cutout, background: np.ndarray, rng: np.random.Generator, o: CopyPasteOptions):
    """Paste one person onto ``background`` (RGB uint8); returns (Sample, info)."""
    h, w = background.shape[:2]
    a, scale, rot, flip, anchored = place_affine(cut, (w, h), rng, o)
    rgb = cut.rgb
    if rng.uniform() < o.colour_prob:
        rgb = colour_jitter(rgb, rng, o.colour_options())
    alpha = cut.alpha
    # the cut-out's own pixels: engine coordinates minus the offset
    x0, y0 = cut.offset_xy
    a_crop = a.copy()
    a_crop[:, 2] = transform_points(a, [[x0, y0]])[0]
    if scale < 1.0:  # shrink with area averaging first (a warp alone aliases)
        cw, ch = rgb.shape[1], rgb.shape[0]
        nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
        rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_AREA)
        a_crop = a_crop @ np.diag([cw / nw, ch / nh, 1.0])  # small-crop pixels -> crop pixels -> output
    m = engine_to_index_affine(a_crop)
    fg = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    al = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if o.feather_sigma_px > 0:
        al = cv2.GaussianBlur(al, (0, 0), o.feather_sigma_px)
    image = composite(background, fg, al)
    s = cut.sample
    lm, vis, mask, world = transform_labels(s.landmarks_px, s.visibility * cut.on_mask, s.landmark_mask, s.world_m,
                                            a, (w, h))
    known = known_landmarks(s)
    if flip:
        known = known[FLIP_INDEX]
    box = box_from_points(lm[known, :2], (w, h))
    out = Sample(image_jpeg=encode_jpeg(image, o.jpeg_quality), landmarks_px=lm, visibility=vis, landmark_mask=mask,
                 box_xyxy_px=box, alignment_px=alignment_points(lm, known).astype(np.float32), world_m=world,
                 has_world=float(s.has_world), source=f"copy_paste:{s.source}")
    if s.has_face_box:
        fx0, fy0, fx1, fy1 = (float(v) for v in s.face_box_xyxy_px)
        corners = transform_points(a, [[fx0, fy0], [fx1, fy0], [fx1, fy1], [fx0, fy1]])
        out.face_box_xyxy_px = box_from_points(corners, (w, h))
        out.has_face_box = 1.0
    info = {"scale": round(scale, 4), "rotation_deg": round(math.degrees(rot), 2), "flip": flip, "anchored": anchored,
            "visible_before": int((s.visibility * s.landmark_mask > 0).sum()),
            "visible_after": int((vis * mask > 0).sum())}
    return out, info
