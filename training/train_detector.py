"""Train the face-proxy person detector on the data engine's Sample records.

    python -m training.train_detector --config training/configs/detector.yaml \
        --run-dir /tmp/train_runs/detector [--strategy auto|default|mirrored|multiworker|tpu]
        [--set train.steps=1000] [--export]

The input is the SDK's own letterbox crop (``blazepose_sdk.geometry.roi.letterbox_roi`` +
``blazepose_sdk.geometry.image.crop_roi`` with zero border, values in [-1, 1]), randomly zoomed out,
shifted, rotated and flipped; targets are encoded against the SDK's anchors as the exact
inverse of ``blazepose_sdk.geometry.anchors.decode_boxes``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from blazepose_sdk.stages.detector import DETECTOR_VALUE_RANGE
from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.geometry.roi import Roi, image_to_roi, letterbox_roi
from training.config import DetectorLossConfig, DetectorModelConfig, TrainConfig, add_run_arguments, load_config
from training.data.augment import flip_landmarks
from training.data.sample import FACE_LANDMARKS, alignment_points
from training.models.detector import IGNORED, encode_targets, match_anchors, matching_anchors, sdk_anchors
from training.train_landmarks import _parse, data_to_sdk_px, expand_files, parse_overrides

# Face box from face landmarks when the sample has none: their box grown by this factor
# (ours; the ear-to-ear span is about 2/3 of the head width).
FACE_BOX_FROM_LANDMARKS_SCALE = 1.6


def frame_roi(width: int, height: int, rng: np.random.Generator | None, cfg: TrainConfig) -> Roi:
    """The letterbox ROI of the frame; with ``rng``, zoomed out by ``cfg.zoom_out`` (the person
    appears smaller; a factor below 1 zooms in), shifted within the slack and rotated by up to
    ``jitter_rotation_deg``."""
    roi = letterbox_roi(width, height)
    if rng is None:
        return roi
    lo, hi = cfg.zoom_out
    z = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    size = roi.size_px * z
    slack = abs(size - roi.size_px) / 2 + 0.1 * roi.size_px
    cx = roi.center_x_px + rng.uniform(-slack, slack)
    cy = roi.center_y_px + rng.uniform(-slack, slack)
    rot = math.radians(rng.uniform(-cfg.jitter_rotation_deg, cfg.jitter_rotation_deg))
    return Roi(cx, cy, size, rot)


def face_box_px(lm: np.ndarray, mask: np.ndarray, face_box: np.ndarray, has_face_box: float) -> np.ndarray | None:
    """(4, 2) face-box corners in data-engine pixels, or None when unknown."""
    if has_face_box > 0 and face_box[2] > face_box[0] and face_box[3] > face_box[1]:
        x0, y0, x1, y1 = face_box
    else:
        m = np.asarray(mask)[list(FACE_LANDMARKS)] > 0
        if m.sum() < 2:
            return None
        pts = lm[list(FACE_LANDMARKS), :2][m]
        c = 0.5 * (pts.min(0) + pts.max(0))
        half = 0.5 * FACE_BOX_FROM_LANDMARKS_SCALE * max(np.ptp(pts, 0).max(), 4.0)
        x0, y0, x1, y1 = c[0] - half, c[1] - half, c[0] + half, c[1] + half
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def detector_example(image_rgb: np.ndarray, landmarks_px: np.ndarray, mask: np.ndarray, face_box: np.ndarray,
                     has_face_box: float, model_cfg: DetectorModelConfig, loss_cfg: DetectorLossConfig,
                     train_cfg: TrainConfig, rng: np.random.Generator | None = None):
    """One detector input (S, S, 3) float32 in [-1, 1] and targets: ``labels`` (N,) 1 / 0 / -1
    (ignore: a person whose face box is unknown) and ``boxes`` (N, 12) raw targets."""
    s = model_cfg.input_size
    h, w = image_rgb.shape[:2]
    lm = np.asarray(landmarks_px, np.float32).reshape(-1, 3)
    msk = np.asarray(mask, np.float32).reshape(-1)
    fbox = np.asarray(face_box, np.float32).reshape(4)
    if rng is not None and rng.uniform() < train_cfg.flip_prob:
        image_rgb = np.ascontiguousarray(image_rgb[:, ::-1])
        lm, _, msk, _ = flip_landmarks(lm, np.zeros(len(msk)), msk, float(w))
        fbox = np.array([w - fbox[2], fbox[1], w - fbox[0], fbox[3]], np.float32)
    roi = frame_roi(w, h, rng, train_cfg)
    tensor = crop_roi(image_rgb, roi, s, DETECTOR_VALUE_RANGE, border="zero")[0]
    anchors = sdk_anchors(s)
    labels = np.zeros(anchors.shape[0], np.float32)
    boxes = np.zeros((anchors.shape[0], 12), np.float32)
    corners = face_box_px(lm, msk, fbox, has_face_box)
    align = alignment_points(lm, msk)
    if corners is None or np.isnan(align).any():
        labels[:] = -1.0  # a person we cannot label: train nothing on this image
        return tensor.astype(np.float32), {"labels": labels, "boxes": boxes}
    c = image_to_roi(data_to_sdk_px(corners), roi)  # normalized tensor coordinates
    box = np.array([c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max()])
    kp = image_to_roi(data_to_sdk_px(align), roi)
    centre = 0.5 * (box[:2] + box[2:])
    if not ((centre >= 0) & (centre <= 1)).all():
        return tensor.astype(np.float32), {"labels": labels, "boxes": boxes}  # face left the frame
    assign = match_anchors(box[None], matching_anchors(s), loss_cfg.match_iou)
    labels[assign >= 0] = 1.0
    labels[assign == IGNORED] = -1.0
    boxes = encode_targets(box[None], kp[None], anchors, assign, s)
    return tensor.astype(np.float32), {"labels": labels, "boxes": boxes}


def make_dataset(files: list[str], model_cfg: DetectorModelConfig, loss_cfg: DetectorLossConfig,
                 train_cfg: TrainConfig, batch_size: int, augment: bool = True, input_context=None):
    """Batches of (inputs (B, S, S, 3), {"labels": (B, N), "boxes": (B, N, 12)}); endless and
    augmented with ``augment``, else one plain pass."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=max(1, min(4, len(files))),
                       num_parallel_calls=tf.data.AUTOTUNE)
    if augment:  # training: shuffled, endless; else one pass in file order
        ds = ds.shuffle(train_cfg.shuffle_buffer).repeat()
    ds = ds.map(_parse, num_parallel_calls=tf.data.AUTOTUNE)
    s = model_cfg.input_size
    n = sdk_anchors(s).shape[0]

    def prep(image, lm, mask, fbox, has_fbox, seed):
        rng = np.random.default_rng(int(seed)) if augment else None
        x, t = detector_example(image, lm, mask, fbox, float(has_fbox[0]), model_cfg, loss_cfg, train_cfg, rng)
        return x, t["labels"], t["boxes"]

    def tf_prep(image, lm, vis, mask, world, has_world, align, fbox, has_fbox, box):
        seed = tf.random.uniform([], 0, 2**31 - 1, dtype=tf.int64)
        x, labels, boxes = tf.numpy_function(prep, [image, lm, mask, fbox, has_fbox, seed],
                                             [tf.float32, tf.float32, tf.float32])
        return tf.ensure_shape(x, (s, s, 3)), {"labels": tf.ensure_shape(labels, (n,)),
                                               "boxes": tf.ensure_shape(boxes, (n, 12))}

    return ds.map(tf_prep, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=augment)


def anchor_targets(face_box: np.ndarray, has_face_box: np.ndarray, alignment: np.ndarray,
                   has_alignment: np.ndarray, input_size: int, match_iou: float):
    """Per-anchor targets for a batch of the data engine's detector examples (one person each):
    face_box (B, 4) and alignment (B, 4, 2) normalized to the tensor -> labels (B, N) 1 / 0 / -1
    (ignore everything: a person with only part of the labels) and raw boxes (B, N, 12)."""
    anchors, match = sdk_anchors(input_size), matching_anchors(input_size)
    b, n = len(face_box), anchors.shape[0]
    labels = np.zeros((b, n), np.float32)
    boxes = np.zeros((b, n, 12), np.float32)
    for i in range(b):
        if not (has_face_box[i] > 0 and has_alignment[i] > 0):
            labels[i] = -1.0
            continue
        box = np.asarray(face_box[i], np.float64)
        centre = 0.5 * (box[:2] + box[2:])
        if not ((centre >= 0) & (centre <= 1)).all():
            continue  # the face left the frame: all background
        assign = match_anchors(box[None], match, match_iou)
        labels[i, assign >= 0] = 1.0
        labels[i, assign == IGNORED] = -1.0
        boxes[i] = encode_targets(box[None], np.asarray(alignment[i])[None], anchors, assign, input_size)
    return labels, boxes


def make_engine_dataset(files: list[str], model_cfg: DetectorModelConfig, loss_cfg: DetectorLossConfig,
                        train_cfg: TrainConfig, batch_size: int, training: bool = True, input_context=None):
    """The data engine's detector pipeline with per-anchor targets."""
    import tensorflow as tf

    from training.data.augment import AugmentOptions
    from training.data.pipeline import make_detector_dataset

    if input_context is not None and input_context.num_input_pipelines > 1:
        files = files[input_context.input_pipeline_id::input_context.num_input_pipelines]
    opts = AugmentOptions(**{"detector_zoom": tuple(train_cfg.zoom_out),
                             "detector_rotation_deg": train_cfg.jitter_rotation_deg, **train_cfg.augment})
    ds = make_detector_dataset(files, batch_size, training=training, input_size=model_cfg.input_size,
                               seed=None if training else 0, options=opts, shuffle_buffer=train_cfg.shuffle_buffer)
    s = model_cfg.input_size
    n = sdk_anchors(s).shape[0]

    def targets(image, t):
        labels, boxes = tf.numpy_function(
            lambda fb, hf, al, ha: anchor_targets(fb, hf, al, ha, s, loss_cfg.match_iou),
            [t["face_box"], t["has_face_box"], t["alignment"], t["has_alignment"]], [tf.float32, tf.float32])
        return image, {"labels": tf.ensure_shape(labels, (batch_size, n)),
                       "boxes": tf.ensure_shape(boxes, (batch_size, n, 12))}

    return ds.map(targets, num_parallel_calls=tf.data.AUTOTUNE)


def export(model, model_cfg: DetectorModelConfig, out_dir: str | Path, name: str,
           representative_files: list[str] | None = None, num_calibration: int = 200) -> list[dict]:
    """Write ``name``.keras, ``name``.tflite (float32), ``name``_int8.tflite and manifest.json to
    ``out_dir``."""
    from training.models.export import detector_manifest_entry, to_tflite, write_manifest

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / f"{name}.keras")  # the input of `python -m convert keras`
    entries = [detector_manifest_entry(to_tflite(model, out_dir / f"{name}.tflite", "float"), "float")]
    if representative_files:
        ds = make_dataset(representative_files, model_cfg, DetectorLossConfig(), TrainConfig(), 1, augment=False)

        def rep():
            for x, _ in ds.take(num_calibration):
                yield x.numpy()

        p = to_tflite(model, out_dir / f"{name}_int8.tflite", "int8", rep)
        entries.append(detector_manifest_entry(p, "int8"))
    write_manifest(out_dir, entries)
    return entries


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.train_detector", description=__doc__.splitlines()[0])
    add_run_arguments(ap)
    a = ap.parse_args(argv)

    from training.losses import detector_losses
    from training.models.detector import build_detector
    from training.models.runner import train_and_export

    cfg = load_config(a.config, "detector", parse_overrides(a.set))
    files = expand_files(cfg.train.data)
    train_and_export(
        a, cfg, build_model=lambda: build_detector(cfg.model),
        loss_fn=lambda out, t: detector_losses(out[0], out[1], t, cfg.loss, cfg.model.input_size),
        make_dataset=lambda batch, ctx: (make_engine_dataset(files, cfg.model, cfg.loss, cfg.train, batch, True, ctx)
                                         if cfg.train.input == "engine"
                                         else make_dataset(files, cfg.model, cfg.loss, cfg.train, batch, True, ctx)),
        export=lambda model, out_dir, rep: export(model, cfg.model, out_dir, "pose_detection_ours", rep),
        representative_files=expand_files(cfg.train.val_data) if cfg.train.val_data else files,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
