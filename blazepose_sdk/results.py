"""Result dataclasses returned by :class:`~blazepose_sdk.tracker.PoseTracker`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UnknownLandmarkError
from .geometry.roi import Roi
from .geometry.topology import BLAZEPOSE_TO_COCO17, LANDMARK_NAMES
from .stages.detector import Detection


@dataclass(frozen=True)
class Landmark:
    """One image landmark.

    Attributes:
        x_px, y_px: position in image pixels (may lie outside the frame for hidden joints).
        z_px: depth relative to the hip centre, in the same pixel units as x (smaller is
            nearer the camera), as MediaPipe's z times the image width.
        visibility: probability that the landmark is visible (not occluded), 0..1.
        presence: probability that the landmark is inside the frame, 0..1.
    """

    x_px: float
    y_px: float
    z_px: float
    visibility: float
    presence: float

    @property
    def xy_px(self) -> tuple[float, float]:
        return (self.x_px, self.y_px)


@dataclass(frozen=True)
class NormalizedLandmark:
    """One image landmark in MediaPipe's normalised units.

    Attributes:
        x, y: position as a fraction of the image width and height (0..1 inside the frame).
        z: depth relative to the hip centre, in units of the image width (MediaPipe's z).
        visibility, presence: as :class:`Landmark`.
    """

    x: float
    y: float
    z: float
    visibility: float
    presence: float


@dataclass(frozen=True)
class WorldLandmark:
    """One 3D landmark in metres, origin at the hip centre, y down, in the camera's orientation."""

    x_m: float
    y_m: float
    z_m: float


@dataclass(frozen=True)
class Pose:
    """One person's pose in one frame.

    Attributes:
        presence: the landmark model's pose-presence probability for the ROI.
        landmarks: 33 :class:`Landmark`, indexed as :data:`blazepose_sdk.geometry.topology.LANDMARK_NAMES`.
        world_landmarks: 33 :class:`WorldLandmark`.
        roi: the ROI the landmarks were computed in (image pixels).
        array_px: (33, 5) float array of x_px, y_px, z_px, visibility, presence.
        world_m: (33, 3) float array of world landmarks in metres; all NaN for a model without
            them (heatmap-only students; ``to_dict`` writes null).
        image_size: (width, height) of the frame in pixels; needed for the normalised view
            (:attr:`array_norm`, :attr:`normalized_landmarks`), None when unknown.
        mask: (height, width) float32 in [0, 1], frame pixels: the probability that a pixel
            belongs to this person (the landmark model's segmentation, projected from the ROI and,
            on video, smoothed as MediaPipe does; :mod:`blazepose_sdk.geometry.segmentation`). Only with
            ``TrackerOptions(enable_segmentation=True)``; None otherwise. Binarise at 0.5.
        id: the person's track id: stable while the person is tracked, never reused by the same
            tracker (new people get larger ids). 0 for the single-person tracker (``num_poses=1``).
    """

    presence: float
    roi: Roi
    array_px: np.ndarray = field(repr=False)
    world_m: np.ndarray = field(repr=False)
    image_size: tuple[int, int] | None = None
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    id: int = 0

    @property
    def array_norm(self) -> np.ndarray:
        """(33, 5) float array of x, y, z, visibility, presence in MediaPipe's normalised units:
        x / width, y / height, z / width (see :class:`NormalizedLandmark`)."""
        if self.image_size is None:
            raise ValueError("this Pose has no image_size, so it has no normalised coordinates")
        w, h = self.image_size
        return self.array_px * np.array([1.0 / w, 1.0 / h, 1.0 / w, 1.0, 1.0])

    @property
    def normalized_landmarks(self) -> list[NormalizedLandmark]:
        """33 :class:`NormalizedLandmark` (MediaPipe's ``pose_landmarks``)."""
        return [NormalizedLandmark(*map(float, row)) for row in self.array_norm]

    @property
    def landmarks(self) -> list[Landmark]:
        return [Landmark(*map(float, row)) for row in self.array_px]

    @property
    def world_landmarks(self) -> list[WorldLandmark]:
        return [WorldLandmark(*map(float, row)) for row in self.world_m]

    def landmark(self, name: str) -> Landmark:
        """The landmark called ``name`` (e.g. ``"left_wrist"``), in image pixels.

        Raises:
            UnknownLandmarkError: ``name`` is not one of :data:`blazepose_sdk.geometry.topology.LANDMARK_NAMES`.
        """
        if name not in LANDMARK_NAMES:
            raise UnknownLandmarkError(f"no landmark named {name!r}; the 33 names are: {', '.join(LANDMARK_NAMES)}")
        return Landmark(*map(float, self.array_px[LANDMARK_NAMES.index(name)]))

    def coco17(self) -> np.ndarray:
        """(17, 3) COCO keypoints: x_px, y_px, visibility, in COCO's keypoint order."""
        rows = self.array_px[BLAZEPOSE_TO_COCO17]
        return np.stack([rows[:, 0], rows[:, 1], rows[:, 3]], axis=1)

    def bbox_px(self) -> tuple[float, float, float, float]:
        """Tight box (x, y, width, height) around the 33 landmarks, in image pixels."""
        xs, ys = self.array_px[:, 0], self.array_px[:, 1]
        return (float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min()))

    def to_dict(self) -> dict:
        return {
            "presence": float(self.presence),
            "roi": self.roi.to_dict(),
            "landmarks": np.round(self.array_px, 4).tolist(),
            # null for a model without world landmarks (heatmap-only students): all NaN
            "world_landmarks": np.round(self.world_m, 5).tolist() if np.isfinite(self.world_m).any() else None,
        }


@dataclass(frozen=True)
class PoseResult:
    """What :meth:`PoseTracker.process` returns for one frame.

    Attributes:
        frame_index: 0-based count of frames processed by this tracker.
        timestamp_ms: the frame's timestamp.
        image_size: (width, height) of the frame in pixels.
        pose: the tracked pose, or None when nobody was found.
        detection: the detection the ROI came from, when the detector ran and found someone.
        detector_ran: whether the person detector ran on this frame.
        tracked: True when the ROI came from the previous frame's landmarks (no detector).
        poses: every person found, ordered by id (oldest track first); ``pose`` is ``poses[0]``.
            None when constructed without it: then ``[pose]`` (or ``[]``), single-person output.
        detections: with ``num_poses > 1``, every detection the detector returned on this frame
            (whole frame and tiles merged); ``detection`` is the first of them.
    """

    frame_index: int
    timestamp_ms: float
    image_size: tuple[int, int]
    pose: Pose | None
    detection: Detection | None
    detector_ran: bool
    tracked: bool
    poses: list[Pose] | None = None
    detections: list[Detection] | None = field(default=None, repr=False)
    # made by the multi-person tracker (poses given), whose JSON lines carry "poses"
    multi_person: bool = field(init=False, default=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "multi_person", self.poses is not None)
        if self.poses is None:
            object.__setattr__(self, "poses", [] if self.pose is None else [self.pose])

    @property
    def roi(self) -> Roi | None:
        return self.pose.roi if self.pose is not None else None

    @property
    def presence(self) -> float:
        return self.pose.presence if self.pose is not None else 0.0

    def combined_mask(self) -> np.ndarray | None:
        """Per-pixel maximum of the poses' masks, (height, width) float32; None when no pose has
        a mask (segmentation off, or nobody found)."""
        masks = [p.mask for p in self.poses if p.mask is not None]
        if not masks:
            return None
        return np.maximum.reduce(masks) if len(masks) > 1 else masks[0]

    def to_dict(self) -> dict:
        """JSON-ready dict: frame, timestamp_ms, detector_ran, tracked, image_size, detection, pose;
        from the multi-person tracker also ``poses`` (each pose's dict with its ``id``) and
        ``detections``."""
        record = {
            "frame": self.frame_index,
            "timestamp_ms": float(self.timestamp_ms),
            "image_size": list(self.image_size),
            "detector_ran": self.detector_ran,
            "tracked": self.tracked,
            "detection": self.detection.to_dict() if self.detection is not None else None,
            "pose": self.pose.to_dict() if self.pose is not None else None,
        }
        if self.multi_person:
            record["poses"] = [{"id": int(p.id), **p.to_dict()} for p in self.poses]
            record["detections"] = [d.to_dict() for d in (self.detections or [])]
        return record

    def to_coco(self, image_id: int, category_id: int = 1) -> list[dict]:
        """COCO keypoint *results* entries (pycocotools ``loadRes`` format), one per person."""
        entries = []
        for pose in self.poses:
            kps = pose.coco17()
            flat = np.column_stack([kps[:, 0], kps[:, 1], np.ones(len(kps))]).reshape(-1)
            entries.append({
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [round(float(v), 2) for v in flat],
                "score": float(pose.presence * kps[:, 2].mean()),
                "bbox": [round(v, 2) for v in pose.bbox_px()],
            })
            if self.multi_person:
                entries[-1]["track_id"] = int(pose.id)
        return entries
