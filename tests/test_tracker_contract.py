"""PoseTracker's contract with callers: timestamps, threads, landmark names, the public API."""

import threading

import numpy as np
import pytest

import blazepose_sdk
from blazepose_sdk import (
    ConcurrentUseError,
    InvalidFrameError,
    PoseTracker,
    TimestampError,
    TrackerOptions,
    UnknownLandmarkError,
)
from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.results import Pose
from blazepose_sdk.stages.detector import Detection
from blazepose_sdk.stages.landmarker import LandmarkerOutput

BLANK = np.zeros((96, 128, 3), np.uint8)


@pytest.fixture()
def tracker():
    with PoseTracker() as t:
        yield t


def test_a_timestamp_that_goes_backwards_is_refused_and_changes_nothing(tracker):
    tracker.process(BLANK, timestamp_ms=100.0)
    tracker.process(BLANK, timestamp_ms=100.0)  # equal: allowed (the filters pass values through)
    with pytest.raises(TimestampError, match="backwards"):
        tracker.process(BLANK, timestamp_ms=99.0)
    assert tracker.frames_processed == 2
    assert isinstance(TimestampError("x"), InvalidFrameError)
    assert tracker.process(BLANK, timestamp_ms=133.0).timestamp_ms == 133.0
    with pytest.raises(TimestampError, match="finite"):
        tracker.process(BLANK, timestamp_ms=float("nan"))
    tracker.reset()  # a new stream may start again at 0
    assert tracker.process(BLANK, timestamp_ms=0.0).timestamp_ms == 0.0


def test_static_image_mode_does_not_care_about_timestamps():
    with PoseTracker(TrackerOptions(static_image_mode=True)) as t:
        t.process(BLANK, timestamp_ms=500.0)
        assert t.process(BLANK, timestamp_ms=0.0).frame_index == 1


def test_a_second_thread_inside_one_tracker_gets_a_typed_error(tracker):
    inside, release = threading.Event(), threading.Event()
    detector = tracker.detector

    def slow_detector(frame, *, bgr=False):
        inside.set()
        assert release.wait(30)
        return detector(frame)

    slow = PoseTracker.from_stages(slow_detector, tracker.landmarker, tracker.options)
    results = []
    worker = threading.Thread(target=lambda: results.append(slow.process(BLANK, timestamp_ms=0.0)))
    worker.start()
    try:
        assert inside.wait(30)
        with pytest.raises(ConcurrentUseError, match="one PoseTracker per thread"):
            slow.process(BLANK, timestamp_ms=33.0)
        with pytest.raises(ConcurrentUseError):
            slow.process_roi(BLANK, Roi(64.0, 48.0, 40.0, 0.0))
    finally:
        release.set()
        worker.join(30)
    assert len(results) == 1 and results[0].pose is None  # the first call finished normally
    inside.clear()
    release.set()
    assert slow.process(BLANK, timestamp_ms=66.0).frame_index == 1  # and the tracker is free again


def test_a_wrong_landmark_name_lists_the_valid_ones():
    pose = Pose(presence=1.0, roi=Roi(10.0, 10.0, 20.0, 0.0), array_px=np.zeros((33, 5)), world_m=np.zeros((33, 3)))
    assert pose.landmark("nose").x_px == 0.0
    with pytest.raises(UnknownLandmarkError, match="no landmark named 'Nose'.*left_wrist"):
        pose.landmark("Nose")
    with pytest.raises(ValueError):  # still a ValueError for existing handlers
        pose.landmark("wrist")


def test_draw_pose_and_the_errors_are_public():
    for name in ("draw_pose", "ConcurrentUseError", "TimestampError", "UnknownLandmarkError"):
        assert name in blazepose_sdk.__all__ and hasattr(blazepose_sdk, name)
    pose = Pose(presence=1.0, roi=Roi(64.0, 48.0, 60.0, 0.0), array_px=np.zeros((33, 5)), world_m=np.zeros((33, 3)))
    pose.array_px[:, :2] = [64.0, 48.0]
    pose.array_px[:, 3] = 1.0
    result = blazepose_sdk.PoseResult(0, 0.0, (128, 96), pose, None, True, False)
    drawn = blazepose_sdk.draw_pose(BLANK, result)
    assert drawn.shape == BLANK.shape and drawn.any() and not BLANK.any()  # a copy, with the ROI drawn


def test_file_timestamps_follow_the_container_and_always_increase():
    from blazepose_sdk.app.video import frame_timestamp_ms

    def run(container, fps=25.0):
        out, last = [], None
        for i, c in enumerate(container):
            last = frame_timestamp_ms(i, c, fps, last)
            out.append(last)
        return out

    assert run([0.0, 40.0, 100.0, 180.0]) == [0.0, 40.0, 100.0, 180.0]  # variable frame rate kept
    assert run([0.0, 0.0, 0.0]) == [0.0, 40.0, 80.0]  # a backend that reports nothing: index / fps
    assert run([0.0, None, float("nan")]) == [0.0, 40.0, 80.0]
    assert run([0.0, 40.0, 40.0, 30.0]) == [0.0, 40.0, 41.0, 42.0]  # never equal, never backwards


def test_video_reader_times_are_the_container_times(shared_data):
    import cv2

    from blazepose_sdk.app.video import VideoReader

    cap = cv2.VideoCapture(str(shared_data / "vtest.avi"))
    want = []
    for _ in range(5):
        cap.read()
        want.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    cap.release()
    with VideoReader(shared_data / "vtest.avi") as reader:
        got = [t for (t, _frame), _ in zip(reader, range(5))]
    assert want == pytest.approx([0.0, 100.0, 200.0, 300.0, 400.0])
    np.testing.assert_allclose(got, want)


def test_poses_carry_mediapipe_normalised_coordinates(tracker, shared_data):
    from blazepose_sdk.app.video import read_image

    frame = read_image(shared_data / "basketball1.png")
    pose = tracker.process(frame, timestamp_ms=0.0).pose
    assert pose is not None and pose.image_size == (frame.shape[1], frame.shape[0])
    w, h = pose.image_size
    norm = pose.array_norm
    np.testing.assert_allclose(norm[:, 0] * w, pose.array_px[:, 0])
    np.testing.assert_allclose(norm[:, 1] * h, pose.array_px[:, 1])
    np.testing.assert_allclose(norm[:, 2] * w, pose.array_px[:, 2])  # MediaPipe's z: image-width units
    np.testing.assert_array_equal(norm[:, 3:], pose.array_px[:, 3:])
    nose = pose.normalized_landmarks[0]
    assert isinstance(nose, blazepose_sdk.NormalizedLandmark) and 0.0 < nose.x < 1.0 and 0.0 < nose.y < 1.0
    without_size = Pose(presence=1.0, roi=pose.roi, array_px=pose.array_px, world_m=pose.world_m)
    with pytest.raises(ValueError, match="image_size"):
        without_size.array_norm



def test_restart_gives_the_results_of_a_tracker_just_built():
    """restart(): one loaded tracker serves unrelated streams with a fresh tracker's results
    (frame indices from 0, ids from 1, counters at 0), unlike reset() which keeps counting."""
    from pathlib import Path

    from blazepose_sdk import PoseTracker, TrackerOptions
    from blazepose_sdk.app.video import read_image

    image = Path(__file__).resolve().parents[2] / "shared" / "data" / "basketball1.png"
    if not image.is_file():
        pytest.skip(f"{image} missing")
    still = read_image(image)
    frames = [np.roll(still, 3 * i, axis=1) for i in range(8)]  # two people, moving right

    def run(tracker):
        return [(r.frame_index, [(p.id, p.array_px.tobytes()) for p in r.poses])
                for r in (tracker.process(f, timestamp_ms=100.0 * i) for i, f in enumerate(frames))]

    options = TrackerOptions(model="blazepose-lite", num_poses=3)
    with PoseTracker(options) as fresh:
        expected = run(fresh)
    with PoseTracker(options) as reused:
        assert any(poses for _, poses in expected)
        run(reused)
        reused.reset()
        assert run(reused) != expected  # reset() keeps frame indices and ids counting
        reused.restart()
        assert run(reused) == expected
        assert reused.frames_processed == len(frames)


def test_from_stages_runs_the_stages_it_is_given_and_loads_no_model():
    """The tracker is composed: given stages run as they are, no model file is opened (the
    options name a pipeline that does not exist), and close() leaves stages without a model alone."""
    from blazepose_sdk.errors import OptionError

    calls = []

    def detector(frame, *, bgr=False):
        calls.append("detector")
        return []

    def landmarker(frame, roi, *, bgr=False):  # never reached: nobody is detected
        raise AssertionError("no ROI, no landmarks")

    options = TrackerOptions(model="no-such-pipeline")
    with PoseTracker.from_stages(detector, landmarker, options) as t:
        result = t.process(BLANK, timestamp_ms=0.0)
    assert result.pose is None and result.detector_ran and calls == ["detector"]
    with pytest.raises(OptionError):
        PoseTracker.from_stages(detector, landmarker, TrackerOptions(min_tracking_confidence=2.0))


# -- one path for 1..N people: the single-person rules, with scripted stages -------------------
def _detection(x: float, y: float) -> Detection:
    """A detection whose ROI is centred on (x, y) px with a 100 px body circle radius."""
    return Detection(0.9, (x - 10, y - 60, x + 10, y - 40), (x, y), (x, y - 100), (x, y - 50), (x, y - 80))


class _PersonAt:
    """A landmark stage that sees a person (presence 1) in a ROI centred within 50 px of one of
    ``people`` (x, y), nobody elsewhere (presence 0), and nobody on the one call after
    ``lose_next_call`` is set; its landmarks and auxiliary points sit at the ROI centre plus
    ``shift`` px per call."""

    def __init__(self, people, shift=0.0):
        self.people, self.shift = people, shift
        self.calls = 0
        self.lose_next_call = False

    def __call__(self, frame, roi, *, bgr=False):
        self.calls += 1
        here = any(np.hypot(roi.center_x_px - x, roi.center_y_px - y) < 50 for x, y in self.people)
        if self.lose_next_call:
            self.lose_next_call, here = False, False
        c = np.array([roi.center_x_px + self.shift * self.calls, roi.center_y_px])
        landmarks = np.zeros((33, 5))
        landmarks[:, :2] = c
        landmarks[:, 3:] = 1.0
        aux = np.array([c, c - [0.0, 100.0]])
        return LandmarkerOutput(roi, 1.0 if here else 0.0, landmarks, aux, np.zeros((33, 3)))


def test_single_person_tries_only_the_best_detection_people_mode_tries_the_next():
    detections = [_detection(100, 300), _detection(400, 300)]  # the best one is not a person
    single = _PersonAt([(400, 300)])
    with PoseTracker.from_stages(lambda f, *, bgr=False: detections, single, TrackerOptions()) as t:
        result = t.process(BLANK, timestamp_ms=0.0)
    assert result.pose is None and single.calls == 1 and "poses" not in result.to_dict()
    several = _PersonAt([(400, 300)])
    with PoseTracker.from_stages(lambda f, *, bgr=False: detections, several, TrackerOptions(num_poses=2)) as t:
        result = t.process(BLANK, timestamp_ms=0.0)
    assert result.pose is not None and several.calls == 2 and result.to_dict()["poses"][0]["id"] == 1


def test_single_person_redetected_on_the_frame_it_was_lost_keeps_its_filters():
    """Frame 0 finds the person; on frame 1 the tracked ROI loses it and the redetection finds it
    again. The single-person tracker goes on with the same One-Euro filters (the pose is smoothed
    towards frame 0's); several-people mode starts a new track whose filters pass the first value."""
    outputs = {}
    for num_poses in (1, 2):
        landmarker = _PersonAt([(400, 300)], shift=5.0)
        detector = lambda f, *, bgr=False: [_detection(400, 300)]  # noqa: E731
        with PoseTracker.from_stages(detector, landmarker, TrackerOptions(num_poses=num_poses)) as t:
            first = t.process(BLANK, timestamp_ms=0.0)
            landmarker.lose_next_call = True  # the tracked ROI loses the person; the redetection finds it
            second = t.process(BLANK, timestamp_ms=33.0)
        assert first.pose is not None and second.pose is not None and second.detector_ran and not second.tracked
        raw_x = 400 + 5.0 * landmarker.calls  # the redetection's own landmark x
        outputs[num_poses] = (second.pose.array_px[0, 0], raw_x, first.pose.array_px[0, 0])
    x, raw, before = outputs[1]
    assert before < x < raw  # smoothed with frame 0's filter state
    x, raw, _ = outputs[2]
    assert x == pytest.approx(raw)  # a new track: its filter's first value passes unchanged


class _Presences:
    """A landmark stage whose pose presence on its k-th call is ``presences[k]`` (landmarks and
    auxiliary points at the ROI centre)."""

    def __init__(self, presences):
        self.presences, self.calls = list(presences), 0

    def __call__(self, frame, roi, *, bgr=False):
        p = self.presences[self.calls]
        self.calls += 1
        c = np.array([roi.center_x_px, roi.center_y_px])
        landmarks = np.zeros((33, 5))
        landmarks[:, :2] = c
        landmarks[:, 3:] = p
        return LandmarkerOutput(roi, p, landmarks, np.array([c, c - [0.0, 100.0]]), np.zeros((33, 3)))


@pytest.mark.parametrize("hold, kept", [(None, [True, False]), (0.3, [True, True, False])])
def test_min_hold_confidence_is_the_bar_for_a_person_already_tracked(hold, kept):
    """Presence 0.9 on the detection, then 0.4 and 0.2 on the tracked ROI: with the default (one bar,
    0.5) the person is lost at 0.4; with min_hold_confidence 0.3 the track holds at 0.4 and is lost
    at 0.2. Each loss runs the detector on that frame, whose landmarks (presence 0) find nobody."""
    landmarker = _Presences([0.9, 0.4, 0.2, 0.0] if hold else [0.9, 0.4, 0.0])
    detector = lambda f, *, bgr=False: [_detection(400, 300)]  # noqa: E731
    with PoseTracker.from_stages(detector, landmarker, TrackerOptions(min_hold_confidence=hold)) as t:
        results = [t.process(BLANK, timestamp_ms=33.0 * i) for i in range(len(kept))]
    assert [r.pose is not None for r in results] == kept
    assert [r.tracked for r in results] == [False] + kept[1:]
    assert landmarker.calls == len(landmarker.presences)


def test_a_new_track_still_needs_min_tracking_confidence():
    """min_hold_confidence lowers the bar for held tracks only: a detection whose landmarks have
    presence 0.4 starts no track, frame after frame."""
    landmarker = _Presences([0.4, 0.4])
    detector = lambda f, *, bgr=False: [_detection(400, 300)]  # noqa: E731
    with PoseTracker.from_stages(detector, landmarker, TrackerOptions(min_hold_confidence=0.3)) as t:
        assert [t.process(BLANK, timestamp_ms=33.0 * i).pose for i in range(2)] == [None, None]
