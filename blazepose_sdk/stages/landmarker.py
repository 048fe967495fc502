"""Stage 2: the landmark network on a rotated square ROI.

Decoding is pure numpy (:func:`decode_landmark_tensor`, :func:`refine_with_heatmap`); the
:class:`PoseLandmarker` class crops the ROI, runs the model, decodes and projects back to the
image. Output layout of the official models (pose_landmark_{lite,full,heavy}.tflite):
``(1, 195)`` = 39 x (x, y, z, visibility logit, presence logit) in 256-px tensor units,
``(1, 1)`` pose presence (already a probability), ``(1, 256, 256, 1)`` segmentation logits,
``(1, 64, 64, 39)`` heatmap logits, ``(1, 117)`` = 39 x world (x, y, z) metres.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelSignatureError
from ..geometry.anchors import sigmoid
from ..geometry.heatmaps import KEYPOINT_COUNTS, NUM_DECODED_ROWS, heatmap_landmark_rows
from ..geometry.image import crop_roi
from ..geometry.roi import Roi, project_landmarks, rotate_world_landmarks
from ..geometry.segmentation import mask_probability
from ..geometry.topology import AUX_BODY_CIRCLE, AUX_HIP_CENTER, NUM_LANDMARKS
from .roles import LANDMARK_ROLES, role_indices
from .roles import output_roles as shape_roles
from .runtime import TFLiteModel

# ImageToTensorCalculator output_tensor_float_range in pose_landmark_by_roi_cpu.pbtxt.
LANDMARK_VALUE_RANGE = (0.0, 1.0)
# RefineLandmarksFromHeatmapCalculator in tensors_to_pose_landmarks_and_segmentation.pbtxt:
# kernel_size 7; min_confidence_to_refine is the options' default, 0.5.
HEATMAP_KERNEL_SIZE = 7
HEATMAP_MIN_CONFIDENCE = 0.5


def decode_landmark_tensor(raw: np.ndarray, input_size: int, num_rows: int) -> np.ndarray:
    """Decode a raw landmark tensor into ROI-normalized rows.

    Returns (num_rows, 5) float64: x, y, z divided by ``input_size`` (so x, y are 0..1 across
    the crop and z shares x's units), visibility = sigmoid, presence = sigmoid. As
    TensorsToLandmarksCalculator with SIGMOID visibility/presence activations.
    """
    values = np.asarray(raw, dtype=np.float64).reshape(num_rows, -1)
    if values.shape[1] < 3:
        raise ValueError("landmark rows need at least x, y, z")
    out = np.zeros((num_rows, 5), dtype=np.float64)
    out[:, :3] = values[:, :3] / float(input_size)
    out[:, 3] = sigmoid(values[:, 3]) if values.shape[1] > 3 else 1.0
    out[:, 4] = sigmoid(values[:, 4]) if values.shape[1] > 4 else 1.0
    return out


def refine_with_heatmap(
    landmarks_roi: np.ndarray,
    heatmap_logits: np.ndarray,
    kernel_size: int = HEATMAP_KERNEL_SIZE,
    min_confidence: float = HEATMAP_MIN_CONFIDENCE,
) -> np.ndarray:
    """Replace x, y by the confidence-weighted mean of the heatmap around each landmark.

    For landmark i at ROI-normalized (x, y), take the ``kernel_size`` window of channel i of the
    (H, W, N) heatmap around cell (int(x * W), int(y * H)), clipped at the borders; with
    confidence = sigmoid(logit), if the window's maximum confidence is at least
    ``min_confidence`` the landmark moves to (sum(col * c) / sum(c) / W, sum(row * c) / sum(c) / H).
    Landmarks outside the heatmap are left as they are. This is the refinement of MediaPipe's
    RefineLandmarksFromHeatmapCalculator (positions only).

    The windows that lie wholly inside the heatmap (nearly all) are gathered and reduced in one
    batch; each row of the batch is summed like the single window it replaces (the same 49
    contiguous values in the same order), so the result is the same to the last bit as the
    one-window-at-a-time loop that handles the clipped windows at the borders.
    """
    lm = np.array(landmarks_roi, dtype=np.float64)
    hm = np.asarray(heatmap_logits, dtype=np.float32)
    if hm.ndim == 4:
        hm = hm[0]
    h, w, n = hm.shape
    if n != lm.shape[0]:
        raise ValueError(f"heatmap has {n} channels for {lm.shape[0]} landmarks")
    half = (kernel_size - 1) // 2
    finite = np.isfinite(lm[:, 0]) & np.isfinite(lm[:, 1])
    cells = np.zeros((n, 2), dtype=np.int64)
    # truncation toward zero, as C++ int()
    cells[finite] = np.trunc(lm[finite, :2] * (w, h)).astype(np.int64)
    col, row = cells[:, 0], cells[:, 1]
    inside = finite & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    whole = inside & (col >= half) & (col < w - half) & (row >= half) & (row < h - half)
    idx = np.flatnonzero(whole)
    if idx.size:
        k = np.arange(-half, half + 1)
        rr = row[idx, None, None] + k[None, :, None]
        cc = col[idx, None, None] + k[None, None, :]
        conf = sigmoid(hm[rr, cc, idx[:, None, None]]).astype(np.float64)  # (m, K, K)
        flat = conf.reshape(idx.size, -1)
        total = flat.sum(axis=1)
        peak = flat.max(axis=1)
        x_num = (cc * conf).reshape(idx.size, -1).sum(axis=1)
        y_num = (rr * conf).reshape(idx.size, -1).sum(axis=1)
        for j, i in enumerate(idx):
            if total[j] > 0 and peak[j] >= min_confidence:
                lm[i, 0] = x_num[j] / total[j] / w
                lm[i, 1] = y_num[j] / total[j] / h
    for i in np.flatnonzero(inside & ~whole):
        r0, r1 = max(0, row[i] - half), min(h, row[i] + half + 1)
        c0, c1 = max(0, col[i] - half), min(w, col[i] + half + 1)
        conf = sigmoid(hm[r0:r1, c0:c1, i]).astype(np.float64)
        total = conf.sum()
        if total > 0 and conf.max() >= min_confidence:
            rows, cols = np.mgrid[r0:r1, c0:c1]
            lm[i, 0] = (cols * conf).sum() / total / w
            lm[i, 1] = (rows * conf).sum() / total / h
    return lm


@dataclass(frozen=True)
class LandmarkerOutput:
    """What the landmark stage found in one ROI.

    Attributes:
        roi: the ROI the model looked at (image pixels).
        presence: pose-presence probability for the ROI.
        landmarks_px: (33, 5) x_px, y_px, z_px (depth, hip-relative, pixel units like x),
            visibility, presence.
        aux_px: (2, 2) auxiliary points in image pixels: hip centre and body-circle point,
            from which the next frame's ROI is derived.
        world_m: (33, 3) world landmarks in metres, hip-centred, rotated back to the image's
            up direction.
        mask_roi: (N, N) float32 person probability over the ROI in the model's tensor frame
            (sigmoid of the segmentation output), when the landmarker was asked for it; else None.
    """

    roi: Roi
    presence: float
    landmarks_px: np.ndarray
    aux_px: np.ndarray
    world_m: np.ndarray
    mask_roi: np.ndarray | None = None


class PoseLandmarker:
    """Runs a landmark model on a ROI of an RGB frame.

    Args:
        model: a loaded :class:`~blazepose_sdk.stages.runtime.TFLiteModel` taking (1, S, S, 3) in 0..1
            and giving at least the landmark tensor (rows x 5) and a (1, 1) presence; heatmap
            (1, h, w, rows) and world (rows x 3) outputs are used when present. Or a heatmap-only
            model (Lite-HRNet students): (1, h, w, K) keypoint heatmaps, K = 33 or 17, decoded
            here (:func:`blazepose_sdk.geometry.heatmaps.heatmap_landmark_rows`; no world landmarks).
        refine: apply heatmap refinement when the model has a heatmap output.
        value_range: (lo, hi) the input takes for pixel values 0..255 (a manifest's
            ``normalization.value_range``); MediaPipe's [0, 1] by default.
        output_roles: one role per model output ("landmarks", "presence", "heatmap", "world",
            "segmentation" or None), e.g. from a manifest; None: outputs are identified by shape
            (:func:`blazepose_sdk.stages.roles.output_roles`).
        segmentation: also read the segmentation output (``LandmarkerOutput.mask_roi``); a model
            without one is refused with ModelSignatureError.
    """

    def __init__(self, model, refine: bool = True, value_range: tuple[float, float] = LANDMARK_VALUE_RANGE,
                 output_roles: Sequence[str | None] | None = None, segmentation: bool = False) -> None:
        self.model = model
        spec = model.inputs[0] if len(model.inputs) == 1 else None
        if spec is None or len(spec.shape) != 4 or spec.shape[1] != spec.shape[2] or spec.shape[3] != 3:
            raise ModelSignatureError(f"landmark model {model.path.name} must take one (1, S, S, 3) image")
        self.input_size = int(spec.shape[1])
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self._find_outputs(output_roles)
        self.refine = refine and self.heatmap_output is not None
        self.segmentation = bool(segmentation)
        if self.segmentation and self.segmentation_output is None:
            raise ModelSignatureError(f"landmark model {model.path.name} has no segmentation output "
                                      f"(outputs {[s.shape for s in model.outputs]})")
        # Outputs read after each run: not the segmentation mask unless asked for, nor the heatmap
        # without refinement. Only a TFLiteModel takes the `outputs` subset; other runners (ONNX,
        # wrappers) give them all.
        needed = tuple(i for i in (self.keypoint_heatmaps_output, self.landmarks_output, self.presence_output,
                                   self.heatmap_output if self.refine else None, self.world_output,
                                   self.segmentation_output if self.segmentation else None) if i is not None)
        self._run_options = {"outputs": needed} if isinstance(model, TFLiteModel) else {}
        # a blazepose_sdk.profiling.StageTimes to record the stages into, or None
        self.stage_times = None

    def _find_outputs(self, roles: Sequence[str | None] | None = None) -> None:
        """Set landmarks_output, presence_output, heatmap_output, world_output (indices or None)
        and num_rows, from ``roles`` or else from the output shapes."""
        outputs = self.model.outputs
        shapes = [s.shape for s in outputs]
        if roles is None:
            roles = shape_roles("landmark", shapes, self.input_size)
        elif len(roles) != len(outputs):
            raise ModelSignatureError(
                f"landmark model {self.model.path.name} has {len(outputs)} outputs, {len(roles)} roles given"
            )
        found = role_indices(roles, LANDMARK_ROLES)
        self.keypoint_heatmaps_output = found.get("keypoint_heatmaps")
        if self.keypoint_heatmaps_output is not None:
            self._find_keypoint_heatmaps(shapes, roles)
            return
        self.landmarks_output = found.get("landmarks")
        self.presence_output = found.get("presence")
        self.heatmap_output = found.get("heatmap")
        self.world_output = found.get("world")
        seg = found.get("segmentation")
        seg_shape = shapes[seg] if seg is not None else None
        # a square (1, N, N, 1) map over the ROI
        self.segmentation_output = seg if seg_shape is not None and len(seg_shape) == 4 and \
            seg_shape[1] == seg_shape[2] and seg_shape[3] == 1 else None
        sizes = [int(np.prod(s)) for s in shapes]
        lm, hm, wo = self.landmarks_output, self.heatmap_output, self.world_output
        rows = sizes[lm] // 5 if lm is not None and len(shapes[lm]) == 2 and sizes[lm] % 5 == 0 else None
        if (rows is None or rows < NUM_LANDMARKS + 2 or self.presence_output is None
                or sizes[self.presence_output] != 1
                or (hm is not None and (len(shapes[hm]) != 4 or shapes[hm][3] != rows))
                or (wo is not None and sizes[wo] != rows * 3)):
            raise ModelSignatureError(
                f"landmark model {self.model.path.name} outputs {shapes} (roles {list(roles)}): need (1, R*5) "
                f"landmarks with R >= {NUM_LANDMARKS + 2}, a (1, 1) presence, optional (1, h, w, R) heatmap "
                "and (1, R*3) world"
            )
        self.num_rows = int(rows)

    def _find_keypoint_heatmaps(self, shapes: list, roles: Sequence[str | None]) -> None:
        """A heatmap-only model: its one used output is (1, h, w, K) keypoint heatmaps (K = 33 or
        17, h and w smaller than the input), decoded on the CPU (blazepose_sdk.geometry.heatmaps)."""
        shape = tuple(shapes[self.keypoint_heatmaps_output])
        if len(shape) != 4 or shape[0] != 1 or shape[3] not in KEYPOINT_COUNTS or not 1 < shape[2] < self.input_size:
            raise ModelSignatureError(
                f"landmark model {self.model.path.name} outputs {shapes} (roles {list(roles)}): keypoint heatmaps "
                f"must be (1, h, w, K) with K in {KEYPOINT_COUNTS} and w below the input side {self.input_size}"
            )
        self.landmarks_output = self.presence_output = self.heatmap_output = self.world_output = None
        self.segmentation_output = None
        self.num_rows = NUM_DECODED_ROWS

    def __call__(self, frame_rgb: np.ndarray, roi: Roi, *, bgr: bool = False) -> LandmarkerOutput:
        """The landmarks in ``roi`` of an RGB uint8 frame (``bgr``: in BGR order)."""
        t0 = time.perf_counter()
        tensor = crop_roi(frame_rgb, roi, self.input_size, self.value_range, border="replicate", bgr=bgr)
        t1 = time.perf_counter()
        outputs = self.model.run(tensor, **self._run_options)
        t2 = time.perf_counter()
        out = self._decode(outputs, roi)
        if self.stage_times is not None:
            clock = self.stage_times
            clock.add("landmark_warp", t1 - t0)
            clock.add("landmark_inference", t2 - t1)
            clock.add("landmark_decode", time.perf_counter() - t2)
        return out

    def _decode(self, outputs: list[np.ndarray | None], roi: Roi) -> LandmarkerOutput:
        if self.keypoint_heatmaps_output is not None:
            rows, presence = heatmap_landmark_rows(outputs[self.keypoint_heatmaps_output], self.input_size)
        else:
            presence = float(np.asarray(outputs[self.presence_output]).reshape(-1)[0])
            rows = decode_landmark_tensor(outputs[self.landmarks_output], self.input_size, self.num_rows)
        if self.refine:
            rows = refine_with_heatmap(rows, outputs[self.heatmap_output])
        projected = project_landmarks(rows, roi)
        if self.world_output is not None:
            world = np.asarray(outputs[self.world_output], dtype=np.float64).reshape(self.num_rows, 3)[:NUM_LANDMARKS]
            world = rotate_world_landmarks(world, roi.rotation_rad)
        else:
            world = np.full((NUM_LANDMARKS, 3), np.nan)
        return LandmarkerOutput(
            roi=roi,
            presence=presence,
            landmarks_px=projected[:NUM_LANDMARKS],
            aux_px=projected[[AUX_HIP_CENTER, AUX_BODY_CIRCLE], :2],
            world_m=world,
            mask_roi=mask_probability(outputs[self.segmentation_output]) if self.segmentation else None,
        )
