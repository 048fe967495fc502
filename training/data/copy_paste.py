"""Copy-paste augmentation: real labelled people cut out with the landmark model's segmentation
and pasted, transformed and recoloured, onto other backgrounds.

    python -m training.data.copy_paste --samples DIR_OR_TFRECORDS [...] --backgrounds DIR [...]
        --out DIR --num N --seed S [--model reference-heavy | --landmark FILE.tflite]
        [--corpus corpus.json] [--synthetic-prob 0.25] [--max-side 960]

1. Cut-out. For every labelled person (a :class:`~training.data.sample.Sample`) the landmark
   model runs on the SDK's ROI of its labels (``blazepose_sdk.geometry.roi.roi_from_keypoints``, cropped by
   ``blazepose_sdk.geometry.image.crop_roi``); its (1, 256, 256, 1) segmentation logits -> sigmoid -> warped
   back to the image through the inverse of the ROI affine give a soft person mask in image pixels.
   The mask's connected parts (prob >= 0.5) that touch the person's landmarks are kept (other
   people in the ROI fall away) and it is clipped to the landmark box grown by ``box_margin``.
   A person is dropped when the mask is poor (:class:`MaskThresholds`; counted per reason).
2. Paste. Each output picks a person (weighted 1 / sqrt(people of its scene): see
   :func:`person_weights`) and a background (with ``synthetic_prob`` a procedural one, else a
   scene of the other scenes, then one of its frames), a scale, rotation, flip and colour jitter
   (the person only: the jittered cut-out is what the alpha lets through), and
   composites the person with a feathered alpha. Labels go through the same affine: landmark
   x, y; z times the scale; world x, y turned with the image and mirrored with it (x negated,
   left/right rows swapped by ``FLIP_INDEX``); visibility 0 for landmarks outside the image or off
   the cut-out; box and alignment points recomputed (``training.data.sample.alignment_points``).
   People cut by their source image's border are pasted upright with that cut on the output's
   matching border, so no body ends in a straight line mid-image.
3. Output: ``DIR/copy_paste-XXXXX-of-YYYYY.tfrecord`` (``source = "copy_paste:<orig source>"``),
   ``DIR/manifest.json`` (options, seed, counts, per-person mask metrics and verdicts) and
   ``DIR/provenance.jsonl`` (per output: person, background, parameters). Output i is a pure
   function of (inputs, model, seed, i).

Held-out data never enters: a person whose source, image id or real-corpus frame (matched by
sha256, else by pixels) names pose2sim (the reserved test set), vtest.avi or the basketball scene
(held-out sources), or whose corpus split is not ``train``, is refused with
:class:`ReservedSourceError`; such background files are left out and counted.

Coordinates: the data engine's (pixel centres at j + 0.5); OpenCV warps take index coordinates, so
matrices are converted with :func:`engine_to_index_affine` (``ENGINE_TO_SDK_PX``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.geometry.roi import Roi, image_to_tensor_matrix, roi_from_keypoints
from blazepose_sdk.geometry.segmentation import mask_probability, roi_mask_to_image
from blazepose_sdk.geometry.topology import FLIP_INDEX
from training.data.augment import ENGINE_TO_SDK_PX, AugmentOptions, colour_jitter, transform_points
from training.data.sample import NUM_LANDMARKS, Sample, ShardedWriter, alignment_points, encode_jpeg

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
# Names of media that never enter training (docs/data.md, "Real frames"): the pose2sim package is
# the reserved test set, vtest.avi and the basketball scene are the held-out sources of the
# accuracy and presence benchmarks.
FORBIDDEN_NAME_PARTS = ("pose2sim", "vtest", "basketball")
TRAIN_SPLIT = "train"  # training.data.real_corpus.SPLITS[0]
# Two decoded images are the same frame when their mean absolute difference is below this
# (0..255 scale; our choice: JPEG re-encoding at quality 95 differs by about 1).
SAME_IMAGE_MAD = 4.0

SegmentFn = Callable[[np.ndarray, Roi], np.ndarray]


class CopyPasteError(BlazePoseError, ValueError):
    """Copy-paste input is unusable (no samples, no background, bad option)."""


class ReservedSourceError(CopyPasteError):
    """A person comes from a reserved test set or a held-out source."""


@dataclass(frozen=True)
class MaskThresholds:
    """When a person's segmentation mask is good enough to cut it out (all our choices, set from
    the 46 Heavy pseudo-labels of the real corpus's train split, see docs/data.md).

    prob: a pixel is 'person' at sigmoid >= prob (MediaPipe's own segmentation smoothing and
        drawing use 0.5 too, but that choice is ours here).
    coverage_radius: a landmark counts as 'on the mask' within this fraction of the ROI side of
        the mask (landmarks sit on silhouette edges: wrists, heels, toes).
    min_coverage: share of the labelled, visible landmarks that must lie on the mask.
    box_margin: the landmark box is grown by this fraction of its longer side on every side
        (the head top, hair and hands reach beyond the landmarks).
    min_in_box: share of the mask inside the grown box (a mask bleeding into a neighbour or the
        background fails).
    area_ratio: (min, max) mask area / grown-box area (the grown box, not the landmark box: a
        side view's landmark box is narrower than the body).
    """

    prob: float = 0.5
    coverage_radius: float = 0.02
    min_coverage: float = 0.8
    box_margin: float = 0.15
    min_in_box: float = 0.9
    area_ratio: tuple[float, float] = (0.1, 0.9)
    # The cut-out's alpha ramps linearly from 0 to 1 between these probabilities: the model's mask
    # is soft over several pixels, and its faint fringe would carry the old background along as
    # a halo (seen on the contact sheet). Our choice.
    alpha_ramp: tuple[float, float] = (0.3, 0.7)


@dataclass(frozen=True)
class CopyPasteOptions:
    """Paste parameters. Angles in degrees; person_scale: ROI side / shorter output side."""

    person_scale: tuple[float, float] = (0.3, 1.0)
    max_upscale: float = 2.0  # never enlarge a person more than this (blur)
    rotation_deg: float = 25.0
    flip_prob: float = 0.5
    truncation_prob: float = 0.1  # the person may leave the image partly (hip centre stays inside)
    synthetic_prob: float = 0.25  # procedural background instead of a real frame
    background_crop: tuple[float, float] = (0.6, 1.0)  # crop side / frame side, per axis
    background_flip_prob: float = 0.5
    max_side: int = 960  # longer side of real backgrounds (downscaled) and synthetic ones
    feather_sigma_px: float = 1.0  # Gaussian blur of the alpha in the output
    colour_prob: float = 0.8
    brightness: float = 0.2
    contrast: tuple[float, float] = (0.75, 1.3)
    saturation: tuple[float, float] = (0.6, 1.4)
    hue_deg: float = 10.0
    gamma: tuple[float, float] = (0.8, 1.25)
    jpeg_quality: int = 92
    masks: MaskThresholds = field(default_factory=MaskThresholds)

    def colour_options(self) -> AugmentOptions:
        return AugmentOptions(brightness=self.brightness, contrast=self.contrast, saturation=self.saturation,
                              hue_deg=self.hue_deg, gamma=self.gamma)


# --- pure geometry ------------------------------------------------------------------------------
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


# --- mask quality (pure) ------------------------------------------------------------------------
def select_person_mask(prob: np.ndarray, anchors_idx: np.ndarray, radius_px: float, threshold: float) -> np.ndarray:
    """(H, W) bool: the connected parts of ``prob >= threshold`` that come within ``radius_px`` of
    an anchor point ((K, 2) index coordinates, the person's visible landmarks)."""
    binary = (prob >= threshold).astype(np.uint8)
    n, labels = cv2.connectedComponents(binary, connectivity=8)
    h, w = binary.shape
    hit = set()
    r = max(1, int(math.ceil(radius_px)))
    for x, y in np.asarray(anchors_idx, np.float64).reshape(-1, 2):
        xi, yi = int(round(x)), int(round(y))
        win = labels[max(0, yi - r):min(h, yi + r + 1), max(0, xi - r):min(w, xi + r + 1)]
        hit.update(int(v) for v in np.unique(win) if v > 0)
    return np.isin(labels, sorted(hit)) if hit else np.zeros_like(binary, bool)


def alpha_from_prob(prob: np.ndarray, ramp: tuple[float, float]) -> np.ndarray:
    """Alpha (float32, 0..1) rising linearly from 0 at ``ramp[0]`` to 1 at ``ramp[1]``."""
    lo, hi = ramp
    return np.clip((np.asarray(prob, np.float32) - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def mask_metrics(person: np.ndarray, landmarks_idx: np.ndarray, counted: np.ndarray, box_xyxy: np.ndarray,
                 radius_px: float, box_margin: float) -> dict:
    """Quality numbers of a person mask ((H, W) bool, index coordinates):

    coverage: share of the ``counted`` landmarks within ``radius_px`` of the mask; in_box: share of
    the mask inside ``box_xyxy`` (engine pixels) grown by ``box_margin`` x its longer side;
    area_ratio: mask area / grown-box area. Also on_mask (33,) bool per landmark and grown_box
    (x0, y0, x1, y1) in index pixels, clipped to the image."""
    h, w = person.shape
    dist = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 5)
    xy = np.asarray(landmarks_idx, np.float64)
    xi = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
    inside = (xy[:, 0] > -0.5) & (xy[:, 0] < w - 0.5) & (xy[:, 1] > -0.5) & (xy[:, 1] < h - 0.5)
    on_mask = inside & (dist[yi, xi] <= radius_px)
    cnt = np.asarray(counted, bool)
    coverage = float(on_mask[cnt].mean()) if cnt.any() else 0.0
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    g = box_margin * max(x1 - x0, y1 - y0)
    gx0, gy0 = max(0, int(math.floor(x0 - g))), max(0, int(math.floor(y0 - g)))
    gx1, gy1 = min(w, int(math.ceil(x1 + g))), min(h, int(math.ceil(y1 + g)))
    total = int(person.sum())
    in_box = float(person[gy0:gy1, gx0:gx1].sum()) / total if total else 0.0
    box_area = float(max(1, (gx1 - gx0) * (gy1 - gy0)))
    return {"coverage": round(coverage, 4), "in_box": round(in_box, 4), "area_ratio": round(total / box_area, 4),
            "mask_px": total, "on_mask": on_mask, "grown_box": (gx0, gy0, gx1, gy1)}


def mask_verdict(metrics: dict, t: MaskThresholds) -> str:
    """"keep" or the first failed check: "low_coverage", "outside_box", "area"."""
    if metrics["coverage"] < t.min_coverage:
        return "low_coverage"
    if metrics["in_box"] < t.min_in_box:
        return "outside_box"
    if not t.area_ratio[0] <= metrics["area_ratio"] <= t.area_ratio[1]:
        return "area"
    return "keep"


# --- segmentation with a landmark model ----------------------------------------------------------
class LandmarkSegmenter:
    """The segmentation output of an official (or manifest-described) landmark model as a
    :data:`SegmentFn`: (image RGB uint8, ROI in SDK pixels) -> (H, W) person probability.
    Context manager."""

    def __init__(self, model: str = "reference-heavy", landmark: str | None = None, num_threads: int | None = None):
        from blazepose_sdk.errors import ModelSignatureError
        from blazepose_sdk.stages.landmarker import LANDMARK_VALUE_RANGE
        from blazepose_sdk.stages.roles import LANDMARK_ROLES, output_roles, role_indices
        from blazepose_sdk.assets.models import model_file_from_path, resolve_pipeline
        from blazepose_sdk.stages.runtime import TFLiteModel

        mf = model_file_from_path(landmark) if landmark else resolve_pipeline(model).landmark
        self.model_file = mf
        self.model = TFLiteModel(mf.path, num_threads=num_threads, expected_sha256=mf.sha256)
        self.input_size = int(self.model.inputs[0].shape[1])
        shapes = [o.shape for o in self.model.outputs]
        roles = list(mf.output_roles) if mf.output_roles else output_roles("landmark", shapes, self.input_size)
        idx = role_indices(roles, LANDMARK_ROLES).get("segmentation")
        if idx is None or len(shapes[idx]) != 4 or shapes[idx][1] != shapes[idx][2]:
            raise ModelSignatureError(f"landmark model {mf.path.name} has no square segmentation output: {shapes}")
        self.seg_output = idx
        self.value_range = tuple(mf.value_range) if mf.value_range else LANDMARK_VALUE_RANGE

    def __call__(self, image_rgb: np.ndarray, roi: Roi) -> np.ndarray:
        from blazepose_sdk.geometry.image import crop_roi

        tensor = crop_roi(image_rgb, roi, self.input_size, self.value_range, border="replicate")
        logits = self.model.run(tensor)[self.seg_output]
        # the mask covers the ROI at its own resolution (N x N), whatever the input size
        return roi_mask_to_image(mask_probability(logits), roi, (image_rgb.shape[1], image_rgb.shape[0]))

    def describe(self) -> dict:
        return {"path": str(self.model_file.path), "sha256": self.model_file.sha256}

    def close(self) -> None:
        self.model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- cut-outs --------------------------------------------------------------------------------
@dataclass
class Cutout:
    """One person ready to paste: an RGB crop of its source image, the soft alpha over it, the
    sample (coordinates of the full source image), the crop's offset in that image, the source
    image size, which source borders the person touches, and on_mask (33,) bool."""

    rgb: np.ndarray
    alpha: np.ndarray
    sample: Sample
    offset_xy: tuple[int, int]
    source_size: tuple[int, int]
    touches: dict
    on_mask: np.ndarray
    origin: dict
    metrics: dict


def make_cutout(s: Sample, image_rgb: np.ndarray, segment: SegmentFn, t: MaskThresholds, origin: dict | None = None):
    """(verdict, Cutout or None, metrics) for one person: segment its ROI, keep the mask parts on
    its landmarks, judge them (:func:`mask_verdict`), clip to the grown box. Verdicts besides
    mask_verdict's: "no_roi" (fewer than two landmarks), "cut_on_opposite_borders" (the mask
    reaches two opposite borders of the source image: no paste can hide both cuts)."""
    roi = person_roi(s)
    if roi is None:
        return "no_roi", None, {}
    h, w = image_rgb.shape[:2]
    prob = np.asarray(segment(image_rgb, roi), np.float32)
    if prob.shape != (h, w):
        raise CopyPasteError(f"segmentation gave shape {prob.shape}, expected {(h, w)}")
    lm_idx = np.asarray(s.landmarks_px, np.float64)[:, :2] - ENGINE_TO_SDK_PX
    counted = (np.asarray(s.landmark_mask) > 0) & (np.asarray(s.visibility) > 0)
    radius = t.coverage_radius * roi.size_px
    person = select_person_mask(prob, lm_idx[counted], radius, t.prob)
    m = mask_metrics(person, lm_idx, counted, s.box_xyxy_px, radius, t.box_margin)
    verdict = mask_verdict(m, t)
    public = {k: v for k, v in m.items() if k not in ("on_mask", "grown_box")}
    if verdict != "keep":
        return verdict, None, public
    # soft alpha: the ramped probabilities on the kept parts (grown a few pixels for the fringe)
    grow = max(1, int(round(0.01 * roi.size_px)))
    keep = cv2.dilate(person.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    gx0, gy0, gx1, gy1 = m["grown_box"]
    alpha = np.zeros_like(prob)
    alpha[gy0:gy1, gx0:gx1] = (alpha_from_prob(prob, t.alpha_ramp) * keep)[gy0:gy1, gx0:gx1]
    ys, xs = np.nonzero(alpha > 0.01)
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    edge = 2  # pixels: the mask reaching this close to a border means the person is cut there
    solid = alpha >= t.prob
    touches = {"left": bool(solid[:, :edge].any()), "right": bool(solid[:, w - edge:].any()),
               "top": bool(solid[:edge].any()), "bottom": bool(solid[h - edge:].any())}
    if touches["left"] and touches["right"] or touches["top"] and touches["bottom"]:
        return "cut_on_opposite_borders", None, public  # cannot be pasted with both cuts hidden
    cut = Cutout(rgb=np.ascontiguousarray(image_rgb[y0:y1, x0:x1]), alpha=np.ascontiguousarray(alpha[y0:y1, x0:x1]),
                 sample=s, offset_xy=(x0, y0), source_size=(w, h), touches=touches, on_mask=m["on_mask"],
                 origin=origin or {}, metrics=public)
    return "keep", cut, public


# --- provenance ------------------------------------------------------------------------------
def forbidden_reason(*names: str) -> str | None:
    """The reserved/held-out name part found in any of ``names`` (case-insensitive), or None."""
    for n in names:
        low = str(n).lower()
        for part in FORBIDDEN_NAME_PARTS:
            if part in low:
                return part
    return None


def entry_reason(entry: dict | None) -> str | None:
    """Why a real-corpus frame entry may not be used for training (None: it may)."""
    if entry is None:
        return None
    named = forbidden_reason(entry.get("source", ""), entry.get("scene", ""), entry.get("package", ""),
                             entry.get("image", ""), entry.get("file", ""))
    if named:
        return named
    if entry.get("split") != TRAIN_SPLIT:
        return f"corpus split {entry.get('split')!r}"
    return None


class CorpusIndex:
    """The real corpus's frame table (corpus.json): find a frame by its bytes or pixels."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.frames: list[dict] = []
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text())
                self.frames = list(data["frames"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CopyPasteError(f"cannot read the real corpus table {self.path}: {exc}") from exc
        self.by_sha = {f["sha256"]: f for f in self.frames if "sha256" in f}
        self._decoded: dict[str, np.ndarray | None] = {}

    def find_bytes(self, data: bytes) -> dict | None:
        return self.by_sha.get(hashlib.sha256(data).hexdigest())

    def find_pixels(self, rgb: np.ndarray) -> dict | None:
        """The frame of the same size whose pixels match ``rgb`` (a re-encoded copy), or None."""
        h, w = rgb.shape[:2]
        for f in self.frames:
            if f.get("width") != w or f.get("height") != h or self.path is None:
                continue
            key = f["image"]
            if key not in self._decoded:
                bgr = cv2.imread(str(self.path.parent / key), cv2.IMREAD_COLOR)
                self._decoded[key] = None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            ref = self._decoded[key]
            if ref is not None and float(np.mean(np.abs(ref.astype(np.float32) - rgb))) < SAME_IMAGE_MAD:
                return f
        return None

    def find(self, data: bytes, rgb: np.ndarray | None = None) -> dict | None:
        return self.find_bytes(data) or (self.find_pixels(rgb) if rgb is not None else None)


def find_corpus_json(dirs) -> Path | None:
    """corpus.json in one of ``dirs`` or up to two levels above (e.g. DIR/train -> DIR)."""
    for d in dirs:
        p = Path(d).resolve()
        for q in (p, *list(p.parents)[:2]):
            if (q / "corpus.json").is_file():
                return q / "corpus.json"
    return None


def check_person(s: Sample, entry: dict | None, index: int) -> None:
    """Refuse a person of a reserved test set or a held-out source (ReservedSourceError)."""
    reason = forbidden_reason(s.source, s.image_id) or entry_reason(entry)
    if reason:
        where = f" (corpus frame {entry.get('image')})" if entry else ""
        raise ReservedSourceError(f"sample {index} (source {s.source!r}, image_id {s.image_id!r}){where} is from a "
                                  f"reserved or held-out source ({reason}); it never goes into training data")


@dataclass
class Background:
    path: Path
    scene: str
    sha256: str
    image: np.ndarray | None = None  # RGB, longer side <= max_side, loaded on first use


def list_backgrounds(dirs, corpus: CorpusIndex) -> tuple[list[Background], dict]:
    """Image files under ``dirs`` (recursively, sorted) usable as backgrounds, and counts of the
    files left out by reason (reserved/held-out by name or by their corpus entry)."""
    out, excluded = [], {}
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise CopyPasteError(f"background folder not found: {root}")
        for p in sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES):
            data = p.read_bytes()
            entry = corpus.find_bytes(data)
            reason = forbidden_reason(str(p)) or entry_reason(entry)
            if reason:
                excluded[reason] = excluded.get(reason, 0) + 1
                continue
            scene = entry["scene"] if entry else p.parent.name
            out.append(Background(p, scene, hashlib.sha256(data).hexdigest()))
    return out, excluded


def load_background(bg: Background, max_side: int) -> np.ndarray:
    if bg.image is None:
        bgr = cv2.imread(str(bg.path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise CopyPasteError(f"cannot decode background {bg.path}")
        h, w = bgr.shape[:2]
        k = max_side / max(h, w)
        if k < 1:
            bgr = cv2.resize(bgr, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
        bg.image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return bg.image


# --- backgrounds and one output -----------------------------------------------------------------
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


# --- the command ---------------------------------------------------------------------------------
def list_records(inputs) -> list[Path]:
    """TFRecord files of the given files/folders (folders: ``*.tfrecord`` inside, sorted)."""
    out = []
    for i in inputs:
        p = Path(i)
        if p.is_dir():
            out += sorted(p.glob("*.tfrecord"))
        elif p.is_file():
            out.append(p)
        else:
            raise CopyPasteError(f"samples not found: {p}")
    if not out:
        raise CopyPasteError(f"no .tfrecord files in {list(map(str, inputs))}")
    return out


def load_persons(samples: list[Sample], segment: SegmentFn, corpus: CorpusIndex, t: MaskThresholds):
    """Check and cut out every sample; returns (cut-outs, per-person records, verdict counts)."""
    cuts, records, counts = [], [], {}
    for i, s in enumerate(samples):
        rgb = s.image_rgb()
        entry = corpus.find(s.image_jpeg, rgb)
        check_person(s, entry, i)
        origin = {"index": i, "image_id": s.image_id, "source": s.source,
                  "corpus_image": entry["image"] if entry else None,
                  "scene": entry["scene"] if entry else None,
                  "sha256": hashlib.sha256(s.image_jpeg).hexdigest()}
        verdict, cut, metrics = make_cutout(s, rgb, segment, t, origin)
        counts[verdict] = counts.get(verdict, 0) + 1
        records.append({**origin, "verdict": verdict, **metrics,
                        "touches": [k for k, v in cut.touches.items() if v] if cut else None})
        if cut is not None:
            cuts.append(cut)
    return cuts, records, counts


def person_weights(scenes: list[str]) -> np.ndarray:
    """Sampling probabilities of people: 1 / sqrt(people of the same scene), normalised. A video
    scene with 40 labelled frames of two people then gets sqrt(40) ~ 6 times one still's share,
    not 40 times (our choice between identity balance and pose variety)."""
    count: dict[str, int] = {}
    for s in scenes:
        count[s] = count.get(s, 0) + 1
    w = np.array([1.0 / math.sqrt(count[s]) for s in scenes])
    return w / w.sum()


def generate(samples: list[Sample], backgrounds: list[Background], out: str, num: int, seed: int,
             segment: SegmentFn, corpus: CorpusIndex, options: CopyPasteOptions | None = None,
             per_shard: int = 1000, progress: bool = True, extra_manifest: dict | None = None) -> dict:
    """Write ``num`` pasted samples to ``out``; returns the manifest (also manifest.json)."""
    from tqdm import tqdm

    o = options or CopyPasteOptions()
    t0 = time.perf_counter()
    cuts, persons, verdicts = load_persons(samples, segment, corpus, o.masks)
    if not cuts:
        raise CopyPasteError(f"no person survived the mask checks ({verdicts})")
    t_cut = time.perf_counter() - t0
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"outputs": 0, "real_background": 0, "synthetic_background": 0, "flipped": 0, "anchored": 0,
              "landmarks_visible_before": 0, "landmarks_visible_after": 0}
    usage = [0] * len(cuts)
    weights = person_weights([c.origin.get("scene") or c.origin["sha256"] for c in cuts])
    prov = []
    with ShardedWriter(str(out_dir / "copy_paste"), num, per_shard) as writer, \
            tqdm(total=num, desc="copy-paste", unit="sample", disable=not progress) as bar:
        for i in range(num):
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
            k = int(rng.choice(len(cuts), p=weights))
            cut = cuts[k]
            own = {cut.origin.get("scene"), cut.origin.get("sha256")} - {None}
            allowed = [b for b in backgrounds if b.scene not in own and b.sha256 not in own]
            use_synth = not allowed or rng.uniform() < o.synthetic_prob
            if use_synth:
                bg = synthetic_background(rng, o.max_side)
                bg_name = "synthetic"
            else:  # a scene first, then one of its frames (a long video is one scene)
                scenes = sorted({b.scene for b in allowed})
                scene = scenes[int(rng.integers(len(scenes)))]
                frames = [b for b in allowed if b.scene == scene]
                b = frames[int(rng.integers(len(frames)))]
                bg = crop_background(load_background(b, o.max_side), rng, o)
                bg_name = str(b.path)
            sample, info = paste(cut, bg, rng, o)
            sample.image_id = f"cp{seed}-{i:06d}"
            writer.write(sample)
            usage[k] += 1
            counts["outputs"] += 1
            counts["synthetic_background" if use_synth else "real_background"] += 1
            counts["flipped"] += int(info["flip"])
            counts["anchored"] += int(info["anchored"])
            counts["landmarks_visible_before"] += info["visible_before"]
            counts["landmarks_visible_after"] += info["visible_after"]
            prov.append({"image_id": sample.image_id, "person": cut.origin["index"],
                         "person_image_id": cut.origin["image_id"], "person_corpus_image": cut.origin["corpus_image"],
                         "background": bg_name, "size": [bg.shape[1], bg.shape[0]], **info})
            bar.update(1)
    manifest = {"generator": "training.data.copy_paste", "seed": int(seed), "num": int(num),
                "options": asdict(o), "corpus": str(corpus.path) if corpus.path else None,
                "persons": {"read": len(samples), "kept": len(cuts), "verdicts": verdicts, "records": persons,
                            "outputs_per_kept_person": usage},
                "backgrounds": {"usable": len(backgrounds), "scenes": sorted({b.scene for b in backgrounds})},
                "counts": counts, "seconds": {"cutouts": round(t_cut, 2), "total": round(time.perf_counter() - t0, 2)},
                "shards": [Path(p).name for p in writer.paths], **(extra_manifest or {})}
    (out_dir / "provenance.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prov))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.copy_paste", description=__doc__.splitlines()[0])
    ap.add_argument("--samples", nargs="+", required=True, help="TFRecord files or folders of them (labelled people)")
    ap.add_argument("--backgrounds", nargs="*", default=[], help="folders of real background frames (recursive)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--num", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="reference-heavy",
                    help="SDK pipeline whose landmark model segments (default %(default)s)")
    ap.add_argument("--landmark", default=None, help="landmark .tflite file instead of the pipeline's")
    ap.add_argument("--corpus", default=None,
                    help="the real corpus's corpus.json (default: found beside --backgrounds)")
    d = CopyPasteOptions()
    ap.add_argument("--synthetic-prob", type=float, default=d.synthetic_prob, help="share of procedural backgrounds")
    ap.add_argument("--max-side", type=int, default=d.max_side)
    ap.add_argument("--per-shard", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    if a.num < 1:
        ap.error("--num must be >= 1")
    if not 0.0 <= a.synthetic_prob <= 1.0:
        ap.error("--synthetic-prob must lie in [0, 1]")
    if a.max_side < 64:
        ap.error("--max-side must be >= 64")
    try:
        from training.data.sample import read_tfrecords

        samples = read_tfrecords(list_records(a.samples))
        if not samples:
            raise CopyPasteError("the sample files hold no records")
        corpus_path = a.corpus or find_corpus_json(a.backgrounds)
        corpus = CorpusIndex(corpus_path)
        backgrounds, excluded = list_backgrounds(a.backgrounds, corpus)
        if not backgrounds and a.synthetic_prob < 1.0:
            print("copy_paste: no usable real backgrounds; all backgrounds will be procedural", file=sys.stderr)
        opt = CopyPasteOptions(synthetic_prob=a.synthetic_prob, max_side=a.max_side)
        with LandmarkSegmenter(a.model, a.landmark, a.threads) as seg:
            m = generate(samples, backgrounds, a.out, a.num, a.seed, seg, corpus, opt, a.per_shard,
                         not a.no_progress, {"segmentation_model": {"pipeline": None if a.landmark else a.model,
                                                                     **seg.describe()},
                                             "inputs": {"samples": [str(p) for p in a.samples],
                                                        "backgrounds": [str(p) for p in a.backgrounds]},
                                             "backgrounds_excluded": excluded})
    except BlazePoseError as exc:
        print(f"copy_paste: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"persons": {k: m["persons"][k] for k in ("read", "kept", "verdicts")}, "counts": m["counts"],
                      "seconds": m["seconds"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
