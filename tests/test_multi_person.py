"""Multi-person tracking: stable ids on a synthetic two-person clip, merging, N=1 unchanged, CLI."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.app.cli import main
from blazepose_sdk.options import tracker_options_from_dict
from blazepose_sdk.app.drawing import draw_pose, id_color
from blazepose_sdk.errors import OptionError

# The basketball player's box in basketball1.png (x 52-98, y 112-360 by the tracker), with margin.
PLAYER = (slice(90, 380), slice(10, 140))
SIZE = (640, 400)  # clip width, height


def two_person_clip(basketball_rgb: np.ndarray, n: int = 20) -> list[np.ndarray]:
    """Two copies of the player on the blurred photo, walking towards each other and down, apart."""
    person = basketball_rgb[PLAYER]
    background = cv2.GaussianBlur(cv2.resize(basketball_rgb, SIZE), (0, 0), 15)
    frames = []
    for i in range(n):
        frame = background.copy()
        for x0 in (40 + 4 * i, 470 - 4 * i):
            y0 = 60 + 2 * i
            frame[y0:y0 + person.shape[0], x0:x0 + person.shape[1]] = person
        frames.append(frame)
    return frames


def people_by_side(result) -> dict[str, int]:
    """'left'/'right' -> id of the pose whose hip centre is on that half of the frame."""
    out = {}
    for pose in result.poses:
        hip_x = pose.array_px[[23, 24], 0].mean()
        out["left" if hip_x < SIZE[0] / 2 else "right"] = pose.id
    return out


def test_ids_are_stable_on_two_people_moving_apart(basketball_rgb):
    frames = two_person_clip(basketball_rgb)
    with PoseTracker(TrackerOptions(num_poses=2, num_threads=1)) as tracker:
        results = [tracker.process(f, timestamp_ms=33.3 * i) for i, f in enumerate(frames)]
        stats = tracker.stats()
    sides = [people_by_side(r) for r in results]
    assert all(set(s) == {"left", "right"} for s in sides), sides
    assert len({s["left"] for s in sides}) == 1 and len({s["right"] for s in sides}) == 1  # no id switch
    assert {sides[0]["left"], sides[0]["right"]} == {1, 2} and stats["ids_issued"] == 2
    # both found by the first detector run, then tracked: the detector is not needed again
    assert results[0].detector_ran and len(results[0].detections) == 2
    assert stats["detector_runs"] == 1 and all(r.tracked for r in results[1:])
    # each pose follows its own person: the left one moves right by 4 px a frame, 76 px in all
    left = [next(p for p in r.poses if p.id == sides[0]["left"]) for r in results]
    dx = left[-1].array_px[[23, 24], 0].mean() - left[0].array_px[[23, 24], 0].mean()
    assert 50 < dx < 100
    # pose is the oldest track; poses ordered by id; JSON lines carry both
    r = results[-1]
    assert [p.id for p in r.poses] == sorted(p.id for p in r.poses) and r.pose is r.poses[0]
    record = json.loads(json.dumps(r.to_dict()))
    assert [p["id"] for p in record["poses"]] == [1, 2] and record["pose"]["landmarks"] == record["poses"][0]["landmarks"]
    assert [e["track_id"] for e in r.to_coco(7)] == [1, 2]
    # each person drawn in its id's colour
    drawn = draw_pose(frames[-1], r, draw_roi=False)
    for pose in r.poses:
        x, y = np.round(pose.array_px[0, :2]).astype(int)  # the nose
        if pose.array_px[0, 3] >= 0.5:
            assert tuple(drawn[y, x]) == id_color(pose.id)


def test_two_tracks_on_one_person_merge_and_the_older_id_stays(basketball_rgb):
    frames = two_person_clip(basketball_rgb, 12)
    with PoseTracker(TrackerOptions(num_poses=2, num_threads=1, detect_every=2)) as tracker:
        for i, f in enumerate(frames[:3]):
            result = tracker.process(f, timestamp_ms=33.3 * i)
        sides = people_by_side(result)
        older, younger = min(sides.values()), max(sides.values())
        older_side = "left" if sides["left"] == older else "right"
        # the younger track's ROI jumps onto the older track's person (a few px off)
        rois = tracker.tracked_rois
        moved = dataclasses.replace(rois[older], center_x_px=rois[older].center_x_px + 6.0)
        next(t for t in tracker._tracks if t.id == younger).roi = moved
        result = tracker.process(frames[3], timestamp_ms=100.0)
        after = people_by_side(result)
        assert after[older_side] == older  # the older id kept its person
        assert younger not in after.values()  # the younger track was merged away
        assert result.detector_ran  # a merge is a lost track: look for the other person at once
        # the detector finds the other person again within a few frames: a new id, never the merged one
        other = "right" if older_side == "left" else "left"
        for i in range(4, 12):
            after = people_by_side(tracker.process(frames[i], timestamp_ms=33.3 * i))
    assert after == {older_side: older, other: 3}


def test_one_person_gives_the_single_person_output(pan_clip):
    """With one person in view, num_poses=2 tracks that person exactly as the single-person
    tracker does (same ROIs, same filters): byte-identical landmarks; N=1 keeps the old JSON."""
    with PoseTracker(TrackerOptions(num_threads=1)) as single, \
            PoseTracker(TrackerOptions(num_threads=1, num_poses=2)) as multi:
        for i, frame in enumerate(pan_clip[:30]):
            a = single.process(frame, timestamp_ms=33.3 * i)
            b = multi.process(frame, timestamp_ms=33.3 * i)
            assert len(b.poses) == 1 and b.pose.id == 1
            # one of two people tracked: the detector looks for the other every detect_every (5) frames
            assert b.detector_ran == (i % 5 == 0)
            assert np.array_equal(a.pose.array_px, b.pose.array_px)
            assert np.array_equal(a.pose.world_m, b.pose.world_m)
            assert a.pose.roi == b.pose.roi
    record = a.to_dict()
    assert set(record) == {"frame", "timestamp_ms", "image_size", "detector_ran", "tracked", "detection", "pose"}
    assert a.poses == [a.pose] and a.pose.id == 0 and not a.multi_person
    assert "track_id" not in a.to_coco(0)[0]


def test_options_and_cli(basketball_rgb, tmp_path, capsys):
    assert tracker_options_from_dict({"num_poses": 3, "detector_tiles": "2x2+c"}).num_poses == 3
    for bad in ({"num_poses": 0}, {"detect_every": 1.5}, {"detector_tiles": "9x9"}, {"detector_tiles_every": True}):
        with pytest.raises(OptionError, match=next(iter(bad))):
            tracker_options_from_dict(bad)
    with pytest.raises(OptionError, match="num_poses"):
        PoseTracker(TrackerOptions(num_poses=0))
    clip = tmp_path / "two.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, SIZE)
    for frame in two_person_clip(basketball_rgb, 8):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    for argv, message in ((["--num-poses", "0"], "--num-poses must be a whole number from 1 to 10000"),
                          (["--detector-tiles", "2x"], "detector_tiles must look like"),
                          (["--detector-tiles", "2x2", "--detector-tiles-model", str(tmp_path / "missing.tflite")],
                           "model file not found")):
        assert main(["run", str(clip), "--no-progress", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    out = tmp_path / "two.jsonl"
    assert main(["run", str(clip), "--num-poses", "2", "--no-progress", "--json", str(out), "--threads", "1"]) == 0
    assert "people_per_frame: 2.0" in capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 8 and all(sorted(p["id"] for p in line["poses"]) == [1, 2] for line in lines)


def test_a_person_lost_for_a_few_frames_gets_its_id_back(basketball_rgb):
    frames = two_person_clip(basketball_rgb, 12)
    background = cv2.GaussianBlur(cv2.resize(basketball_rgb, SIZE), (0, 0), 15)
    for i in (3, 4):  # the right-hand person steps out of view for two frames
        frames[i] = frames[i].copy()
        frames[i][:, SIZE[0] // 2:] = background[:, SIZE[0] // 2:]
    with PoseTracker(TrackerOptions(num_poses=2, num_threads=1, detect_every=1)) as tracker:
        sides = [people_by_side(tracker.process(f, timestamp_ms=33.3 * i)) for i, f in enumerate(frames)]
        issued = tracker.stats()["ids_issued"]
    assert "right" not in sides[3] and "right" not in sides[4]
    assert sides[-1] == sides[0] and issued == 2  # back within LOST_TRACK_MEMORY_MS: the same id


def test_combined_mask_is_the_per_pixel_maximum():
    from blazepose_sdk.results import Pose, PoseResult
    from blazepose_sdk.geometry.roi import Roi

    def pose(track_id, mask):
        return Pose(presence=1.0, roi=Roi(2.0, 2.0, 4.0, 0.0), array_px=np.zeros((33, 5)), world_m=np.zeros((33, 3)),
                    image_size=(3, 2), mask=mask, id=track_id)

    a = np.array([[0.9, 0.1, 0.0], [0.2, 0.0, 0.4]], np.float32)
    b = np.array([[0.3, 0.6, 0.0], [0.7, 0.0, 0.1]], np.float32)
    both = PoseResult(0, 0.0, (3, 2), None, None, True, False, poses=[pose(1, a), pose(2, b)])
    assert np.array_equal(both.combined_mask(), np.array([[0.9, 0.6, 0.0], [0.7, 0.0, 0.4]], np.float32))
    assert PoseResult(0, 0.0, (3, 2), None, None, True, False, poses=[pose(1, None)]).combined_mask() is None
    assert PoseResult(0, 0.0, (3, 2), None, None, True, False).combined_mask() is None


def test_each_person_gets_its_own_mask(basketball_rgb):
    frames = two_person_clip(basketball_rgb, 3)
    with PoseTracker(TrackerOptions(num_poses=2, num_threads=1, enable_segmentation=True)) as tracker:
        for i, f in enumerate(frames):
            result = tracker.process(f, timestamp_ms=33.3 * i)
    assert len(result.poses) == 2
    for pose in result.poses:
        hip_x = pose.array_px[[23, 24], 0].mean()
        left_half = pose.mask[:, : SIZE[0] // 2].sum()
        right_half = pose.mask[:, SIZE[0] // 2:].sum()
        assert (left_half > 5 * right_half) if hip_x < SIZE[0] / 2 else (right_half > 5 * left_half)
    combined = result.combined_mask()
    assert combined.shape == (SIZE[1], SIZE[0])
    assert np.array_equal(combined, np.maximum(result.poses[0].mask, result.poses[1].mask))


def test_tiles_find_small_pedestrians_the_whole_frame_detector_misses(shared_data):
    """vtest.avi frame 544: six people 60-110 px tall in view; the whole-frame detector gives one
    pose, with the 3x3 tile scan at its default threshold four, each on a different person
    (checked by eye when this test was written)."""
    from blazepose_sdk.geometry.matching import polygon_iou
    from blazepose_sdk.app.video import VideoReader

    with VideoReader(shared_data / "vtest.avi") as reader:
        frame = next(f for i, (_, f) in enumerate(reader) if i == 544)
    found = {}
    for tiles in (None, "3x3"):
        with PoseTracker(TrackerOptions(num_threads=1, static_image_mode=True, num_poses=6, detector_tiles=tiles)) as t:
            found[tiles] = t.process(frame).poses
            stats = t.stats()
    assert stats["tile_scans"] == 1 and stats["detector_runs"] == 10  # the whole frame + 9 tiles
    assert len(found[None]) == 1 and len(found["3x3"]) >= 3
    rois = [p.roi.corners_px() for p in found["3x3"]]
    assert all(polygon_iou(a, b) < 0.6 for i, a in enumerate(rois) for b in rois[i + 1:])  # distinct people
    for pose in found["3x3"]:
        height = pose.array_px[:, 1].max() - pose.array_px[:, 1].min()
        assert pose.presence >= 0.5 and 40 < height < 160  # pedestrian-sized


def test_detector_tiles_model_runs_on_the_tiles_only(shared_data, tmp_path):
    """With ``detector_tiles_model`` the tile scan runs that file and the whole frame the
    pipeline's detector; the same detector file given for the tiles gives the same poses as
    without the option; it is not loaded without ``detector_tiles``, and a bad file is a typed error."""
    import shutil

    from blazepose_sdk.errors import ModelError
    from blazepose_sdk.assets.models import BUNDLED_DIR
    from blazepose_sdk.app.video import VideoReader

    with VideoReader(shared_data / "vtest.avi") as reader:
        frame = next(f for i, (_, f) in enumerate(reader) if i == 544)
    tiles_file = tmp_path / "tile_detector.tflite"  # no manifest beside it: unchecked, outputs by shape
    shutil.copy(BUNDLED_DIR / "pose_detection.tflite", tiles_file)
    base = TrackerOptions(model="blazepose-lite", num_threads=1, static_image_mode=True, num_poses=6,
                          detector_tiles="3x3")
    with PoseTracker(base) as plain:
        expected = plain.process(frame).poses
        assert plain.tile_detector is plain.detector  # the official pipeline has no tile detector of its own
    with PoseTracker(dataclasses.replace(base, detector_tiles_model=tiles_file)) as tracker:
        assert tracker.tile_detector is not tracker.detector
        calls = {"whole": 0, "tiles": 0}
        for name, stage in (("whole", tracker.detector), ("tiles", tracker.tile_detector)):
            run = stage.model.run

            def counted(tensor, _run=run, _name=name):
                calls[_name] += 1
                return _run(tensor)

            stage.model.run = counted
        poses = tracker.process(frame).poses
    assert calls == {"whole": 1, "tiles": 9}
    assert len(poses) == len(expected) >= 3
    for a, b in zip(poses, expected):
        np.testing.assert_allclose(a.array_px, b.array_px, atol=1e-3)
    with PoseTracker(dataclasses.replace(base, detector_tiles=None, detector_tiles_model=tmp_path / "none")) as t:
        assert t.tile_detector is t.detector  # not loaded without tiles
    (tmp_path / "bad.tflite").write_bytes(b"not a model")
    with pytest.raises(ModelError):
        PoseTracker(dataclasses.replace(base, detector_tiles_model=tmp_path / "bad.tflite"))
