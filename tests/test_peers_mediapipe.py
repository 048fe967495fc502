"""The MediaPipe peer row: found or skipped with the reason, never dropped; our side of the comparison."""

import importlib.util
import os
import sys

import pytest

from blazepose_sdk.bench.common import Reporter
from blazepose_sdk.bench.peers import mediapipe_legacy as mp_peer
from blazepose_sdk.bench.pipeline import format_peers, run_peers, tracker_loop
from blazepose_sdk.assets.models import resolve_pipeline
from blazepose_sdk.app.video import VideoWriter


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory, pan_clip):
    path = tmp_path_factory.mktemp("peers") / "pan.avi"
    with VideoWriter(path, fps=30) as writer:
        for frame in pan_clip[:6]:
            writer.write(frame)
    return path


def test_no_mediapipe_python_says_why(monkeypatch, tmp_path):
    monkeypatch.delenv(mp_peer.PYTHON_ENV, raising=False)
    python, why = mp_peer.mediapipe_python(None)
    assert python is None and mp_peer.PYTHON_ENV in why
    python, why = mp_peer.mediapipe_python(str(tmp_path / "no-such-python"))
    assert python is None and "not found" in why


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None, reason="mediapipe is importable here")
def test_a_python_without_mediapipe_is_refused_with_its_error():
    python, why = mp_peer.mediapipe_python(sys.executable)
    assert python is None and "cannot import mediapipe" in why


def test_landmark_file_is_placed_once_and_never_replaced(tmp_path):
    root = tmp_path / "mediapipe"
    (root / "modules" / "pose_landmark").mkdir(parents=True)
    lite = resolve_pipeline("blazepose-lite").landmark.path
    with pytest.raises(SystemExit, match="missing"):
        mp_peer.install_landmark_model(root, 0, None)
    sha = mp_peer.install_landmark_model(root, 0, lite)
    assert (root / "modules" / "pose_landmark" / "pose_landmark_lite.tflite").read_bytes() == lite.read_bytes()
    assert mp_peer.install_landmark_model(root, 0, lite) == sha  # idempotent
    other = tmp_path / "other.tflite"
    other.write_bytes(b"TFL3 not the official file")
    with pytest.raises(SystemExit, match="differs"):
        mp_peer.install_landmark_model(root, 0, other)


def test_our_loop_summary(clip_path):
    out = tracker_loop(str(clip_path), "blazepose-lite")
    assert out["frames"] == 6 and out["pose_frames"] == 6 and out["detector_runs"] == 1
    assert out["wall_s"] > 0 and out["cpu_s"] > 0 and out["bgr"] is True
    stages = {row["stage"]: row for row in out["profile"]}
    assert stages["landmark_inference"]["calls"] == 6 and stages["detector_inference"]["calls"] == 1
    assert "to_rgb" not in stages  # BGR frames: no whole-frame conversion
    rgb = tracker_loop(str(clip_path), "blazepose-lite", max_frames=3, bgr=False)
    assert rgb["frames"] == 3 and {r["stage"] for r in rgb["profile"]} >= {"to_rgb"}


def test_our_loop_with_other_model_files(clip_path):
    """--landmark replaces the pipeline's landmark file: blazepose-lite with our INT8 landmark
    file is the ours-lite pipeline, pose for pose."""
    from blazepose_sdk.errors import ModelNotFoundError
    from blazepose_sdk.assets.models import BUNDLED_DIR

    ours = BUNDLED_DIR / "ours_pose_landmark_lite_int8.tflite"
    swapped = tracker_loop(str(clip_path), "blazepose-lite", landmark=str(ours), profile=False)
    assert swapped["landmark"] == str(ours) and swapped["detector"] is None
    assert swapped["pose_frames"] == tracker_loop(str(clip_path), "ours-lite", profile=False)["pose_frames"] == 6
    with pytest.raises(ModelNotFoundError):
        tracker_loop(str(clip_path), "blazepose-lite", detector=str(clip_path.parent / "missing.tflite"))


def test_peers_without_mediapipe_keep_the_row_and_say_why(monkeypatch, clip_path):
    monkeypatch.delenv(mp_peer.PYTHON_ENV, raising=False)
    reporter = Reporter(progress=False, stream=open(os.devnull, "w"))
    rows = run_peers([str(clip_path)], None, reporter, repeats=1, max_frames=4)
    assert len(rows) == 1
    row = rows[0]
    assert row["skipped"].startswith("MediaPipe not run") and mp_peer.PYTHON_ENV in row["skipped"]
    assert row["ours"]["frames"] == 4 and row["ours"]["fps"] > 0  # our side still measured, in its own process
    assert row["mediapipe"]["frames"] == 0 and row["ratio_wall"] is None
    assert any("MediaPipe" in n for n in reporter.notes)
    assert "skipped: MediaPipe not run" in format_peers(rows)


def test_report_table_of_the_peer_rows(monkeypatch, clip_path):
    from blazepose_sdk.bench.peers.summary import peer_tables
    from blazepose_sdk.bench.pipeline import peers_table

    assert peers_table({"rows": []}) is None and peers_table(None) is None
    monkeypatch.delenv(mp_peer.PYTHON_ENV, raising=False)
    reporter = Reporter(progress=False, stream=open(os.devnull, "w"))
    payload = {"peers": run_peers([str(clip_path)], None, reporter, repeats=1, max_frames=3)}
    table = peers_table(payload)
    assert table.rows[0][0] == "pan.avi" and table.rows[0][1] == "3"
    assert table.rows[0][4] == "-" and table.rows[0][6] == "-"  # no MediaPipe numbers, no ratio
    assert table.rows[0][-1].startswith("MediaPipe not run")
    markdown = table.markdown()
    assert "MediaPipe not run" in markdown and "wall x MP" in markdown
    # report.md's peer section shows it even without MoveNet rows
    assert [t.title for t in peer_tables({"pipeline": payload})] == [table.title]
