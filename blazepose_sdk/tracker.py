"""The two-stage tracker: detector -> ROI -> landmarks -> smoothing, with ROI tracking.

On a video the detector runs only when there is no tracked ROI or the landmark model's
pose presence for the tracked ROI falls below ``min_tracking_confidence``; otherwise the next
frame's ROI comes from the current frame's (smoothed) auxiliary landmarks, as MediaPipe's
pose_landmark_cpu.pbtxt graph does.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .detector import DEFAULT_MIN_SCORE, DETECTOR_VALUE_RANGE, Detection, PoseDetector
from .errors import ConcurrentUseError, InvalidFrameError, OptionError, TimestampError
from .image import as_rgb_uint8
from .landmarker import LANDMARK_VALUE_RANGE, LandmarkerOutput, PoseLandmarker
from .models import DEFAULT_PIPELINE, ModelFile, model_file_from_path, resolve_pipeline
from .profiling import StageTimes
from .results import Pose, PoseResult
from .roi import Roi, roi_from_alignment_points
from .runtime import TFLiteModel
from .segmentation import MaskSmoother, roi_mask_to_image
from .smoothing import AuxiliarySmoother, PoseSmoother, SmoothingOptions

# ThresholdingCalculator threshold in tensors_to_pose_landmarks_and_segmentation.pbtxt, which the
# legacy solution overrides with min_tracking_confidence (default 0.5).
DEFAULT_MIN_TRACKING_CONFIDENCE = 0.5
# Frame interval assumed when process() is called without timestamps (30 fps).
DEFAULT_FRAME_INTERVAL_MS = 1000.0 / 30.0
# The shipped default pipeline (blazepose_sdk/model_files): no download needed.
DEFAULT_MODEL = DEFAULT_PIPELINE


@dataclass(frozen=True)
class TrackerOptions:
    """Options of :class:`PoseTracker`.

    Attributes:
        model: pipeline name (``ours-lite``, the default, and ``blazepose-lite``, shipped with
            the SDK; or ``reference-lite|full|heavy``, Full/Heavy fetched once); ignored for a stage whose file is
            given in ``detector_model`` / ``landmark_model``.
        detector_model, landmark_model: paths of .tflite files to use instead. With a
            ``manifest.json`` beside them (:mod:`blazepose_sdk.manifest`), a file is refused
            unless its sha256 matches its entry, and the entry's value range and output roles
            are used; without one, the file is not hash-checked and outputs go by shape.
        num_threads: CPU threads per interpreter (None: runtime default).
        delegate: None, ``"gpu"``, ``"edgetpu"`` or a delegate shared-library path.
        static_image_mode: treat every frame as unrelated: detect on each, no smoothing.
        min_detection_confidence: detector score threshold.
        min_tracking_confidence: pose-presence threshold below which tracking is lost.
        smooth_landmarks: One-Euro smoothing of landmarks on video.
        refine_with_heatmap: refine x, y with the model's heatmap (MediaPipe does).
        redetect_on_loss: when the tracked ROI loses the person, run the detector on the same
            frame instead of waiting for the next one (MediaPipe waits).
        enable_segmentation: also compute ``Pose.mask``, the person's probability mask in frame
            pixels (MediaPipe's option of the same name); costs one warp of the mask per frame.
        smooth_segmentation: on video, blend each mask with the previous one where it is
            uncertain (MediaPipe's segmentation smoothing); ignored in static image mode.
    """

    model: str = DEFAULT_MODEL
    detector_model: str | os.PathLike | None = None
    landmark_model: str | os.PathLike | None = None
    num_threads: int | None = None
    delegate: str | None = None
    static_image_mode: bool = False
    min_detection_confidence: float = DEFAULT_MIN_SCORE
    min_tracking_confidence: float = DEFAULT_MIN_TRACKING_CONFIDENCE
    smooth_landmarks: bool = True
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    refine_with_heatmap: bool = True
    redetect_on_loss: bool = True
    enable_segmentation: bool = False
    smooth_segmentation: bool = True


def _model_files(options: TrackerOptions) -> tuple[ModelFile, ModelFile]:
    if options.detector_model is not None and options.landmark_model is not None:
        return model_file_from_path(options.detector_model), model_file_from_path(options.landmark_model)
    pipeline = resolve_pipeline(options.model)
    detector = model_file_from_path(options.detector_model) if options.detector_model is not None else pipeline.detector
    landmark = model_file_from_path(options.landmark_model) if options.landmark_model is not None else pipeline.landmark
    return detector, landmark


def object_scale_px(aux_px: np.ndarray) -> float:
    """Person size used to normalise smoothing: twice the hip-centre -> body-circle distance."""
    return 2.0 * float(np.hypot(*(aux_px[1] - aux_px[0])))


def check_confidence(name: str, value: float) -> None:
    """Raise :class:`OptionError` unless the threshold ``name`` is a probability in [0, 1]."""
    if not (0.0 <= value <= 1.0):
        raise OptionError(f"{name} must be in [0, 1], got {value}")


class PoseTracker:
    """Single-person pose tracker over a stream of RGB frames.

    Use as a context manager or call :meth:`close`. Not thread-safe: one tracker per stream.

    Example::

        with PoseTracker(TrackerOptions(model="reference-lite", num_threads=2)) as tracker:
            result = tracker.process(frame_rgb, timestamp_ms=t_ms)
            if result.pose is not None:
                print(result.pose.landmark("nose").xy_px, result.detector_ran)
    """

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        o = self.options
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            check_confidence(name, getattr(o, name))
        detector_file, landmark_file = _model_files(o)
        detector_model = TFLiteModel(detector_file.path, o.num_threads, o.delegate, expected_sha256=detector_file.sha256)
        landmark_model = TFLiteModel(landmark_file.path, o.num_threads, o.delegate, expected_sha256=landmark_file.sha256)
        self.detector = PoseDetector(detector_model, o.min_detection_confidence,
                                     detector_file.value_range or DETECTOR_VALUE_RANGE, detector_file.output_roles)
        self.landmarker = PoseLandmarker(landmark_model, o.refine_with_heatmap,
                                         landmark_file.value_range or LANDMARK_VALUE_RANGE, landmark_file.output_roles,
                                         segmentation=o.enable_segmentation)
        self._smoother = PoseSmoother(o.smoothing)
        self._aux_smoother = AuxiliarySmoother()
        self._mask_smoother = MaskSmoother()
        self._roi: Roi | None = None
        self._last_timestamp_ms: float | None = None
        self._busy = threading.Lock()
        self._stage_times: StageTimes | None = None
        self.frames_processed = 0
        self.detector_runs = 0
        self.landmark_runs = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the tracked ROI and filter state (start of a new, unrelated stream)."""
        self._roi = None
        self._last_timestamp_ms = None
        self._smoother.reset()
        self._aux_smoother.reset()
        self._mask_smoother.reset()

    def close(self) -> None:
        self.detector.model.close()
        self.landmarker.model.close()

    def __enter__(self) -> "PoseTracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stage_times(self) -> StageTimes | None:
        """Where the tracker records time per stage (:mod:`blazepose_sdk.profiling`); None (the
        default) records nothing. Set ``tracker.stage_times = StageTimes()`` to profile."""
        return self._stage_times

    @stage_times.setter
    def stage_times(self, value: StageTimes | None) -> None:
        self._stage_times = value
        for stage in (self.detector, self.landmarker):
            if hasattr(stage, "stage_times"):
                stage.stage_times = value

    @property
    def tracked_roi(self) -> Roi | None:
        """The ROI the next frame will use, or None if the next frame runs the detector."""
        return self._roi

    # -- per frame ---------------------------------------------------------------------------
    def _timestamp(self, timestamp_ms: float | None) -> float:
        if timestamp_ms is None:
            if self._last_timestamp_ms is None:
                return 0.0
            return self._last_timestamp_ms + DEFAULT_FRAME_INTERVAL_MS
        t = float(timestamp_ms)
        if not math.isfinite(t):
            raise TimestampError(f"timestamp_ms must be finite, got {timestamp_ms}")
        last = self._last_timestamp_ms
        if not self.options.static_image_mode and last is not None and t < last:
            raise TimestampError(f"timestamp_ms {t:g} goes backwards (last frame: {last:g}); "
                                 "call reset() before an unrelated stream")
        return t

    def _landmarks(self, frame: np.ndarray, roi: Roi, bgr: bool = False) -> LandmarkerOutput | None:
        self.landmark_runs += 1
        out = self.landmarker(frame, roi, bgr=True) if bgr else self.landmarker(frame, roi)
        return out if out.presence >= self.options.min_tracking_confidence else None

    def _detect(self, frame: np.ndarray, bgr: bool = False) -> tuple[Detection | None, LandmarkerOutput | None]:
        self.detector_runs += 1
        detections = self.detector(frame, bgr=True) if bgr else self.detector(frame)
        if not detections:
            return None, None
        best = detections[0]
        roi = roi_from_alignment_points(best.hip_center_px, best.body_circle_px)
        if not roi.is_valid():
            return best, None
        return best, self._landmarks(frame, roi, bgr)

    def process(self, frame_rgb: np.ndarray, timestamp_ms: float | None = None, *, bgr: bool = False) -> PoseResult:
        """Find the pose in one RGB frame.

        Args:
            frame_rgb: (H, W, 3) uint8 RGB (grayscale, RGBA and float 0..1 are converted; see
                :func:`blazepose_sdk.image.as_rgb_uint8`).
            timestamp_ms: the frame's time; never decreasing on a video (equal is allowed). None
                assumes 30 fps after the last frame. Ignored for smoothing in static image mode.
            bgr: the frame is in OpenCV's BGR order (as ``cv2.VideoCapture`` and
                ``VideoReader(..., bgr=True)`` give it; BGRA too). Only the model-input crops are
                turned to RGB, not the whole frame; the result is the same as for the RGB frame.
        Raises:
            InvalidFrameError: the frame cannot be used (TimestampError: its timestamp goes
                backwards); the tracker's state is unchanged.
            ConcurrentUseError: another thread is inside this tracker; use one tracker per thread.
        """
        with self._exclusive():
            return self._process(frame_rgb, timestamp_ms, bgr)

    @contextlib.contextmanager
    def _exclusive(self):
        # A tracker holds per-stream state (ROI, filters) and interpreters that are not
        # thread-safe: a second thread is refused rather than serialised, since interleaving two
        # streams through one tracker's filters would be wrong even under a lock.
        if not self._busy.acquire(blocking=False):
            raise ConcurrentUseError("this PoseTracker is already processing a frame in another thread; "
                                     "create one PoseTracker per thread")
        try:
            yield
        finally:
            self._busy.release()

    def _process(self, frame_rgb: np.ndarray, timestamp_ms: float | None, bgr: bool = False) -> PoseResult:
        t0 = time.perf_counter()
        frame = as_rgb_uint8(frame_rgb)
        t_ms = self._timestamp(timestamp_ms)
        t1 = time.perf_counter()
        static = self.options.static_image_mode
        detector_ran = tracked = False
        detection = None
        out = None
        if not static and self._roi is not None:
            out = self._landmarks(frame, self._roi, bgr)
            tracked = out is not None
        if out is None and (static or self._roi is None or self.options.redetect_on_loss):
            detector_ran = True
            detection, out = self._detect(frame, bgr)
        t2 = time.perf_counter()
        result = self._finish(frame, t_ms, out, detection, detector_ran, tracked)
        if self._stage_times is not None:
            self._stage_times.add("frame_check", t1 - t0)
            self._stage_times.add("smoothing", time.perf_counter() - t2)
        return result

    def _finish(self, frame: np.ndarray, t_ms: float, out: LandmarkerOutput | None, detection: Detection | None,
                detector_ran: bool, tracked: bool) -> PoseResult:
        """Count the frame, smooth, set the next frame's ROI and build the result."""
        static = self.options.static_image_mode
        index = self.frames_processed
        self.frames_processed += 1
        self._last_timestamp_ms = t_ms
        if out is None:
            self._roi = None
            self._smoother.reset()
            self._aux_smoother.reset()
            self._mask_smoother.reset()
            return PoseResult(index, t_ms, (frame.shape[1], frame.shape[0]), None, detection, detector_ran, False)

        landmarks, world, aux = out.landmarks_px, out.world_m, out.aux_px
        if not static:
            t_s = t_ms / 1000.0
            # pose_landmark_filtering.pbtxt takes the object scale of every filter from the raw
            # (unsmoothed) auxiliary points
            scale = object_scale_px(aux)
            aux = self._aux_smoother(aux, t_s, scale)
            if self.options.smooth_landmarks:
                landmarks, world = self._smoother(landmarks, world, t_s, scale)
            next_roi = roi_from_alignment_points(aux[0], aux[1])
            self._roi = next_roi if next_roi.is_valid() else None
        mask = self._mask(out, (frame.shape[1], frame.shape[0]), smooth=not static and self.options.smooth_segmentation)
        pose = Pose(presence=out.presence, roi=out.roi, array_px=landmarks, world_m=world,
                    image_size=(frame.shape[1], frame.shape[0]), mask=mask)
        return PoseResult(index, t_ms, (frame.shape[1], frame.shape[0]), pose, detection, detector_ran, tracked)

    def _mask(self, out: LandmarkerOutput, image_size: tuple[int, int], smooth: bool) -> np.ndarray | None:
        """The person's mask in frame pixels (None without enable_segmentation)."""
        if out.mask_roi is None:
            return None
        mask = roi_mask_to_image(out.mask_roi, out.roi, image_size)
        return self._mask_smoother(mask) if smooth else mask

    def process_roi(self, frame_rgb: np.ndarray, roi: Roi) -> PoseResult:
        """The landmark model alone on a given ROI: top-down pose with your own person box.

        For a detector of your own, or to score the landmark stage on labelled ROIs
        (``blazepose bench accuracy --roi labels``). Runs no detector, no smoothing and
        leaves the tracking state untouched; the pose is None when its presence is below
        ``min_tracking_confidence``.

        Args:
            frame_rgb: as in :meth:`process`.
            roi: the rotated square in image pixels (see :func:`blazepose_sdk.roi.roi_from_keypoints`
                for a person with known keypoints).
        Raises:
            InvalidFrameError: the frame or the ROI cannot be used.
            ConcurrentUseError: another thread is inside this tracker.
        """
        with self._exclusive():
            return self._process_roi(frame_rgb, roi)

    def _process_roi(self, frame_rgb: np.ndarray, roi: Roi) -> PoseResult:
        frame = as_rgb_uint8(frame_rgb)
        if not roi.is_valid():
            raise InvalidFrameError(f"ROI is not usable (non-finite or smaller than 2 px): {roi}")
        out = self._landmarks(frame, roi)
        size = (frame.shape[1], frame.shape[0])
        pose = None if out is None else Pose(presence=out.presence, roi=out.roi, array_px=out.landmarks_px,
                                             world_m=out.world_m, image_size=size,
                                             mask=self._mask(out, size, smooth=False))
        return PoseResult(self.frames_processed, 0.0, (frame.shape[1], frame.shape[0]), pose, None, False, False)

    def stats(self) -> dict:
        """Counters since construction: frames, detector runs, landmark runs, detector-run rate."""
        return {
            "frames": self.frames_processed,
            "detector_runs": self.detector_runs,
            "landmark_runs": self.landmark_runs,
            "detector_run_rate": self.detector_runs / self.frames_processed if self.frames_processed else 0.0,
        }
