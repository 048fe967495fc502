"""SSD anchor generation and raw-tensor decoding for the BlazePose person detector.

Pure numpy; no interpreter. Coordinates are normalized to the detector's (letterboxed)
input tensor: 0..1 of its width/height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorOptions:
    """Options of MediaPipe's SsdAnchorsCalculator that matter for BlazePose.

    Defaults are those of mediapipe/modules/pose_detection/pose_detection_cpu.pbtxt
    (SsdAnchorsCalculatorOptions node).
    """

    input_size_width: int = 224
    input_size_height: int = 224
    num_layers: int = 5
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    # SsdAnchorsCalculatorOptions default: one extra anchor per layer at the interpolated scale.
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True
    min_scale: float = 0.1484375
    max_scale: float = 0.75


def _calculate_scale(min_scale: float, max_scale: float, stride_index: int, num_strides: int) -> float:
    if num_strides == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * stride_index / (num_strides - 1.0)


def generate_anchors(options: AnchorOptions = AnchorOptions()) -> np.ndarray:
    """Return SSD anchors as an (N, 4) float32 array of (x_center, y_center, width, height).

    Consecutive layers with the same stride share one feature map, as in MediaPipe's
    SsdAnchorsCalculator; the order is layer group, row, column, anchor. With
    ``fixed_anchor_size`` every width and height is 1.0 (the network regresses absolute sizes).
    For the BlazePose detector this yields 28*28*2 + 14*14*2 + 7*7*6 = 2254 anchors.
    """
    if len(options.strides) != options.num_layers:
        raise ValueError("strides must have num_layers entries")
    anchors: list[tuple[float, float, float, float]] = []
    layer_id = 0
    while layer_id < options.num_layers:
        sizes: list[tuple[float, float]] = []  # (height, width) per anchor of this group
        last_same = layer_id
        while last_same < options.num_layers and options.strides[last_same] == options.strides[layer_id]:
            scale = _calculate_scale(options.min_scale, options.max_scale, last_same, options.num_layers)
            for ratio in options.aspect_ratios:
                r = float(np.sqrt(ratio))
                sizes.append((scale / r, scale * r))
            if options.interpolated_scale_aspect_ratio > 0.0:
                scale_next = (
                    1.0
                    if last_same == options.num_layers - 1
                    else _calculate_scale(options.min_scale, options.max_scale, last_same + 1, options.num_layers)
                )
                s = float(np.sqrt(scale * scale_next))
                r = float(np.sqrt(options.interpolated_scale_aspect_ratio))
                sizes.append((s / r, s * r))
            last_same += 1
        stride = options.strides[layer_id]
        fh = int(np.ceil(options.input_size_height / stride))
        fw = int(np.ceil(options.input_size_width / stride))
        for y in range(fh):
            for x in range(fw):
                cx = (x + options.anchor_offset_x) / fw
                cy = (y + options.anchor_offset_y) / fh
                for h, w in sizes:
                    if options.fixed_anchor_size:
                        anchors.append((cx, cy, 1.0, 1.0))
                    else:
                        anchors.append((cx, cy, w, h))
        layer_id = last_same
    return np.asarray(anchors, dtype=np.float32)


@dataclass(frozen=True)
class DecodeOptions:
    """Options of MediaPipe's TensorsToDetectionsCalculator for the pose detector.

    From mediapipe/modules/pose_detection/pose_detection_cpu.pbtxt. The score threshold is
    not here: it is the tracker's ``min_detection_confidence`` (legacy solution default 0.5).
    """

    num_keypoints: int = 4
    box_coord_offset: int = 0
    keypoint_coord_offset: int = 4
    num_values_per_keypoint: int = 2
    x_scale: float = 224.0
    y_scale: float = 224.0
    w_scale: float = 224.0
    h_scale: float = 224.0
    score_clipping_thresh: float = 100.0
    reverse_output_order: bool = True  # raw boxes are (x, y, w, h), not (y, x, h, w)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, computed in float64 without overflow; returns float32.

    Small probabilities keep their relative precision (no ``1 + tiny`` cancellation).
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


def decode_boxes(raw_boxes: np.ndarray, anchors: np.ndarray, options: DecodeOptions = DecodeOptions()) -> np.ndarray:
    """Decode raw regressor output into boxes and keypoints.

    Args:
        raw_boxes: (N, C) raw values per anchor (C >= 4 + 2 * num_keypoints).
        anchors: (N, 4) anchors from :func:`generate_anchors`.
    Returns:
        (N, 4 + 2K) float32: xmin, ymin, xmax, ymax, then K (x, y) keypoints, all normalized
        to the detector input tensor (0..1).
    """
    raw = np.asarray(raw_boxes, dtype=np.float32)
    if raw.ndim == 3 and raw.shape[0] == 1:
        raw = raw[0]
    if raw.ndim != 2 or raw.shape[0] != anchors.shape[0]:
        raise ValueError(f"raw boxes shape {raw.shape} does not match {anchors.shape[0]} anchors")
    o = options.box_coord_offset
    if options.reverse_output_order:
        rx, ry, rw, rh = raw[:, o], raw[:, o + 1], raw[:, o + 2], raw[:, o + 3]
    else:
        ry, rx, rh, rw = raw[:, o], raw[:, o + 1], raw[:, o + 2], raw[:, o + 3]
    ax, ay, aw, ah = anchors[:, 0], anchors[:, 1], anchors[:, 2], anchors[:, 3]
    cx = rx / options.x_scale * aw + ax
    cy = ry / options.y_scale * ah + ay
    w = rw / options.w_scale * aw
    h = rh / options.h_scale * ah
    out = np.empty((raw.shape[0], 4 + 2 * options.num_keypoints), dtype=np.float32)
    out[:, 0] = cx - w / 2
    out[:, 1] = cy - h / 2
    out[:, 2] = cx + w / 2
    out[:, 3] = cy + h / 2
    for k in range(options.num_keypoints):
        base = options.keypoint_coord_offset + k * options.num_values_per_keypoint
        if options.reverse_output_order:
            kx, ky = raw[:, base], raw[:, base + 1]
        else:
            ky, kx = raw[:, base], raw[:, base + 1]
        out[:, 4 + 2 * k] = kx / options.x_scale * aw + ax
        out[:, 5 + 2 * k] = ky / options.y_scale * ah + ay
    return out


def decode_scores(raw_scores: np.ndarray, options: DecodeOptions = DecodeOptions()) -> np.ndarray:
    """Clip raw logits to +-score_clipping_thresh and apply the sigmoid; returns (N,) float32."""
    raw = np.asarray(raw_scores, dtype=np.float32).reshape(-1)
    t = options.score_clipping_thresh
    return sigmoid(np.clip(raw, -t, t))
