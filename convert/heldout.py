"""Built-in calibration and held-out frame sets made from the repository's shared sample data.

Both come from ``../shared/data`` (basketball1.png, vtest.avi) through the deterministic
derivations of ``tests/parity_images.py`` (read-only). They are *different warps of the same
photo*, so "held-out" means unseen images, not unseen people: a real held-out set (the data
engine's samples, or any folder via ``--eval``) is better when available.

* calibration (landmark crops: each detected ROI plus 3 jittered copies): basketball1 rotated by -60/-20/15/45/60/135/180/270 degrees, two crops scaled up, padded
  copies and every 40th frame of vtest.avi (for the detector).
* held-out: basketball1 identity / flip / rotate 30 / rotate -45 / rotate 90 / pad, and every
  2nd frame of the 60-frame pan/zoom/roll clip (``make_pan_clip``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

CALIBRATION_SPECS = [
    {"source": "basketball1.png", "op": "rotate", "angle_deg": a} for a in (-60, -20, 15, 45, 60, 135, 180, 270)
] + [
    {"source": "basketball1.png", "op": "crop_scale", "crop_xywh": [0, 0, 320, 480], "scale": 1.5},
    {"source": "basketball1.png", "op": "crop_scale", "crop_xywh": [200, 40, 440, 440], "scale": 1.2},
    {"source": "basketball1.png", "op": "pad", "pad_ltrb": [0, 200, 300, 0]},
    {"source": "basketball1.png", "op": "pad", "pad_ltrb": [150, 0, 0, 120]},
]
HELDOUT_SPECS = [
    {"source": "basketball1.png", "op": "identity"},
    {"source": "basketball1.png", "op": "flip"},
    {"source": "basketball1.png", "op": "rotate", "angle_deg": 30},
    {"source": "basketball1.png", "op": "rotate", "angle_deg": -45},
    {"source": "basketball1.png", "op": "rotate", "angle_deg": 90},
    {"source": "basketball1.png", "op": "pad", "pad_ltrb": [100, 100, 100, 100]},
]
VTEST_CALIBRATION_STRIDE = 40
PAN_CLIP_FRAMES = 60
PAN_CLIP_STRIDE = 2


def _parity_images():
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import parity_images  # tests/parity_images.py: deterministic derivations of the shared data

    return parity_images


def calibration_frames(shared_dir: Path = SHARED_DATA, with_video: bool = True) -> list[np.ndarray]:
    """RGB uint8 frames for calibration (see module docstring)."""
    pi = _parity_images()
    frames = [pi.derive_image(s, shared_dir) for s in CALIBRATION_SPECS]
    if with_video and (Path(shared_dir) / "vtest.avi").is_file():
        from blazepose_sdk.app.video import VideoReader

        with VideoReader(Path(shared_dir) / "vtest.avi") as reader:
            frames += [f for k, (_, f) in enumerate(reader) if k % VTEST_CALIBRATION_STRIDE == 0]
    return frames


def heldout_frames(shared_dir: Path = SHARED_DATA) -> list[np.ndarray]:
    """RGB uint8 held-out frames (see module docstring)."""
    pi = _parity_images()
    frames = [pi.derive_image(s, shared_dir) for s in HELDOUT_SPECS]
    frames += pi.make_pan_clip(shared_dir, PAN_CLIP_FRAMES)[::PAN_CLIP_STRIDE]
    return frames
