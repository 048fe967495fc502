#!/usr/bin/env python3
"""Write the 1080x1920 (portrait, phone-sized) clip of the speed comparison in docs/lab/2026-12-01_speed.md.

The frames are the benchmark's synthetic pan/zoom/roll over the real photo basketball1.png
(:func:`blazepose_sdk.bench.datasets.pan_clip_frames`), rendered at 1080 wide x 1920 high, so the
person is upscaled about 3.6x; written as mp4 (OpenCV's mp4v) at 30 fps. Media are never
committed: the clip is made where it is used.

    python tools/make_speed_clip.py --out /tmp/pan1080x1920.mp4 [--frames 100]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from blazepose_sdk.bench.datasets import PAN_CLIP_FPS, PAN_CLIP_SOURCE, pan_clip_frames
from blazepose_sdk.app.video import VideoWriter, read_image

REPO = Path(__file__).resolve().parents[1]
SPEED_CLIP_SIZE = (1080, 1920)  # width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="pan1080x1920.mp4")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--shared-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    image = read_image(Path(args.shared_dir) / PAN_CLIP_SOURCE)
    with VideoWriter(args.out, fps=PAN_CLIP_FPS) as writer:
        for _, frame in pan_clip_frames(image, args.frames, SPEED_CLIP_SIZE):
            writer.write(frame)
    print(f"wrote {args.frames} frames of {SPEED_CLIP_SIZE[0]}x{SPEED_CLIP_SIZE[1]} to {args.out}")


if __name__ == "__main__":
    main()
