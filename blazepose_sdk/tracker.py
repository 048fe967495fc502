"""The two-stage tracker: detector -> ROI -> landmarks -> smoothing, with ROI tracking.

On a video the detector runs only when there is no tracked ROI or the landmark model's
pose presence for the tracked ROI falls below ``min_tracking_confidence`` (``min_hold_confidence``
when set: a lower bar for a person already tracked than for a new one); otherwise the next
frame's ROI comes from the current frame's (smoothed) auxiliary landmarks, as MediaPipe's
pose_landmark_cpu.pbtxt graph does.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .assets.derived import landmark_without_mask
from .assets.models import ModelFile, model_file_from_path, resolve_pipeline
from .errors import ConcurrentUseError, InvalidFrameError, TimestampError
from .geometry.image import as_rgb_uint8
from .geometry.matching import duplicates_to_drop, keypoint_similarity, polygon_iou
from .geometry.roi import Roi, roi_from_alignment_points
from .geometry.segmentation import MaskSmoother, roi_mask_to_image
from .geometry.smoothing import AuxiliarySmoother, PoseSmoother
from .geometry.tiles import parse_tile_layout, tile_rois
from .options import TrackerOptions
from .profiling import StageTimes
from .results import Pose, PoseResult
from .stages.detector import DETECTOR_VALUE_RANGE, Detection, PoseDetector
from .stages.landmarker import LANDMARK_VALUE_RANGE, LandmarkerOutput, PoseLandmarker
from .stages.runtime import TFLiteModel, read_model_file

# Frame interval assumed when process() is called without timestamps (30 fps).
DEFAULT_FRAME_INTERVAL_MS = 1000.0 / 30.0
# A detection whose ROI overlaps a tracked person's current ROI by more than this IoU is that
# person, not a newcomer (no landmark run spent on it). Two equal upright squares overlap by
# 0.6 when their centres are a quarter of the side (~0.3 body heights) apart: people walking
# side by side are further apart than that, so they are still found. Our choice.
SAME_PERSON_ROI_IOU = 0.6
# A track lost less than this long ago (ms) is remembered with its last ROI: a person found again
# where it was lost (ROI IoU above REFOUND_ROI_IOU) gets its id back instead of a new one, so a
# pedestrian the landmark model drops for a few frames keeps its id. Our choice: about 20 frames
# at 30 fps, longer than the tile scan's default interval; short enough that someone else rarely
# walks into the spot meanwhile.
LOST_TRACK_MEMORY_MS = 700.0
# How much a new person's ROI must overlap a recently lost track's last ROI to take its id. Our
# choice: a pedestrian moves a fraction of its ROI in 0.7 s.
REFOUND_ROI_IOU = 0.3
# Two poses whose keypoint similarity (blazepose_sdk.geometry.matching.keypoint_similarity, OKS-like) is
# above this are one person: a new detection that the landmark model puts on a tracked person is
# dropped, and of two tracks that converge on one person the younger is dropped (merge). 0.5 is
# keypoints on average ~12% of the ROI side apart (about 15% of the body height); two different
# people, even overlapping, differ by more. Our choice.
SAME_PERSON_SIMILARITY = 0.5
# With verify_every, a detection confirms a tracked person when its ROI overlaps the ROI of the
# person's landmarks on that frame by more than this IoU. Our choice, as REFOUND_ROI_IOU: the
# detector's ROI and the landmark model's for one person are the same square up to a fraction of
# its side; a pose held on an object no detection is on overlaps none.
VERIFY_ROI_IOU = 0.3


@dataclass
class _Track:
    """One tracked person: its id, its ROI for the next frame, its filters and how many detector
    checks in a row found no detection on it (verify_every)."""

    id: int
    roi: Roi
    smoother: PoseSmoother
    aux_smoother: AuxiliarySmoother
    mask_smoother: MaskSmoother
    misses: int = 0


@dataclass
class _Found:
    """A person found on this frame: its track, the landmark output, the ROI its raw auxiliary
    points give and that ROI's corners (4, 2) (image pixels), computed once and used to tell
    people apart and to check them with the detector (verify_every)."""

    track: _Track
    out: LandmarkerOutput
    roi: Roi
    corners_px: np.ndarray

    @classmethod
    def of(cls, track: _Track, out: LandmarkerOutput) -> _Found:
        roi = roi_from_alignment_points(out.aux_px[0], out.aux_px[1])
        return cls(track, out, roi, roi.corners_px())


def _model_files(options: TrackerOptions) -> tuple[ModelFile, ModelFile, ModelFile | None]:
    """(detector, landmark model, tile-scan detector or None for the detector itself): the given
    files, else the pipeline's. The pipeline's tile detector goes with its own detector only."""
    tiles = model_file_from_path(options.detector_tiles_model) if options.detector_tiles_model is not None else None
    if options.detector_model is not None and options.landmark_model is not None:
        return model_file_from_path(options.detector_model), model_file_from_path(options.landmark_model), tiles
    pipeline = resolve_pipeline(options.model)
    detector = model_file_from_path(options.detector_model) if options.detector_model is not None else pipeline.detector
    landmark = model_file_from_path(options.landmark_model) if options.landmark_model is not None else pipeline.landmark
    if tiles is None and options.detector_model is None:
        tiles = pipeline.tile_detector
    return detector, landmark, tiles


def _open_model(model_file: ModelFile, options: TrackerOptions) -> TFLiteModel:
    """The interpreter of one model file, with the options' threads and delegate; hash-checked."""
    return TFLiteModel(model_file.path, options.num_threads, options.delegate, expected_sha256=model_file.sha256)


def _open_landmark_model(model_file: ModelFile, options: TrackerOptions
                         ) -> tuple[TFLiteModel, tuple[str | None, ...] | None]:
    """The landmark model's interpreter and its output roles: without its segmentation decoder
    when no mask is asked for and ``prune_segmentation`` is on (:mod:`blazepose_sdk.assets.derived`;
    the same landmarks, less time), else the file as it is."""
    content = read_model_file(model_file.path, model_file.sha256)  # read and checked once
    roles = model_file.output_roles
    if not options.enable_segmentation and options.prune_segmentation:
        derived = landmark_without_mask(model_file, content)
        if derived is not None:
            content, roles = derived.content, derived.output_roles
    return TFLiteModel(model_file.path, options.num_threads, options.delegate, content=content), roles


def _pose_detector(model: TFLiteModel, model_file: ModelFile, options: TrackerOptions) -> PoseDetector:
    """The detector stage on ``model``, with its file's value range and output roles."""
    return PoseDetector(model, options.min_detection_confidence,
                        model_file.value_range or DETECTOR_VALUE_RANGE, model_file.output_roles)


def object_scale_px(aux_px: np.ndarray) -> float:
    """Person size used to normalise smoothing: twice the hip-centre -> body-circle distance."""
    return 2.0 * float(np.hypot(*(aux_px[1] - aux_px[0])))


def smooth_person(out: LandmarkerOutput, smoother: PoseSmoother, aux_smoother: AuxiliarySmoother, t_ms: float,
                  smooth_landmarks: bool) -> tuple[np.ndarray, np.ndarray, Roi | None]:
    """Video mode, one person: (landmarks_px, world_m) through the person's One-Euro filters (when
    ``smooth_landmarks``) and the ROI for the next frame from the smoothed auxiliary points (None
    when it is degenerate). ``t_ms``: the frame's timestamp in milliseconds."""
    t_s = t_ms / 1000.0
    # pose_landmark_filtering.pbtxt takes the object scale of every filter from the raw
    # (unsmoothed) auxiliary points
    scale = object_scale_px(out.aux_px)
    aux = aux_smoother(out.aux_px, t_s, scale)
    landmarks, world = out.landmarks_px, out.world_m
    if smooth_landmarks:
        landmarks, world = smoother(landmarks, world, t_s, scale)
    next_roi = roi_from_alignment_points(aux[0], aux[1])
    return landmarks, world, next_roi if next_roi.is_valid() else None


def same_person_landmarks(a_px: np.ndarray, a_roi_side_px: float, b_px: np.ndarray, b_roi_side_px: float) -> bool:
    """Whether two poses are the same person: keypoint similarity of their landmarks ((33, 5)
    image pixels with visibility in column 3, each found in a ROI of the given side), weighted by
    the product of the visibilities, on the larger of the two ROIs, above
    ``SAME_PERSON_SIMILARITY``."""
    weights = a_px[:, 3] * b_px[:, 3]
    scale = max(a_roi_side_px, b_roi_side_px)
    return keypoint_similarity(a_px, b_px, scale, weights=weights) > SAME_PERSON_SIMILARITY


def same_person(a: LandmarkerOutput, b: LandmarkerOutput) -> bool:
    """Whether two landmark outputs are the same person (:func:`same_person_landmarks`)."""
    return same_person_landmarks(a.landmarks_px, a.roi.size_px, b.landmarks_px, b.roi.size_px)


class PoseTracker:
    """Pose tracker over a stream of RGB frames: one person (MediaPipe's tracker), or up to
    ``TrackerOptions.num_poses`` people each with a stable id.

    One path for 1..N people: every tracked person is a track (its ROI and filters); each frame
    runs the landmark model on every track's ROI, drops tracks whose presence falls below
    ``min_tracking_confidence`` (or ``min_hold_confidence`` when set) and merges tracks that
    converged on one person, then, while fewer than ``num_poses`` people are tracked and the
    detector is due, detects and starts tracks for new people. With ``num_poses=1`` (and no
    detector tiles) this is MediaPipe's single-person graph: only the best detection is tried,
    and results carry no ids. With ``verify_every`` (off by default) the detector also looks at
    each tracked person's ROI every K frames, and a person it misses ``verify_misses`` times in a
    row is dropped.

    Use as a context manager or call :meth:`close`. Not thread-safe: one tracker per stream; a
    second thread calling :meth:`process`, :meth:`reset` or :meth:`close` while a frame runs gets
    :class:`ConcurrentUseError` (nothing waits, nothing changes).

    Example::

        with PoseTracker(TrackerOptions(model="reference-lite", num_threads=2)) as tracker:
            result = tracker.process(frame_rgb, timestamp_ms=t_ms)
            if result.pose is not None:
                print(result.pose.landmark("nose").xy_px, result.detector_ran)
    """

    def __init__(self, options: TrackerOptions | None = None) -> None:
        """Load the options' model files (hash-checked) into the stages and track with them."""
        o = options or TrackerOptions()
        detector_file, landmark_file, tiles_file = _model_files(o)
        detector = _pose_detector(_open_model(detector_file, o), detector_file, o)
        # the detector the tile scan runs: detector_tiles_model, else the pipeline's own tile
        # detector (ours-lite's), else the whole-frame one
        tile_detector = None
        if o.detector_tiles is not None and tiles_file is not None:
            tile_detector = _pose_detector(_open_model(tiles_file, o), tiles_file, o)
        landmark_model, landmark_roles = _open_landmark_model(landmark_file, o)
        landmarker = PoseLandmarker(landmark_model, o.refine_with_heatmap,
                                    landmark_file.value_range or LANDMARK_VALUE_RANGE, landmark_roles,
                                    segmentation=o.enable_segmentation)
        self._attach(detector, landmarker, o, tile_detector)

    @classmethod
    def from_stages(cls, detector: Callable, landmarker: Callable, options: TrackerOptions | None = None,
                    tile_detector: Callable | None = None) -> PoseTracker:
        """A tracker that runs the stages it is given instead of loading model files (as the JVM
        port's ``PoseTracker(detector, landmarker, options)``): ``detector(frame, *, bgr=False)``
        returns a list of :class:`~blazepose_sdk.stages.detector.Detection`, best first;
        ``landmarker(frame, roi, *, bgr=False)`` a :class:`~blazepose_sdk.stages.landmarker.LandmarkerOutput`
        (``bgr``: the frame is in BGR order); ``tile_detector`` (default: the detector) runs on
        detector tiles (``detect_tiles``). Model names and files in ``options`` are not used; a
        stage with a ``model`` attribute is closed by :meth:`close`. For your own detector or
        landmark model, and for tests."""
        tracker = cls.__new__(cls)
        tracker._attach(detector, landmarker, options or TrackerOptions(), tile_detector)
        return tracker

    def _attach(self, detector: Callable, landmarker: Callable, options: TrackerOptions,
                tile_detector: Callable | None) -> None:
        self.options = options
        self.detector, self.landmarker = detector, landmarker
        self.tile_detector = detector if tile_detector is None else tile_detector
        self._busy = threading.Lock()
        self._stage_times: StageTimes | None = None
        # people mode: several people, or tiles (which look for more people than the best one);
        # results carry ids and every detection, and every detection may start a track
        self._people_mode = options.num_poses > 1 or options.detector_tiles is not None
        self._tile_layout = parse_tile_layout(options.detector_tiles) if options.detector_tiles is not None else None
        self._new_stream()

    def _new_stream(self) -> None:
        """The stream state of a tracker just built: no tracks, counters at 0, ids from 1."""
        self._last_timestamp_ms: float | None = None
        self.frames_processed = 0
        self.detector_runs = 0
        self.landmark_runs = 0
        self.tile_scans = 0
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frames_since_detect = 0
        self._frames_since_tiles = 0
        self._frames_since_verify = 0
        self._lost_pending = False
        self._lost_tracks: list[tuple[int, Roi, float]] = []  # (id, last ROI, time lost in ms)

    # -- lifecycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the tracked ROIs and filter state (start of a new, unrelated stream).

        Raises:
            ConcurrentUseError: another thread is inside :meth:`process` (or :meth:`process_roi`);
                nothing is reset. Reset from the thread that processes, between frames.
        """
        with self._exclusive("reset"):
            self._last_timestamp_ms = None
            self._tracks = []  # ids go on increasing: an id is never reused by one tracker
            self._lost_pending = False
            self._lost_tracks = []

    def restart(self) -> None:
        """Start an unrelated stream as a tracker just built would: :meth:`reset`, and also frame
        indices and run counters back to 0 and ids from 1 again. For serving many inputs with the
        models loaded once (``blazepose batch``): each input's results equal a fresh tracker's.

        Raises:
            ConcurrentUseError: another thread is inside :meth:`process`; nothing changes.
        """
        with self._exclusive("restart"):
            self._new_stream()

    def close(self) -> None:
        """Release the interpreters (idempotent); a later :meth:`process` raises ModelLoadError.

        Raises:
            ConcurrentUseError: another thread is inside :meth:`process` (or :meth:`process_roi`);
                nothing is closed (a frame is never cut in half). Close after it returns, e.g.
                from the thread that processes.
        """
        with self._exclusive("close"):
            for stage in {id(s): s for s in (self.detector, self.tile_detector, self.landmarker)}.values():
                model = getattr(stage, "model", None)
                if model is not None:
                    model.close()

    def __enter__(self) -> PoseTracker:
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
        for stage in (self.detector, self.tile_detector, self.landmarker):
            if hasattr(stage, "stage_times"):
                stage.stage_times = value

    @property
    def tracked_roi(self) -> Roi | None:
        """The ROI the next frame will use, or None if the next frame runs the detector (with
        ``num_poses > 1``: the oldest tracked person's)."""
        return self._tracks[0].roi if self._tracks else None

    @property
    def tracked_rois(self) -> dict[int, Roi]:
        """Pose id -> the ROI the next frame will use, for every tracked person (id 0 for the
        single-person tracker)."""
        return {self._pose_id(t): t.roi for t in self._tracks}

    def _pose_id(self, track: _Track) -> int:
        """The id a result reports for ``track``: its track id, or 0 for the single-person tracker."""
        return track.id if self._people_mode else 0

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

    def _landmarks(self, frame: np.ndarray, roi: Roi, bgr: bool = False, held: bool = False) -> LandmarkerOutput | None:
        """The landmark stage on ``roi``; None when its presence is below min_tracking_confidence
        (for a person already tracked, ``held``: below min_hold_confidence when that is set)."""
        self.landmark_runs += 1
        out = self.landmarker(frame, roi, bgr=bgr)
        o = self.options
        threshold = o.min_hold_confidence if held and o.min_hold_confidence is not None else o.min_tracking_confidence
        return out if out.presence >= threshold else None

    def process(self, frame_rgb: np.ndarray, timestamp_ms: float | None = None, *, bgr: bool = False) -> PoseResult:
        """Find the pose(s) in one RGB frame.

        Args:
            frame_rgb: (H, W, 3) uint8 RGB (grayscale, RGBA and float 0..1 are converted; see
                :func:`blazepose_sdk.geometry.image.as_rgb_uint8`).
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
    def _exclusive(self, action: str = "process"):
        # A tracker holds per-stream state (ROIs, filters) and interpreters that are not
        # thread-safe: a second thread is refused rather than serialised, since interleaving two
        # streams through one tracker's filters would be wrong even under a lock. reset() and
        # close() are refused the same way while a frame runs (they would pull its state or its
        # interpreters from under it).
        if not self._busy.acquire(blocking=False):
            if action != "process":
                raise ConcurrentUseError(f"cannot {action} this PoseTracker while another thread is processing a "
                                         f"frame with it; {action} it after process() returns")
            raise ConcurrentUseError("this PoseTracker is already processing a frame in another thread; "
                                     "create one PoseTracker per thread")
        try:
            yield
        finally:
            self._busy.release()

    def _process(self, frame_rgb: np.ndarray, timestamp_ms: float | None, bgr: bool) -> PoseResult:
        """One frame: every track's ROI through the landmark model, merge tracks that converged,
        the detector (and tiles) for new people when due, then smoothing per track."""
        t0 = time.perf_counter()
        frame = as_rgb_uint8(frame_rgb)
        t_ms = self._timestamp(timestamp_ms)
        t1 = time.perf_counter()
        o = self.options
        static = o.static_image_mode
        if static:
            self._tracks = []
        found: list[_Found] = []
        lost_now: list[_Track] = []
        memory = [item for item in self._lost_tracks if t_ms - item[2] <= LOST_TRACK_MEMORY_MS] if not static else []
        for track in self._tracks:
            out = self._landmarks(frame, track.roi, bgr, held=True)
            if out is None:
                lost_now.append(track)
                memory.append((track.id, track.roi, t_ms))
            else:
                found.append(_Found.of(track, out))
        lost = bool(lost_now)
        self._lost_tracks = memory
        merged = self._merge_converged(found)
        lost = lost or len(merged) < len(found)  # a merged track lost its own person too
        found = merged
        self._frames_since_verify += 1
        if found and not static and o.verify_every is not None and self._frames_since_verify >= o.verify_every:
            self._frames_since_verify = 0
            verified = self._verified(frame, found, bgr)
            lost = lost or len(verified) < len(found)  # dropped: not given back as lost_now (not that person)
            found = verified
        tracked = bool(found)
        if lost:
            self._lost_pending = True
        self._frames_since_detect += 1
        self._frames_since_tiles += 1
        want = o.num_poses - len(found)
        detector_ran = want > 0 and self._detector_due(bool(found), lost)
        detections: list[Detection] = []
        if detector_ran:
            detections = self._detect(frame, bgr)
            found.extend(self._new_people(frame, detections, found, want, bgr, lost_now))
        t2 = time.perf_counter()
        result = self._finish(frame, t_ms, found, detections, detector_ran, tracked)
        if self._stage_times is not None:
            self._stage_times.add("frame_check", t1 - t0)
            self._stage_times.add("smoothing", time.perf_counter() - t2)
        return result

    def _detector_due(self, anyone_tracked: bool, lost_now: bool) -> bool:
        """Whether the detector runs on this frame (when fewer than num_poses people are tracked):
        always in static image mode; after a track was lost on this frame only with
        redetect_on_loss (else on the next frame, as MediaPipe does); otherwise when nobody is
        tracked, when a loss is pending, or every detect_every frames (newcomers)."""
        o = self.options
        if o.static_image_mode:
            return True
        if lost_now and not o.redetect_on_loss:
            return False
        return not anyone_tracked or self._lost_pending or self._frames_since_detect >= o.detect_every

    def _verified(self, frame: np.ndarray, found: list[_Found], bgr: bool) -> list[_Found]:
        """The tracked people the detector, run on each one's ROI of this frame, confirms (a
        detection whose ROI overlaps it by IoU above VERIFY_ROI_IOU), and the others until
        ``verify_misses`` checks in a row have missed them; those are dropped."""
        kept = []
        for person in found:
            self.detector_runs += 1
            detections = self.detector(frame, bgr=bgr, roi=person.roi)
            rois = (d.roi() for d in detections)
            if any(roi.is_valid() and polygon_iou(person.corners_px, roi.corners_px()) > VERIFY_ROI_IOU for roi in rois):
                person.track.misses = 0
            else:
                person.track.misses += 1
            if person.track.misses < self.options.verify_misses:
                kept.append(person)
        return kept

    def _merge_converged(self, found: list[_Found]) -> list[_Found]:
        """Drop the younger of two tracks whose poses are one person (the older id stays)."""
        n = len(found)
        similar = np.zeros((n, n), dtype=bool)
        for i in range(n):
            for j in range(i + 1, n):
                similar[i, j] = similar[j, i] = same_person(found[i].out, found[j].out)
        dropped = set(duplicates_to_drop(np.array([f.track.id for f in found]), similar))
        return sorted((f for k, f in enumerate(found) if k not in dropped), key=lambda f: f.track.id)

    def _detect(self, frame: np.ndarray, bgr: bool) -> list[Detection]:
        """Whole-frame detections, plus the tile scan when they are fewer than num_poses and the
        scan is due; merged by weighted NMS, best first."""
        o = self.options
        self.detector_runs += 1
        self._frames_since_detect = 0
        self._lost_pending = False
        detections = self.detector(frame, bgr=bgr)
        if (self._tile_layout is not None and len(detections) < o.num_poses
                and (o.static_image_mode or self._frames_since_tiles >= o.detector_tiles_every)):
            self._frames_since_tiles = 0
            self.tile_scans += 1
            tiles = tile_rois(frame.shape[1], frame.shape[0], *self._tile_layout)
            self.detector_runs += len(tiles)
            detections = self.tile_detector.detect_tiles(frame, tiles, bgr=bgr, extra=detections,
                                                         min_score=o.detector_tiles_min_score)
        return detections

    def _new_people(self, frame: np.ndarray, detections: list[Detection], found: list[_Found], want: int,
                    bgr: bool, lost_now: list[_Track]) -> list[_Found]:
        """New tracks from detections that are not people already tracked (ROI IoU, then
        keypoint similarity of the landmarks), best first, at most ``want``. The single-person
        tracker tries only the best detection (MediaPipe's graph takes the first), and a person
        it finds again on the frame its track was lost (``lost_now``, with redetect_on_loss)
        goes on with that track's filters: one person, one filter state."""
        people = list(found)
        new: list[_Found] = []
        for det in detections if self._people_mode else detections[:1]:
            if len(new) >= want:
                break
            roi = det.roi()
            if not roi.is_valid():
                continue
            corners = roi.corners_px()
            if any(polygon_iou(corners, f.corners_px) > SAME_PERSON_ROI_IOU for f in people):
                continue
            out = self._landmarks(frame, roi, bgr)
            if out is None or any(same_person(out, f.out) for f in people):
                continue
            if not self._people_mode and lost_now:
                person = _Found.of(lost_now.pop(), out)  # _finish gives it the next frame's ROI
            else:
                person = _Found.of(_Track(0, roi, PoseSmoother(self.options.smoothing), AuxiliarySmoother(),
                                          MaskSmoother()), out)
                person.track.id = self._refound_id(person.corners_px) or self._issue_id()
            new.append(person)
            people.append(person)
        return new

    def _issue_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _refound_id(self, corners_px: np.ndarray) -> int | None:
        """The id of the recently lost track whose last ROI the new person's ROI (``corners_px``)
        overlaps most (IoU above REFOUND_ROI_IOU), taken out of the memory; None when there is none."""
        best, best_iou = None, REFOUND_ROI_IOU
        for k, (_, roi, _) in enumerate(self._lost_tracks):
            iou = polygon_iou(corners_px, roi.corners_px())
            if iou > best_iou:
                best, best_iou = k, iou
        if best is None:
            return None
        return self._lost_tracks.pop(best)[0]

    def _finish(self, frame: np.ndarray, t_ms: float, found: list[_Found], detections: list[Detection],
                detector_ran: bool, tracked: bool) -> PoseResult:
        """Smooth each person with its own filters, set each track's next ROI, build the result."""
        static = self.options.static_image_mode
        index = self.frames_processed
        self.frames_processed += 1
        self._last_timestamp_ms = t_ms
        size = (frame.shape[1], frame.shape[0])
        poses: list[Pose] = []
        tracks: list[_Track] = []
        for person in sorted(found, key=lambda f: f.track.id):
            track, out = person.track, person.out
            landmarks, world = out.landmarks_px, out.world_m
            if not static:
                landmarks, world, next_roi = smooth_person(out, track.smoother, track.aux_smoother, t_ms,
                                                           self.options.smooth_landmarks)
                if next_roi is not None:
                    track.roi = next_roi
                    tracks.append(track)
            mask = self._mask(out, size, track.mask_smoother if not static else None)
            poses.append(Pose(presence=out.presence, roi=out.roi, array_px=landmarks, world_m=world,
                              image_size=size, mask=mask, id=self._pose_id(track)))
        self._tracks = tracks
        people = self._people_mode
        return PoseResult(index, t_ms, size, poses[0] if poses else None, detections[0] if detections else None,
                          detector_ran, tracked, poses=poses if people else None,
                          detections=detections if people else None)

    def _mask(self, out: LandmarkerOutput, image_size: tuple[int, int],
              smoother: MaskSmoother | None) -> np.ndarray | None:
        """The person's mask in frame pixels (None without enable_segmentation), through the
        person's mask smoother on video when smooth_segmentation is on."""
        if out.mask_roi is None:
            return None
        mask = roi_mask_to_image(out.mask_roi, out.roi, image_size)
        return smoother(mask) if smoother is not None and self.options.smooth_segmentation else mask

    def process_roi(self, frame_rgb: np.ndarray, roi: Roi) -> PoseResult:
        """The landmark model alone on a given ROI: top-down pose with your own person box.

        For a detector of your own, or to score the landmark stage on labelled ROIs
        (``blazepose bench accuracy --roi labels``). Runs no detector, no smoothing and
        leaves the tracking state untouched; the pose is None when its presence is below
        ``min_tracking_confidence``.

        Args:
            frame_rgb: as in :meth:`process`.
            roi: the rotated square in image pixels (see :func:`blazepose_sdk.geometry.roi.roi_from_keypoints`
                for a person with known keypoints).
        Raises:
            InvalidFrameError: the frame or the ROI cannot be used.
            ConcurrentUseError: another thread is inside this tracker.
        """
        with self._exclusive():
            frame = as_rgb_uint8(frame_rgb)
            if not roi.is_valid():
                raise InvalidFrameError(f"ROI is not usable (non-finite or smaller than 2 px): {roi}")
            out = self._landmarks(frame, roi)
            size = (frame.shape[1], frame.shape[0])
            pose = None if out is None else Pose(presence=out.presence, roi=out.roi, array_px=out.landmarks_px,
                                                 world_m=out.world_m, image_size=size,
                                                 mask=self._mask(out, size, None))
            return PoseResult(self.frames_processed, 0.0, size, pose, None, False, False)

    def stats(self) -> dict:
        """Counters since construction: frames, detector runs, landmark runs, detector-run rate
        (with tiles every tile counts as a detector run; ``tile_scans`` counts the scans)."""
        stats = {
            "frames": self.frames_processed,
            "detector_runs": self.detector_runs,
            "landmark_runs": self.landmark_runs,
            "detector_run_rate": self.detector_runs / self.frames_processed if self.frames_processed else 0.0,
        }
        if self._people_mode:
            stats["tile_scans"] = self.tile_scans
            stats["tracked_people"] = len(self._tracks)
            stats["ids_issued"] = self._next_id - 1
        return stats
