"""The README's picture: the poses ``blazepose run --json`` found on one frame, drawn as an SVG.

Only what the SDK outputs is drawn (each person's skeleton, ROI and id, in the frame's pixel
coordinates), never the frame's own pixels: the figure shows what the tracker returns without
putting a photo of people in the repository.

    blazepose run ../shared/data/vtest.avi --num-poses 6 --detector-tiles 3x3 --json /tmp/v.jsonl
    python tools/readme_figure.py /tmp/v.jsonl --out docs/img/vtest_poses.svg      # the busiest frame
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from blazepose_sdk.geometry.roi import Roi  # noqa: E402
from blazepose_sdk.geometry.topology import SKELETON_EDGES  # noqa: E402

# A landmark is drawn when its visibility reaches this (the drawing module's threshold).
MIN_VISIBILITY = 0.5
COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46a0a0", "#f032e6", "#808000")


def record_poses(record: dict) -> list[dict]:
    """The poses of one JSON line of ``blazepose run``, each with its ``id`` (0 for the
    single-person tracker, whose lines carry only ``pose``)."""
    return record.get("poses") or ([{"id": 0, **record["pose"]}] if record.get("pose") else [])


def busiest_frame(records: list[dict]) -> int:
    """Index of the first frame with the most poses."""
    return int(np.argmax([len(record_poses(r)) for r in records]))


def poses_svg(record: dict, title: str) -> str:
    """The SVG of one JSON line of ``blazepose run``: per pose its skeleton (visible landmarks),
    its rotated ROI (dashed) and its id, on a blank frame of the record's image size."""
    width, height = record["image_size"]
    poses = record_poses(record)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 24}" '
              f'width="{width}" height="{height + 24}" font-family="sans-serif">'),
             f'<rect width="{width}" height="{height}" fill="#f4f4f4" stroke="#999"/>',
             f'<text x="4" y="{height + 17}" font-size="14" fill="#333">{title}</text>']
    for pose in poses:
        colour = COLOURS[pose["id"] % len(COLOURS)]
        lm = np.asarray(pose["landmarks"], dtype=float)[:, [0, 1, 3]]  # rows (x_px, y_px, z_px, visibility, presence)
        roi = pose["roi"]
        corners = Roi(roi["center_x_px"], roi["center_y_px"], roi["size_px"], roi["rotation_rad"]).corners_px()
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
        parts.append(f'<polygon points="{points}" fill="none" stroke="{colour}" stroke-dasharray="4 3" '
                     'stroke-width="1"/>')
        for a, b in SKELETON_EDGES:
            if lm[a, 2] >= MIN_VISIBILITY and lm[b, 2] >= MIN_VISIBILITY:
                parts.append(f'<line x1="{lm[a, 0]:.1f}" y1="{lm[a, 1]:.1f}" x2="{lm[b, 0]:.1f}" y2="{lm[b, 1]:.1f}" '
                             f'stroke="{colour}" stroke-width="2" stroke-linecap="round"/>')
        top = corners[np.argmin(corners[:, 1])]
        parts.append(f'<text x="{top[0]:.1f}" y="{max(top[1] - 3, 12):.1f}" font-size="13" fill="{colour}">'
                     f'id {pose["id"]}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl", help="the --json output of blazepose run")
    ap.add_argument("--frame", type=int, default=None, help="frame index (default: the first with the most poses)")
    ap.add_argument("--out", required=True, help="the .svg to write")
    a = ap.parse_args(argv)
    records = [json.loads(line) for line in Path(a.jsonl).read_text().splitlines() if line.strip()]
    index = busiest_frame(records) if a.frame is None else a.frame
    record = records[index]
    n = len(record_poses(record))
    title = f"frame {record['frame']}: {n} people tracked, each with its id, skeleton and ROI (dashed)"
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(poses_svg(record, title))
    print(f"{a.out}: frame {record['frame']}, {n} poses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
