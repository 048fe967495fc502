"""training.data.tracker_crops: each record's crop is the crop the tracker's landmark model ran
on, the records carry no labels, and only train-split videos of the real corpus are used."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.geometry.roi import Roi
from training.data import tracker_crops
from training.data.augment import landmark_crop, landmark_roi
from training.data.corpus_sources import ARCHIVES, SOURCES
from training.data.sample import read_tfrecords


def test_a_record_cuts_the_roi_the_tracker_used():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    roi = Roi(300.0, 60.0, 180.0, 0.4)  # partly outside the frame, as at a frame edge
    lm = np.c_[rng.uniform(250, 330, (33, 2)), np.zeros(33)]
    s = tracker_crops.tracker_sample(frame, roi, lm, "src", 7, 3)
    back, from_points = landmark_roi(s.alignment_px, s.box_xyxy_px)
    assert from_points
    np.testing.assert_allclose([back.center_x_px, back.center_y_px, back.size_px, back.rotation_rad],
                               [roi.center_x_px, roi.center_y_px, roi.size_px, roi.rotation_rad], atol=1e-3)
    # the un-augmented training crop is the SDK's crop of the stored frame at that ROI
    crop = landmark_crop(s, rng, training=False).image
    sdk = crop_roi(s.image_rgb(), roi, 256, (0.0, 255.0))[0]
    assert np.abs(crop.astype(np.float32) - sdk).mean() < 1.0
    assert s.landmark_mask.sum() == 0 and s.visibility.sum() == 0  # no labels: teacher term only
    assert s.source == "tracker:src" and s.image_id == "src:7:3"
    np.testing.assert_array_less([-1e-6, -1e-6], s.box_xyxy_px[:2])  # box clipped to the frame
    assert s.box_xyxy_px[2] <= 320 and s.box_xyxy_px[3] <= 240


def _video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (frames[0].shape[1], frames[0].shape[0]))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _as_source(monkeypatch, path, split="train", kind="video"):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    src = dataclasses.replace(SOURCES[0], id="clip", sha256=digest, split=split, kind=kind)
    monkeypatch.setattr(tracker_crops, "SOURCES", (*SOURCES, src))
    return src


def test_only_train_split_videos_are_used(tmp_path, monkeypatch, shared_data):
    with pytest.raises(tracker_crops.TrackerCropsError, match="heldout-source video"):
        tracker_crops.train_video_source(shared_data / "vtest.avi")  # the benchmarks' held-out clip
    clip = _video(tmp_path / "clip.avi", [np.zeros((64, 64, 3), np.uint8)] * 3)
    with pytest.raises(tracker_crops.TrackerCropsError, match="not a video of the real corpus"):
        tracker_crops.train_video_source(clip)
    for split, kind in (("test-only", "video"), ("train", "image")):
        _as_source(monkeypatch, clip, split, kind)
        with pytest.raises(tracker_crops.TrackerCropsError, match="only train-split videos"):
            tracker_crops.train_video_source(clip)
    accepted = _as_source(monkeypatch, clip)
    assert tracker_crops.train_video_source(clip) == accepted


def test_cli_refuses_a_held_out_video_with_exit_2(tmp_path, shared_data, capsys):
    with pytest.raises(SystemExit) as e:
        tracker_crops.main([str(shared_data / "vtest.avi"), "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and "only train-split videos" in capsys.readouterr().err


def test_build_writes_one_record_per_tracked_person_and_frame(tmp_path, monkeypatch, basketball_rgb):
    clip = _video(tmp_path / "clip.avi", [basketball_rgb] * 4)
    _as_source(monkeypatch, clip)
    manifest = tracker_crops.build([clip], tmp_path / "out", num_poses=2)
    records = read_tfrecords(sorted(glob.glob(str(tmp_path / "out" / "*.tfrecord"))))
    assert manifest["records"] == len(records) == manifest["videos"][0]["crops"] >= 4  # someone tracked on each frame
    video = manifest["videos"][0]
    assert video["frames"] == 4 and video["source"] == "clip" and video["package"] == ARCHIVES[SOURCES[0].archive].package
    for s in records:
        assert s.source == "tracker:clip" and s.landmark_mask.sum() == 0
        assert landmark_roi(s.alignment_px, s.box_xyxy_px)[1]


def test_windows_are_checked_and_cut_to_whole_pixels():
    assert tracker_crops.check_window([0, 0.25, 0.5, 1]) == (0.0, 0.25, 0.5, 1.0)
    for bad in ([0, 0, 1], [0.5, 0, 0.5, 1], [0, 0.6, 1, 0.4], [-0.1, 0, 1, 1], [0, 0, 1, 1.2]):
        with pytest.raises(tracker_crops.TrackerCropsError, match="--window"):
            tracker_crops.check_window(bad)
    rows, cols = tracker_crops.window_slices((0.25, 0.5, 0.75, 1.0), 640, 272)
    assert (rows, cols) == (slice(136, 272), slice(160, 480))
    rows, cols = tracker_crops.window_slices((0.999, 0.0, 1.0, 0.001), 640, 272)  # never empty
    assert (rows.stop - rows.start, cols.stop - cols.start) == (1, 1) and cols.start == 639


def test_windows_track_each_view_on_its_own(tmp_path, monkeypatch, basketball_rgb, capsys):
    clip = _video(tmp_path / "clip.avi", [basketball_rgb] * 3)
    _as_source(monkeypatch, clip)
    h, w = basketball_rgb.shape[:2]
    windows = [(0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 0.6, 1.0)]
    manifest = tracker_crops.build([clip], tmp_path / "out", num_poses=2, windows=windows)
    records = read_tfrecords(sorted(glob.glob(str(tmp_path / "out" / "*.tfrecord"))))
    assert [v["window"] for v in manifest["videos"]] == [list(x) for x in windows]
    assert manifest["records"] == len(records) == sum(v["crops"] for v in manifest["videos"])
    views = {}
    for s in records:
        source, view, _frame, _track = s.image_id.split(":")
        assert source == "clip" and s.source == "tracker:clip"
        views.setdefault(view, []).append(s)
    assert set(views) == {"w0", "w1"}
    assert {s.image_rgb().shape[:2] for s in views["w0"]} == {(h, w)}
    assert {s.image_rgb().shape[:2] for s in views["w1"]} == {(h, round(0.6 * w))}  # the record is the view
    # frame 0 of w1: the ROIs a tracker run on the view itself gives, in the view's pixels
    from blazepose_sdk.app.video import VideoReader
    from blazepose_sdk.tracker import PoseTracker, TrackerOptions

    first = [s for s in views["w1"] if s.image_id.split(":")[2] == "0"]
    with VideoReader(clip) as reader:
        t_ms, frame = next(iter(reader))
    with PoseTracker(TrackerOptions(num_poses=2)) as tracker:
        want = tracker.process(np.ascontiguousarray(frame[:, :round(0.6 * w)]), timestamp_ms=t_ms).poses
    assert len(first) == len(want) >= 1
    for s, pose in zip(sorted(first, key=lambda s: s.image_id), sorted(want, key=lambda p: p.id)):
        roi, _ = landmark_roi(s.alignment_px, s.box_xyxy_px)
        assert np.allclose([roi.center_x_px, roi.center_y_px, roi.size_px],
                           [pose.roi.center_x_px, pose.roi.center_y_px, pose.roi.size_px], atol=0.05)
    with pytest.raises(SystemExit) as e:
        tracker_crops.main([str(clip), "--out", str(tmp_path / "bad"), "--window", "0.5", "0", "0.2", "1"])
    assert e.value.code == 2 and "--window" in capsys.readouterr().err


def test_zoom_affines_go_from_the_whole_frame_to_the_window_beside_the_person():
    w, h, side = 1280, 960, 400.0
    centre, direction = (700.0, 500.0), (0.6, -0.5)
    m = tracker_crops.zoom_affines(w, h, centre, side, direction, steps=5, size=(640, 360))
    assert m.shape == (5, 2, 3)

    def to_view(k, x, y):
        return m[k] @ [x, y, 1.0]

    # first view: the widest 16:9 window centred in the frame (the full width here), frame centre at the view centre
    assert np.allclose(to_view(0, w / 2, h / 2), (320, 180)) and np.allclose(to_view(0, 0, h / 2), (0, 180))
    # last view: ZOOM_END_SIDE x side wide, centred beside the person
    end = np.array(centre) + np.array(direction) * side
    assert np.allclose(to_view(4, *end), (320, 180))
    assert m[4, 0, 0] == pytest.approx(640 / (tracker_crops.ZOOM_END_SIDE * side))
    assert m[4, 0, 0] > m[2, 0, 0] > m[0, 0, 0] and np.allclose(m[:, 0, 0], m[:, 1, 1])  # zooms in, square pixels
    portrait = tracker_crops.zoom_affines(480, 640, centre, side, direction, steps=2, size=(640, 360))
    assert portrait[0, 0, 0] == pytest.approx(640 / 480)  # a portrait frame: its whole width


def test_zoom_frames_film_held_frames_with_a_camera_that_zooms_in(tmp_path, monkeypatch, basketball_rgb, capsys):
    clip = _video(tmp_path / "clip.avi", [basketball_rgb] * 3)
    _as_source(monkeypatch, clip)
    manifest = tracker_crops.build([clip], tmp_path / "out", num_poses=1, zoom_frames=2)
    records = read_tfrecords(sorted(glob.glob(str(tmp_path / "out" / "*.tfrecord"))))
    video = manifest["videos"][0]
    steps, directions = tracker_crops.ZOOM_STEPS, len(tracker_crops.ZOOM_DIRECTIONS)
    assert video["frames"] == 2 * directions * steps and manifest["zoom"]["frames"] == 2  # frames 0 and 2, held
    assert manifest["records"] == len(records) == video["crops"] > steps  # the person is held for many views
    tags = {s.image_id.split(":")[1] for s in records}
    assert tags <= {f"z{f}d{d}" for f in (0, 2) for d in range(directions)} and len(tags) >= directions
    assert {s.image_rgb().shape[:2] for s in records} == {tracker_crops.ZOOM_SIZE_PX[::-1]}
    for bad in (["--zoom-frames", "0"], ["--zoom-frames", "2", "--window", "0", "0", "0.5", "1"]):
        with pytest.raises(SystemExit) as e:
            tracker_crops.main([str(clip), "--out", str(tmp_path / "bad"), *bad])
        assert e.value.code == 2 and "--zoom-frames" in capsys.readouterr().err


def test_people_boxes_grow_each_persons_landmark_box():
    a = np.array([[10.0, 20.0], [30.0, 60.0], [20.0, 40.0]])
    boxes = tracker_crops.people_boxes([a, a + 100.0], growth=0.25)
    np.testing.assert_allclose(boxes, [[0, 10, 40, 70], [100, 110, 140, 170]])  # longer side 40 -> 10 px each side
    assert tracker_crops.people_boxes([]).shape == (0, 4)


def test_an_roi_shows_people_only_where_it_lies_inside_the_view():
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    view = (320, 240)
    assert tracker_crops.roi_shows_people(Roi(120.0, 150.0, 100.0), view, box)  # on the person
    assert not tracker_crops.roi_shows_people(Roi(260.0, 150.0, 100.0), view, box)  # beside them
    assert not tracker_crops.roi_shows_people(Roi(120.0, 150.0, 100.0), view, np.zeros((0, 4)))  # nobody
    # a person beyond the view's right edge (their box there, as a labeller's points past the frame
    # can be): the ROI reaches them only where it shows padding
    beyond = np.array([[330.0, 100.0, 380.0, 200.0]])
    assert not tracker_crops.roi_shows_people(Roi(310.0, 150.0, 120.0), view, beyond)
    assert tracker_crops.roi_shows_people(Roi(310.0, 150.0, 120.0), (400, 240), beyond)
    # rotation: a 45-degree ROI's corner region is not the axis-aligned square's
    corner = np.array([[0.0, 0.0, 12.0, 12.0]])
    assert tracker_crops.roi_shows_people(Roi(50.0, 50.0, 100.0), view, corner)
    assert not tracker_crops.roi_shows_people(Roi(50.0, 50.0, 100.0, np.pi / 4), view, corner)


def test_empty_out_takes_the_crops_that_show_nobody(tmp_path, monkeypatch, basketball_rgb, capsys):
    from training.data.augment import is_person_free

    clip = _video(tmp_path / "clip.avi", [basketball_rgb] * 3)
    _as_source(monkeypatch, clip)
    # the labeller finds the person the tracker follows: no crop is empty, the records are as without
    plain = tracker_crops.build([clip], tmp_path / "plain", num_poses=1)
    manifest = tracker_crops.build([clip], tmp_path / "out", num_poses=1, empty_out=tmp_path / "empty",
                                   labeller="blazepose-lite")
    assert manifest["videos"][0]["empty"] == 0 and manifest["records"] == plain["records"] >= 3
    assert json.loads((tmp_path / "empty" / "manifest.json").read_text())["records"] == 0
    # a labeller that finds nobody: every crop goes to the person-free records, none to the unlabelled ones
    monkeypatch.setattr(tracker_crops, "label_people", lambda labeller, frame, t_ms=None: [])
    manifest = tracker_crops.build([clip], tmp_path / "out2", num_poses=1, empty_out=tmp_path / "empty2",
                                   labeller="blazepose-lite")
    assert manifest["records"] == 0 and manifest["videos"][0]["empty"] == plain["records"]
    empty = read_tfrecords(sorted(glob.glob(str(tmp_path / "empty2" / "empty-*.tfrecord"))))
    kept = read_tfrecords(sorted(glob.glob(str(tmp_path / "plain" / "*.tfrecord"))))
    assert len(empty) == len(kept) and all(is_person_free(s) for s in empty)
    assert [s.source for s in empty] == ["negative:tracker-empty:clip"] * len(kept)
    for a, b in zip(empty, kept):  # the same crop, only marked person-free
        assert a.image_id == b.image_id and np.allclose(a.alignment_px, b.alignment_px, equal_nan=True)
    info = json.loads((tmp_path / "empty2" / "manifest.json").read_text())
    assert info["records"] == len(empty) and info["labeller"] == "blazepose-lite" and info["sheets"] == ["sheet_00.png"]
    sheet = cv2.imread(str(tmp_path / "empty2" / "sheet_00.png"))
    assert sheet.shape == (tracker_crops.SHEET_TILE_PX, tracker_crops.SHEET_COLS * tracker_crops.SHEET_TILE_PX, 3)
    with pytest.raises(SystemExit) as e:
        tracker_crops.main([str(clip), "--out", str(tmp_path / "same"), "--empty-out", str(tmp_path / "same")])
    assert e.value.code == 2 and "--empty-out" in capsys.readouterr().err
