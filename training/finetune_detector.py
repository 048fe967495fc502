"""Fine-tune the official person detector for small and distant people (issue 17).

Two steps:

    # 1. teacher labels: the official detector on the whole frame and on zoomed tiles (2x2+c, 3x3),
    #    each detection kept only when BlazePose-Heavy's landmark model, run on its ROI, confirms a
    #    person (presence >= --min-presence)
    python -m training.finetune_detector labels /tmp/real_corpus/train --out /tmp/det_ft/labels.json

    # 2. fine-tune the detector imported into Keras (python -m training.import_tflite) on views in
    #    which those people are small: whole frames zoomed out, and mosaics of 2x2 .. 4x4 frames
    python -m training.finetune_detector train --init /tmp/imp/pose_detection.keras \
        --labels /tmp/det_ft/labels.json --run-dir /tmp/det_ft/run1 --steps 1500 --batch-size 16 --export

The float16 export stores weights that are mostly zero sparse, as the official file does. A free
fine-tune moves the official detector's pruned weights (three quarters of each 1x1 convolution)
off zero, so its file is dense and twice the size. ``--hold-zeros`` keeps them zero while it
trains (:func:`hold_zeros`), which gives a file of the official size; but run13z, run13 with it,
found 80 of vtest's small people on the tiles against run13's 155 (step 750), and putting the
zeros back after run13 found 121 (docs/lab/2026-12-07_sampler_and_sparse_tiles.md). ``remask``
puts them back only in the kernels the fine-tune barely moved (at most ``--max-share`` of a kernel's
norm on its pruned weights): the shipped tile detector is run13 remasked at 0.02
(docs/lab/2026-12-07_landmark_fork_and_tile_remask.md):

    python -m training.finetune_detector remask run13/export/pose_detection_small.tflite \
        --original blazepose_sdk/model_files/pose_detection.tflite --max-share 0.02 --out /tmp/tiles_pm0.02.tflite

Loss (``training.losses.detector_distill_losses``): on the anchors that answer for a labelled
person (:func:`training.detector_views.assign_anchors`, the way the official detector assigns
them) the score target is 1 and the box target the teacher's detection, encoded for that anchor;
every other anchor keeps the frozen official detector's own output on the same view (score as a
soft target, and its box where it fires). So the network learns the small people and is held to
its old behaviour everywhere else: on background that keeps the false positives where they were.
Frames are only ever whole sources of the training split (the corpus keeps vtest.avi and
basketball out), so the evaluation on vtest.avi (``tools/small_people.py eval --detector
NAME=FILE``) sees a scene the detector never saw. The views and their per-anchor targets:
:mod:`training.detector_views`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from blazepose_sdk.app.video import is_image_path, read_image
from blazepose_sdk.errors import VideoError
from blazepose_sdk.geometry.matching import duplicates_to_drop, polygon_iou
from blazepose_sdk.geometry.roi import Roi, roi_from_alignment_points, roi_from_keypoints
from blazepose_sdk.tracker import same_person_landmarks
from training.config import TrainConfig
from training.detector_views import IGNORE_RADIUS_FACTOR, ViewOptions, compose_view, view_anchors, view_targets

LABELS_FORMAT = "blazepose-detector-labels/1"
# Tile layouts the teacher labels with, beside the whole frame: people down to about a sixth of
# the frame height come out at detector-friendly sizes in one of them.
LABEL_TILES = ("2x2+c", "3x3")
# Two teacher detections are one person (``same_person_doubles``) when this share of the smaller
# of their two segmentation masks lies inside the other. Our choice: a detection on a part of a
# person segments that part of the same body; two people, even overlapping, are cut apart by
# their masks.
SAME_MASK_SHARE = 0.8


# ----------------------------------------------------------------------------- labels (teacher)

def list_images(paths: list[str]) -> list[Path]:
    """Image files (``blazepose_sdk.app.video.is_image_path``) under the given files / folders
    (recursively), sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if is_image_path(q))
        elif is_image_path(p):
            out.append(p)
    return out


def cmd_labels(args: argparse.Namespace) -> int:
    from blazepose_sdk import PoseTracker, TrackerOptions
    from blazepose_sdk.geometry.tiles import parse_tile_layout, tile_rois

    images = list_images(args.images)
    if not images:
        print(f"error: no images under {args.images}", file=sys.stderr)
        return 2
    frames = []
    people_total = dropped = merged = 0
    t0 = time.time()
    options = TrackerOptions(model=args.confirm_model, num_threads=args.threads, static_image_mode=True,
                             min_detection_confidence=args.min_score, enable_segmentation=not args.keep_doubles)
    with PoseTracker(options) as tracker:
        for path in images:
            try:
                rgb = read_image(path)
            except VideoError as e:
                print(f"skipped: {e}", file=sys.stderr)
                continue
            h, w = rgb.shape[:2]
            tiles = [t for name in args.tiles for t in tile_rois(w, h, *parse_tile_layout(name))]
            dets = tracker.detector.detect_tiles(rgb, tiles, extra=tracker.detector(rgb), min_score=args.min_score)
            people, poses = [], []
            for d in dets:
                roi = roi_from_alignment_points(np.array(d.hip_center_px), np.array(d.body_circle_px))
                pose = tracker.process_roi(rgb, roi).pose if roi.is_valid() else None
                presence = 0.0 if pose is None else float(pose.presence)
                if presence < args.min_presence:
                    dropped += 1
                    continue
                people.append({"row_px": [round(float(v), 3) for v in d.row_px()], "score": round(d.score, 4),
                               "presence": round(presence, 4)})
                poses.append((roi, pose))
            if not args.keep_doubles:
                drop = set(same_person_doubles([r for r, _ in poses], [p.roi for _, p in poses],
                                               [p.array_px for _, p in poses], [p.mask for _, p in poses]))
                merged += len(drop)
                people = [p for i, p in enumerate(people) if i not in drop]
            people_total += len(people)
            frames.append({"image": str(path), "width": w, "height": h, "people": people})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "format": LABELS_FORMAT,
        "teacher": {"detector": "official pose_detection.tflite", "tiles": list(args.tiles),
                    "min_score": args.min_score, "confirm_model": args.confirm_model,
                    "min_presence": args.min_presence, "doubles_merged": not args.keep_doubles},
        "frames": frames}, indent=1))
    print(f"{len(frames)} frames, {people_total} people kept, {dropped} detections not confirmed, "
          f"{merged} doubles of a kept person merged "
          f"({time.time() - t0:.0f} s) -> {out}")
    return 0


def same_person_doubles(det_rois: list[Roi], pose_rois: list[Roi], landmarks_px: list[np.ndarray],
                        masks: list[np.ndarray | None] | None = None,
                        mask_share: float = SAME_MASK_SHARE) -> list[int]:
    """Which teacher detections to drop as doubles of another: the official detector on zoomed
    tiles also fires on parts of a person (a face box on the chest or the coat, with a ROI on
    that part), and the confirming landmark model, run on such a ROI, finds the same person there
    (presence >= 0.9), often drawn smaller or bent.

    Two detections are one person when their landmarks (``landmarks_px`` (33, 5) image pixels
    with visibility, each found in its ``pose_rois``) agree as the tracker's duplicate test does
    (``blazepose_sdk.tracker.same_person_landmarks``), or when at least ``mask_share`` of the
    smaller of their segmentation masks (``masks``: (H, W) frame pixels, person probability, binarised at 0.5)
    lies inside the other. Of each group the detection kept is the one whose own ROI
    (``det_rois``) best matches the ROI from its landmarks (``roi_from_keypoints`` of the visible
    ones): the detection that saw the whole person. Returns the dropped indices, ascending."""
    n = len(det_rois)
    binary = [None if masks is None or masks[i] is None else masks[i] > 0.5 for i in range(n)]
    similar = np.zeros((n, n), bool)
    for i in range(n):
        for j in range(i + 1, n):
            same = same_person_landmarks(np.asarray(landmarks_px[i]), pose_rois[i].size_px,
                                         np.asarray(landmarks_px[j]), pose_rois[j].size_px)
            if not same and binary[i] is not None and binary[j] is not None:
                smaller = min(int(binary[i].sum()), int(binary[j].sum()))
                same = smaller > 0 and int((binary[i] & binary[j]).sum()) >= mask_share * smaller
            similar[i, j] = similar[j, i] = same
    fit = np.zeros(n)
    for i in range(n):
        lm = np.asarray(landmarks_px[i])
        body = roi_from_keypoints(lm[:, :2], lm[:, 3] > 0.5)
        fit[i] = 0.0 if body is None else polygon_iou(det_rois[i].corners_px(), body.corners_px())
    return duplicates_to_drop(-fit, similar)


def load_labels(path: str | Path) -> list[dict]:
    data = json.loads(Path(path).read_text())
    if data.get("format") != LABELS_FORMAT:
        raise ValueError(f"{path}: not a {LABELS_FORMAT} file")
    return data["frames"]


# ----------------------------------------------------------------------------- training

def synthetic_frames(folder: str | Path, teacher_model: str | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames (RGB) and detection rows (1, 12) of rendered people (``python -m training.data.synth``
    TFRecords in ``folder``), in pixels. Render them with one person each (no occluding people):
    any other person in a view would be a negative.

    The row is the render's own face box and alignment points
    (``training.data.sample.alignment_points``), or with ``teacher_model`` (a pipeline name) the
    official detector's detection of that person in the render (ROI IoU >= 0.3 with the ROI from
    the render's landmarks), so that the labels follow the teacher's convention as the real ones
    do; renders the teacher misses are left out."""
    from training.data.sample import read_tfrecords

    paths = sorted(Path(folder).glob("*.tfrecord"))
    if not paths:
        raise FileNotFoundError(f"no .tfrecord files in {folder}")
    tracker = None
    if teacher_model is not None:
        from blazepose_sdk import PoseTracker, TrackerOptions

        tracker = PoseTracker(TrackerOptions(model=teacher_model, static_image_mode=True))
    frames, rows = [], []
    try:
        for sample in read_tfrecords(paths):
            align = np.asarray(sample.alignment_px, np.float64).reshape(4, 2)
            if sample.has_face_box <= 0 or not np.isfinite(align).all():
                continue
            rgb = sample.image_rgb()
            row = np.concatenate([np.asarray(sample.face_box_xyxy_px, np.float64), align.reshape(-1)])
            if tracker is not None:
                body = roi_from_alignment_points(align[0], align[1])
                best, best_iou = None, 0.3
                for d in tracker.detector(rgb):
                    iou = polygon_iou(roi_from_alignment_points(np.array(d.hip_center_px),
                                                                np.array(d.body_circle_px)).corners_px(),
                                      body.corners_px())
                    if iou >= best_iou:
                        best, best_iou = d.row_px(), iou
                if best is None:
                    continue
                row = np.asarray(best, np.float64)
            frames.append(rgb)
            rows.append(row[None])
    finally:
        if tracker is not None:
            tracker.close()
    return frames, rows


def load_frames(labels: list[dict]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames, rows = [], []
    for f in labels:
        frames.append(read_image(f["image"]))
        rows.append(np.array([p["row_px"] for p in f["people"]], np.float64).reshape(-1, 12))
    return frames, rows


def make_dataset(frames, rows, opts: ViewOptions, batch_size: int, seed: int, input_context=None,
                 ignore_factor: float = IGNORE_RADIUS_FACTOR, frame_weights: np.ndarray | None = None,
                 positive_scale: float = 1.0, box_on_body: bool = False):
    """Endless batches of (views (B, S, S, 3) in [-1, 1], ``view_targets`` batched: {"labels": (B, N),
    "boxes": (B, N, 12), "body": (B, N), "box_mask": (B, N)})."""
    import tensorflow as tf

    s = opts.input_size
    n = view_anchors(s).shape[0]
    shard = 0 if input_context is None else input_context.input_pipeline_id

    def gen():
        # a fresh stream on every start, so that a resumed run does not replay the views it saw
        rng = np.random.default_rng([seed, shard, int(time.time_ns() % 2**31)])
        while True:
            view, b, k = compose_view(frames, rows, rng, opts, frame_weights)
            yield view, view_targets(b, k, s, ignore_factor, positive_scale, box_on_body)

    sig = (tf.TensorSpec((s, s, 3), tf.float32),
           {"labels": tf.TensorSpec((n,), tf.float32), "boxes": tf.TensorSpec((n, 12), tf.float32),
            "body": tf.TensorSpec((n,), tf.float32), "box_mask": tf.TensorSpec((n,), tf.float32)})
    return tf.data.Dataset.from_generator(gen, output_signature=sig).batch(batch_size, drop_remainder=True)


def build_student_teacher(init: str):
    """(wrapper, student): the wrapper maps a view to the student's (boxes, scores) and the
    frozen teacher's (boxes, scores); both start as the imported detector ``init``."""
    import keras

    def load(name: str):
        m = keras.models.load_model(init, compile=False)
        return keras.Model(m.inputs, m.outputs, name=name)

    student, teacher = load("student"), load("teacher")
    teacher.trainable = False
    shape = student.inputs[0].shape[1:]
    x = keras.Input(shape, name="view")
    s_boxes, s_scores = student(x)
    t_boxes, t_scores = teacher(x)
    return keras.Model(x, [s_boxes, s_scores, t_boxes, t_scores], name="detector_finetune"), student


def head_layers(model) -> list:
    """The Conv2D layers whose outputs reach the model's outputs through only Reshape and
    Concatenate layers: the detector's box and score heads (six 1x1 convs in the official file)."""
    import keras

    found = []

    def walk(tensor) -> None:
        op = tensor._keras_history.operation
        if isinstance(op, keras.layers.Conv2D):
            if op not in found:
                found.append(op)
        elif isinstance(op, (keras.layers.Reshape, keras.layers.Concatenate)):
            for x in op._inbound_nodes[tensor._keras_history.node_index].input_tensors:
                walk(x)

    for out in model.outputs:
        walk(out)
    return found


def conv_kernels(model) -> list:
    """The model's Conv2D layers (not depthwise), in layer order."""
    import keras

    return [layer for layer in model.layers if type(layer) is keras.layers.Conv2D]


class KeepZeros:
    """A Keras variable constraint: the weights that were exactly zero at the start stay zero."""

    def __init__(self, initial: np.ndarray) -> None:
        self.mask = (np.asarray(initial) != 0).astype(np.float32)

    def __call__(self, w):
        return w * self.mask


def hold_zeros(model) -> int:
    """Give every Conv2D kernel with exact zeros (the official detector's pruned 1x1 convs, about
    75 % zeros each) a :class:`KeepZeros` constraint, so the optimizer keeps them pruned and the
    export stays sparse; returns how many kernels were held."""
    held = 0
    for layer in conv_kernels(model):
        kernel = layer.get_weights()[0]
        if (kernel == 0).any():
            layer.kernel.constraint = KeepZeros(kernel)
            held += 1
    return held


def masked_share(kernel: np.ndarray, zero: np.ndarray) -> float:
    """The share of ``kernel``'s L2 norm carried by the weights where ``zero`` is True (0: a
    pruning pattern the kernel still has; 1: it is all on the pruned weights)."""
    norm = float(np.linalg.norm(kernel))
    return float(np.linalg.norm(kernel[zero])) / norm if norm else 0.0


def pair_kernels(tuned: list[np.ndarray], original: list[np.ndarray]) -> list[int]:
    """For each kernel of ``tuned``, the index of its kernel in ``original``: the nearest (relative
    L2) of equal shape not yet taken. Two exports of one network may order their layers
    differently, so they are paired by their weights, not their order."""
    taken: set[int] = set()
    pairs = []
    for i, w in enumerate(tuned):
        best, best_d = None, np.inf
        for j, w0 in enumerate(original):
            if j in taken or w0.shape != w.shape:
                continue
            d = float(np.linalg.norm(w - w0)) / max(float(np.linalg.norm(w0)), 1e-12)
            if d < best_d:
                best, best_d = j, d
        if best is None:
            raise ValueError(f"kernel {i} of shape {w.shape} has no counterpart left in the original")
        taken.add(best)
        pairs.append(best)
    return pairs


def remask_kernels(tuned: list[np.ndarray], original: list[np.ndarray], max_share: float) -> tuple[list[np.ndarray], list[int]]:
    """Put ``original``'s exact zeros (its pruning pattern) back into the kernels of ``tuned`` whose
    weights there carry at most ``max_share`` of their norm (:func:`masked_share`): the kernels a
    fine-tune barely moved off the pattern. Kernels are paired by :func:`pair_kernels`; returns
    the kernels (``tuned``'s order) and the indices of those masked."""
    out, masked = [], []
    for i, (w, j) in enumerate(zip(tuned, pair_kernels(tuned, original))):
        zero = original[j] == 0
        if zero.any() and masked_share(w, zero) <= max_share:
            out.append(np.where(zero, 0.0, w).astype(w.dtype))
            masked.append(i)
        else:
            out.append(w)
    return out, masked


def cmd_remask(args: argparse.Namespace) -> int:
    """A fine-tuned detector's file made smaller: the official pruning pattern back in the kernels
    the fine-tune barely moved off it, float16 weights stored sparse (:func:`remask_kernels`)."""
    from training.import_tflite import import_tflite
    from training.models.export import detector_manifest_entry, to_tflite, write_manifest

    tuned, original = import_tflite(args.tuned), import_tflite(args.original)
    layers = conv_kernels(tuned)
    kernels0 = [layer.get_weights()[0] for layer in conv_kernels(original)]
    kernels, masked = remask_kernels([layer.get_weights()[0] for layer in layers], kernels0, args.max_share)
    for layer, kernel in zip(layers, kernels):
        layer.set_weights([kernel] + layer.get_weights()[1:])
    pruned = sum(bool((k == 0).any()) for k in kernels0)
    out = Path(args.out)
    path = to_tflite(tuned, out, "float16", sparse=True)
    write_manifest(out.parent, [detector_manifest_entry(path, "float16")])
    print(f"{len(masked)} of {pruned} pruned Conv2D kernels masked again (share <= {args.max_share:g}); "
          f"{path}: {path.stat().st_size} bytes")
    return 0


def export_student(student, out_dir: Path, name: str) -> list[dict]:
    """The student as ``name.tflite`` (float16 weights stored sparse where mostly zero, as in the
    official file) and ``name_float32.tflite``, with their manifest."""
    from training.models.export import detector_manifest_entry, to_tflite, write_manifest

    entries = []
    for quantize, suffix in (("float16", ""), ("float", "_float32")):
        p = to_tflite(student, out_dir / f"{name}{suffix}.tflite", quantize, sparse=quantize == "float16")
        entries.append(detector_manifest_entry(p, quantize))
    write_manifest(out_dir, entries)
    return entries


def cmd_train(args: argparse.Namespace) -> int:
    import keras

    from training.losses import detector_distill_losses
    from training.models.runner import make_strategy, setup_precision, train

    labels = load_labels(args.labels)
    frames, rows = load_frames(labels)
    weights = None
    if args.synthetic:
        s_frames, s_rows = synthetic_frames(args.synthetic, args.synthetic_teacher)
        share = args.synthetic_share
        weights = np.concatenate([np.full(len(frames), (1 - share) / len(frames)),
                                  np.full(len(s_frames), share / len(s_frames))])
        print(f"{len(s_frames)} rendered people from {args.synthetic}, {share:.0%} of the frames drawn", flush=True)
        frames, rows = frames + s_frames, rows + s_rows
    opts = ViewOptions(mosaic_prob=args.mosaic_prob, single_zoom_out=tuple(args.zoom_out))
    s = opts.input_size
    people = sum(len(r) for r in rows)
    print(f"{len(frames)} frames, {people} labelled people; batch {args.batch_size}, {args.steps} steps", flush=True)
    strategy = make_strategy(args.strategy)
    policy = setup_precision("float32")
    cfg = TrainConfig(batch_size=args.batch_size, steps=args.steps, learning_rate=args.lr,
                      warmup=min(args.warmup, max(1, args.steps // 10)), weight_decay=0.0,
                      log_every=args.log_every, checkpoint_every=args.checkpoint_every, seed=args.seed)
    per_replica = args.batch_size // strategy.num_replicas_in_sync
    built = {}

    def build():
        wrapper, student = build_student_teacher(args.init)
        built["student"] = student
        if args.hold_zeros:
            print(f"{hold_zeros(student)} pruned Conv2D kernels keep their zeros", flush=True)
        return wrapper

    def loss_fn(out, t):
        return detector_distill_losses(out[0], out[1], out[2], out[3], t, s,
                                       teacher_weight=args.teacher_weight, box_weight=args.box_weight,
                                       body_weight=args.body_negative_weight,
                                       body_teacher_max=args.body_negative_teacher_max,
                                       teacher_box_size=not args.labels_set_box_size)

    def on_checkpoint(model, step: int) -> None:
        if args.export_every_checkpoint:
            export_student(built["student"], Path(args.run_dir) / f"export_step{step}", args.name)

    def heads(_wrapper) -> list:
        return [v for layer in head_layers(built["student"]) for v in layer.trainable_variables]

    model, result = train(build_model=build, loss_fn=loss_fn,
                          fast_variables=heads, fast_lr_multiplier=args.head_lr_multiplier,
                          make_dataset=lambda ctx: make_dataset(frames, rows, opts, per_replica, args.seed, ctx,
                                                                   args.ignore_radius_factor, weights,
                                                                   args.positive_radius_scale, args.box_on_body),
                          cfg=cfg, run_dir=args.run_dir, strategy=strategy, policy=policy,
                          on_checkpoint=on_checkpoint,
                          config_dict={"args": vars(args), "view": opts.__dict__, "frames": len(frames),
                                       "people": people})
    print(f"done: step {result.step} in {result.seconds:.0f} s, losses {result.last_losses}", flush=True)
    if args.export:
        keras.mixed_precision.set_global_policy("float32")
        for e in export_student(built["student"], Path(args.run_dir) / "export", args.name):
            print(f"exported {e['file']}: {e['bytes']} bytes sha256 {e['sha256']}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.finetune_detector", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("labels", help="teacher labels: official detector on the frame and tiles, confirmed by Heavy")
    lab.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    lab.add_argument("--out", required=True)
    lab.add_argument("--tiles", nargs="*", default=list(LABEL_TILES))
    lab.add_argument("--min-score", type=float, default=0.5)
    lab.add_argument("--confirm-model", default="reference-heavy",
                     help="pipeline whose landmark model confirms each detection")
    lab.add_argument("--min-presence", type=float, default=0.9)
    lab.add_argument("--threads", type=int, default=1)
    lab.add_argument("--keep-doubles", action="store_true",
                     help="keep detections whose landmarks are those of another kept detection (tiles fire "
                          "on parts of people; by default only the one that saw the whole person is kept)")
    lab.set_defaults(func=cmd_labels)
    rm = sub.add_parser("remask", help="put the official pruning pattern back into the kernels a fine-tune "
                                       "barely moved; float16, sparse")
    rm.add_argument("tuned", help="the fine-tuned detector (.tflite)")
    rm.add_argument("--original", required=True, help="the detector it was fine-tuned from (pose_detection.tflite)")
    rm.add_argument("--max-share", type=float, required=True,
                    help="mask a kernel when its pruned weights carry at most this share of its L2 norm")
    rm.add_argument("--out", required=True, help="the .tflite to write (a manifest.json beside it)")
    rm.set_defaults(func=cmd_remask)
    tr = sub.add_parser("train", help="fine-tune the imported detector on small-people views")
    tr.add_argument("--init", required=True, help="the detector imported into Keras (training.import_tflite)")
    tr.add_argument("--labels", required=True)
    tr.add_argument("--run-dir", required=True)
    tr.add_argument("--steps", type=int, default=1500)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--lr", type=float, default=1e-5)
    tr.add_argument("--warmup", type=int, default=100)
    tr.add_argument("--teacher-weight", type=float, default=1.0,
                    help="weight of the frozen detector's own outputs on the unmatched anchors")
    tr.add_argument("--head-lr-multiplier", type=float, default=30.0,
                    help="learning rate of the box and score heads relative to --lr: their outputs are raw "
                         "pixels and logits of tens, which Adam's small steps barely move")
    tr.add_argument("--box-weight", type=float, default=0.1,
                    help="weight of the box and alignment-point term (its Huber errors are in units of 0.02 of "
                         "the input side, so they dwarf the score terms at 1)")
    tr.add_argument("--body-negative-weight", type=float, default=0.0,
                    help="weight of a score term towards 0 on the unmatched anchors inside a labelled person's "
                         "body circle: holds down second, smaller detections of one person (docs/lab/2026-12-01_multi_person.md)")
    tr.add_argument("--body-negative-teacher-max", type=float, default=1.0,
                    help="apply that term only where the frozen detector's own score is below this (it fires "
                         "around the faces of big people, where the KL term keeps it)")
    tr.add_argument("--ignore-radius-factor", type=float, default=IGNORE_RADIUS_FACTOR,
                    help="anchors within this many positive radii of a person take no score loss")
    tr.add_argument("--positive-radius-scale", type=float, default=1.0,
                    help="scale the radii within which anchors answer for a person (more anchors per person, "
                         "all regressing the same box, so that the NMS merges them)")
    tr.add_argument("--box-on-body", action="store_true",
                    help="every anchor on a labelled person's body (not only the positive ones) regresses that "
                         "person's box and alignment points: wherever the detector fires on a body it draws "
                         "one box and ROI, which the NMS merges (no upper-body second detection)")
    tr.add_argument("--labels-set-box-size", action="store_true",
                    help="hold the teacher's firing anchors to its box centre and points only, not its box "
                         "size (learns small boxes faster; more false detections, docs/lab/2026-12-01_multi_person.md)")
    tr.add_argument("--synthetic", help="also draw frames from these renders (training.data.synth TFRecords, one "
                                        "person each): small synthetic people")
    tr.add_argument("--synthetic-share", type=float, default=0.3, help="share of the frames drawn from --synthetic")
    tr.add_argument("--synthetic-teacher", metavar="PIPELINE",
                    help="label the renders with this pipeline's detector (e.g. blazepose-lite: the official "
                         "one) instead of their own face box and alignment points")
    tr.add_argument("--mosaic-prob", type=float, default=ViewOptions.mosaic_prob)
    tr.add_argument("--zoom-out", type=float, nargs=2, default=list(ViewOptions.single_zoom_out))
    tr.add_argument("--log-every", type=int, default=25)
    tr.add_argument("--checkpoint-every", type=int, default=250)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--strategy", default="auto")
    tr.add_argument("--name", default="pose_detection_small")
    tr.add_argument("--hold-zeros", action="store_true",
                    help="the init's zero weights (the official detector's pruned 1x1 kernels) stay zero, so the "
                         "export is stored sparse at the official file's size (it cost run13z half its small people)")
    tr.add_argument("--export", action="store_true")
    tr.add_argument("--export-every-checkpoint", action="store_true",
                    help="also export the student at every checkpoint (RUN/export_stepN), to pick a step")
    tr.set_defaults(func=cmd_train)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
