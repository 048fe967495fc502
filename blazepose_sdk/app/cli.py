"""Command line: ``blazepose run`` (:mod:`blazepose_sdk.app.run`), ``blazepose batch``
(:mod:`blazepose_sdk.app.batch_cli`), ``blazepose models`` and ``blazepose bench``."""

from __future__ import annotations

import argparse
import signal
import sys

from .._version import __version__
from ..assets.fetch import fetch_reference
from ..assets.models import (
    BUNDLED_DIR,
    BUNDLED_PIPELINES,
    BUNDLED_TILE_DETECTORS,
    REFERENCE_FILES,
    available_pipelines,
    official_model_shipped,
    reference_dir,
)
from ..errors import BlazePoseError
from ..options import DEFAULT_MODEL
from .run import add_run_parser
from .stopping import (
    EXIT_ERROR,
    EXIT_SIGPIPE,
    Stopped,
    keep_standard_fds_open,
    say,
    signals_stop_the_run,
    silence_stdout,
)


def cmd_models(args: argparse.Namespace) -> int:
    if args.models_command == "fetch-reference":
        target = fetch_reference(tarball=args.tarball, registry=args.registry, timeout_s=args.timeout)
        print(f"reference models ready in {target}")
        return 0
    folder = reference_dir()
    for name in available_pipelines():
        print(f"{name}{' (default)' if name == DEFAULT_MODEL else ''}")
    print(f"bundled models: {BUNDLED_DIR}")
    shipped = {f for pair in BUNDLED_PIPELINES.values() for f in pair} | set(BUNDLED_TILE_DETECTORS.values())
    for filename in sorted(shipped):
        print(f"  {filename}: {'present' if (BUNDLED_DIR / filename).is_file() else 'missing'}")
    print(f"reference cache: {folder}")
    for filename in REFERENCE_FILES:
        if (folder / filename).is_file():
            state = "present"
        elif official_model_shipped(filename):
            state = "not needed (shipped in the bundled models)"
        else:
            state = "missing (blazepose models fetch-reference)"
        print(f"  {filename}: {state}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blazepose", description="BlazePose-style pose tracking on the edge.")
    parser.add_argument("--version", action="version", version=f"blazepose-sdk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    add_run_parser(sub)

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
                       help="seconds a connection may wait for the server (default 60); also the longest the "
                            "`npm pack` fallback may run")
    models_sub.add_parser("list", help="list pipelines and the reference cache")
    models.set_defaults(func=cmd_models)

    from .batch_cli import add_arguments as add_batch_arguments  # flags and command: blazepose_sdk/app/batch_cli.py

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
    from ..bench.__main__ import main as bench_main

    return bench_main(args.bench_args)


def main(argv: list[str] | None = None) -> int:
    """``blazepose ...``: returns the exit status (0; 2 for a refused input or option, one
    ``blazepose: error:`` line on stderr; 130 after Ctrl-C, 143 after SIGTERM, 141 when standard
    output is closed by its reader, with the outputs saved)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # the suite's own parser, --help included
        return cmd_bench(argparse.Namespace(bench_args=argv[1:]))
    keep_standard_fds_open()
    args = build_parser().parse_args(argv)
    with signals_stop_the_run():
        try:
            return args.func(args)
        except BlazePoseError as exc:
            say(f"blazepose: error: {exc}")
            return EXIT_ERROR
        except Stopped as exc:
            if exc.status == EXIT_SIGPIPE:
                silence_stdout()
            if exc.message:
                say(exc.message)
            return exc.status
        except KeyboardInterrupt:
            say("blazepose: interrupted")
            return 128 + signal.SIGINT
        except BrokenPipeError:  # the reader of the summary went away
            silence_stdout()
            return EXIT_SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
