"""Pose accuracy metrics: PCK, PCKh, OKS and COCO AP/AR, MPJPE and PA-MPJPE; AUROC and the
error rates of a score threshold (the pose-presence check).

Plain numpy functions, no I/O (COCO AP/AR calls pycocotools, imported on first use).
Array conventions, for N people and K keypoints:

* ``pred_xy``, ``gt_xy``: (N, K, 2) image pixels. A prediction row of NaN means "not
  predicted" (e.g. no pose found) and always counts as wrong.
* ``visible``: (N, K) bool, the ground-truth keypoints that are evaluated; others are ignored.
* 3D arrays ``pred_xyz``, ``gt_xyz``: (N, K, 3) in any length unit; errors come back in it.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

# PCK@0.2: a keypoint is correct when its error is below 20% of the torso size (BlazePose paper,
# Bazarevsky et al. 2020, "BlazePose: On-device Real-time Body Pose tracking", section 4).
PCK_THRESHOLD = 0.2
# Torso size = distance from the left shoulder to the right hip, the torso diameter of the PCK
# convention of the LSP benchmark (the BlazePose paper says "torso size" without a formula).
TORSO_PAIR_BLAZEPOSE33 = (11, 24)  # left_shoulder, right_hip in blazepose_sdk.geometry.topology.LANDMARK_NAMES
TORSO_PAIR_COCO17 = (5, 12)  # left_shoulder, right_hip in blazepose_sdk.geometry.topology.COCO17_NAMES
# PCKh@0.5: threshold 50% of the head segment length, head size = 0.6 x the diagonal of the
# annotated head box (MPII Human Pose evaluation code, Andriluka et al. 2014).
PCKH_THRESHOLD = 0.5
MPII_HEAD_SIZE_FACTOR = 0.6
# Per-keypoint OKS sigmas of COCO person keypoints, in COCO17 order (cocodataset.org keypoint
# evaluation; the same values as pycocotools' COCOeval Params.kpt_oks_sigmas).
COCO17_OKS_SIGMAS = (
    np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89])
    / 10.0
)
# Names of COCOeval.stats for iouType="keypoints", in order (pycocotools COCOeval.summarize).
COCO_KEYPOINT_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def keypoint_errors(pred_xy: np.ndarray, gt_xy: np.ndarray) -> np.ndarray:
    """(N, K) Euclidean distances; +inf where the prediction is NaN (missing)."""
    pred = np.asarray(pred_xy, dtype=np.float64)
    gt = np.asarray(gt_xy, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred shape {pred.shape} != gt shape {gt.shape}")
    err = np.linalg.norm(pred - gt, axis=-1)
    return np.where(np.isnan(err), np.inf, err)


def torso_size(gt_xy: np.ndarray, visible: np.ndarray, pair: tuple[int, int] = TORSO_PAIR_BLAZEPOSE33) -> np.ndarray:
    """(N,) distance between the two ``pair`` keypoints of each person; NaN where either is not visible."""
    gt = np.asarray(gt_xy, dtype=np.float64)
    vis = np.asarray(visible, dtype=bool)
    a, b = pair
    size = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
    return np.where(vis[:, a] & vis[:, b] & (size > 0), size, np.nan)


def head_size_from_box(head_boxes_xyxy: np.ndarray) -> np.ndarray:
    """(N,) MPII head segment length from (N, 4) head boxes (x0, y0, x1, y1): 0.6 x diagonal."""
    boxes = np.asarray(head_boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    return MPII_HEAD_SIZE_FACTOR * np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def correct_keypoints(
    pred_xy: np.ndarray, gt_xy: np.ndarray, visible: np.ndarray, sizes: np.ndarray, threshold: float
) -> np.ndarray:
    """(N, K) float: 1.0 correct, 0.0 wrong, NaN not evaluated.

    A keypoint is evaluated when it is visible in the ground truth and its person's size is a
    finite positive number; it is correct when ``error < threshold * size``.
    """
    err = keypoint_errors(pred_xy, gt_xy)
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 1)
    evaluated = np.asarray(visible, dtype=bool) & np.isfinite(sizes) & (sizes > 0)
    out = (err < threshold * sizes).astype(np.float64)
    out[~evaluated] = np.nan
    return out


def _sizes(gt_xy, visible, normalizer, torso_pair) -> np.ndarray:
    if isinstance(normalizer, str):
        if normalizer != "torso":
            raise ValueError(f"normalizer must be 'torso' or an array of sizes, got {normalizer!r}")
        return torso_size(gt_xy, visible, torso_pair)
    return np.asarray(normalizer, dtype=np.float64).reshape(-1)


def pck_per_keypoint(
    pred_xy: np.ndarray,
    gt_xy: np.ndarray,
    visible: np.ndarray,
    threshold: float = PCK_THRESHOLD,
    normalizer: str | np.ndarray = "torso",
    torso_pair: tuple[int, int] = TORSO_PAIR_BLAZEPOSE33,
) -> np.ndarray:
    """(K,) fraction of correct keypoints per keypoint (NaN for a keypoint never evaluated)."""
    correct = correct_keypoints(pred_xy, gt_xy, visible, _sizes(gt_xy, visible, normalizer, torso_pair), threshold)
    with np.errstate(invalid="ignore"):
        counts = np.sum(~np.isnan(correct), axis=0)
        return np.where(counts > 0, np.nansum(correct, axis=0) / np.maximum(counts, 1), np.nan)


def pck(
    pred_xy: np.ndarray,
    gt_xy: np.ndarray,
    visible: np.ndarray,
    threshold: float = PCK_THRESHOLD,
    normalizer: str | np.ndarray = "torso",
    torso_pair: tuple[int, int] = TORSO_PAIR_BLAZEPOSE33,
) -> float:
    """Percentage of correct keypoints (0..1) over all evaluated keypoints of all people.

    ``normalizer="torso"`` scales the threshold by :func:`torso_size` of each person's ground
    truth (``torso_pair`` picks the shoulder/hip indices of the keypoint set); an (N,) array gives
    the sizes directly. People whose size cannot be computed are left out. NaN when nothing was
    evaluated.
    """
    correct = correct_keypoints(pred_xy, gt_xy, visible, _sizes(gt_xy, visible, normalizer, torso_pair), threshold)
    n = int(np.sum(~np.isnan(correct)))
    return float(np.nansum(correct) / n) if n else float("nan")


def pckh(
    pred_xy: np.ndarray,
    gt_xy: np.ndarray,
    visible: np.ndarray,
    head_sizes: np.ndarray,
    threshold: float = PCKH_THRESHOLD,
) -> float:
    """PCKh: PCK with the threshold scaled by each person's head segment length (pixels, (N,))."""
    return pck(pred_xy, gt_xy, visible, threshold, normalizer=np.asarray(head_sizes, dtype=np.float64))


def oks(
    pred_xy: np.ndarray,
    gt_xy: np.ndarray,
    visible: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray = COCO17_OKS_SIGMAS,
) -> np.ndarray:
    """(N,) object keypoint similarity of each prediction with its ground truth (COCO's formula).

    ``OKS = mean over visible k of exp(-d_k^2 / (2 * area * (2 * sigma_k)^2))``, ``area`` the
    ground-truth object area in pixels^2. NaN for a person with no visible keypoint. Matches
    pycocotools' COCOeval.computeOks for ground truth with visible keypoints.
    """
    err = keypoint_errors(pred_xy, gt_xy)
    vis = np.asarray(visible, dtype=bool)
    var = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    areas = np.asarray(areas, dtype=np.float64).reshape(-1, 1)
    e = err**2 / var / (areas + np.spacing(1)) / 2.0
    sim = np.exp(-e)
    count = vis.sum(axis=1)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, np.where(vis, sim, 0.0).sum(axis=1) / np.maximum(count, 1), np.nan)


def coco_keypoint_eval(gt: dict, results: list[dict], sigmas: np.ndarray = COCO17_OKS_SIGMAS) -> dict[str, float]:
    """COCO keypoint AP/AR through pycocotools' COCOeval (iouType ``"keypoints"``).

    Args:
        gt: a COCO keypoint annotation dict (``images``, ``annotations``, ``categories``).
        results: COCO keypoint results (``image_id``, ``category_id``, ``keypoints``, ``score``).
        sigmas: per-keypoint OKS sigmas (COCO's standard ones by default).
    Returns:
        ``{"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}``; -1 where
        pycocotools has nothing to average (e.g. no medium-size person). With no result at all
        every AP/AR is 0.
    Raises:
        ImportError: pycocotools is not installed.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {name: 0.0 for name in COCO_KEYPOINT_STAT_NAMES}
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(list(results))
        evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(COCO_KEYPOINT_STAT_NAMES, evaluator.stats)}


def _root_align(xyz: np.ndarray, root: tuple[int, ...] | None) -> np.ndarray:
    if root is None:
        return xyz
    return xyz - xyz[:, list(root)].mean(axis=1, keepdims=True)


def mpjpe(pred_xyz: np.ndarray, gt_xyz: np.ndarray, root: tuple[int, ...] | None = None) -> float:
    """Mean per-joint position error: mean Euclidean distance over all joints of all people.

    ``root``: joint indices whose mean is subtracted from each pose first (root-relative MPJPE),
    e.g. the two hips; None compares positions as given. People with a NaN prediction are left out.
    """
    pred = np.asarray(pred_xyz, dtype=np.float64)
    gt = np.asarray(gt_xyz, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred shape {pred.shape} != gt shape {gt.shape}")
    err = np.linalg.norm(_root_align(pred, root) - _root_align(gt, root), axis=-1)
    keep = np.isfinite(err).all(axis=1)
    return float(err[keep].mean()) if keep.any() else float("nan")


def procrustes_align(pred_xyz: np.ndarray, gt_xyz: np.ndarray) -> np.ndarray:
    """Best similarity transform (scale, rotation, translation) of one (K, 3) pose onto another.

    Least squares (Umeyama 1991): returns ``s * pred @ R.T + t`` minimising the squared distance
    to ``gt``, with ``R`` a proper rotation (no reflection).
    """
    x = np.asarray(pred_xyz, dtype=np.float64)
    y = np.asarray(gt_xyz, dtype=np.float64)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mx, y - my
    u, sv, vt = np.linalg.svd(yc.T @ xc)  # cross-covariance gt^T pred
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rotation = u @ fix @ vt
    var_x = float((xc**2).sum())
    scale = float((sv * np.diag(fix)).sum() / var_x) if var_x > 0 else 1.0
    return scale * xc @ rotation.T + my


def pa_mpjpe(pred_xyz: np.ndarray, gt_xyz: np.ndarray) -> float:
    """MPJPE after aligning each predicted pose to its ground truth with :func:`procrustes_align`."""
    pred = np.asarray(pred_xyz, dtype=np.float64)
    gt = np.asarray(gt_xyz, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred shape {pred.shape} != gt shape {gt.shape}")
    errors = [
        np.linalg.norm(procrustes_align(p, g) - g, axis=-1).mean()
        for p, g in zip(pred, gt)
        if np.isfinite(p).all() and np.isfinite(g).all()
    ]
    return float(np.mean(errors)) if errors else float("nan")


def timing_stats(seconds: np.ndarray | list[float]) -> dict[str, float]:
    """Median, 90th percentile, min, mean and count of durations given in seconds, in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    if ms.size == 0:
        return {
            "runs": 0,
            "median_ms": float("nan"),
            "p90_ms": float("nan"),
            "min_ms": float("nan"),
            "mean_ms": float("nan"),
        }
    return {
        "runs": int(ms.size),
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "min_ms": float(ms.min()),
        "mean_ms": float(ms.mean()),
    }


def auroc(scores_pos: np.ndarray | list[float], scores_neg: np.ndarray | list[float]) -> float:
    """Area under the ROC curve of a score that should be higher for positives.

    The Mann-Whitney U statistic over n_pos x n_neg: the probability that a random positive
    scores above a random negative, ties counting one half (average ranks). 1.0: every positive
    above every negative; 0.5: no separation; 0.0: reversed. Equals
    ``sklearn.metrics.roc_auc_score`` on the same scores.

    Raises:
        ValueError: either set is empty or holds a non-finite score.
    """
    pos = np.asarray(scores_pos, dtype=np.float64).reshape(-1)
    neg = np.asarray(scores_neg, dtype=np.float64).reshape(-1)
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"AUROC needs positives and negatives (got {pos.size} and {neg.size})")
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise ValueError("AUROC scores must be finite")
    values = np.concatenate([pos, neg])
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)  # 1-based, ties share their mean rank
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def threshold_error_rates(
    scores_pos: np.ndarray | list[float], scores_neg: np.ndarray | list[float], threshold: float
) -> tuple[float, float]:
    """(false rejection rate, false acceptance rate) of the rule "accept when score >= threshold".

    The tracker keeps a pose when its presence is at least ``min_tracking_confidence``: a positive
    below the threshold is rejected (a person dropped), a negative at or above it accepted (a pose
    on background). NaN for an empty set.
    """
    pos = np.asarray(scores_pos, dtype=np.float64).reshape(-1)
    neg = np.asarray(scores_neg, dtype=np.float64).reshape(-1)
    frr = float(np.mean(pos < threshold)) if pos.size else float("nan")
    far = float(np.mean(neg >= threshold)) if neg.size else float("nan")
    return frr, far


def paired_pck_difference(correct_a: np.ndarray, correct_b: np.ndarray, evaluated: np.ndarray, block: int = 10,
                          resamples: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """PCK of A minus PCK of B on the same ground truth, with a paired moving-block bootstrap interval.

    ``correct_a``, ``correct_b``, ``evaluated``: (C, F) joint counts per clip and frame (correct
    joints of each model, joints with ground truth); the C clips are views of the same F moments, so
    a resample draws blocks of ``block`` consecutive frame indices and takes them in every clip
    (frames of one moment and its neighbours are not independent). Returns (difference, low,
    high): the difference on all frames and the ``level`` percentile interval over ``resamples``.
    """
    a, b, n = (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in (correct_a, correct_b, evaluated))
    if not a.shape == b.shape == n.shape:
        raise ValueError(f"shapes differ: {a.shape}, {b.shape}, {n.shape}")
    frames = a.shape[1]
    per_frame = (a - b).sum(axis=0), n.sum(axis=0)
    if per_frame[1].sum() <= 0:
        return float("nan"), float("nan"), float("nan")
    diff = float(per_frame[0].sum() / per_frame[1].sum())
    block = max(1, min(block, frames))
    blocks = -(-frames // block)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, frames - block + 1, size=(resamples, blocks))
    idx = (starts[..., None] + np.arange(block)).reshape(resamples, -1)[:, :frames]
    num, den = per_frame[0][idx].sum(axis=1), per_frame[1][idx].sum(axis=1)
    stats = num[den > 0] / den[den > 0]
    lo, hi = np.percentile(stats, [50 * (1 - level), 50 * (1 + level)])
    return diff, float(lo), float(hi)
