"""Output roles of the model stages: which output of a detector or landmark .tflite file is which.

A ``manifest.json`` beside a model (:mod:`blazepose_sdk.assets.manifest`) names each output's
role; without one the stages name them by shape with :func:`output_roles`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ManifestError
from ..geometry.anchors import AnchorOptions, generate_anchors
from ..geometry.heatmaps import KEYPOINT_COUNTS

DETECTOR_ROLES = ("boxes", "scores")
LANDMARK_ROLES = ("landmarks", "presence", "heatmap", "world", "segmentation", "keypoint_heatmaps")


def output_roles(kind: str, shapes: Sequence[Sequence[int]], input_size: int | None = None) -> list[str | None]:
    """Name each model output by its shape; one role (or None) per output, interpreter order.

    These are the rules :class:`~blazepose_sdk.stages.detector.PoseDetector` and
    :class:`~blazepose_sdk.stages.landmarker.PoseLandmarker` apply when no roles are given.

    detector: a (1, N, 1) output is "scores", a (1, N, >=12) output is "boxes", with N the SSD
        anchor count of a ``input_size`` square input (not checked when ``input_size`` is None);
        when several outputs match, the last one wins.
    landmark: the first 4-D output smaller than the ``input_size`` input is "heatmap" (its last
        dim is the row count R); without one, R is the largest ``size / 5`` of the 2-D outputs.
        The first 2-D output of R*5 values is "landmarks", of R*3 values "world", the first
        1-value output "presence"; other 4-D outputs are "segmentation". A model with no
        landmarks output whose heatmap has 33 or 17 channels is a heatmap-only model (Lite-HRNet
        students): that output is "keypoint_heatmaps" (decoded by blazepose_sdk.geometry.heatmaps).
    Any other kind (or output) gets None.
    """
    shapes = [tuple(int(d) for d in s) for s in shapes]
    roles: list[str | None] = [None] * len(shapes)
    if kind == "detector":
        n = generate_anchors(AnchorOptions(input_size, input_size)).shape[0] if input_size else None
        found: dict[str, int] = {}
        for i, s in enumerate(shapes):
            if len(s) == 3 and (n is None or s[1] == n):
                if s[2] == 1:
                    found["scores"] = i
                elif s[2] >= 12:
                    found["boxes"] = i
        for role, i in found.items():
            roles[i] = role
    elif kind == "landmark":
        sizes = [int(np.prod(s)) for s in shapes]
        heat = next((i for i, s in enumerate(shapes) if len(s) == 4 and input_size and s[1] < input_size), None)
        if heat is not None:
            rows = shapes[heat][3]
        else:
            candidates = [n // 5 for s, n in zip(shapes, sizes) if len(s) == 2 and n % 5 == 0 and n > 5]
            rows = max(candidates) if candidates else None
        picks = {
            "heatmap": heat,
            "landmarks": next((i for i, n in enumerate(sizes) if rows and n == rows * 5 and len(shapes[i]) == 2), None),
            "presence": next((i for i, n in enumerate(sizes) if n == 1), None),
            "world": next((i for i, n in enumerate(sizes) if rows and n == rows * 3 and len(shapes[i]) == 2), None),
        }
        if picks["landmarks"] is None and heat is not None and shapes[heat][3] in KEYPOINT_COUNTS:
            picks = {"keypoint_heatmaps": heat}
        for role, i in picks.items():
            if i is not None:
                roles[i] = role
        for i, s in enumerate(shapes):
            if roles[i] is None and len(s) == 4:
                roles[i] = "segmentation"
    return roles


def role_indices(roles: Sequence[str | None], known: Sequence[str]) -> dict[str, int]:
    """``{role: output index}`` of a per-output role list; a role named twice or not in
    ``known`` raises :class:`ManifestError`."""
    out: dict[str, int] = {}
    for i, role in enumerate(roles):
        if role is None:
            continue
        if role not in known:
            raise ManifestError(f"unknown output role {role!r} (known: {list(known)})")
        if role in out:
            raise ManifestError(f"output role {role!r} is given to outputs {out[role]} and {i}")
        out[role] = i
    return out
