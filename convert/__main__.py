"""CLI: ``python -m convert <keras|onnx|tflite> IN --to int8 --calib DIR --out OUT``.

Writes the converted models, ``manifest.json`` (the SDK's entries) and ``parity.json`` into OUT
and prints the parity tables. See docs/convert.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None) -> argparse.Namespace:
    from .pipeline import FORMATS, TARGETS

    p = argparse.ArgumentParser(prog="python -m convert", description=__doc__.splitlines()[0])
    p.add_argument("format", choices=FORMATS, help="source format")
    p.add_argument("source", type=Path, help=".keras/.h5 file or SavedModel folder, .onnx, or .tflite")
    p.add_argument("--to", default="int8",
                   help=f"comma-separated targets from {','.join(TARGETS)} (default int8)")
    p.add_argument("--io", default="int8", choices=("float32", "int8", "uint8"), help="I/O dtype of int8 models")
    p.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor instead of per channel")
    p.add_argument("--calib", type=Path, default=None,
                   help="calibration data: data-engine folder (*.tfrecord), image/video folder, or .npy "
                        "(default: built-in frames from ../shared/data)")
    p.add_argument("--eval", default=None,
                   help="held-out image/video folder (default: built-in held-out frames; 'calib' = calibration frames)")
    p.add_argument("--detector", type=Path, default=None,
                   help="detector .tflite that finds people for landmark crops (default: the official one)")
    p.add_argument("--kind", default="auto", choices=("auto", "landmark", "detector", "generic"))
    p.add_argument("--keep-float", default="",
                   help="also write an int8 model with these tensors kept float: comma-separated names, or 'auto'")
    p.add_argument("--keep-float-ops", default="",
                   help="also write an int8 model with these op types kept float, e.g. DEPTHWISE_CONV_2D")
    p.add_argument("--quantizer", default="tflite", choices=("tflite", "aeq"),
                   help="int8 by TFLiteConverter (default) or by ai-edge-quantizer straight from a float .tflite "
                        "(--keep-float then names op output tensors; see python -m convert.int8_official)")
    p.add_argument("--weights", default="nearest", choices=("nearest", "gptq"),
                   help="with --quantizer aeq: kernel rounding, nearest or GPTQ on the calibration inputs")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads for parity and latency")
    p.add_argument("--latency-runs", type=int, default=30)
    p.add_argument("--calib-limit", type=int, default=200, help="at most this many calibration inputs")
    p.add_argument("--name", default=None, help="output file stem (default: the source's)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm

    from .pipeline import ConvertOptions, run
    from .report import print_table, save_json

    opts = ConvertOptions(
        fmt=args.format, source=args.source, out_dir=args.out,
        targets=[t.strip() for t in args.to.split(",") if t.strip()],
        io_dtype=args.io, per_channel=not args.per_tensor, calib=args.calib, eval=args.eval,
        detector=args.detector, kind=args.kind,
        keep_float=[k.strip() for k in args.keep_float.split(",") if k.strip()],
        keep_float_ops=[k.strip() for k in args.keep_float_ops.split(",") if k.strip()],
        num_threads=args.threads, latency_runs=args.latency_runs, calib_limit=args.calib_limit, name=args.name,
        quantizer=args.quantizer, weights=args.weights,
    )
    with tqdm(desc="convert", unit="step", file=sys.stderr) as bar:
        def progress(message: str) -> None:
            bar.set_description(message)
            bar.update(1)

        reports = run(opts, progress)
    path = save_json(reports, args.out / "parity.json")
    print_table(reports)
    print(f"models, manifest.json and {path.name} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
