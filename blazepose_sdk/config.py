"""Tracker options from a JSON file (``blazepose run --options FILE.json``) or a parsed mapping.

The file is one JSON object whose keys are :class:`~blazepose_sdk.tracker.TrackerOptions` field
names; ``smoothing`` is an object of :class:`~blazepose_sdk.geometry.smoothing.SmoothingOptions` fields.
Missing keys keep their defaults. Example::

    {"model": "ours-lite", "num_threads": 2, "min_tracking_confidence": 0.6,
     "smoothing": {"min_cutoff": 0.05, "beta": 80.0}}

Anything else (not JSON, not an object, an unknown key, a value of the wrong type or out of range)
raises :class:`~blazepose_sdk.errors.OptionError` naming the key, before any model is loaded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import OptionError
from .geometry.smoothing import SmoothingOptions
from .geometry.tiles import parse_tile_layout
from .tracker import TrackerOptions, check_confidence, check_num_threads

# What each field accepts: "str", "path", "int" (threads: tracker.check_num_threads), "bool",
# "float" (finite), "unit" (0..1), "count" (1..MAX_COUNT), "tiles" (a layout for
# blazepose_sdk.geometry.tiles.parse_tile_layout).
_TRACKER_KINDS = {
    "model": "str",
    "detector_model": "path",
    "landmark_model": "path",
    "num_threads": "int",
    "delegate": "str",
    "static_image_mode": "bool",
    "min_detection_confidence": "unit",
    "min_tracking_confidence": "unit",
    "smooth_landmarks": "bool",
    "refine_with_heatmap": "bool",
    "redetect_on_loss": "bool",
    "enable_segmentation": "bool",
    "smooth_segmentation": "bool",
    "num_poses": "count",
    "detect_every": "count",
    "detector_tiles": "tiles",
    "detector_tiles_every": "count",
    "detector_tiles_min_score": "unit",
    "detector_tiles_model": "path",
}
# Optional (None allowed) fields of TrackerOptions.
_NULLABLE = {"detector_model", "landmark_model", "num_threads", "delegate", "detector_tiles", "detector_tiles_model"}
# Upper bound of the "count" options (people tracked, frame intervals): a typo beyond it.
MAX_COUNT = 10_000
# The smoothing fields; SmoothingOptions checks their values itself (types and ranges).
_SMOOTHING_KINDS = {f.name: "float" for f in dataclasses.fields(SmoothingOptions)}


def _value(key: str, value: object, kind: str, nullable: bool) -> object:
    if value is None:
        if nullable:
            return None
        raise OptionError(f"option {key!r} may not be null")
    if kind == "tiles":
        if not isinstance(value, str):
            raise OptionError(f"option {key!r} must be a tile layout such as \"2x2+c\" or null, got {value!r}")
        parse_tile_layout(value)
        return value
    if kind in ("str", "path"):
        if not isinstance(value, str) or not value:
            raise OptionError(f"option {key!r} must be a non-empty string, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise OptionError(f"option {key!r} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(f"option {key!r} must be a number, got {value!r}")
    if kind == "count":
        if not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
            raise OptionError(f"option {key!r} must be a whole number from 1 to {MAX_COUNT}, got {value!r}")
        return value
    if kind == "int":
        check_num_threads(f"option {key!r}", value)
        return value
    if not math.isfinite(value):
        raise OptionError(f"option {key!r} must be finite, got {value!r}")
    if kind == "unit":
        check_confidence(key, float(value))
    return float(value)


def _unknown(key: str, known: Mapping[str, str], where: str) -> OptionError:
    return OptionError(f"unknown {where} option {key!r}; valid: {', '.join(sorted(known))}")


def tracker_options_from_dict(values: Mapping[str, object], base: TrackerOptions | None = None) -> TrackerOptions:
    """``base`` (default: TrackerOptions()) with the fields in ``values`` replaced, each checked."""
    if not isinstance(values, Mapping):
        raise OptionError(f"tracker options must be an object of option names to values, got {type(values).__name__}")
    base = base or TrackerOptions()
    changes: dict[str, object] = {}
    for key, value in values.items():
        if key == "smoothing":
            if not isinstance(value, Mapping):
                raise OptionError(f"option 'smoothing' must be an object, got {value!r}")
            for name in value:
                if name not in _SMOOTHING_KINDS:
                    raise _unknown(name, _SMOOTHING_KINDS, "smoothing")
            changes["smoothing"] = dataclasses.replace(base.smoothing, **value)  # SmoothingOptions checks each value
        elif key in _TRACKER_KINDS:
            changes[key] = _value(key, value, _TRACKER_KINDS[key], key in _NULLABLE)
        else:
            raise _unknown(str(key), {**_TRACKER_KINDS, "smoothing": "object"}, "tracker")
    return dataclasses.replace(base, **changes)


def load_tracker_options(path: str | os.PathLike, base: TrackerOptions | None = None) -> TrackerOptions:
    """Tracker options from a JSON file (see the module docstring)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"options file {path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OptionError(f"options file {path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise OptionError(f"options file {path}: nested too deeply") from None
    try:
        return tracker_options_from_dict(values, base)
    except OptionError as exc:
        raise OptionError(f"options file {path}: {exc}") from None
