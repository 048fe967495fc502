"""The ``tracker`` section of tools/golden.py: the tracker's decisions (detect only without a ROI or
when presence drops) and its smoothing over a scripted sequence, with scripted stand-ins for the
two networks given to the tracker as its stages.
"""

from __future__ import annotations

import numpy as np

from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.stages.detector import Detection
from blazepose_sdk.stages.landmarker import LandmarkerOutput
from blazepose_sdk.tracker import PoseTracker, TrackerOptions
from tools.golden_json import detection_json, roi_json


class _ScriptedDetector:
    """Stands in for PoseDetector: returns scripted detections and records each call."""

    def __init__(self) -> None:
        self.queue: list[list[Detection]] = []
        self.calls: list[list[Detection]] = []

    def __call__(self, frame: np.ndarray, *, bgr: bool = False) -> list[Detection]:
        out = self.queue.pop(0) if self.queue else []
        self.calls.append(out)
        return out


class _ScriptedLandmarker:
    """Stands in for PoseLandmarker: a synthetic person in the ROI it is given, scripted presence."""

    num_landmarks = 5

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.queue: list[float] = []
        self.calls: list[dict] = []
        self.t = 0

    def __call__(self, frame: np.ndarray, roi: Roi, *, bgr: bool = False) -> LandmarkerOutput:
        presence = self.queue.pop(0) if self.queue else 0.0
        n = self.num_landmarks
        # a person drifting right; the model sees it in the ROI with some jitter
        hip = np.array([300.0 + 6.0 * self.t, 260.0]) + self.rng.normal(0, 2.0, 2)
        circle = hip + np.array([8.0, -170.0]) + self.rng.normal(0, 2.0, 2)
        landmarks = np.concatenate([hip + self.rng.normal(0, 60.0, (n, 2)), self.rng.normal(0, 20.0, (n, 1)),
                                    self.rng.uniform(0, 1, (n, 2))], axis=1)
        out = LandmarkerOutput(roi=roi, presence=presence, landmarks_px=landmarks,
                               aux_px=np.stack([hip, circle]), world_m=self.rng.normal(0, 0.5, (n, 3)))
        self.calls.append({"roi": roi_json(roi), "presence": presence, "landmarks_px": landmarks,
                           "aux_px": out.aux_px, "world_m": out.world_m})
        return out


def _synthetic_detection(hip_xy: tuple[float, float], circle_xy: tuple[float, float], score: float) -> Detection:
    hx, hy = hip_xy
    cx, cy = circle_xy
    return Detection(score=score, box_px=(cx - 20.0, cy - 20.0, cx + 20.0, cy + 20.0), hip_center_px=(hx, hy),
                     body_circle_px=(cx, cy), shoulder_center_px=(hx, (hy + cy) / 2.0),
                     upper_body_circle_px=(cx, cy - 30.0))


# Each frame: timestamp (ms, or None for "30 fps after the last"), presences for the landmark
# calls in order, detector outputs for the detector calls in order.
_PERSON = _synthetic_detection((300.0, 262.0), (309.0, 95.0), 0.92)
_OTHER = _synthetic_detection((520.0, 300.0), (515.0, 200.0), 0.61)
_TINY = _synthetic_detection((100.0, 100.0), (100.4, 99.7), 0.8)  # ROI below 2 px: invalid
TRACKER_SCRIPT: tuple[tuple[float | None, list[float], list[list[Detection]]], ...] = (
    (0.0, [0.90], [[_PERSON, _OTHER]]),   # no ROI yet: detect, best detection first
    (33.0, [0.85], []),                   # tracked
    (66.0, [0.80], []),
    (None, [0.75], []),                   # no timestamp: 30 fps after the last
    (133.0, [0.30, 0.95], [[_PERSON]]),   # lost (0.30 < 0.5): re-detect on this frame
    (166.0, [0.70], []),
    (166.0, [0.72], []),                  # repeated timestamp: filters pass values through
    (200.0, [0.20], [[]]),                # lost, detector finds nobody: no pose, ROI dropped
    (233.0, [0.40], [[_PERSON]]),         # detector finds the person, landmarks too weak
    (266.0, [], [[_TINY]]),               # detection's ROI is invalid: no landmark call
    (300.0, [0.90], [[_OTHER]]),
    (333.0, [0.55], []),
    (366.0, [0.45], [[_PERSON]]),
)


def _run_tracker_script(options: TrackerOptions, rng: np.random.Generator) -> dict:
    frame = np.zeros((480, 640, 3), np.uint8)
    frames = []
    detector, landmarker = _ScriptedDetector(), _ScriptedLandmarker(rng)
    with PoseTracker.from_stages(detector, landmarker, options) as tracker:
        for index, (t_ms, presences, detections) in enumerate(TRACKER_SCRIPT):
            detector.queue, detector.calls = list(detections), []
            landmarker.queue, landmarker.calls = list(presences), []
            landmarker.t = index
            result = tracker.process(frame, t_ms)
            pose = result.pose
            frames.append({
                "timestamp_ms": t_ms,
                "detector_calls": [[detection_json(d) for d in call] for call in detector.calls],
                "landmark_calls": landmarker.calls,
                "result": {
                    "timestamp_ms": result.timestamp_ms,
                    "detector_ran": result.detector_ran,
                    "tracked": result.tracked,
                    "detection": detection_json(result.detection) if result.detection is not None else None,
                    "pose": None if pose is None else {
                        "presence": pose.presence, "roi": roi_json(pose.roi), "landmarks_px": pose.array_px,
                        "world_m": pose.world_m},
                },
                "next_roi": roi_json(tracker.tracked_roi),
                "stats": tracker.stats(),
            })
    return {"options": {k: getattr(options, k) for k in (
        "static_image_mode", "min_detection_confidence", "min_tracking_confidence", "smooth_landmarks",
        "redetect_on_loss")}, "image_size": [640, 480], "frames": frames}


def tracker_section(rng: np.random.Generator, pipeline: str) -> dict:
    """The tracker's decisions (detect only without a ROI or when presence drops) and smoothing,
    with scripted stand-ins for the two networks, given to the tracker as its stages."""
    base = dict(model=pipeline, num_threads=1)
    sequences = {
        "default": TrackerOptions(**base),
        "wait_on_loss": TrackerOptions(**base, redetect_on_loss=False),
        "static": TrackerOptions(**base, static_image_mode=True),
        "no_smoothing_strict": TrackerOptions(**base, smooth_landmarks=False, min_tracking_confidence=0.8),
    }
    return {name: _run_tracker_script(options, rng) for name, options in sequences.items()}
