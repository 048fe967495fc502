"""The tf.data input pipeline for the landmark and detector models.

Output signature (B = batch size; all float32)
-----------------------------------------------
``make_landmark_dataset(files, batch_size, training=True, input_size=256, seed=...)`` yields
``(image, targets)``:

    image                    (B, N, N, 3)  RGB in [0, 1]  (N = input_size, 256 by default)
    targets["landmarks"]     (B, 33, 3)    x, y in crop pixels, z: hip-relative depth in crop
                                           pixels (same scale as x)
    targets["visibility"]    (B, 33)       1 = inside the crop and not occluded (source label,
                                           occlusion rectangles); 0 where landmark_mask is 0
    targets["landmark_mask"] (B, 33)       1 = the landmark is labelled (use it to mask the
                                           coordinate loss; visibility is meaningful only here)
    targets["world_m"]       (B, 33, 3)    metres, hip-centred, in the crop's upright frame
                                           (x right, y down, z away from the camera)
    targets["has_world"]     (B,)          1 = world_m is labelled
    targets["presence"]      (B,)          1 = person crop, 0 = negative crop (all masks 0)
    targets["aux"]           (B, 2, 2)     hip centre, body-circle point in crop pixels (the
                                           landmark model's rows 33 and 34)
    targets["has_aux"]       (B,)          1 = aux comes from the sample's alignment points

``make_detector_dataset(files, batch_size, training=True, input_size=224, seed=...)`` yields
``(image, targets)``:

    image                    (B, N, N, 3)  RGB in [-1, 1], the whole frame letterboxed (padding
                                           = -1, i.e. black, as the SDK detector)
    targets["face_box"]      (B, 4)        xmin, ymin, xmax, ymax / N (0..1 of the tensor)
    targets["has_face_box"]  (B,)
    targets["alignment"]     (B, 4, 2)     hip centre, body-circle point, shoulder centre,
                                           upper-body-circle point / N
    targets["has_alignment"] (B,)

One record = one labelled person, so an image with several people gives several detector
examples, each with one target (see docs/data.md).

Coordinates: "crop pixels" are the tensor's *index* coordinates (pixel u covers u - 0.5 .. u +
0.5), the convention of OpenCV and of the SDK's warps, so the SDK's decode of a model trained on
these targets lands in the right place; see ``training.data.augment`` for the -0.5 shift from the
data engine's pixel-centre convention. The crop ROI is the SDK's inference ROI
(``blazepose_sdk.geometry.roi.roi_from_alignment_points``, scale 1.25) before jitter.

Implementation: records are parsed and augmented by ``training.data.augment`` (numpy + OpenCV)
inside ``tf.numpy_function``, run on tf.data's parallel threads (OpenCV releases the GIL). The
example with global index i (counting over repeated epochs, after shuffling) is augmented with
``numpy.random.default_rng([seed, i])`` and the shuffle uses ``seed`` too, so a dataset is a pure
function of (files, seed, options) whatever the parallelism. ``training=False``: file order, no
augmentation, one pass, last batch kept.

Training draws every record with the same probability from the first batch on, however the
records are spread over files: each file is read from a random record onwards (wrapping round),
and the files are mixed at random in proportion to their record counts. (Reading a few files at a
time in file order would give a short run, such as a cached chunk of a few hundred crops, only
the first records of a few files: the first clips of a clip-ordered data set.) A source may name
its share of the draws as ``PATH@SHARE`` (a folder, file or glob; e.g. ``/data/real@0.6
/data/composites@0.4``): then every source needs one, the shares are normalised to sum to 1,
and within a source records are equally likely. ``training=False`` ignores shares.
"""

from __future__ import annotations

import functools
import glob
import os
import struct
from pathlib import Path

import numpy as np

from training.data.augment import (
    DETECTOR_INPUT_SIZE,
    LANDMARK_INPUT_SIZE,
    AugmentOptions,
    detector_crop,
    landmark_crop,
)
from training.data.sample import NUM_LANDMARKS, from_example_bytes

LANDMARK_TARGET_SHAPES = {
    "landmarks": (NUM_LANDMARKS, 3), "visibility": (NUM_LANDMARKS,), "landmark_mask": (NUM_LANDMARKS,),
    "world_m": (NUM_LANDMARKS, 3), "has_world": (), "presence": (), "aux": (2, 2), "has_aux": (),
}
DETECTOR_TARGET_SHAPES = {"face_box": (4,), "has_face_box": (), "alignment": (4, 2), "has_alignment": ()}
DEFAULT_SHUFFLE_BUFFER = 2048


def split_share(spec: str | Path) -> tuple[str, float | None]:
    """``"PATH@SHARE"`` -> (PATH, SHARE); a plain path -> (path, None). SHARE must be > 0."""
    text = str(spec)
    path, sep, share = text.rpartition("@")
    if not sep or not path:
        return text, None
    try:
        value = float(share)
    except ValueError:
        return text, None  # an "@" that is part of the path
    if not value > 0:
        raise ValueError(f"the share in {text!r} must be > 0")
    return path, value


def source_files(tfrecord_files) -> list[tuple[list[str], float | None]]:
    """Each source (``PATH`` or ``PATH@SHARE``) -> (its sorted files, its share or None).
    Raises ValueError when some sources have a share and others not."""
    if isinstance(tfrecord_files, (str, Path)):
        tfrecord_files = [tfrecord_files]
    out = []
    for spec in tfrecord_files:
        path, share = split_share(spec)
        out.append((expand_files([path]), share))
    if len({share is None for _, share in out}) > 1:
        raise ValueError(f"give every source a share (PATH@SHARE) or none: {list(map(str, tfrecord_files))}")
    return out


@functools.lru_cache(maxsize=4096)
def _record_count(path: str, size: int, mtime_ns: int) -> int:
    n, offset = 0, 0
    with open(path, "rb") as f:
        while offset < size:
            header = f.read(8)
            if len(header) < 8:
                break
            (length,) = struct.unpack("<Q", header)
            offset += 8 + 4 + length + 4  # length, its CRC, payload, its CRC
            f.seek(offset)
            n += 1
    return n


def record_count(path: str | Path) -> int:
    """Records in a TFRecord file, from its length headers (payloads are skipped, not read)."""
    st = os.stat(path)
    return _record_count(str(path), st.st_size, st.st_mtime_ns)


def file_weights(sources: list[tuple[list[str], float | None]]) -> tuple[list[str], np.ndarray]:
    """(files, probability of drawing from each): proportional to record counts, or, with
    shares, each source's share split over its files by their record counts. Empty files drop."""
    files, weights = [], []
    shares = np.array([share if share is not None else 1.0 for _, share in sources], np.float64)
    shared = sources[0][1] is not None
    for (paths, _), share in zip(sources, shares / shares.sum()):
        counts = np.array([record_count(p) for p in paths], np.float64)
        if counts.sum() == 0:
            continue
        files += [p for p, c in zip(paths, counts) if c > 0]
        weights += list(counts[counts > 0] * (share / counts.sum() if shared else 1.0))
    if not files:
        raise ValueError(f"the TFRecord files hold no records: {[p for paths, _ in sources for p in paths]}")
    w = np.array(weights)
    return files, w / w.sum()


def expand_files(tfrecord_files) -> list[str]:
    """Paths, folders (every ``*.tfrecord`` inside) or glob patterns -> sorted file list
    (a ``PATH@SHARE`` source counts as PATH)."""
    if isinstance(tfrecord_files, (str, Path)):
        tfrecord_files = [tfrecord_files]
    out = []
    for f in tfrecord_files:
        f = split_share(f)[0]
        if Path(f).is_dir():
            out += sorted(glob.glob(str(Path(f) / "*.tfrecord")))
        elif any(c in f for c in "*?["):
            out += sorted(glob.glob(f))
        else:
            out.append(f)
    if not out:
        raise FileNotFoundError(f"no TFRecord files in {tfrecord_files!r}")
    return out


def _resolve_seed(seed: int | None) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    return int(seed)


def _records(tfrecord_files, training: bool, seed: int, shuffle_buffer: int):
    """(index, serialized record) pairs. Training: an endless draw, every record (or every
    record of a source, with shares) equally likely from the start (module docstring), then
    shuffled; otherwise one pass in file order."""
    import tensorflow as tf

    if not training:
        return tf.data.TFRecordDataset(expand_files(tfrecord_files)).enumerate()
    files, weights = file_weights(source_files(tfrecord_files))
    starts = np.random.default_rng([seed, len(files)]).random(len(files))
    streams = [tf.data.TFRecordDataset(f).repeat().skip(int(start * record_count(f)))
               for f, start in zip(files, starts)]
    ds = streams[0] if len(streams) == 1 else tf.data.Dataset.sample_from_datasets(
        streams, weights=weights.tolist(), seed=seed, stop_on_empty_dataset=False)
    return ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).enumerate()


def _landmark_fn(seed: int, training: bool, input_size: int, options: AugmentOptions | None):
    def fn(index, record):
        s = from_example_bytes(bytes(record))
        c = landmark_crop(s, np.random.default_rng([seed, int(index)]), options, input_size, training)
        valid = bool(c.landmark_mask.sum() > 0 or c.presence == 0.0)
        f = np.float32
        return (c.image, c.landmarks, c.visibility, c.landmark_mask, c.world_m, f(c.has_world), f(c.presence),
                c.aux, f(c.has_aux), np.bool_(valid))

    return fn


def _detector_fn(seed: int, training: bool, input_size: int, options: AugmentOptions | None):
    def fn(index, record):
        s = from_example_bytes(bytes(record))
        c = detector_crop(s, np.random.default_rng([seed, int(index)]), options, input_size, training)
        valid = bool(c.has_alignment > 0 or c.has_face_box > 0)
        f = np.float32
        return c.image, c.face_box, f(c.has_face_box), c.alignment, f(c.has_alignment), np.bool_(valid)

    return fn


def _build(fn, keys_shapes: dict, files, batch_size, training, input_size, seed, shuffle_buffer,
           num_parallel_calls, scale_image):
    import tensorflow as tf

    n = int(input_size)
    names = list(keys_shapes)
    tout = [tf.uint8] + [tf.float32] * len(names) + [tf.bool]

    def parse(index, record):
        out = tf.numpy_function(fn, [index, record], tout, stateful=False)
        image = out[0]
        image.set_shape((n, n, 3))
        targets = {}
        for k, t in zip(names, out[1:-1]):
            t.set_shape(keys_shapes[k])
            targets[k] = t
        out[-1].set_shape(())
        return image, targets, out[-1]

    ds = _records(files, training, seed, shuffle_buffer)
    ds = ds.map(parse, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE, deterministic=True)
    def is_valid(image, targets, valid):
        return valid

    def drop_flag(image, targets, valid):
        return image, targets

    def to_float(image, targets):
        return scale_image(tf.cast(image, tf.float32)), targets

    ds = ds.filter(is_valid).map(drop_flag)
    ds = ds.batch(int(batch_size), drop_remainder=training)
    ds = ds.map(to_float)
    return ds.prefetch(tf.data.AUTOTUNE)


def _unit_range(x):
    return x / 255.0


def _signed_range(x):
    return x * (2.0 / 255.0) - 1.0


def make_landmark_dataset(tfrecord_files, batch_size: int, training: bool = True, input_size: int = LANDMARK_INPUT_SIZE,
                          seed: int | None = 0, options: AugmentOptions | None = None,
                          shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER, num_parallel_calls: int | None = None):
    """tf.data.Dataset of (image in [0, 1], targets) batches for the landmark model; see the
    module docstring for the exact signature. Training datasets repeat forever.

    Args:
        tfrecord_files: files, folders or glob patterns of records written by ShardedWriter,
            each optionally ``PATH@SHARE`` (module docstring).
        training: shuffle, repeat, augment (``options``, default ``AugmentOptions()``) and drop
            the last partial batch; False: one plain pass in file order.
        seed: makes the shuffle and every augmentation reproducible; None = a fresh random seed.
    """
    seed = _resolve_seed(seed)
    return _build(_landmark_fn(seed, training, input_size, options), LANDMARK_TARGET_SHAPES, tfrecord_files, batch_size, training,
                  input_size, seed, shuffle_buffer, num_parallel_calls, _unit_range)


def make_detector_dataset(tfrecord_files, batch_size: int, training: bool = True, input_size: int = DETECTOR_INPUT_SIZE,
                          seed: int | None = 0, options: AugmentOptions | None = None,
                          shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER, num_parallel_calls: int | None = None):
    """tf.data.Dataset of (letterboxed image in [-1, 1], targets) batches for the detector; see
    the module docstring. Arguments as :func:`make_landmark_dataset`."""
    seed = _resolve_seed(seed)
    return _build(_detector_fn(seed, training, input_size, options), DETECTOR_TARGET_SHAPES, tfrecord_files, batch_size, training,
                  input_size, seed, shuffle_buffer, num_parallel_calls, _signed_range)
