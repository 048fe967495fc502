"""A full tracker run, result serialisation, and the CLI on a real image and a real clip."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.app.cli import main
from blazepose_sdk.geometry.topology import LANDMARK_NAMES
from blazepose_sdk.app.video import VideoWriter


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory, pan_clip):
    path = tmp_path_factory.mktemp("clip") / "pan.avi"
    with VideoWriter(path, fps=30) as writer:
        for frame in pan_clip:
            writer.write(frame)
    return path


def test_tracker_detects_once_then_tracks(reference_models, pan_clip):
    with PoseTracker(TrackerOptions(model="reference-lite", num_threads=2)) as tracker:
        results = [tracker.process(f, timestamp_ms=i * 33.3) for i, f in enumerate(pan_clip)]
        assert all(r.pose is not None for r in results)
        assert results[0].detector_ran and not results[0].tracked
        assert all(r.tracked and not r.detector_ran for r in results[1:])
        assert tracker.stats() == {"frames": 60, "detector_runs": 1, "landmark_runs": 60,
                                   "detector_run_rate": 1 / 60}
        # landmarks are on the person: the nose is above the hips, the ankles below the knees
        pose = results[-1].pose
        assert pose.landmark("nose").y_px < pose.landmark("left_hip").y_px < pose.landmark("left_ankle").y_px
        # a blank frame loses the person; the next frame runs the detector again
        lost = tracker.process(np.zeros_like(pan_clip[0]), timestamp_ms=61 * 33.3)
        assert lost.pose is None and lost.detector_ran and tracker.tracked_roi is None
        again = tracker.process(pan_clip[0], timestamp_ms=62 * 33.3)
        assert again.detector_ran and again.pose is not None


def test_static_mode_runs_detector_every_frame(reference_models, pan_clip):
    with PoseTracker(TrackerOptions(model="reference-lite", static_image_mode=True)) as tracker:
        for frame in pan_clip[:3]:
            assert tracker.process(frame).detector_ran
        assert tracker.detector_runs == 3


def test_process_roi_runs_the_landmark_model_alone(reference_models, pan_clip):
    from blazepose_sdk.errors import InvalidFrameError
    from blazepose_sdk.geometry.roi import Roi

    with PoseTracker(TrackerOptions(model="reference-lite", num_threads=2)) as tracker:
        found = tracker.process(pan_clip[0])
        roi = found.pose.roi
        state = tracker.tracked_roi
        result = tracker.process_roi(pan_clip[0], roi)
        assert not result.detector_ran and result.pose.roi == roi
        # the same crop gives the same landmarks (the first tracked frame is not smoothed yet)
        np.testing.assert_allclose(result.pose.array_px[:, :2], found.pose.array_px[:, :2], atol=1e-3)
        assert tracker.tracked_roi == state and tracker.detector_runs == 1 and tracker.landmark_runs == 2
        # a ROI on an empty corner of the frame finds nobody: presence below the threshold
        assert tracker.process_roi(np.zeros_like(pan_clip[0]), roi).pose is None
        with pytest.raises(InvalidFrameError, match="ROI"):
            tracker.process_roi(pan_clip[0], Roi(10.0, 10.0, 1.0, 0.0))


def test_result_serialisation(reference_models, basketball_rgb):
    with PoseTracker(TrackerOptions(model="reference-full", static_image_mode=True)) as tracker:
        result = tracker.process(basketball_rgb, timestamp_ms=5)
    d = json.loads(json.dumps(result.to_dict()))
    assert {"frame", "timestamp_ms", "detector_ran", "pose"} <= set(d)
    assert len(d["pose"]["landmarks"]) == 33 and len(d["pose"]["landmarks"][0]) == 5
    assert len(d["pose"]["world_landmarks"]) == 33 and len(d["pose"]["world_landmarks"][0]) == 3
    assert set(d["pose"]["roi"]) == {"center_x_px", "center_y_px", "size_px", "rotation_rad"}
    coco = result.to_coco(image_id=7)
    assert coco[0]["image_id"] == 7 and len(coco[0]["keypoints"]) == 51
    # the full-body player is the person at the left of the photo
    assert result.pose.landmark("nose").x_px < 200
    assert len(result.pose.landmarks) == len(LANDMARK_NAMES)
    hips = result.pose.world_m[[23, 24]].mean(axis=0)
    assert np.abs(hips).max() < 0.05  # world landmarks are hip-centred (metres)


def test_cli_on_image(reference_models, shared_data, tmp_path, capsys):
    out_png, out_json = tmp_path / "out.png", tmp_path / "out.jsonl"
    code = main(["run", str(shared_data / "basketball1.png"), "--model", "reference-full", "--out", str(out_png),
                 "--json", str(out_json)])
    assert code == 0
    record = json.loads(out_json.read_text().splitlines()[0])
    assert record["pose"] is not None and record["detector_ran"] is True
    assert cv2.imread(str(out_png)).shape == (480, 640, 3)
    assert "with_pose: 1" in capsys.readouterr().out


def test_cli_on_video(reference_models, clip_path, tmp_path):
    out_mp4, out_json, out_coco = tmp_path / "out.mp4", tmp_path / "out.jsonl", tmp_path / "coco.json"
    proc = subprocess.run(
        [sys.executable, "-m", "blazepose_sdk", "run", str(clip_path), "--model", "reference-lite", "--out",
         str(out_mp4), "--json", str(out_json), "--coco", str(out_coco), "--threads", "2"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in out_json.read_text().splitlines()]
    assert len(lines) == 60 and sum(r["detector_ran"] for r in lines) == 1
    assert all(r["pose"] is not None for r in lines)
    assert lines[1]["timestamp_ms"] > lines[0]["timestamp_ms"]
    cap = cv2.VideoCapture(str(out_mp4))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 60
    cap.release()
    assert len(json.loads(out_coco.read_text())) == 60
    assert "detector_runs: 1" in proc.stdout
    # without --out nothing is drawn, so the frames stay BGR as decoded: the same JSON lines
    bgr_json = tmp_path / "bgr.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "blazepose_sdk", "run", str(clip_path), "--model", "reference-lite", "--json",
         str(bgr_json), "--threads", "2", "--no-progress"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert bgr_json.read_text() == out_json.read_text()


def test_cli_errors_are_clean(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.mp4")]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
