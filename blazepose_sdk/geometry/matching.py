"""Geometry for tracking several people: how much two rotated ROIs or two poses overlap.

Pure numpy, no I/O. Polygons are (N, 2) arrays of vertices in image pixels, in order (either
winding); ROIs are given by their corners (:meth:`blazepose_sdk.geometry.roi.Roi.corners_px`).
"""

from __future__ import annotations

import numpy as np

# Per-keypoint falloff of keypoint_similarity, as a fraction of the person's ROI side. COCO's OKS
# uses per-keypoint sigmas around 0.025-0.107 of sqrt(area) (cocoapi's pycocotools/cocoeval.py);
# one value in that range, on the ROI side (about 1.25x the body height), keeps it simple: two
# poses whose keypoints are on average 10% of the ROI side apart score exp(-0.5) = 0.61.
KEYPOINT_SIMILARITY_KAPPA = 0.1


def polygon_area(poly: np.ndarray) -> float:
    """Area of a simple polygon (shoelace formula), whatever its winding."""
    p = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _signed_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def convex_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The intersection of two convex polygons (Sutherland-Hodgman clipping of ``a`` by ``b``).

    Returns its vertices, (M, 2), M = 0 when they do not overlap (touching edges give a
    degenerate polygon of area 0).
    """
    subject = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    clip = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    if len(subject) < 3 or len(clip) < 3:
        return np.zeros((0, 2))
    if _signed_area(clip) < 0:  # walk the clip polygon counter-clockwise (in x-right, y-up terms)
        clip = clip[::-1]
    out = [tuple(v) for v in subject]
    for i in range(len(clip)):
        if not out:
            break
        c0, c1 = clip[i], clip[(i + 1) % len(clip)]
        edge = c1 - c0

        def inside(p, c0=c0, edge=edge):
            return edge[0] * (p[1] - c0[1]) - edge[1] * (p[0] - c0[0]) >= 0.0

        def crossing(p, q, c0=c0, edge=edge):
            d = np.subtract(q, p)
            denom = edge[0] * d[1] - edge[1] * d[0]
            t = (edge[1] * (p[0] - c0[0]) - edge[0] * (p[1] - c0[1])) / denom
            return (p[0] + t * d[0], p[1] + t * d[1])

        points, out = out, []
        for j, q in enumerate(points):
            p = points[j - 1]
            if inside(q):
                if not inside(p):
                    out.append(crossing(p, q))
                out.append(q)
            elif inside(p):
                out.append(crossing(p, q))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex polygons (0 when either has no area)."""
    area_a, area_b = polygon_area(a), polygon_area(b)
    inter = polygon_area(convex_intersection(a, b))
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def keypoint_similarity(a_xy: np.ndarray, b_xy: np.ndarray, scale_px: float,
                        kappa: float = KEYPOINT_SIMILARITY_KAPPA, weights: np.ndarray | None = None) -> float:
    """OKS-like similarity in [0, 1] of two poses' keypoints (image pixels).

    The mean of ``exp(-d_i^2 / (2 (kappa * scale_px)^2))`` over keypoints, ``d_i`` the distance
    between the two poses' keypoint i, weighted by ``weights`` (e.g. the product of the two
    visibilities; None: all equal). 1 for identical poses, near 0 for two separate people.
    """
    a = np.asarray(a_xy, dtype=np.float64)[:, :2]
    b = np.asarray(b_xy, dtype=np.float64)[:, :2]
    if a.shape != b.shape or scale_px <= 0:
        raise ValueError(f"need two (K, 2) keypoint arrays of one shape and a positive scale, got {a.shape}, {b.shape}, {scale_px}")
    d2 = ((a - b) ** 2).sum(axis=1)
    s = np.exp(-d2 / (2.0 * (kappa * scale_px) ** 2))
    w = np.ones(len(a)) if weights is None else np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    total = float(w.sum())
    return float((s * w).sum() / total) if total > 0 else float(s.mean())


def overlap_matrix(polys_a: list[np.ndarray], polys_b: list[np.ndarray]) -> np.ndarray:
    """(len(a), len(b)) polygon IoUs."""
    out = np.zeros((len(polys_a), len(polys_b)))
    for i, a in enumerate(polys_a):
        for j, b in enumerate(polys_b):
            out[i, j] = polygon_iou(a, b)
    return out


def duplicates_to_drop(order_keys: np.ndarray, similar: np.ndarray) -> list[int]:
    """Which of several items to drop so that no two similar ones remain, keeping the first in order.

    ``similar``: (N, N) bool, symmetric; ``order_keys``: (N,) the preference (smaller is kept,
    e.g. the track id: the older track wins). Greedy in order: an item is dropped when it is
    similar to one kept before it. Returns the dropped indices, ascending.
    """
    keys = np.asarray(order_keys)
    sim = np.asarray(similar, dtype=bool)
    kept: list[int] = []
    dropped: list[int] = []
    for i in np.argsort(keys, kind="stable"):
        if any(sim[i, k] for k in kept):
            dropped.append(int(i))
        else:
            kept.append(int(i))
    return sorted(dropped)
