"""blazepose_sdk: on-device BlazePose-style human pose estimation.

Quick start::

    from blazepose_sdk import PoseTracker, TrackerOptions

    with PoseTracker(TrackerOptions(model="reference-full")) as tracker:
        result = tracker.process(frame_rgb, timestamp_ms=0)
"""

from ._version import __version__
from .app.drawing import draw_pose
from .errors import (
    BlazePoseError,
    ConcurrentUseError,
    FetchError,
    InvalidFrameError,
    ManifestError,
    ModelError,
    ModelHashMismatchError,
    ModelLoadError,
    ModelNotFoundError,
    ModelSignatureError,
    OptionError,
    RuntimeUnavailableError,
    TimestampError,
    UnknownLandmarkError,
    VideoError,
)
from .geometry.roi import Roi
from .geometry.smoothing import SmoothingOptions
from .options import TrackerOptions
from .results import Landmark, NormalizedLandmark, Pose, PoseResult, WorldLandmark
from .stages.detector import Detection
from .tracker import PoseTracker

__all__ = [
    "BlazePoseError", "ConcurrentUseError", "Detection", "FetchError", "InvalidFrameError", "Landmark",
    "ManifestError", "ModelError", "ModelHashMismatchError", "ModelLoadError", "ModelNotFoundError",
    "ModelSignatureError", "NormalizedLandmark", "OptionError", "Pose", "PoseResult", "PoseTracker", "Roi", "RuntimeUnavailableError",
    "SmoothingOptions", "TimestampError", "TrackerOptions", "UnknownLandmarkError", "VideoError",
    "WorldLandmark", "__version__", "draw_pose",
]
