"""``blazepose batch``'s flags and command (the engine is :mod:`blazepose_sdk.app.batch`).

The tracker flags are those of ``blazepose run`` with the same names, meanings and defaults, so
``blazepose batch A B --out DIR --num-poses 4`` gives for A what ``blazepose run A --json A.jsonl
--num-poses 4`` gives.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import OptionError
from ..options import TrackerOptions
from .batch import BatchOptions, failure_summary, run_batch
from .batch_engines import BatchError
from .option_flags import add_tracker_flags, tracker_options_from_args


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
    parser.add_argument("--max-frames", type=int, default=None, help="stop each video after this many frames")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_tracker_flags(parser, {"num_threads": "CPU threads per model, and CPUs per worker (default 1)"})
    parser.set_defaults(func=cmd_batch)


def tracker_options(args: argparse.Namespace) -> TrackerOptions:
    """--options FILE.json (else the defaults), then every tracker flag given on top; checked
    before any model loads (OptionError)."""
    for flag in ("max_frames", "workers"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise OptionError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if args.retries < 0:
        raise OptionError(f"--retries must be >= 0, got {args.retries}")
    return tracker_options_from_args(args)


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
