"""The one sample format shared by synthetic renders, real-format loaders and pseudo-labels,
and its tf.train.Example encoding.

Pixel coordinates: continuous, x right / y down, the centre of pixel (row i, column j) at
(j + 0.5, i + 0.5). ``world_m``: metres, hip-centred, camera-aligned axes (x right, y down,
z away from the camera), as MediaPipe's world landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from blazepose_sdk.geometry.roi import body_circle_points
from blazepose_sdk.geometry.topology import NUM_LANDMARKS

LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 11, 12, 23, 24
FACE_LANDMARKS = tuple(range(11))  # nose .. mouth_right
UPPER_BODY_LANDMARKS = tuple(range(13))  # face + shoulders


@dataclass
class Sample:
    """One labelled person in one image. Arrays are float32 unless said otherwise.

    - image_jpeg: the encoded RGB image (JPEG bytes).
    - landmarks_px (33, 3): x_px, y_px, z_px; z is the depth relative to the hip centre in the
      same pixel scale as x (BlazePose's convention), 0 where unknown.
    - visibility (33,): 1 = the landmark is in the image and not occluded.
    - landmark_mask (33,): 1 = the landmark is labelled (loaders mask missing keypoints).
    - world_m (33, 3) and has_world: hip-centred 3D landmarks, when known.
    - box_xyxy_px (4,): the person box; face_box_xyxy_px (4,) with has_face_box.
    - alignment_px (4, 2): the detector's alignment points: hip centre, body-circle point,
      shoulder centre, upper-body-circle point (see alignment_points()).
    - camera_k (3, 3) and hip_cam_m (3,): the pinhole camera and hip centre in camera
      coordinates (metres) when known (synthetic data), else zeros; then
      project(world_m + hip_cam_m) == landmarks_px[:, :2].
    """

    image_jpeg: bytes
    landmarks_px: np.ndarray
    visibility: np.ndarray
    landmark_mask: np.ndarray
    box_xyxy_px: np.ndarray
    alignment_px: np.ndarray
    world_m: np.ndarray = field(default_factory=lambda: np.zeros((NUM_LANDMARKS, 3), np.float32))
    has_world: float = 0.0
    face_box_xyxy_px: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    has_face_box: float = 0.0
    camera_k: np.ndarray = field(default_factory=lambda: np.zeros((3, 3), np.float32))
    hip_cam_m: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    source: str = ""
    image_id: str = ""

    def image_rgb(self) -> np.ndarray:
        """Decode the image to (H, W, 3) uint8 RGB."""
        bgr = cv2.imdecode(np.frombuffer(self.image_jpeg, np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def encode_jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                           [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def alignment_points(xy_px: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The detector's four alignment points (4, 2) in pixels, from 33 landmarks ``xy_px``.

    Our definition (MediaPipe's detector labels are not published): 0 = hip centre (mid-point
    of the hips); 1 = hip centre + r * u, with u the unit vector hip centre -> shoulder centre
    and r the radius of the circle about the hip centre that holds every labelled landmark;
    2 = shoulder centre; 3 = shoulder centre + r_upper * u, r_upper holding the labelled face
    and shoulder landmarks. Points are NaN when the hips or shoulders are not labelled.
    """
    xy = np.asarray(xy_px, np.float64)[:, :2]
    m = np.asarray(mask) > 0
    out = np.full((4, 2), np.nan)
    body = body_circle_points(xy, m, (LEFT_HIP, RIGHT_HIP), (LEFT_SHOULDER, RIGHT_SHOULDER))
    if body is None:
        return out
    hip, circle = body
    sho = 0.5 * (xy[LEFT_SHOULDER] + xy[RIGHT_SHOULDER])
    n = np.linalg.norm(circle - hip)
    u = (circle - hip) / n if n > 1e-9 else np.array([0.0, -1.0])
    up = np.zeros(NUM_LANDMARKS, bool)
    up[list(UPPER_BODY_LANDMARKS)] = True
    ru = np.max(np.linalg.norm(xy[m & up] - sho, axis=1))
    out[0], out[1], out[2], out[3] = hip, circle, sho, sho + ru * u
    return out


# --- tf.train.Example encoding -------------------------------------------------------------
_FLOAT_FIELDS = {
    "landmarks_px": (NUM_LANDMARKS, 3), "visibility": (NUM_LANDMARKS,),
    "landmark_mask": (NUM_LANDMARKS,), "world_m": (NUM_LANDMARKS, 3), "has_world": (),
    "box_xyxy_px": (4,), "alignment_px": (4, 2), "face_box_xyxy_px": (4,),
    "has_face_box": (), "camera_k": (3, 3), "hip_cam_m": (3,),
}
_BYTES_FIELDS = ("image_jpeg", "source", "image_id")


def to_example_bytes(s: Sample) -> bytes:
    """Serialise a Sample as a tf.train.Example (deterministic byte order)."""
    from tensorflow.core.example import example_pb2, feature_pb2

    feats = {}
    for k in _FLOAT_FIELDS:
        v = np.asarray(getattr(s, k), np.float32).ravel()
        feats[k] = feature_pb2.Feature(float_list=feature_pb2.FloatList(value=v.tolist()))
    for k in _BYTES_FIELDS:
        v = getattr(s, k)
        v = v.encode() if isinstance(v, str) else v
        feats[k] = feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[v]))
    ex = example_pb2.Example(features=feature_pb2.Features(feature=feats))
    return ex.SerializeToString(deterministic=True)


def from_example_bytes(data: bytes) -> Sample:
    """Parse bytes written by to_example_bytes() back into a Sample (numpy, no tf graph)."""
    from tensorflow.core.example import example_pb2

    ex = example_pb2.Example.FromString(data)
    f = ex.features.feature
    kw = {}
    for k, shape in _FLOAT_FIELDS.items():
        arr = np.asarray(f[k].float_list.value, np.float32)
        kw[k] = float(arr[0]) if shape == () else arr.reshape(shape)
    kw["image_jpeg"] = f["image_jpeg"].bytes_list.value[0]
    kw["source"] = f["source"].bytes_list.value[0].decode()
    kw["image_id"] = f["image_id"].bytes_list.value[0].decode()
    return Sample(**kw)


def feature_spec() -> dict:
    """tf.io.parse_single_example spec for the records (used by the tf.data pipeline)."""
    import tensorflow as tf

    spec = {k: tf.io.FixedLenFeature([int(np.prod(s))] if s else [1], tf.float32)
            for k, s in _FLOAT_FIELDS.items()}
    for k in _BYTES_FIELDS:
        spec[k] = tf.io.FixedLenFeature([], tf.string)
    return spec


FLOAT_FIELD_SHAPES = _FLOAT_FIELDS


class ShardedWriter:
    """Writes Samples to ``{prefix}-{i:05d}-of-{n:05d}.tfrecord``, ``per_shard`` records each,
    in the order given (so the files are a pure function of the samples).

    ``total=None`` (count not known in advance, e.g. pseudo-labels): shards are written as
    ``{prefix}-{i:05d}.tfrecord.partial`` and renamed to their final ``-of-`` names when the
    writer is left (``with`` block) or :meth:`finish` is called; ``paths`` then holds the final names.
    """

    def __init__(self, prefix: str, total: int | None, per_shard: int = 1000):
        self.prefix, self.total, self.per_shard = prefix, total, max(1, per_shard)
        self.num_shards = max(1, -(-total // self.per_shard)) if total is not None else None
        self.count, self._w, self.paths = 0, None, []

    def write(self, s: Sample) -> None:
        import tensorflow as tf

        if self.count % self.per_shard == 0:
            self.close()
            i = self.count // self.per_shard
            if self.num_shards is None:
                path = f"{self.prefix}-{i:05d}.tfrecord.partial"
            else:
                path = f"{self.prefix}-{i:05d}-of-{self.num_shards:05d}.tfrecord"
            self.paths.append(path)
            self._w = tf.io.TFRecordWriter(path)
        self._w.write(to_example_bytes(s))
        self.count += 1

    def close(self) -> None:
        """Close the open shard (the writer stays usable)."""
        if self._w is not None:
            self._w.close()
            self._w = None

    def finish(self) -> list[str]:
        """Close, and with ``total=None`` give the shards their final names; returns ``paths``."""
        import os

        self.close()
        if self.num_shards is None:
            n = len(self.paths)
            final = [f"{self.prefix}-{i:05d}-of-{n:05d}.tfrecord" for i in range(n)]
            for a, b in zip(self.paths, final):
                os.replace(a, b)
            self.paths, self.num_shards = final, n
        return self.paths

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()


def read_tfrecords(paths, limit: int | None = None) -> list[Sample]:
    """The samples of the given TFRecord files, in order, at most ``limit`` (for tests and tools)."""
    import tensorflow as tf

    out = []
    for p in paths:
        for rec in tf.data.TFRecordDataset([str(p)]).as_numpy_iterator():
            if limit is not None and len(out) >= limit:
                return out
            out.append(from_example_bytes(rec))
    return out
