"""Weighted non-maximum suppression, as MediaPipe's NonMaxSuppressionCalculator (WEIGHTED).

Pure numpy. Boxes are (xmin, ymin, xmax, ymax) in any consistent units.
"""

from __future__ import annotations

import numpy as np


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) against many boxes (N, 4); returns (N,)."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = max(float(box[2] - box[0]), 0.0) * max(float(box[3] - box[1]), 0.0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0).astype(np.float32)


def weighted_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float = 0.3,
    max_detections: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted NMS: each kept detection is the score-weighted mean of its overlapping cluster.

    Candidates are taken in descending score order. Every remaining candidate whose IoU with
    the current best exceeds ``iou_threshold`` joins its cluster (the best included); all
    columns of ``boxes`` (box corners and keypoints alike) are averaged with the candidates'
    scores as weights, and the cluster keeps the best candidate's score.

    Args:
        boxes: (N, D) rows whose first 4 columns are xmin, ymin, xmax, ymax.
        scores: (N,) scores.
        iou_threshold: MediaPipe's ``min_suppression_threshold`` (0.3 for the pose detector).
    Returns:
        (boxes (M, D), scores (M,)), best first.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError("boxes and scores differ in length")
    order = np.argsort(-scores, kind="stable")
    remaining = order
    kept_boxes: list[np.ndarray] = []
    kept_scores: list[float] = []
    while remaining.size:
        best = remaining[0]
        overlap = iou(boxes[best, :4], boxes[remaining, :4])
        in_cluster = overlap > iou_threshold
        in_cluster[0] = True  # the best always belongs to its own cluster (even a degenerate box)
        members = remaining[in_cluster]
        w = scores[members]
        total = float(w.sum())
        if total > 0:
            merged = (boxes[members] * w[:, None]).sum(axis=0) / total
        else:
            merged = boxes[best].copy()
        kept_boxes.append(merged.astype(np.float32))
        kept_scores.append(float(scores[best]))
        remaining = remaining[~in_cluster]
        if max_detections is not None and len(kept_boxes) >= max_detections:
            break
    if not kept_boxes:
        return np.zeros((0, boxes.shape[1]), np.float32), np.zeros((0,), np.float32)
    return np.stack(kept_boxes), np.asarray(kept_scores, dtype=np.float32)
