"""Drawing poses on frames (OpenCV); returns new images, never modifies its input."""

from __future__ import annotations

import cv2
import numpy as np

from ..geometry.topology import SKELETON_EDGES
from ..results import PoseResult

LEFT_COLOR = (255, 138, 0)  # RGB orange for the person's left side
RIGHT_COLOR = (0, 200, 255)  # RGB cyan for the right side
CENTER_COLOR = (255, 255, 255)
ROI_COLOR = (0, 255, 0)
# Colours of people with num_poses > 1, by track id (RGB): 10 well-separated hues (matplotlib's
# "tab10" palette), so a person keeps its colour while its id lasts.
ID_COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
             (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


# With several people, skeleton lines are one pixel wide per this many pixels of ROI side.
PX_PER_LINE_WIDTH = 150.0


def id_color(track_id: int) -> tuple[int, int, int]:
    """The drawing colour (RGB) of the person with this track id: the same for the same id."""
    return ID_COLORS[int(track_id) % len(ID_COLORS)]


def _side_color(i: int) -> tuple[int, int, int]:
    if i == 0:
        return CENTER_COLOR
    left = i in (1, 2, 3, 7, 9) or (i >= 11 and i % 2 == 1)
    return LEFT_COLOR if left else RIGHT_COLOR


def draw_pose(
    frame_rgb: np.ndarray,
    result: PoseResult,
    min_visibility: float = 0.5,
    draw_roi: bool = True,
    text: str | None = None,
) -> np.ndarray:
    """Return a copy of ``frame_rgb`` with the skeleton, the ROI and an optional caption.

    A single-person result is drawn with left/right colours and a green ROI; a multi-person result
    (``num_poses > 1``) draws each person in its id's colour (:func:`id_color`) with its id."""
    canvas = np.ascontiguousarray(frame_rgb).copy()
    h, w = canvas.shape[:2]
    thickness = max(1, round(max(h, w) / 400))
    for pose in result.poses:
        color = id_color(pose.id) if result.multi_person else None
        # several people: lines as thin as the person is small, so small people stay visible
        line = thickness + 1 if color is None else int(np.clip(round(pose.roi.size_px / PX_PER_LINE_WIDTH), 1, thickness + 1))
        dot = thickness + 2 if color is None else line + 1
        lm = pose.array_px
        if draw_roi:
            corners = np.round(pose.roi.corners_px()).astype(np.int32)
            cv2.polylines(canvas, [corners], True, color or ROI_COLOR, thickness if color is None else 1, cv2.LINE_AA)
            if color is not None:
                top = corners[np.argmin(corners[:, 1])]
                cv2.putText(canvas, str(pose.id), (int(top[0]), max(int(top[1]) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.4 * thickness, color, thickness, cv2.LINE_AA)
        shown = lm[:, 3] >= min_visibility
        for a, b in SKELETON_EDGES:
            if shown[a] and shown[b]:
                pa = tuple(int(round(v)) for v in lm[a, :2])
                pb = tuple(int(round(v)) for v in lm[b, :2])
                cv2.line(canvas, pa, pb, color or _side_color(b), line, cv2.LINE_AA)
        for i, row in enumerate(lm):
            if shown[i]:
                cv2.circle(canvas, (int(round(row[0])), int(round(row[1]))), dot, color or _side_color(i), -1,
                           cv2.LINE_AA)
    if text:
        font = cv2.FONT_HERSHEY_SIMPLEX
        # fit the caption to the frame width, between 0.3 and 0.8 of the font's base size
        (tw, th), base = cv2.getTextSize(text, font, 1.0, 1)
        scale = float(np.clip((w - 16) / max(tw, 1), 0.3, 0.8))
        (tw, th), base = cv2.getTextSize(text, font, scale, 1)
        cv2.rectangle(canvas, (0, 0), (min(w, tw + 16), th + base + 12), (0, 0, 0), -1)
        cv2.putText(canvas, text, (8, th + 6), font, scale, (255, 255, 0), 1, cv2.LINE_AA)
    return canvas
