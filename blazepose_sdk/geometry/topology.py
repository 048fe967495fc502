"""The BlazePose 33-landmark topology and its COCO-17 view.

Indices and names follow MediaPipe's pose_landmark_topology (listed in
mediapipe/modules/pose_landmark/pose_landmark_cpu.pbtxt). The model itself outputs 39 rows:
the 33 landmarks, then 2 auxiliary ROI points (33 = hip centre, 34 = body-circle point used
for the next frame's ROI) and 4 unused rows.
"""

from __future__ import annotations

import numpy as np

LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
NUM_LANDMARKS = len(LANDMARK_NAMES)  # 33
NUM_MODEL_LANDMARKS = 39  # rows in the landmark model's output (33 + 2 auxiliary + 4 unused)
AUX_HIP_CENTER = 33  # model row of the auxiliary hip-centre point
AUX_BODY_CIRCLE = 34  # model row of the auxiliary full-body-circle point

# Skeleton edges drawn by MediaPipe's POSE_CONNECTIONS (face, arms, hands, torso, legs, feet).
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24),
    (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)


def _flip_index(names: tuple[str, ...]) -> np.ndarray:
    """For each name, the index of its left/right mirror (itself when it has none)."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for n in names:
        if n.startswith("left_"):
            out.append(index["right_" + n[5:]])
        elif n.startswith("right_"):
            out.append(index["left_" + n[6:]])
        elif n.endswith("_left"):
            out.append(index[n[:-5] + "_right"])
        elif n.endswith("_right"):
            out.append(index[n[:-6] + "_left"])
        else:
            out.append(index[n])
    return np.asarray(out, dtype=np.int64)


# FLIP_INDEX[i] is the landmark that i becomes under a horizontal flip.
FLIP_INDEX: np.ndarray = _flip_index(LANDMARK_NAMES)
FLIP_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (i, int(j)) for i, j in enumerate(FLIP_INDEX) if i < j
)

# COCO-17 keypoints, in COCO's order (person_keypoints annotations).
COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# BLAZEPOSE_TO_COCO17[k] is the BlazePose index of COCO keypoint k (names match exactly).
BLAZEPOSE_TO_COCO17: np.ndarray = np.asarray(
    [LANDMARK_NAMES.index(n) for n in COCO17_NAMES], dtype=np.int64
)
COCO17_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # 0-based version of COCO's person category skeleton
