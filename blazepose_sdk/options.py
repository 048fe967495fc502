"""The tracker's options, each declared once: :class:`TrackerOptions`.

Every field carries its kind (which values it accepts), its group and its help in the field's
metadata. From that one declaration come:

- the checks :class:`TrackerOptions` runs when it is built (``__post_init__``: a bad value raises
  :class:`~blazepose_sdk.errors.OptionError` naming the field, before any model loads);
- the JSON options file (``blazepose run --options FILE.json``, :func:`load_tracker_options`): one
  object whose keys are field names; ``smoothing`` is an object of
  :class:`~blazepose_sdk.geometry.smoothing.SmoothingOptions` fields; missing keys keep their
  defaults. Example::

      {"model": "ours-lite", "num_threads": 2, "min_tracking_confidence": 0.6,
       "smoothing": {"min_cutoff": 0.05, "beta": 80.0}}

- the command-line flags of ``blazepose run`` and ``blazepose batch``
  (:mod:`blazepose_sdk.app.option_flags`), grouped as :data:`GROUPS`.

The groups follow MediaPipe Tasks' split of its options (the model asset and runtime apart from
the task's thresholds); the fields stay flat so that ``TrackerOptions(num_poses=3)`` reads as the
legacy ``mp.solutions.pose.Pose(...)`` arguments do.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .assets.models import DEFAULT_PIPELINE
from .errors import OptionError
from .geometry.smoothing import SmoothingOptions
from .geometry.tiles import parse_tile_layout
from .stages.detector import DEFAULT_MIN_SCORE
from .stages.runtime import MAX_THREADS, check_num_threads

# ThresholdingCalculator threshold in tensors_to_pose_landmarks_and_segmentation.pbtxt, which the
# legacy solution overrides with min_tracking_confidence (default 0.5).
DEFAULT_MIN_TRACKING_CONFIDENCE = 0.5
# The shipped default pipeline (blazepose_sdk/model_files): no download needed.
DEFAULT_MODEL = DEFAULT_PIPELINE
# With num_poses > 1 and fewer people tracked than asked for, the detector looks for newcomers
# every this many frames (it also runs at once when nobody is tracked or a track is lost). Our
# choice: at 30 fps a person entering waits at most 1/6 s, and the detector (about as costly as
# one landmark run) adds a fifth of its cost per frame instead of all of it on a scene that
# never has num_poses people (vtest.avi with --num-poses 6).
DEFAULT_DETECT_EVERY = 5
# With detector_tiles, the tile scan runs at most every this many frames (our choice: tiles cost
# several detector runs, and a small person once found is kept by tracking).
DEFAULT_DETECTOR_TILES_EVERY = 10
# Score a detection on a zoomed tile needs (the whole-frame detector keeps min_detection_confidence).
# Zoomed tiles show the detector small objects it was never shown; at MediaPipe's 0.5 it fired on
# a tripod, traffic cones and a jacket on the grass in 41 of 100 person-free vtest.avi frames (2x2+c).
# 0.95 is the lowest threshold with no false detection on the first half of our vtest.avi
# person-free set (tools/small_people.py, docs/lab/2026-12-01_multi_person.md); measured on the second half.
DEFAULT_DETECTOR_TILES_MIN_SCORE = 0.95
# With verify_every, a track is dropped after this many detector checks in a row found no detection
# on it. Our choice: one miss is common on a real person (the detector misses people cut by the
# frame's edge or seen close up), two in a row, verify_every frames apart, much less so.
DEFAULT_VERIFY_MISSES = 2
# Upper bound of the "count" options (people tracked, frame intervals): a typo beyond it.
MAX_COUNT = 10_000

# The option groups, in the order the CLI's help lists them.
GROUPS = ("model and runtime", "tracking", "people and tiles", "smoothing", "segmentation")
# What a field accepts (its "kind"):
#   str: a non-empty string; path: a non-empty string or os.PathLike; bool: True or False;
#   threads: a whole number 1..MAX_THREADS; count: a whole number 1..MAX_COUNT;
#   unit: a number in [0, 1]; tiles: a layout for geometry.tiles.parse_tile_layout;
#   smoothing: a SmoothingOptions (which checks its own fields).
KINDS = ("str", "path", "bool", "threads", "count", "unit", "tiles", "smoothing")


def _option(default=None, *, kind: str, group: str, help: str, flag: str | None = "", nullable: bool = False,
            metavar: str | None = None, default_factory=None):
    """A TrackerOptions field: its default and metadata (kind, group, help, CLI flag).

    ``flag``: "" derives the flag from the field name (``--num-poses``), None gives no flag (a
    nested object, or a value the CLI sets from another flag)."""
    metadata = {"kind": kind, "group": group, "help": help, "flag": flag, "nullable": nullable, "metavar": metavar}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def check_value(label: str, kind: str, value: object, nullable: bool = False) -> None:
    """Raise :class:`OptionError` unless ``value`` is one ``kind`` accepts (see :data:`KINDS`);
    ``label`` names it in the message (a field name, ``option 'key'`` or a ``--flag``)."""
    if value is None:
        if nullable:
            return
        raise OptionError(f"{label} may not be null")
    if kind == "tiles":
        if not isinstance(value, str):
            raise OptionError(f"{label} must be a tile layout such as \"2x2+c\" or null, got {value!r}")
        parse_tile_layout(value)
        return
    if kind in ("str", "path"):
        if isinstance(value, os.PathLike) and kind == "path":
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            raise OptionError(f"{label} must be a non-empty string, got {value!r}")
        return
    if kind == "bool":
        if not isinstance(value, bool):
            raise OptionError(f"{label} must be true or false, got {value!r}")
        return
    if kind == "smoothing":
        if not isinstance(value, SmoothingOptions):
            raise OptionError(f"{label} must be a SmoothingOptions, got {value!r}")
        return
    if kind == "threads":
        check_num_threads(label, value)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(f"{label} must be a number, got {value!r}")
    if kind == "count":
        if not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
            raise OptionError(f"{label} must be a whole number from 1 to {MAX_COUNT}, got {value!r}")
        return
    if not math.isfinite(value):
        raise OptionError(f"{label} must be finite, got {value!r}")
    if kind == "unit" and not 0.0 <= value <= 1.0:
        raise OptionError(f"{label} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class TrackerOptions:
    """Options of :class:`~blazepose_sdk.tracker.PoseTracker`; each field's help is in its
    metadata (``blazepose run --help`` prints it, grouped). Built with a bad value, it raises
    :class:`OptionError` naming the field.

    Model and runtime: ``model``, ``detector_model``, ``landmark_model``, ``num_threads``,
    ``delegate``. Tracking: ``static_image_mode``, ``min_detection_confidence``,
    ``min_tracking_confidence``, ``min_hold_confidence``, ``refine_with_heatmap``, ``redetect_on_loss``,
    ``verify_every``, ``verify_misses``. People and tiles:
    ``num_poses``, ``detect_every``, ``detector_tiles*``. Smoothing: ``smooth_landmarks``,
    ``smoothing``. Segmentation: ``enable_segmentation``, ``prune_segmentation``, ``smooth_segmentation``.
    """

    model: str = _option(
        DEFAULT_MODEL, kind="str", group="model and runtime",
        help="pipeline name (blazepose-lite and ours-lite ship with the SDK; reference-full and reference-heavy are "
             "fetched once by `blazepose models fetch-reference`); ignored for a stage whose file is given")
    detector_model: str | os.PathLike | None = _option(
        None, kind="path", group="model and runtime", flag="--detector", nullable=True, metavar="FILE",
        help="detector .tflite to use instead of the pipeline's; with a manifest.json beside it "
             "(blazepose_sdk.assets.manifest) its sha256 is checked and its value range and output roles used, "
             "without one outputs go by shape")
    landmark_model: str | os.PathLike | None = _option(
        None, kind="path", group="model and runtime", flag="--landmark", nullable=True, metavar="FILE",
        help="landmark .tflite to use instead of the pipeline's (a manifest.json beside it as for --detector)")
    num_threads: int | None = _option(
        None, kind="threads", group="model and runtime", flag="--threads", nullable=True, metavar="N",
        help=f"CPU threads per model interpreter, 1 to {MAX_THREADS} (default: the runtime's)")
    delegate: str | None = _option(
        None, kind="str", group="model and runtime", nullable=True,
        help="gpu, edgetpu, or a delegate shared-library path (default: CPU with XNNPACK)")
    static_image_mode: bool = _option(
        False, kind="bool", group="tracking", flag="--static",
        help="treat every frame as unrelated: detect on each, no tracking, no smoothing")
    min_detection_confidence: float = _option(
        DEFAULT_MIN_SCORE, kind="unit", group="tracking", metavar="S", help="detector score threshold")
    min_tracking_confidence: float = _option(
        DEFAULT_MIN_TRACKING_CONFIDENCE, kind="unit", group="tracking", metavar="S",
        help="pose-presence threshold below which a tracked person is lost")
    min_hold_confidence: float | None = _option(
        None, kind="unit", group="tracking", nullable=True, metavar="S",
        help="pose-presence threshold below which a person already tracked is lost (hysteresis: a new track "
             "still needs min_tracking_confidence); default: min_tracking_confidence, as MediaPipe")
    refine_with_heatmap: bool = _option(
        True, kind="bool", group="tracking",
        help="refine x, y with the landmark model's heatmap, as MediaPipe does")
    redetect_on_loss: bool = _option(
        True, kind="bool", group="tracking",
        help="when a tracked person is lost, run the detector on the same frame instead of the next one "
             "(MediaPipe waits)")
    verify_every: int | None = _option(
        None, kind="count", group="tracking", nullable=True, metavar="K",
        help="check tracked people with the detector every K frames: a track no detection overlaps on "
             "verify_misses checks in a row is dropped (a pose held on a bicycle, a fence or a wall after its person "
             "left); default: never, as MediaPipe (the detector runs only when tracking is lost)")
    verify_misses: int = _option(
        DEFAULT_VERIFY_MISSES, kind="count", group="tracking", metavar="M",
        help="with verify_every: checks in a row without an overlapping detection that drop a track")
    num_poses: int = _option(
        1, kind="count", group="people and tiles", metavar="N",
        help="track up to N people, each with its own ROI, smoothers and a stable id (1: MediaPipe's "
             "single-person tracker)")
    detect_every: int = _option(
        DEFAULT_DETECT_EVERY, kind="count", group="people and tiles", metavar="K",
        help="while fewer than num_poses people are tracked, look for newcomers at most every K frames (the "
             "detector also runs when nobody is tracked and when a track is lost)")
    detector_tiles: str | None = _option(
        None, kind="tiles", group="people and tiles", nullable=True, metavar="LAYOUT",
        help="also run the detector on zoomed tiles (e.g. 2x2+c: 2x2 overlapping tiles plus a centre tile, or 3x3) "
             "when it finds fewer people than num_poses: finds small, distant people; one detector run per tile")
    detector_tiles_every: int = _option(
        DEFAULT_DETECTOR_TILES_EVERY, kind="count", group="people and tiles", metavar="K",
        help="run the tile scan at most every K frames")
    detector_tiles_min_score: float = _option(
        DEFAULT_DETECTOR_TILES_MIN_SCORE, kind="unit", group="people and tiles", metavar="S",
        help="score a detection on a tile needs (zoomed tiles make the detector fire on objects)")
    detector_tiles_model: str | os.PathLike | None = _option(
        None, kind="path", group="people and tiles", nullable=True, metavar="FILE",
        help="detector .tflite to run on the tiles instead of the whole-frame one (e.g. one fine-tuned for small "
             "people by training.finetune_detector); default: the pipeline's tile detector when it has one and "
             "--detector is not given (ours-lite), else the whole-frame detector; used only with detector tiles")
    smooth_landmarks: bool = _option(
        True, kind="bool", group="smoothing", flag="--no-smooth",
        help="One-Euro smoothing of the landmarks on video")
    smoothing: SmoothingOptions = _option(
        kind="smoothing", group="smoothing", flag=None, default_factory=SmoothingOptions,
        help="One-Euro filter settings (an object of SmoothingOptions fields in the options file)")
    enable_segmentation: bool = _option(
        False, kind="bool", group="segmentation", flag=None,
        help="also compute Pose.mask, the person's probability mask in frame pixels (one warp per person per "
             "frame); the CLI sets it with --mask")
    prune_segmentation: bool = _option(
        True, kind="bool", group="segmentation",
        help="without enable_segmentation, run the landmark model without its segmentation decoder (derived once "
             "from the same file into the model cache; the same landmarks bit for bit, about half "
             "the landmark time with Lite); off: the file as it is, as MediaPipe runs it")
    smooth_segmentation: bool = _option(
        True, kind="bool", group="segmentation",
        help="on video, blend each mask with the previous one where it is uncertain, as MediaPipe does")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_value(f.name, f.metadata["kind"], getattr(self, f.name), f.metadata["nullable"])


def option_fields() -> tuple[dataclasses.Field, ...]:
    """The fields of :class:`TrackerOptions`, in declaration order."""
    return dataclasses.fields(TrackerOptions)


_FIELDS = {f.name: f for f in dataclasses.fields(TrackerOptions)}
_SMOOTHING_FIELDS = {f.name for f in dataclasses.fields(SmoothingOptions)}


def _unknown(key: str, known, where: str) -> OptionError:
    return OptionError(f"unknown {where} option {key!r}; valid: {', '.join(sorted(known))}")


def tracker_options_from_dict(values: Mapping[str, object], base: TrackerOptions | None = None) -> TrackerOptions:
    """``base`` (default: TrackerOptions()) with the fields in ``values`` replaced, each checked
    (OptionError names the key: ``option 'num_threads' must be ...``). Numbers of "unit" fields
    become floats."""
    if not isinstance(values, Mapping):
        raise OptionError(f"tracker options must be an object of option names to values, got {type(values).__name__}")
    base = base or TrackerOptions()
    changes: dict[str, object] = {}
    for key, value in values.items():
        if key == "smoothing":
            if not isinstance(value, Mapping):
                raise OptionError(f"option 'smoothing' must be an object, got {value!r}")
            for name in value:
                if name not in _SMOOTHING_FIELDS:
                    raise _unknown(name, _SMOOTHING_FIELDS, "smoothing")
            changes["smoothing"] = dataclasses.replace(base.smoothing, **value)  # SmoothingOptions checks each value
        elif key in _FIELDS:
            md = _FIELDS[key].metadata
            check_value(f"option {key!r}", md["kind"], value, md["nullable"])
            changes[key] = float(value) if md["kind"] == "unit" else value
        else:
            raise _unknown(str(key), _FIELDS, "tracker")
    return dataclasses.replace(base, **changes)


def load_tracker_options(path: str | os.PathLike, base: TrackerOptions | None = None) -> TrackerOptions:
    """Tracker options from a JSON file (see the module docstring); OptionError names the file."""
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
