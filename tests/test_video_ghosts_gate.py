"""The user-facing benchmarks: multi-view ground truth, video scoring, ghost counting and the gate.

Known answers only: cameras and points made here, hand-computed PCK, jitter and survival counts,
and a gate that must fail whenever the candidate is worse on any axis."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from blazepose_sdk.bench import multiview as mv
from blazepose_sdk.bench.__main__ import build_parser
from blazepose_sdk.bench.ghosts import IGNORE, PERSON, PERSON_FREE, GhostFootage, load_labels, score_row, survival
from blazepose_sdk.bench.machine import cpu_flags_from_cpuinfo
from blazepose_sdk.bench.video import ClipTruth, jitter, score_clip, summarise
from blazepose_sdk.bench.gate import DEFAULT_TIME_TOLERANCE, gate_checks, gate_table
from blazepose_sdk.bench.wheels import PinnedWheel


def _look_at(name: str, position: np.ndarray, f: float = 1000.0) -> mv.Camera:
    """A camera at ``position`` looking at the origin, world z up."""
    forward = -position / np.linalg.norm(position)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.vstack([right, down, forward])
    k = np.array([[f, 0, 500.0], [0, f, 400.0], [0, 0, 1]])
    return mv.Camera(name, k, np.zeros(4), rotation, -rotation @ position, (1000, 800))


CAMERAS = [_look_at("a", np.array([4.0, 0.0, 1.0])), _look_at("b", np.array([0.0, 4.0, 1.5])),
           _look_at("c", np.array([-3.0, -3.0, 1.0]))]


def test_projection_and_triangulation_recover_a_known_point():
    point = np.array([0.2, -0.1, 0.9])
    xy = np.vstack([mv.project(c, point) for c in CAMERAS])
    assert np.allclose(mv.project(CAMERAS[0], np.zeros(3)), [[500.0, 400.0]])  # the origin is the image centre
    t = mv.robust_triangulate(CAMERAS, np.array([0, 1, 2]), xy, np.array([0, 1, 0]), inlier_px=5.0)
    assert t.xyz_m is not None and np.allclose(t.xyz_m, point, atol=1e-9)
    assert t.inliers.all() and t.errors_px.max() < 1e-6


def test_an_outlier_is_dropped_and_one_model_alone_is_not_ground_truth():
    point = np.array([0.0, 0.3, 1.2])
    xy = np.vstack([mv.project(c, point) for c in CAMERAS] + [mv.project(CAMERAS[2], point) + [80.0, 0.0]])
    t = mv.robust_triangulate(CAMERAS, np.array([0, 1, 2, 2]), xy, np.array([0, 1, 1, 2]), inlier_px=10.0)
    assert np.allclose(t.xyz_m, point, atol=1e-9)
    assert t.inliers.tolist() == [True, True, True, False]
    assert t.errors_px[3] == pytest.approx(80.0, abs=1e-6)
    # every view agrees, but all observations come from one model: no label
    alone = mv.robust_triangulate(CAMERAS, np.array([0, 1, 2]), xy[:3], np.array([1, 1, 1]), inlier_px=10.0)
    assert alone.xyz_m is None and not alone.inliers.any()


def test_read_qca_converts_units_and_axes():
    xml = """<calibration><cameras><camera serial="cam01">
      <fov_video bottom="799" left="8" right="1007" top="0"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1" x="0" y="0" z="5000"/>
      <intrinsic centerPointU="32512" centerPointV="25600" focalLengthU="64000" focalLengthV="64000"
        radialDistortion1="0" radialDistortion2="0" tangentalDistortion1="0" tangentalDistortion2="0"/>
    </camera></cameras></calibration>"""
    (cam,) = mv.read_qca(xml)
    assert cam.size == (1000, 800)
    assert np.allclose(cam.k, [[1000, 0, 500], [0, 1000, 400], [0, 0, 1]])  # 1/64 px, minus the window's left
    # at z = 5 m looking down (Qualisys -z): the world origin is 5 m in front, at the principal point
    assert np.allclose(cam.rotation @ np.zeros(3) + cam.translation_m, [0, 0, 5])
    assert np.allclose(mv.project(cam, np.array([1.0, 0.0, 0.0])), [[700.0, 400.0]])


def _truth(frames: int = 4) -> ClipTruth:
    rng = np.random.default_rng(0)
    xy = rng.uniform(100, 200, (frames, 17, 2))
    xy[:, 5] = [100.0, 100.0]  # left shoulder
    xy[:, 12] = [100.0, 200.0]  # right hip: torso 100 px
    xyz = rng.normal(size=(frames, 17, 3))
    return ClipTruth("clip", xy, np.ones((frames, 17), bool), xyz)


def test_score_clip_known_answers():
    gt = _truth()
    perfect = score_clip(gt.xy_px.copy(), gt.xyz_m.copy(), gt)
    s = summarise([perfect])
    assert s["pck@0.1"] == 1.0 and s["pck@0.2"] == 1.0 and s["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    assert s["pose_frames"] == 4
    # 15 px off (0.15 torso): wrong at 0.1, right at 0.2; a frame without a pose is wrong everywhere
    pred = gt.xy_px + [15.0, 0.0]
    pred[3] = np.nan
    s = summarise([score_clip(pred, np.full_like(gt.xyz_m, np.nan), gt)])
    assert s["pck@0.1"] == 0.0 and s["pck@0.2"] == pytest.approx(0.75)
    assert s["pose_frames"] == 3 and s["pa_mpjpe_mm"] is None


def test_pck_difference_pairs_frames_and_its_interval_covers_only_real_gaps():
    """Per-frame counts of two rows on the same clips: the difference is exact on all frames; a
    row against itself has a zero-width interval at 0; a uniform 17-joint gain on one frame in
    four is +0.25 with an interval that stays above 0; a gain on one frame alone spans 0."""
    from blazepose_sdk.bench.metrics import paired_pck_difference
    from blazepose_sdk.bench.video import pck_difference

    gt = _truth(40)
    good = score_clip(gt.xy_px.copy(), gt.xyz_m.copy(), gt)
    assert good["per_frame"]["evaluated"] == [17] * 40 and good["per_frame"]["correct@0.1"] == [17] * 40
    pred = gt.xy_px.copy()
    pred[::4] += [15.0, 0.0]  # frames 0, 4, 8, ...: every joint wrong at 0.1
    some = score_clip(pred, gt.xyz_m.copy(), gt)
    a = {"per_frame": {"cam01": good["per_frame"], "cam02": good["per_frame"]}}
    b = {"per_frame": {"cam01": some["per_frame"], "cam02": some["per_frame"]}}
    d, lo, hi = pck_difference(a, b, 0.1, block=4)
    assert d == pytest.approx(0.25) and 0.0 < lo <= d <= hi
    assert pck_difference(a, a, 0.1) == (0.0, 0.0, 0.0)
    assert pck_difference(a, b, 0.2)[0] == 0.0  # 0.15 torso off is right at 0.2
    assert pck_difference({"per_frame": None}, b, 0.1) is None  # an older video.json
    one = np.zeros((1, 40)); one[0, 7] = 17
    d, lo, hi = paired_pck_difference(one, np.zeros((1, 40)), np.full((1, 40), 17), block=5)
    assert d == pytest.approx(1 / 40) and lo <= 0.0 < hi
    with pytest.raises(ValueError, match="shapes differ"):
        paired_pck_difference(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 3)))


def test_jitter_is_acceleration_in_torso_units():
    torso = np.full(5, 100.0)
    steady = np.cumsum(np.full((5, 1, 2), 3.0), axis=0)  # constant speed: no acceleration
    assert jitter(steady, torso) == pytest.approx(0.0)
    spike = np.zeros((5, 1, 2))
    spike[2, 0, 0] = 10.0  # |x1 - 2 x2 + x3| = 20 at t=2, 10 at t=1 and t=3
    assert jitter(spike, torso) == pytest.approx((10 + 20 + 10) / 3 / 100.0)


def test_committed_ghost_labels_tile_the_clip():
    footage = load_labels()
    assert len(footage.labels) == 250
    assert (footage.labels == PERSON_FREE).sum() == 140
    assert all(footage.labels[e] == PERSON_FREE and footage.labels[e - 1] != PERSON_FREE for e in footage.exits)


def test_ghost_labels_with_a_gap_are_refused(tmp_path):
    doc = json.loads(load_labels.__defaults__[0].read_text())
    doc["ranges"] = [r for r in doc["ranges"] if r["first"] != 30]
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="does not continue"):
        load_labels(bad)


def test_ghost_scores_known_answers():
    labels = np.array([PERSON] * 3 + [PERSON_FREE] * 4 + [IGNORE] + [PERSON_FREE] * 2)
    footage = GhostFootage(PinnedWheel("p", "1", "p.whl", "0" * 64, "MIT"), "clip.mp4", labels, (3,))
    tracking = np.array([1, 1, 1, 1, 1, 0, 1, 1, 0, 0], bool)  # the pose outlives its person by 2 frames
    static = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1], bool)
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.75, 0.0, 0.2, 0.5, 0.0, 0.95])
    r = score_row(footage, tracking, static, scores)
    assert r["person_free_frames"] == 6 and r["person_frames"] == 3
    assert r["ghosts_tracking"] == 3 and r["ghosts_per_100_tracking"] == pytest.approx(50.0)
    assert r["ghosts_static"] == 1 and r["survival_frames"] == [2]
    # AUROC: person scores 0.9, 0.8, 0.7 vs person-free 0.1, 0.75, 0, 0.2, 0, 0.95 -> 5 + 5 + 4 = 14 of 18 pairs ranked right
    assert r["presence_auroc"] == pytest.approx(14 / 18)
    assert survival(np.array([0, 1, 1], bool), (0, 1, 3)) == [0, 2, 0]


def _side(pck1=0.75, pck2=0.9, ghosts=40.0, kept=0.8) -> dict:
    return {"pck@0.1": pck1, "pck@0.2": pck2, "ghosts_per_100": ghosts, "people_kept": kept}


def test_gate_passes_an_equal_candidate_and_fails_one_worse_on_any_axis():
    assert all(c.passed for c in gate_checks(_side(), _side(), 1.0))
    for worse in (_side(pck1=0.749), _side(pck2=0.899), _side(ghosts=40.5), _side(kept=0.79)):
        checks = gate_checks(worse, _side(), 1.0)
        assert not all(c.passed for c in checks)
        assert sum(not c.passed for c in checks) == 1
    assert not all(c.passed for c in gate_checks(_side(), _side(), 1.0 + DEFAULT_TIME_TOLERANCE + 1e-3))
    assert all(c.passed for c in gate_checks(_side(), _side(), 1.0 + DEFAULT_TIME_TOLERANCE))
    assert not all(c.passed for c in gate_checks(_side(), _side(), None))  # not measured: not passed
    assert not gate_checks({"pck@0.1": None, "pck@0.2": 0.9, "ghosts_per_100": 0.0}, _side(), 0.5)[0].passed
    # fewer ghosts bought by dropping real people fails: the presence-branch student of 2026-12-06
    # (ghosts 41.4 vs 45.7, but a pose on 61 of 86 person frames against 72)
    dropped = gate_checks(_side(ghosts=41.4, kept=61 / 86), _side(ghosts=45.7, kept=72 / 86), 0.99)
    assert [c.axis for c in dropped if not c.passed] == ["person frames with a pose (ghost footage)"]


def test_gate_table_names_the_verdict_and_the_cpu():
    side = {**_side(kept=69 / 86), "static_pck@0.1": 0.7, "static_pck@0.2": 0.88, "pa_mpjpe_mm": 90.0, "jitter_pct_torso": 5.0,
            "ghosts_per_100_static": 20.0, "presence_auroc": 0.8, "person_frames_with_pose": 69, "person_frames": 86}
    checks = gate_checks(side, {**side, "ghosts_per_100": 30.0}, 0.9)
    payload = {"settings": {"candidate": "a", "current": "b"}, "sides": {"candidate": side, "current": side},
               "timing": {"clip": "/x/vtest.avi", "candidate_median_s": 9.0, "current_median_s": 10.0,
                          "median_ratio": 0.9, "ratios": [0.88, 0.9, 0.93], "repeats": 3,
                          "median_cpu_ratio": 1.01, "cpu_ratios": [0.97, 1.01, 1.04]},
               "tracking_pck_difference": {"pck@0.1": {"difference": -0.003, "low": -0.011, "high": 0.004}},
               "checks": [c.__dict__ for c in checks], "passed": False,
               "machine": {"cpu_model": "Test CPU", "cpu_flags": ["avx2"], "cores_usable": 2}}
    text = gate_table(payload).markdown()
    assert "FAIL" in text and "ghosts / 100 person-free frames: FAIL" in text and "Test CPU (avx2)" in text
    assert "69/86 (80.2%)" in text
    assert "1.010 (0.970-1.040)" in text  # CPU time beside the wall time, not in the verdict
    assert "-0.003 (-0.011 to +0.004)" in text  # the accuracy difference's interval, not in the verdict


def test_bench_parser_knows_the_user_suites():
    parser = build_parser()
    assert parser.parse_args(["gate", "ours-lite", "--vs", "blazepose-lite"]).current == "blazepose-lite"
    assert parser.parse_args(["video", "--model", "reference-lite", "--tracking-only"]).tracking_only
    assert parser.parse_args(["ghosts"]).model == []


def test_cpu_flags_that_decide_int8_speed_are_recorded():
    x86 = "flags\t\t: fpu sse avx2 fma avx512f avx512_vnni amx_int8 amx_tile\n"
    assert cpu_flags_from_cpuinfo(x86) == ["avx2", "fma", "avx512f", "avx512_vnni", "amx_int8", "amx_tile"]
    arm = "Features\t: fp asimd evtstrm asimddp i8mm\n"
    assert cpu_flags_from_cpuinfo(arm) == ["asimd", "asimddp", "i8mm"]
    assert cpu_flags_from_cpuinfo(None) == []


def test_payloads_with_numpy_values_serialise():
    from blazepose_sdk.bench.common import json_ready

    doc = json_ready({"passed": np.float64(1.0) >= np.float64(0.5), "n": np.int64(3), "x": np.array([np.nan, 1.0])})
    assert json.dumps(doc) == '{"passed": true, "n": 3, "x": [null, 1.0]}'


def test_the_subject_is_picked_by_agreement_across_views_and_triangulated():
    """Three views see the subject; two of them also see a background person, who is the first
    candidate of one labeller there. The subject's joints come back exactly; the other is dropped."""
    from blazepose_sdk.bench.video import select_subject, triangulate_frame

    rng = np.random.default_rng(1)
    subject = rng.uniform(-0.4, 0.4, (17, 3)) + [0.0, 0.0, 1.0]
    other = subject + [1.5, 1.0, 0.0]

    def kp(cam, points, conf=0.9):
        return np.column_stack([mv.project(cam, points), np.full(17, conf)])

    observations = []
    for v, cam in enumerate(CAMERAS):
        views = [(0, 1, kp(cam, subject)), (2, 0, kp(cam, subject))]  # Heavy's second candidate, MoveNet
        if v < 2:
            views.insert(0, (0, 0, kp(cam, other)))  # Heavy's first candidate: the background person
        observations.append(views)
    chosen = select_subject(CAMERAS, observations)
    assert [[(li, ci) for li, ci, _ in view] for view in chosen] == [[(0, 1), (2, 0)]] * 3
    xyz, errors = triangulate_frame(CAMERAS, chosen)
    assert np.allclose(xyz, subject, atol=1e-6)
    assert all(len(e) == 6 and max(e) < 1e-6 for e in errors)


def test_paired_run_times_keeps_two_runs_of_one_pipeline_apart(monkeypatch, tmp_path):
    """Timing a pipeline against itself (the noise of the time check) must time both sides: each
    pair is two processes, not one process counted twice."""
    from blazepose_sdk.bench import gate
    from blazepose_sdk.bench.common import Reporter

    calls = []
    walls = iter([1.0, 2.0, 4.0, 3.0, 5.0, 5.0])

    def fake_timed(cmd, what):
        calls.append(cmd)
        wall = next(walls)
        return wall, 2 * wall

    monkeypatch.setattr(gate, "_timed", fake_timed)
    out = gate.paired_run_times("blazepose-lite", "blazepose-lite", tmp_path / "clip.avi", 3, Reporter(progress=False))
    assert len(calls) == 6
    # order rotates: (candidate, current), (current, candidate), (candidate, current)
    assert out["candidate_s"] == [1.0, 3.0, 5.0] and out["current_s"] == [2.0, 4.0, 5.0]
    assert out["ratios"] == [0.5, 0.75, 1.0] and out["median_ratio"] == 0.75
    assert out["candidate_cpu_s"] == [2.0, 6.0, 10.0] and out["median_cpu_ratio"] == 0.75


def test_a_timed_process_reports_its_cpu_time_apart_from_its_wall_time():
    """A child that sleeps takes wall time and almost no CPU; one that spins takes both."""
    from blazepose_sdk.bench.gate import _timed

    wall, cpu = _timed([sys.executable, "-c", "import time; time.sleep(0.6)"], "sleep")
    assert wall >= 0.6 and cpu < 0.5 * wall
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass"
    wall, cpu = _timed([sys.executable, "-c", spin], "spin")
    assert cpu >= 0.6
    with pytest.raises(RuntimeError, match="fails failed"):
        _timed([sys.executable, "-c", "raise SystemExit(3)"], "fails")


def test_a_row_may_carry_tracker_options_into_every_suite_and_the_timed_run(tmp_path):
    """``MODEL@OPTIONS.json``: the gate compares one pipeline with two option sets (a tracker
    change, e.g. prune_segmentation or verify_every) in the video and ghost suites and in the
    timed ``blazepose run``."""
    import json

    from blazepose_sdk.bench.gate import run_command
    from blazepose_sdk.bench.rows import parse_row
    from blazepose_sdk.bench.video import row_options
    from blazepose_sdk.errors import ModelNotFoundError

    options = tmp_path / "options.json"
    options.write_text(json.dumps({"verify_every": 7, "model": "ours-lite"}))
    row = parse_row(f"checked=blazepose-lite@{options}")
    assert (row.name, row.pipeline, row.options_file) == ("checked", "blazepose-lite", options)
    o = row_options(row, static=False, threads=2)
    assert (o.verify_every, o.model, o.num_threads, o.static_image_mode) == (7, "blazepose-lite", 2, False)
    assert row_options(parse_row("blazepose-lite"), static=True, threads=None).verify_every is None
    assert parse_row(f"blazepose-lite@{options}").name == "blazepose-lite@options"  # no label: apart from the plain row
    cmd = run_command(f"blazepose-lite@{options}", tmp_path / "clip.avi", tmp_path / "out.jsonl")
    assert cmd[cmd.index("--options") + 1] == str(options) and cmd[cmd.index("--model") + 1] == "blazepose-lite"
    assert "--options" not in run_command("blazepose-lite", tmp_path / "clip.avi", tmp_path / "out.jsonl")
    with pytest.raises(ModelNotFoundError, match="options file not found"):
        parse_row(f"blazepose-lite@{tmp_path / 'missing.json'}")


def test_gate_takes_a_labelled_candidate_and_refuses_a_missing_file_in_one_line(tmp_path, capsys):
    from blazepose_sdk.bench.__main__ import main as bench_main
    from blazepose_sdk.bench.rows import split_label

    assert split_label("hn10=DET.tflite+LM.tflite") == ("hn10", "DET.tflite+LM.tflite")
    assert split_label("blazepose-lite") == ("", "blazepose-lite")
    # a missing file: one line on stderr and exit 2, for a labelled spec as for a bare one
    for spec in ("mine=/nope/det.tflite+/nope/lm.tflite", "/nope/det.tflite+/nope/lm.tflite"):
        code = bench_main(["gate", spec, "--vs", "blazepose-lite", "--work-dir", str(tmp_path), "--out", str(tmp_path),
                           "--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "model file not found: /nope/det.tflite" in err[0], err
