"""A validation set for landmark models from the corpus's held-out sources, labelled where Heavy and
MoveNet agree: screens a candidate's landmarks before it spends a look at the reserved test footage.

    python tools/heldout_agreement.py /tmp/student/real_corpus/heldout-source --out /tmp/heldout_val
    blazepose bench accuracy --labels /tmp/heldout_val/labels.json --roi labels --model reference-lite \\
        --model NAME=DET.tflite+LM.tflite ...

Sources: the real corpus's ``heldout-source`` split (``python -m training.data.real_corpus``;
opencv-doc's vtest.avi every 10th frame and the basketball images: no training, tuning or
pseudo-labelling touches them; provenance in docs/data.md). The pose2sim media stay the test set
and are refused here.

Every person BlazePose-Heavy finds (static mode, up to ``--max-people``, the detector also on 3x3
zoomed tiles so that vtest's small walkers are found) is cropped: a square of
1.5x its keypoints' extent around their centre, padded with black at the frame edge (MoveNet's own
``crop_image`` at 1:1); MoveNet
Thunder (an unrelated model: other data, other team) runs on that crop alone. A COCO-17 joint is
ground truth where both are confident and agree (the independent set's rule,
:func:`blazepose_sdk.bench.independent_set.combine`); a person needs 10 such joints including
the PCK torso. With ``--roi labels`` every landmark model sees the same ROI per person (from the
labelled shoulders and hips), so the set compares landmarks alone, which is what a candidate
that keeps the official presence and ROI rows changes. Heavy labels half of every joint: its row
is an upper bound, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from blazepose_sdk.bench.independent_set import (
    AGREEMENT_FRACTION,
    HEAVY_MIN_VISIBILITY,
    combine,
    person_entry,
    write_labels,
)

CROP_SCALE = 1.5  # crop side / the person's keypoint extent (its larger side)
MIN_CROP_PX = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def person_crop_box(xy: np.ndarray, ok: np.ndarray, scale: float = CROP_SCALE) -> tuple[int, int, int] | None:
    """(x0, y0, side) in image pixels of the square crop around the confident keypoints ``xy[ok]``
    (``scale`` x their larger extent, at least MIN_CROP_PX), or None with fewer than 2 of them."""
    pts = np.asarray(xy, dtype=np.float64)[np.asarray(ok, dtype=bool)]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = max(MIN_CROP_PX, int(np.ceil(scale * float(np.max(hi - lo)))))
    cx, cy = (lo + hi) / 2.0
    return round(float(cx) - side / 2), round(float(cy) - side / 2), side


def build(source: Path, out_dir: Path, max_people: int = 10, threads: int | None = None,
          tiles: str | None = "3x3") -> dict:
    from blazepose_sdk import PoseTracker, TrackerOptions
    from blazepose_sdk.app.video import read_image
    from blazepose_sdk.bench.peers.movenet import CropRegion, MoveNetThunder, crop_image

    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if any("pose2sim" in str(p).lower() or "test-only" in p.parts for p in files):
        raise SystemExit("error: the pose2sim media are the reserved test set; give a held-out source")
    if not files:
        raise SystemExit(f"error: no images under {source}")
    frames, persons, dropped = [], 0, Counter()
    options = TrackerOptions(model="reference-heavy", static_image_mode=True, num_poses=max_people,
                             detector_tiles=tiles, num_threads=threads)
    with PoseTracker(options) as heavy, MoveNetThunder(num_threads=threads) as movenet:
        for path in files:
            frame = read_image(path)
            h, w = frame.shape[:2]
            result = heavy.process(frame)
            entries = []
            for pose in result.poses or []:
                hv = pose.coco17()
                box = person_crop_box(hv[:, :2], hv[:, 2] >= HEAVY_MIN_VISIBILITY)
                if box is None:
                    continue
                persons += 1
                x0, y0, side = box  # the crop at 1:1, black past the frame's edge
                mv = movenet.process(crop_image(frame, CropRegion(x0, y0, side), side))
                mv[:, :2] += (x0, y0)
                person = combine(hv, mv, w, h)
                why = person.keep_reason()
                if why is not None:
                    dropped[why] += 1
                    continue
                entries.append(person_entry(person))
            if entries:
                frames.append({"file": str(path.resolve()), "group": path.parent.name, "width": w, "height": h,
                               "persons": entries})
    description = (f"held-out sources of the real corpus ({source}); COCO-17 joints where reference-heavy "
                   f"(static, up to {max_people} people, detector tiles {tiles}) and MoveNet Thunder on each person's crop agree "
                   f"(< {AGREEMENT_FRACTION} x person diagonal, both confident); label = their mean")
    write_labels(out_dir / "labels.json", frames, description)
    summary = {"source": str(source), "images": len(files), "images_kept": len(frames), "persons_found": persons,
               "persons_kept": sum(len(f["persons"]) for f in frames), "dropped": dict(dropped),
               "labelled_joints": int(sum(sum(p["visible"]) for f in frames for p in f["persons"]))}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="a folder of held-out images (searched recursively)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-people", type=int, default=10)
    p.add_argument("--tiles", default="3x3", help="detector tile layout for Heavy's people (small people); 'none': off")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(build(a.source, a.out, a.max_people, a.threads, None if a.tiles == "none" else a.tiles), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
