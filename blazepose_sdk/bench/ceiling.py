"""Ceiling suite: how far each model runs from what this CPU can do.

``blazepose bench ceiling --out DIR`` measures what the machine reaches on kernels that use it
well, at each thread count:

* **numpy matmul**: a float32 ``n x n`` matrix product (2 n^3 FLOPs) in a child process whose
  BLAS thread count is set through the usual environment variables (OpenBLAS, MKL, OpenMP, BLIS);
  the BLAS numpy was built with is named in the JSON.
* **XNNPACK convolutions**: small conv-only ``.tflite`` files generated here from TFLite's schema
  (:func:`conv_stack_model`, no TensorFlow: the flatbuffer is written with the schema module the
  LiteRT wheel ships), each a stack of :data:`STACK_DEPTH` identical layers so the input copy is
  small next to the work: 3x3 convolutions, 1x1 (pointwise) convolutions and 3x3 depthwise
  convolutions (memory-bound: the kind that dominates BlazePose and MoveNet time), in float32 and
  in int8 (per-channel weights), timed through the SDK's runtime like the latency suite.

Then, when ``DIR/latency.json`` is there (``blazepose bench latency --out DIR`` first), every
model row gets its achieved GFLOP/s (the file's FLOPs = 2 x multiply-accumulates of its
convolution and fully-connected ops, :mod:`blazepose_sdk.bench.modelinfo`, over its median latency)
next to the best convolution kernel of the same precision and thread count, and the matmul.
Without the schema module's object API the convolution kernels are skipped with a note and the
numpy figure stands alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blazepose_sdk.assets import tflite_file
from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.stages.runtime import TFLiteModel

from .common import Reporter, read_json
from .metrics import timing_stats
from .tables import Table, fmt, pct, print_tables

# One convolution kernel of the microbenchmark: kind, input H = W, channels in = out, kernel size.
CONV_KERNELS = (
    ("conv3x3", 28, 128, 3),
    ("conv1x1", 28, 256, 1),
    ("depthwise3x3", 56, 128, 3),
)
STACK_DEPTH = 4  # identical layers per file
PRECISIONS = ("float32", "int8")
BLAS_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

# schema.fbs enum values used below (TensorType, BuiltinOperator, Padding, ActivationFunctionType).
_FLOAT32, _INT32, _INT8 = 0, 2, 9
_OP_CONV_2D, _OP_DEPTHWISE_CONV_2D = 3, 4
_PADDING_SAME, _RELU = 0, 1


@dataclass(frozen=True)
class CeilingSettings:
    threads: tuple[int, ...] = (1, 2)
    matmul_n: int = 2048
    matmul_runs: int = 5
    conv_runs: int = 30
    conv_warmup: int = 3


QUICK_CEILING = CeilingSettings(matmul_n=1024, matmul_runs=3, conv_runs=5, conv_warmup=1)


# -- numpy matmul ----------------------------------------------------------------------------
_MATMUL_CHILD = """
import json, sys, time
import numpy as np
n, runs = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
a = rng.random((n, n), dtype=np.float32)
b = rng.random((n, n), dtype=np.float32)
a @ b
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    a @ b
    times.append(time.perf_counter() - t0)
try:
    blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
    blas = f"{blas.get('name')} {blas.get('version')}"
except Exception:
    blas = None
print(json.dumps({"times_s": times, "blas": blas, "numpy": np.__version__}))
"""


def matmul_flops(n: int) -> float:
    """FLOPs of an n x n by n x n matrix product (a multiply and an add per term)."""
    return 2.0 * n**3


def measure_matmul(n: int, threads: int, runs: int) -> dict:
    """float32 matmul GFLOP/s with BLAS limited to ``threads``, in a fresh process."""
    env = dict(os.environ, **{k: str(threads) for k in BLAS_THREAD_ENV})
    proc = subprocess.run([sys.executable, "-c", _MATMUL_CHILD, str(n), str(runs)], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"matmul child failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    child = json.loads(lines[-1])
    stats = timing_stats(child["times_s"])
    return {"kernel": f"numpy matmul {n}x{n}", "precision": "float32", "threads": threads,
            "flops": matmul_flops(n), **stats, "gflops": gflops(matmul_flops(n), stats["median_ms"]),
            "gflops_best": gflops(matmul_flops(n), stats["min_ms"]), "blas": child["blas"], "numpy": child["numpy"]}


def gflops(flops: float | None, ms: float | None) -> float | None:
    """FLOPs per run and milliseconds per run -> GFLOP/s (None when either is missing)."""
    if not flops or not ms:
        return None
    return flops / (ms / 1000.0) / 1e9


# -- XNNPACK convolution kernels -------------------------------------------------------------
def conv_macs(kind: str, size: int, channels: int, kernel: int, depth: int = STACK_DEPTH) -> int:
    """Multiply-accumulates of one stack (stride 1, SAME padding: output H = W = ``size``)."""
    per_pixel = kernel * kernel * (1 if kind.startswith("depthwise") else channels) * channels
    return depth * size * size * per_pixel


def schema_object_api():
    """TFLite's generated schema module with the object API (``ModelT.Pack``), or None."""
    return tflite_file.object_api_schema()


def conv_stack_model(kind: str, size: int, channels: int, kernel: int, precision: str,
                     depth: int = STACK_DEPTH, seed: int = 0) -> bytes:
    """A ``.tflite`` flatbuffer: ``depth`` identical stride-1 SAME convolutions with ReLU.

    ``kind``: ``conv*`` (CONV_2D, ``channels`` -> ``channels``) or ``depthwise*``
    (DEPTHWISE_CONV_2D, multiplier 1). ``precision`` ``int8``: int8 tensors, per-channel
    symmetric weights, int32 biases (TFLite's int8 quantization spec).

    Raises:
        RuntimeError: no TFLite schema module with the object API is installed.
    """
    s = schema_object_api()
    if s is None:
        raise RuntimeError("no TFLite schema module with the object API (ai_edge_litert's schema_py_generated)")
    rng = np.random.default_rng(seed)
    depthwise = kind.startswith("depthwise")
    int8 = precision == "int8"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    act_shape = [1, size, size, channels]
    w_shape = [1, kernel, kernel, channels] if depthwise else [channels, kernel, kernel, channels]
    fan_in = kernel * kernel * (1 if depthwise else channels)
    buffers = [s.BufferT()]  # buffer 0: the empty sentinel
    tensors = []

    def buffer(data: np.ndarray | None) -> int:
        b = s.BufferT()
        if data is not None:
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        buffers.append(b)
        return len(buffers) - 1

    def tensor(name, shape, dtype, data=None, scale=None, zero_point=None, axis=0) -> int:
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), dtype, buffer(data)
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in np.atleast_1d(scale)]
            q.zeroPoint = [int(v) for v in np.atleast_1d(zero_point)]
            q.quantizedDimension = axis
            t.quantization = q
        tensors.append(t)
        return len(tensors) - 1

    act_scale = 4.0 / 255.0  # activations in about [-0.5, 3.5] (ReLU output)
    act_zero = -128 + 32
    x = tensor("input", act_shape, _INT8 if int8 else _FLOAT32,
               scale=act_scale if int8 else None, zero_point=act_zero if int8 else None)
    first = x
    operators = []
    for layer in range(depth):
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), w_shape).astype(np.float32)
        b = rng.normal(0.0, 0.1, channels).astype(np.float32)
        w_axis = 3 if depthwise else 0
        if int8:
            w_scale = np.abs(w).max(axis=tuple(i for i in range(4) if i != w_axis)) / 127.0
            shape = [1, 1, 1, channels] if depthwise else [channels, 1, 1, 1]
            wq = np.clip(np.rint(w / w_scale.reshape(shape)), -127, 127).astype(np.int8)
            b_scale = act_scale * w_scale
            wt = tensor(f"w{layer}", w_shape, _INT8, wq, w_scale, np.zeros(channels, int), w_axis)
            bt = tensor(f"b{layer}", [channels], _INT32, np.rint(b / b_scale).astype(np.int32), b_scale,
                        np.zeros(channels, int))
            y = tensor(f"y{layer}", act_shape, _INT8, scale=act_scale, zero_point=act_zero)
        else:
            wt = tensor(f"w{layer}", w_shape, _FLOAT32, w)
            bt = tensor(f"b{layer}", [channels], _FLOAT32, b)
            y = tensor(f"y{layer}", act_shape, _FLOAT32)
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [x, wt, bt], [y]
        if depthwise:
            opts = s.DepthwiseConv2DOptionsT()
            opts.depthMultiplier = 1
            op.builtinOptionsType = s.BuiltinOptions.DepthwiseConv2DOptions
        else:
            opts = s.Conv2DOptionsT()
            op.builtinOptionsType = s.BuiltinOptions.Conv2DOptions
        opts.padding, opts.strideW, opts.strideH, opts.fusedActivationFunction = _PADDING_SAME, 1, 1, _RELU
        op.builtinOptions = opts
        operators.append(op)
        x = y
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = _OP_DEPTHWISE_CONV_2D if depthwise else _OP_CONV_2D
    code.version = 3 if int8 else 1  # per-channel int8 kernels are version 3 of both ops
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [first], [x], operators
    graph.name = "main"
    model = s.ModelT()
    model.version, model.description = 3, f"blazepose-sdk ceiling microbenchmark: {kind} x{depth} {precision}"
    model.subgraphs, model.operatorCodes, model.buffers = [graph], [code], buffers
    return tflite_file.pack_model(model)


def measure_convs(settings: CeilingSettings, reporter: Reporter) -> list[dict]:
    """Every conv kernel x precision x thread count, alternating within each thread count."""
    if schema_object_api() is None:
        reporter.note("XNNPACK convolution kernels skipped: no TFLite schema module with the object API "
                      "(ai_edge_litert); only the numpy matmul ceiling is measured")
        return []
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="ceiling-") as tmp:
        files = []
        for kind, size, channels, kernel in CONV_KERNELS:
            for precision in PRECISIONS:
                path = Path(tmp) / f"{kind}_{precision}.tflite"
                path.write_bytes(conv_stack_model(kind, size, channels, kernel, precision))
                files.append((kind, size, channels, kernel, precision, path))
        for threads in settings.threads:
            models, inputs = [], []
            try:
                for *_, path in files:
                    m = TFLiteModel(path, num_threads=threads)
                    models.append(m)
                    inputs.append(rng.random(m.inputs[0].shape, dtype=np.float32) * 3.0)
                for m, x in zip(models, inputs):
                    for _ in range(settings.conv_warmup):
                        m.run(x)
                times: list[list[float]] = [[] for _ in models]
                for _ in reporter.progress(range(settings.conv_runs), desc=f"conv kernels {threads} thr"):
                    for i, (m, x) in enumerate(zip(models, inputs)):
                        t0 = time.perf_counter()
                        m.run(x)
                        times[i].append(time.perf_counter() - t0)
            except BlazePoseError as exc:
                reporter.note(f"XNNPACK convolution kernels at {threads} threads failed: {exc}")
                continue
            finally:
                for m in models:
                    m.close()
            for (kind, size, channels, kernel, precision, _), t in zip(files, times):
                flops = 2.0 * conv_macs(kind, size, channels, kernel)
                stats = timing_stats(t)
                rows.append({"kernel": f"XNNPACK {kind} {size}x{size}x{channels} x{STACK_DEPTH}", "kind": kind,
                             "precision": precision, "threads": threads, "flops": flops, **stats,
                             "gflops": gflops(flops, stats["median_ms"]),
                             "gflops_best": gflops(flops, stats["min_ms"])})
    return rows


# -- models against the ceiling --------------------------------------------------------------
def _precision_of(quantization: str | None) -> str:
    """Which kernel precision bounds a model: int8 for full-integer files, float32 otherwise."""
    return "int8" if quantization in ("int8", "int16x8") else "float32"


def model_rows(latency: dict, machine_rows: list[dict]) -> list[dict]:
    """Achieved GFLOP/s of each latency row at each CPU thread count, with the ceilings beside it."""
    best: dict[tuple[str, int], dict] = {}
    matmul: dict[int, dict] = {}
    for k in machine_rows:
        if k["kernel"].startswith("numpy"):
            matmul[k["threads"]] = k
        elif k.get("kind", "").startswith("conv"):
            key = (k["precision"], k["threads"])
            if key not in best or (k["gflops"] or 0) > (best[key]["gflops"] or 0):
                best[key] = k
    out = []
    for r in latency.get("rows", []):
        flops = r.get("flops")
        precision = _precision_of(r.get("quantization"))
        for m in r.get("measurements", []):
            if m.get("error") or m.get("delegate") or m.get("median_ms") is None:
                continue
            threads = m.get("threads")
            achieved = gflops(flops, m["median_ms"])
            conv = best.get((precision, threads))
            mm = matmul.get(threads)
            out.append({
                "name": r["name"], "quantization": r.get("quantization"), "precision": precision,
                "threads": threads, "flops": flops, "median_ms": m["median_ms"], "gflops": achieved,
                "conv_peak_kernel": conv["kernel"] if conv else None,
                "conv_peak_gflops": conv["gflops"] if conv else None,
                "share_of_conv_peak": achieved / conv["gflops"] if achieved and conv and conv["gflops"] else None,
                "matmul_gflops": mm["gflops"] if mm else None,
                "share_of_matmul": achieved / mm["gflops"] if achieved and mm and mm["gflops"] else None,
            })
    return out


def run_ceiling(settings: CeilingSettings, out_dir: Path, reporter: Reporter) -> tuple[list[dict], list[dict]]:
    """(machine kernel rows, model rows); model rows need ``out_dir/latency.json``."""
    machine_rows = []
    for threads in settings.threads:
        try:
            machine_rows.append(measure_matmul(settings.matmul_n, threads, settings.matmul_runs))
        except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
            reporter.note(f"numpy matmul at {threads} threads not measured: {exc}")
    machine_rows += measure_convs(settings, reporter)
    latency_path = Path(out_dir) / "latency.json"
    if not latency_path.is_file():
        reporter.note(f"no {latency_path}: run `blazepose bench latency --out {out_dir}` first for the per-model rows")
        return machine_rows, []
    rows = model_rows(read_json(latency_path), machine_rows)
    if not rows:
        reporter.note(f"{latency_path} has no timed CPU rows")
    return machine_rows, rows


# -- tables ----------------------------------------------------------------------------------
def ceiling_tables(payload: dict) -> list:
    kernels = payload.get("kernels", [])
    rows = payload.get("rows", [])
    tables = []
    if kernels:
        blas = next((k.get("blas") for k in kernels if k.get("blas")), None)
        tables.append(Table(
            "What this CPU can do",
            ["kernel", "precision", "threads", "GFLOP per run", "median ms", "GFLOP/s (median)", "GFLOP/s (best run)"],
            [[k["kernel"], k["precision"], str(k["threads"]), fmt(k["flops"], 3, 1e-9), fmt(k["median_ms"], 2),
              fmt(k["gflops"], 1), fmt(k.get("gflops_best"), 1)] for k in kernels],
            f"numpy matmul: float32, BLAS {blas or '?'} limited to the thread count in a child process. XNNPACK: "
            f"{STACK_DEPTH} identical stride-1 convolutions with ReLU per file, timed through the SDK's runtime "
            "(int8: int8 ops counted as FLOPs). Depthwise convolutions move more bytes per FLOP: their figure is "
            "a memory-bound ceiling, not a compute one.",
        ))
    if rows:
        tables.append(Table(
            "Models against the ceiling",
            ["model", "quant", "threads", "GFLOPs per run", "median ms", "achieved GFLOP/s",
             "best conv kernel GFLOP/s", "share of it", "numpy matmul GFLOP/s", "share of it"],
            [[r["name"], r.get("quantization") or "-", str(r["threads"]), fmt(r["flops"], 3, 1e-9),
              fmt(r["median_ms"], 2), fmt(r["gflops"], 1), fmt(r["conv_peak_gflops"], 1),
              pct(r["share_of_conv_peak"]), fmt(r["matmul_gflops"], 1), pct(r["share_of_matmul"])] for r in rows],
            "achieved = the file's FLOPs (2 x MACs of conv / depthwise / fully-connected ops) / its median latency "
            "in latency.json (same folder); best conv kernel: the fastest XNNPACK 3x3 / 1x1 convolution of the "
            "model's precision (int8 files: int8) at the same thread count.",
        ))
    return tables


def run_suite(args) -> dict:
    """Measure, write ``ceiling.json`` into ``args.out`` and print the tables; returns the payload."""
    from .common import new_payload, write_json

    reporter = Reporter(progress=not getattr(args, "no_progress", False))
    base = QUICK_CEILING if args.quick else CeilingSettings()
    threads = getattr(args, "threads", None) or ceiling_threads(Path(args.out)) or base.threads
    settings = CeilingSettings(threads=tuple(threads), matmul_n=getattr(args, "matmul_n", None) or base.matmul_n,
                               matmul_runs=base.matmul_runs, conv_runs=base.conv_runs, conv_warmup=base.conv_warmup)
    reporter.say("== ceiling ==")
    t0 = time.perf_counter()
    payload = new_payload("ceiling", {}, args.quick)
    kernels, rows = run_ceiling(settings, Path(args.out), reporter)
    payload["settings"] = {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(settings).items()},
                           "stack_depth": STACK_DEPTH, "wall_s": round(time.perf_counter() - t0, 1)}
    payload["kernels"], payload["rows"], payload["notes"] = kernels, rows, reporter.notes
    path = write_json(args.out, "ceiling", payload)
    print_tables(ceiling_tables(payload))
    reporter.say(f"ceiling: {len(kernels)} kernels, {len(rows)} model rows -> {path}")
    return payload


def ceiling_threads(out_dir: Path) -> tuple[int, ...] | None:
    """The CPU thread counts of ``out_dir/latency.json``, so both suites time the same ones."""
    path = out_dir / "latency.json"
    if not path.is_file():
        return None
    counts = {m["threads"] for r in read_json(path).get("rows", []) for m in r.get("measurements", [])
              if not m.get("delegate") and m.get("threads")}
    return tuple(sorted(counts)) or None
