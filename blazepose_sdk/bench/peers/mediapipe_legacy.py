"""MediaPipe's own pipeline as a peer row: the legacy ``mediapipe.solutions.pose`` on a video.

``mediapipe==0.10.21`` (the last release with the legacy solution graphs) pins packages that clash
with the SDK's environment, so it lives in a separate virtualenv::

    python3 -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install "mediapipe==0.10.21" "numpy<2" opencv-python-headless

and this file is run as a script by that venv's python (:func:`run_mediapipe` does it; the
python comes from ``--mediapipe-python`` or ``$BLAZEPOSE_MEDIAPIPE_PYTHON``). Run that way it
imports only the standard library, numpy, OpenCV and mediapipe, decodes the video with OpenCV
(``cv2.VideoCapture``, BGR -> RGB as MediaPipe's examples do), runs
``solutions.pose.Pose(model_complexity=...)`` frame by frame in video mode and prints one JSON
object: frames, frames with a pose, the loop's wall and CPU seconds (``resource.getrusage``) split
into decode and process, and the model load time.

The wheel ships only the Full landmark model; the legacy API downloads Lite (complexity 0) and
Heavy (2) on first use. ``--landmark-model FILE`` instead copies the given file (the official one,
e.g. the SDK's shipped ``pose_landmark_lite.tflite``) into the package first, so nothing is
downloaded; a different file already there is refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PYTHON_ENV = "BLAZEPOSE_MEDIAPIPE_PYTHON"
# mediapipe/python/solutions/pose.py: model_complexity -> landmark file in mediapipe/modules/pose_landmark/
LANDMARK_FILES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
# Defaults of the legacy Pose() constructor (mediapipe/python/solutions/pose.py), matching the SDK's.
MIN_DETECTION_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5


def _cpu_s() -> float:
    """User + system CPU seconds of this process, all threads (getrusage; Unix only)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install_landmark_model(mp_root: Path, complexity: int, source: Path | None) -> str:
    """Make sure the landmark file for ``complexity`` is inside the mediapipe package; returns its
    sha256. Copies ``source`` there when the package lacks the file; refuses a different one."""
    target = mp_root / "modules" / "pose_landmark" / LANDMARK_FILES[complexity]
    if source is not None:
        if target.is_file() and _sha256(target) != _sha256(source):
            raise SystemExit(f"{target} differs from {source}; not replacing MediaPipe's file")
        if not target.is_file():
            shutil.copyfile(source, target)
    if not target.is_file():
        raise SystemExit(f"{target} is missing (the legacy API would download it); pass --landmark-model FILE")
    return _sha256(target)


def run_video(video: str, complexity: int, landmark_model: Path | None, max_frames: int | None,
              smooth: bool = True) -> dict:
    """Run the legacy solution over a video; the JSON-ready summary. Runs in the MediaPipe venv."""
    import cv2
    import mediapipe as mp

    mp_root = Path(mp.__file__).resolve().parent
    landmark_sha = install_landmark_model(mp_root, complexity, landmark_model)
    t0 = time.perf_counter()
    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=complexity,
                                  smooth_landmarks=smooth, enable_segmentation=False,
                                  min_detection_confidence=MIN_DETECTION_CONFIDENCE,
                                  min_tracking_confidence=MIN_TRACKING_CONFIDENCE)
    load_s = time.perf_counter() - t0
    cap = cv2.VideoCapture(video)
    if not cap.isOpened():
        raise SystemExit(f"cannot open {video}")
    frames = poses = 0
    decode_s = process_s = 0.0
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    try:
        while max_frames is None or frames < max_frames:
            t1 = time.perf_counter()
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            t2 = time.perf_counter()
            result = pose.process(rgb)
            t3 = time.perf_counter()
            decode_s += t2 - t1
            process_s += t3 - t2
            frames += 1
            poses += result.pose_landmarks is not None
    finally:
        cap.release()
    wall_s, cpu_s = time.perf_counter() - wall0, _cpu_s() - cpu0
    pose.close()
    return {
        "peer": "mediapipe-legacy",
        "mediapipe_version": mp.__version__,
        "opencv_version": cv2.__version__,
        "model_complexity": complexity,
        "landmark_sha256": landmark_sha,
        "video": video,
        "frames": frames,
        "pose_frames": poses,
        "load_s": load_s,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "decode_s": decode_s,
        "process_s": process_s,
    }


# -- called from the SDK's environment --------------------------------------------------------
def mediapipe_python(explicit: str | None = None) -> tuple[str | None, str | None]:
    """(python executable, None) for the MediaPipe venv, or (None, why it is not usable)."""
    value = explicit or os.environ.get(PYTHON_ENV)
    if not value:
        return None, f"no MediaPipe python given (--mediapipe-python or ${PYTHON_ENV}; venv setup in {__name__})"
    path = shutil.which(value) or value
    if not Path(path).is_file():
        return None, f"MediaPipe python {value} not found"
    probe = subprocess.run([path, "-c", "import mediapipe, cv2; print(mediapipe.__version__)"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{value} cannot import mediapipe: {last}"
    return path, None


def run_mediapipe(python: str, video: str | os.PathLike, complexity: int = 0, landmark_model: str | None = None,
                  max_frames: int | None = None, timeout_s: float = 1800.0) -> dict:
    """Run this file with the MediaPipe venv's ``python`` on ``video``; its JSON summary plus
    ``process_wall_s`` (the whole child process, start-up and model load included). Raises
    RuntimeError with the child's last stderr line when it fails."""
    cmd = [python, str(Path(__file__).resolve()), str(video), "--model-complexity", str(complexity)]
    if landmark_model:
        cmd += ["--landmark-model", str(landmark_model)]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                          env={**os.environ, "PYTHONPATH": ""})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"MediaPipe runner failed (exit {proc.returncode}): {last}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="MediaPipe legacy solutions.pose over a video; prints JSON.")
    p.add_argument("video")
    p.add_argument("--model-complexity", type=int, choices=(0, 1, 2), default=0)
    p.add_argument("--landmark-model", type=Path, default=None,
                   help="official landmark file to place in the package when it lacks it (no download)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--no-smooth", action="store_true")
    args = p.parse_args(argv)
    out = run_video(args.video, args.model_complexity, args.landmark_model, args.max_frames, not args.no_smooth)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
