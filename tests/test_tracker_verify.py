"""verify_every: tracked people checked by the detector on their own ROI, with scripted stages."""

import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.errors import OptionError
from blazepose_sdk.stages.detector import Detection
from blazepose_sdk.stages.landmarker import LandmarkerOutput

BLANK = np.zeros((600, 800, 3), np.uint8)
PERSON = (400.0, 300.0)


def _detection(x: float, y: float) -> Detection:
    """A detection whose ROI is centred on (x, y) px with a 100 px body circle radius."""
    return Detection(0.9, (x - 10, y - 60, x + 10, y - 40), (x, y), (x, y - 100), (x, y - 50), (x, y - 80))


class _Detector:
    """The whole frame: a detection at PERSON on the first call only (the track starts there).
    A ROI (verification): a detection at ``on_roi`` (None: nothing) for each entry of
    ``confirm`` in turn (True: found), then ``default``."""

    def __init__(self, confirm=(), default=False, on_roi=PERSON):
        self.confirm, self.default, self.on_roi = list(confirm), default, on_roi
        self.whole_frame_calls = 0
        self.roi_calls = []

    def __call__(self, frame, *, bgr=False, roi=None):
        if roi is None:
            self.whole_frame_calls += 1
            return [_detection(*PERSON)] if self.whole_frame_calls == 1 else []
        self.roi_calls.append(roi)
        found = self.confirm.pop(0) if self.confirm else self.default
        return [_detection(*self.on_roi)] if found and self.on_roi is not None else []


def _landmarker(frame, roi, *, bgr=False):
    """Sees a person (presence 1) in every ROI: a pose the landmark model never lets go of."""
    c = np.array([roi.center_x_px, roi.center_y_px])
    landmarks = np.zeros((33, 5))
    landmarks[:, :2] = c
    landmarks[:, 3:] = 1.0
    return LandmarkerOutput(roi, 1.0, landmarks, np.array([c, c - [0.0, 100.0]]), np.zeros((33, 3)))


def _frames_with_pose(detector, options, frames=12):
    with PoseTracker.from_stages(detector, _landmarker, options) as t:
        return [t.process(BLANK, timestamp_ms=33.0 * i).pose is not None for i in range(frames)]


def test_without_verify_every_a_pose_the_landmark_model_holds_is_never_checked():
    detector = _Detector()
    assert all(_frames_with_pose(detector, TrackerOptions()))
    assert detector.roi_calls == []


def test_a_track_no_detection_confirms_is_dropped_after_verify_misses_checks():
    detector = _Detector(default=False)
    seen = _frames_with_pose(detector, TrackerOptions(verify_every=3, verify_misses=2))
    # checks on frames 2 and 5 (every 3 frames while tracked); the second miss drops the track on
    # frame 5 and the whole-frame detector, run again, finds nobody
    assert seen == [True] * 5 + [False] * 7
    assert len(detector.roi_calls) == 2
    roi = detector.roi_calls[0]
    assert (roi.center_x_px, roi.center_y_px) == pytest.approx(PERSON)  # the check looks at the person's ROI


def test_a_confirmed_track_stays_and_a_confirmation_resets_the_misses():
    assert all(_frames_with_pose(_Detector(default=True), TrackerOptions(verify_every=3, verify_misses=2)))
    # miss, found, miss, found: never two misses in a row
    alternating = _Detector(confirm=[False, True, False, True, False, True], default=True)
    assert all(_frames_with_pose(alternating, TrackerOptions(verify_every=2, verify_misses=2), frames=14))


def test_a_detection_elsewhere_in_the_roi_does_not_confirm_the_track():
    detector = _Detector(default=True, on_roi=(PERSON[0] + 200.0, PERSON[1]))  # someone beside it
    seen = _frames_with_pose(detector, TrackerOptions(verify_every=3, verify_misses=2))
    assert seen[:5] == [True] * 5 and not any(seen[5:])


def test_verify_options_are_checked():
    with pytest.raises(OptionError, match="verify_every"):
        TrackerOptions(verify_every=0)
    with pytest.raises(OptionError, match="verify_misses"):
        TrackerOptions(verify_misses=0)
