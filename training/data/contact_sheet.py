"""Contact sheet: a PNG grid of samples with the 33 landmarks drawn (green = visible,
red = occluded / out of view), from TFRecords or rendered on the fly.

    python -m training.data.contact_sheet --out sheet.png --seed 0            # render 64
    python -m training.data.contact_sheet --out sheet.png --records DIR/*.tfrecord
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from blazepose_sdk.geometry.topology import SKELETON_EDGES


def draw_sample(s) -> np.ndarray:
    """The sample's image (RGB) with box, skeleton and landmarks drawn."""
    im = np.ascontiguousarray(s.image_rgb())
    x0, y0, x1, y1 = (round(t) for t in s.box_xyxy_px)
    cv2.rectangle(im, (x0, y0), (x1, y1), (255, 255, 0), 1)
    p = s.landmarks_px[:, :2]
    for a, b in SKELETON_EDGES:
        if s.landmark_mask[a] and s.landmark_mask[b]:
            cv2.line(im, tuple(int(t) for t in p[a]), tuple(int(t) for t in p[b]), (255, 255, 255), 1, cv2.LINE_AA)
    for j in range(len(p)):
        if s.landmark_mask[j]:
            c = (0, 255, 0) if s.visibility[j] > 0 else (255, 0, 0)
            cv2.circle(im, (int(p[j, 0]), int(p[j, 1])), 2, c, -1)
    cv2.putText(im, s.source.split("/")[-1], (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return im


def tile_grid(tiles, cols: int) -> np.ndarray:
    """One image of equally sized ``tiles`` in rows of ``cols``, the last row padded with black."""
    tiles = list(tiles)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    return np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)])


def contact_sheet(samples, cols: int = 8, tile_px: int = 256) -> np.ndarray:
    return tile_grid([cv2.resize(draw_sample(s), (tile_px, tile_px)) for s in samples], cols)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.contact_sheet")
    ap.add_argument("--out", required=True)
    ap.add_argument("--records", nargs="*", default=None)
    ap.add_argument("--num", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.records:
        from training.data.sample import read_tfrecords

        samples = read_tfrecords(a.records)[: a.num]
    else:
        from training.data.synth import HumanRenderer

        r = HumanRenderer(a.seed)
        samples = [r(i) for i in range(a.num)]
    cv2.imwrite(a.out, cv2.cvtColor(contact_sheet(samples), cv2.COLOR_RGB2BGR))
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
