"""Accuracy suite: PCK@0.2, PCKh@0.5, COCO OKS AP/AR, MPJPE / PA-MPJPE and per-keypoint tables.

Every row runs as a static-image :class:`PoseTracker` (detector then landmarks on each image,
one person per image) over the same labelled images; rows take turns on each image. The
ground truth (see :mod:`blazepose_sdk.bench.datasets`) is one of

* a COCO keypoint annotation file with its image folder (``--coco-annotations``, ``--images``);
* a BlazePose-33 labels JSON (``--labels``);
* pseudo-labels of a reference model on images or video frames (``--pseudo-labels MODEL`` with
  ``--images`` or ``--video``);
* by default, the derived set: basketball1.png and vtest.avi person crops, pseudo-labelled by
  reference-heavy and transformed (written to ``<out>/labelled_set`` for inspection and re-use).

With ``--roi labels`` the detectors are not run: each row's landmark model sees every labelled
person in that person's ROI (from the label file, else from the visible keypoints, see
:func:`labelled_roi`), the top-down "ground-truth boxes" protocol that scores the landmark stage
alone; a missing pose then means presence below the threshold.

Scoring, per ground-truth person: the image's one prediction is matched to the person it fits
best (highest OKS); unmatched people and images without a prediction count every keypoint as
wrong. PCK uses the torso size (left shoulder to right hip) of the ground truth; PCKh needs
head sizes (only label files carry them); OKS AP/AR come from pycocotools on the COCO-17
keypoints; MPJPE / PA-MPJPE compare world landmarks (hip-centred, millimetres) where the ground
truth has them.

Peers (``--peers``): the converted MoveNet models in the cache
(:mod:`blazepose_sdk.bench.peers.movenet`) take turns with the pipelines on the same images,
each with MoveNet's own cropping on a still image (the padded whole image, then crops from the
previous pass); they predict the COCO-17 joints only, so they are scored on those (PCK@0.2 COCO-17,
OKS AP) and their BlazePose-33 columns stay empty. A model that is not converted is listed as
skipped with the command that converts it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose_sdk.errors import BlazePoseError, ModelNotFoundError, VideoError
from blazepose_sdk.geometry.roi import Roi, roi_from_keypoints
from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, COCO17_NAMES, LANDMARK_NAMES
from blazepose_sdk.tracker import PoseTracker

from .common import Reporter
from .peers.movenet import KEYPOINT_SCORE_THRESHOLD, REFINE_PASSES, MoveNet, available_models, row_name
from .datasets import (
    LabelledSet,
    PersonLabel,
    build_derived_set,
    coco17_of,
    images_from,
    load_coco,
    load_labels,
    pseudo_label_images,
    save_labels,
    to_coco_gt,
)
from .metrics import (
    COCO17_OKS_SIGMAS,
    PCK_THRESHOLD,
    PCKH_THRESHOLD,
    TORSO_PAIR_BLAZEPOSE33,
    TORSO_PAIR_COCO17,
    coco_keypoint_eval,
    mpjpe,
    oks,
    pa_mpjpe,
    pck,
    pck_per_keypoint,
    pckh,
    timing_stats,
    torso_size,
)
from .pipeline import pipeline_rows, tracker_options
from .rows import ModelRow, parse_row

# World landmarks are compared hip-centred: the mean of the two hips (BlazePose 23, 24) is the origin.
HIP_ROOT_BLAZEPOSE33 = (23, 24)
DEFAULT_LABEL_MODEL = "reference-heavy"


@dataclass(frozen=True)
class AccuracySettings:
    """Options of the accuracy suite; with no ground-truth option the derived set is used."""

    threads: int | None = None
    coco_annotations: str | None = None
    images: str | None = None
    labels: str | None = None
    pseudo_labels: str | None = None
    video: str | None = None
    every: int = 10
    max_images: int | None = None
    min_presence: float | None = None  # TrackerOptions.min_tracking_confidence of the scored rows
    roi: str = "detector"  # "detector": each row's own detector; "labels": each person's labelled ROI
    peers: bool = False  # also score the converted MoveNet models (COCO-17)


@dataclass(frozen=True)
class KeypointPrediction:
    """A peer model's one-person COCO-17 prediction: (17, 2) image pixels and (17,) scores.
    Single-pose models always return a pose; it counts as found when a keypoint reaches
    MoveNet's recommended score (:data:`KEYPOINT_SCORE_THRESHOLD`)."""

    xy_px: np.ndarray
    scores: np.ndarray

    @property
    def found(self) -> bool:
        return bool((np.asarray(self.scores) >= KEYPOINT_SCORE_THRESHOLD).any())

    def to_coco(self, image_id: int, category_id: int = 1) -> list[dict]:
        """COCO keypoint results entry (pycocotools ``loadRes`` format); score: mean keypoint score."""
        xy = np.asarray(self.xy_px, dtype=np.float64)
        flat = np.column_stack([xy, np.ones(len(xy))]).reshape(-1)
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        return [{"image_id": int(image_id), "category_id": int(category_id),
                 "keypoints": [round(float(v), 2) for v in flat], "score": float(np.mean(self.scores)),
                 "bbox": [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)]}]


def _coco17_xy(result) -> np.ndarray:
    """(17, 2) COCO-17 image pixels of a PoseResult or a KeypointPrediction."""
    if isinstance(result, KeypointPrediction):
        return np.asarray(result.xy_px, dtype=np.float64)
    return np.asarray(result.pose.array_px[BLAZEPOSE_TO_COCO17, :2], dtype=np.float64)


def _has_pose(result) -> bool:
    return result is not None and (isinstance(result, KeypointPrediction) or result.pose is not None)


# Hip and shoulder indices of each ground-truth keypoint layout (for ROIs derived from keypoints).
HIPS_SHOULDERS = {"blazepose33": ((23, 24), (11, 12)), "coco17": ((11, 12), (5, 6))}


def labelled_roi(person: PersonLabel, keypoints: str) -> Roi | None:
    """The ROI ``--roi labels`` gives the landmark model for one person (image pixels).

    The label file's ``roi`` when it has one (synthetic labels: the ROI the training pipeline
    cuts); else the tracker's ROI from the person's visible keypoints
    (:func:`blazepose_sdk.geometry.roi.roi_from_keypoints`); None when they cannot place one.
    """
    if person.roi is not None:
        return person.roi
    hips, shoulders = HIPS_SHOULDERS[keypoints]
    return roi_from_keypoints(person.xy_px, person.visible, hips, shoulders)


def load_ground_truth(
    settings: AccuracySettings, data_dir: Path, out_dir: Path | None, quick: bool, reporter: Reporter
) -> tuple[LabelledSet | None, str | None]:
    """The labelled set to score against, and the labelling model for pseudo-labels (else None)."""
    limit = settings.max_images or (8 if quick else None)
    if settings.coco_annotations:
        if not settings.images:
            raise SystemExit("--coco-annotations needs --images (the folder of the annotated images)")
        return load_coco(settings.coco_annotations, settings.images, limit), None
    if settings.labels:
        return load_labels(settings.labels, settings.images, limit), None
    label_model = settings.pseudo_labels or DEFAULT_LABEL_MODEL
    try:
        label_row = parse_row(label_model)
    except ModelNotFoundError as exc:
        reporter.note(f"accuracy skipped: pseudo-labels need {label_model}: {exc}")
        return None, None
    if label_row.detector is None:
        reporter.note(f"accuracy skipped: --pseudo-labels {label_model} is not a pipeline (detector + landmarks)")
        return None, None
    with PoseTracker(tracker_options(label_row, settings.threads, static=True)) as labeller:
        if settings.pseudo_labels and (settings.images or settings.video):
            source = Path(settings.images or settings.video)
            what = f"{'the images in ' if source.is_dir() else ''}{source}" + (
                f" (every {settings.every}th frame)" if settings.video else ""
            )
            try:
                images = images_from(source, settings.every, limit)
            except VideoError as exc:
                reporter.note(f"accuracy skipped: {exc}")
                return None, None
            labelled = pseudo_label_images(images, labeller, label_model, what, reporter)
        else:
            if settings.pseudo_labels:
                reporter.note("--pseudo-labels without --images/--video: using the derived set")
            labelled = build_derived_set(data_dir, labeller, label_model, quick, reporter)
            if out_dir is not None and labelled.items:
                path = save_labels(labelled, out_dir / "labelled_set")
                reporter.say(f"labelled set written to {path.parent} ({len(labelled.items)} images)")
    if not labelled.items:
        reporter.note(f"accuracy skipped: no labelled images (data folder {data_dir})")
        return None, label_model
    return labelled, label_model


def _match(pred_coco: np.ndarray, persons, keypoints: str) -> int:
    """Index of the ground-truth person the prediction fits best (highest OKS on COCO-17)."""
    best, best_oks = 0, -1.0
    for j, person in enumerate(persons):
        xy, vis = coco17_of(person, keypoints)
        _, _, w, h = person.box_px()
        value = oks(pred_coco[None], xy[None], vis[None], np.array([person.area_px or max(w * h, 1.0)]))[0]
        if np.isfinite(value) and value > best_oks:
            best, best_oks = j, float(value)
    return best


def score(labelled: LabelledSet, predictions: list, pycocotools_ok: bool) -> dict:
    """All metrics of one row.

    ``predictions[i]`` is the PoseResult of ``labelled.items[i]`` (matched to the person it fits
    best), or with ``--roi labels`` a list of one PoseResult per person of that image.
    """
    k = len(labelled.keypoint_names)
    coco17_only = any(isinstance(p, KeypointPrediction) for p in predictions)
    pred_xy, gt_xy, visible, groups, heads = [], [], [], [], []
    pred_world, gt_world = [], []
    oks_values = []
    coco_results = []
    for item, result in zip(labelled.items, predictions):
        if isinstance(result, list):  # --roi labels: one result per person, in order
            assigned = {j: r for j, r in enumerate(result) if r is not None and r.pose is not None}
        elif _has_pose(result):
            assigned = {_match(_coco17_xy(result), item.persons, labelled.keypoints): result}
        else:
            assigned = {}
        for r in assigned.values():
            coco_results.extend(r.to_coco(item.image_id))
        for j, person in enumerate(item.persons):
            gt_xy.append(person.xy_px)
            visible.append(person.visible)
            groups.append(item.group)
            heads.append(np.nan if person.head_size_px is None else person.head_size_px)
            if j in assigned:
                pred_coco = _coco17_xy(assigned[j])
                if coco17_only:  # a COCO-17 peer: the other BlazePose landmarks are not predicted
                    full = np.full((len(LANDMARK_NAMES), 2), np.nan)
                    full[BLAZEPOSE_TO_COCO17] = pred_coco
                    pose = None
                else:
                    pose = assigned[j].pose
                    full = np.asarray(pose.array_px[:, :2], dtype=np.float64)
                pred = full if labelled.keypoints == "blazepose33" else pred_coco
                pred_xy.append(pred)
                xy, vis = coco17_of(person, labelled.keypoints)
                _, _, w, h = person.box_px()
                oks_values.append(
                    oks(pred_coco[None], xy[None], vis[None], np.array([person.area_px or max(w * h, 1.0)]))[0]
                )
                if pose is not None and person.world_m is not None and labelled.keypoints == "blazepose33":
                    pred_world.append(np.asarray(pose.world_m, dtype=np.float64))
                    gt_world.append(person.world_m)
            else:
                pred_xy.append(np.full((k, 2), np.nan))
                oks_values.append(0.0 if person.visible.any() else np.nan)
    if not gt_xy:
        return {}
    pred_xy, gt_xy, visible = np.asarray(pred_xy), np.asarray(gt_xy), np.asarray(visible, dtype=bool)
    torso = TORSO_PAIR_BLAZEPOSE33 if labelled.keypoints == "blazepose33" else TORSO_PAIR_COCO17
    out: dict = {
        "persons": len(gt_xy),
        f"pck@{PCK_THRESHOLD}": pck(pred_xy, gt_xy, visible, PCK_THRESHOLD, "torso", torso),
    }
    # COCO-17 subset with the same torso sizes, comparable across ground-truth kinds.
    if labelled.keypoints == "blazepose33":
        sel = BLAZEPOSE_TO_COCO17
        sizes = torso_size(gt_xy, visible, torso)
        out[f"pck@{PCK_THRESHOLD}_coco17"] = pck(pred_xy[:, sel], gt_xy[:, sel], visible[:, sel], PCK_THRESHOLD, sizes)
    else:
        out[f"pck@{PCK_THRESHOLD}_coco17"] = out[f"pck@{PCK_THRESHOLD}"]
    heads = np.asarray(heads, dtype=np.float64)
    has_head = np.isfinite(heads)
    out[f"pckh@{PCKH_THRESHOLD}"] = (
        pckh(pred_xy[has_head], gt_xy[has_head], visible[has_head], heads[has_head]) if has_head.any() else None
    )
    out["head_persons"] = int(has_head.sum())
    per_kp = pck_per_keypoint(pred_xy, gt_xy, visible, PCK_THRESHOLD, "torso", torso)
    out["per_keypoint_pck"] = dict(zip(labelled.keypoint_names, per_kp.tolist()))
    if coco17_only and labelled.keypoints == "blazepose33":
        out[f"pck@{PCK_THRESHOLD}"] = None  # not comparable: only the COCO-17 subset is predicted
        coco = {labelled.keypoint_names[i] for i in BLAZEPOSE_TO_COCO17}
        out["per_keypoint_pck"] = {n: (v if n in coco else None) for n, v in out["per_keypoint_pck"].items()}
        out[f"pckh@{PCKH_THRESHOLD}"] = None
    out["per_group_pck"] = {}
    groups_arr = np.asarray(groups)
    for g in dict.fromkeys(groups):
        m = groups_arr == g
        if coco17_only and labelled.keypoints == "blazepose33":  # the COCO-17 joints, BlazePose torso sizes
            out["per_group_pck"][g] = pck(pred_xy[m][:, sel], gt_xy[m][:, sel], visible[m][:, sel], PCK_THRESHOLD,
                                          sizes[m])
        else:
            out["per_group_pck"][g] = pck(pred_xy[m], gt_xy[m], visible[m], PCK_THRESHOLD, "torso", torso)
    out["mean_oks"] = float(np.nanmean(oks_values)) if np.isfinite(oks_values).any() else None
    if pycocotools_ok:
        out["oks"] = coco_keypoint_eval(to_coco_gt(labelled), coco_results, COCO17_OKS_SIGMAS)
    else:
        out["oks"] = None
    out["world_persons"] = len(gt_world)
    if gt_world:
        pw, gw = np.asarray(pred_world), np.asarray(gt_world)
        out["mpjpe_mm"] = 1000.0 * mpjpe(pw, gw, HIP_ROOT_BLAZEPOSE33)
        out["pa_mpjpe_mm"] = 1000.0 * pa_mpjpe(pw, gw)
    else:
        out["mpjpe_mm"] = out["pa_mpjpe_mm"] = None
    return out


def load_peers(settings: AccuracySettings, reporter: Reporter) -> list[MoveNet]:
    """The converted MoveNet models when ``settings.peers``; a note for each one that cannot run."""
    if not settings.peers:
        return []
    found, missing = available_models()
    for note in missing:
        reporter.note(f"accuracy: {note}")
    if settings.roi != "detector":
        for variant, precision, _ in found:
            reporter.note(f"accuracy: {row_name(variant, precision)} skipped: --roi labels gives landmark models a "
                          "labelled ROI; MoveNet crops with its own rule only")
        return []
    peers = []
    for variant, precision, _ in found:
        try:
            peers.append(MoveNet(variant, precision, num_threads=settings.threads))
        except BlazePoseError as exc:
            reporter.note(f"accuracy: {row_name(variant, precision)} skipped: {exc}")
    return peers


def run_accuracy(
    rows: list[ModelRow],
    settings: AccuracySettings,
    data_dir: Path,
    out_dir: Path | None,
    quick: bool,
    reporter: Reporter,
) -> tuple[list[dict], dict | None]:
    """Score every pipeline row; returns (JSON rows, ground-truth description) or ([], None)."""
    labelled, label_model = load_ground_truth(settings, data_dir, out_dir, quick, reporter)
    if labelled is None:
        return [], None
    try:
        import pycocotools  # noqa: F401

        pycocotools_ok = True
    except ImportError:
        pycocotools_ok = False
        reporter.note("pycocotools is not installed: OKS AP/AR skipped (`pip install pycocotools`)")
    prows = pipeline_rows(rows, reporter)
    trackers, names = [], []
    for row in prows:
        try:
            trackers.append(PoseTracker(tracker_options(row, settings.threads, static=True,
                                                        min_presence=settings.min_presence)))
            names.append(row)
        except BlazePoseError as exc:
            reporter.note(f"{row.name} skipped in accuracy: {exc}")
    peers = load_peers(settings, reporter)
    runners = len(trackers) + len(peers)
    predictions: list[list] = [[] for _ in range(runners)]
    times: list[list[float]] = [[] for _ in range(runners)]
    try:
        for index, item in enumerate(reporter.progress(labelled.items, desc="accuracy")):
            try:
                image = item.load()
            except VideoError as exc:
                reporter.note(f"{item.key}: {exc}; counted as missed")
                image = None
            rois = None if settings.roi == "detector" else [labelled_roi(p, labelled.keypoints) for p in item.persons]
            for k in range(runners):
                i = (index + k) % runners
                if image is None:
                    predictions[i].append(None)
                    continue
                t0 = time.perf_counter()
                if i >= len(trackers):
                    keypoints = peers[i - len(trackers)].process(image)
                    predictions[i].append(KeypointPrediction(keypoints[:, :2], keypoints[:, 2]))
                elif rois is None:
                    predictions[i].append(trackers[i].process(image))
                else:
                    predictions[i].append([None if roi is None else trackers[i].process_roi(image, roi)
                                           for roi in rois])
                times[i].append(time.perf_counter() - t0)
    finally:
        for t in [*trackers, *peers]:
            t.close()
    num_persons = sum(len(i.persons) for i in labelled.items)
    # --roi labels runs the landmark model once per person, so poses found count persons
    attempts = len(labelled.items) if settings.roi == "detector" else max(1, num_persons)
    out_rows = []
    for row, preds, t in zip(names, predictions, times):
        found = sum(_has_pose(r) for p in preds for r in (p if isinstance(p, list) else [p]))
        out_rows.append(
            {
                "name": row.name,
                "reference": row.reference,
                "landmark": str(row.landmark),
                "images": len(labelled.items),
                "roi": settings.roi,
                "poses_found": found,
                "pose_found_rate": found / attempts,
                **score(labelled, preds, pycocotools_ok),
                "ms_per_image": timing_stats(t),
            }
        )
    for peer, preds, t in zip(peers, predictions[len(trackers):], times[len(trackers):]):
        found = sum(p is not None and p.found for p in preds)
        out_rows.append({
            "name": peer.name,
            "reference": False,
            "peer": "movenet",
            "landmark": str(peer.path),
            "images": len(labelled.items),
            "roi": settings.roi,
            "passes_per_image": 1 + REFINE_PASSES,
            "poses_found": found,
            "pose_found_rate": found / max(1, len(labelled.items)),
            **score(labelled, preds, pycocotools_ok),
            "ms_per_image": timing_stats(t),
        })
    truth = {
        "kind": labelled.ground_truth,
        "name": labelled.name,
        "description": labelled.description,
        "label_model": label_model,
        "keypoints": labelled.keypoints,
        "images": len(labelled.items),
        "persons": num_persons,
        "roi": settings.roi,
        "groups": list(dict.fromkeys(i.group for i in labelled.items)),
        "keypoint_names": list(labelled.keypoint_names),
        "coco17_names": list(COCO17_NAMES),
    }
    return out_rows, truth
