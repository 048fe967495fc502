"""training.data.exit_clips: a pasted person walks out of a person-free photo; the tracker's crops
after the last pixel has left are person-free records, the others unlabelled ones."""

from __future__ import annotations

import dataclasses
import glob
import json
import types

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training.data import exit_clips as ec
from training.data.augment import is_person_free
from training.data.sample import Sample, ShardedWriter, alignment_points, read_tfrecords


def _plan(**kw):
    base = {"person": 0, "mirror": False, "photo": 0, "window": (0.0, 0.0, 640.0), "height": 0.8, "feet": 1.0,
            "start": 0.5, "direction": 1, "exit_frames": 10}
    return ec.ClipPlan(**{**base, **kw})


@pytest.mark.parametrize("direction", [-1, 1])
@pytest.mark.parametrize("mirror", [False, True])
def test_the_person_starts_where_planned_and_is_gone_after_exit_frames(direction, mirror):
    cut_w, cut_h = 60, 180
    plan = _plan(direction=direction, mirror=mirror)
    m = ec.paste_affines((cut_w, cut_h), plan)
    assert m.shape == (plan.exit_frames + ec.TAIL_FRAMES, 2, 3)
    corners = np.array([[0, 0, 1], [cut_w, 0, 1], [0, cut_h, 1], [cut_w, cut_h, 1]], np.float64).T
    vw, vh = ec.CLIP_SIZE_PX
    first = m[0] @ corners
    assert np.isclose(first[0].mean(), plan.start * vw) and np.isclose(first[1].max(), plan.feet * vh)
    assert np.isclose(np.ptp(first[1]), plan.height * vh)  # 0.8 of the view's height
    inside = [((m[t] @ corners)[0].max() > 0) & ((m[t] @ corners)[0].min() < vw) for t in range(len(m))]
    assert all(inside[:plan.exit_frames]) and not any(inside[plan.exit_frames:])
    x0 = [(m[t] @ corners)[0].mean() for t in range(len(m))]
    assert np.all(np.diff(x0) * direction > 0)  # walks one way at one speed
    assert np.allclose(np.diff(x0), np.diff(x0)[0])


def test_plans_are_reproducible_and_inside_their_ranges():
    sizes = [(1000, 800), (640, 1200)]
    p = np.array([0.25, 0.75])
    a = [ec.plan_clip(np.random.default_rng(3), p, sizes) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = ec.plan_clip(rng, p, sizes)
        w, h = sizes[c.photo]
        x0, y0, win = c.window
        assert 0 <= x0 and x0 + win <= w + 1e-6 and 0 <= y0 and y0 + win * 9 / 16 <= h + 1e-6
        assert ec.HEIGHT_RANGE[0] <= c.height <= ec.HEIGHT_RANGE[1] and c.direction in (-1, 1)
        assert ec.EXIT_FRAMES_RANGE[0] <= c.exit_frames <= ec.EXIT_FRAMES_RANGE[1]


def test_person_box_is_the_pasted_pixels():
    alpha = np.zeros((36, 64), np.float32)
    assert ec.person_box(alpha).shape == (0, 4)
    alpha[10:20, 30:35] = 1.0
    alpha[0, 0] = ec.ALPHA_MIN / 2  # a faint fringe is not the person
    np.testing.assert_array_equal(ec.person_box(alpha), [[30, 10, 35, 20]])


def test_clips_route_crops_by_whether_they_reach_the_person(tmp_path, basketball_rgb):
    from blazepose_sdk import PoseTracker, TrackerOptions

    with PoseTracker(TrackerOptions(model="blazepose-lite", static_image_mode=True)) as tracker:
        pose = tracker.process(basketball_rgb).pose
    lm = np.asarray(pose.array_px[:, :3], np.float32).copy()
    lm[:, :2] += 0.5  # SDK -> data-engine pixels
    full = np.ones(33, np.float32)
    _, jpeg = cv2.imencode(".png", cv2.cvtColor(basketball_rgb, cv2.COLOR_RGB2BGR))
    s = Sample(image_jpeg=jpeg.tobytes(), landmarks_px=lm, visibility=full, landmark_mask=full,
               box_xyxy_px=np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32),
               alignment_px=alignment_points(lm, full).astype(np.float32), source="test:basketball", image_id="b0")
    (tmp_path / "people").mkdir()
    with ShardedWriter(str(tmp_path / "people" / "p"), 1) as writer:
        writer.write(s)
    (tmp_path / "neg" / "images").mkdir(parents=True)
    args = ["--samples", str(tmp_path / "people"), "--negatives", str(tmp_path / "neg"), "--out", str(tmp_path / "o"),
            "--empty-out", str(tmp_path / "e"), "--clips", "1", "--segmenter", "blazepose-lite"]
    assert ec.main(args) == 2  # no photos yet
    cv2.imwrite(str(tmp_path / "neg" / "images" / "grey.png"), np.full((90, 160, 3), 128, np.uint8))
    assert ec.main(args) == 2  # basketball1.png is a held-out source: refused as training data
    # the same pixels under a neutral name (this test's records stay in its tmp folder)
    s = dataclasses.replace(s, source="test:person", image_id="p0")
    with ShardedWriter(str(tmp_path / "people" / "p"), 1) as writer:
        writer.write(s)
    (tmp_path / "neg" / "images" / "grey.png").unlink()
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.integers(0, 256, (30, 40, 3)).astype(np.uint8), (800, 600), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "neg" / "images" / "wall.png"), texture)
    m = ec.build([str(tmp_path / "people")], tmp_path / "neg", tmp_path / "out", tmp_path / "empty", clips=3, seed=1,
                 segmenter="blazepose-lite")
    assert m["persons"]["kept"] == 1 and len(m["per_clip"]) == 3
    kept = read_tfrecords(sorted(glob.glob(str(tmp_path / "out" / "*.tfrecord"))))
    empty = read_tfrecords(sorted(glob.glob(str(tmp_path / "empty" / "*.tfrecord"))))
    assert len(kept) == m["crops"] > 0 and len(empty) == m["empty"]
    exits = {f"exit-{c['clip']:05d}": c["exit_frames"] for c in m["per_clip"]}
    for c in m["per_clip"]:
        assert c["frames"] == c["exit_frames"] + ec.TAIL_FRAMES
    for r in kept:  # a crop that reaches the person: only while some of them is in view
        clip, frame, _ = r.image_id.split(":")
        assert r.source == f"tracker:{clip}" and int(frame) < exits[clip] and not is_person_free(r)
    for r in empty:
        assert is_person_free(r) and r.source.startswith("negative:tracker-empty:exit-")
    # --empty-every 2: the same clips, of each clip's empty crops the first and every 2nd after
    m2 = ec.build([str(tmp_path / "people")], tmp_path / "neg", tmp_path / "out2", tmp_path / "empty2", clips=3, seed=1,
                  segmenter="blazepose-lite", empty_every=2)
    empty2 = read_tfrecords(sorted(glob.glob(str(tmp_path / "empty2" / "*.tfrecord"))))
    by_clip = {}
    for r in empty:
        by_clip.setdefault(r.image_id.split(":")[0], []).append(r.image_id)
    assert [r.image_id for r in empty2] == [i for ids in by_clip.values() for i in ids[::2]]
    assert m2["empty"] == m["empty"] and m2["empty_written"] == len(empty2) and m2["crops"] == m["crops"]
    info = json.loads((tmp_path / "empty" / "manifest.json").read_text())
    assert info["empty"] == len(empty) and len(info["sheets"]) == (1 if empty else 0)
    assert ec.main(["--samples", str(tmp_path / "people"), "--negatives", str(tmp_path / "nothing"), "--out",
                    str(tmp_path / "o"), "--empty-out", str(tmp_path / "e"), "--clips", "1"]) == 2
    # --cut: each clip cut halfway to its exit to the next clip's empty view; the person is kept
    # before the cut, and any crop after it is routed to the empty set
    m3 = ec.build([str(tmp_path / "people")], tmp_path / "neg", tmp_path / "out3", tmp_path / "empty3", clips=3, seed=1,
                  segmenter="blazepose-lite", scene_cuts=True)
    assert m3["scene_cuts"] and m3["options"]["cut_tail_frames"] == ec.CUT_TAIL_FRAMES
    kept3 = read_tfrecords(sorted(glob.glob(str(tmp_path / "out3" / "*.tfrecord"))))
    empty3 = read_tfrecords(sorted(glob.glob(str(tmp_path / "empty3" / "*.tfrecord"))))
    cuts = {f"cut-{c['clip']:05d}": ec.cut_index(c["exit_frames"]) for c in m3["per_clip"]}
    for c in m3["per_clip"]:
        assert c["frames"] == ec.cut_index(c["exit_frames"]) + ec.CUT_TAIL_FRAMES
    assert kept3 and all(int(r.image_id.split(":")[1]) < cuts[r.image_id.split(":")[0]] for r in kept3)
    assert all(int(r.image_id.split(":")[1]) >= cuts[r.image_id.split(":")[0]] and is_person_free(r) for r in empty3)


def test_a_cut_clip_shows_the_person_then_the_other_view():
    cut = types.SimpleNamespace(rgb=np.full((40, 20, 3), 255, np.uint8), alpha=np.ones((40, 20), np.float32))
    plan = ec.ClipPlan(person=0, mirror=False, photo=0, window=(0.0, 0.0, 640.0), height=0.5, feet=0.9, start=0.5,
                       direction=1, exit_frames=10)
    background = np.zeros((360, 640, 3), np.uint8)
    other = np.full((360, 640, 3), 7, np.uint8)
    affines = ec.paste_affines((20, 40), plan)
    frames = list(ec.cut_clip_frames(cut, background, affines, plan.exit_frames, other, tail=3))
    assert ec.cut_index(10) == 5 and ec.cut_index(1) == 1 and len(frames) == 5 + 3
    assert all(len(box) == 1 and frame.max() == 255 for frame, box in frames[:5])  # the person in view
    assert all(len(box) == 0 and frame is other for frame, box in frames[5:])


def test_a_zoom_clip_closes_in_on_the_standing_person(tmp_path):
    from training.data.tracker_crops import ZOOM_STEPS

    cut = types.SimpleNamespace(rgb=np.full((40, 20, 3), 255, np.uint8), alpha=np.ones((40, 20), np.float32))
    plan = ec.ClipPlan(person=0, mirror=False, photo=0, window=(0.0, 0.0, 640.0), height=0.5, feet=0.9, start=0.5,
                       direction=1, exit_frames=10)
    background = np.zeros((360, 640, 3), np.uint8)
    affines = ec.paste_affines((20, 40), plan)
    (cx, cy), side = ec.zoom_roi(np.array([300.0, 144.0, 340.0, 324.0]))
    assert (cx, cy) == (320.0, 234.0) and side == ec.ZOOM_ROI_GROWTH * 180.0
    frames = list(ec.zoom_clip_frames(cut, background, affines[0], (0.0, 0.6)))
    assert len(frames) == ZOOM_STEPS and all(f.shape == (360, 640, 3) for f, _ in frames)
    widths = [box[0, 2] - box[0, 0] for _, box in frames]  # the person is a white bar: its width is the zoom
    assert np.all(np.diff(widths) >= 0) and widths[-1] > 3 * widths[0]
    last = frames[-1][1][0]
    assert last[1] == 0 or last[3] == 360  # it spills over the view's top or bottom edge
    assert frames[0][1][0, 3] < 360 and frames[0][0].max() == 255  # first view: the whole person
    # a paste that leaves nobody in view gives no frames
    away = affines[0].copy()
    away[0, 2] += 5000
    assert list(ec.zoom_clip_frames(cut, background, away, (0.0, 0.6))) == []
    with pytest.raises(ec.ExitClipsError):
        ec.build(["nothing"], tmp_path / "neg", tmp_path / "o", tmp_path / "e", 1, scene_cuts=True, zoom=True)
