"""Model inputs for calibration (representative datasets) and for parity checks.

Three sources, all ending in (N, S, S, 3) float32 arrays in the model's input range:

* the data engine: a folder of ``*.tfrecord`` shards (training.data), cropped at each sample's
  alignment points exactly as the tracker crops (:func:`engine_samples`);
* any folder of images / videos: the SDK's detector finds people and their ROI crops are used
  (:func:`frames_from_folder`, :func:`landmark_crops`);
* whole frames letterboxed for a detector (:func:`detector_inputs`).

Coordinate frames: ``Roi`` in image pixels (blazepose_sdk.geometry.roi); crops are model-input pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose_sdk.stages.detector import DETECTOR_VALUE_RANGE, PoseDetector
from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.stages.landmarker import LANDMARK_VALUE_RANGE
from blazepose_sdk.geometry.roi import Roi, letterbox_roi, roi_from_alignment_points
from blazepose_sdk.stages.runtime import TFLiteModel

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".webm")
# Model kinds and the input value range each expects (the SDK's constants, from MediaPipe graphs).
VALUE_RANGES = {"landmark": LANDMARK_VALUE_RANGE, "detector": DETECTOR_VALUE_RANGE, "generic": (0.0, 1.0)}


@dataclass(frozen=True)
class Crop:
    """One landmark-model input: which frame, the ROI (image pixels) and the tensor (1, S, S, 3)."""

    frame_index: int
    roi: Roi
    tensor: np.ndarray


def frames_from_folder(folder: str | os.PathLike, max_frames: int = 200, video_stride: int = 10) -> list[np.ndarray]:
    """RGB uint8 frames from the images and videos of ``folder`` (sorted by name).

    Every ``video_stride``-th video frame is taken; at most ``max_frames`` in total.
    """
    from blazepose_sdk.app.video import VideoReader, read_image

    folder = Path(folder)
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    else:
        raise FileNotFoundError(f"calibration source not found: {folder}")
    frames: list[np.ndarray] = []
    for path in files:
        if len(frames) >= max_frames:
            break
        if path.suffix.lower() in IMAGE_SUFFIXES:
            frames.append(read_image(path))
            continue
        with VideoReader(path) as reader:
            for k, (_, frame) in enumerate(reader):
                if len(frames) >= max_frames:
                    break
                if k % video_stride == 0:
                    frames.append(frame)
    if not frames:
        raise ValueError(f"no images or videos in {folder}")
    return frames


def detector_inputs(frames: list[np.ndarray], size: int) -> np.ndarray:
    """(N, size, size, 3) letterboxed whole frames in the detector's range (-1..1)."""
    out = [crop_roi(f, letterbox_roi(f.shape[1], f.shape[0]), size, DETECTOR_VALUE_RANGE, border="zero")[0] for f in frames]
    return np.stack(out).astype(np.float32)


def generic_inputs(frames: list[np.ndarray], size_hw: tuple[int, int], value_range=(0.0, 1.0)) -> np.ndarray:
    """(N, H, W, 3) frames stretched to the model's input size, mapped to ``value_range``."""
    import cv2

    lo, hi = value_range
    out = [cv2.resize(f, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA).astype(np.float32) * ((hi - lo) / 255.0) + lo
           for f in frames]
    return np.stack(out).astype(np.float32)


def detect_rois(frames: list[np.ndarray], detector_path: str | os.PathLike, max_per_frame: int = 2,
                min_score: float = 0.5, num_threads: int | None = None) -> list[tuple[int, Roi]]:
    """(frame index, ROI) for up to ``max_per_frame`` people per frame, found by the SDK's detector.

    ROIs come from the detection's hip-centre and body-circle points
    (``roi_from_alignment_points``), exactly as the tracker's first frame.
    """
    out = []
    with TFLiteModel(detector_path, num_threads=num_threads) as model:
        detector = PoseDetector(model, min_score=min_score)
        for i, frame in enumerate(frames):
            for det in detector(frame)[:max_per_frame]:
                roi = det.roi()
                if roi.is_valid():
                    out.append((i, roi))
    return out


# ROI jitter for calibration crops: the tracker's ROIs wander around the detector's by roughly
# this much from frame to frame (our choice, not a MediaPipe constant): +-10 deg, +-10 % size,
# +-5 % of the size in position.
JITTER_ROTATION_RAD = np.deg2rad(10.0)
JITTER_SCALE = 0.10
JITTER_SHIFT = 0.05


def jitter_rois(rois: list[tuple[int, Roi]], copies: int = 3, seed: int = 0) -> list[tuple[int, Roi]]:
    """Each ROI plus ``copies`` randomly perturbed ones (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    out = []
    for i, roi in rois:
        out.append((i, roi))
        for _ in range(copies):
            u = rng.uniform(-1.0, 1.0, size=4)
            out.append((i, Roi(
                roi.center_x_px + u[0] * JITTER_SHIFT * roi.size_px,
                roi.center_y_px + u[1] * JITTER_SHIFT * roi.size_px,
                roi.size_px * (1.0 + u[2] * JITTER_SCALE),
                roi.rotation_rad + u[3] * JITTER_ROTATION_RAD,
            )))
    return out


def landmark_crops(frames: list[np.ndarray], rois: list[tuple[int, Roi]], size: int) -> list[Crop]:
    """Crops of the ROIs at the landmark model's input size, range 0..1 (replicated border)."""
    return [Crop(i, roi, crop_roi(frames[i], roi, size, LANDMARK_VALUE_RANGE, border="replicate")) for i, roi in rois]


def engine_samples(folder: str | os.PathLike, size: int, limit: int = 200) -> list[tuple[np.ndarray, Roi]]:
    """(RGB frame, ROI) pairs from the data engine's TFRecord shards in ``folder``.

    The ROI is built from the sample's labelled alignment points (hip centre, body-circle
    point), the same construction as a detection's.
    """
    from training.data.sample import read_tfrecords  # the data engine (optional, read-only)

    shards = sorted(Path(folder).glob("*.tfrecord"))
    if not shards:
        raise FileNotFoundError(f"no *.tfrecord shards in {folder}")
    out = []
    for sample in read_tfrecords(shards, limit):
        points = np.asarray(sample.alignment_px, dtype=np.float64)
        if not np.all(np.isfinite(points[:2])):
            continue
        roi = roi_from_alignment_points(points[0], points[1])
        if roi.is_valid():
            out.append((sample.image_rgb(), roi))
    return out


def calibration_inputs(kind: str, input_shape: tuple[int, ...], source: str | os.PathLike,
                       detector_path: str | os.PathLike | None = None, limit: int = 200,
                       value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Representative inputs (N, H, W, 3) float32 for a model of ``kind`` from ``source``.

    ``source`` is a data-engine folder (``*.tfrecord``), an image/video folder, a single file,
    or a ``.npy`` array already in the model's input range. Landmark models need
    ``detector_path`` for image folders (people are found by the detector).
    """
    source = Path(source)
    _, h, w, _ = input_shape
    if source.suffix == ".npy":
        data = np.load(source).astype(np.float32)
        if tuple(data.shape[1:]) != tuple(input_shape[1:]):
            raise ValueError(f"{source} holds {data.shape}, the model takes {input_shape}")
        return data[:limit]
    if kind in ("landmark", "detector") and source.is_dir() and any(source.glob("*.tfrecord")):
        pairs = engine_samples(source, h, limit)
        if kind == "detector":  # whole frames, letterboxed as the SDK does
            return detector_inputs([frame for frame, _ in pairs], h)
        return np.stack([crop_roi(f, r, h, LANDMARK_VALUE_RANGE, border="replicate")[0] for f, r in pairs])
    frames = frames_from_folder(source, max_frames=limit)
    if kind == "detector":
        return detector_inputs(frames, h)
    if kind == "landmark":
        if detector_path is None:
            raise ValueError("landmark calibration from images needs a detector model (--detector)")
        crops = landmark_crops(frames, detect_rois(frames, detector_path), h)
        if not crops:
            raise ValueError(f"the detector found nobody in {source}; give other images or a data-engine folder")
        return np.stack([c.tensor[0] for c in crops[:limit]])
    return generic_inputs(frames, (h, w), value_range or VALUE_RANGES["generic"])


def model_kind(inputs: list, outputs: list) -> str:
    """'detector', 'landmark' or 'generic', from TensorSpec-like I/O (``.shape``) of a TFLite model.

    detector: one square image input and (1, N, >=12) boxes + (1, N, 1) scores;
    landmark: one square image input and a (1, R*5) + (1, 1) pair, R >= 35 (SDK's rules).
    """
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != inputs[0].shape[2]:
        return "generic"
    shapes = [tuple(o.shape) for o in outputs]
    three = [s for s in shapes if len(s) == 3]
    if any(s[2] == 1 for s in three) and any(s[2] >= 12 for s in three):
        return "detector"
    sizes = [int(np.prod(s)) for s in shapes]
    if 1 in sizes and any(len(s) == 2 and n % 5 == 0 and n // 5 >= 35 for s, n in zip(shapes, sizes)):
        return "landmark"
    return "generic"
