"""`blazepose batch` on a real local Ray (2 CPUs): per-input results byte for byte those of
`blazepose run`, a worker killed mid-input (its input retried, outputs unchanged), resuming, bad
inputs recorded without stopping the rest, and the one-process engine without Ray.

The clips are written here with OpenCV (MJPG, so every decoder gives the same frames) from
vtest.avi, on frames where the bundled default model finds a person, and from basketball1.png.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import cv2
import pytest

from blazepose_sdk.app.batch import BatchOptions, load_record, run_batch
from blazepose_sdk.app.cli import main
from blazepose_sdk.tracker import TrackerOptions

# (name, first frame of vtest.avi, frames): stretches where ours-lite tracks someone
VTEST_CLIPS = (("walk_a", 510, 30), ("walk_b", 165, 36), ("long", 236, 120))


def _write_clip(path: Path, frames_bgr) -> None:
    h, w = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    for frame in frames_bgr:
        writer.write(frame)
    writer.release()


@pytest.fixture(scope="module")
def clips(tmp_path_factory, shared_data) -> dict[str, Path]:
    """walk_a, walk_b, long (.avi from vtest), pan (.avi, basketball1.png panned), frames (a folder
    of 4 PNGs), bad (.mp4 of garbage bytes)."""
    from parity_images import make_pan_clip

    folder = tmp_path_factory.mktemp("clips")
    out = {}
    cap = cv2.VideoCapture(str(shared_data / "vtest.avi"))
    for name, start, count in VTEST_CLIPS:
        cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        frames = [cap.read()[1] for _ in range(count)]
        out[name] = folder / f"{name}.avi"
        _write_clip(out[name], frames)
        if name == "walk_a":
            (folder / "frames").mkdir()
            for i, frame in enumerate(frames[:4]):
                cv2.imwrite(str(folder / "frames" / f"f{i}.png"), frame)
            out["frames"] = folder / "frames"
    cap.release()
    out["pan"] = folder / "pan.avi"
    _write_clip(out["pan"], [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in make_pan_clip(shared_data, 30)])
    out["bad"] = folder / "bad.mp4"
    out["bad"].write_bytes(b"this is not a video\n" * 64)
    return out


@pytest.fixture(scope="module")
def reference(clips, tmp_path_factory) -> dict[str, tuple[bytes, bytes]]:
    """(JSON lines, COCO json) of `blazepose run INPUT --json --coco` per good input."""
    folder = tmp_path_factory.mktemp("run")
    out = {}
    for name in ("walk_a", "walk_b", "long", "pan", "frames"):
        jsonl, coco = folder / f"{name}.jsonl", folder / f"{name}.coco.json"
        assert main(["run", str(clips[name]), "--json", str(jsonl), "--coco", str(coco), "--no-progress"]) == 0
        out[name] = jsonl.read_bytes(), coco.read_bytes()
    return out


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install "blazepose-sdk[cluster]"')
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, log_to_driver=False)
    yield ray
    ray.shutdown()


def _batch(out_dir: Path, **kw) -> BatchOptions:
    return BatchOptions(out_dir=out_dir, progress=False, **({"workers": 2} | kw))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_batch_matches_run_per_input(ray_session, clips, reference, tmp_path):
    names = ("walk_a", "walk_b", "pan", "frames")
    report = run_batch([str(clips[n]) for n in names], TrackerOptions(), _batch(tmp_path, coco=True))
    assert report.engine == "ray" and report.workers == 2 and sorted(report.done) == sorted(names)
    assert not report.failed and not report.skipped
    record = load_record(tmp_path)
    for name in names:
        jsonl, coco = reference[name]
        assert (tmp_path / f"{name}.jsonl").read_bytes() == jsonl, name
        assert (tmp_path / f"{name}.coco.json").read_bytes() == coco, name
        entry = record["inputs"][name]
        assert entry["status"] == "done" and entry["errors"] == []
        assert entry["outputs"]["jsonl"]["sha256"] == hashlib.sha256(jsonl).hexdigest()
        assert entry["frames"] == jsonl.count(b"\n") and entry["poses"] > 0
    assert record["inputs"]["walk_b"]["input_sha256"] == _sha(clips["walk_b"])
    assert record["inputs"]["walk_b"]["video_fps"] == 10.0
    # 4 inputs on 2 workers: some worker ran two inputs with the same loaded models
    workers = [record["inputs"][n]["worker"] for n in names]
    assert len(set(workers)) <= 2 and len(set(workers)) < len(workers)
    assert not list(tmp_path.glob("*.partial"))


def test_killed_worker_is_retried_then_resume_skips_done(ray_session, clips, reference, tmp_path):
    inputs = [str(clips["long"]), str(clips["walk_a"])]
    killed: list[int] = []

    def kill_mid_input(progress) -> None:
        if progress.key == "long" and not killed and 0 < progress.frames < 100:
            killed.append(progress.pid)
            os.kill(progress.pid, signal.SIGKILL)

    report = run_batch(inputs, TrackerOptions(), _batch(tmp_path), on_progress=kill_mid_input)
    assert killed, "the worker was never seen mid-input"
    assert sorted(report.done) == ["long", "walk_a"] and not report.failed
    entry = load_record(tmp_path)["inputs"]["long"]
    assert int(entry["worker"].rsplit(":", 1)[1]) != killed[0]  # retried on the restarted actor
    assert (tmp_path / "long.jsonl").read_bytes() == reference["long"][0]
    assert (tmp_path / "walk_a.jsonl").read_bytes() == reference["walk_a"][0]

    # rerun: both complete and verified, nothing runs, nothing is rewritten
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.jsonl")}
    again = run_batch(inputs, TrackerOptions(), _batch(tmp_path))
    assert sorted(again.skipped) == ["long", "walk_a"] and not again.done and again.engine == "none"
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.jsonl")} == mtimes

    # a damaged output and a stale partial file: only that input runs again
    with open(tmp_path / "walk_a.jsonl", "ab") as f:
        f.write(b"{}\n")
    (tmp_path / "long.jsonl.partial").write_bytes(b"{\"frame\": 0")
    third = run_batch(inputs, TrackerOptions(), _batch(tmp_path))
    assert third.done == ["walk_a"] and third.skipped == ["long"]
    assert (tmp_path / "walk_a.jsonl").read_bytes() == reference["walk_a"][0]
    assert (tmp_path / "long.jsonl").read_bytes() == reference["long"][0]


def test_changed_options_run_again(ray_session, clips, tmp_path):
    run_batch([str(clips["walk_a"])], TrackerOptions(), _batch(tmp_path, max_frames=5))
    assert run_batch([str(clips["walk_a"])], TrackerOptions(num_threads=2), _batch(tmp_path, max_frames=5)).skipped
    changed = run_batch([str(clips["walk_a"])], TrackerOptions(smooth_landmarks=False), _batch(tmp_path, max_frames=5))
    assert changed.done == ["walk_a"]


def test_bad_inputs_are_recorded_and_the_rest_goes_on(ray_session, clips, reference, tmp_path):
    missing = clips["walk_a"].parent / "missing.mp4"
    report = run_batch([str(clips["bad"]), str(missing), str(clips["walk_a"])], TrackerOptions(), _batch(tmp_path))
    assert report.done == ["walk_a"] and sorted(report.failed) == ["bad", "missing"]
    assert (tmp_path / "walk_a.jsonl").read_bytes() == reference["walk_a"][0]
    inputs = load_record(tmp_path)["inputs"]
    assert inputs["bad"]["status"] == "failed" and inputs["bad"]["errors"][0].startswith("VideoError: ")
    assert inputs["bad"]["input_sha256"] == _sha(clips["bad"]) and inputs["bad"]["outputs"] == {}
    assert inputs["missing"]["status"] == "failed" and "missing.mp4" in inputs["missing"]["errors"][0]
    assert not (tmp_path / "bad.jsonl").exists()
    # a failed input is tried again on the next run; the done one is not
    again = run_batch([str(clips["bad"]), str(clips["walk_a"])], TrackerOptions(), _batch(tmp_path))
    assert again.failed == ["bad"] and again.skipped == ["walk_a"]


def test_cli_bad_input_is_one_line_and_exit_2(clips, reference, tmp_path, capsys):
    """The one-process engine (no Ray): same records as `run`; a bad input is one line on stderr."""
    out = tmp_path / "out"
    code = main(["batch", str(clips["bad"]), str(clips["walk_b"]), "--out", str(out), "--local", "--no-progress",
                 "--coco"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"blazepose: error: 1 of 2 inputs failed (see batch.json): bad (VideoError: cannot open "
                   f"video source '{clips['bad']}')"]
    assert (out / "walk_b.jsonl").read_bytes() == reference["walk_b"][0]
    assert (out / "walk_b.coco.json").read_bytes() == reference["walk_b"][1]
    assert json.loads((out / "batch.json").read_text())["engine"] == "local"


def test_cli_refuses_bad_flags_before_any_work(tmp_path, capsys):
    assert main(["batch", "x.mp4", "--out", str(tmp_path), "--workers", "0"]) == 2
    assert capsys.readouterr().err.strip() == "blazepose: error: --workers must be >= 1, got 0"
    assert main(["batch", "x.mp4", "--out", str(tmp_path), "--model", "no-such-model", "--local"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "batch.json").exists()


def test_pseudo_label_on_ray_matches_one_process(ray_session, clips, shared_data, tmp_path):
    """training.data.pseudo_label's per-file work as Ray actor tasks: the same shards and
    confidence records as the one-process path, byte for byte."""
    pytest.importorskip("tensorflow", reason="the pseudo-label shards are TFRecords (pip install -r requirements-train.txt)")
    from training.data.pseudo_label import PseudoLabelOptions, pseudo_label

    inputs = [str(shared_data / "basketball1.png"), str(clips["walk_b"]), str(clips["walk_a"])]
    opt = PseudoLabelOptions(every=6, min_presence=0.5)
    local = pseudo_label(inputs, str(tmp_path / "local"), model="ours-lite", options=opt, per_shard=3, progress=False)
    on_ray = pseudo_label(inputs, str(tmp_path / "ray"), model="ours-lite", options=opt, per_shard=3, progress=False,
                          workers=2)
    assert on_ray["counts"] == local["counts"] and local["counts"]["keep"] >= 2
    assert on_ray["shards"] == local["shards"] and len(local["shards"]) >= 1
    for name in [*local["shards"], "confidence.jsonl"]:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_no_stderr_no_progress_bar(clips, reference, tmp_path, monkeypatch):
    """A process without a console (sys.stderr None): the bar is off, the work is the same."""
    monkeypatch.setattr("sys.stderr", None)
    report = run_batch([str(clips["walk_a"])], TrackerOptions(), BatchOptions(out_dir=tmp_path, engine="local"))
    assert report.done == ["walk_a"] and report.engine == "local"
    assert (tmp_path / "walk_a.jsonl").read_bytes() == reference["walk_a"][0]
