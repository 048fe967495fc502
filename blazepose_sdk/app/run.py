"""``blazepose run``: images, folders, videos, streams and webcams through the tracker, with
annotated video, masks, JSON lines and COCO results written safely (checked first, replaced only
once new results exist, saved on a stop)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import OptionError, VideoError
from ..options import TrackerOptions
from ..profiling import StageTimes, format_profile
from ..tracker import PoseTracker
from .drawing import draw_pose
from .loops import track_images, track_video
from .option_flags import add_tracker_flags, tracker_options_from_args
from .stopping import EXIT_ERROR, EXIT_SIGPIPE, Stopped, say
from .video import (
    IMAGE_SUFFIXES,
    SourceGap,
    VideoReader,
    VideoWriter,
    folder_images,
    input_kind,
    is_special_file,
    source_kind,
    temp_file_beside,
    write_file_replacing,
    write_image,
)

VIDEO_OUT_SUFFIXES = (".mp4", ".avi")


def _parse_source(text: str) -> str | int:
    return int(text) if text.isdigit() and not Path(text).exists() else text


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
class _JsonLines:
    """The --json output, one line per frame, each flushed as it is written.

    A file is written to a temporary file beside it (:func:`~blazepose_sdk.app.video.temp_file_beside`)
    and renamed over it by :meth:`close`, also after an error or a signal: an existing file is
    replaced only once there is a new line, and never by a half-written one. ``-``: standard
    output; a reader that goes away (``| head``) stops the run quietly (:class:`Stopped`).
    """

    def __init__(self, path: str) -> None:
        self.path, self._file, self._tmp = path, None, None

    @property
    def to_stdout(self) -> bool:
        return self.path == "-"

    def write(self, record: dict) -> None:
        line = json.dumps(record) + "\n"
        if self.to_stdout:
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except (BrokenPipeError, AttributeError):  # AttributeError: stdout closed (>&-)
                raise Stopped(EXIT_SIGPIPE, None) from None
            return
        try:
            if self._file is None:
                if is_special_file(self.path):  # a FIFO, /dev/stdout, ...: written as it is
                    self._file = open(self.path, "w")
                else:
                    self._tmp = temp_file_beside(self.path)
                    self._file = open(self._tmp, "w")
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            raise VideoError(f"cannot write --json {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            if self._tmp is not None:
                try:
                    os.replace(self._tmp, os.path.realpath(self.path))
                except OSError as exc:
                    raise VideoError(f"cannot write --json {self.path} (the lines are in {self._tmp}): "
                                     f"{exc.strerror or exc}") from None


def _write_json_file(flag: str, path: str, value: object) -> None:
    """Write ``value`` as JSON to ``path``, replacing it only once complete."""
    write_file_replacing(path, json.dumps(value).encode(), f"{flag} {path}")


def _check_writable_folder(flag: str, value: str, folder: Path) -> None:
    """Raise OptionError unless a file can be created in ``folder``. os.access alone is not enough:
    root passes it everywhere, also where writing still fails (read-only mounts, /proc), so a
    temporary file is created and removed."""
    problem = None
    if not os.access(folder, os.W_OK | os.X_OK):
        problem = "permission denied"
    else:
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".blazepose-write-check-"):
                pass
        except OSError as exc:
            problem = exc.strerror or str(exc)
    if problem is not None:
        raise OptionError(f"{flag} {value}: cannot write in folder {folder} ({problem})")


def _check_writable_file(flag: str, value: str, suffixes: tuple[str, ...] | None = None) -> None:
    path = Path(value)
    if path.is_dir():
        raise OptionError(f"{flag} {value}: is a folder, not a file")
    if not path.parent.is_dir():
        raise OptionError(f"{flag} {value}: folder {path.parent} does not exist")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise OptionError(f"{flag} {value}: unknown extension {path.suffix or '(none)'!r}; use one of {', '.join(suffixes)}")
    if is_special_file(path):
        if not os.access(path, os.W_OK):
            raise OptionError(f"{flag} {value}: cannot be written (permission denied)")
        return
    _check_writable_folder(flag, value, Path(os.path.realpath(value)).parent)  # a symlink's target gets replaced


def _check_output_folder(flag: str, value: str) -> None:
    """An output folder (a folder input's --out or --mask): an existing folder that can be written,
    or a new one in a folder that can be written."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise OptionError(f"{flag} {value}: a folder input needs an output folder")
    if not path.exists() and not path.parent.is_dir():
        raise OptionError(f"{flag} {value}: folder {path.parent} does not exist")
    _check_writable_folder(flag, value, path if path.exists() else path.parent)


def _same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file or folder (through symlinks, ``..`` and hard links)."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:  # one of them does not exist yet
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _check_distinct_outputs(outputs: list[tuple[str, str]], inputs: list[tuple[str, str | int]], kind: str) -> None:
    """No output may be an input (it would be destroyed: the input itself, for a folder input the
    folder its images are in, an options or model file) and no two outputs the same file (special
    files such as /dev/null excepted)."""
    outputs = [(flag, value) for flag, value in outputs if not is_special_file(value)]
    for input_flag, source in inputs:
        if not isinstance(source, str) or source_kind(source) != "file":
            continue
        for flag, value in outputs:
            if _same_path(value, source):
                what = f"{input_flag} file" if input_flag != "input" else "input folder" if kind == "folder" else "input file"
                raise OptionError(f"{flag} {value}: is the {what}; it would be overwritten")
    for i, (flag_a, a) in enumerate(outputs):
        for flag_b, b in outputs[i + 1:]:
            if _same_path(a, b):
                raise OptionError(f"{flag_a} and {flag_b} name the same path: {a}")


def check_run_args(args: argparse.Namespace, source: str | int) -> tuple[str, TrackerOptions]:
    """Validate ``blazepose run``'s options and outputs before any model loads or any file is
    written; returns the input kind ("folder", "image" or "video": files, cameras and streams) and
    the tracker options (images and folders always in static image mode). Outputs must be
    writable, distinct from the input and from each other."""
    if args.max_frames is not None and args.max_frames < 1:
        raise OptionError(f"--max-frames must be >= 1, got {args.max_frames}")
    # a bad flag or options file fails here, before any model loads
    options = tracker_options_from_args(args, **({"enable_segmentation": True} if args.mask else {}))
    if args.detector_tiles_model is not None and options.detector_tiles is None:
        raise OptionError("--detector-tiles-model is used only with --detector-tiles LAYOUT (or detector_tiles in "
                          "--options); give both")
    path = Path(source) if isinstance(source, str) and source_kind(source) == "file" else None  # not cameras, streams
    kind = input_kind(path) if path is not None else "video"
    if path is not None and not path.exists():
        raise VideoError(f"input not found: {source}")
    if kind == "image" and not path.is_file():
        raise VideoError(f"input {source} is not a file")
    if args.coco == "-":
        raise OptionError("--coco -: COCO results go to a file (only --json may be -, standard output)")
    for flag, value in (("--json", args.json), ("--coco", args.coco)):
        if value and value != "-":
            _check_writable_file(flag, value)
    for flag, value in (("--out", args.out), ("--mask", args.mask)):
        if not value:
            continue
        if kind == "folder":
            _check_output_folder(flag, value)
        else:
            _check_writable_file(flag, value, tuple(sorted(IMAGE_SUFFIXES)) if kind == "image" else VIDEO_OUT_SUFFIXES)
    outputs = [(flag, value) for flag, value in (("--out", args.out), ("--mask", args.mask), ("--json", args.json),
                                                 ("--coco", args.coco)) if value and value != "-"]
    inputs = [("input", source)] + [(flag, value) for flag, value in (
        ("--options", args.options), ("--detector", args.detector_model), ("--landmark", args.landmark_model),
        ("--detector-tiles-model", args.detector_tiles_model)) if value]
    _check_distinct_outputs(outputs, inputs, kind)
    if kind != "video":
        options = dataclasses.replace(options, static_image_mode=True)
    return kind, options


@dataclasses.dataclass
class _Collected:
    """What a run has computed, saved at its end even after an error or a signal.

    Attributes:
        json: the --json output (None without --json).
        coco: COCO keypoint results so far.
        frames: frames (or images) processed; outputs are written only once there is one.
        failed: images of a folder that could not be read ("name (why)").
        gaps: frames the video did not deliver (VideoReader.gaps).
    """

    json: _JsonLines | None
    coco: list[dict] = dataclasses.field(default_factory=list)
    frames: int = 0
    failed: list[str] = dataclasses.field(default_factory=list)
    gaps: list[SourceGap] = dataclasses.field(default_factory=list)

    def add(self, record: dict, coco: list[dict]) -> None:
        if self.json is not None:
            self.json.write(record)
        self.coco.extend(coco)
        self.frames += 1


def _gap_warning(source: str | int, gaps: list[SourceGap]) -> str:
    """The one stderr line on the frames a video did not deliver."""
    missing = sum(g.missing_frames for g in gaps)
    inside = [g for g in gaps if not g.at_end]
    parts = []
    if inside:
        parts.append(f"{len(inside)} gap{'s' if len(inside) > 1 else ''} (first before frame {inside[0].frame_index}; "
                     "\"source_gap\" in --json)")
    end = [g for g in gaps if g.at_end]
    if end:
        parts.append(f"it ended after {end[0].frame_index} of the {end[0].frame_index + missing} frames its header "
                     "announces (truncated or damaged: timestamps after a damaged part are early)")
    return f"blazepose: warning: {source}: {missing} frames missing: " + "; ".join(parts)


def cmd_run(args: argparse.Namespace) -> int:
    source = _parse_source(args.input)
    kind, options = check_run_args(args, source)
    collected = _Collected(_JsonLines(args.json) if args.json else None)
    times = StageTimes() if args.profile else None
    try:
        if kind in ("folder", "image"):
            summary = _run_images(source, args, options, collected, times)
        else:
            summary = _run_video(source, args, options, collected, times)
    finally:  # what was computed, even after an error or a signal; nothing before the first frame
        if collected.json is not None:
            collected.json.close()
        if args.coco and collected.frames:
            _write_json_file("--coco", args.coco, collected.coco)
    if collected.gaps:
        summary["frames_missing"] = sum(g.missing_frames for g in collected.gaps)
    out = sys.stderr if args.json == "-" else sys.stdout  # --json -: stdout carries the JSON lines only
    if out is not None:
        for key, value in summary.items():
            print(f"{key}: {value}", file=out)
        if times is not None:
            print("profile (wall time per stage; --profile):", file=out)
            print(format_profile(times, summary.get("frames", summary.get("images", 0)), summary["seconds"]), file=out)
        out.flush()
    if collected.gaps:
        say(_gap_warning(source, collected.gaps))
    failed = collected.failed
    if failed:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        say(f"blazepose: error: {len(failed)} of {summary['images']} images could not be read: {shown}")
        return EXIT_ERROR
    return 0


def _run_images(source: str, args: argparse.Namespace, options: TrackerOptions, collected: _Collected,
                times: StageTimes | None = None) -> dict:
    """One image, or every image file of a folder (sub-folders are skipped). A file of a folder that
    cannot be read or used is added to ``collected.failed`` and the run goes on."""
    path = Path(source)
    folder = path.is_dir()
    files = folder_images(path) if folder else [path]
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
        for image_id, file, frame, result in track_images(tracker, files, folder, collected.failed, times):
            poses += result.pose is not None
            people += len(result.poses)
            collected.add(result.to_dict() | {"source": str(file)}, result.to_coco(image_id))
            if args.out:
                target = out_dir / file.name if out_dir else Path(args.out)
                write_image(target, draw_pose(frame, result))
            if args.mask:
                write_image(mask_dir / f"{file.stem}.png" if mask_dir else Path(args.mask), _mask_image(result))
        elapsed = time.perf_counter() - start
        summary = {"images": len(files), "with_pose": poses, "failed": len(collected.failed),
                   "seconds": round(elapsed, 3), "detector_runs": tracker.detector_runs}
        if tracker.options.num_poses > 1:
            summary["people"] = people
        return summary


def _run_video(source: str | int, args: argparse.Namespace, options: TrackerOptions, collected: _Collected,
               times: StageTimes | None = None) -> dict:
    """A video file, camera or stream. Frames the source skips are reported: ``source_gap`` on the
    JSON line of the frame after a gap, and ``collected.gaps`` (VideoReader.gaps) for the summary."""
    poses = people = 0
    progress = None
    # Frames stay in OpenCV's BGR order unless they are drawn on (--out): the tracker swaps only
    # its model-input crops, the landmarks are the same (tests/test_speed_paths.py).
    with VideoReader(source, bgr=not args.out) as reader, PoseTracker(options) as tracker:
        reader.stage_times = tracker.stage_times = times
        writer = VideoWriter(args.out, reader.fps) if args.out else None
        mask_writer = VideoWriter(args.mask, reader.fps) if args.mask else None
        total = reader.frame_count if args.max_frames is None else min(reader.frame_count or args.max_frames, args.max_frames)
        if not args.no_progress and sys.stderr is not None:
            from tqdm import tqdm

            progress = tqdm(total=total, unit="frame", desc=str(source), file=sys.stderr)
        start = time.perf_counter()
        try:
            for frame, result in track_video(tracker, reader, args.max_frames):
                poses += result.pose is not None
                people += len(result.poses)
                t0 = time.perf_counter()
                record = result.to_dict()
                gap = reader.gap_before(result.frame_index)
                if gap is not None:
                    record["source_gap"] = gap.to_dict()
                collected.add(record, result.to_coco(result.frame_index))
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
            collected.gaps = list(reader.gaps)
            try:
                if writer:
                    writer.close()
            finally:
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


def add_run_parser(sub) -> None:
    """Add ``blazepose run`` to the subcommands ``sub``."""
    run = sub.add_parser(
        "run", help="run on an image, a folder of images, a video file, a stream or a webcam",
        description="Outputs are checked before any model loads (writable, not the input, not each other) and "
        "replaced only once new results exist; Ctrl-C (exit 130) and SIGTERM (143) save what was computed.")
    run.add_argument("input", help="image, folder, video file, stream URL (rtsp://, http://, ...), camera index "
                                   "(0, 1, ...) or camera device (/dev/video0)")
    run.add_argument("--out", help="annotated output: an image, an .mp4/.avi, or a folder for image folders")
    run.add_argument("--mask", metavar="OUT",
                     help="write the person's segmentation mask (white = person; with --num-poses, all people's "
                          "combined): an image for an image input, "
                          "a folder of PNGs for a folder, an .mp4/.avi for a video or webcam")
    run.add_argument("--json", help="write one JSON line per frame to this file (-: standard output; the summary "
                                    "then goes to stderr)")
    run.add_argument("--coco", help="write COCO keypoint results (17 keypoints) to this JSON file")
    run.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--profile", action="store_true",
                     help="print the wall time per stage (video decode, warps, inference, output decoding, "
                     "smoothing, drawing) at the end")
    add_tracker_flags(run)
    run.set_defaults(func=cmd_run)
