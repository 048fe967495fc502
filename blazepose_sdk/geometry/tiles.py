"""Zoomed detector tiles for small and distant people.

The detector sees the whole frame letterboxed to 224x224, so a pedestrian 80 px tall in a 768 px
wide frame is 23 px tall in its input, smaller than the people it was trained on. Running the same
detector on overlapping square tiles of the frame (each tile letterboxed to 224) zooms in; the
detections of all tiles, in image pixels, are merged by weighted NMS
(:func:`blazepose_sdk.geometry.nms.weighted_nms`) so a person seen by two tiles is one detection.

Pure numpy: the tile layout and the merge. Frames: image pixels (``*_px``); a tile is an unrotated
:class:`~blazepose_sdk.geometry.roi.Roi`, so :func:`blazepose_sdk.geometry.roi.roi_to_image` maps a point from the
tile's normalised coordinates to image pixels.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import OptionError
from .nms import weighted_nms
from .roi import Roi

# Fraction of a tile shared with its neighbour along each axis: a person up to a quarter of a
# tile wide that straddles a border lies whole in one of the two tiles. Our choice.
TILE_OVERLAP = 0.25
# Across tiles the same IoU as within one detector run: NonMaxSuppressionCalculator
# min_suppression_threshold 0.3 in pose_detection_cpu.pbtxt.
TILE_NMS_IOU_THRESHOLD = 0.3

_LAYOUT = re.compile(r"^\s*(\d)\s*x\s*(\d)\s*(\+\s*c)?\s*$", re.IGNORECASE)


def parse_tile_layout(layout: str) -> tuple[int, int, bool]:
    """``"COLSxROWS"`` or ``"COLSxROWS+c"`` (with a centre tile) -> (cols, rows, centre).

    Raises:
        OptionError: not of that form, or a grid smaller than 1x1 or larger than 4x4.
    """
    m = _LAYOUT.match(str(layout)) if isinstance(layout, str) else None
    if m is None:
        raise OptionError(f"detector_tiles must look like '2x2' or '2x2+c' (columns x rows, +c for a centre tile), got {layout!r}")
    cols, rows, centre = int(m.group(1)), int(m.group(2)), m.group(3) is not None
    if not (1 <= cols <= 4 and 1 <= rows <= 4) or cols * rows == 1:
        raise OptionError(f"detector_tiles grid must be from 1x2 to 4x4, got {layout!r}")
    return cols, rows, centre


def _centres(extent: float, side: float, n: int) -> np.ndarray:
    if n == 1 or side >= extent:
        return np.full(n if side < extent else 1, extent / 2.0)
    return np.linspace(side / 2.0, extent - side / 2.0, n)


def tile_rois(width: int, height: int, cols: int, rows: int, centre: bool = False,
              overlap: float = TILE_OVERLAP) -> list[Roi]:
    """Square, unrotated tiles covering a ``width`` x ``height`` frame, in image pixels.

    The side is the smallest for which ``cols`` tiles across and ``rows`` tiles down, each sharing
    ``overlap`` of a tile with its neighbour, cover the frame: ``max(W / (cols - (cols-1) overlap),
    H / (rows - (rows-1) overlap))``. Tile centres are evenly spaced from side/2 to extent - side/2
    (one centred tile when the side covers that axis). Row-major order, then the centre tile.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    side = max(width / (cols - (cols - 1) * overlap), height / (rows - (rows - 1) * overlap))
    xs, ys = _centres(width, side, cols), _centres(height, side, rows)
    tiles = [Roi(float(x), float(y), float(side), 0.0) for y in ys for x in xs]
    if centre:
        tiles.append(Roi(width / 2.0, height / 2.0, float(side), 0.0))
    return tiles


def merge_tile_detections(rows_px: list[np.ndarray], scores: list[np.ndarray],
                          iou_threshold: float = TILE_NMS_IOU_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Merge the detections of several detector runs (tiles, the whole frame) into one list.

    Args:
        rows_px: per run, (N_i, D) rows in image pixels whose first 4 columns are the box
            (xmin, ymin, xmax, ymax); the rest (keypoints) are averaged with the box.
        scores: per run, (N_i,) scores.
    Returns:
        (rows (M, D), scores (M,)), best first: weighted NMS over all runs together.
    """
    if len(rows_px) != len(scores):
        raise ValueError("rows_px and scores differ in length")
    nonempty = [(r, s) for r, s in zip(rows_px, scores) if len(r)]
    if not nonempty:
        width = rows_px[0].shape[1] if rows_px and np.ndim(rows_px[0]) == 2 else 4
        return np.zeros((0, width), np.float32), np.zeros((0,), np.float32)
    rows = np.concatenate([np.asarray(r, np.float32).reshape(len(r), -1) for r, _ in nonempty])
    sc = np.concatenate([np.asarray(s, np.float32).reshape(-1) for _, s in nonempty])
    return weighted_nms(rows, sc, iou_threshold)
