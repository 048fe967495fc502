"""``blazepose batch``'s flags and command (the engine is :mod:`blazepose_sdk.app.batch`).

The tracker flags are those of ``blazepose run`` with the same names, meanings and defaults, so
``blazepose batch A B --out DIR --num-poses 4`` gives for A what ``blazepose run A --json A.jsonl
--num-poses 4`` gives.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..assets.models import available_pipelines
from ..config import load_tracker_options
from ..errors import OptionError
from ..geometry.tiles import parse_tile_layout
from ..tracker import DEFAULT_MODEL, TrackerOptions, check_confidence
from .batch import BatchOptions, failure_summary, run_batch
from .batch_engines import BatchError

# flag -> TrackerOptions field, for the flags that take a value (as `blazepose run`)
_VALUE_FLAGS = {
    "model": "model", "detector": "detector_model", "landmark": "landmark_model", "threads": "num_threads",
    "delegate": "delegate", "min_detection_confidence": "min_detection_confidence",
    "min_tracking_confidence": "min_tracking_confidence", "num_poses": "num_poses", "detect_every": "detect_every",
    "detector_tiles": "detector_tiles", "detector_tiles_every": "detector_tiles_every",
    "detector_tiles_min_score": "detector_tiles_min_score", "detector_tiles_model": "detector_tiles_model",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``blazepose batch``'s arguments to ``parser`` and make it run :func:`cmd_batch`."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, image folders or images")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder: KEY.jsonl (and KEY.coco.json) per input, and batch.json")
    parser.add_argument("--address", default=None, metavar="ADDR",
                        help="Ray cluster: auto (the running one) or ray://HOST:10001 (default: a local Ray "
                             "with one worker per core)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: the cluster's CPUs / --threads)")
    parser.add_argument("--local", action="store_true", help="no Ray: run every input in this one process")
    parser.add_argument("--retries", type=int, default=3, metavar="N",
                        help="restarts of a killed worker and retries of its input (default 3)")
    parser.add_argument("--coco", action="store_true", help="also write COCO keypoint results, KEY.coco.json")
    parser.add_argument("--model", default=None,
                        help=f"pipeline name (default {DEFAULT_MODEL}): {', '.join(available_pipelines())}")
    parser.add_argument("--detector", help="detector .tflite to use instead of the pipeline's")
    parser.add_argument("--landmark", help="landmark .tflite to use instead of the pipeline's")
    parser.add_argument("--options", metavar="FILE.json",
                        help="tracker options as a JSON object of TrackerOptions fields; flags given here override it")
    parser.add_argument("--static", action="store_true", help="detect on every frame (no tracking, no smoothing)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads per model, and CPUs per worker (default 1)")
    parser.add_argument("--delegate", default=None, help="gpu, edgetpu, or a delegate library path")
    parser.add_argument("--no-smooth", action="store_true", help="turn landmark smoothing off")
    parser.add_argument("--min-detection-confidence", type=float, default=None, help="default 0.5")
    parser.add_argument("--min-tracking-confidence", type=float, default=None, help="default 0.5")
    parser.add_argument("--max-frames", type=int, default=None, help="stop each video after this many frames")
    parser.add_argument("--num-poses", type=int, default=None, metavar="N", help="track up to N people (default 1)")
    parser.add_argument("--detect-every", type=int, default=None, metavar="K",
                        help="with --num-poses > 1: look for newcomers at most every K frames (default 5)")
    parser.add_argument("--detector-tiles", default=None, metavar="LAYOUT",
                        help="also run the detector on zoomed tiles (e.g. 2x2+c, 3x3) (default off)")
    parser.add_argument("--detector-tiles-every", type=int, default=None, metavar="K",
                        help="run the tile scan at most every K frames (default 10)")
    parser.add_argument("--detector-tiles-min-score", type=float, default=None, metavar="S",
                        help="score a detection on a tile needs (default 0.95)")
    parser.add_argument("--detector-tiles-model", default=None, metavar="FILE",
                        help="detector .tflite to run on the tiles instead of the whole-frame one")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_batch)


def tracker_options(args: argparse.Namespace) -> TrackerOptions:
    """--options FILE.json (else the defaults), then every tracker flag given on top; checked
    before any model loads (OptionError)."""
    for flag in ("threads", "max_frames", "num_poses", "detect_every", "detector_tiles_every", "workers"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise OptionError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if args.retries < 0:
        raise OptionError(f"--retries must be >= 0, got {args.retries}")
    for flag in ("min_detection_confidence", "min_tracking_confidence", "detector_tiles_min_score"):
        if getattr(args, flag) is not None:
            check_confidence(f"--{flag.replace('_', '-')}", getattr(args, flag))
    if args.detector_tiles is not None:
        parse_tile_layout(args.detector_tiles)
    base = load_tracker_options(args.options) if args.options else TrackerOptions()
    changes = {field: getattr(args, flag) for flag, field in _VALUE_FLAGS.items() if getattr(args, flag) is not None}
    if args.static:
        changes["static_image_mode"] = True
    if args.no_smooth:
        changes["smooth_landmarks"] = False
    return dataclasses.replace(base, **changes)


def cmd_batch(args: argparse.Namespace) -> int:
    """Run the batch; print a summary; one line on stderr and exit 2 (BatchError) when an input failed."""
    options = tracker_options(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {args.out}: is a file, not a folder")
    if args.local and args.address:
        raise OptionError("--local and --address exclude each other")
    batch = BatchOptions(out_dir=out, address=args.address, workers=args.workers,
                         threads_per_worker=options.num_threads or 1, engine="local" if args.local else "auto",
                         coco=args.coco, max_frames=args.max_frames, max_retries=args.retries,
                         progress=not args.no_progress)
    _check_models(options)
    report = run_batch(args.inputs, options, batch)
    print(f"inputs: {len(args.inputs)}")
    print(f"done: {len(report.done)}")
    print(f"skipped (already complete): {len(report.skipped)}")
    print(f"failed: {len(report.failed)}")
    print(f"frames: {report.frames}")
    print(f"engine: {report.engine} ({report.workers} worker{'s' if report.workers != 1 else ''})")
    print(f"seconds: {report.seconds}")
    print(f"record: {out / 'batch.json'}")
    if report.failed:
        raise BatchError(failure_summary(report))
    return 0


def _check_models(options: TrackerOptions) -> None:
    """Load the models once here, so that a wrong model name or file fails before any worker starts."""
    from ..tracker import PoseTracker

    with PoseTracker(options):
        pass
