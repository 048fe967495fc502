"""Training views of the detector fine-tuning (``python -m training.finetune_detector train``),
pure numpy: one frame zoomed out or a mosaic of frames as the detector's input, its people's
face-box centres and alignment points, and per-anchor targets assigned the way the official
detector answers. Sizes in pixels of the square detector input; points normalized to the view
(0..1) unless a name says pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.geometry.roi import Roi, image_to_roi
from blazepose_sdk.stages.detector import DETECTOR_VALUE_RANGE
from training.config import TrainConfig
from training.models.detector import ANCHORS_PER_CELL, BACKGROUND, IGNORED, encode_targets, sdk_anchors
from training.train_detector import frame_roi

# What the official detector does (measured on teacher-labelled views, docs/lab/2026-12-01_multi_person.md): its
# face boxes come out ~44.6 px wide at 224 input whatever the person's size, and its scores come
# from the stride-8 and stride-16 anchors within about 8 px of the box centre, never stride 32.
TEACHER_BOX_SIDE = 44.6 / 224.0
BOX_PER_BODY_RADIUS = 0.9
POSITIVE_RADIUS_PX = {8: 6.0, 16: 8.0}
# Anchors this many positive radii from a person are neither positive nor held to the teacher:
# the official detector still fires up to ~12 px from the centre.
IGNORE_RADIUS_FACTOR = 2.0


@dataclass(frozen=True)
class ViewOptions:
    """How training views are made (all sizes in pixels of the square detector input).

    mosaic_prob: chance that a view is a k x k mosaic of frames (k uniform in ``mosaic_grid``)
    instead of one frame. single_zoom_out / cell_zoom_out: log-uniform shrink factor ranges of
    the frame inside its view or mosaic cell (``train_detector.frame_roi``). rotation_deg: ROI
    rotation range. flip_prob: horizontal flip of each frame."""

    input_size: int = 224
    mosaic_prob: float = 0.5
    mosaic_grid: tuple[int, ...] = (2, 3, 4)
    single_zoom_out: tuple[float, float] = (1.0, 6.0)
    cell_zoom_out: tuple[float, float] = (0.75, 1.25)
    rotation_deg: float = 10.0
    flip_prob: float = 0.5


def flip_rows(rows_px: np.ndarray, width: float) -> np.ndarray:
    """Detection rows (F, 12) in image pixels (box xyxy, four points) of the mirrored frame. The
    four alignment points are centres and circle points, so they only mirror (no left/right swap)."""
    r = np.array(rows_px, np.float64).reshape(-1, 12)
    out = r.copy()
    out[:, 0], out[:, 2] = width - r[:, 2], width - r[:, 0]
    out[:, 4::2] = width - r[:, 4::2]
    return out


def rows_in_cell(rows_px: np.ndarray, roi: Roi, cell_xy: tuple[int, int], cell: int, size: int):
    """Map detection rows (F, 12) of a frame whose ``roi`` is drawn into the square cell at
    ``cell_xy`` (side ``cell``) of a ``size`` x ``size`` view.

    Returns (face-box centres (K, 2), alignment points (K, 4, 2)), normalized to the view, for the
    people whose face-box centre lands inside the cell."""
    r = np.asarray(rows_px, np.float64).reshape(-1, 12)
    centres, kps = [], []
    off = np.array(cell_xy, np.float64)
    for row in r:
        c = image_to_roi(0.5 * (row[:2] + row[2:4])[None], roi)[0] * cell + off
        if not (np.all(c >= off) and np.all(c <= off + cell)):
            continue
        centres.append(c / size)
        kps.append((image_to_roi(row[4:].reshape(4, 2), roi) * cell + off) / size)
    return np.array(centres, np.float64).reshape(-1, 2), np.array(kps, np.float64).reshape(-1, 4, 2)


def compose_view(frames: list[np.ndarray], rows: list[np.ndarray], rng: np.random.Generator,
                 opts: ViewOptions = ViewOptions(), frame_weights: np.ndarray | None = None):
    """One training view: the detector's (S, S, 3) float32 input (values in
    ``DETECTOR_VALUE_RANGE``, as ``PoseDetector`` feeds it) and its people's face-box centres
    (K, 2) and alignment points (K, 4, 2), normalized to the view.

    ``frames``/``rows``: the labelled frames (RGB) and their teacher rows in image pixels. A view
    is one frame shrunk by ``single_zoom_out`` into a zero border (as the SDK letterboxes), or a
    k x k mosaic of frames each in its own cell."""
    s = opts.input_size
    k = int(rng.choice(opts.mosaic_grid)) if rng.uniform() < opts.mosaic_prob else 1
    zoom = opts.single_zoom_out if k == 1 else opts.cell_zoom_out
    cfg = TrainConfig(zoom_out=tuple(zoom), jitter_rotation_deg=opts.rotation_deg)
    view = np.full((s, s, 3), DETECTOR_VALUE_RANGE[0], np.float32)  # black, as the zero border
    all_centres, all_kps = [], []
    edges = np.linspace(0, s, k + 1).round().astype(int)
    for gy in range(k):
        for gx in range(k):
            x0, y0 = int(edges[gx]), int(edges[gy])
            cell = int(min(edges[gx + 1] - x0, edges[gy + 1] - y0))
            if frame_weights is None:
                i = int(rng.integers(len(frames)))
            else:
                i = int(rng.choice(len(frames), p=frame_weights))
            frame, r = frames[i], np.asarray(rows[i], np.float64).reshape(-1, 12)
            h, w = frame.shape[:2]
            if rng.uniform() < opts.flip_prob:
                frame, r = frame[:, ::-1], flip_rows(r, w)
            roi = frame_roi(w, h, rng, cfg)
            view[y0:y0 + cell, x0:x0 + cell] = crop_roi(np.ascontiguousarray(frame), roi, cell,
                                                        DETECTOR_VALUE_RANGE, border="zero")[0]
            c, kp = rows_in_cell(r, roi, (x0, y0), cell, s)
            all_centres.append(c)
            all_kps.append(kp)
    return view, np.concatenate(all_centres), np.concatenate(all_kps)


def face_boxes(centres_norm: np.ndarray, kps_norm: np.ndarray) -> np.ndarray:
    """Square face boxes (K, 4) xyxy, normalized: at the teacher's box centre, side
    ``min(TEACHER_BOX_SIDE, BOX_PER_BODY_RADIUS x body radius)`` (radius = hip centre to the
    body-circle point). The official detector draws every box ~0.2 of its input wide whatever the
    person's size; small people get boxes in proportion so that NMS keeps neighbours apart."""
    c = np.asarray(centres_norm, np.float64).reshape(-1, 2)
    k = np.asarray(kps_norm, np.float64).reshape(-1, 4, 2)
    radius = np.hypot(*(k[:, 1] - k[:, 0]).T)
    half = 0.5 * np.minimum(TEACHER_BOX_SIDE, BOX_PER_BODY_RADIUS * radius)
    return np.stack([c[:, 0] - half, c[:, 1] - half, c[:, 0] + half, c[:, 1] + half], 1)


@functools.lru_cache(maxsize=4)
def view_anchors(input_size: int) -> np.ndarray:
    """``sdk_anchors(input_size)``, built once (read-only): every training view needs them
    several times."""
    anchors = sdk_anchors(input_size)
    anchors.setflags(write=False)
    return anchors


def anchor_strides(input_size: int) -> np.ndarray:
    """(N,) stride of each SDK anchor (the SDK's order: stride 8, 16, then 32 maps)."""
    counts = [(input_size // st) ** 2 * ANCHORS_PER_CELL[st] for st in (8, 16, 32)]
    return np.repeat([8, 16, 32], counts)


def assign_anchors(centres_norm: np.ndarray, input_size: int,
                   ignore_factor: float = IGNORE_RADIUS_FACTOR, positive_scale: float = 1.0) -> np.ndarray:
    """Per anchor: the index of the person it answers for, ``BACKGROUND`` (-1) or ``IGNORED``
    (-2), the way the official detector answers: from stride-8 and stride-16 anchors whose centre
    lies within ``positive_scale`` x ``POSITIVE_RADIUS_PX`` (Chebyshev, input pixels) of the face-box centre. Anchors
    within ``ignore_factor`` times that (stride 32 included) are ignored; an anchor near
    several people answers for the nearest."""
    anchors = view_anchors(input_size)[:, :2] * input_size
    strides = anchor_strides(input_size)
    n = anchors.shape[0]
    out = np.full(n, BACKGROUND, np.int64)
    c = np.asarray(centres_norm, np.float64).reshape(-1, 2) * input_size
    if len(c) == 0:
        return out
    d = np.abs(anchors[None] - c[:, None]).max(-1)  # (K, N)
    radius = positive_scale * np.array([POSITIVE_RADIUS_PX.get(int(st), 0.0) for st in strides])
    positive = d <= radius[None]
    near = (d <= ignore_factor * np.maximum(radius, positive_scale * POSITIVE_RADIUS_PX[8])[None]).any(0)
    out[near] = IGNORED
    pos = positive.any(0)
    out[pos] = np.where(positive, d, np.inf).argmin(0)[pos]
    return out


def body_owner(kps_norm: np.ndarray, input_size: int) -> np.ndarray:
    """(N,) per anchor: the index of the person whose body circle (alignment point 0, the hip
    centre, with radius to point 1) holds the anchor's centre, the one it lies deepest in
    (distance / radius) when several do; -1 for none."""
    anchors = view_anchors(input_size)[:, :2]
    k = np.asarray(kps_norm, np.float64).reshape(-1, 4, 2)
    if len(k) == 0:
        return np.full(len(anchors), -1, np.int64)
    radius = np.maximum(np.hypot(*(k[:, 1] - k[:, 0]).T), 1e-9)
    depth = np.hypot(*(anchors[None] - k[:, None, 0]).transpose(2, 0, 1)) / radius[:, None]  # (K, N)
    return np.where((depth <= 1.0).any(0), depth.argmin(0), -1)


def body_anchors(kps_norm: np.ndarray, input_size: int) -> np.ndarray:
    """(N,) bool: the anchors whose centre lies inside some person's body circle (:func:`body_owner`)."""
    return body_owner(kps_norm, input_size) >= 0


def view_targets(centres_norm: np.ndarray, kps_norm: np.ndarray, input_size: int,
                 ignore_factor: float = IGNORE_RADIUS_FACTOR, positive_scale: float = 1.0,
                 box_on_body: bool = False) -> dict:
    """Per anchor: ``labels`` (N,) 1 answers for a person, 0 not, -1 ignored (near a person);
    ``boxes`` (N, 12) raw regression targets of the anchors of ``box_mask``; ``body`` (N,) 1 on
    the anchors labelled 0 that lie on a person's body (where a detector that fires finds the same
    person twice, at a smaller scale); ``box_mask`` (N,) 1 on the anchors that regress a labelled
    person's box and alignment points: the positive ones, and with ``box_on_body`` also every other
    anchor on a person's body (:func:`body_owner`), so that wherever on a body the detector fires,
    it draws that person's box and ROI, which the NMS merges with the face's."""
    n = view_anchors(input_size).shape[0]
    labels = np.zeros(n, np.float32)
    if len(centres_norm) == 0:
        zeros = np.zeros(n, np.float32)
        return {"labels": labels, "boxes": np.zeros((n, 12), np.float32), "body": zeros, "box_mask": zeros}
    assign = assign_anchors(centres_norm, input_size, ignore_factor, positive_scale)
    labels[assign >= 0] = 1.0
    labels[assign == IGNORED] = -1.0
    owner = body_owner(kps_norm, input_size)
    body = ((owner >= 0) & (labels == 0)).astype(np.float32)
    box_assign = np.where(assign >= 0, assign, owner if box_on_body else -1)
    boxes = encode_targets(face_boxes(centres_norm, kps_norm), kps_norm, view_anchors(input_size), box_assign,
                           input_size)
    return {"labels": labels, "boxes": boxes, "body": body, "box_mask": (box_assign >= 0).astype(np.float32)}
