"""Fast Pose Distillation (FPD): train a small pose student from a large frozen teacher.

    python -m training.distill --student lite_hrnet_18 --teacher lite_hrnet_wide:RUN/teacher.weights.h5 \
        --data '/data/synth/*.tfrecord' --val-data '/data/val/*.tfrecord' --run-dir RUN/distilled \
        [--unlabelled-data FILES --labelled-fraction 0.5] \
        [--alpha 0.5] [--steps N --batch-size B --lr LR] [--strategy auto|default|mirrored|multiworker|tpu] \
        [--input-size 256] [--export]

    --teacher none                      student (or teacher) trained alone on ground truth
    --teacher VARIANT:WEIGHTS.weights.h5 a Lite-HRNet heatmap teacher (training.models.lite_hrnet)
    --teacher reference-full | reference-heavy | X.tflite
                                        a black-box landmark model (an official BlazePose model or
                                        any SDK landmark model), run on each crop in the input pipeline
    --student imported:MODEL.keras      a landmark model imported from an official .tflite
                                        (python -m training.import_tflite), fine-tuned from its
                                        weights; exported in the official output layout
    --unlabelled-data FILES             records whose labels are never read: their crops take only
                                        the teacher term; each batch is --labelled-fraction --data
                                        crops and the rest from these

Loss (Zhang et al., "Fast Human Pose Estimation", CVPR 2019, eq. 3):

    L = alpha * MSE(student heatmaps, teacher heatmaps) + (1 - alpha) * MSE(student heatmaps, GT)

with the MSE of the reference heatmap trainers (0.5 x mean squared error per joint map, joints
weighted by their labels). Samples without ground truth (``presence`` 0 or no labelled
landmark, e.g. the ``--unlabelled-data`` crops, whose labels :func:`strip_labels` removes in the
pipeline) take only the teacher term. Heatmap students: Lite-HRNet
variants; a black-box teacher gives coordinates, rendered as Gaussians of ``HEATMAP_SIGMA``.
Regression students (``blazepose_lite``, training.models.landmark): the coordinate-space variant,
the same mix of L1 distances in tensor pixels to the teacher's and to the labelled coordinates
(:func:`fpd_coordinate_loss`); heatmap teachers give coordinates by soft-argmax.

Imported students (``imported:``) also learn a black-box teacher's scores: binary cross-entropy
of their 33 visibility logits to the teacher's visibility and of their pose presence to the
teacher's presence, weighted by ``SCORE_KD_WEIGHT`` (the pose-presence gate must stay calibrated
after fine-tuning; the benchmark's presence check judges it).

The input pipeline is training.data.pipeline.make_landmark_dataset (the shared sample format);
the loop, strategies, checkpoints and logs are training.models.runner's. The teacher is built
under the same strategy scope, so it runs on the replicas' devices (the GPU when present), frozen
(inference mode, no gradients). ``RUN_DIR/eval.json`` holds the held-out metrics of
:func:`evaluate`; ``--export`` writes the SDK landmark model (training.models.topdown) as float
and INT8 TFLite with their manifest.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

NUM_LANDMARKS = 33
# Gaussian sigma of the heatmap targets in heatmap cells: TopDownGenerateTarget(sigma=2) of the
# reference Lite-HRNet COCO configs (64x48 heatmaps).
HEATMAP_SIGMA = 2.0
# FPD's balance of the distillation and ground-truth terms (the paper uses 0.5).
FPD_ALPHA = 0.5
# PCK threshold as a fraction of the crop side (ours; 0.05 x 256 = 12.8 tensor px).
PCK_FRACTION = 0.05
HEATMAP_STUDENTS = ("lite_hrnet_18", "lite_hrnet_30", "lite_hrnet_tiny", "lite_hrnet_wide")
REGRESSION_STUDENTS = ("blazepose_lite",)
# --student imported:PATH.keras: a landmark model made by training.import_tflite.
IMPORTED_PREFIX = "imported:"
# Weight of the teacher's visibility and presence terms (BCE, nats) next to the coordinate L1
# (tensor px) for imported students. Ours: a few px of L1 error and ~0.1-0.5 nats of BCE are then
# of the same order.
SCORE_KD_WEIGHT = 2.0
# Weight of the heatmap term for imported students (sum of squared sigmoid differences over a
# 64 x 64 map is O(1) for a peak a few cells off). Ours.
HEATMAP_KD_WEIGHT = 1.0
TEACHER_CONFIDENCE_MODES = ("weight", "scale")  # DistillConfig.teacher_confidence


# --- losses (TensorFlow) -----------------------------------------------------------------


def gaussian_targets(landmarks_px, mask, height: int, width: int, stride: float, sigma: float = HEATMAP_SIGMA):
    """(B, K, 2+) tensor-pixel points and (B, K) weights -> (B, height, width, K) Gaussians
    (peak 1) and (B, K) joint weights (mask x inside the heatmap). Cell (r, c) = point (c, r) * stride."""
    import tensorflow as tf

    pts = tf.cast(landmarks_px, tf.float32)[..., :2] / float(stride)
    gx = tf.range(width, dtype=tf.float32)[None, None, :, None] - pts[:, None, None, :, 0]
    gy = tf.range(height, dtype=tf.float32)[None, :, None, None] - pts[:, None, None, :, 1]
    target = tf.exp(-(gx * gx + gy * gy) / (2.0 * sigma * sigma))
    inside = tf.cast((pts[..., 0] >= -0.5) & (pts[..., 0] <= width - 0.5)
                     & (pts[..., 1] >= -0.5) & (pts[..., 1] <= height - 0.5), tf.float32)
    return target, tf.cast(mask, tf.float32) * inside


def joints_mse(pred, target, weight, fg_weight: float = 0.0):
    """Per-sample heatmap MSE (B,): mean over joints of weight * 0.5 * mean((pred - target)^2)
    over the map (JointsMSELoss with target weights, as FPD and the reference trainers).

    ``fg_weight`` > 0 weights each cell by ``1 + fg_weight * target``: the few cells under a
    Gaussian count as much as the thousands of empty ones around it. With 0 (the reference
    loss) an all-zero map already scores 0.5 * mean(target^2), about 8e-4 for sigma 2 on 64x64,
    and a student trained from scratch can sit there for thousands of steps (docs/students_from_official.md)."""
    import tensorflow as tf

    target = tf.cast(target, tf.float32)
    sq = tf.square(tf.cast(pred, tf.float32) - target)
    if fg_weight:
        sq = sq * (1.0 + float(fg_weight) * target)
    se = tf.reduce_mean(sq, axis=[1, 2])  # (B, K)
    return 0.5 * tf.reduce_mean(se * tf.cast(weight, tf.float32), axis=-1)


def _mix(kd, gt, has_gt, alpha: float):
    """alpha * kd + (1 - alpha) * gt per sample (alpha = 1 where there is no ground truth)."""
    import tensorflow as tf

    a = tf.where(tf.cast(has_gt, tf.float32) > 0.5, float(alpha), 1.0)
    return tf.reduce_mean(a * kd + (1.0 - a) * gt)


def fpd_heatmap_loss(student, teacher, gt, gt_weight, has_gt, alpha: float = FPD_ALPHA,
                     teacher_weight=None, fg_weight: float = 0.0) -> dict:
    """FPD loss of heatmap students (module docstring). ``student``, ``teacher``, ``gt``:
    (B, h, w, K); ``gt_weight`` (B, K); ``has_gt`` (B,); ``teacher_weight`` (B, K) joint weights
    of the teacher term (None: all 1); ``fg_weight``: as :func:`joints_mse`. Returns total, kd
    and gt (batch means)."""
    import tensorflow as tf

    tw = tf.ones_like(gt_weight) if teacher_weight is None else tf.stop_gradient(teacher_weight)
    kd = joints_mse(student, tf.stop_gradient(teacher), tw, fg_weight)
    gtl = joints_mse(student, gt, gt_weight, fg_weight)
    return {"total": _mix(kd, gtl, has_gt, alpha), "kd": tf.reduce_mean(kd), "gt": tf.reduce_mean(gtl)}


def fpd_coordinate_loss(student_xy, teacher_xy, teacher_weight, gt_xy, gt_mask, has_gt,
                        alpha: float = FPD_ALPHA) -> dict:
    """Coordinate-space FPD for regression students: masked mean L1 distance (tensor px) to
    the teacher's points (weighted by ``teacher_weight`` (B, K), e.g. its confidence) and to the
    labelled points (``gt_mask``), mixed as the heatmap loss. Points (B, K, 2+)."""
    import tensorflow as tf

    def l1(a, b, w):
        d = tf.reduce_sum(tf.abs(tf.cast(a, tf.float32)[..., :2] - tf.cast(b, tf.float32)[..., :2]), -1)
        w = tf.cast(w, tf.float32)
        return tf.reduce_sum(d * w, -1) / tf.maximum(tf.reduce_sum(w, -1), 1.0)

    kd = l1(student_xy, tf.stop_gradient(teacher_xy), teacher_weight)
    gtl = l1(student_xy, gt_xy, gt_mask)
    return {"total": _mix(kd, gtl, has_gt, alpha), "kd": tf.reduce_mean(kd), "gt": tf.reduce_mean(gtl)}


def score_kd_loss(visibility_logit, presence, teacher_visibility, teacher_presence):
    """Per-sample BCE (B,) of a student's 33 visibility logits and pose presence (a probability)
    to a teacher's visibility and presence probabilities (soft targets)."""
    import tensorflow as tf

    vis = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.stop_gradient(tf.cast(teacher_visibility, tf.float32)),
        logits=tf.cast(visibility_logit, tf.float32)[:, :NUM_LANDMARKS])
    p = tf.clip_by_value(tf.reshape(tf.cast(presence, tf.float32), [-1]), 1e-6, 1.0 - 1e-6)
    t = tf.stop_gradient(tf.reshape(tf.cast(teacher_presence, tf.float32), [-1]))
    pres = -(t * tf.math.log(p) + (1.0 - t) * tf.math.log(1.0 - p))
    return tf.reduce_mean(vis, -1) + pres


def aux_kd_loss(student_aux, teacher_aux, teacher_presence):
    """Mean L1 (crop px, |dx| + |dy| per point, mean of the 2 points) of the student's rows 33-34
    to the teacher's, each crop weighted by the teacher's presence (person-free crops add ~0)."""
    import tensorflow as tf

    d = tf.reduce_mean(tf.reduce_sum(tf.abs(tf.cast(student_aux, tf.float32)[..., :2]
                                            - tf.stop_gradient(tf.cast(teacher_aux, tf.float32))), -1), -1)
    w = tf.reshape(tf.cast(teacher_presence, tf.float32), [-1])
    return tf.reduce_sum(d * w) / tf.maximum(tf.reduce_sum(w), 1.0)


def heatmap_kd_loss(student_logits, teacher_logits):
    """Mean squared difference of the student's and the teacher's 33 heatmaps after the sigmoid
    (the SDK refines landmark positions with them), summed over each map and averaged over joints
    and samples; 0 when the teacher gives no heatmap or its size differs."""
    import tensorflow as tf

    s = tf.sigmoid(tf.cast(student_logits, tf.float32)[..., :NUM_LANDMARKS])
    t = tf.sigmoid(tf.stop_gradient(tf.cast(teacher_logits, tf.float32)))
    if t.shape[1] is not None and (t.shape[1] == 0 or t.shape[1:3] != s.shape[1:3]):
        return tf.constant(0.0)
    return tf.reduce_mean(tf.reduce_sum(tf.square(s - t), axis=[1, 2]))


# --- models -------------------------------------------------------------------------------


def is_imported(name: str) -> bool:
    return name.startswith(IMPORTED_PREFIX)


def student_kind_of(name: str) -> str:
    """``"heatmap"`` for a Lite-HRNet student, ``"regression"`` for the others (BlazePose landmark
    students, imported official models): which loss, evaluation and export path it takes."""
    return "heatmap" if name in HEATMAP_STUDENTS else "regression"


def build_imported_student(path: str):
    """The landmark model in ``path`` (a .keras file from training.import_tflite) as a student:
    outputs ``landmarks`` (B, R, 3) x, y, z in tensor pixels, ``visibility_logit`` (B, R),
    ``presence`` (B, 1), ``heatmap`` (B, h, w, R) logits when it has one, and ``raw_0..raw_N`` (the original outputs, in order, for export)."""
    import keras
    from keras import layers

    from blazepose_sdk.assets.manifest import output_roles

    base = keras.models.load_model(path, compile=False)
    size = int(base.inputs[0].shape[1])
    roles = output_roles("landmark", [tuple(int(d or 1) for d in o.shape) for o in base.outputs], size)
    if "landmarks" not in roles or "presence" not in roles:
        raise ValueError(f"{path}: not a landmark model (output roles {roles})")
    landmarks = base.outputs[roles.index("landmarks")]
    rows = int(landmarks.shape[-1]) // 5
    table = layers.Reshape((rows, 5), name="landmark_rows")(landmarks)
    outputs = {"landmarks": layers.Lambda(lambda t: t[..., :3], name="landmarks_xyz")(table),
               "visibility_logit": layers.Lambda(lambda t: t[..., 3], name="visibility_logit")(table),
               "presence": base.outputs[roles.index("presence")]}
    if "heatmap" in roles:
        outputs["heatmap"] = base.outputs[roles.index("heatmap")]
    outputs.update({f"raw_{i}": o for i, o in enumerate(base.outputs)})
    return keras.Model(base.inputs, outputs, name=f"{base.name}_student")


def imported_export_model(student):
    """The imported student with its original outputs, in the original order (for TFLite)."""
    import keras

    raw = sorted((k for k in student.output if k.startswith("raw_")), key=lambda k: int(k[4:]))
    return keras.Model(student.inputs, [student.output[k] for k in raw], name=student.name.replace("_student", ""))



TRAIN_ONLY_CHOICES = ("all", "presence-head")


def _ancestor_layers(model, tensor) -> set[str]:
    """Names of the layers ``tensor`` depends on in a functional Keras model."""
    seen, stack = set(), [tensor._keras_history.operation]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        for node in op._inbound_nodes:
            stack += [t._keras_history.operation for t in node.input_tensors]
    return seen


def presence_head_layers(model) -> list[str]:
    """The layers of an imported student that feed its ``presence`` output and no other output
    (for the official Lite: the 2x2 conv and sigmoid on the shared features)."""
    pres = model.output["presence"]
    others = set()
    for key, t in model.output.items():
        if key != "presence" and tuple(t.shape[1:]) != tuple(pres.shape[1:]):
            others |= _ancestor_layers(model, t)
    return [layer.name for layer in model.layers
            if layer.name in _ancestor_layers(model, pres) and layer.name not in others]


def freeze_all_but(model, names) -> None:
    """Make every layer of ``model`` not trainable except those named."""
    keep = set(names)
    for layer in model.layers:
        layer.trainable = layer.name in keep


def build_student(name: str, input_size: int, num_keypoints: int = NUM_LANDMARKS):
    """A heatmap student (Lite-HRNet variant), a regression student (BlazePose landmark), or an
    imported official landmark model (``imported:PATH.keras``; its input size is its own)."""
    if is_imported(name):
        return build_imported_student(name[len(IMPORTED_PREFIX):])
    if name in HEATMAP_STUDENTS:
        from training.models.lite_hrnet import build_lite_hrnet, variant

        return build_lite_hrnet(variant(name, input_height=input_size, input_width=input_size,
                                        num_keypoints=num_keypoints))
    if name in REGRESSION_STUDENTS:
        from training.config import LITE_WIDTH, LandmarkModelConfig
        from training.models.landmark import build_landmark_model

        return build_landmark_model(LandmarkModelConfig(input_size=input_size, width=LITE_WIDTH))
    raise ValueError(f"unknown student {name!r}; one of {HEATMAP_STUDENTS + REGRESSION_STUDENTS}")


def parse_teacher(spec: str) -> tuple[str, str | None]:
    """``none`` -> ("none", None); ``VARIANT:WEIGHTS`` -> ("keras", spec); a .tflite path or
    reference pipeline name -> ("tflite", path)."""
    if spec in ("", "none"):
        return "none", None
    if spec.endswith(".tflite") or spec.startswith("reference-"):
        if spec.startswith("reference-"):
            from blazepose_sdk.assets.models import resolve_pipeline

            return "tflite", str(resolve_pipeline(spec).landmark.path)
        return "tflite", spec
    if ":" in spec:
        return "keras", spec
    raise ValueError(f"teacher {spec!r}: use none, VARIANT:WEIGHTS.weights.h5, a .tflite file or a reference-* pipeline")


def load_keras_teacher(spec: str, input_size: int):
    """``VARIANT:WEIGHTS`` -> a frozen Lite-HRNet heatmap model with those weights."""
    variant_name, _, weights = spec.partition(":")
    model = build_student(variant_name, input_size)
    model.load_weights(weights)
    model.trainable = False
    return model


def rescale_index_px(x, ratio: float):
    """Pixel coordinates in index convention (pixel j at j, spanning j - 0.5 .. j + 0.5) of an
    image resized by ``ratio``: (x + 0.5) * ratio - 0.5. numpy arrays or tensors."""
    return (x + 0.5) * ratio - 0.5


def teacher_to_crop_px(xy_teacher, teacher_size: int, crop_size: int):
    """Teacher-input pixels -> crop pixels when the S-pixel crop was resized to the teacher's T
    pixels (index coordinates, pixel j at j, as the pipeline and the SDK): a pixel j of the crop
    spans j - 0.5 .. j + 0.5, so x_crop = (x_teacher + 0.5) * S / T - 0.5."""
    return rescale_index_px(np.asarray(xy_teacher, np.float32), crop_size / float(teacher_size))


def tflite_teacher_fn(path: str, with_scores: bool = False, with_aux: bool = False):
    """A numpy function (B, S, S, 3) crops in 0..1 -> ((B, 33, 2) crop px, (B, 33) visibility
    x presence) from a black-box landmark model (the SDK's decoding of its output rows); crops
    of another size are resized to the model's input (:func:`teacher_to_crop_px`). With
    ``with_scores`` it also returns (B, 33) visibility, (B,) pose presence and the (B, h, w, 33)
    heatmap logits (h = w = 0 when the model has none), and with ``with_aux`` as well (B, 2, 2)
    crop px of its rows 33 and 34 (the hip centre and body-circle point the tracker makes the next
    ROI from; zeros when the model has fewer rows). Thread-safe:
    tf.data runs stateless numpy functions on parallel threads (its map_parallelization), and one
    TFLite interpreter refuses concurrent calls, so calls take turns."""
    import threading

    from blazepose_sdk.stages.landmarker import decode_landmark_tensor
    from blazepose_sdk.assets.manifest import LANDMARK_ROLES, output_roles, role_indices
    from blazepose_sdk.stages.runtime import TFLiteModel

    model = TFLiteModel(path)
    size = int(model.inputs[0].shape[1])
    # the outputs by the SDK's own shape rules (as PoseLandmarker finds them without a manifest)
    index = role_indices(output_roles("landmark", [s.shape for s in model.outputs], size), LANDMARK_ROLES)
    lm_index, presence_index, heatmap_index = index["landmarks"], index["presence"], index.get("heatmap")
    rows = int(np.prod(model.outputs[lm_index].shape)) // 5
    lock = threading.Lock()

    def run(crops: np.ndarray):
        xy = np.zeros((len(crops), NUM_LANDMARKS, 2), np.float32)
        conf = np.zeros((len(crops), NUM_LANDMARKS), np.float32)
        vis = np.zeros((len(crops), NUM_LANDMARKS), np.float32)
        presence = np.zeros(len(crops), np.float32)
        aux = np.zeros((len(crops), 2, 2), np.float32)
        heatmaps = []
        for i, crop in enumerate(crops):
            if crop.shape[0] != size:
                import cv2

                crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
            with lock:
                out = model.run(crop[None].astype(np.float32))
            full = decode_landmark_tensor(out[lm_index], size, rows)
            dec = full[:NUM_LANDMARKS]
            xy[i] = teacher_to_crop_px(dec[:, :2] * size, size, crops.shape[1])
            if rows >= NUM_LANDMARKS + 2:
                aux[i] = teacher_to_crop_px(full[NUM_LANDMARKS:NUM_LANDMARKS + 2, :2] * size, size, crops.shape[1])
            conf[i] = dec[:, 3] * dec[:, 4]
            vis[i] = dec[:, 3]
            presence[i] = float(np.asarray(out[presence_index]).reshape(-1)[0])
            if with_scores and heatmap_index is not None:
                heatmaps.append(np.asarray(out[heatmap_index], np.float32)[0, ..., :NUM_LANDMARKS])
        if not with_scores:
            return xy, conf
        hm = np.stack(heatmaps) if heatmaps else np.zeros((len(crops), 0, 0, NUM_LANDMARKS), np.float32)
        return (xy, conf, vis, presence, hm, aux) if with_aux else (xy, conf, vis, presence, hm)

    run.input_size = size
    return run


def downscale_crops(image, targets: dict, size: int):
    """Crops of side S (and their pixel-unit targets) -> side ``size``, area-averaged as the
    exported top-down wrapper downscales the SDK's 256 crop for a smaller student. Points move
    by :func:`rescale_index_px`; z scales with x and y."""
    import tensorflow as tf

    crop = int(image.shape[1])
    if crop == size:
        return image, targets
    r = size / float(crop)
    out = dict(targets)
    if "landmarks" in out:
        lm = tf.cast(out["landmarks"], tf.float32)
        out["landmarks"] = tf.concat([rescale_index_px(lm[..., :2], r), lm[..., 2:] * r], -1)
    for key in ("aux", "teacher_xy", "teacher_aux"):
        if key in out:
            out[key] = rescale_index_px(tf.cast(out[key], tf.float32), r)
    return tf.image.resize(image, (size, size), method="area"), out


# --- training -----------------------------------------------------------------------------


@dataclass
class DistillConfig:
    """One distillation (or plain supervised) run. Sizes in tensor pixels."""

    student: str = "lite_hrnet_18"
    teacher: str = "none"
    alpha: float = FPD_ALPHA
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    unlabelled_data: list[str] = field(default_factory=list)  # labels ignored: teacher term only
    labelled_fraction: float = 0.5  # of each batch from ``data`` when ``unlabelled_data`` is given
    input_size: int = 256
    # Side of the crops cut from the records before the area-downscale to input_size (None: the
    # black-box teacher's input size, else input_size). Give runs that are compared the same.
    crop_size: int | None = None
    batch_size: int = 32
    steps: int = 10000
    learning_rate: float = 2e-3  # Adam 2e-3: the reference Lite-HRNet COCO schedule
    warmup: int = 500
    seed: int = 0
    sigma: float = HEATMAP_SIGMA
    # A black-box teacher's confidence (visibility x presence) in the heatmap loss: "weight" =
    # unit-peak Gaussians at its points, the confidence as each joint's weight (as the coordinate
    # variant); "scale" = Gaussians of peak = confidence, every joint weight 1.
    teacher_confidence: str = "weight"
    # Heatmap students: weight of the cells under the Gaussians in the MSE (joints_mse; 0: the
    # reference JointsMSELoss).
    heatmap_fg_weight: float = 0.0
    checkpoint_every: int = 0  # steps between checkpoints (0: only at the end); runs resume from the latest
    # Share of training crops taken off the person (AugmentOptions.negative_prob): with a teacher
    # they carry its (low) presence, so a student's presence learns to reject background.
    negative_prob: float = 0.0
    # Person-free photos (training.data.negatives records) and their share of the labelled crops:
    # every crop of them is a negative whose presence, visibility and coordinate targets are 0
    # (not the teacher's: the teacher may see a person in clutter too).
    negative_data: list[str] = field(default_factory=list)
    negative_data_prob: float = 0.0
    # TFLite files written by --export (to_tflite modes: float, float16, int8).
    export_precisions: tuple[str, ...] = ("float", "int8")
    # What the optimizer moves: "all" layers, or only the "presence-head" (the layers of an
    # imported student that feed its pose presence and no other output; the rest stays frozen).
    train_only: str = "all"
    # Weight of an L1 term (crop px) pulling the student's rows 33-34 (hip centre, body-circle
    # point: the next frame's ROI in tracking mode) to the teacher's on person crops, weighted by the
    # teacher's presence. 0: those rows get no loss (they drift as the shared layers move).
    aux_kd_weight: float = 0.0
    # Student weights to start from (another run's student.weights.h5, same --student).
    init_weights: str | None = None
    # Quantization-aware fine-tuning: train the student through int8 fake quantization
    # (training.qat.fake_quant_model); the float student is what gets saved and exported.
    fake_quant: bool = False


def _has_gt(targets):
    import tensorflow as tf

    labelled = tf.reduce_sum(tf.cast(targets["landmark_mask"], tf.float32), -1) > 0
    return tf.cast(labelled & (tf.cast(targets["presence"], tf.float32) > 0.5), tf.float32)


def make_loss_fn(cfg: DistillConfig, student_kind: str, teacher=None, teacher_kind: str = "none"):
    """loss_fn(outputs, targets) for training.models.runner.train. ``targets`` carries the crop
    under "image" (for a Keras teacher) or the teacher's points under "teacher_xy" /
    "teacher_conf" (black-box teacher)."""
    import tensorflow as tf

    from training.models.heatmap_decode import soft_argmax_xy

    alpha = cfg.alpha if teacher_kind != "none" else 0.0

    def loss_fn(outputs, targets):
        gt_xy = targets["landmarks"]
        has_gt = _has_gt(targets)
        if student_kind == "heatmap":
            hm = tf.cast(outputs, tf.float32)
            h, w = hm.shape[1], hm.shape[2]
            stride = cfg.input_size / float(w)
            gt, gt_w = gaussian_targets(gt_xy, targets["landmark_mask"], h, w, stride, cfg.sigma)
            if teacher_kind == "keras":
                t = tf.stop_gradient(tf.cast(teacher(targets["image"], training=False), tf.float32))
            elif teacher_kind == "tflite":
                t, t_w = gaussian_targets(targets["teacher_xy"], targets["teacher_conf"], h, w, stride, cfg.sigma)
                if cfg.teacher_confidence == "scale":
                    t, t_w = t * tf.cast(targets["teacher_conf"], tf.float32)[:, None, None, :], None
                return fpd_heatmap_loss(hm, t, gt, gt_w, has_gt, alpha, t_w, cfg.heatmap_fg_weight)
            else:  # trained alone: the ground-truth term only
                gtl = tf.reduce_mean(joints_mse(hm, gt, gt_w, cfg.heatmap_fg_weight))
                return {"total": gtl, "gt": gtl}
            return fpd_heatmap_loss(hm, t, gt, gt_w, has_gt, alpha, fg_weight=cfg.heatmap_fg_weight)
        lm = tf.cast(outputs["landmarks"], tf.float32)[:, :NUM_LANDMARKS]
        if teacher_kind == "keras":
            thm = tf.cast(teacher(targets["image"], training=False), tf.float32)
            t_xy = soft_argmax_xy(thm, beta=50.0) * (cfg.input_size / float(thm.shape[2]))
            t_w = tf.clip_by_value(tf.reduce_max(thm, axis=[1, 2]), 0.0, 1.0)
        elif teacher_kind == "tflite":
            t_xy, t_w = targets["teacher_xy"], targets["teacher_conf"]
        else:
            t_xy, t_w = tf.zeros_like(lm[..., :2]), tf.zeros_like(lm[..., 0])
        losses = fpd_coordinate_loss(lm, t_xy, t_w, gt_xy, targets["landmark_mask"], has_gt, alpha)
        if "teacher_vis" in targets and "visibility_logit" in outputs:
            scores = score_kd_loss(outputs["visibility_logit"], outputs["presence"], targets["teacher_vis"],
                                   targets["teacher_presence"])
            losses["scores"] = tf.reduce_mean(scores)
            losses["total"] = losses["total"] + SCORE_KD_WEIGHT * tf.reduce_mean(scores)
        if "teacher_aux" in targets and cfg.aux_kd_weight > 0:
            aux = aux_kd_loss(tf.cast(outputs["landmarks"], tf.float32)[:, NUM_LANDMARKS:NUM_LANDMARKS + 2],
                              targets["teacher_aux"], targets["teacher_presence"])
            losses["aux"] = aux
            losses["total"] = losses["total"] + cfg.aux_kd_weight * aux
        if "teacher_heatmap" in targets and "heatmap" in outputs:
            hm_loss = heatmap_kd_loss(outputs["heatmap"], targets["teacher_heatmap"])
            losses["heatmap"] = hm_loss
            losses["total"] = losses["total"] + HEATMAP_KD_WEIGHT * hm_loss
        return losses

    return loss_fn


def strip_labels(targets: dict) -> dict:
    """The pipeline's targets with every label zeroed (landmarks, masks, world, aux, presence):
    what an unlabelled frame has. Its crop then takes only the teacher term (``_has_gt`` 0)."""
    import tensorflow as tf

    return {k: tf.zeros_like(v) for k, v in targets.items()}


def split_batch(batch_size: int, labelled_fraction: float) -> tuple[int, int]:
    """(labelled, unlabelled) crops per batch: round(fraction x batch), at least 1 of each."""
    if batch_size < 2:
        raise ValueError("mixing labelled and unlabelled data needs a batch of at least 2")
    n = int(round(batch_size * labelled_fraction))
    n = min(max(n, 1), batch_size - 1)
    return n, batch_size - n


# Seed offset of the unlabelled stream, so it shuffles and augments independently of the labelled one.
UNLABELLED_SEED_OFFSET = 1000
# Seed offset of the person-free photo stream (--negative-data).
NEGATIVE_SEED_OFFSET = 2000
EXPORT_PRECISIONS = ("float", "float16", "int8")


def with_negative_data(people, negatives, share: float, batch_size: int, seed: int):
    """Batches of ``batch_size`` drawn from two unbatched streams of (image, targets): each crop
    from ``negatives`` with probability ``share`` (seeded), else from ``people``; targets gain
    ``hard_negative`` (1 = a person-free photo's crop)."""
    import tensorflow as tf

    def mark(value):
        def fn(image, targets):
            return image, {**targets, "hard_negative": tf.constant(value, tf.float32)}
        return fn

    mixed = tf.data.Dataset.sample_from_datasets([people.map(mark(0.0)), negatives.map(mark(1.0))],
                                                 weights=[1.0 - share, share], seed=seed)
    return mixed.batch(batch_size, drop_remainder=True)


def suppress_hard_negatives(targets: dict, vis, presence, conf):
    """The teacher's visibility (B, 33), presence (B,) and coordinate confidence (B, 33) with the
    crops marked ``hard_negative`` set to 0: no person there, whatever the teacher says."""
    if "hard_negative" not in targets:
        return vis, presence, conf
    keep = 1.0 - targets["hard_negative"]
    return vis * keep[:, None], presence * keep, conf * keep[:, None]


def make_dataset_fn(cfg: DistillConfig, per_replica_batch: int, teacher_kind: str, teacher_path: str | None,
                    training: bool = True):
    """make_dataset(input_context) for the runner: the shared landmark pipeline, the crop copied
    into targets["image"], and for a black-box teacher its points computed per batch. With
    ``cfg.unlabelled_data`` each batch is :func:`split_batch` crops of ``cfg.data`` followed by
    crops of the unlabelled records with :func:`strip_labels` applied."""
    import tensorflow as tf

    from training.data.pipeline import make_landmark_dataset

    with_scores = is_imported(cfg.student)
    with_aux = with_scores and cfg.aux_kd_weight > 0
    run_teacher = tflite_teacher_fn(teacher_path, with_scores, with_aux) if teacher_kind == "tflite" else None
    if cfg.unlabelled_data and teacher_kind == "none":
        raise ValueError("--unlabelled-data needs a teacher (unlabelled crops take only the teacher term)")
    # A black-box teacher sees the crop at its own input size (a 256 BlazePose model given an
    # upscaled 128 crop is a blurred, weaker teacher); the student gets it downscaled.
    crop = cfg.crop_size or (max(cfg.input_size, run_teacher.input_size) if run_teacher is not None else cfg.input_size)
    if crop < cfg.input_size:
        raise ValueError(f"crop size {crop} is smaller than the student's input {cfg.input_size}")

    from training.data.augment import AugmentOptions

    options = AugmentOptions(negative_prob=cfg.negative_prob) if training else None

    def labelled(n, seed):
        if not (cfg.negative_data and cfg.negative_data_prob > 0 and training):
            return make_landmark_dataset(cfg.data, n, training=training, input_size=crop, seed=seed, options=options)
        people = make_landmark_dataset(cfg.data, 1, training=True, input_size=crop, seed=seed, options=options)
        negatives = make_landmark_dataset(cfg.negative_data, 1, training=True, input_size=crop,
                                          seed=seed + NEGATIVE_SEED_OFFSET, options=options)
        return with_negative_data(people.unbatch(), negatives.unbatch(), cfg.negative_data_prob, n, seed)

    def make(ctx=None):
        seed = cfg.seed + (ctx.input_pipeline_id if ctx is not None else 0)
        if cfg.unlabelled_data:
            n_lab, n_unl = split_batch(per_replica_batch, cfg.labelled_fraction)
            lab = labelled(n_lab, seed)
            unl = make_landmark_dataset(cfg.unlabelled_data, n_unl, training=training, input_size=crop,
                                        seed=seed + UNLABELLED_SEED_OFFSET, options=options)

            def join(a, b):
                tb = strip_labels(b[1])
                tb = {k: tb.get(k, tf.zeros((n_unl, *v.shape[1:]), v.dtype)) for k, v in a[1].items()}
                return tf.concat([a[0], b[0]], 0), {k: tf.concat([v, tb[k]], 0) for k, v in a[1].items()}

            ds = tf.data.Dataset.zip(lab, unl).map(join)
        else:
            ds = labelled(per_replica_batch, seed)

        def add(image, targets):
            targets = dict(targets)
            if run_teacher is not None and with_scores:
                outs = tf.numpy_function(run_teacher, [image], [tf.float32] * (6 if with_aux else 5), stateful=False)
                xy, conf, vis, presence, hm = outs[:5]
                if with_aux:
                    outs[5].set_shape((None, 2, 2))
                    targets["teacher_aux"] = outs[5]
                vis.set_shape((None, NUM_LANDMARKS))
                presence.set_shape((None,))
                hm.set_shape((None, None, None, NUM_LANDMARKS))
                vis, presence, conf = suppress_hard_negatives(targets, vis, presence, conf)
                targets["teacher_vis"], targets["teacher_presence"] = vis, presence
                targets["teacher_heatmap"] = hm
            elif run_teacher is not None:
                xy, conf = tf.numpy_function(run_teacher, [image], [tf.float32, tf.float32], stateful=False)
                _, _, conf = suppress_hard_negatives(targets, conf, conf[:, 0], conf)
            if run_teacher is not None:
                xy.set_shape((None, NUM_LANDMARKS, 2))
                conf.set_shape((None, NUM_LANDMARKS))
                targets["teacher_xy"], targets["teacher_conf"] = xy, conf
            image, targets = downscale_crops(image, targets, cfg.input_size)
            targets["image"] = image
            return image, targets

        return ds.map(add)

    return make


def predict_xy(model, student_kind: str, images: np.ndarray, input_size: int) -> np.ndarray:
    """(B, 33, 2) tensor-pixel predictions: DARK decoding of heatmaps, or regression rows."""
    from training.models.heatmap_decode import dark_decode

    out = model(images, training=False)
    if student_kind == "heatmap":
        hm = np.asarray(out, np.float32)
        stride = input_size / hm.shape[2]
        return np.stack([dark_decode(h)[0] * stride for h in hm]).astype(np.float32)
    return np.asarray(out["landmarks"], np.float32)[:, :NUM_LANDMARKS, :2]


def evaluate(model, student_kind: str, files, input_size: int, batch_size: int = 16) -> dict:
    """Held-out metrics on un-augmented crops: mean L2 error (tensor px) and PCK at
    PCK_FRACTION of the crop side over labelled landmarks inside the crop."""
    from training.data.pipeline import make_landmark_dataset

    errs = []
    for image, targets in make_landmark_dataset(files, batch_size, training=False, input_size=input_size):
        xy = predict_xy(model, student_kind, image.numpy(), input_size)
        gt = targets["landmarks"].numpy()[..., :2]
        m = targets["landmark_mask"].numpy() > 0
        inside = ((gt >= 0) & (gt < input_size)).all(-1)
        d = np.linalg.norm(xy - gt, axis=-1)
        errs.append(d[m & inside])
    e = np.concatenate(errs) if errs else np.zeros(0)
    thr = PCK_FRACTION * input_size
    return {"mean_error_px": float(e.mean()) if e.size else float("nan"),
            "pck": float((e <= thr).mean()) if e.size else float("nan"),
            "pck_threshold_px": thr, "num_points": int(e.size)}


def run(cfg: DistillConfig, run_dir: str | Path, strategy_name: str = "auto", export: bool = False,
        log_every: int = 50) -> dict:
    """Train ``cfg.student`` (distilled from ``cfg.teacher``, or alone with teacher "none"),
    evaluate on ``cfg.val_data`` and optionally export. Returns the eval dict (also written to
    RUN_DIR/eval.json); the student's weights go to RUN_DIR/student.weights.h5."""
    from training.config import TrainConfig
    from training.models.runner import make_strategy, setup_precision, train

    import keras

    run_dir = Path(run_dir)
    keras.utils.set_random_seed(cfg.seed)  # the student's initial weights: same seed, same start
    strategy = make_strategy(strategy_name)
    policy = setup_precision("float32")
    student_kind = student_kind_of(cfg.student)
    if is_imported(cfg.student) and cfg.input_size != 256:
        raise ValueError("an imported student keeps its own input size: use --input-size 256")
    teacher_kind, teacher_ref = parse_teacher(cfg.teacher)
    teacher = None
    if teacher_kind == "keras":
        with strategy.scope():
            teacher = load_keras_teacher(teacher_ref, cfg.input_size)
    per_replica = cfg.batch_size // strategy.num_replicas_in_sync
    tcfg = TrainConfig(data=list(cfg.data), batch_size=cfg.batch_size, steps=cfg.steps, learning_rate=cfg.learning_rate,
                       warmup=min(cfg.warmup, max(1, cfg.steps // 10)), log_every=log_every,
                       checkpoint_every=cfg.checkpoint_every or max(cfg.steps, 1), seed=cfg.seed)
    built = {}

    def build_model():
        student = build_student(cfg.student, cfg.input_size)
        if cfg.init_weights:
            student.load_weights(cfg.init_weights)
        if cfg.train_only == "presence-head":
            if not is_imported(cfg.student):
                raise ValueError("--train-only presence-head needs an imported student")
            freeze_all_but(student, presence_head_layers(student))
        built["float"] = student
        if not cfg.fake_quant:
            return student
        from training.qat import fake_quant_model

        return fake_quant_model(student)

    model, result = train(
        build_model=build_model,
        loss_fn=make_loss_fn(cfg, student_kind, teacher, teacher_kind),
        make_dataset=make_dataset_fn(cfg, per_replica, teacher_kind, teacher_ref),
        cfg=tcfg, run_dir=run_dir, strategy=strategy, policy=policy, config_dict=asdict(cfg))
    model = built["float"]  # the fake-quant model shares its variables; export and save the float one
    model.save_weights(str(run_dir / "student.weights.h5"))
    report = {"config": asdict(cfg), "steps": result.step, "first_losses": result.first_losses,
              "last_losses": result.last_losses, "train_seconds": result.seconds}
    if cfg.val_data:
        report["eval"] = evaluate(model, student_kind, cfg.val_data, cfg.input_size)
    if export:
        report["export"] = export_student(model, cfg, run_dir / "export", student_kind)
    (run_dir / "eval.json").write_text(json.dumps(report, indent=1, default=str))
    return report


def export_checkpoint(cfg: DistillConfig, run_dir: str | Path) -> list[str]:
    """Export the latest checkpoint of ``run_dir`` (also while its run goes on) to
    ``run_dir/export_stepN`` as :func:`export_student` does, without training."""
    from training.models.runner import restore_latest

    import keras

    keras.mixed_precision.set_global_policy("float32")
    student = build_student(cfg.student, cfg.input_size)
    if cfg.fake_quant:  # the run checkpointed the fake-quant wrapper, which shares the student's variables
        from training.qat import fake_quant_model

        step = restore_latest(fake_quant_model(student), run_dir)
    else:
        step = restore_latest(student, run_dir)
    return export_student(student, cfg, Path(run_dir) / f"export_step{step}", student_kind_of(cfg.student))


def regression_export_model(model, sdk_size: int = 256):
    """The SDK landmark model around a regression (BlazePose) student: its inference outputs and,
    for a student smaller than the SDK's crop, an in-graph n x n average pool in front (the
    area downscale the student was trained on) with its tensor-pixel outputs mapped to the
    crop's units: x' = (x + 0.5) n - 0.5 (index coordinates), z' = n z."""
    import keras
    from keras import layers

    from training.models.landmark import inference_model

    infer = inference_model(model)
    s = int(infer.inputs[0].shape[1])
    if s == sdk_size:
        return infer
    if sdk_size % s:
        raise ValueError(f"student input {s} does not divide the SDK crop {sdk_size}")
    n = sdk_size // s
    inp = keras.Input((sdk_size, sdk_size, 3), name="image")
    landmarks, presence, world = infer(layers.AveragePooling2D(n, name="downscale")(inp))
    rows = int(landmarks.shape[-1]) // 5
    scale = np.tile(np.float32([n, n, n, 1, 1]), rows)
    bias = np.tile(np.float32([(n - 1) / 2.0, (n - 1) / 2.0, 0, 0, 0]), rows)
    landmarks = layers.Identity(name="landmarks_sdk_px")(landmarks * scale + bias)
    return keras.Model(inp, [landmarks, presence, world], name=f"{infer.name}_{sdk_size}")


def export_student(student, cfg: DistillConfig, out_dir: Path, student_kind: str = "heatmap",
                   num_calibration: int = 64) -> list[str]:
    """Float and INT8 TFLite of the SDK landmark model around a student (heatmap: the top-down
    DARK wrapper; regression: :func:`regression_export_model`), both taking the SDK's 256 crop,
    and their entries in ``out_dir/manifest.json`` (the SDK's model manifest, as the other
    trainers write). INT8 calibration uses training crops (``cfg.data``), never the held-out set."""
    from training.data.pipeline import make_landmark_dataset
    from training.models.export import landmark_manifest_entry, to_tflite, write_manifest
    from training.models.topdown import TopDownConfig, build_topdown_model, export_tflite

    size = TopDownConfig().input_size  # the SDK's crop; smaller students get it area-downscaled

    def rep():
        ds = make_landmark_dataset(cfg.data, 1, training=False, input_size=size)
        for image, _ in ds.take(num_calibration):
            yield image.numpy()

    stem = Path(cfg.student[len(IMPORTED_PREFIX):]).stem if is_imported(cfg.student) else cfg.student
    paths = {"float": out_dir / f"{stem}.tflite", "float16": out_dir / f"{stem}_fp16.tflite",
             "int8": out_dir / f"{stem}_int8.tflite"}
    precisions = tuple(cfg.export_precisions)
    if student_kind == "heatmap" and not is_imported(cfg.student):
        out = export_tflite(build_topdown_model(student), paths["float"], paths["int8"], rep)
        precisions = ("float", "int8")
    else:
        wrapped = imported_export_model(student) if is_imported(cfg.student) else regression_export_model(student, size)
        out = tuple(to_tflite(wrapped, paths[q], q, rep if q == "int8" else None) for q in precisions)
    write_manifest(out_dir, [landmark_manifest_entry(p, q) for p, q in zip(out, precisions)])
    return [str(p) for p in out]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.distill", description=__doc__.splitlines()[0])
    ap.add_argument("--student", default="lite_hrnet_18",
                    help=f"one of {', '.join(HEATMAP_STUDENTS + REGRESSION_STUDENTS)}, or imported:MODEL.keras")
    ap.add_argument("--teacher", default="none",
                    help="none | VARIANT:WEIGHTS.weights.h5 | X.tflite | reference-full | reference-heavy")
    ap.add_argument("--alpha", type=float, default=FPD_ALPHA, help="weight of the teacher term (FPD eq. 3)")
    ap.add_argument("--teacher-confidence", choices=TEACHER_CONFIDENCE_MODES, default="weight",
                    help="black-box teacher's confidence: joint weight of unit Gaussians, or their peak height")
    ap.add_argument("--heatmap-fg-weight", type=float, default=0.0,
                    help="heatmap students: weight 1 + W x target per cell in the MSE (0: the reference loss)")
    ap.add_argument("--data", nargs="+", required=True, help="training TFRecords (files, folders, globs)")
    ap.add_argument("--val-data", nargs="*", default=[], help="held-out TFRecords for eval.json")
    ap.add_argument("--unlabelled-data", nargs="*", default=[],
                    help="TFRecords used without their labels: teacher term only (needs --teacher)")
    ap.add_argument("--labelled-fraction", type=float, default=0.5,
                    help="share of each batch from --data when --unlabelled-data is given")
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--input-size", type=int, default=256)
    ap.add_argument("--crop-size", type=int, default=None,
                    help="cut crops of this side, area-downscaled to --input-size (default: a black-box "
                         "teacher's input size, else --input-size); use the same value in runs you compare")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategy", default="auto", help="auto, default, mirrored, multiworker or tpu")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--negative-prob", type=float, default=0.0,
                    help="share of crops taken off the person (presence target 0; the teacher's presence)")
    ap.add_argument("--negative-data", nargs="*", default=[],
                    help="person-free photo records (python -m training.data.negatives): crops with presence 0")
    ap.add_argument("--negative-data-prob", type=float, default=0.0,
                    help="share of the labelled crops taken from --negative-data")
    ap.add_argument("--export-precisions", nargs="+", choices=EXPORT_PRECISIONS, default=["float", "int8"],
                    help="TFLite files --export writes (float16: half weights behind DEQUANTIZE, as the official files)")
    ap.add_argument("--train-only", choices=TRAIN_ONLY_CHOICES, default="all",
                    help="presence-head: train only the layers that feed the pose presence alone (imported "
                         "students), every other weight frozen")
    ap.add_argument("--aux-kd-weight", type=float, default=0.0,
                    help="imported students: L1 of rows 33-34 (the tracking ROI points) to the teacher's, x this weight")
    ap.add_argument("--checkpoint-every", type=int, default=0,
                    help="steps between checkpoints in RUN_DIR/ckpt (0: at the end); a rerun resumes from the latest")
    ap.add_argument("--init-weights", default=None,
                    help="start from these student weights (another run's student.weights.h5, same --student)")
    ap.add_argument("--fake-quant", action="store_true",
                    help="quantization-aware: train through int8 fake quantization of kernels and activations")
    ap.add_argument("--export", action="store_true", help="write float + INT8 TFLite landmark models")
    ap.add_argument("--export-only", action="store_true",
                    help="no training: export the latest checkpoint of --run-dir to RUN_DIR/export_stepN (works "
                         "while the run goes on)")
    a = ap.parse_args(argv)
    if not (a.student in HEATMAP_STUDENTS + REGRESSION_STUDENTS or is_imported(a.student)):
        ap.error(f"--student {a.student!r}: one of {HEATMAP_STUDENTS + REGRESSION_STUDENTS} or imported:MODEL.keras")
    cfg = DistillConfig(student=a.student, teacher=a.teacher, alpha=a.alpha, data=a.data, val_data=a.val_data,
                        unlabelled_data=a.unlabelled_data, labelled_fraction=a.labelled_fraction,
                        teacher_confidence=a.teacher_confidence, heatmap_fg_weight=a.heatmap_fg_weight,
                        checkpoint_every=a.checkpoint_every,
                        negative_prob=a.negative_prob, init_weights=a.init_weights, fake_quant=a.fake_quant,
                        negative_data=a.negative_data, negative_data_prob=a.negative_data_prob,
                        export_precisions=tuple(a.export_precisions), train_only=a.train_only,
                        aux_kd_weight=a.aux_kd_weight,
                        input_size=a.input_size, crop_size=a.crop_size, batch_size=a.batch_size, steps=a.steps, learning_rate=a.lr, seed=a.seed)
    if a.export_only:
        print(json.dumps({"export": export_checkpoint(cfg, a.run_dir)}, indent=1))
        return 0
    report = run(cfg, a.run_dir, a.strategy, a.export, a.log_every)
    print(json.dumps({k: report[k] for k in ("steps", "last_losses", "eval", "export") if k in report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
