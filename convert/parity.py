"""Parity metrics between a reference model (the float original) and a converted one.

Plain numpy functions, no I/O. Conventions:

* raw outputs: lists of float32 arrays, one per model output, as
  :meth:`blazepose_sdk.stages.runtime.TFLiteModel.run` returns them (int8 outputs already dequantized).
* landmarks: (N, 33, 2) image pixels, N = poses in the held-out set; ``visible`` (N, 33) bool.

PCK here is measured **against the float model's own output** (the converted model is scored on
how well it reproduces the float model), not against ground truth: the float model scores 1.0 by
definition, and ``1 - pck`` is the share of landmarks that INT8 moved by more than 20 % of the
torso size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# PCK@0.2, torso-normalised: the BlazePose paper's accuracy measure (Bazarevsky et al. 2020,
# "BlazePose: On-device Real-time Body Pose tracking", section 4).
PCK_THRESHOLD = 0.2
# Torso size = left shoulder to right hip (LSP's torso diameter; the same pair as
# blazepose_sdk.bench.metrics.TORSO_PAIR_BLAZEPOSE33, indices in blazepose_sdk.geometry.topology.LANDMARK_NAMES).
TORSO_PAIR = (11, 24)


@dataclass(frozen=True)
class OutputDiff:
    """Element-wise difference of one output over a set of inputs (units of the output).

    ``rel_mean_abs`` is mean |diff| divided by the standard deviation of the reference output
    (0 when the reference is constant), so outputs of different scale can be compared.
    """

    name: str
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float
    rel_mean_abs: float

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "max_abs": self.max_abs,
                "mean_abs": self.mean_abs, "rel_mean_abs": self.rel_mean_abs}


def output_diff(name: str, reference: list[np.ndarray] | np.ndarray, candidate: list[np.ndarray] | np.ndarray) -> OutputDiff:
    """Max / mean absolute difference of one output, stacked over samples."""
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape:
        raise ValueError(f"output {name!r}: reference shape {ref.shape} != candidate shape {cand.shape}")
    diff = np.abs(ref - cand)
    std = float(ref.std())
    mean_abs = float(diff.mean()) if diff.size else 0.0
    return OutputDiff(
        name=name,
        shape=tuple(ref.shape[1:]) if ref.ndim > 1 else tuple(ref.shape),
        max_abs=float(diff.max()) if diff.size else 0.0,
        mean_abs=mean_abs,
        rel_mean_abs=mean_abs / std if std > 0 else 0.0,
    )


_SUFFIX = re.compile(r":(\d+)$")


def match_outputs(ref: list[tuple[str, tuple[int, ...]]], cand: list[tuple[str, tuple[int, ...]]]) -> list[int]:
    """For each reference output (name, shape), the index of the candidate output that carries it.

    Converters rename and reorder outputs (TFLite's quantizer turns ``Identity_3`` into
    ``StatefulPartitionedCall:3`` and sorts them differently), so match in order of trust:
    same name; else the only candidate with the same shape; else same shape and the same
    ``:N`` / ``_N`` ordinal (``Identity_3`` <-> ``...:3``, ``Identity`` <-> ``...:0``).

    Raises:
        ValueError: an output cannot be matched unambiguously.
    """
    names = [n for n, _ in cand]
    out: list[int] = []
    for name, shape in ref:
        shape = tuple(shape)
        if name in names and tuple(cand[names.index(name)][1]) == shape:
            out.append(names.index(name))
            continue
        same = [i for i, (_, s) in enumerate(cand) if tuple(s) == shape]
        if len(same) == 1:
            out.append(same[0])
            continue
        ordinal = _ordinal(name)
        by_ordinal = [i for i in same if _ordinal(cand[i][0]) == ordinal]
        if ordinal is None or len(by_ordinal) != 1:
            raise ValueError(f"cannot match reference output {name!r} {shape} among {cand}")
        out.append(by_ordinal[0])
    if len(set(out)) != len(out):
        raise ValueError(f"two reference outputs matched the same candidate output: {ref} -> {cand}")
    return out


def _ordinal(name: str) -> int | None:
    m = _SUFFIX.search(name)
    if m:
        return int(m.group(1))
    m = re.search(r"_(\d+)$", name)
    return int(m.group(1)) if m else 0


def landmark_errors_px(pred_xy: np.ndarray, ref_xy: np.ndarray) -> np.ndarray:
    """(N, K) Euclidean distance in pixels between predicted and reference landmarks."""
    pred = np.asarray(pred_xy, dtype=np.float64)
    ref = np.asarray(ref_xy, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"pred shape {pred.shape} != reference shape {ref.shape}")
    return np.linalg.norm(pred[..., :2] - ref[..., :2], axis=-1)


def torso_size_px(ref_xy: np.ndarray, pair: tuple[int, int] = TORSO_PAIR) -> np.ndarray:
    """(N,) torso size in pixels: distance between the ``pair`` landmarks of each pose."""
    ref = np.asarray(ref_xy, dtype=np.float64)
    a, b = pair
    return np.linalg.norm(ref[:, a, :2] - ref[:, b, :2], axis=-1)


def pck(pred_xy: np.ndarray, ref_xy: np.ndarray, visible: np.ndarray | None = None,
        threshold: float = PCK_THRESHOLD, pair: tuple[int, int] = TORSO_PAIR) -> float:
    """Share (0..1) of landmarks within ``threshold`` x torso size of the reference.

    Only landmarks with ``visible`` True are counted (all when None); poses whose torso size is
    zero are left out. NaN when nothing is counted.
    """
    err = landmark_errors_px(pred_xy, ref_xy)
    size = torso_size_px(ref_xy, pair)
    counted = np.ones_like(err, dtype=bool) if visible is None else np.asarray(visible, dtype=bool).copy()
    counted &= (size > 0)[:, None]
    n = int(counted.sum())
    if n == 0:
        return float("nan")
    return float(((err < threshold * size[:, None]) & counted).sum() / n)


@dataclass(frozen=True)
class LandmarkParity:
    """Decoded-landmark agreement of a converted landmark model with its float original.

    All pixel values are image pixels of the held-out frames; ``pck`` is PCK@0.2 with the float
    model's landmarks as reference (float scores 1.0), over landmarks the float model sees as
    visible (visibility > 0.5).
    """

    num_poses: int
    mean_px: float
    median_px: float
    p95_px: float
    max_px: float
    pck: float
    mean_torso_px: float
    presence_max_abs: float

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def landmark_parity(pred_px: np.ndarray, ref_px: np.ndarray, ref_visibility: np.ndarray,
                    pred_presence: np.ndarray, ref_presence: np.ndarray,
                    visibility_threshold: float = 0.5) -> LandmarkParity:
    """Summarise (N, 33, 2) landmarks of a converted model against the float model's."""
    err = landmark_errors_px(pred_px, ref_px)
    visible = np.asarray(ref_visibility) > visibility_threshold
    counted = err[visible] if visible.any() else err.reshape(-1)
    return LandmarkParity(
        num_poses=int(err.shape[0]),
        mean_px=float(counted.mean()) if counted.size else float("nan"),
        median_px=float(np.median(counted)) if counted.size else float("nan"),
        p95_px=float(np.percentile(counted, 95)) if counted.size else float("nan"),
        max_px=float(counted.max()) if counted.size else float("nan"),
        pck=pck(pred_px, ref_px, visible),
        mean_torso_px=float(torso_size_px(ref_px).mean()) if err.shape[0] else float("nan"),
        presence_max_abs=float(np.max(np.abs(np.asarray(pred_presence, float) - np.asarray(ref_presence, float))))
        if np.size(ref_presence) else 0.0,
    )


def latency_summary(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """Median / mean / p90 of per-call times, in milliseconds."""
    s = np.asarray(seconds, dtype=np.float64) * 1e3
    if s.size == 0:
        return {"median_ms": float("nan"), "mean_ms": float("nan"), "p90_ms": float("nan"), "runs": 0}
    return {"median_ms": float(np.median(s)), "mean_ms": float(s.mean()),
            "p90_ms": float(np.percentile(s, 90)), "runs": int(s.size)}


# A candidate detection is "the same person" as the float model's best one when their boxes
# overlap by at least this IoU (the PASCAL VOC / COCO AP@0.5 matching rule).
SAME_PERSON_IOU = 0.5


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box ``a`` (4,) against boxes ``b`` (M, 4); boxes are (xmin, ymin, xmax, ymax)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0.0, None)
    ih = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0.0, None)
    inter = iw * ih
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def detector_agreement(ref_best: list, cand_all: list, min_iou: float = SAME_PERSON_IOU) -> dict:
    """Does the converted detector find the float detector's person, and where is its hip centre?

    ``ref_best``: per frame, the float model's best detection as ``(box (4,), hip_center (2,))``
    or None; ``cand_all``: per frame, the converted model's detections as ``(boxes (M, 4),
    hip_centers (M, 2))``. A frame counts when the float model found someone; it agrees when a
    candidate box overlaps the float box by ``min_iou`` or more (the best-overlapping one is the
    match); hip-centre error (image pixels) is measured between the float detection and its match.
    ``top1_same_rate``: the candidate's own best detection is that match (what the tracker uses).
    """
    if len(ref_best) != len(cand_all):
        raise ValueError(f"{len(ref_best)} reference frames vs {len(cand_all)} candidate frames")
    counted = same = top1 = 0
    hip = []
    for ref, (boxes, hips) in zip(ref_best, cand_all):
        if ref is None:
            continue
        counted += 1
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if not len(boxes):
            continue
        iou = box_iou(ref[0], boxes)
        j = int(np.argmax(iou))
        if iou[j] < min_iou:
            continue
        same += 1
        top1 += int(j == 0)
        match = np.asarray(hips, np.float64).reshape(-1, 2)[j]
        hip.append(float(np.linalg.norm(match - np.asarray(ref[1], np.float64))))
    hip_a = np.asarray(hip)
    return {
        "frames": len(ref_best),
        "frames_with_person": counted,
        "same_person": same,
        "same_person_rate": same / counted if counted else float("nan"),
        "top1_same_rate": top1 / counted if counted else float("nan"),
        "hip_err_px_mean": float(hip_a.mean()) if hip else float("nan"),
        "hip_err_px_p95": float(np.percentile(hip_a, 95)) if hip else float("nan"),
        "hip_err_px_max": float(hip_a.max()) if hip else float("nan"),
    }
