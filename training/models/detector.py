"""The face-proxy person detector: a BlazeFace-style single-shot detector on the SDK's anchors.

Input (B, S, S, 3) float in [-1, 1], the whole frame letterboxed (blazepose_sdk.stages.detector). Per
anchor of ``blazepose_sdk.geometry.anchors.generate_anchors`` (feature maps S/8 with 2 anchors per cell,
S/16 with 2, S/32 with 6: 2254 for S = 224, in the SDK's order group, row, column, anchor) it
regresses 12 raw values - face box x, y, w, h then four (x, y) alignment points: hip centre,
body-circle point, shoulder centre, upper-body-circle point - and one score logit.

Raw values follow the SDK decoder exactly (``decode_boxes`` with x_scale = ... = S, fixed
anchor size 1): ``x_norm = raw_x / S + anchor_x``, ``w_norm = raw_w / S``.
:func:`encode_targets` is its inverse; :func:`match_anchors` assigns face boxes to anchors.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from blazepose_sdk.geometry.anchors import AnchorOptions, generate_anchors
from training.config import DetectorModelConfig
from training.models.blocks import blaze_stage, conv_bn_relu, make_divisible

NUM_COORDS = 12  # 4 box values + 4 keypoints x 2 (pose_detection_cpu.pbtxt num_coords)
NUM_KEYPOINTS = 4
# Anchors per cell of each feature map (stride 8: 2, stride 16: 2, stride 32: 3 layers x 2),
# from the SDK's AnchorOptions (strides 8, 16, 32, 32, 32 with one interpolated anchor each).
ANCHORS_PER_CELL = {8: 2, 16: 2, 32: 6}
# Backbone channels / blocks at strides 2, 4, 8, 16, 32 at width 1.0 (ours, BlazeFace-like).
BACKBONE_CHANNELS = (24, 32, 64, 96, 128)
BACKBONE_BLOCKS = (1, 2, 3, 3, 3)
# The box head predicts in tenths of the input side; this factor turns them into raw units.
RAW_UNITS_PER_OUTPUT = 0.1
# match_anchors labels: background, and near misses that take no classification loss.
BACKGROUND, IGNORED = -1, -2
# Anchors whose centre lies within this many face-box sizes of a face (and are not positive)
# are ignored (ours).
IGNORE_EXPAND = 2.0
# Score prior (sigmoid(-4.6) = 0.01): RetinaNet's classification bias init (Lin et al. 2017, 4.1).
SCORE_PRIOR_LOGIT = -4.6


def build_detector(cfg: DetectorModelConfig | None = None) -> keras.Model:
    """Outputs (B, N, 12) raw boxes ("regressors") and (B, N, 1) score logits ("classificators")."""
    cfg = cfg or DetectorModelConfig()
    s, w = cfg.input_size, cfg.width
    if s % 32:
        raise ValueError("input_size must be a multiple of 32")
    c = [make_divisible(ch * w) for ch in BACKBONE_CHANNELS]
    inp = keras.Input((s, s, 3), name="image")
    x = conv_bn_relu(inp, c[0], 5, 2, name="stem")
    x = blaze_stage(x, c[0], BACKBONE_BLOCKS[0], 1, "s2")
    feats = {}
    stride = 2
    for i in range(1, 5):
        stride *= 2
        x = blaze_stage(x, c[i], BACKBONE_BLOCKS[i], 2, f"s{stride}")
        feats[stride] = x
    # Top-down link so the stride-8 map (small faces) sees context: 32 -> 16 -> 8.
    up16 = layers.UpSampling2D(2, interpolation="bilinear", name="up16")(
        conv_bn_relu(feats[32], c[3], 1, name="lat32"))
    f16 = layers.Add(name="fuse16")([feats[16], up16])
    up8 = layers.UpSampling2D(2, interpolation="bilinear", name="up8")(conv_bn_relu(f16, c[2], 1, name="lat16"))
    f8 = layers.Add(name="fuse8")([feats[8], up8])
    maps = {8: f8, 16: f16, 32: feats[32]}

    scale = RAW_UNITS_PER_OUTPUT * s
    boxes, scores = [], []
    for stride in (8, 16, 32):
        a = ANCHORS_PER_CELL[stride]
        f = maps[stride]
        n = f.shape[1] * f.shape[2] * a
        b = layers.Conv2D(a * NUM_COORDS, 3, padding="same", name=f"box{stride}", dtype="float32")(f)
        boxes.append(layers.Reshape((n, NUM_COORDS), name=f"box{stride}_flat")(b))
        k = layers.Conv2D(a, 3, padding="same", name=f"cls{stride}", dtype="float32",
                          bias_initializer=keras.initializers.Constant(SCORE_PRIOR_LOGIT))(f)
        scores.append(layers.Reshape((n, 1), name=f"cls{stride}_flat")(k))
    raw_boxes = layers.Concatenate(axis=1, name="concat_boxes")(boxes)
    raw_boxes = layers.Rescaling(scale, name="regressors", dtype="float32")(raw_boxes)
    raw_scores = layers.Concatenate(axis=1, name="classificators", dtype="float32")(scores)
    return keras.Model(inp, [raw_boxes, raw_scores], name="blazepose_detector")


def sdk_anchors(input_size: int = 224) -> np.ndarray:
    """The SDK's decoding anchors (N, 4): centres, fixed size 1 (as PoseDetector builds them)."""
    return generate_anchors(AnchorOptions(input_size_width=input_size, input_size_height=input_size))


def matching_anchors(input_size: int = 224) -> np.ndarray:
    """The same anchors with their SSD scales as sizes (N, 4 cx, cy, w, h, normalized), used
    only to decide which anchors are responsible for a face box."""
    return generate_anchors(AnchorOptions(input_size_width=input_size, input_size_height=input_size,
                                          fixed_anchor_size=False))


def _iou_one_to_many(box: np.ndarray, anchors_cxcywh: np.ndarray) -> np.ndarray:
    a = anchors_cxcywh
    ax0, ay0 = a[:, 0] - a[:, 2] / 2, a[:, 1] - a[:, 3] / 2
    ax1, ay1 = a[:, 0] + a[:, 2] / 2, a[:, 1] + a[:, 3] / 2
    iw = np.clip(np.minimum(ax1, box[2]) - np.maximum(ax0, box[0]), 0, None)
    ih = np.clip(np.minimum(ay1, box[3]) - np.maximum(ay0, box[1]), 0, None)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1]) + a[:, 2] * a[:, 3] - inter
    return inter / np.maximum(area, 1e-12)


def match_anchors(face_boxes_norm: np.ndarray, match_anchors_: np.ndarray, min_iou: float) -> np.ndarray:
    """Per anchor: the index of its face (positive), ``BACKGROUND`` (-1) or ``IGNORED`` (-2).
    ``face_boxes_norm`` (F, 4) xyxy 0..1; ``match_anchors_`` (N, 4) cx, cy, w, h (0..1).

    Positive: the anchor's IoU with a face is >= ``min_iou`` (SSD, Liu et al. 2016, sec. 2.2),
    or its centre lies inside the face box (centre sampling, as FCOS, Tian et al. 2019): the
    SSD scales of the stride-8 anchors (33 px at 224) are far larger than most faces in a
    full-body frame, so by IoU alone a small face gets only its forced best anchor while the
    neighbours that see the same pixels are trained as background, and the classifier cannot
    separate them. Every face also takes its best-IoU anchor. Ignored (no classification loss):
    anchors whose centre lies within ``IGNORE_EXPAND`` times the face box (about its centre)
    that are not positive - the near misses are neither face nor background.
    """
    n = match_anchors_.shape[0]
    out = np.full(n, BACKGROUND, np.int64)
    if len(face_boxes_norm) == 0:
        return out
    boxes = np.asarray(face_boxes_norm, np.float64).reshape(-1, 4)
    ious = np.stack([_iou_one_to_many(b, match_anchors_) for b in boxes])  # (F, N)
    cx, cy = match_anchors_[:, 0], match_anchors_[:, 1]

    def inside(scale: float) -> np.ndarray:  # (F, N): anchor centre inside the scaled box
        c = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        half = 0.5 * scale * (boxes[:, 2:] - boxes[:, :2])
        return ((np.abs(cx[None] - c[:, :1]) <= half[:, :1]) & (np.abs(cy[None] - c[:, 1:]) <= half[:, 1:]))

    near = inside(IGNORE_EXPAND).any(0)
    out[near] = IGNORED
    positive = (ious >= min_iou) | inside(1.0)
    score = np.where(positive, ious + 1.0, -1.0)  # among the faces an anchor is positive for, the best IoU
    pos = positive.any(0)
    out[pos] = score.argmax(0)[pos]
    for f in range(len(boxes)):
        out[int(ious[f].argmax())] = f
    return out


def encode_targets(face_boxes_norm: np.ndarray, keypoints_norm: np.ndarray, anchors: np.ndarray,
                   assignment: np.ndarray, input_size: int) -> np.ndarray:
    """Raw (N, 12) regression targets, the exact inverse of ``blazepose_sdk.geometry.anchors.decode_boxes``
    (reverse_output_order, x/y/w/h scales = ``input_size``) for the SDK's ``anchors``.

    face_boxes_norm (F, 4) xyxy and keypoints_norm (F, 4, 2) are normalized to the input tensor;
    rows of unassigned anchors (assignment -1) are zero.
    """
    out = np.zeros((anchors.shape[0], NUM_COORDS), np.float32)
    idx = np.nonzero(assignment >= 0)[0]
    if idx.size == 0:
        return out
    f = assignment[idx]
    b = np.asarray(face_boxes_norm, np.float64)[f]
    k = np.asarray(keypoints_norm, np.float64)[f]
    ax, ay, aw, ah = (anchors[idx, i].astype(np.float64) for i in range(4))
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    s = float(input_size)
    out[idx, 0] = (cx - ax) / aw * s
    out[idx, 1] = (cy - ay) / ah * s
    out[idx, 2] = (b[:, 2] - b[:, 0]) / aw * s
    out[idx, 3] = (b[:, 3] - b[:, 1]) / ah * s
    for j in range(NUM_KEYPOINTS):
        out[idx, 4 + 2 * j] = (k[:, j, 0] - ax) / aw * s
        out[idx, 5 + 2 * j] = (k[:, j, 1] - ay) / ah * s
    return out
