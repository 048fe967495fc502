"""A new pose-presence branch on a frozen imported landmark model (issue 28 part 3).

The official Lite's landmark network stays bit-identical; only its ``presence`` output is
replaced by a small branch that reads an earlier, higher-resolution shared feature map (for the
imported Lite ``add_187``, the 16 x 16 x 32 map the heatmap decoder starts from), the 39 heatmaps'
peaks (and, with ``--segmentation-cues``, the person mask's coarse layout), and the official
presence logit itself:

    features (16x16xC) -> depthwise 3x3 -> 1x1 conv to CHANNELS, ReLU -> global average + max pool
    cues               -> heatmap logits: global max pool (one peak per heatmap); segmentation
                          logits (optional): sigmoid, 4x4 average pool, and their global max; standardised
    official logit     -> standardised
    concat -> dense HIDDEN, ReLU -> dense 1 (zero-initialised) -> + official logit -> sigmoid

The last dense starts at zero, so before training the branch reproduces the official presence
exactly; training moves only the branch (a few thousand weights) and every other output is the
official model's. Because the base is frozen, its features are computed once per crop and
cached (``RUN/features/chunk_NNN.npz``), then the branch trains on the cache in seconds.

    python -m training.presence_head --student imported:/tmp/student/lite_init.keras \\
        --data /tmp/student/copy_paste /tmp/student/pl/train_heavy_tta /tmp/student/synth_ft \\
        --negative-data /tmp/student/negatives --negative-data-prob 0.25 --negative-prob 0.2 \\
        --off-person-teacher reference-heavy --chunks 30 --run-dir /tmp/student/pb1 --export

Crops come from training.distill's data pipeline (:func:`training.distill_data.make_dataset_fn`, no
teacher) and each takes a target:
    a person-free photo's crop (``--negative-data``)   0
    a crop of a person (its record labels one)         the official model's own presence (keep)
                                                       (--person-loss at-least: at least that)
    a crop taken off the person (``--negative-prob``)  ``--off-person-teacher``'s presence
    a partial person (``--partial-chunks``)            the official model's own presence
A partial-person crop (training.data.augment's ``partial_person_prob``, the same crop path) is a
close-up (the ROI scaled 0.4-0.8x around a random body point) or the whole-body ROI on an image cut
by a simulated frame edge (black or replicated beyond it). They come from their own stream
(``--partial-chunks`` chunks, person records only, other seeds) added to the cache, so an existing
cache is extended, not rebuilt; their target is the official presence on that crop, so the branch
keeps whatever part of a person the official model keeps. ``--max-partial-rejected R`` picks the
operating point on the held-out chunks: the smallest correction offset (it may be negative) at
which at most a share R of the held-out partial and of the whole-person crops that the official
presence accepts are rejected.
The base need not be the official model itself: ``--init-weights FILE`` loads a distilled
student's weights (training.distill's ``student.weights.h5`` or ``.fp16.npz``) into the imported
graph, and ``--presence-teacher M`` (a .tflite or reference pipeline) makes M's presence on each
crop the target wherever the base's own presence was (person, partial and unlabelled crops; hard
negatives stay 0), so a student whose landmarks moved can be given back the official model's
person/no-person decision without touching its landmarks. With a presence teacher,
``--unlabelled-data`` (e.g. training.data.tracker_crops records) adds crops that have no labels:
each is a tracked person's crop, its target M's presence. The reports then compare the branch to M.

    python -m training.presence_head --student imported:/tmp/student/lite_init.keras \
        --init-weights RUN/student.weights.h5 --presence-teacher blazepose_sdk/model_files/pose_landmark_lite.tflite \
        --data ... --unlabelled-data /tmp/student/tracker_sports2d --labelled-fraction 0.75 ...

The export is training.distill's (:func:`training.distill_export.export_student`, float16 by default).
Stages resume: cached chunks are kept, a trained branch is reused unless ``--retrain``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from training.config import DistillConfig
from training.distill_data import make_dataset_fn, split_batch, tflite_teacher_fn
from training.distill_export import export_student
from training.students import (
    IMPORTED_PREFIX,
    build_imported_student,
    parse_teacher,
    presence_head_layers,
    teacher_spec_kind,
)
from training.weights_file import load_weights

# The imported official Lite's 16 x 16 x 32 map: the 8 x 8 features upsampled and added to the
# 16 x 16 ones, where the heatmap decoder starts (training.import_tflite names layers after the
# .tflite's op indices).
DEFAULT_FEATURE_LAYER = "add_187"
BRANCH_PREFIX = "presence_branch"
CHUNK_FORMAT = "chunk_{:03d}.npz"
# The segmentation cues: the person mask averaged over a SEGMENTATION_GRID x SEGMENTATION_GRID grid
# of the crop (ours: where in the crop the body is, coarse enough to cost nothing).
SEGMENTATION_GRID = 4


@dataclass
class BranchConfig:
    """The branch's shape and the standardisation of its vector inputs (from the cached crops)."""

    feature_layer: str = DEFAULT_FEATURE_LAYER
    channels: int = 32
    hidden: int = 16
    # also the segmentation output's coarse layout (SEGMENTATION_GRID^2 mask means and its max logit)
    segmentation_cues: bool = False
    # mean and standard deviation of [cues..., official logit] over the training crops
    vector_mean: list[float] | None = None
    vector_std: list[float] | None = None


def presence_logit_tensor(student):
    """The pre-sigmoid tensor of ``student``'s presence: the output of the last Conv2D/Dense among
    the layers that feed the presence alone (for the official Lite the 2x2x192 -> 1 conv),
    flattened to (B, 1)."""
    from keras import layers

    names = presence_head_layers(student)
    convs = [student.get_layer(n) for n in names if isinstance(student.get_layer(n), (layers.Conv2D, layers.Dense))]
    if not convs:
        raise ValueError("no presence logit layer found (no Conv2D/Dense feeds the presence alone)")
    return layers.Reshape((1,), name=f"{BRANCH_PREFIX}_official_logit")(convs[-1].output)


def branch_inputs(student, cfg: BranchConfig) -> list:
    """The branch's three inputs as tensors of ``student``: feature map, cues (heatmap peaks and,
    with ``cfg.segmentation_cues``, the mask's grid means and max logit), official logit."""
    from keras import layers

    p = BRANCH_PREFIX
    features = student.get_layer(cfg.feature_layer).output
    if "heatmap" not in student.output:
        raise ValueError("the student has no heatmap output")
    cues = [layers.GlobalMaxPooling2D(name=f"{p}_heatmap_peaks")(student.output["heatmap"])]
    if cfg.segmentation_cues:
        seg = segmentation_tensor(student)
        side = int(seg.shape[1]) // SEGMENTATION_GRID
        mask = layers.Activation("sigmoid", name=f"{p}_mask")(seg)
        grid = layers.Flatten(name=f"{p}_mask_grid_flat")(layers.AveragePooling2D(side, name=f"{p}_mask_grid")(mask))
        cues += [grid, layers.GlobalMaxPooling2D(name=f"{p}_mask_max")(seg)]
        cues = [layers.Concatenate(name=f"{p}_cues")(cues)]
    return [features, cues[0], presence_logit_tensor(student)]


def segmentation_tensor(student):
    """The student's segmentation logits: the raw output of shape (B, S, S, 1), S the input side."""
    size = int(student.inputs[0].shape[1])
    for key, t in student.output.items():
        if key.startswith("raw_") and tuple(t.shape[1:]) == (size, size, 1):
            return t
    raise ValueError("the student has no segmentation output")


def build_branch(feature_shape, num_cues: int, cfg: BranchConfig):
    """The trainable branch as a Keras model: inputs (features (h, w, C), cues (K,),
    official logit (1,)), output the presence (B, 1). The last dense is zero, so a new branch
    returns sigmoid(official logit)."""
    import keras
    from keras import layers

    p = BRANCH_PREFIX
    n = num_cues + 1
    mean = np.zeros(n, np.float32) if cfg.vector_mean is None else np.float32(cfg.vector_mean)
    std = np.ones(n, np.float32) if cfg.vector_std is None else np.float32(cfg.vector_std)
    feat_in = keras.Input(tuple(feature_shape), name=f"{p}_features")
    cues_in = keras.Input((num_cues,), name=f"{p}_cue_vector")
    logit_in = keras.Input((1,), name=f"{p}_logit")
    x = layers.DepthwiseConv2D(3, padding="same", name=f"{p}_dw")(feat_in)
    x = layers.Conv2D(cfg.channels, 1, activation="relu", name=f"{p}_pw")(x)
    pooled = [layers.GlobalAveragePooling2D(name=f"{p}_avg")(x), layers.GlobalMaxPooling2D(name=f"{p}_max")(x)]
    vec = layers.Concatenate(name=f"{p}_vector")([cues_in, logit_in])
    vec = layers.Rescaling(1.0 / std, offset=-mean / std, name=f"{p}_standardise")(vec)
    z = layers.Concatenate(name=f"{p}_concat")(pooled + [vec])
    z = layers.Dense(cfg.hidden, activation="relu", name=f"{p}_fc")(z)
    delta = layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros", name=f"{p}_delta")(z)
    out = layers.Activation("sigmoid", name=f"{p}_presence")(layers.Add(name=f"{p}_logit_sum")([logit_in, delta]))
    return keras.Model([feat_in, cues_in, logit_in], out, name=p)


def build_presence_student(student, cfg: BranchConfig, branch=None):
    """(model, branch, feature model): ``student`` (training.students.build_imported_student's
    output dict) with its ``presence`` (and the raw output that is the presence) taken from the
    branch, every other output the same tensor; the branch (new unless given); and a model from
    the image to the branch's inputs (for caching). All of ``student``'s layers are frozen."""
    import keras

    for layer in student.layers:
        layer.trainable = False
    inputs = branch_inputs(student, cfg)
    if branch is None:
        branch = build_branch(inputs[0].shape[1:], int(inputs[1].shape[-1]), cfg)
    presence = branch(inputs)
    old = student.output["presence"]
    outputs = {k: (presence if (k == "presence" or v is old) else v) for k, v in student.output.items()}
    model = keras.Model(student.inputs, outputs, name=student.name.replace("_student", "_presence_branch_student"))
    features = keras.Model(student.inputs, inputs, name=f"{BRANCH_PREFIX}_features")
    return model, branch, features


# --- the cached crops ---------------------------------------------------------------------


def crop_targets(person, hard_negative, official_presence, off_person_presence):
    """Per-crop presence target: 0 on person-free photos, the official presence (the base's own,
    or ``--presence-teacher``'s: :func:`reference_presence`) on person crops, the off-person
    teacher's presence on crops taken off the person. Arrays (N,)."""
    person = np.asarray(person) > 0.5
    hard = np.asarray(hard_negative) > 0.5
    return np.where(hard, 0.0, np.where(person, official_presence, off_person_presence)).astype(np.float32)


def crop_weights(person, partial, hard_negative, person_weight: float, partial_weight: float | None = None,
                 hard_negative_weight: float = 1.0) -> np.ndarray:
    """Per-crop loss weight, (N,): ``person_weight`` on person crops, ``partial_weight`` (default
    ``person_weight``) on partial-person crops, ``hard_negative_weight`` on person-free photos' crops,
    1 on crops taken off the person."""
    w = np.where(np.asarray(person) > 0.5, person_weight, 1.0)
    if partial_weight is not None:
        w = np.where(np.asarray(partial) > 0.5, partial_weight, w)
    return np.where(np.asarray(hard_negative) > 0.5, hard_negative_weight, w).astype(np.float32)


def reference_presence(data: dict) -> np.ndarray:
    """The presence the branch is taught to give back on person crops, (N,): ``--presence-teacher``'s
    (cached as ``reference_presence``) or else the frozen base's own, sigmoid(``logit``)."""
    if "reference_presence" in data:
        return np.asarray(data["reference_presence"], np.float64).reshape(-1)
    return sigmoid(data["logit"]).reshape(-1)


def unlabelled_mask(cfg: DistillConfig, batch: int) -> np.ndarray:
    """(batch,) bool: the crops of a pipeline batch that come from ``cfg.unlabelled_data``
    (training.distill_data.make_dataset_fn puts them after the labelled ones)."""
    mask = np.zeros(batch, bool)
    if cfg.unlabelled_data:
        mask[split_batch(batch, cfg.labelled_fraction)[0]:] = True
    return mask


def collect_chunk(dataset_cfg: DistillConfig, features_model, batches: int, seed: int, off_person_teacher=None,
                  partial: bool = False, presence_teacher: str | None = None):
    """``batches`` batches of training crops (the distill pipeline, seeded) through the frozen
    model: a dict of arrays (features float16, cues, logit, person, hard_negative,
    off_person_presence, partial: 1 on person crops of a partial-person stream; with
    ``presence_teacher`` (a .tflite path) also reference_presence, that model's presence on each
    crop; :func:`crop_targets` still takes 0 on person-free photos). Unlabelled crops
    (``dataset_cfg.unlabelled_data``, only with a presence teacher) count as person crops."""
    from dataclasses import replace

    cfg = replace(dataset_cfg, seed=seed)
    if cfg.unlabelled_data and presence_teacher is None:
        raise ValueError("unlabelled crops need a presence teacher (they have no presence label)")
    kind = "tflite" if presence_teacher is not None else "none"
    ds = make_dataset_fn(cfg, cfg.batch_size, kind, presence_teacher)(None)
    run_reference = tflite_teacher_fn(presence_teacher, with_scores=True) if presence_teacher is not None else None
    keys = ("features", "cues", "logit", "person", "hard_negative", "off_person_presence")
    out = {k: [] for k in keys + (("reference_presence",) if presence_teacher is not None else ())}
    for image, targets in ds.take(batches):
        feats, cues, logit = (np.asarray(t) for t in features_model(image, training=False))
        person = targets["presence"].numpy().astype(np.float32)
        person[unlabelled_mask(cfg, len(person))] = 1.0
        hard = targets["hard_negative"].numpy() if "hard_negative" in targets else np.zeros_like(person)
        if presence_teacher is not None:  # the pipeline set it to 0 on person-free photos: the report wants M's own
            ref = targets["teacher_presence"].numpy().astype(np.float32).reshape(-1)
            if (hard > 0.5).any():
                ref[hard > 0.5] = np.asarray(run_reference(image.numpy()[hard > 0.5])[3], np.float32).reshape(-1)
            out["reference_presence"].append(ref)
        off = np.zeros_like(person)
        away = (person < 0.5) & (hard < 0.5)
        if off_person_teacher is not None and away.any():
            off[away] = off_person_teacher(image.numpy()[away])[3]
        for k, v in (("features", feats.astype(np.float16)), ("cues", cues), ("logit", logit), ("person", person),
                     ("hard_negative", hard.astype(np.float32)), ("off_person_presence", off)):
            out[k].append(v)
        out.setdefault("partial", []).append(person * float(partial))
    return {k: np.concatenate(v) for k, v in out.items()}


def load_chunks(*folders: Path) -> dict:
    """The cached chunks of each folder (every ``chunk_*.npz`` in it) or chunk file, concatenated."""
    files = [f for x in map(Path, folders) for f in ([x] if x.is_file() else sorted(x.glob("chunk_*.npz")))]
    if not files:
        raise FileNotFoundError(f"no cached chunks in {folders}")
    parts = [dict(np.load(f)) for f in files]
    for part in parts:  # caches written before the segmentation cues called them "peaks"
        if "peaks" in part:
            part["cues"] = part.pop("peaks")
        if "partial" not in part:  # caches written before the partial-person stream
            part["partial"] = np.zeros_like(part["person"])
    if len({"reference_presence" in part for part in parts}) > 1:
        raise ValueError(f"{folders}: some chunks have a presence teacher's targets and some do not")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# --- training on the cache ----------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def at_least_bce(y_true, y_pred):
    """Per-crop binary cross-entropy of a presence to ``y_true[:, 0]``; crops with
    ``y_true[:, 1]`` = 1 are one-sided: no loss while the presence is at or above the target."""
    from keras import ops

    t, floor = y_true[:, :1], y_true[:, 1:2]
    p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
    bce = -(t * ops.log(p) + (1.0 - t) * ops.log(1.0 - p))
    above = floor * ops.cast(p >= t, p.dtype)
    return ops.mean(bce * (1.0 - above), axis=-1)


def train_branch(branch, data: dict, targets, weights, epochs: int, lr: float, batch_size: int = 64,
                 seed: int = 0, log=print, at_least=None) -> list[float]:
    """Binary cross-entropy of the branch's presence to ``targets`` (per-crop ``weights``), Adam,
    ``epochs`` passes over the cached crops; crops where ``at_least`` (N,) is 1 only pull the
    presence up to their target (:func:`at_least_bce`). Returns the loss per epoch."""
    import keras

    keras.utils.set_random_seed(seed)
    floor = np.zeros(len(targets), np.float32) if at_least is None else np.asarray(at_least, np.float32)
    branch.compile(optimizer=keras.optimizers.Adam(lr), loss=at_least_bce)
    x = [data["features"].astype(np.float32), data["cues"], data["logit"]]
    y = np.stack([np.asarray(targets, np.float32), floor], 1)
    hist = branch.fit(x, y, sample_weight=np.asarray(weights, np.float32),
                      batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
                      callbacks=[keras.callbacks.LambdaCallback(
                          on_epoch_end=lambda e, logs: log(f"epoch {e + 1}/{epochs} loss {logs['loss']:.4f}"))])
    return [float(v) for v in hist.history["loss"]]


def auroc(scores_pos, scores_neg) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    pos, neg = np.asarray(scores_pos, np.float64), np.asarray(scores_neg, np.float64)
    if not len(pos) or not len(neg):
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    ranks[order] = np.arange(1, len(allv) + 1)
    for v in np.unique(allv):  # average ranks of ties
        m = allv == v
        if m.sum() > 1:
            ranks[m] = ranks[m].mean()
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def presence_report(presence, data: dict, threshold: float = 0.5) -> dict:
    """On cached crops: AUROC person crops vs person-free photos' crops (all person crops, and only
    the whole-person crops the official presence accepts: those a tracker must keep), the share of
    person-free crops accepted (presence >= threshold), and the share of person crops the official
    presence accepts that this presence rejects (a lost track)."""
    p = np.asarray(presence, np.float64).reshape(-1)
    person, hard = data["person"] > 0.5, data["hard_negative"] > 0.5
    partial = np.asarray(data.get("partial", np.zeros(len(p))), np.float64).reshape(-1) > 0.5
    official = reference_presence(data)
    kept = person & ~partial & (official >= threshold)
    part_kept = partial & (official >= threshold)
    off = ~person & ~hard
    extra = {}
    if partial.any():
        extra = {"partial": int(partial.sum()), "partial_official_accepts": int(part_kept.sum()),
                 "partial_rejected_where_official_accepts":
                     float((p[part_kept] < threshold).mean()) if part_kept.any() else float("nan"),
                 "partial_accepted_where_official_rejects":
                     float((p[partial & ~part_kept] >= threshold).mean()) if (partial & ~part_kept).any() else float("nan")}
    if off.any():
        extra["off_person_accepted"] = float((p[off] >= threshold).mean())
    return {**extra, "crops": len(p), "person": int(person.sum()), "hard_negative": int(hard.sum()),
            "auroc_person_vs_hard_negative": auroc(p[person], p[hard]),
            "auroc_kept_person_vs_hard_negative": auroc(p[kept], p[hard]),
            "hard_negative_accepted": float((p[hard] >= threshold).mean()) if hard.any() else float("nan"),
            "person_rejected_where_official_accepts": float((p[kept] < threshold).mean()) if kept.any() else float("nan")}


def offset_for_max_rejected(branch_presence, groups, max_share: float) -> float:
    """The smallest logit offset added to the branch's correction at which, in every boolean mask
    of ``groups`` (crops the branch should keep), at most a share ``max_share`` of the crops has
    a presence below 0.5. Negative when the branch has room to reject more."""
    p = np.clip(np.asarray(branch_presence, np.float64).reshape(-1), 1e-12, 1 - 1e-12)
    z = np.log(p) - np.log1p(-p)
    need = -np.inf
    for g in groups:
        zg = np.sort(z[np.asarray(g, bool)])
        if not len(zg):
            continue
        k = int(np.floor(max_share * len(zg)))  # at most k below the threshold
        need = max(need, -zg[k] + 1e-4) if k < len(zg) else need
    return float(need) if np.isfinite(need) else 0.0


# --- the run --------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.presence_head", description=__doc__.splitlines()[0])
    ap.add_argument("--student", required=True, help="imported:MODEL.keras (python -m training.import_tflite)")
    ap.add_argument("--data", nargs="+", required=True, help="person records (labelled; training.distill --data)")
    ap.add_argument("--negative-data", nargs="*", default=[], help="person-free photo records (training.data.negatives)")
    ap.add_argument("--unlabelled-data", nargs="*", default=[],
                    help="unlabelled person records (e.g. training.data.tracker_crops); needs --presence-teacher")
    ap.add_argument("--labelled-fraction", type=float, default=0.5, help="share of each batch from --data")
    ap.add_argument("--init-weights", default=None,
                    help="the base's weights (training.distill's student.weights.h5 / .fp16.npz) "
                         "into the imported graph")
    ap.add_argument("--presence-teacher", default=None,
                    help="a .tflite or reference pipeline whose presence is the target on person crops "
                         "(default: the frozen base's own)")
    ap.add_argument("--negative-data-prob", type=float, default=0.25)
    ap.add_argument("--negative-prob", type=float, default=0.2, help="share of crops taken off the person")
    ap.add_argument("--off-person-teacher", default="reference-heavy",
                    help="presence target of off-person crops: a .tflite or reference-* landmark model, or none (0)")
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--feature-layer", default=DEFAULT_FEATURE_LAYER)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--segmentation-cues", action="store_true",
                    help="also feed the branch the segmentation output's 4x4 mask means and max logit")
    ap.add_argument("--logit-offset", type=float, default=0.0,
                    help="added to the branch's correction before export (> 0: fewer people rejected, more background kept)")
    ap.add_argument("--partial-person-prob", type=float, default=1.0,
                    help="share of the partial stream's person crops made partial (training.data.augment)")
    ap.add_argument("--degrade-prob", type=float, default=0.0,
                    help="share of crops (people and person-free alike) resampled small and JPEG-coded "
                         "(training.data.augment.degrade), so image quality is no cue to presence")
    ap.add_argument("--partial-chunks", type=int, default=0,
                    help="chunks of partial-person crops (person records only, their own seeds) added to the cache")
    ap.add_argument("--partial-val-chunks", type=int, default=0, help="held-out chunks of partial-person crops")
    ap.add_argument("--partial-weight", type=float, default=None,
                    help="loss weight of partial-person crops (default: --person-weight)")
    ap.add_argument("--max-partial-rejected", type=float, default=None,
                    help="choose --logit-offset on the held-out chunks: at most this share of partial and of "
                         "whole-person crops the official accepts rejected")
    ap.add_argument("--batch-size", type=int, default=16, help="crops per cached batch")
    ap.add_argument("--chunk-batches", type=int, default=25, help="batches per cached chunk (the checkpoint unit)")
    ap.add_argument("--chunks", type=int, default=30, help="training chunks to cache")
    ap.add_argument("--val-chunks", type=int, default=3, help="further chunks (other seeds) held out for the report")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--person-weight", type=float, default=2.0,
                    help="loss weight of person crops (a rejected person is a lost track)")
    ap.add_argument("--hard-negative-weight", type=float, default=1.0,
                    help="loss weight of crops of person-free photos (--negative-data), whose target is 0")
    ap.add_argument("--person-loss", choices=("match", "at-least"), default="match",
                    help="person crops: match the official presence, or only never fall below it (one-sided)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--retrain", action="store_true", help="train the branch again even if RUN/branch.weights.h5 exists")
    ap.add_argument("--export", action="store_true", help="write the TFLite model(s) and manifest to RUN/export")
    ap.add_argument("--export-precisions", nargs="+", default=["float16"], choices=("float", "float16"))
    a = ap.parse_args(argv)
    if not a.student.startswith(IMPORTED_PREFIX):
        ap.error("--student must be imported:MODEL.keras")
    if a.presence_teacher is not None and teacher_spec_kind(a.presence_teacher) != "tflite":
        ap.error("--presence-teacher must be a .tflite file or a reference pipeline")
    if a.unlabelled_data and a.presence_teacher is None:
        ap.error("--unlabelled-data needs --presence-teacher (unlabelled crops have no presence of their own)")
    if a.init_weights is not None and not Path(a.init_weights).is_file():
        ap.error(f"--init-weights: no such file: {a.init_weights}")

    import keras

    keras.mixed_precision.set_global_policy("float32")
    run_dir = Path(a.run_dir)
    (run_dir / "features").mkdir(parents=True, exist_ok=True)
    log_file = (run_dir / "log.txt").open("a")

    def log(msg):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    dcfg = DistillConfig(student=a.student, data=list(a.data), negative_data=list(a.negative_data),
                         unlabelled_data=list(a.unlabelled_data), labelled_fraction=a.labelled_fraction,
                         negative_data_prob=a.negative_data_prob, negative_prob=a.negative_prob,
                         batch_size=a.batch_size, export_precisions=tuple(a.export_precisions), seed=a.seed,
                         degrade_prob=a.degrade_prob)
    student = build_imported_student(a.student[len(IMPORTED_PREFIX):])
    if a.init_weights:
        load_weights(student, a.init_weights)
    cfg = BranchConfig(feature_layer=a.feature_layer, channels=a.channels, hidden=a.hidden,
                       segmentation_cues=a.segmentation_cues)
    cfg_path = run_dir / "branch.json"
    if cfg_path.exists() and not a.retrain:
        cfg = BranchConfig(**json.loads(cfg_path.read_text())["branch"])
    _, _, features_model = build_presence_student(student, cfg)

    # 1. cache: training chunks seeds seed*1000 + i, held-out chunks seed*1000 + 500 + i; partial-person
    # chunks (person records only, every crop a person's) seed*1000 + 200 + i and + 700 + i
    from dataclasses import replace

    kind, ref = parse_teacher(a.off_person_teacher)
    teacher = tflite_teacher_fn(ref, with_scores=True) if kind == "tflite" else None
    presence_teacher = parse_teacher(a.presence_teacher)[1] if a.presence_teacher else None
    pcfg = replace(dcfg, negative_data=[], negative_data_prob=0.0, negative_prob=0.0, unlabelled_data=[],
                   partial_person_prob=a.partial_person_prob)
    for split, n, offset, c in (("train", a.chunks, 0, dcfg), ("val", a.val_chunks, 500, dcfg),
                                ("partial_train", a.partial_chunks, 200, pcfg),
                                ("partial_val", a.partial_val_chunks, 700, pcfg)):
        if not n:
            continue
        folder = run_dir / "features" / split
        folder.mkdir(exist_ok=True)
        for i in range(n):
            path = folder / CHUNK_FORMAT.format(i)
            if path.exists():
                continue
            t0 = time.time()
            chunk = collect_chunk(c, features_model, a.chunk_batches, a.seed * 1000 + offset + i, teacher,
                                  partial=split.startswith("partial"), presence_teacher=presence_teacher)
            np.savez(path.with_suffix(".tmp.npz"), **chunk)
            path.with_suffix(".tmp.npz").rename(path)
            log(f"{split} chunk {i + 1}/{n}: {len(chunk['person'])} crops "
                f"({int(chunk['hard_negative'].sum())} person-free, {int(chunk['person'].sum())} person) "
                f"in {time.time() - t0:.0f} s")

    # 2. train the branch on the cache
    def folders(split, n_whole, n_partial):  # the chunks this command asks for, not every chunk cached
        return [run_dir / "features" / s / CHUNK_FORMAT.format(i)
                for s, n in ((split, n_whole), (f"partial_{split}", n_partial)) for i in range(n)]

    train, val = load_chunks(*folders("train", a.chunks, a.partial_chunks)), None
    if a.val_chunks or a.partial_val_chunks:
        val = load_chunks(*folders("val", a.val_chunks, a.partial_val_chunks))
    targets = crop_targets(train["person"], train["hard_negative"], reference_presence(train),
                           train["off_person_presence"])
    weights = crop_weights(train["person"], train["partial"], train["hard_negative"], a.person_weight,
                           a.partial_weight, a.hard_negative_weight)
    weights_path = run_dir / "branch.weights.h5"
    if not weights_path.exists() or a.retrain:
        vec = np.concatenate([train["cues"], train["logit"]], 1)
        cfg = BranchConfig(feature_layer=a.feature_layer, channels=a.channels, hidden=a.hidden,
                           segmentation_cues=a.segmentation_cues, vector_mean=[float(v) for v in vec.mean(0)],
                           vector_std=[float(v) for v in np.maximum(vec.std(0), 1e-3)])
        _, branch, _ = build_presence_student(student, cfg)
        t0 = time.time()
        at_least = (train["person"] > 0.5) if a.person_loss == "at-least" else None
        losses = train_branch(branch, train, targets, weights, a.epochs, a.lr, seed=a.seed, log=log, at_least=at_least)
        branch.save_weights(str(weights_path))
        report = {"branch": asdict(cfg), "args": vars(a), "losses": losses, "train_seconds": time.time() - t0,
                  "branch_weights": int(branch.count_params())}
        cfg_path.write_text(json.dumps(report, indent=1))
    report = json.loads(cfg_path.read_text())
    model, branch, _ = build_presence_student(student, cfg)
    branch.load_weights(str(weights_path))

    def predict(d):
        return branch.predict([d["features"].astype(np.float32), d["cues"], d["logit"]], batch_size=256, verbose=0)

    if a.max_partial_rejected is not None:
        if val is None:
            ap.error("--max-partial-rejected needs held-out chunks")
        kept = (reference_presence(val) >= 0.5) & (val["person"] > 0.5)
        part = val["partial"] > 0.5
        a.logit_offset = offset_for_max_rejected(predict(val), [kept & part, kept & ~part], a.max_partial_rejected)
        log(f"operating point from the held-out chunks: logit offset {a.logit_offset:+.4f} "
            f"(at most {a.max_partial_rejected:.2%} of partial and of whole-person crops rejected)")
    if a.logit_offset:
        delta = branch.get_layer(f"{BRANCH_PREFIX}_delta")
        delta.bias.assign(delta.bias.numpy() + np.float32(a.logit_offset))
    report["logit_offset"] = a.logit_offset

    report["train"] = {"branch": presence_report(predict(train), train),
                       "official": presence_report(reference_presence(train), train),
                       "base": presence_report(sigmoid(train["logit"]), train)}
    if val is not None:
        report["val"] = {"branch": presence_report(predict(val), val),
                         "official": presence_report(reference_presence(val), val),
                         "base": presence_report(sigmoid(val["logit"]), val)}
    log(json.dumps({k: report[k] for k in ("train", "val") if k in report}, indent=1))

    # 3. export through training.distill's one export path
    if a.export:
        report["export"] = export_student(model, dcfg, run_dir / "export", "regression")
        log(f"exported {report['export']}")
    cfg_path.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
