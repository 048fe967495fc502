"""The input pipeline of distillation (``python -m training.distill``): the shared landmark
crops (training.data.pipeline.make_landmark_dataset), mixed with unlabelled records (labels
stripped: teacher term only) and person-free photos (hard negatives), and a black-box TFLite
teacher's points and scores computed per batch. Points in crop pixels, index convention (pixel j
at j); the teacher's own input pixels are mapped by :func:`teacher_to_crop_px`.
"""

from __future__ import annotations

import numpy as np

from blazepose_sdk.geometry.topology import NUM_LANDMARKS
from training.config import DistillConfig
from training.students import is_imported, parse_teacher


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
    from blazepose_sdk.stages.roles import LANDMARK_ROLES, output_roles, role_indices
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


def strip_labels(targets: dict) -> dict:
    """The pipeline's targets with every label zeroed (landmarks, masks, world, aux, presence):
    what an unlabelled frame has. Its crop then takes only the teacher term (``training.distill._has_gt`` 0)."""
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


def side_teachers(cfg: DistillConfig) -> dict[str, list[str]]:
    """The models other than the teacher that give some targets of an imported student, by .tflite
    path: ``{path: ["aux"]}`` for ``--aux-teacher`` (rows 33-34, with ``--aux-kd-weight``),
    ``["presence"]`` for ``--presence-teacher`` (the pose presence target, before hard negatives
    set it to 0); one entry when both name the same model, so it runs once per crop."""
    side: dict[str, list[str]] = {}
    if cfg.aux_teacher and cfg.aux_kd_weight > 0:
        side.setdefault(parse_teacher(cfg.aux_teacher)[1], []).append("aux")
    if cfg.presence_teacher:
        side.setdefault(parse_teacher(cfg.presence_teacher)[1], []).append("presence")
    return side


def make_dataset_fn(cfg: DistillConfig, per_replica_batch: int, teacher_kind: str, teacher_path: str | None,
                    training: bool = True):
    """make_dataset(input_context) for the runner: the shared landmark pipeline, the crop copied
    into targets["image"], and for a black-box teacher its points computed per batch. With
    ``cfg.unlabelled_data`` each batch is :func:`split_batch` crops of ``cfg.data`` followed by
    crops of the unlabelled records with :func:`strip_labels` applied."""
    import tensorflow as tf

    from training.data.pipeline import make_landmark_dataset

    with_scores = is_imported(cfg.student)
    side = side_teachers(cfg) if with_scores and teacher_kind == "tflite" else {}
    with_aux = with_scores and cfg.aux_kd_weight > 0 and not any("aux" in keys for keys in side.values())
    run_teacher = tflite_teacher_fn(teacher_path, with_scores, with_aux) if teacher_kind == "tflite" else None
    run_side = {path: tflite_teacher_fn(path, with_scores=True, with_aux=True) for path in side}
    if cfg.unlabelled_data and teacher_kind == "none":
        raise ValueError("--unlabelled-data needs a teacher (unlabelled crops take only the teacher term)")
    # A black-box teacher sees the crop at its own input size (a 256 BlazePose model given an
    # upscaled 128 crop is a blurred, weaker teacher); the student gets it downscaled.
    crop = cfg.crop_size or (max(cfg.input_size, run_teacher.input_size) if run_teacher is not None else cfg.input_size)
    if crop < cfg.input_size:
        raise ValueError(f"crop size {crop} is smaller than the student's input {cfg.input_size}")

    from training.data.augment import AugmentOptions

    options = (AugmentOptions(negative_prob=cfg.negative_prob, partial_person_prob=cfg.partial_person_prob,
                              degrade_prob=cfg.degrade_prob)
               if training else None)

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
                for path, keys in side.items():  # --aux-teacher / --presence-teacher: one run per model
                    side_outs = tf.numpy_function(run_side[path], [image], [tf.float32] * 6, stateful=False)
                    if "presence" in keys:
                        presence = side_outs[3]
                    if "aux" in keys:
                        side_outs[5].set_shape((None, 2, 2))
                        targets["teacher_aux"] = side_outs[5]
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
