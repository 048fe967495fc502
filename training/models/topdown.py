"""Top-down wrapper: a heatmap model (Lite-HRNet, or any (B, h, w, K) heatmap network) turned
into a landmark model that ``blazepose_sdk.stages.landmarker.PoseLandmarker`` runs unchanged.

    crop (1, S, S, 3) RGB 0..1 -> heatmap model -> DARK decode (in the graph) ->
      landmarks (1, R*5): R rows of x, y, z (tensor px), visibility logit, presence logit
      presence  (1, 1):   pose-presence probability
      world     (1, R*3): zeros (these models have no 3-D head)

Rows: 0..32 the BlazePose landmarks (from a 33-keypoint model directly; from a COCO-17 model
the 17 shared points exactly, the others copied from the nearest COCO point, see
``COCO17_FILL``), 33 = hip centre, 34 = body-circle point (``aux_points``, the definition of
training/data/sample.py alignment_points()), 35..R-1 zeros. z = 0. Visibility and presence
logits = logit of the heatmap maximum (a heatmap trained by MSE on unit Gaussians peaks near 1
at a visible keypoint). No heatmap output is exported (the SDK would treat a 4-D output as
heatmap logits of R channels).

Pixel convention: heatmap cell (r, c) stands for tensor point (c, r) * stride (stride =
S / heatmap width), the SDK's (pixel index j at j).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from blazepose_sdk.geometry.topology import (
    BLAZEPOSE_TO_COCO17,
    COCO17_NAMES,
    LANDMARK_NAMES,
    NUM_LANDMARKS,
    NUM_MODEL_LANDMARKS,
)
from training.data.sample import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER
from training.models.heatmap_decode import DARK_KERNEL_SIZE, DARK_SIGMA, DarkDecode

# Clip of the heatmap maximum before the logit (keeps logits within +-9.2).
CONFIDENCE_EPS = 1e-4


def _coco17_fill() -> np.ndarray:
    """For each BlazePose landmark, the COCO-17 keypoint it is read from (ours: the same point
    where COCO has it, else the nearest COCO point on the body: eye for the eye corners, nose
    for the mouth, wrist for the hand points, ankle for heel and foot index)."""
    nearest = {"eye_inner": "eye", "eye_outer": "eye", "pinky": "wrist", "index": "wrist", "thumb": "wrist",
               "heel": "ankle", "foot_index": "ankle"}
    out = []
    for name in LANDMARK_NAMES:
        if name in COCO17_NAMES:
            out.append(COCO17_NAMES.index(name))
        elif name.startswith("mouth"):
            out.append(COCO17_NAMES.index("nose"))
        else:
            side, _, part = name.partition("_")
            out.append(COCO17_NAMES.index(f"{side}_{nearest[part]}"))
    return np.asarray(out, np.int64)


COCO17_FILL = _coco17_fill()
assert (COCO17_FILL[BLAZEPOSE_TO_COCO17] == np.arange(17)).all()


def aux_points(xy: np.ndarray) -> np.ndarray:
    """(33, 2) landmarks -> (2, 2) hip centre and body-circle point, as alignment_points() of
    training/data/sample.py with every landmark labelled: hip centre + r * u, u the unit vector
    hip centre -> shoulder centre, r the largest landmark distance from the hip centre."""
    xy = np.asarray(xy, np.float64)[:, :2]
    hip = 0.5 * (xy[LEFT_HIP] + xy[RIGHT_HIP])
    sho = 0.5 * (xy[LEFT_SHOULDER] + xy[RIGHT_SHOULDER])
    d = sho - hip
    n = np.linalg.norm(d)
    u = d / n if n > 1e-9 else np.array([0.0, -1.0])
    r = np.max(np.linalg.norm(xy - hip, axis=1))
    return np.stack([hip, hip + r * u])


@dataclass(frozen=True)
class TopDownConfig:
    """- input_size: S, the SDK's landmark crop side (256, as pose_landmark_*.tflite).
    - num_rows: R, rows of the landmark tensor (39, the official layout; >= 35).
    - dark_kernel_size / dark_sigma: DARK modulation (heatmap_decode); sigma should be the
      training heatmaps' sigma in cells."""

    input_size: int = 256
    num_rows: int = NUM_MODEL_LANDMARKS
    dark_kernel_size: int = DARK_KERNEL_SIZE
    dark_sigma: float = DARK_SIGMA


class TopDownDecode(layers.Layer):
    """(B, h, w, K) heatmaps -> (B, R*5) landmark rows, (B, 1) presence and (B, R*3) zero world
    landmarks; see the module docstring. One layer, so that to_tflite's INT8 mode can keep all
    of it in float by name."""

    def __init__(self, num_keypoints: int, num_rows: int, stride: float, kernel_size: int = DARK_KERNEL_SIZE,
                 sigma: float = DARK_SIGMA, offset_px: float = 0.0, **kw):
        kw.setdefault("dtype", "float32")
        super().__init__(**kw)
        self.num_keypoints, self.num_rows, self.stride = int(num_keypoints), int(num_rows), float(stride)
        self.kernel_size, self.sigma, self.offset_px = int(kernel_size), float(sigma), float(offset_px)
        self.dark = DarkDecode(kernel_size, sigma, name="dark_decode")

    def get_config(self):
        return {**super().get_config(), "num_keypoints": self.num_keypoints, "num_rows": self.num_rows,
                "stride": self.stride, "kernel_size": self.kernel_size, "sigma": self.sigma, "offset_px": self.offset_px}

    def build(self, input_shape):
        self.dark.build(input_shape)
        super().build(input_shape)

    def call(self, heatmaps):
        kp = self.dark(heatmaps)
        if self.num_keypoints == len(COCO17_NAMES):
            kp = ops.take(kp, COCO17_FILL, axis=1)
        elif self.num_keypoints != NUM_LANDMARKS:
            raise ValueError(f"need 33 or 17 keypoints, got {self.num_keypoints}")
        xy = kp[..., :2] * self.stride + self.offset_px  # cells -> tensor px
        conf = ops.clip(kp[..., 2], CONFIDENCE_EPS, 1.0 - CONFIDENCE_EPS)
        hip = 0.5 * (xy[:, LEFT_HIP] + xy[:, RIGHT_HIP])  # (B, 2)
        sho = 0.5 * (xy[:, LEFT_SHOULDER] + xy[:, RIGHT_SHOULDER])
        d = sho - hip
        n = ops.sqrt(ops.sum(d * d, axis=-1, keepdims=True))
        up = ops.convert_to_tensor(np.array([[0.0, -1.0]], np.float32))
        u = ops.where(n > 1e-6, d / ops.maximum(n, 1e-6), up)
        diff = xy - hip[:, None, :]
        r = ops.sqrt(ops.max(ops.sum(diff * diff, axis=-1), axis=1, keepdims=True))  # (B, 1)
        aux = ops.stack([hip, hip + r * u], axis=1)  # (B, 2, 2)
        logit = ops.log(conf / (1.0 - conf))  # (B, 33)
        zeros = ops.zeros_like(logit)[..., None]
        body = ops.concatenate([xy, zeros, logit[..., None], logit[..., None]], axis=-1)  # (B, 33, 5)
        aux_logit = ops.min(logit, axis=1, keepdims=True)[..., None] * ops.ones_like(aux[..., :1])
        aux_rows = ops.concatenate([aux, ops.zeros_like(aux[..., :1]), aux_logit, aux_logit], axis=-1)
        parts = [body, aux_rows]
        extra = self.num_rows - NUM_LANDMARKS - 2
        if extra > 0:
            parts.append(ops.zeros_like(body[:, :extra]))
        out = ops.concatenate(parts, axis=1)
        presence = ops.mean(conf, axis=1, keepdims=True)
        flat = ops.reshape(out, (-1, self.num_rows * 5))
        return flat, presence, flat[:, : self.num_rows * 3] * 0.0

    def compute_output_shape(self, input_shape):
        b = input_shape[0]
        return (b, self.num_rows * 5), (b, 1), (b, self.num_rows * 3)


def build_topdown_model(heatmap_model: keras.Model, cfg: TopDownConfig = TopDownConfig()) -> keras.Model:
    """The SDK landmark model around ``heatmap_model`` (input (B, s, s, 3) in 0..1 with s = S or
    S / n, the S-pixel crop then area-downscaled in the graph; output (B, h, w, K) heatmaps,
    K = 33 or 17). Outputs [landmarks (B, R*5), presence (B, 1),
    world (B, R*3) zeros]; shares weights with ``heatmap_model``."""
    s = cfg.input_size
    if cfg.num_rows < NUM_LANDMARKS + 2:
        raise ValueError(f"num_rows must be >= {NUM_LANDMARKS + 2}")
    hs, ws, c = heatmap_model.inputs[0].shape[1:]
    if hs != ws or c != 3 or s % hs:
        raise ValueError(f"heatmap model takes {heatmap_model.inputs[0].shape[1:]}: need (s, s, 3) with {s} % s == 0")
    inp = keras.Input((s, s, 3), name="image")
    x = inp if hs == s else layers.AveragePooling2D(s // hs, name="downscale")(inp)  # e.g. 256 -> 128 crops
    hm = heatmap_model(x)
    k = int(hm.shape[-1])
    stride = s / float(hm.shape[2])
    # Index coordinates: pixel j of an n-times smaller crop is centred on pixel n j + (n - 1) / 2.
    offset = (s // hs - 1) / 2.0
    head = TopDownDecode(k, cfg.num_rows, stride, cfg.dark_kernel_size, cfg.dark_sigma, offset,
                         name="topdown_decode")
    landmarks, presence, world = head(hm)
    return keras.Model(inp, [landmarks, presence, world], name=f"{heatmap_model.name}_topdown")


# Layer names of the decode tail (kept in float by to_tflite's INT8 mode).
DECODE_LAYERS = ("topdown_decode", "dark_decode")


def _tail_tensor_names(tflite_bytes: bytes) -> list[str]:
    """Names of the tensors of a converted top-down model that belong to the decode tail."""
    import re

    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=tflite_bytes)
    pattern = re.compile(r"(^|/)(" + "|".join(DECODE_LAYERS) + r")(_\d+)?/")
    outputs = {d["name"] for d in interp.get_output_details()}
    return sorted({d["name"] for d in interp.get_tensor_details()
                   if pattern.search(d["name"]) or d["name"] in outputs})


def to_tflite(model: keras.Model, path: str | Path, quantize: str = "float",
              representative: Callable[[], Iterable[np.ndarray]] | None = None) -> Path:
    """Convert the top-down model to one TFLite file with float32 input/outputs.

    quantize: "float"; or "int8": full-integer weights and activations of the network,
    calibrated on ``representative`` (yields (1, S, S, 3) crops in 0..1), with the decode tail
    (layers ``DECODE_LAYERS``: arg-max, log-heatmap derivatives, divisions) kept in float, as
    DARK needs better than INT8 steps and the divisions must not see a quantized zero.
    """
    if quantize not in ("float", "int8"):
        raise ValueError(f"unknown quantize mode {quantize!r}")
    path = Path(path)
    if quantize == "float":
        return export_tflite(model, float_path=path)[0]
    return export_tflite(model, int8_path=path, representative=representative)[1]


def export_tflite(model: keras.Model, float_path: str | Path | None = None, int8_path: str | Path | None = None,
                  representative: Callable[[], Iterable[np.ndarray]] | None = None) -> tuple[Path | None, Path | None]:
    """Float and/or INT8 TFLite (see :func:`to_tflite`) from one SavedModel export."""
    import tempfile

    import tensorflow as tf

    if int8_path is not None and representative is None:
        raise ValueError("int8 needs a representative dataset")
    with tempfile.TemporaryDirectory() as saved:
        spec = [tf.TensorSpec((1, *model.inputs[0].shape[1:]), tf.float32)]
        model.export(saved, format="tf_saved_model", verbose=False, input_signature=spec)
        float_data = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
        int8_data = None
        if int8_path is not None:
            conv = tf.lite.TFLiteConverter.from_saved_model(saved)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: ([np.asarray(x, np.float32)] for x in representative())
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
            conv.inference_input_type = tf.float32
            conv.inference_output_type = tf.float32
            options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=_tail_tensor_names(float_data))
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=conv, debug_dataset=conv.representative_dataset, debug_options=options)
            int8_data = debugger.get_nondebug_quantized_model()
    out = []
    for p, data in ((float_path, float_data), (int8_path, int8_data)):
        if p is not None:
            p = Path(p)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        out.append(p)
    return out[0], out[1]
