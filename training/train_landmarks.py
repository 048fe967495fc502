"""Train the BlazePose landmark network on the data engine's Sample records.

    python -m training.train_landmarks --config training/configs/landmark_lite.yaml \
        --run-dir /tmp/train_runs/landmark_lite [--strategy auto|default|mirrored|multiworker|tpu]
        [--set train.steps=1000 --set train.batch_size=16] [--export]

Resumes from ``RUN_DIR/ckpt``; TensorBoard logs in ``RUN_DIR/logs``; ``--export`` writes the
inference model (heatmap heads dropped) as float and INT8 TFLite with a manifest to
``RUN_DIR/export``.

Crops use the SDK's own geometry: the ROI comes from the hip centre and body-circle point
(``blazepose_sdk.geometry.roi.roi_from_alignment_points``, jittered), the pixels from
``blazepose_sdk.geometry.image.crop_roi``, the labels through ``image_to_tensor_matrix``; so a training
crop is exactly what PoseLandmarker feeds the model at inference.
"""

from __future__ import annotations

import argparse
import glob
import math
from pathlib import Path

import numpy as np

from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.stages.landmarker import LANDMARK_VALUE_RANGE
from blazepose_sdk.geometry.roi import Roi, image_to_tensor_matrix, roi_from_alignment_points
from blazepose_sdk.geometry.topology import NUM_LANDMARKS
from training.config import LandmarkLossConfig, LandmarkModelConfig, TrainConfig, add_run_arguments, load_config
from training.data.augment import flip_landmarks
from training.data.sample import alignment_points

# The data engine puts pixel centres at j + 0.5 (training/data/sample.py); the SDK's warps
# (OpenCV) put pixel index j at coordinate j. Subtract this from data-engine coordinates.
DATA_TO_SDK_PX = 0.5
TARGET_KEYS = ("coords", "coord_mask", "z_mask", "visibility", "presence", "vis_mask",
               "pose_presence", "world", "world_mask")


def data_to_sdk_px(xy_px: np.ndarray) -> np.ndarray:
    """Data-engine pixel coordinates (centre of pixel j at j + 0.5) -> the SDK's (j at j)."""
    return np.asarray(xy_px, np.float64) - DATA_TO_SDK_PX


def image_to_tensor_px(xy_sdk_px: np.ndarray, roi: Roi, size: int) -> np.ndarray:
    """(N, 2) SDK image pixels -> tensor pixels of the ``size`` crop of ``roi``."""
    m = image_to_tensor_matrix(roi, size)
    return np.asarray(xy_sdk_px, np.float64) @ m[:, :2].T + m[:, 2]


def jitter_roi(roi: Roi, rng: np.random.Generator, cfg: TrainConfig) -> Roi:
    """Random shift (fraction of the side), log-uniform scale and rotation (degrees)."""
    dx, dy = rng.uniform(-cfg.jitter_shift, cfg.jitter_shift, 2) * roi.size_px
    lo, hi = cfg.jitter_scale
    scale = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    rot = math.radians(rng.uniform(-cfg.jitter_rotation_deg, cfg.jitter_rotation_deg))
    return Roi(roi.center_x_px + dx, roi.center_y_px + dy, roi.size_px * scale, roi.rotation_rad + rot)


def _negative_roi(xy_sdk: np.ndarray, mask: np.ndarray, width: int, height: int,
                  rng: np.random.Generator) -> Roi | None:
    """A ROI inside the frame holding no labelled landmark (None if none found in 20 tries)."""
    pts = xy_sdk[mask > 0]
    for _ in range(20):
        size = rng.uniform(0.2, 0.5) * min(width, height)
        cx, cy = rng.uniform(size / 2, width - size / 2), rng.uniform(size / 2, height - size / 2)
        roi = Roi(cx, cy, size, rng.uniform(-math.pi, math.pi))
        if len(pts) == 0:
            return roi
        t = image_to_tensor_px(pts, roi, 1)
        if not ((t >= -0.1) & (t <= 1.1)).all(axis=1).any():
            return roi
    return None


def landmark_example(image_rgb: np.ndarray, landmarks_px: np.ndarray, visibility: np.ndarray,
                     mask: np.ndarray, world_m: np.ndarray, has_world: float, model_cfg: LandmarkModelConfig,
                     train_cfg: TrainConfig, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """One training crop and its targets from one labelled person (data-engine conventions).

    ``rng`` None: no augmentation (the plain ROI of the alignment points, no flip, no
    negatives). Returns the (S, S, 3) float32 crop in LANDMARK_VALUE_RANGE and a dict of
    float32 targets (training.losses docstring); coordinates in tensor pixels, the SDK's
    convention (pixel index j at j).
    """
    s, rows = model_cfg.input_size, model_cfg.num_rows
    h, w = image_rgb.shape[:2]
    lm = np.asarray(landmarks_px, np.float32).reshape(NUM_LANDMARKS, 3)
    vis = np.asarray(visibility, np.float32).reshape(-1)
    msk = np.asarray(mask, np.float32).reshape(-1)
    world = np.asarray(world_m, np.float32).reshape(NUM_LANDMARKS, 3)
    if rng is not None and rng.uniform() < train_cfg.flip_prob:
        image_rgb = np.ascontiguousarray(image_rgb[:, ::-1])
        lm, vis, msk, world = flip_landmarks(lm, vis, msk, float(w), world)
    align = alignment_points(lm, msk)
    xy_sdk = data_to_sdk_px(lm[:, :2])
    negative = bool(rng is not None and rng.uniform() < train_cfg.negative_prob)
    roi = None
    if negative:
        roi = _negative_roi(xy_sdk, msk, w, h, rng)
        negative = roi is not None
    if roi is None:
        if np.isnan(align).any():  # hips/shoulders unlabelled: a square about the labelled points
            pts = xy_sdk[msk > 0] if (msk > 0).any() else np.array([[w / 2, h / 2]])
            c = 0.5 * (pts.min(0) + pts.max(0))
            roi = Roi(float(c[0]), float(c[1]), float(max(np.ptp(pts, 0).max() * 1.25, 16.0)), 0.0)
            aux_ok = 0.0
        else:
            a = data_to_sdk_px(align)
            roi = roi_from_alignment_points(a[0], a[1])
            aux_ok = 1.0
        if rng is not None:
            roi = jitter_roi(roi, rng, train_cfg)
    crop = crop_roi(image_rgb, roi, s, LANDMARK_VALUE_RANGE, border="replicate")[0]

    coords = np.zeros((rows, 3), np.float32)
    coord_mask = np.zeros(rows, np.float32)
    z_mask = np.zeros(rows, np.float32)
    vis_t = np.zeros(rows, np.float32)
    pres_t = np.zeros(rows, np.float32)
    vis_mask = np.zeros(rows, np.float32)
    t = image_to_tensor_px(xy_sdk, roi, s)
    coords[:NUM_LANDMARKS, :2] = t
    coords[:NUM_LANDMARKS, 2] = lm[:, 2] * s / roi.size_px
    coord_mask[:NUM_LANDMARKS] = msk
    z_mask[:NUM_LANDMARKS] = msk if np.any(lm[:, 2] != 0) else 0.0
    # Tensor pixel u covers u - 0.5 .. u + 0.5 (index coordinates).
    inside = ((t >= -0.5) & (t < s - 0.5)).all(axis=1).astype(np.float32)
    pres_t[:NUM_LANDMARKS] = inside * msk
    vis_t[:NUM_LANDMARKS] = inside * msk * (vis > 0)
    vis_mask[:NUM_LANDMARKS] = msk
    if not negative and not np.isnan(align).any():
        coords[NUM_LANDMARKS:NUM_LANDMARKS + 2, :2] = image_to_tensor_px(data_to_sdk_px(align[:2]), roi, s)
        coord_mask[NUM_LANDMARKS:NUM_LANDMARKS + 2] = aux_ok
    # World landmarks in the upright ROI frame: the inverse of rotate_world_landmarks.
    c, sn = math.cos(roi.rotation_rad), math.sin(roi.rotation_rad)
    rot = np.array([[c, -sn], [sn, c]])
    world_roi = np.zeros((rows, 3), np.float32)
    world_roi[:NUM_LANDMARKS, :2] = world[:, :2] @ rot
    world_roi[:NUM_LANDMARKS, 2] = world[:, 2]
    targets = {
        "coords": coords, "coord_mask": coord_mask, "z_mask": z_mask, "visibility": vis_t,
        "presence": pres_t, "vis_mask": vis_mask,
        "pose_presence": np.array([0.0 if negative else 1.0], np.float32),
        "world": world_roi, "world_mask": np.array([float(has_world)], np.float32),
    }
    return crop.astype(np.float32), targets


# --- tf.data ------------------------------------------------------------------------------


def expand_files(patterns: list[str]) -> list[str]:
    files = sorted({f for p in patterns for f in (glob.glob(p) or ([p] if Path(p).exists() else []))})
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {patterns}")
    return files


def _parse(record):
    import tensorflow as tf

    from training.data.sample import feature_spec

    ex = tf.io.parse_single_example(record, feature_spec())
    image = tf.io.decode_jpeg(ex["image_jpeg"], channels=3)
    return (image, ex["landmarks_px"], ex["visibility"], ex["landmark_mask"], ex["world_m"], ex["has_world"],
            ex["alignment_px"], ex["face_box_xyxy_px"], ex["has_face_box"], ex["box_xyxy_px"])


def make_dataset(files: list[str], model_cfg: LandmarkModelConfig, train_cfg: TrainConfig, batch_size: int,
                 augment: bool = True, input_context=None):
    """Batches of (crops (B, S, S, 3), targets dict) from Sample TFRecords. ``augment``:
    shuffled, augmented, endless; else one plain pass in file order (last batch kept)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=max(1, min(4, len(files))),
                       num_parallel_calls=tf.data.AUTOTUNE)
    if augment:  # training: shuffled, endless; else one pass in file order
        ds = ds.shuffle(train_cfg.shuffle_buffer, seed=None).repeat()
    ds = ds.map(_parse, num_parallel_calls=tf.data.AUTOTUNE)
    s, rows = model_cfg.input_size, model_cfg.num_rows

    def prep(image, lm, vis, mask, world, has_world, seed):
        rng = np.random.default_rng(int(seed)) if augment else None
        crop, t = landmark_example(image, lm, vis, mask, world, float(has_world[0]), model_cfg, train_cfg, rng)
        return (crop, *[t[k] for k in TARGET_KEYS])

    def tf_prep(image, lm, vis, mask, world, has_world, *_):
        seed = tf.random.uniform([], 0, 2**31 - 1, dtype=tf.int64)
        out = tf.numpy_function(prep, [image, lm, vis, mask, world, has_world, seed], [tf.float32] * (1 + len(TARGET_KEYS)))
        shapes = {"coords": (rows, 3), "coord_mask": (rows,), "z_mask": (rows,), "visibility": (rows,),
                  "presence": (rows,), "vis_mask": (rows,), "pose_presence": (1,), "world": (rows, 3),
                  "world_mask": (1,)}
        crop = tf.ensure_shape(out[0], (s, s, 3))
        return crop, {k: tf.ensure_shape(v, shapes[k]) for k, v in zip(TARGET_KEYS, out[1:])}

    return ds.map(tf_prep, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=augment)


def engine_targets(t: dict, rows: int, input_size: int) -> dict:
    """The data engine's landmark targets (training.data.pipeline) -> this package's loss
    targets (training.losses docstring). TensorFlow, batched."""
    import tensorflow as tf

    b = tf.shape(t["landmarks"])[0]
    pres = tf.reshape(t["presence"], [-1, 1])
    pad = rows - NUM_LANDMARKS - 2
    aux = tf.concat([t["aux"], tf.zeros([b, 2, 1])], -1)
    coords = tf.concat([t["landmarks"], aux, tf.zeros([b, pad, 3])], 1)
    lmask = t["landmark_mask"] * pres
    has_aux = tf.reshape(t["has_aux"], [-1, 1]) * pres
    zeros33 = tf.zeros([b, rows - NUM_LANDMARKS])
    coord_mask = tf.concat([lmask, tf.tile(has_aux, [1, 2]), tf.zeros([b, pad])], 1)
    has_world = tf.reshape(t["has_world"], [-1, 1])
    xy = t["landmarks"][..., :2]
    inside = tf.cast(tf.reduce_all((xy >= -0.5) & (xy < input_size - 0.5), -1), tf.float32)
    return {
        "coords": coords,
        "coord_mask": coord_mask,
        # z is known only where world landmarks are (synthetic / 3D data); 2D sets carry z = 0.
        "z_mask": tf.concat([lmask * has_world, zeros33], 1),
        "visibility": tf.concat([t["visibility"], zeros33], 1),
        "presence": tf.concat([lmask * inside, zeros33], 1),
        "vis_mask": tf.concat([lmask, zeros33], 1),
        "pose_presence": pres,
        "world": tf.concat([t["world_m"], tf.zeros([b, rows - NUM_LANDMARKS, 3])], 1),
        "world_mask": has_world,
    }


def make_engine_dataset(files: list[str], model_cfg: LandmarkModelConfig, train_cfg: TrainConfig, batch_size: int,
                        training: bool = True, input_context=None):
    """The data engine's landmark pipeline, mapped to this package's loss targets."""
    from training.data.augment import AugmentOptions
    from training.data.pipeline import make_landmark_dataset

    if input_context is not None and input_context.num_input_pipelines > 1:
        files = files[input_context.input_pipeline_id::input_context.num_input_pipelines]
    opts = AugmentOptions(**{"negative_prob": train_cfg.negative_prob, **train_cfg.augment})
    ds = make_landmark_dataset(files, batch_size, training=training, input_size=model_cfg.input_size,
                               seed=None if training else 0, options=opts, shuffle_buffer=train_cfg.shuffle_buffer)
    return ds.map(lambda image, t: (image, engine_targets(t, model_cfg.num_rows, model_cfg.input_size)))


# --- evaluation ---------------------------------------------------------------------------


def evaluate(predict, files: list[str], model_cfg: LandmarkModelConfig, max_samples: int = 300,
             batch_size: int = 16) -> dict:
    """Landmark-stage accuracy on un-augmented crops of the ground-truth ROI (the SDK's crop).

    ``predict(crops (B, S, S, 3)) -> (landmarks (B, rows, >=3) tensor px, world (B, rows, 3) or
    None)``. Returns PCK@0.2 (torso = left shoulder - right hip, over labelled landmarks), the
    mean landmark error in tensor px (of an S-px crop), world MPJPE in mm (hip-centred, where
    world labels exist) and the number of crops.
    """
    from blazepose_sdk.bench.metrics import pck

    ds = make_dataset(files, model_cfg, TrainConfig(), batch_size, augment=False)
    preds, gts, masks, wp, wg = [], [], [], [], []
    seen = 0
    for crops, t in ds:
        if seen >= max_samples:
            break
        lm, world = predict(crops.numpy())
        preds.append(np.asarray(lm)[:, :NUM_LANDMARKS, :2])
        gts.append(t["coords"].numpy()[:, :NUM_LANDMARKS, :2])
        masks.append(t["coord_mask"].numpy()[:, :NUM_LANDMARKS] > 0)
        if world is not None:
            keep = t["world_mask"].numpy()[:, 0] > 0
            wp.append(np.asarray(world)[keep, :NUM_LANDMARKS])
            wg.append(t["world"].numpy()[keep, :NUM_LANDMARKS])
        seen += len(crops)
    pred, gt, mask = np.concatenate(preds), np.concatenate(gts), np.concatenate(masks)
    err = np.linalg.norm(pred - gt, axis=-1)
    out = {"crops": len(pred), "pck@0.2": float(pck(pred, gt, mask)),
           "mean_err_px": float(err[mask].mean())}
    if wp:
        p, g = np.concatenate(wp), np.concatenate(wg)
        out["mpjpe_mm"] = float(1000 * np.linalg.norm(p - g, axis=-1).mean()) if len(p) else float("nan")
    return out


def keras_predictor(model):
    def predict(crops):
        out = model(crops, training=False)
        return out["landmarks"].numpy(), out["world"].numpy()

    return predict


def tflite_predictor(path: str):
    """Run a landmark .tflite (ours or the official ones) through the SDK, one crop at a time:
    PoseLandmarker's output identification and decoding, heatmap refinement when the model has
    a heatmap (as the SDK does at inference)."""
    from blazepose_sdk.stages.landmarker import PoseLandmarker, decode_landmark_tensor, refine_with_heatmap
    from blazepose_sdk.stages.runtime import TFLiteModel

    lmk = PoseLandmarker(TFLiteModel(path))

    def predict(crops):
        lms, worlds = [], []
        for c in crops:
            out = lmk.model.run(c[None])
            rows = decode_landmark_tensor(out[lmk.landmarks_output], lmk.input_size, lmk.num_rows)
            if lmk.refine:
                rows = refine_with_heatmap(rows, out[lmk.heatmap_output])
            lms.append(rows[:, :3] * lmk.input_size)
            w = out[lmk.world_output] if lmk.world_output is not None else np.full(lmk.num_rows * 3, np.nan)
            worlds.append(np.asarray(w).reshape(lmk.num_rows, 3))
        return np.stack(lms), np.stack(worlds)

    return predict


# --- export -------------------------------------------------------------------------------


def export(model, model_cfg: LandmarkModelConfig, out_dir: str | Path, name: str,
           representative_files: list[str] | None = None, num_calibration: int = 200) -> list[dict]:
    """Write ``name``.keras (the inference model), ``name``.tflite (float32),
    ``name``_int8.tflite (if representative files) and manifest.json to ``out_dir``; returns
    the manifest entries."""
    from training.models.export import landmark_manifest_entry, to_tflite, write_manifest
    from training.models.landmark import inference_model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    infer = inference_model(model)
    infer.save(out_dir / f"{name}.keras")  # the input of `python -m convert keras`
    entries = []
    p = to_tflite(infer, out_dir / f"{name}.tflite", "float")
    entries.append(landmark_manifest_entry(p, "float"))
    if representative_files:
        ds = make_dataset(representative_files, model_cfg, TrainConfig(), 1, augment=False)

        def rep():
            for crop, _ in ds.take(num_calibration):
                yield crop.numpy()

        p = to_tflite(infer, out_dir / f"{name}_int8.tflite", "int8", rep)
        entries.append(landmark_manifest_entry(p, "int8"))
    write_manifest(out_dir, entries)
    return entries


def parse_overrides(items: list[str]) -> dict:
    """``key=value`` pairs; values parsed as YAML (numbers, lists, booleans)."""
    import yaml

    out = {}
    for item in items or []:
        key, _, value = item.partition("=")
        out[key.strip()] = yaml.safe_load(value)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.train_landmarks", description=__doc__.splitlines()[0])
    add_run_arguments(ap)
    ap.add_argument("--eval-only", action="store_true",
                    help="evaluate the latest checkpoint on train.val_data (and --compare models), no training")
    ap.add_argument("--compare", action="append", default=[], metavar="TFLITE",
                    help="with --eval-only: also evaluate this landmark .tflite (e.g. the official lite model)")
    a = ap.parse_args(argv)

    from training.losses import landmark_losses
    from training.models.landmark import build_landmark_model
    from training.models.runner import train_and_export

    cfg = load_config(a.config, "landmark", parse_overrides(a.set))
    if a.eval_only:
        import json

        import tensorflow as tf

        val = expand_files(cfg.train.val_data or cfg.train.data)
        model = build_landmark_model(cfg.model)
        ckpt = tf.train.latest_checkpoint(str(Path(a.run_dir) / "ckpt"))
        if ckpt is None:
            raise SystemExit(f"no checkpoint in {a.run_dir}/ckpt")
        tf.train.Checkpoint(model=model).restore(ckpt).expect_partial()
        rows = {f"ours ({Path(ckpt).name})": evaluate(keras_predictor(model), val, cfg.model)}
        for path in a.compare:
            rows[Path(path).name] = evaluate(tflite_predictor(path), val, cfg.model)
        print(json.dumps(rows, indent=1))
        return 0
    files = expand_files(cfg.train.data)
    loss_cfg: LandmarkLossConfig = cfg.loss
    train_and_export(
        a, cfg, build_model=lambda: build_landmark_model(cfg.model),
        loss_fn=lambda out, t: landmark_losses(out, t, loss_cfg, cfg.model.heatmap_stride),
        make_dataset=lambda batch, ctx: (make_engine_dataset(files, cfg.model, cfg.train, batch, True, ctx)
                                         if cfg.train.input == "engine"
                                         else make_dataset(files, cfg.model, cfg.train, batch, True, ctx)),
        export=lambda model, out_dir, rep: export(model, cfg.model, out_dir, "pose_landmark_ours", rep),
        representative_files=expand_files(cfg.train.val_data) if cfg.train.val_data else files,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
