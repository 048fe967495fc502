"""Cut-outs (training.data.copy_paste step 1): a person's mask from the landmark model's
segmentation on its ROI, judged by :class:`~training.data.copy_paste.options.MaskThresholds`,
and the soft-alpha crop that gets pasted. Masks in index coordinates of the source image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.geometry.segmentation import mask_probability, roi_mask_to_image
from training.data.augment import ENGINE_TO_SDK_PX
from training.data.copy_paste.geometry import person_roi
from training.data.copy_paste.options import CopyPasteError, MaskThresholds, SegmentFn
from training.data.sample import Sample


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
