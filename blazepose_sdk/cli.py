"""Command line: ``blazepose run`` on images, folders, videos and webcams; ``blazepose models``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .config import load_tracker_options
from .drawing import draw_pose
from .errors import BlazePoseError, InvalidFrameError, OptionError, VideoError
from .models import (BUNDLED_DIR, BUNDLED_PIPELINES, BUNDLED_TILES_DETECTORS, REFERENCE_FILES, available_pipelines,
                     fetch_reference, reference_dir)
from .profiling import StageTimes, format_profile
from .tiles import parse_tile_layout
from .tracker import DEFAULT_MODEL, PoseTracker, TrackerOptions, check_confidence
from .video import IMAGE_SUFFIXES, VideoReader, VideoWriter, is_image_path, read_image, write_image


def _parse_source(text: str) -> str | int:
    return int(text) if text.isdigit() and not Path(text).exists() else text


def _options(args: argparse.Namespace) -> TrackerOptions:
    """The tracker options: --options FILE.json (else the defaults), then every flag given on the
    command line on top of it."""
    base = load_tracker_options(args.options) if args.options else TrackerOptions()
    given = {
        "model": args.model,
        "detector_model": args.detector,
        "landmark_model": args.landmark,
        "num_threads": args.threads,
        "delegate": args.delegate,
        "min_detection_confidence": args.min_detection_confidence,
        "min_tracking_confidence": args.min_tracking_confidence,
        "num_poses": args.num_poses,
        "detect_every": args.detect_every,
        "detector_tiles": args.detector_tiles,
        "detector_tiles_every": args.detector_tiles_every,
        "detector_tiles_min_score": args.detector_tiles_min_score,
        "detector_tiles_model": args.detector_tiles_model,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if getattr(args, "mask", None):
        changes["enable_segmentation"] = True
    if args.static:
        changes["static_image_mode"] = True
    if args.no_smooth:
        changes["smooth_landmarks"] = False
    return dataclasses.replace(base, **changes)


def _mask_image(result) -> np.ndarray:
    """The --mask output for one frame: the person's probability as a grey RGB uint8 image
    (white = person), black where nobody was found; with several people, their combined mask
    (per-pixel maximum)."""
    w, h = result.image_size
    mask = result.combined_mask()
    if mask is None:
        return np.zeros((h, w, 3), np.uint8)
    grey = np.clip(np.rint(mask * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _caption(result, tracker: PoseTracker, fps: float | None) -> str:
    parts = [f"frame {result.frame_index}"]
    if fps:
        parts.append(f"{fps:.1f} fps")
    parts.append(f"detector runs {tracker.detector_runs}")
    if result.multi_person:
        parts.append(f"people {len(result.poses)}")
    elif result.pose is not None:
        parts.append(f"presence {result.pose.presence:.2f}")
    return "  ".join(parts)


# What --out may be for a video or webcam input (VideoWriter: MJPG in .avi, mp4v otherwise).
VIDEO_OUT_SUFFIXES = (".mp4", ".avi")


class _JsonLines:
    """The --json file, opened (and so emptied) only when the first line is written; every line is
    flushed, so a crash or Ctrl-C keeps what was computed."""

    def __init__(self, path: str) -> None:
        self.path, self._file = path, None

    def write(self, record: dict) -> None:
        if self._file is None:
            self._file = open(self.path, "w")
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _check_writable_file(flag: str, value: str, suffixes: tuple[str, ...] | None = None) -> None:
    path = Path(value)
    if path.is_dir():
        raise OptionError(f"{flag} {value}: is a folder, not a file")
    if not path.parent.is_dir():
        raise OptionError(f"{flag} {value}: folder {path.parent} does not exist")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise OptionError(f"{flag} {value}: unknown extension {path.suffix or '(none)'!r}; use one of {', '.join(suffixes)}")


def check_run_args(args: argparse.Namespace, source: str | int) -> tuple[str, TrackerOptions]:
    """Validate ``blazepose run``'s options and outputs before any model loads or any file is
    written; returns the input kind ("folder", "image" or "video": files and cameras) and the
    tracker options (images and folders always in static image mode)."""
    if args.threads is not None and args.threads < 1:
        raise OptionError(f"--threads must be >= 1, got {args.threads}")
    if args.max_frames is not None and args.max_frames < 1:
        raise OptionError(f"--max-frames must be >= 1, got {args.max_frames}")
    for flag in ("--num-poses", "--detect-every", "--detector-tiles-every"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None and value < 1:
            raise OptionError(f"{flag} must be >= 1, got {value}")
    if args.detector_tiles is not None:
        parse_tile_layout(args.detector_tiles)
    for flag in ("--min-detection-confidence", "--min-tracking-confidence", "--detector-tiles-min-score"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            check_confidence(flag, value)
    options = _options(args)  # a bad options file fails here, before any model loads
    path = Path(source) if isinstance(source, str) and "://" not in source else None  # not cameras, not streams
    kind = "folder" if path is not None and path.is_dir() else "image" if path is not None and is_image_path(path) else "video"
    if path is not None and not path.exists():
        raise VideoError(f"input not found: {source}")
    if kind == "image" and not path.is_file():
        raise VideoError(f"input {source} is not a file")
    for flag, value in (("--json", args.json), ("--coco", args.coco)):
        if value:
            _check_writable_file(flag, value)
    for flag, value in (("--out", args.out), ("--mask", args.mask)):
        if not value:
            continue
        if kind == "folder":
            if Path(value).exists() and not Path(value).is_dir():
                raise OptionError(f"{flag} {value}: a folder input needs an output folder")
            if not Path(value).parent.is_dir():
                raise OptionError(f"{flag} {value}: folder {Path(value).parent} does not exist")
        else:
            _check_writable_file(flag, value, tuple(sorted(IMAGE_SUFFIXES)) if kind == "image" else VIDEO_OUT_SUFFIXES)
    if args.out and args.mask and Path(args.out).resolve() == Path(args.mask).resolve():
        raise OptionError(f"--out and --mask name the same path: {args.out}")
    if kind != "video":
        options = dataclasses.replace(options, static_image_mode=True)
    return kind, options


def cmd_run(args: argparse.Namespace) -> int:
    source = _parse_source(args.input)
    kind, options = check_run_args(args, source)
    json_file = _JsonLines(args.json) if args.json else None
    coco: list[dict] = []
    failed: list[str] = []
    times = StageTimes() if args.profile else None
    try:
        if kind in ("folder", "image"):
            summary = _run_images(source, args, options, json_file, coco, failed, times)
        else:
            summary = _run_video(source, args, options, json_file, coco, times)
    finally:
        if json_file is not None:
            json_file.close()
        if args.coco:  # what was computed, even after an error or Ctrl-C
            Path(args.coco).write_text(json.dumps(coco))
    for key, value in summary.items():
        print(f"{key}: {value}")
    if times is not None:
        print("profile (wall time per stage; --profile):")
        print(format_profile(times, summary.get("frames", summary.get("images", 0)), summary["seconds"]))
    if failed:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        print(f"blazepose: error: {len(failed)} of {summary['images']} images could not be read: {shown}",
              file=sys.stderr)
        return 2
    return 0


def _run_images(source: str, args: argparse.Namespace, options: TrackerOptions, json_file, coco: list[dict],
                failed: list[str], times: StageTimes | None = None) -> dict:
    """One image, or every image file of a folder (sub-folders are skipped). A file of a folder that
    cannot be read or used is added to ``failed`` and the run goes on."""
    path = Path(source)
    folder = path.is_dir()
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) if folder else [path]
    if not files:
        raise VideoError(f"no images in {path}")
    out_dir = Path(args.out) if args.out and folder else None
    if out_dir is not None:
        out_dir.mkdir(exist_ok=True)
    mask_dir = Path(args.mask) if args.mask and folder else None
    if mask_dir is not None:
        mask_dir.mkdir(exist_ok=True)
    poses = people = 0
    start = time.perf_counter()
    with PoseTracker(options) as tracker:
        tracker.stage_times = times
        for image_id, file in enumerate(files):
            try:
                t0 = time.perf_counter()
                frame = read_image(file)
                if times is not None:
                    times.add("read", time.perf_counter() - t0)
                result = tracker.process(frame, timestamp_ms=0.0)
            except (VideoError, InvalidFrameError) as exc:
                if not folder:
                    raise
                failed.append(f"{file.name} ({exc})")
                continue
            poses += result.pose is not None
            people += len(result.poses)
            record = result.to_dict() | {"source": str(file)}
            if json_file:
                json_file.write(record)
            coco.extend(result.to_coco(image_id))
            if args.out:
                target = out_dir / file.name if out_dir else Path(args.out)
                write_image(target, draw_pose(frame, result))
            if args.mask:
                write_image(mask_dir / f"{file.stem}.png" if mask_dir else Path(args.mask), _mask_image(result))
        elapsed = time.perf_counter() - start
        summary = {"images": len(files), "with_pose": poses, "failed": len(failed), "seconds": round(elapsed, 3),
                   "detector_runs": tracker.detector_runs}
        if tracker.options.num_poses > 1:
            summary["people"] = people
        return summary


def _run_video(source: str | int, args: argparse.Namespace, options: TrackerOptions, json_file, coco: list[dict],
               times: StageTimes | None = None) -> dict:
    poses = people = 0
    progress = None
    with VideoReader(source) as reader, PoseTracker(options) as tracker:
        reader.stage_times = tracker.stage_times = times
        writer = VideoWriter(args.out, reader.fps) if args.out else None
        mask_writer = VideoWriter(args.mask, reader.fps) if args.mask else None
        total = reader.frame_count if args.max_frames is None else min(reader.frame_count or args.max_frames, args.max_frames)
        if not args.no_progress:
            from tqdm import tqdm

            progress = tqdm(total=total, unit="frame", desc=str(source), file=sys.stderr)
        start = time.perf_counter()
        try:
            for t_ms, frame in reader:
                if args.max_frames is not None and tracker.frames_processed >= args.max_frames:
                    break
                result = tracker.process(frame, timestamp_ms=t_ms)
                poses += result.pose is not None
                people += len(result.poses)
                t0 = time.perf_counter()
                if json_file:
                    json_file.write(result.to_dict())
                coco.extend(result.to_coco(result.frame_index))
                elapsed = time.perf_counter() - start
                fps = tracker.frames_processed / elapsed if elapsed > 0 else None
                if writer:
                    t1 = time.perf_counter()
                    annotated = draw_pose(frame, result, text=_caption(result, tracker, fps))
                    t2 = time.perf_counter()
                    writer.write(annotated)
                    if times is not None:
                        times.add("draw", t2 - t1)
                        t0 += t2 - t1
                if mask_writer:
                    mask_writer.write(_mask_image(result))
                if times is not None:
                    times.add("write", time.perf_counter() - t0)
                if progress is not None:
                    progress.update(1)
        finally:
            if writer:
                writer.close()
            if mask_writer:
                mask_writer.close()
            if progress is not None:
                progress.close()
        elapsed = time.perf_counter() - start
        frames = tracker.frames_processed
        summary = {
            "frames": frames,
            "with_pose": poses,
            "detector_runs": tracker.detector_runs,
            "fps": round(frames / elapsed, 2) if elapsed > 0 else None,
            "seconds": round(elapsed, 3),
        }
        if tracker.options.num_poses > 1:
            summary["people_per_frame"] = round(people / frames, 3) if frames else 0.0
            summary["ids"] = tracker.stats()["ids_issued"]
        return summary


def cmd_models(args: argparse.Namespace) -> int:
    if args.models_command == "fetch-reference":
        target = fetch_reference(tarball=args.tarball, registry=args.registry, timeout_s=args.timeout)
        print(f"reference models ready in {target}")
        return 0
    folder = reference_dir()
    for name in available_pipelines():
        print(f"{name}{' (default)' if name == DEFAULT_MODEL else ''}")
    print(f"bundled models: {BUNDLED_DIR}")
    shipped = {f for pair in BUNDLED_PIPELINES.values() for f in pair} | set(BUNDLED_TILES_DETECTORS.values())
    for filename in sorted(shipped):
        print(f"  {filename}: {'present' if (BUNDLED_DIR / filename).is_file() else 'missing'}")
    print(f"reference cache: {folder}")
    for filename in REFERENCE_FILES:
        print(f"  {filename}: {'present' if (folder / filename).is_file() else 'missing'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blazepose", description="BlazePose-style pose tracking on the edge.")
    parser.add_argument("--version", action="version", version=f"blazepose-sdk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run on an image, a folder of images, a video file or a webcam index")
    run.add_argument("input", help="image, folder, video file, or camera index (0, 1, ...)")
    run.add_argument("--model", default=None,
                     help=f"pipeline name (default {DEFAULT_MODEL}): {', '.join(available_pipelines())}")
    run.add_argument("--detector", help="detector .tflite to use instead of the pipeline's")
    run.add_argument("--landmark", help="landmark .tflite to use instead of the pipeline's")
    run.add_argument("--options", metavar="FILE.json",
                     help="tracker options as a JSON object of TrackerOptions fields; flags given here override it")
    run.add_argument("--out", help="annotated output: an image, an .mp4/.avi, or a folder for image folders")
    run.add_argument("--mask", metavar="OUT",
                     help="write the person's segmentation mask (white = person; with --num-poses, all people's "
                          "combined): an image for an image input, "
                          "a folder of PNGs for a folder, an .mp4/.avi for a video or webcam")
    run.add_argument("--json", help="write one JSON line per frame to this file")
    run.add_argument("--coco", help="write COCO keypoint results (17 keypoints) to this JSON file")
    run.add_argument("--static", action="store_true", help="detect on every frame (no tracking, no smoothing)")
    run.add_argument("--threads", type=int, default=None, help="CPU threads per model")
    run.add_argument("--delegate", default=None, help="gpu, edgetpu, or a delegate library path")
    run.add_argument("--no-smooth", action="store_true", help="turn landmark smoothing off")
    run.add_argument("--min-detection-confidence", type=float, default=None, help="default 0.5")
    run.add_argument("--min-tracking-confidence", type=float, default=None, help="default 0.5")
    run.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    run.add_argument("--num-poses", type=int, default=None, metavar="N",
                     help="track up to N people, each with a stable id (default 1: single-person, as MediaPipe)")
    run.add_argument("--detect-every", type=int, default=None, metavar="K",
                     help="with --num-poses > 1: look for newcomers at most every K frames (default 5)")
    run.add_argument("--detector-tiles", default=None, metavar="LAYOUT",
                     help="also run the detector on zoomed tiles (e.g. 2x2+c, 3x3) when it finds fewer people "
                          "than --num-poses: finds small, distant people (default off)")
    run.add_argument("--detector-tiles-every", type=int, default=None, metavar="K",
                     help="run the tile scan at most every K frames (default 10)")
    run.add_argument("--detector-tiles-min-score", type=float, default=None, metavar="S",
                     help="score a detection on a tile needs (default 0.95)")
    run.add_argument("--detector-tiles-model", default=None, metavar="FILE",
                     help="detector .tflite to run on the tiles instead of the whole-frame one (e.g. one fine-tuned "
                          "for small people by training.finetune_detector)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--profile", action="store_true",
                     help="print the wall time per stage (video decode, warps, inference, output decoding, "
                     "smoothing, drawing) at the end")
    run.set_defaults(func=cmd_run)

    models = sub.add_parser("models", help="manage model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    fetch = models_sub.add_parser(
        "fetch-reference",
        help="download the official BlazePose models (npm package @mediapipe/pose) into the user cache",
        description="Order: --tarball FILE; else HTTPS from the npm registry (--registry, else npm_config_registry, "
        "else registry= in ~/.npmrc or the global npmrc, else `npm config get registry`); else `npm pack`.",
    )
    fetch.add_argument("--tarball", metavar="FILE", help="use this @mediapipe/pose .tgz (made by `npm pack`); offline")
    fetch.add_argument("--registry", metavar="URL",
                       help="the npm registry's base address (default: npm's configuration)")
    fetch.add_argument("--timeout", type=float, default=60.0, metavar="S",
                       help="seconds a connection may wait for the server (default 60)")
    models_sub.add_parser("list", help="list pipelines and the reference cache")
    models.set_defaults(func=cmd_models)

    from .batch_cli import add_arguments as add_batch_arguments  # flags and command: blazepose_sdk/batch_cli.py

    add_batch_arguments(sub.add_parser("batch", help="many videos or image folders on a pool of workers (Ray), "
                                       "resumable: JSON lines per input and a manifest"))

    # Everything after `bench` goes to the benchmark suite's own parser (`blazepose bench --help`).
    bench = sub.add_parser("bench", add_help=False, help="benchmarks: latency, pipeline, accuracy, presence, soak",
                           description="See `blazepose bench --help`.")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    """`blazepose bench ...`: the suite in :mod:`blazepose_sdk.bench` (same as ``python -m blazepose_sdk.bench``)."""
    from .bench.__main__ import main as bench_main

    return bench_main(args.bench_args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BlazePoseError as exc:
        print(f"blazepose: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
