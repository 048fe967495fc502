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
landmark, e.g. the ``--unlabelled-data`` crops, whose labels
:func:`training.distill_data.strip_labels` removes in the pipeline) take only the teacher term. Heatmap students: Lite-HRNet
variants; a black-box teacher gives coordinates, rendered as Gaussians of
``training.config.HEATMAP_SIGMA``.
Regression students (``blazepose_lite``, training.models.landmark): the coordinate-space variant,
the same mix of L1 distances in tensor pixels to the teacher's and to the labelled coordinates
(:func:`training.losses.fpd_coordinate_loss`); heatmap teachers give coordinates by soft-argmax.

Imported students (``imported:``) also learn a black-box teacher's scores: binary cross-entropy
of their 33 visibility logits to the teacher's visibility and of their pose presence to the
teacher's presence, weighted by ``SCORE_KD_WEIGHT`` (the pose-presence gate must stay calibrated
after fine-tuning; the benchmark's presence check judges it). Two of their targets may come from
another black-box model than the teacher, run on the same crop: ``--aux-teacher M`` (rows 33-34,
the points the tracker makes the next ROI from, with ``--aux-kd-weight``) and
``--presence-teacher M`` (the pose presence; hard-negative crops still take 0). With M the
official model the student starts from, the student learns the teacher's landmarks while its
ROI and its person/no-person decision keep the official behaviour the tracker was tuned with.

The input pipeline is training.data.pipeline.make_landmark_dataset (the shared sample format);
the loop, strategies, checkpoints and logs are training.models.runner's. The teacher is built
under the same strategy scope, so it runs on the replicas' devices (the GPU when present), frozen
(inference mode, no gradients). ``RUN_DIR/eval.json`` holds the held-out metrics of
:func:`evaluate`; ``--export`` writes the SDK landmark model (training.distill_export: a heatmap
student as it is, decoded by the SDK) as float and INT8 TFLite with their manifest.

Where the parts live: the run's options ``training.config.DistillConfig``; the loss terms
``training.losses`` (Gaussian targets, joints MSE, FPD mixes, score / aux / heatmap KD); students
and teachers ``training.students`` (builders, the imported official model, freezing); the input
pipeline with the black-box teacher ``training.distill_data``; the TFLite export
``training.distill_export``. This module assembles the loss, trains, evaluates and is the CLI.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from blazepose_sdk.geometry.topology import NUM_LANDMARKS
from training.config import EXPORT_PRECISIONS, FPD_ALPHA, TEACHER_CONFIDENCE_MODES, TRAIN_ONLY_CHOICES, DistillConfig
from training.distill_data import make_dataset_fn
from training.distill_export import export_checkpoint, export_student
from training.weights_file import load_weights, save_fp16
from training.students import (
    HEATMAP_STUDENTS,
    REGRESSION_STUDENTS,
    build_student,
    freeze_all_but,
    is_imported,
    landmark_readout_layers,
    load_keras_teacher,
    parse_teacher,
    presence_head_layers,
    student_kind_of,
    tail_layers,
    teacher_spec_kind,
)

# PCK threshold as a fraction of the crop side (ours; 0.05 x 256 = 12.8 tensor px).
PCK_FRACTION = 0.05
# Weight of the teacher's visibility and presence terms (BCE, nats) next to the coordinate L1
# (tensor px) for imported students. Ours: a few px of L1 error and ~0.1-0.5 nats of BCE are then
# of the same order.
SCORE_KD_WEIGHT = 2.0
# Weight of the heatmap term for imported students (sum of squared sigmoid differences over a
# 64 x 64 map is O(1) for a peak a few cells off). Ours.
HEATMAP_KD_WEIGHT = 1.0


# --- the loss and the run ---------------------------------------------------------------


def _has_gt(targets):
    import tensorflow as tf

    labelled = tf.reduce_sum(tf.cast(targets["landmark_mask"], tf.float32), -1) > 0
    return tf.cast(labelled & (tf.cast(targets["presence"], tf.float32) > 0.5), tf.float32)


def make_loss_fn(cfg: DistillConfig, student_kind: str, teacher=None, teacher_kind: str = "none"):
    """loss_fn(outputs, targets) for training.models.runner.train. ``targets`` carries the crop
    under "image" (for a Keras teacher) or the teacher's points under "teacher_xy" /
    "teacher_conf" (black-box teacher)."""
    import tensorflow as tf

    from training.losses import (
        aux_kd_loss,
        fpd_coordinate_loss,
        fpd_heatmap_loss,
        gaussian_targets,
        heatmap_kd_loss,
        joints_mse,
        score_kd_loss,
    )
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


def predict_xy(model, student_kind: str, images: np.ndarray, input_size: int) -> np.ndarray:
    """(B, 33, 2) tensor-pixel predictions: DARK decoding of heatmaps, or regression rows."""
    from blazepose_sdk.geometry.heatmaps import dark_decode

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
            load_weights(student, cfg.init_weights)
        if cfg.train_only != "all":
            if not is_imported(cfg.student):
                raise ValueError(f"--train-only {cfg.train_only} needs an imported student")
            names = {"presence-head": presence_head_layers, "landmark-readout": landmark_readout_layers,
                     "tail": lambda m: tail_layers(m, cfg.tail_blocks)}[cfg.train_only](student)
            freeze_all_but(student, names)
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
    save_fp16(model, run_dir / "student.weights.fp16.npz")  # small enough to commit at a milestone
    report = {"config": asdict(cfg), "steps": result.step, "first_losses": result.first_losses,
              "last_losses": result.last_losses, "train_seconds": result.seconds}
    if cfg.val_data:
        report["eval"] = evaluate(model, student_kind, cfg.val_data, cfg.input_size)
    if export:
        report["export"] = export_student(model, cfg, run_dir / "export", student_kind)
    (run_dir / "eval.json").write_text(json.dumps(report, indent=1, default=str))
    return report


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
    ap.add_argument("--degrade-prob", type=float, default=0.0,
                    help="share of crops (people and person-free alike) resampled small and JPEG-coded "
                         "(training.data.augment.degrade), so image quality is no cue to presence")
    ap.add_argument("--partial-person-prob", type=float, default=0.0,
                    help="share of person crops made partial people (close-ups, people cut by a frame edge); "
                         "their presence target is the (presence) teacher's")
    ap.add_argument("--negative-data", nargs="*", default=[],
                    help="person-free photo records (python -m training.data.negatives): crops with presence 0")
    ap.add_argument("--negative-data-prob", type=float, default=0.0,
                    help="share of the labelled crops taken from --negative-data")
    ap.add_argument("--export-precisions", nargs="+", choices=EXPORT_PRECISIONS, default=["float", "int8"],
                    help="TFLite files --export writes (float16: half weights behind DEQUANTIZE, as the official files)")
    ap.add_argument("--train-only", choices=TRAIN_ONLY_CHOICES, default="all",
                    help="presence-head: train only the layers that feed the pose presence alone (imported "
                         "students), every other weight frozen; tail: only the last --tail-blocks residual blocks "
                         "of the trunk the landmarks and presence share, and the heads on them; landmark-readout: "
                         "only the layers that feed the landmark rows and not the presence (the presence and all it "
                         "reads stay the imported model's)")
    ap.add_argument("--tail-blocks", type=int, default=1,
                    help="with --train-only tail: how many of the shared trunk's last residual blocks train")
    ap.add_argument("--aux-kd-weight", type=float, default=0.0,
                    help="imported students: L1 of rows 33-34 (the tracking ROI points) to the teacher's, x this weight")
    ap.add_argument("--aux-teacher", default="",
                    help="with --aux-kd-weight: pull rows 33-34 to this model's (a .tflite file or reference-* "
                         "pipeline, e.g. the official model the student starts from) instead of the teacher's")
    ap.add_argument("--presence-teacher", default="",
                    help="imported students: learn this model's pose presence (a .tflite file or reference-* pipeline) "
                         "instead of the teacher's; hard-negative crops still take 0")
    ap.add_argument("--checkpoint-every", type=int, default=0,
                    help="steps between checkpoints in RUN_DIR/ckpt (0: at the end); a rerun resumes from the latest")
    ap.add_argument("--init-weights", default=None,
                    help="start from these student weights (another run's student.weights.h5 or its float16 "
                         "student.weights.fp16.npz, same --student and --input-size)")
    ap.add_argument("--fake-quant", action="store_true",
                    help="quantization-aware: train through int8 fake quantization of kernels and activations")
    ap.add_argument("--export", action="store_true", help="write float + INT8 TFLite landmark models")
    ap.add_argument("--export-only", action="store_true",
                    help="no training: export the latest checkpoint of --run-dir to RUN_DIR/export_stepN (works "
                         "while the run goes on)")
    a = ap.parse_args(argv)
    if not (a.student in HEATMAP_STUDENTS + REGRESSION_STUDENTS or is_imported(a.student)):
        ap.error(f"--student {a.student!r}: one of {HEATMAP_STUDENTS + REGRESSION_STUDENTS} or imported:MODEL.keras")
    if (a.aux_teacher or a.presence_teacher) and not (is_imported(a.student) and teacher_spec_kind(a.teacher) == "tflite"):
        ap.error("--aux-teacher and --presence-teacher need an imported student and a black-box (.tflite or "
                 "reference-*) --teacher")
    if a.tail_blocks < 1 or (a.tail_blocks != 1 and a.train_only != "tail"):
        ap.error("--tail-blocks takes a count >= 1 and goes with --train-only tail")
    if a.aux_teacher and not a.aux_kd_weight > 0:
        ap.error("--aux-teacher needs --aux-kd-weight > 0")
    for flag, spec in (("--aux-teacher", a.aux_teacher), ("--presence-teacher", a.presence_teacher)):
        if spec and teacher_spec_kind(spec) != "tflite":
            ap.error(f"{flag} {spec!r}: a .tflite file or a reference-* pipeline")
    cfg = DistillConfig(student=a.student, teacher=a.teacher, alpha=a.alpha, data=a.data, val_data=a.val_data,
                        unlabelled_data=a.unlabelled_data, labelled_fraction=a.labelled_fraction,
                        teacher_confidence=a.teacher_confidence, heatmap_fg_weight=a.heatmap_fg_weight,
                        checkpoint_every=a.checkpoint_every,
                        negative_prob=a.negative_prob, partial_person_prob=a.partial_person_prob,
                        degrade_prob=a.degrade_prob,
                        init_weights=a.init_weights, fake_quant=a.fake_quant,
                        negative_data=a.negative_data, negative_data_prob=a.negative_data_prob,
                        export_precisions=tuple(a.export_precisions), train_only=a.train_only,
                        tail_blocks=a.tail_blocks,
                        aux_kd_weight=a.aux_kd_weight, aux_teacher=a.aux_teacher, presence_teacher=a.presence_teacher,
                        input_size=a.input_size, crop_size=a.crop_size, batch_size=a.batch_size, steps=a.steps, learning_rate=a.lr, seed=a.seed)
    if a.export_only:
        print(json.dumps({"export": export_checkpoint(cfg, a.run_dir)}, indent=1))
        return 0
    report = run(cfg, a.run_dir, a.strategy, a.export, a.log_every)
    print(json.dumps({k: report[k] for k in ("steps", "last_losses", "eval", "export") if k in report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
