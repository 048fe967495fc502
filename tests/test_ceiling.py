"""Ceiling suite: the generated convolution files compute what they claim, FLOP arithmetic,
models against the ceiling, and the suite end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blazepose_sdk.bench import ceiling as c
from blazepose_sdk.bench.__main__ import main as bench_main
from blazepose_sdk.stages.runtime import TFLiteModel


def test_flop_arithmetic_known_numbers():
    assert c.matmul_flops(2) == 16.0
    assert c.conv_macs("conv3x3", 28, 128, 3, depth=1) == 28 * 28 * 128 * 128 * 9
    assert c.conv_macs("depthwise3x3", 56, 128, 3, depth=4) == 4 * 56 * 56 * 128 * 9
    assert c.gflops(2e9, 1000.0) == pytest.approx(2.0)
    assert c.gflops(None, 5.0) is None and c.gflops(1e9, None) is None


def _schema():
    s = c.schema_object_api()
    if s is None:
        pytest.skip("no TFLite schema module with the object API (ai-edge-litert)")
    return s


def _weights(flatbuffer: bytes, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """The float weights and bias of one layer, read back from the flatbuffer."""
    s = _schema()
    model = s.Model.GetRootAs(flatbuffer, 0)
    graph = model.Subgraphs(0)
    op = graph.Operators(layer)
    out = []
    for k in (1, 2):
        t = graph.Tensors(op.Inputs(k))
        data = model.Buffers(t.Buffer()).DataAsNumpy().view(np.float32)
        out.append(data.reshape(t.ShapeAsNumpy()))
    return out[0], out[1]


def _reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, depthwise: bool) -> np.ndarray:
    """Stride-1 SAME convolution + bias + ReLU, NHWC; w is OHWI (conv) or 1HWC (depthwise)."""
    k = w.shape[1]
    pad = k // 2
    xp = np.pad(x[0], ((pad, pad), (pad, pad), (0, 0)))
    h, wd, _ = x[0].shape
    out = np.zeros((h, wd, w.shape[3] if depthwise else w.shape[0]))
    for i in range(h):
        for j in range(wd):
            patch = xp[i:i + k, j:j + k]  # (k, k, C)
            if depthwise:
                out[i, j] = (patch * w[0]).sum(axis=(0, 1))
            else:
                out[i, j] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2]))
    return np.maximum(out + b, 0.0)[None]


@pytest.mark.parametrize("kind,kernel", [("conv", 3), ("conv", 1), ("depthwise", 3)])
def test_generated_float_conv_matches_numpy(tmp_path, kind, kernel):
    _schema()
    flat = c.conv_stack_model(kind, 6, 4, kernel, "float32", depth=2, seed=3)
    path = tmp_path / "m.tflite"
    path.write_bytes(flat)
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 4)).astype(np.float32)
    want = x
    for layer in range(2):
        w, b = _weights(flat, layer)
        want = _reference_conv(want, w, b, kind == "depthwise")
    with TFLiteModel(path, num_threads=1) as model:
        got = model.run(x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_generated_int8_conv_follows_the_float_one(tmp_path):
    _schema()
    outs = {}
    for precision in c.PRECISIONS:
        path = tmp_path / f"{precision}.tflite"
        path.write_bytes(c.conv_stack_model("conv", 8, 16, 3, precision, depth=1, seed=5))
        with TFLiteModel(path, num_threads=1) as model:
            assert model.inputs[0].dtype == (np.int8 if precision == "int8" else np.float32)
            x = np.random.default_rng(1).uniform(0.0, 3.0, size=model.inputs[0].shape).astype(np.float32)
            outs[precision] = model.run(x)[0]
    # same weights; int8 rounding of inputs, weights and outputs costs a few activation steps
    assert np.abs(outs["int8"] - np.clip(outs["float32"], 0, 3.5)).mean() < 3 * 4.0 / 255.0


def test_models_are_compared_with_the_kernels_of_their_precision():
    kernels = [
        {"kernel": "numpy matmul", "precision": "float32", "threads": 1, "gflops": 100.0},
        {"kernel": "a", "kind": "conv3x3", "precision": "float32", "threads": 1, "gflops": 50.0},
        {"kernel": "b", "kind": "conv1x1", "precision": "float32", "threads": 1, "gflops": 40.0},
        {"kernel": "c", "kind": "depthwise3x3", "precision": "float32", "threads": 1, "gflops": 500.0},
        {"kernel": "d", "kind": "conv3x3", "precision": "int8", "threads": 1, "gflops": 200.0},
    ]
    latency = {"rows": [
        {"name": "f", "quantization": "float16", "flops": 1e9,
         "measurements": [{"threads": 1, "median_ms": 40.0, "error": None},
                          {"threads": 2, "median_ms": 30.0, "error": "x"}]},
        {"name": "q", "quantization": "int8", "flops": 1e9,
         "measurements": [{"threads": 1, "median_ms": 10.0, "error": None}]},
    ]}
    rows = c.model_rows(latency, kernels)
    assert [(r["name"], r["threads"]) for r in rows] == [("f", 1), ("q", 1)]
    f, q = rows
    assert f["gflops"] == pytest.approx(25.0) and f["conv_peak_kernel"] == "a"  # depthwise is not a conv peak
    assert f["share_of_conv_peak"] == pytest.approx(0.5) and f["share_of_matmul"] == pytest.approx(0.25)
    assert q["gflops"] == pytest.approx(100.0) and q["conv_peak_gflops"] == 200.0


def test_matmul_in_a_child_process():
    row = c.measure_matmul(64, threads=1, runs=2)
    assert row["threads"] == 1 and row["flops"] == 2 * 64**3 and row["gflops"] > 0


def test_ceiling_suite_end_to_end(tmp_path, capsys):
    _schema()
    from blazepose_sdk.bench.common import new_payload, write_json

    latency = new_payload("latency", {}, True)
    latency["rows"] = [
        {"name": "m", "quantization": "float32", "flops": 2e8,
         "measurements": [{"config": "cpu-1t", "threads": 1, "delegate": None, "median_ms": 4.0, "p90_ms": 4.5,
                           "min_ms": 3.9, "error": None}]}]
    write_json(tmp_path, "latency", latency)
    assert c.ceiling_threads(tmp_path) == (1,)
    assert bench_main(["ceiling", "--quick", "--matmul-n", "128", "--no-progress", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "ceiling.json").read_text())
    assert payload["settings"]["threads"] == [1]
    assert {k["kind"] for k in payload["kernels"] if "kind" in k} == {kind for kind, *_ in c.CONV_KERNELS}
    assert [r["name"] for r in payload["rows"]] == ["m"] and payload["rows"][0]["gflops"] == pytest.approx(50.0)
    assert "Models against the ceiling" in (tmp_path / "report.md").read_text()


def test_ceiling_without_latency_json_says_so(tmp_path):
    _schema()
    assert bench_main(["ceiling", "--quick", "--threads", "1", "--matmul-n", "64", "--no-progress",
                       "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "ceiling.json").read_text())
    assert payload["rows"] == [] and any("latency.json" in n for n in payload["notes"])
