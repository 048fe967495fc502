"""Does XNNPACK's sparse inference make a landmark model faster on this CPU? A speed probe.

    python -m training.import_tflite FULL_NO_SEGMENTATION.tflite --out /tmp/sp/full.keras
    python tools/sparse_probe.py /tmp/sp/full.keras --sparsity 0,0.7,0.9 --json /tmp/sp/sparse.json

The 1x1 convolution kernels of the Keras model (e.g. an official model imported by
``training.import_tflite``) are zeroed by magnitude to each sparsity (no fine-tuning: the
accuracy is not kept, only the speed is measured), converted with TFLiteConverter's
``EXPERIMENTAL_SPARSITY`` (weights stored sparse behind DENSIFY ops, which XNNPACK takes as
the hint for its sparse 1x1 kernels), and timed with the SDK's runtime (ai-edge-litert,
XNNPACK) at each thread count, the rows alternating in blocks; sparsity 0 is the dense
conversion of the same model. Prints a
Markdown table and writes JSON with the machine (CPU model and flags); never asserts a time.
Run it on the board that matters (XNNPACK's sparse kernels differ between x86 and ARM NEON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def prune_pointwise(model, sparsity: float) -> int:
    """Zero the smallest ``sparsity`` share of each 1x1 convolution kernel of ``model`` in
    place; returns how many kernels were pruned."""
    from training.finetune_detector import conv_kernels

    count = 0
    for layer in conv_kernels(model):
        if tuple(layer.kernel_size) == (1, 1):
            weights = layer.get_weights()
            kernel = weights[0]
            threshold = np.quantile(np.abs(kernel), sparsity)
            layer.set_weights([np.where(np.abs(kernel) < threshold, 0.0, kernel).astype(kernel.dtype)] + weights[1:])
            count += 1
    return count


def convert(model, sparse: bool) -> bytes:
    """The model as float32 TFLite bytes by the project's one export path
    (:func:`training.models.export.to_tflite`), stored sparse when ``sparse``."""
    import tempfile

    from training.models.export import to_tflite

    with tempfile.TemporaryDirectory() as tmp:
        return to_tflite(model, Path(tmp) / "probe.tflite", "float", sparse=sparse).read_bytes()


def interpreter_for(model_bytes: bytes, threads: int):
    """A ready ai-edge-litert interpreter (XNNPACK) of the model on a fixed random input, and
    its DENSIFY op count."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes, num_threads=threads)
    interpreter.allocate_tensors()
    spec = interpreter.get_input_details()[0]
    interpreter.set_tensor(spec["index"], np.random.default_rng(0).uniform(0, 1, spec["shape"]).astype(np.float32))
    interpreter.invoke()
    return interpreter, sum(op["op_name"] == "DENSIFY" for op in interpreter._get_ops_details())


def interleaved_median_ms(interpreters: list, runs: int, block: int = 10) -> list[float]:
    """Median invoke time (ms) of each interpreter, timed in alternating blocks of ``block``
    invokes (so a change of machine load falls on every row alike)."""
    times: list[list[float]] = [[] for _ in interpreters]
    for _ in range(max(1, runs // block)):
        for i, interpreter in enumerate(interpreters):
            for _ in range(block):
                t0 = time.perf_counter()
                interpreter.invoke()
                times[i].append(time.perf_counter() - t0)
    return [float(np.median(t) * 1e3) for t in times]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="Keras model (.keras)")
    parser.add_argument("--sparsity", default="0,0.7,0.9", help="comma-separated shares of zero 1x1 weights")
    parser.add_argument("--threads", default="1,2", help="comma-separated interpreter thread counts")
    parser.add_argument("--runs", type=int, default=60, help="timed invokes per row, in blocks of 10")
    parser.add_argument("--json", type=Path, default=None, help="write the rows and the machine here")
    args = parser.parse_args(argv)

    import keras

    from blazepose_sdk.bench.machine import describe_machine

    model = keras.models.load_model(args.model, compile=False)
    rows, interpreters = [], []
    for sparsity in sorted(float(s) for s in args.sparsity.split(",")):
        pruned = prune_pointwise(model, sparsity) if sparsity > 0 else 0
        data = convert(model, sparse=sparsity > 0)
        for threads in (int(t) for t in args.threads.split(",")):
            interpreter, densify = interpreter_for(data, threads)
            interpreters.append(interpreter)
            rows.append({"sparsity": sparsity, "threads": threads, "mb": round(len(data) / 1e6, 2),
                         "pruned_kernels": pruned, "densify_ops": densify})
    for row, ms in zip(rows, interleaved_median_ms(interpreters, args.runs)):
        row["median_ms"] = round(ms, 2)
    dense = {r["threads"]: r["median_ms"] for r in rows if r["sparsity"] == 0}
    print("| 1x1 sparsity | threads | median ms | x dense | file MB | DENSIFY ops |\n|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['median_ms'] / dense[r['threads']]:.2f}" if r["threads"] in dense else "-"
        print(f"| {r['sparsity']:.2f} | {r['threads']} | {r['median_ms']:.2f} | {ratio} | {r['mb']:.2f} | {r['densify_ops']} |")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "rows": rows, "machine": describe_machine()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
