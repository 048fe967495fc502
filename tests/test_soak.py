"""The soak suite: RSS flatness math, the looped video's timestamps, and a short CLI run."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from blazepose_sdk.bench.soak import looped_frames, rss_flatness


def test_flat_curve_is_flat():
    out = rss_flatness([500, 1000, 1500, 2000], [200.0, 202.0, 201.0, 203.0], max_spread_pct=5.0)
    assert out["baseline_mib"] == 200.0 and out["final_mib"] == 203.0
    assert out["growth_pct"] == pytest.approx(1.5)
    assert out["spread_pct"] == pytest.approx(1.5)
    assert out["flat"] is True


def test_leaking_curve_is_not_flat():
    # 1 MiB per 500 frames over 10,000 frames: +10% at the end
    frames = np.arange(500, 10_001, 500)
    rss = 190.0 + (frames - 500) / 500.0
    out = rss_flatness(frames, rss)
    assert out["slope_mib_per_1k_frames"] == pytest.approx(2.0)
    assert out["spread_pct"] == pytest.approx(19.0 / 190.0 * 100.0)
    assert out["flat"] is False


def test_a_drop_counts_as_spread_too():
    out = rss_flatness([1, 2, 3], [100.0, 80.0, 100.0], max_spread_pct=5.0)
    assert out["growth_pct"] == 0.0 and out["spread_pct"] == pytest.approx(20.0) and not out["flat"]


@pytest.mark.parametrize("frames,rss", [([1], [100.0]), ([1, 2], [100.0]), ([1, 2], [0.0, 1.0])])
def test_too_few_or_bad_samples_are_refused(frames, rss):
    with pytest.raises(ValueError):
        rss_flatness(frames, rss)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS is read from /proc on Linux only")
def test_rss_is_read_and_grows_with_a_large_allocation():
    # a fresh process: in this one, memory freed by earlier tests may be reused without growing RSS
    code = (
        "import numpy as np\n"
        "from blazepose_sdk.bench.soak import rss_bytes\n"
        "before = rss_bytes()\n"
        "block = np.ones(64 * 1024 * 1024, dtype=np.uint8)  # written, so resident\n"
        "print(before, rss_bytes())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    before, after = map(int, proc.stdout.split())
    assert before > 0 and after - before > 48 * 1024 * 1024


@pytest.fixture()
def short_clip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


def test_looped_video_keeps_time_moving_forward(short_clip):
    stamps = [t for t, _ in looped_frames(short_clip, 12)]
    assert len(stamps) == 12
    assert all(b > a for a, b in zip(stamps, stamps[1:])), stamps
    # 10 fps: the second loop starts one frame period (100 ms) after the first loop's last frame
    assert stamps[5] - stamps[4] == pytest.approx(100.0, abs=1.0)


def test_cli_soak_writes_the_curve(short_clip, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "blazepose_sdk.bench", "soak", "--video", str(short_clip), "--frames", "30",
         "--sample-every", "10", "--switch-every", "10", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads((out / "soak.json").read_text())
    (row,) = payload["rows"]
    assert [s["frame"] for s in row["samples"]] == [10, 20, 30]
    assert [s["mode"] for s in row["samples"]] == ["tracking", "static", "tracking"]
    assert row["samples"][1]["detector_runs"] == 10  # static: the detector runs on every frame
    assert row["frames"] == 30
    if sys.platform.startswith("linux"):
        assert row["baseline_mib"] > 0 and isinstance(row["flat"], bool)
    assert "Soak" in (out / "report.md").read_text()


@pytest.mark.parametrize("bad", [["--frames", "0"], ["--sample-every", "-5"], ["--switch-every", "x"]])
def test_cli_soak_rejects_bad_counts(bad, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "blazepose_sdk.bench", "soak", *bad, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
