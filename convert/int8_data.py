"""Calibration and held-out data of :mod:`convert.int8_official` (INT8 of the official models).

Data (``../shared/data``, real frames only):

* calibration: vtest.avi's first half, basketball1.png augmentations (:data:`CALIBRATION_SPECS`:
  crops, flips, rotations, scales) and the 60-frame pan/zoom/roll clip over basketball1;
* held-out: vtest.avi's second half and other basketball1 augmentations (:data:`HELDOUT_SPECS`).

Landmark inputs are the ROIs the SDK's float pipeline (``PoseTracker`` with the official float
models) tracks on those frames (video: tracked frame to frame; stills: the detector's ROI),
cropped as ``PoseTracker.process_roi`` crops them. Detector inputs are whole frames.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
VTEST = "vtest.avi"

CALIBRATION_SPECS = [
    {"source": "basketball1.png", "op": "rotate", "angle_deg": a} for a in (-60, -20, 15, 45, 135, 180, 270)
] + [
    {"source": "basketball1.png", "op": "flip"},
    {"source": "basketball1.png", "op": "crop_scale", "crop_xywh": [0, 0, 320, 480], "scale": 1.5},
    {"source": "basketball1.png", "op": "crop_scale", "crop_xywh": [200, 40, 440, 440], "scale": 1.2},
    {"source": "basketball1.png", "op": "crop_scale", "crop_xywh": [40, 0, 400, 480], "scale": 0.6},
    {"source": "basketball1.png", "op": "pad", "pad_ltrb": [0, 200, 300, 0]},
]
HELDOUT_SPECS = [
    {"source": "basketball1.png", "op": "identity"},
    {"source": "basketball1.png", "op": "rotate", "angle_deg": 30},
    {"source": "basketball1.png", "op": "rotate", "angle_deg": -45},
    {"source": "basketball1.png", "op": "rotate", "angle_deg": 90},
    {"source": "basketball1.png", "op": "crop_scale", "crop_xywh": [100, 20, 360, 460], "scale": 0.8},
    {"source": "basketball1.png", "op": "crop_scale", "crop_xywh": [0, 60, 480, 420], "scale": 1.3},
    {"source": "basketball1.png", "op": "pad", "pad_ltrb": [100, 100, 100, 100]},
]
PAN_CLIP_FRAMES = 60
# Frame strides (ours): detector frames and landmark ROIs kept from each video.
DETECTOR_VIDEO_STRIDE = {"calibration": 6, "heldout": 4}
LANDMARK_VIDEO_STRIDE = {"calibration": 3, "heldout": 3}
CALIBRATION_LIMIT = 200
# Calibration ROIs: each tracked ROI plus this many jittered copies (convert.calibration.jitter_rois).
CALIBRATION_JITTER_COPIES = 1


@dataclass
class FrameSource:
    """Frames of one source; ``video`` True when consecutive (the tracker tracks across them)."""

    name: str
    frames: list[np.ndarray]
    video: bool


def _parity_images():
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import parity_images  # tests/parity_images.py: deterministic derivations of the shared data

    return parity_images


def vtest_half(shared_dir: Path, half: str) -> list[np.ndarray]:
    """vtest.avi's first ("calibration") or second ("heldout") half, RGB uint8."""
    from blazepose_sdk.app.video import VideoReader

    path = Path(shared_dir) / VTEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (shared/data must sit beside the repository)")
    with VideoReader(path) as reader:
        frames = [f for _, f in reader]
    mid = len(frames) // 2
    return frames[:mid] if half == "calibration" else frames[mid:]


def sequences(split: str, shared_dir: Path = SHARED_DATA) -> list[FrameSource]:
    """The frame sources of ``split`` ("calibration" or "heldout"); see the module docstring."""
    if split not in ("calibration", "heldout"):
        raise ValueError(f"split must be 'calibration' or 'heldout', got {split!r}")
    pi = _parity_images()
    specs = CALIBRATION_SPECS if split == "calibration" else HELDOUT_SPECS
    out = [FrameSource(f"vtest {split} half", vtest_half(shared_dir, split), True),
           FrameSource("basketball1 augmentations", [pi.derive_image(s, shared_dir) for s in specs], False)]
    if split == "calibration":
        out.append(FrameSource("pan clip", pi.make_pan_clip(shared_dir, PAN_CLIP_FRAMES), True))
    return out


def detector_frames(seqs: list[FrameSource], split: str) -> list[np.ndarray]:
    """Whole frames for a detector: every k-th video frame with its left and right halves (the
    pedestrians of vtest.avi are too small for the detector in the whole frame, half-frame crops
    make them 2x larger), every still."""
    stride = DETECTOR_VIDEO_STRIDE[split]
    out = []
    for s in seqs:
        if not s.video:
            out += s.frames
            continue
        for f in s.frames[::stride]:
            half = f.shape[1] // 2
            out += [f, np.ascontiguousarray(f[:, :half]), np.ascontiguousarray(f[:, half:])]
    return out


def tracker_rois(seqs: list[FrameSource], pipeline: str, split: str,
                 jitter_copies: int = 0) -> tuple[list[np.ndarray], list[tuple[int, object]]]:
    """(frames, [(frame index, Roi)]) from the SDK's float pipeline ``pipeline``.

    Videos are tracked frame by frame (``PoseTracker.process``) and the ROI the landmark model
    ran on is kept for every k-th frame; stills run the detector (static mode). With
    ``jitter_copies`` > 0 each ROI gets that many randomly perturbed copies
    (:func:`convert.calibration.jitter_rois`), for calibration.
    """
    from blazepose_sdk import PoseTracker, TrackerOptions

    from .calibration import jitter_rois

    stride = LANDMARK_VIDEO_STRIDE[split]
    frames: list[np.ndarray] = []
    rois: list[tuple[int, object]] = []
    for seq in seqs:
        options = TrackerOptions(model=pipeline, num_threads=2, static_image_mode=not seq.video)
        with PoseTracker(options) as tracker:
            for k, frame in enumerate(seq.frames):
                result = tracker.process(frame, timestamp_ms=k * 100.0 if seq.video else None)
                keep = (k % stride == 0) if seq.video else True
                if keep and result.pose is not None:
                    frames.append(frame)
                    rois.append((len(frames) - 1, result.pose.roi))
    if jitter_copies:
        rois = jitter_rois(rois, copies=jitter_copies)
    return frames, rois


def landmark_crops(frames, rois, size: int = 256) -> np.ndarray:
    """(N, size, size, 3) crops in the landmark range, exactly as the landmarker crops."""
    from .calibration import landmark_crops as crops

    return np.stack([c.tensor[0] for c in crops(frames, rois, size)]).astype(np.float32)


@dataclass
class ModelData:
    """Everything one model needs: calibration inputs and the held-out frames / ROIs."""

    kind: str
    calibration: np.ndarray
    calib_frames: list[np.ndarray]
    calib_rois: list | None
    heldout_frames: list[np.ndarray]
    heldout_rois: list | None
    notes: list[str] = field(default_factory=list)


def model_data(kind: str, pipeline: str, shared_dir: Path = SHARED_DATA) -> ModelData:
    """Calibration and held-out data for a model of ``kind`` ("detector" or "landmark") whose float
    version the SDK pipeline ``pipeline`` runs (``int8_official.MODELS``)."""
    from .calibration import detector_inputs

    cal_seqs, held_seqs = sequences("calibration", shared_dir), sequences("heldout", shared_dir)
    if kind == "detector":
        cal = detector_frames(cal_seqs, "calibration")
        held = detector_frames(held_seqs, "heldout")
        inputs = detector_inputs(cal, 224)
        idx = np.linspace(0, len(inputs) - 1, min(len(inputs), CALIBRATION_LIMIT)).round().astype(int)
        return ModelData(kind, inputs[idx], cal, None, held, None,
                         [f"calibration: {len(idx)} frames; held-out: {len(held)} frames"])
    cal_frames, cal_rois = tracker_rois(cal_seqs, pipeline, "calibration", jitter_copies=CALIBRATION_JITTER_COPIES)
    held_frames, held_rois = tracker_rois(held_seqs, pipeline, "heldout")
    crops = landmark_crops(cal_frames, cal_rois)
    idx = np.linspace(0, len(crops) - 1, min(len(crops), CALIBRATION_LIMIT)).round().astype(int)
    return ModelData(kind, crops[idx], cal_frames, cal_rois, held_frames, held_rois,
                     [f"calibration: {len(idx)} tracker ROIs ({pipeline} float); held-out: {len(held_rois)} ROIs"])
