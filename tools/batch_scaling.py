"""Scaling of ``blazepose batch`` on this machine: 1 vs 2 (or more) Ray workers on three clips.

    python tools/batch_scaling.py [--workers 1,2] [--work-dir /tmp/batch_scaling] [--json out.json]

Clips: ../shared/data/vtest.avi (795 frames, 768x576), ``pan.avi`` (300 frames of the slow
pan/zoom/roll over basketball1.png, examples/make_pan_clip.py's frames) and ``vtest_mirror.avi``
(vtest.avi's first 400 frames mirrored left-right). For each worker count the batch runs from an
empty output folder on a local Ray started beforehand (its start-up is reported apart), with
1 TFLite thread per worker, and also one `blazepose run`-style pass in this process as the
baseline. Per worker: CPU time / wall time (%) and the largest resident memory (MiB), sampled
with psutil whenever the worker reports progress. Prints a Markdown table; never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from parity_images import make_pan_clip  # noqa: E402

from blazepose_sdk.app.batch import BatchOptions, run_batch  # noqa: E402
from blazepose_sdk.tracker import TrackerOptions  # noqa: E402


def make_clips(work: Path, shared: Path) -> list[Path]:
    work.mkdir(parents=True, exist_ok=True)
    pan, mirror = work / "pan.avi", work / "vtest_mirror.avi"
    if not pan.exists():
        frames = make_pan_clip(shared, 300)
        h, w = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(pan), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
    if not mirror.exists():
        cap = cv2.VideoCapture(str(shared / "vtest.avi"))
        writer = cv2.VideoWriter(str(mirror), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
        for _ in range(400):
            ok, f = cap.read()
            if not ok:
                break
            writer.write(cv2.flip(f, 1))
        writer.release()
        cap.release()
    return [shared / "vtest.avi", pan, mirror]


def baseline(clips: list[Path]) -> dict:
    """One process, one input after another (what three `blazepose run` calls do, minus start-up)."""
    from blazepose_sdk.app.batch_worker import BatchWorker, InputTask

    start, cpu0, frames = time.perf_counter(), time.process_time(), 0
    with BatchWorker(TrackerOptions(num_threads=1)) as worker:
        for c in clips:
            frames += worker.run(InputTask(c.stem, str(c), str(c), "video")).frames
    wall = time.perf_counter() - start
    return {"workers": "1 (no Ray)", "frames": frames, "wall_s": round(wall, 2), "fps": round(frames / wall, 1),
            "cpu_pct_per_worker": [round(100 * (time.process_time() - cpu0) / wall)],
            "rss_mib_per_worker": [round(__import__("psutil").Process().memory_info().rss / 2**20)]}


def with_ray(clips: list[Path], workers: int, out: Path) -> dict:
    import psutil

    seen: dict[int, tuple[float, float]] = {}  # pid -> (cpu s, max rss MiB)

    def sample(progress) -> None:
        try:
            p = psutil.Process(progress.pid)
            cpu = sum(p.cpu_times()[:2])
            seen[progress.pid] = (cpu, max(seen.get(progress.pid, (0, 0))[1], p.memory_info().rss / 2**20))
        except psutil.Error:
            pass

    start = time.perf_counter()
    report = run_batch([str(c) for c in clips], TrackerOptions(num_threads=1),
                       BatchOptions(out_dir=out, workers=workers, progress=False), on_progress=sample)
    wall = time.perf_counter() - start
    return {"workers": workers, "frames": report.frames, "wall_s": round(wall, 2), "fps": round(report.frames / wall, 1),
            "cpu_pct_per_worker": [round(100 * c / wall) for c, _ in seen.values()],
            "rss_mib_per_worker": [round(m) for _, m in seen.values()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="worker counts to try (default 1,2)")
    ap.add_argument("--work-dir", default="/tmp/batch_scaling")
    ap.add_argument("--shared-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--json", default=None, help="also write the rows here")
    a = ap.parse_args()
    import ray

    work = Path(a.work_dir)
    clips = make_clips(work, Path(a.shared_dir))
    counts = [int(v) for v in a.workers.split(",")]
    model = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in model.splitlines() if line.startswith("Model name")),
                 platform.processor())
    rows = [baseline(clips)]
    t0 = time.perf_counter()
    ray.init(num_cpus=max(counts), include_dashboard=False, log_to_driver=False)
    ray_start_s = round(time.perf_counter() - t0, 2)
    try:
        for n in counts:
            out = work / f"out_{n}"
            for f in out.glob("*"):
                f.unlink()
            rows.append(with_ray(clips, n, out))
    finally:
        ray.shutdown()
    info = {"cpu": model, "cores": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
            "ray_start_s": ray_start_s, "clips": [c.name for c in clips], "rows": rows}
    print(f"CPU: {model}, {os.cpu_count()} cores (shared); Ray start-up {ray_start_s} s (not in the rows); "
          f"load average at the end {info['load_avg_1m_at_end']}")
    print("| workers | frames | wall (s) | frames/s | CPU per worker (%) | RSS per worker (MiB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['frames']} | {r['wall_s']} | {r['fps']} | "
              f"{', '.join(map(str, r['cpu_pct_per_worker']))} | {', '.join(map(str, r['rss_mib_per_worker']))} |")
    if a.json:
        Path(a.json).write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
