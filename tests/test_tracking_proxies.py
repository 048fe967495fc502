"""training.tracking_proxies: the train-split stand-ins for the gate's people-kept and ghost axes
(cameras, which files they read, the counts per row), and negatives' photo halves."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training import tracking_proxies as tp
from training.data.negatives import NEGATIVE_SOURCES, photo_subset
from training.data.tracker_crops import camera_affines


def test_the_pan_camera_moves_up_right_and_zooms_in():
    m = tp.pan_affines(1000, 600, steps=3, size=(640, 360))
    full_w = min(1000, 600 * 640 / 360)
    assert m[0, 0, 0] == pytest.approx(640 / (0.8 * full_w)) and m[-1, 0, 0] == pytest.approx(640 / (0.5 * full_w))
    first_centre = np.linalg.solve(m[0][:, :2], np.array([320.0, 180.0]) - m[0][:, 2])
    last_centre = np.linalg.solve(m[-1][:, :2], np.array([320.0, 180.0]) - m[-1][:, 2])
    assert last_centre[0] > first_centre[0] and last_centre[1] < first_centre[1]
    corners = [m[-1] @ [x, y, 1.0] for x, y in ((0, 0), (1000, 600))]
    assert corners[0][0] <= 0 and corners[0][1] <= 0 and corners[1][0] >= 640 and corners[1][1] >= 360  # inside the photo


def test_photo_halves_split_the_table_by_index():
    even, odd = photo_subset(NEGATIVE_SOURCES, "even"), photo_subset(NEGATIVE_SOURCES, "odd")
    assert [s.id for s in even] == [s.id for s in NEGATIVE_SOURCES[0::2]] and odd == tuple(NEGATIVE_SOURCES[1::2])
    assert photo_subset(NEGATIVE_SOURCES, "all") == tuple(NEGATIVE_SOURCES)
    with pytest.raises(ValueError, match="photos"):
        photo_subset(NEGATIVE_SOURCES, "some")


def test_in_view_counts_the_points_each_view_shows():
    affines = camera_affines((50.0, 50.0, 100.0), (250.0, 50.0, 100.0), steps=3, size=(100, 100))
    points = np.array([[10.0, 50.0], [90.0, 50.0], [260.0, 50.0]])
    assert list(tp.in_view(affines, points, size=(100, 100))) == [2, 0, 1]


def _corpus(tmp_path, basketball_rgb):
    """A corpus with one train still (basketball1.png), a held-out still and Sports2D's video path
    as a 4-frame clip of the same picture; negatives with a grey photo and a noise photo."""
    corpus = tmp_path / "corpus"
    for rel, image in (("train/player/00000.png", basketball_rgb), ("heldout-source/other/00000.png", basketball_rgb)):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(corpus / rel), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    frames = [{"image": "train/player/00000.png", "split": "train", "kind": "image", "source": "player"},
              {"image": "heldout-source/other/00000.png", "split": "heldout-source", "kind": "image", "source": "other"},
              {"image": "train/video/00000.jpg", "split": "train", "kind": "video", "source": "video"}]
    (corpus / "corpus.json").write_text(json.dumps({"frames": frames}))
    video = corpus / tp.SPORTS2D_VIDEO
    video.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, basketball_rgb.shape[1::-1])
    for _ in range(4):
        writer.write(cv2.cvtColor(basketball_rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    negatives = tmp_path / "negatives"
    (negatives / "images").mkdir(parents=True)
    cv2.imwrite(str(negatives / "images" / "grey.png"), np.full((240, 320, 3), 128, np.uint8))
    cv2.imwrite(str(negatives / "images" / "noise.png"), np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8))
    (negatives / "manifest.json").write_text(json.dumps({"sources": [{"id": "grey"}, {"id": "noise"}]}))
    return corpus, negatives


def test_rows_are_counted_on_train_stills_windows_and_person_free_pans(tmp_path, basketball_rgb, capsys):
    corpus, negatives = _corpus(tmp_path, basketball_rgb)
    assert tp.train_stills(corpus) == [corpus / "train/player/00000.png"]  # no held-out still, no video frame
    assert tp.negative_photos(negatives) == [negatives / "images" / "grey.png", negatives / "images" / "noise.png"]
    out = tmp_path / "rows.json"
    assert tp.main(["--corpus", str(corpus), "--negatives", str(negatives), "--model", "blazepose-lite", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    runs = len(tp.ZOOM_DIRECTIONS)
    assert row["row"] == "blazepose-lite" and row["zoom_frames"] == runs * 45 and len(row["per_zoom_run"]) == runs
    assert 0 < row["zoom_pose_frames"] < row["zoom_frames"]  # the player is kept, then lost as the camera leaves him
    assert row["leave_person_frames"] + row["leave_gone_frames"] == runs * 45 and row["leave_gone_frames"] > 0
    assert 0 < row["leave_kept"] <= row["leave_person_frames"] and row["leave_held_after"] <= row["leave_gone_frames"]
    assert len(row["per_window"]) == len(tp.PROXY_WINDOWS) and row["window_person_frames"] > 0
    assert row["pan_frames"] == 2 * tp.PAN_STEPS and row["per_photo"][0] == 0  # nobody on a grey photo
    assert row["pan_poses"] == row["pan_poses_even"] + row["pan_poses_odd"]
    assert "blazepose-lite" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        tp.main(["--corpus", str(tmp_path / "none"), "--negatives", str(negatives), "--model", "blazepose-lite"])
    assert e.value.code == 2


def test_exit_clips_count_frames_kept_and_held_after_the_person_left(basketball_rgb):
    """A person walking out of a grey photo: kept while in view, nothing held on the grey after."""
    from blazepose_sdk import PoseTracker, TrackerOptions
    from training.data import copy_paste as cp
    from training.data import exit_clips as ec
    from training.data.sample import Sample, alignment_points

    with PoseTracker(TrackerOptions(static_image_mode=True)) as finder:
        pose = finder.process(basketball_rgb).pose
    lm = np.asarray(pose.array_px[:, :3], np.float32).copy()
    lm[:, :2] += 0.5
    full = np.ones(33, np.float32)
    s = Sample(image_jpeg=b"", landmarks_px=lm, visibility=full, landmark_mask=full,
               box_xyxy_px=np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32),
               alignment_px=alignment_points(lm, full).astype(np.float32))
    with cp.LandmarkSegmenter("blazepose-lite") as seg:
        _, cut, _ = cp.make_cutout(s, basketball_rgb, seg, cp.MaskThresholds())
    plan = ec.ClipPlan(person=0, mirror=False, photo=0, window=(0.0, 0.0, 640.0), height=0.8, feet=0.98, start=0.5,
                       direction=1, exit_frames=12)
    grey = np.full((360, 640, 3), 128, np.uint8)
    runs = [(*ec.clip_of(plan, [cut], grey), plan.exit_frames)] * 2
    with PoseTracker(TrackerOptions()) as tracker:
        kept, shown, held, gone = tp.exit_counts(tracker, runs)
    assert shown == 2 * 12 and gone == 2 * ec.TAIL_FRAMES
    assert kept >= 2 * 6 and held == 0  # both clips alike: the tracker restarts per clip
    with PoseTracker(TrackerOptions()) as tracker:
        tracked, cut_held, after = tp.cut_counts(tracker, runs, cut_frames=5)
    assert tracked == 2 and after == 2 * 5  # the person is tracked at the cut in both clips
    assert cut_held == 0  # nothing held on the grey view after the cut
    # a "view" that still shows someone (the basketball frame) is held after the cut
    player = cv2.resize(basketball_rgb, (640, 360))
    with PoseTracker(TrackerOptions()) as tracker:
        _, held_on_person, _ = tp.cut_counts(tracker, [runs[0], (runs[0][0], player, *runs[0][2:])], cut_frames=5)
    assert held_on_person >= 4
