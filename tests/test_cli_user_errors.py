"""`blazepose run`: ordinary mistakes get one line on stderr and exit code 2, checked before any
frame is processed or any output is touched; folders go on past a bad file."""

import json
import shutil
import subprocess
import sys

import pytest

from blazepose_sdk.app.cli import main


def _run(argv, capsys):
    code = main(["run", *argv, "--no-progress"])
    err = [line for line in capsys.readouterr().err.splitlines() if "XNNPACK" not in line]
    return code, err


@pytest.mark.parametrize("flags, message", [
    (["--threads", "0"], "--threads must be a whole number from 1 to 256, got 0"),
    (["--threads", "-3"], "--threads must be a whole number from 1 to 256, got -3"),
    (["--min-detection-confidence", "2"], "--min-detection-confidence must be in [0, 1], got 2.0"),
    (["--min-tracking-confidence", "-0.1"], "--min-tracking-confidence must be in [0, 1]"),
    (["--max-frames", "-1"], "--max-frames must be >= 1, got -1"),
    (["--max-frames", "0"], "--max-frames must be >= 1, got 0"),
    (["--json", "nodir/x.jsonl"], "--json nodir/x.jsonl: folder nodir does not exist"),
    (["--coco", "nodir/x.json"], "--coco nodir/x.json: folder nodir does not exist"),
    (["--out", "out.xyz"], "--out out.xyz: unknown extension '.xyz'; use one of .mp4, .avi"),
])
def test_bad_options_on_a_video_are_one_line_and_exit_2(flags, message, shared_data, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _run([str(shared_data / "vtest.avi"), *flags], capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("blazepose: error: ") and message in err[0], err


def test_a_bad_option_leaves_an_existing_json_file_alone(shared_data, capsys, tmp_path):
    old = tmp_path / "poses.jsonl"
    old.write_text("earlier results\n")
    code, _ = _run([str(shared_data / "vtest.avi"), "--json", str(old), "--out", str(tmp_path / "v.xyz")], capsys)
    assert code == 2 and old.read_text() == "earlier results\n"


def test_image_output_needs_an_image_extension(shared_data, capsys, tmp_path):
    code, err = _run([str(shared_data / "basketball1.png"), "--out", str(tmp_path / "pose.mp4")], capsys)
    assert code == 2 and "unknown extension '.mp4'" in err[0]


def test_a_missing_input_is_one_line(capsys, tmp_path):
    code, err = _run([str(tmp_path / "nothing.mp4")], capsys)
    assert code == 2 and err == [f"blazepose: error: input not found: {tmp_path / 'nothing.mp4'}"]


def test_a_folder_goes_on_past_a_bad_file_and_exits_2_at_the_end(shared_data, capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(shared_data / "basketball1.png", folder / "a.png")
    (folder / "b.png").write_text("not an image")
    (folder / "c.png").mkdir()  # a sub-folder with an image's name is not an image
    shutil.copy(shared_data / "basketball1.png", folder / "d.png")
    lines, coco = tmp_path / "poses.jsonl", tmp_path / "coco.json"
    code = main(["run", str(folder), "--json", str(lines), "--coco", str(coco), "--out", str(tmp_path / "drawn"),
                 "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    err = [line for line in captured.err.splitlines() if "XNNPACK" not in line]
    assert err == [line for line in err if line.startswith("blazepose: error: 1 of 3 images could not be read: b.png")]
    assert len(err) == 1
    assert "images: 3" in captured.out and "with_pose: 2" in captured.out and "failed: 1" in captured.out
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [r["source"].rsplit("/", 1)[-1] for r in records] == ["a.png", "d.png"]
    assert len(json.loads(coco.read_text())) == 2
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["a.png", "d.png"]


@pytest.mark.parametrize("delegate", ["gpu", "no_such_delegate.so"])
def test_a_delegate_that_cannot_load_is_one_line_without_a_runtime_traceback(shared_data, delegate):
    """LiteRT's Delegate prints a traceback from __del__ when its library cannot be opened; the
    runtime opens the library first so the user sees only our line (in a fresh process, where
    that __del__ would run at exit)."""
    proc = subprocess.run([sys.executable, "-m", "blazepose_sdk.app.cli", "run", str(shared_data / "basketball1.png"),
                           "--delegate", delegate], capture_output=True, text=True, timeout=120)
    err = [line for line in proc.stderr.splitlines() if not line.startswith("INFO:")]
    assert proc.returncode == 2
    assert len(err) == 1 and err[0].startswith("blazepose: error: cannot load delegate"), err
