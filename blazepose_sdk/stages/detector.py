"""Stage 1: the BlazePose face-proxy person detector.

The network sees the whole frame letterboxed to 224x224 and, per SSD anchor, regresses a face
box and four alignment points. Decoding (anchors, sigmoid scores, weighted NMS) is pure numpy in
:mod:`blazepose_sdk.geometry.anchors` and :mod:`blazepose_sdk.geometry.nms`; this module adds the interpreter
call and maps the result back to image pixels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelSignatureError
from ..geometry.anchors import AnchorOptions, DecodeOptions, decode_boxes, decode_scores, generate_anchors
from ..geometry.image import crop_roi
from ..geometry.nms import weighted_nms
from ..geometry.roi import Roi, letterbox_roi, roi_from_alignment_points, roi_to_image
from ..geometry.tiles import merge_tile_detections
from .roles import DETECTOR_ROLES, role_indices
from .roles import output_roles as shape_roles

# NonMaxSuppressionCalculator min_suppression_threshold in pose_detection_cpu.pbtxt.
NMS_IOU_THRESHOLD = 0.3
# ImageToTensorCalculator output_tensor_float_range in pose_detection_cpu.pbtxt.
DETECTOR_VALUE_RANGE = (-1.0, 1.0)
# Legacy solution's min_detection_confidence default (mediapipe/python/solutions/pose.py).
DEFAULT_MIN_SCORE = 0.5


@dataclass(frozen=True)
class Detection:
    """One detected person, all coordinates in image pixels.

    Attributes:
        score: detector confidence in [0, 1].
        box_px: face box (xmin, ymin, xmax, ymax).
        hip_center_px, body_circle_px: full-body alignment points (ROI centre and scale point).
        shoulder_center_px, upper_body_circle_px: upper-body alignment points.
    """

    score: float
    box_px: tuple[float, float, float, float]
    hip_center_px: tuple[float, float]
    body_circle_px: tuple[float, float]
    shoulder_center_px: tuple[float, float]
    upper_body_circle_px: tuple[float, float]

    def roi(self) -> Roi:
        """The landmark ROI this detection gives (image pixels): MediaPipe's rotated square from
        the full-body alignment points (:func:`blazepose_sdk.geometry.roi.roi_from_alignment_points`)."""
        return roi_from_alignment_points(self.hip_center_px, self.body_circle_px)

    def row_px(self) -> np.ndarray:
        """(12,) box corners then the four alignment points, image pixels (for merging runs)."""
        return np.array([*self.box_px, *self.hip_center_px, *self.body_circle_px, *self.shoulder_center_px,
                         *self.upper_body_circle_px], dtype=np.float64)

    def to_dict(self) -> dict:
        return {
            "score": float(self.score),
            "box_px": [float(v) for v in self.box_px],
            "hip_center_px": [float(v) for v in self.hip_center_px],
            "body_circle_px": [float(v) for v in self.body_circle_px],
            "shoulder_center_px": [float(v) for v in self.shoulder_center_px],
            "upper_body_circle_px": [float(v) for v in self.upper_body_circle_px],
        }


def decode_options(input_size: int, num_coords: int) -> DecodeOptions:
    """How the detector's raw boxes decode: ``num_coords`` values per anchor (4 box + 2 per
    keypoint) in pixels of the ``input_size`` square input, normalised by that size."""
    scale = float(input_size)
    return DecodeOptions(num_keypoints=(int(num_coords) - 4) // 2, x_scale=scale, y_scale=scale, w_scale=scale,
                         h_scale=scale)


def detections_from_decoded(boxes_norm: np.ndarray, scores: np.ndarray, frame_roi: Roi) -> list[Detection]:
    """Turn decoded rows (normalized to the letterboxed tensor) into image-pixel detections."""
    out = []
    for row, score in zip(boxes_norm, scores):
        pts = roi_to_image(row.reshape(-1, 2), frame_roi)  # box corners then 4 keypoints
        out.append(
            Detection(
                score=float(score),
                box_px=(float(pts[0, 0]), float(pts[0, 1]), float(pts[1, 0]), float(pts[1, 1])),
                hip_center_px=(float(pts[2, 0]), float(pts[2, 1])),
                body_circle_px=(float(pts[3, 0]), float(pts[3, 1])),
                shoulder_center_px=(float(pts[4, 0]), float(pts[4, 1])),
                upper_body_circle_px=(float(pts[5, 0]), float(pts[5, 1])),
            )
        )
    return out


def detections_from_rows_px(rows_px: np.ndarray, scores: np.ndarray) -> list[Detection]:
    """Detections from (N, 12) rows already in image pixels (inverse of :meth:`Detection.row_px`)."""
    out = []
    for row, score in zip(np.asarray(rows_px, dtype=np.float64), scores):
        p = [float(v) for v in row[:12]]
        out.append(Detection(float(score), (p[0], p[1], p[2], p[3]), (p[4], p[5]), (p[6], p[7]), (p[8], p[9]),
                             (p[10], p[11])))
    return out


class PoseDetector:
    """Runs the person detector on a whole RGB frame.

    Args:
        model: a loaded :class:`~blazepose_sdk.stages.runtime.TFLiteModel` with one (1, S, S, 3) input
            and two outputs, (1, N, 12) raw boxes and (1, N, 1) raw scores.
        min_score: detections below this confidence are dropped.
        value_range: (lo, hi) the input takes for pixel values 0..255 (a manifest's
            ``normalization.value_range``); MediaPipe's [-1, 1] by default.
        output_roles: one role per model output ("boxes", "scores" or None), e.g. from a
            manifest; None: outputs are identified by shape
            (:func:`blazepose_sdk.stages.roles.output_roles`).
    """

    def __init__(self, model, min_score: float = DEFAULT_MIN_SCORE,
                 value_range: tuple[float, float] = DETECTOR_VALUE_RANGE,
                 output_roles: Sequence[str | None] | None = None) -> None:
        self.model = model
        self.value_range = (float(value_range[0]), float(value_range[1]))
        if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4 or model.inputs[0].shape[1] != model.inputs[0].shape[2]:
            raise ModelSignatureError(f"detector {model.path.name} must take one square (1, S, S, 3) image")
        self.input_size = int(model.inputs[0].shape[1])
        self.anchors = generate_anchors(
            AnchorOptions(input_size_width=self.input_size, input_size_height=self.input_size)
        )
        # indices into the model's outputs of the raw boxes and the raw score logits
        self.box_output, self.score_output = self._find_outputs(output_roles)
        self.decode_options = decode_options(self.input_size, model.outputs[self.box_output].shape[-1])
        self.min_score = float(min_score)
        # a blazepose_sdk.profiling.StageTimes to record the stages into, or None
        self.stage_times = None

    def _find_outputs(self, roles: Sequence[str | None] | None = None) -> tuple[int, int]:
        n = self.anchors.shape[0]
        outputs = self.model.outputs
        shapes = [s.shape for s in outputs]
        if roles is None:
            roles = shape_roles("detector", shapes, self.input_size)
        elif len(roles) != len(outputs):
            raise ModelSignatureError(f"detector {self.model.path.name} has {len(outputs)} outputs, {len(roles)} roles given")
        found = role_indices(roles, DETECTOR_ROLES)
        boxes, scores = found.get("boxes"), found.get("scores")
        ok_boxes = boxes is not None and len(shapes[boxes]) == 3 and shapes[boxes][1] == n and shapes[boxes][2] >= 12
        ok_scores = scores is not None and len(shapes[scores]) == 3 and shapes[scores][1] == n and shapes[scores][2] == 1
        if not (ok_boxes and ok_scores):
            raise ModelSignatureError(
                f"detector {self.model.path.name} outputs {shapes} (roles {list(roles)}) do not match "
                f"{n} anchors x (12 coords, 1 score)"
            )
        return boxes, scores

    def __call__(self, frame_rgb: np.ndarray, *, bgr: bool = False, roi: Roi | None = None,
                 min_score: float | None = None) -> list[Detection]:
        """Detect people in an RGB uint8 frame (``bgr``: in BGR order); best first, image pixels.

        ``roi``: look only inside this square of the frame (a zoomed tile, see
        :mod:`blazepose_sdk.geometry.tiles`), letterboxed to the input; None: the whole frame.
        ``min_score``: this call's score threshold instead of the detector's.
        """
        t0 = time.perf_counter()
        h, w = frame_rgb.shape[:2]
        frame_roi = letterbox_roi(w, h) if roi is None else roi
        tensor = crop_roi(frame_rgb, frame_roi, self.input_size, self.value_range, border="zero", bgr=bgr)
        t1 = time.perf_counter()
        outputs = self.model.run(tensor)
        t2 = time.perf_counter()
        detections = self._decode(outputs, frame_roi, self.min_score if min_score is None else float(min_score))
        if self.stage_times is not None:
            clock = self.stage_times
            clock.add("detector_letterbox", t1 - t0)
            clock.add("detector_inference", t2 - t1)
            clock.add("detector_decode", time.perf_counter() - t2)
        return detections

    def detect_tiles(self, frame_rgb: np.ndarray, tiles: Sequence[Roi], *, bgr: bool = False,
                     extra: Sequence[Detection] = (), min_score: float | None = None) -> list[Detection]:
        """The detector on each tile (score threshold ``min_score``, default the detector's),
        merged with ``extra`` (e.g. the whole-frame detections) by weighted NMS across runs
        (:func:`blazepose_sdk.geometry.tiles.merge_tile_detections`); best first."""
        runs = [list(extra)] + [self(frame_rgb, bgr=bgr, roi=tile, min_score=min_score) for tile in tiles]
        rows = [np.array([d.row_px() for d in run]).reshape(len(run), 12) for run in runs]
        scores = [np.array([d.score for d in run], np.float32) for run in runs]
        merged_rows, merged_scores = merge_tile_detections(rows, scores)
        return detections_from_rows_px(merged_rows, merged_scores)

    def _decode(self, outputs: list[np.ndarray], frame_roi: Roi, min_score: float) -> list[Detection]:
        raw_boxes, raw_scores = outputs[self.box_output][0], outputs[self.score_output][0]
        scores = decode_scores(raw_scores, self.decode_options)
        keep = scores >= min_score
        if not keep.any():
            return []
        boxes = decode_boxes(raw_boxes, self.anchors, self.decode_options)[keep]
        boxes, scores = weighted_nms(boxes, scores[keep], NMS_IOU_THRESHOLD)
        return detections_from_decoded(boxes, scores, frame_roi)
