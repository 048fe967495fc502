"""Presence suite: does the landmark model's pose-presence score separate people from background?

The tracker keeps a pose only while the landmark model's presence is at least
``min_tracking_confidence`` (:class:`~blazepose_sdk.options.TrackerOptions`); below it the pose is
dropped and the detector runs again. A model whose presence is high on background keeps
"tracking" an empty ROI after the person left, or draws a pose on an empty scene. Every
pipeline row's landmark model is run alone on labelled ROIs (:meth:`PoseTracker.process_roi`,
the ``accuracy --roi labels`` path) of two sets:

Positives (people), all on real images, each at the tracker's ROI for that person's labels
(:func:`blazepose_sdk.geometry.roi.roi_from_keypoints`):

* ``derived set``: the accuracy suite's derived set (basketball1.png and vtest.avi person
  crops, pseudo-labelled, rotated / flipped / cropped / halved);
* ``vtest frames``: walking people in full vtest.avi frames at their native 60-130 px, found
  by background subtraction against the median frame (one blob per person; blobs where the
  labelling detector sees two people are left out) and pseudo-labelled on an upscaled crop;
* ``pan clip``: frames of the synthetic pan/zoom/roll clip over basketball1.png, the player's
  labels mapped through each frame's known camera.

Negatives (no person in the crop):

* ``vtest background``: ROIs of people's size on vtest.avi frames, kept only where the
  foreground mask (difference to the median background, dilated) is empty in the whole crop;
* ``vtest median``: ROIs of the median-over-time background of vtest.avi (its pedestrians
  all walk, so the median holds nobody);
* ``shifted off person``: each vtest-frame person's ROI moved by :data:`SHIFT_ROI_SIDES` ROI
  sides (what the tracker's ROI holds right after the person left it), kept when no labelled
  keypoint and no foreground falls inside;
* ``synthetic flat / noise / gradient / texture``: generated images (:func:`synthetic_backgrounds`).

The pseudo-labels come from ``--pseudo-labels`` (default reference-heavy; the shipped default
pipeline when the reference models are not cached). Reported per row: AUROC of presence
(positives vs negatives), the false rejection rate (people below the threshold) and false
acceptance rate (background at or above it) at the tracker's threshold, and PASS/FAIL against
:data:`SHIP_AUROC`; the same per sample group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk.app.video import VideoReader, read_image
from blazepose_sdk.assets.models import DEFAULT_PIPELINE
from blazepose_sdk.errors import BlazePoseError, ModelNotFoundError
from blazepose_sdk.geometry.roi import Roi, image_to_roi, image_to_tensor_matrix, roi_from_keypoints
from blazepose_sdk.options import DEFAULT_MIN_TRACKING_CONFIDENCE
from blazepose_sdk.tracker import PoseTracker

from .accuracy import DEFAULT_LABEL_MODEL, labelled_roi
from .common import Reporter
from .datasets import (
    PAN_CLIP_SOURCE,
    build_derived_set,
    camera_matrix,
    label_from_pose,
    pan_clip_camera,
    pan_clip_frames,
    transform_points,
)
from .metrics import auroc, threshold_error_rates
from .pipeline import VTEST_NAME, pipeline_rows, tracker_options
from .rows import ModelRow, parse_row

# Ship bar (issue 15): a landmark model becomes a default only if its pose presence separates
# people from background with AUROC >= 0.98 on this suite.
SHIP_AUROC = 0.98
# Off-person negatives: the ROI moved by this many ROI sides. The tracker's ROI side is
# 2 x 1.25 x the body-circle radius (roi.ROI_SCALE), so the body circle has radius 0.4 side;
# a square's corner lies sqrt(2)/2 side from its centre, so any shift >= 0.4 + 0.707 = 1.107
# sides leaves the body circle outside the moved crop. 1.25 adds a margin for limbs and hair.
SHIFT_ROI_SIDES = 1.25
# Foreground mask of vtest.avi frames (chosen by eye on frames 0-795: every pedestrian and
# their shadow is covered, the static scene is not): grey-level difference to the median
# background above FOREGROUND_DIFF, 3x3 opening against pixel noise, then dilated by
# FOREGROUND_DILATE_PX so that a crop "without foreground" keeps a margin around every person.
FOREGROUND_DIFF = 25
FOREGROUND_DILATE_PX = 31
# The median background uses every MEDIAN_STEP-th frame (100 of vtest.avi's 795).
MEDIAN_STEP = 8
# Side of vtest.avi person crops handed to the labelling model (datasets.VTEST_CROP_SIZE's value).
LABEL_CROP_SIZE = 384
# People blobs (connected components of the undilated mask, closed by BLOB_CLOSE_PX) kept as
# vtest-frame positives: BLOB_HEIGHT_PX tall (vtest's people are 60-110 px; taller blobs are
# people one behind the other), narrower than BLOB_MAX_ASPECT x their height (wider blobs are
# people side by side), not touching the frame border.
BLOB_CLOSE_PX = 9
BLOB_HEIGHT_PX = (50, 130)
BLOB_MAX_ASPECT = 0.8
# A blob's label is kept when its visible keypoints span this fraction of the blob's height.
BLOB_LABEL_SPAN = (0.75, 1.15)
SYNTHETIC_SIZE = 256
# Highest-scoring negatives listed per row in the JSON.
TOP_NEGATIVES = 8


@dataclass(frozen=True)
class PresenceSettings:
    """Options of the presence suite (``quick``: a few samples per group, a smoke test)."""

    threads: int | None = None
    min_presence: float | None = None  # the threshold of the error rates (None: the tracker's default 0.5)
    pseudo_labels: str | None = None  # labelling pipeline (None: reference-heavy, else the default pipeline)
    seed: int = 0
    vtest_frames: int = 17  # frames of vtest.avi scanned for people and background crops
    background_per_group: int = 60  # negatives per vtest group (background, median, shifted)
    pan_frames: int = 30  # labelled frames of the pan clip (of a 150-frame clip)
    synthetic_per_kind: int = 10


QUICK_PRESENCE = PresenceSettings(vtest_frames=3, background_per_group=6, pan_frames=4, synthetic_per_kind=2)


@dataclass(frozen=True)
class Sample:
    """One crop to score: ``image`` (RGB, shared between samples of a frame) at ``roi``."""

    group: str
    positive: bool
    key: str
    image: np.ndarray
    roi: Roi


# -- pure helpers ----------------------------------------------------------------------------
def median_background(frames: list[np.ndarray]) -> np.ndarray:
    """Per-pixel median of equally sized RGB frames (uint8): the static scene of a fixed camera."""
    if not frames:
        raise ValueError("median_background needs at least one frame")
    return np.median(np.stack(frames), axis=0).round().astype(np.uint8)


def video_median(path: str | Path, step: int = MEDIAN_STEP, keep: set[int] | frozenset[int] = frozenset()
                 ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The median of every ``step``-th frame of a video (:func:`median_background`), and the
    frames whose indices are in ``keep``, read in the same pass."""
    frames, history = {}, []
    with VideoReader(path) as reader:
        for index, (_, frame) in enumerate(reader):
            if index % step == 0:
                history.append(frame)
            if index in keep:
                frames[index] = frame
    return median_background(history), frames


def foreground_mask(frame_rgb: np.ndarray, background_rgb: np.ndarray,
                    dilate_px: int = FOREGROUND_DILATE_PX) -> np.ndarray:
    """(H, W) uint8, 255 where the frame differs from the background (see FOREGROUND_DIFF), dilated."""
    grey = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY).astype(np.int16)
    bg = cv2.cvtColor(background_rgb, cv2.COLOR_RGB2GRAY).astype(np.int16)
    mask = (np.abs(grey - bg) > FOREGROUND_DIFF).astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if dilate_px > 1:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (dilate_px, dilate_px)))
    return mask


def roi_has_foreground(mask: np.ndarray, roi: Roi, grid: int = 64) -> bool:
    """Whether any mask pixel falls in the ROI's crop, as the landmark model crops it (edge
    pixels replicated outside the frame, so a person at the border counts)."""
    crop = cv2.warpAffine(mask, image_to_tensor_matrix(roi, grid), (grid, grid), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return bool(crop.max() > 0)


def roi_contains_points(roi: Roi, xy_px: np.ndarray) -> bool:
    """Whether any of the (N, 2) image points lies inside the rotated ROI square."""
    xy = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if xy.size == 0:
        return False
    u = image_to_roi(xy, roi)
    return bool(((u >= 0.0) & (u <= 1.0)).all(axis=1).any())


def shifted_rois(roi: Roi, sides: float = SHIFT_ROI_SIDES) -> list[Roi]:
    """The ROI moved by ``sides`` ROI sides left, right, up and down (image axes), same size and turn."""
    d = sides * roi.size_px
    return [Roi(roi.center_x_px + dx, roi.center_y_px + dy, roi.size_px, roi.rotation_rad)
            for dx, dy in ((-d, 0.0), (d, 0.0), (0.0, -d), (0.0, d))]


def person_blobs(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) boxes of single people in an undilated foreground mask (see BLOB_* constants)."""
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                                (BLOB_CLOSE_PX, BLOB_CLOSE_PX)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(closed)
    height, width = mask.shape[:2]
    out = []
    for x, y, w, h, _area in stats[1:n]:
        if not (BLOB_HEIGHT_PX[0] <= h <= BLOB_HEIGHT_PX[1]) or w > BLOB_MAX_ASPECT * h:
            continue
        if x <= 0 or y <= 0 or x + w >= width or y + h >= height:
            continue
        out.append((int(x), int(y), int(w), int(h)))
    return out


def synthetic_backgrounds(rng: np.random.Generator, per_kind: int, size: int = SYNTHETIC_SIZE
                          ) -> list[tuple[str, str, np.ndarray]]:
    """(group, name, RGB uint8 image) of person-free generated images, ``per_kind`` of each group:
    flat colours, noise (Gaussian, uniform, salt-and-pepper, blurred), gradients (linear in any
    direction, radial) and textures (checkerboards, stripes, rings, random shapes on a gradient)."""
    out = []
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / (size - 1)
    fixed = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 40, 40), (40, 160, 60), (40, 60, 200)]
    for i in range(per_kind):
        colour = fixed[i] if i < len(fixed) else tuple(int(c) for c in rng.integers(0, 256, 3))
        out.append(("synthetic flat", f"flat{i}", np.full((size, size, 3), colour, np.uint8)))
    for i in range(per_kind):
        kind = i % 4
        if kind == 0:
            img = rng.normal(rng.uniform(60, 200), rng.uniform(10, 80), (size, size, 3))
        elif kind == 1:
            img = rng.uniform(0, 256, (size, size, 3))
        elif kind == 2:
            img = np.full((size, size, 3), rng.uniform(60, 200))
            dots = rng.uniform(size=(size, size)) < 0.05
            img[dots] = rng.choice([0.0, 255.0], size=(int(dots.sum()), 1))
        else:
            cells = int(rng.integers(4, 32))
            img = cv2.resize(rng.uniform(0, 256, (cells, cells, 3)), (size, size), interpolation=cv2.INTER_CUBIC)
        out.append(("synthetic noise", f"noise{i}", np.clip(img, 0, 255).astype(np.uint8)))
    for i in range(per_kind):
        a, b = rng.uniform(0, 256, 3), rng.uniform(0, 256, 3)
        if i % 3 == 2:
            t = np.hypot(xx - rng.uniform(), yy - rng.uniform()) / math.sqrt(2.0)
        else:
            angle = rng.uniform(0, 2 * math.pi)
            t = (math.cos(angle) * xx + math.sin(angle) * yy)
            t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
        img = a + (b - a) * t[..., None]
        out.append(("synthetic gradient", f"gradient{i}", np.clip(img, 0, 255).astype(np.uint8)))
    for i in range(per_kind):
        kind = i % 4
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        period = float(rng.uniform(8, 64))
        if kind == 0:
            on = ((xx * size // period).astype(int) + (yy * size // period).astype(int)) % 2 == 1
        elif kind == 1:
            angle = rng.uniform(0, math.pi)
            on = np.sin(2 * math.pi * (math.cos(angle) * xx + math.sin(angle) * yy) * size / period) > 0
        elif kind == 2:
            on = np.sin(2 * math.pi * np.hypot(xx - 0.5, yy - 0.5) * size / period) > 0
        else:
            on = None
        if on is not None:
            img = np.where(on[..., None], a, b).astype(np.uint8)
        else:  # random rectangles, discs and lines over a gradient, as a cluttered scene
            img = (a + (b - a) * yy[..., None]).astype(np.uint8)
            for _ in range(int(rng.integers(4, 14))):
                colour = tuple(int(c) for c in rng.integers(0, 256, 3))
                p = [int(v) for v in rng.integers(-size // 4, size + size // 4, 4)]
                shape = int(rng.integers(3))
                if shape == 0:
                    cv2.rectangle(img, (p[0], p[1]), (p[2], p[3]), colour, -1)
                elif shape == 1:
                    cv2.circle(img, (p[0], p[1]), int(rng.integers(5, size // 3)), colour, -1)
                else:
                    cv2.line(img, (p[0], p[1]), (p[2], p[3]), colour, int(rng.integers(1, 8)))
        out.append(("synthetic texture", f"texture{i}", np.ascontiguousarray(img)))
    return out


# -- the sample set --------------------------------------------------------------------------
def _labeller_row(settings: PresenceSettings, reporter: Reporter) -> tuple[ModelRow, str]:
    name = settings.pseudo_labels or DEFAULT_LABEL_MODEL
    try:
        row = parse_row(name)
    except ModelNotFoundError as exc:
        if settings.pseudo_labels:
            raise
        reporter.note(f"presence: {name} is not available ({exc}); the positives are labelled by {DEFAULT_PIPELINE}")
        name = DEFAULT_PIPELINE
        row = parse_row(name)
    if row.detector is None:
        raise ModelNotFoundError(f"--pseudo-labels {name} is not a pipeline (detector + landmarks)")
    return row, name


def _label_crop(labeller: PoseTracker, frame: np.ndarray, x0: float, y0: float, side: float) -> np.ndarray | None:
    """Label the person in the square (x0, y0, side) of ``frame`` on an upscaled crop; (33, 2)
    visible keypoints in frame pixels (NaN where not visible), or None unless the labeller's
    detector finds exactly one person there (two people would get one merged pose)."""
    scale = LABEL_CROP_SIZE / side
    m = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    crop = cv2.warpAffine(frame, m, (LABEL_CROP_SIZE, LABEL_CROP_SIZE), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
    if len(labeller.detector(crop)) != 1:
        return None
    result = labeller.process(crop)
    if result.pose is None:
        return None
    label = label_from_pose(result.pose, (LABEL_CROP_SIZE, LABEL_CROP_SIZE))
    xy = transform_points(label.xy_px, cv2.invertAffineTransform(m))
    xy[~label.visible] = np.nan
    return xy


def _vtest_samples(path: Path, labeller: PoseTracker, settings: PresenceSettings, reporter: Reporter) -> list[Sample]:
    """Positives (people in full frames) and the three vtest negative groups (each drawn with its
    own random generator, so that one group's draws do not move another's)."""
    rng_shift, rng_background, rng_median = (np.random.default_rng([settings.seed, k]) for k in (1, 2, 3))
    with VideoReader(path) as reader:
        count = reader.frame_count or 1
    wanted = set(np.linspace(0, count - 1, settings.vtest_frames + 2).round().astype(int)[1:-1].tolist())
    median, frames = video_median(path, keep=wanted)
    samples: list[Sample] = []
    people: list[tuple[int, Roi, np.ndarray]] = []
    masks = {}
    for index, frame in sorted(frames.items()):
        masks[index] = foreground_mask(frame, median)
        for x, y, w, h in person_blobs(foreground_mask(frame, median, dilate_px=1)):
            side = 1.6 * h
            xy = _label_crop(labeller, frame, x + 0.5 * w - 0.5 * side, y + 0.5 * h - 0.5 * side, side)
            if xy is None:
                continue
            visible = np.isfinite(xy).all(axis=1)
            roi = roi_from_keypoints(np.nan_to_num(xy), visible)
            # the labelled person must be the blob's, alone in it: ROI centre in the blob's box and
            # the keypoints spanning most of its height (two people stacked in one blob fail this)
            span = float(np.ptp(xy[visible, 1])) if visible.sum() >= 2 else 0.0
            if roi is None or not (x <= roi.center_x_px <= x + w and y <= roi.center_y_px <= y + h
                                   and BLOB_LABEL_SPAN[0] * h <= span <= BLOB_LABEL_SPAN[1] * h):
                continue
            people.append((index, roi, xy[visible]))
            samples.append(Sample("vtest frames", True, f"vtest{index:04d}@{x},{y}", frame, roi))
    all_points = {i: np.concatenate([p for j, _, p in people if j == i] or [np.zeros((0, 2))]) for i in frames}
    shifted = []
    for index, roi, _ in people:
        for moved in shifted_rois(roi):
            h, w = frames[index].shape[:2]
            if not (0 <= moved.center_x_px < w and 0 <= moved.center_y_px < h):
                continue
            if roi_contains_points(moved, all_points[index]) or roi_has_foreground(masks[index], moved):
                continue
            shifted.append(Sample("shifted off person", False, f"vtest{index:04d}-shift", frames[index], moved))
    if len(shifted) > settings.background_per_group:
        keep = sorted(rng_shift.choice(len(shifted), settings.background_per_group, replace=False).tolist())
        shifted = [shifted[i] for i in keep]
    samples += shifted
    # person-sized ROIs (the vtest people's ROIs span about 80-250 px) anywhere in the frame
    sides = [r.size_px for _, r, _ in people] or [120.0]
    lo, hi = 0.8 * min(sides), 1.2 * max(sides)
    order = sorted(frames)
    background, attempts = [], 0
    while len(background) < settings.background_per_group and attempts < 200 * settings.background_per_group:
        attempts += 1
        index = order[attempts % len(order)]
        h, w = frames[index].shape[:2]
        side = rng_background.uniform(lo, hi)
        edge = min(0.25 * side, 0.5 * min(w, h))  # at most a quarter of the crop's side outside the frame
        roi = Roi(rng_background.uniform(edge, w - edge), rng_background.uniform(edge, h - edge), side,
                  math.radians(rng_background.uniform(-30, 30)))
        if not roi_has_foreground(masks[index], roi):
            background.append(Sample("vtest background", False, f"vtest{index:04d}-bg", frames[index], roi))
    if len(background) < settings.background_per_group:
        reporter.note(f"presence: only {len(background)} person-free vtest crops found in {attempts} tries")
    samples += background
    h, w = median.shape[:2]
    rois = [Roi(w / 2.0, h / 2.0, float(max(w, h)), 0.0)]  # the whole frame, letterboxed
    while len(rois) < settings.background_per_group:
        rois.append(Roi(rng_median.uniform(0, w), rng_median.uniform(0, h), rng_median.uniform(lo, max(w, h)),
                        math.radians(rng_median.uniform(-30, 30))))
    samples += [Sample("vtest median", False, f"median{i}", median, roi) for i, roi in enumerate(rois)]
    return samples


def build_samples(data_dir: Path, settings: PresenceSettings, quick: bool, reporter: Reporter
                  ) -> tuple[list[Sample], dict]:
    """Every positive and negative sample, and a description of the set for the JSON."""
    label_row, label_model = _labeller_row(settings, reporter)
    samples: list[Sample] = []
    with PoseTracker(tracker_options(label_row, settings.threads, static=True)) as labeller:
        derived = build_derived_set(data_dir, labeller, label_model, quick, reporter)
        for item in derived.items:
            image = item.load()
            for j, person in enumerate(item.persons):
                roi = labelled_roi(person, derived.keypoints)
                if roi is not None:
                    samples.append(Sample("derived set", True, f"{item.key}#{j}", image, roi))
        ball = data_dir / PAN_CLIP_SOURCE
        if ball.is_file():
            image = read_image(ball)
            result = labeller.process(image)
            if result.pose is None:
                reporter.note(f"presence: {label_model} finds nobody in {PAN_CLIP_SOURCE}; pan clip left out")
            else:
                label = label_from_pose(result.pose, (image.shape[1], image.shape[0]))
                n_clip = 150  # the pipeline suite's clip length (PipelineSettings.synthetic_frames)
                keep = set(np.linspace(0, n_clip - 1, settings.pan_frames).round().astype(int).tolist())
                for i, (_, frame) in enumerate(pan_clip_frames(image, n_clip)):
                    if i not in keep:
                        continue
                    to_frame = cv2.invertAffineTransform(camera_matrix(*pan_clip_camera(i / (n_clip - 1))))
                    xy = transform_points(label.xy_px, to_frame)
                    h, w = frame.shape[:2]
                    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
                    roi = roi_from_keypoints(xy, label.visible & inside)
                    if roi is not None:
                        samples.append(Sample("pan clip", True, f"pan{i:03d}", frame, roi))
        else:
            reporter.note(f"presence: {ball} not found: derived set and pan clip left out")
        vtest = data_dir / VTEST_NAME
        if vtest.is_file():
            samples += _vtest_samples(vtest, labeller, settings, reporter)
        else:
            reporter.note(f"presence: {vtest} not found: vtest people and backgrounds left out")
    for group, name, image in synthetic_backgrounds(np.random.default_rng([settings.seed, 4]),
                                                    settings.synthetic_per_kind):
        h, w = image.shape[:2]
        samples.append(Sample(group, False, name, image, Roi(w / 2.0, h / 2.0, float(max(w, h)), 0.0)))
    samples = [Sample(s.group, s.positive, f"{i}:{s.key}", s.image, s.roi) for i, s in enumerate(samples)]
    groups = {}
    for s in samples:
        g = groups.setdefault(s.group, {"positive": s.positive, "samples": 0})
        g["samples"] += 1
    description = {
        "label_model": label_model,
        "positives": sum(s.positive for s in samples),
        "negatives": sum(not s.positive for s in samples),
        "groups": groups,
        "samples": [{"key": s.key, "group": s.group, "positive": s.positive, "roi": s.roi.to_dict()} for s in samples],
        "description": (
            f"positives: people at the tracker's ROI for their pseudo-labels by {label_model} (derived set, people in "
            "full vtest.avi frames, pan clip frames); negatives: person-free crops of vtest.avi frames (foreground "
            f"mask against the median background), the median background, ROIs shifted {SHIFT_ROI_SIDES} sides off "
            "each vtest person, and synthetic flat / noise / gradient / texture images"
        ),
    }
    return samples, description


# -- scoring ---------------------------------------------------------------------------------
def score_presence(pos: np.ndarray, neg: np.ndarray, threshold: float) -> dict:
    """AUROC, error rates at ``threshold`` and presence quantiles of one row (or group)."""
    out: dict = {"n_pos": int(pos.size), "n_neg": int(neg.size)}
    out["auroc"] = auroc(pos, neg) if pos.size and neg.size else None
    frr, far = threshold_error_rates(pos, neg, threshold)
    out["false_rejection_rate"] = frr if pos.size else None
    out["false_acceptance_rate"] = far if neg.size else None
    out["pos_presence_p5"] = float(np.percentile(pos, 5)) if pos.size else None
    out["pos_presence_median"] = float(np.median(pos)) if pos.size else None
    out["neg_presence_median"] = float(np.median(neg)) if neg.size else None
    out["neg_presence_p95"] = float(np.percentile(neg, 95)) if neg.size else None
    return out


def run_presence(rows: list[ModelRow], settings: PresenceSettings, data_dir: Path, quick: bool,
                 reporter: Reporter) -> tuple[list[dict], dict | None]:
    """Score every pipeline row's presence; returns (JSON rows, sample-set description)."""
    samples, description = build_samples(data_dir, settings, quick, reporter)
    positive = np.array([s.positive for s in samples], dtype=bool)
    if not positive.any() or positive.all():
        reporter.note("presence skipped: it needs both positive and negative samples")
        return [], description
    threshold = DEFAULT_MIN_TRACKING_CONFIDENCE if settings.min_presence is None else float(settings.min_presence)
    groups = list(dict.fromkeys(s.group for s in samples))
    out_rows = []
    for row in pipeline_rows(rows, reporter):
        try:
            # threshold 0: process_roi then returns every pose with its presence; the rates use `threshold`
            tracker = PoseTracker(tracker_options(row, settings.threads, static=True, min_presence=0.0))
        except BlazePoseError as exc:
            reporter.note(f"{row.name} skipped in presence: {exc}")
            continue
        with tracker:
            scores = np.array([tracker.process_roi(s.image, s.roi).pose.presence
                               for s in reporter.progress(samples, desc=f"presence {row.name}")])
        pos, neg = scores[positive], scores[~positive]
        result = score_presence(pos, neg, threshold)
        per_group = {}
        for g in groups:
            m = np.array([s.group == g for s in samples])
            is_pos = bool(positive[m][0])
            per_group[g] = {"positive": is_pos, **score_presence(scores[m] if is_pos else pos,
                                                                 neg if is_pos else scores[m], threshold)}
        out_rows.append({
            "name": row.name,
            "reference": row.reference,
            "landmark": str(row.landmark),
            "threshold": threshold,
            **result,
            "ship_auroc": SHIP_AUROC,
            "passes": result["auroc"] is not None and result["auroc"] >= SHIP_AUROC,
            "per_group": per_group,
            # the negatives the model scores highest: where to look first
            "top_negatives": [{"key": samples[i].key, "group": samples[i].group, "presence": float(scores[i])}
                              for i in np.argsort(-np.where(positive, -np.inf, scores), kind="stable")[:TOP_NEGATIVES]],
            "presence": scores,  # one per sample, in the order of the payload's sample_set.samples
        })
    return out_rows, description
