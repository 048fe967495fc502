"""How tools/golden.py writes values: numpy arrays and scalars, tuples and dataclasses as JSON.

float64 values are written exactly (shortest round-trip decimal); float32 values as their shortest
float32 decimal, so a port reading them as float32 gets the very same bits.
"""

from __future__ import annotations

import math

import numpy as np

from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.stages.detector import Detection


def _num(x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"golden values must be finite, got {x}")
    return x


def _num32(x: np.floating) -> float:
    """A float32 as the shortest decimal that reads back as the same float32 (at most 9 digits)."""
    return _num(str(np.float32(x)))


def to_json(obj):
    """Turn numpy arrays/scalars, tuples and dataclasses into JSON values.

    float64 values keep every bit (Python's shortest round-trip repr); float32 arrays and scalars are
    written as their shortest float32 decimal, which a port reads back as the exact same float32.
    """
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype == np.float32 and obj.ndim == 0:
            return _num32(obj[()])
        if obj.dtype == np.float32:
            return to_json([_Float32(v) for v in obj.reshape(-1)]) if obj.ndim == 1 else [to_json(r) for r in obj]
        return to_json(obj.tolist())
    if isinstance(obj, _Float32):
        return _num32(obj.value)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, np.float32):
        return _num32(obj)
    if isinstance(obj, (float, np.floating)):
        return _num(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot write {type(obj).__name__} to the golden file")


class _Float32:
    """Marks one element of a float32 array for :func:`to_json`."""

    __slots__ = ("value",)

    def __init__(self, value: np.float32) -> None:
        self.value = value


def roi_json(roi: Roi | None) -> dict | None:
    return None if roi is None else roi.to_dict()


def detection_json(d: Detection) -> dict:
    return d.to_dict()
