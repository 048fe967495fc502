"""Write a continuous single-person clip: a slow pan/zoom/roll over a real photo.

When no video of one person is at hand, this makes one from ../shared/data/basketball1.png
(the full-body player) so the tracker's detect-once-then-track behaviour can be seen and
measured. The frames are exactly those of tests/parity_images.make_pan_clip, the clip the
MediaPipe parity fixtures were recorded on.

    python examples/make_pan_clip.py --out pan.mp4 [--frames 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from parity_images import make_pan_clip  # noqa: E402

from blazepose_sdk.app.video import VideoWriter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="pan.mp4")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--shared-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    with VideoWriter(args.out, fps=30) as writer:
        for frame in make_pan_clip(args.shared_dir, args.frames):
            writer.write(frame)
    print(f"wrote {args.frames} frames to {args.out}")


if __name__ == "__main__":
    main()
