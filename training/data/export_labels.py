"""Sample records -> a BlazePose-33 labels file for the benchmark suite (exact ground truth).

    python -m training.data.export_labels /tmp/synth_heldout/*.tfrecord --out /tmp/heldout_labels \
        [--pad 1.5] [--max 300]
    blazepose bench accuracy --labels /tmp/heldout_labels/labels.json --model ours --model reference-full

Writes ``images/<index>.jpg`` and ``labels.json`` in the format of ``blazepose_sdk/bench/README.md``:
landmarks in image pixels with the SDK's convention (pixel index j at coordinate j, i.e. the data
engine's coordinates minus 0.5), ``visible`` = labelled, not occluded and inside the image,
``world_m`` = the sample's hip-centred metres (y down) when it has them, ``roi`` = the ROI the
training pipeline cuts for the sample (``training.data.augment.landmark_roi``: from the
alignment points, as the tracker does), used by ``blazepose bench accuracy --roi labels``.
``--pad`` places each image in the middle of a canvas that many times larger (filled with the
image's mean colour), so the detector sees the person smaller, with context around.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np

from training.data.augment import landmark_roi
from training.data.sample import read_tfrecords

LABELS_FORMAT = "blazepose33-labels"  # blazepose_sdk.bench.datasets.LABELS_FORMAT
DATA_TO_SDK_PX = 0.5  # the data engine puts pixel centres at j + 0.5, the SDK at j


def padded(image_rgb: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """The image centred on a canvas ``pad`` times its size, and the (dx, dy) pixel offset."""
    h, w = image_rgb.shape[:2]
    if pad <= 1.0:
        return image_rgb, np.zeros(2)
    ch, cw = round(h * pad), round(w * pad)
    canvas = np.empty((ch, cw, 3), np.uint8)
    canvas[:] = image_rgb.reshape(-1, 3).mean(0).astype(np.uint8)
    y0, x0 = (ch - h) // 2, (cw - w) // 2
    canvas[y0:y0 + h, x0:x0 + w] = image_rgb
    return canvas, np.array([x0, y0], np.float64)


def person_labels(sample, offset_px: np.ndarray, width: int, height: int) -> dict:
    """One person's labels (benchmarks' format) in SDK image pixels of the (padded) image."""
    xy = np.asarray(sample.landmarks_px, np.float64)[:, :2] - DATA_TO_SDK_PX + offset_px
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
    visible = (np.asarray(sample.visibility) > 0) & (np.asarray(sample.landmark_mask) > 0) & inside
    world = np.asarray(sample.world_m, np.float64) if sample.has_world > 0 else None
    roi, _ = landmark_roi(sample.alignment_px, sample.box_xyxy_px)
    roi = dataclasses.replace(roi, center_x_px=roi.center_x_px + offset_px[0],
                              center_y_px=roi.center_y_px + offset_px[1])
    return {"landmarks_px": np.round(xy, 3).tolist(), "visible": [int(v) for v in visible],
            "world_m": None if world is None else np.round(world, 5).tolist(), "head_size_px": None,
            "roi": {k: round(v, 4) for k, v in roi.to_dict().items()}}


def export_labels(record_files: list[str], out_dir: str | Path, pad: float = 1.0,
                  max_samples: int | None = None, description: str = "") -> Path:
    """Write ``images/*.jpg`` and ``labels.json`` for the samples of ``record_files``."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    samples = read_tfrecords(sorted(record_files))
    if max_samples:
        samples = samples[:max_samples]
    images = []
    for i, s in enumerate(samples):
        image, offset = padded(s.image_rgb(), pad)
        name = f"images/{i:05d}.jpg"
        cv2.imwrite(str(out / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [int(cv2.IMWRITE_JPEG_QUALITY), 95])
        h, w = image.shape[:2]
        source = s.source.decode() if isinstance(s.source, bytes) else str(s.source)
        images.append({"file": name, "group": source or "synthetic", "width": int(w), "height": int(h),
                       "persons": [person_labels(s, offset, w, h)]})
    doc = {"format": LABELS_FORMAT, "version": 1, "ground_truth": "exact (rendered)",
           "description": description or f"{len(images)} samples of {', '.join(Path(f).name for f in record_files[:3])}"
                                         f"{' ...' if len(record_files) > 3 else ''}, pad {pad}",
           "images": images}
    path = out / "labels.json"
    path.write_text(json.dumps(doc) + "\n")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.export_labels", description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="+", help="TFRecord files of Sample records")
    ap.add_argument("--out", required=True)
    ap.add_argument("--pad", type=float, default=1.0, help="canvas size / image size (default 1: as rendered)")
    ap.add_argument("--max", type=int, default=None, help="at most this many samples")
    a = ap.parse_args(argv)
    path = export_labels(a.records, a.out, a.pad, a.max)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
