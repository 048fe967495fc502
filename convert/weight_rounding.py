"""Data-aware rounding of conv weights to the int8 grid (GPTQ), before ai-edge-quantizer runs.

Rounding each weight to its nearest int8 step is what a plain quantizer does; on the official
BlazePose models the error that adds to a layer's output is large (one layer alone moves the
landmarks by pixels). GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
Generative Pre-trained Transformers", Algorithm 1; the Optimal Brain Quantizer update of
Frantar & Alistarh 2022) rounds the inputs of each output channel one at a time and moves the
error of each rounding onto the not-yet-rounded weights, weighted by the inverse Hessian
``H = X^T X`` of the layer's real inputs, so that the layer's *output* on those inputs changes
least. ai-edge-quantizer ships GPTQ for FULLY_CONNECTED only; this module does CONV_2D (im2col
patches) and DEPTHWISE_CONV_2D (each channel its own 9- or 25-input problem).

The rounded weights are written back into the float32 model as ``q * scale`` with the scale
ai-edge-quantizer will compute itself (symmetric, per output channel, ``max|w| / 127``): each
channel's largest weight is kept at exactly +-127 steps, so AEQ's own quantization then
reproduces ``q`` exactly.

:func:`gptq_round` is the pure math; :func:`gptq_conv_weights` computes the kernels of a .tflite
file and :func:`write_conv_weights` writes them (all, or all but the ops kept float).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# Int8 symmetric narrow range, as TFLite's int8 weight kernels require (TFLite quantization spec).
INT8_QMAX = 127
# GPTQ's damping: this fraction of the mean diagonal of H is added to its diagonal (the paper's
# default, 1 %).
GPTQ_DAMPING = 0.01
# Calibration inputs whose layer inputs make the Hessians (ours: more barely changes the kernels).
GPTQ_SAMPLES = 16


def symmetric_scales(w_rows: np.ndarray, qmax: int = INT8_QMAX) -> np.ndarray:
    """Per-row scale max|w| / qmax (ai-edge-quantizer's symmetric per-channel rule)."""
    bound = np.abs(np.asarray(w_rows, np.float64)).max(axis=1)
    return np.maximum(bound, 1e-9) / qmax


def gptq_round(w_rows: np.ndarray, hessian: np.ndarray, scales: np.ndarray, qmax: int = INT8_QMAX,
               damping: float = GPTQ_DAMPING) -> np.ndarray:
    """Integer weights (R, C) for float weights ``w_rows`` (R, C) that keep ``X @ w.T`` close.

    ``hessian``: (C, C) = sum of x x^T over the layer's inputs x (C,), shared by all rows.
    Each row's largest-magnitude weight is held at its exact value (it is +-qmax steps) so the
    row's scale is unchanged after rounding. Inputs that never fire (zero diagonal) get plain
    rounding. Returns int32 values in [-qmax, qmax].
    """
    w = np.array(w_rows, dtype=np.float64)
    rows, cols = w.shape
    h = np.array(hessian, dtype=np.float64)
    if h.shape != (cols, cols):
        raise ValueError(f"hessian shape {h.shape} does not match {cols} columns")
    s = np.asarray(scales, np.float64).reshape(rows)
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    h += damping * float(np.mean(np.diag(h))) * np.eye(cols)
    # upper Cholesky factor of H^-1, as in GPTQ's reference implementation
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    anchor = np.argmax(np.abs(w), axis=1)
    anchor_value = w[np.arange(rows), anchor].copy()
    q = np.zeros((rows, cols), dtype=np.int64)
    for i in range(cols):
        qi = np.clip(np.round(w[:, i] / s), -qmax, qmax)
        q[:, i] = qi
        err = (w[:, i] - qi * s) / u[i, i]
        w[:, i + 1:] -= err[:, None] * u[i, i + 1:][None, :]
        w[np.arange(rows), anchor] = np.where(anchor > i, anchor_value, w[np.arange(rows), anchor])
    return q.astype(np.int32)


def output_error(w_rows: np.ndarray, w_new: np.ndarray, hessian: np.ndarray) -> float:
    """Sum over inputs of |x @ (w_new - w).T|^2, from the Hessian: trace(D H D^T)."""
    d = np.asarray(w_new, np.float64) - np.asarray(w_rows, np.float64)
    return float(np.einsum("rc,cd,rd->", d, np.asarray(hessian, np.float64), d))


# -- applying it to a float32 .tflite file ----------------------------------------------------
_CONV, _DEPTHWISE = "CONV_2D", "DEPTHWISE_CONV_2D"


def _patches(x: np.ndarray, kh: int, kw: int, stride: tuple[int, int], dilation: tuple[int, int],
             same: bool) -> np.ndarray:
    """(P, kh * kw * C) input patches in TFLite's (kh, kw, C) weight order (TensorFlow's SAME/VALID)."""
    import tensorflow as tf

    if kh == kw == 1 and stride == (1, 1):
        return x.reshape(-1, x.shape[-1])
    p = tf.image.extract_patches(x, sizes=[1, kh, kw, 1], strides=[1, stride[0], stride[1], 1],
                                 rates=[1, dilation[0], dilation[1], 1], padding="SAME" if same else "VALID").numpy()
    return p.reshape(-1, p.shape[-1])


def gptq_conv_weights(float_path: str | os.PathLike, samples: np.ndarray) -> dict[str, dict]:
    """GPTQ-rounded kernels of every CONV_2D / DEPTHWISE_CONV_2D of a float32 model, from the
    layer inputs the float model computes on ``samples`` (model inputs).

    Returns {op output tensor name: {"op", "weight_index", "weights" (float32, on the int8 grid,
    original shape), "output_err_nearest", "output_err_gptq"}} (errors: summed squared change of
    the layer output on the samples with nearest rounding vs GPTQ). Write them into a model
    with :func:`write_conv_weights`.
    """
    from ai_edge_litert.interpreter import Interpreter

    from blazepose_sdk.assets import tflite_file

    model = tflite_file.load(float_path)
    graph = tflite_file.subgraph(model)
    targets = []
    for op in graph.operators:
        if op.builtin not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        opt = tflite_file.operator_options(model, op.index)
        targets.append({
            "index": op.index, "kind": _CONV if op.builtin == "CONV_2D" else _DEPTHWISE,
            "name": graph.tensors[op.outputs[0]].name,
            "input": op.inputs[0], "weight": op.inputs[1],
            "stride": (int(opt["strideH"]), int(opt["strideW"])),
            "dilation": (int(opt.get("dilationHFactor", 1) or 1), int(opt.get("dilationWFactor", 1) or 1)),
            "same": int(opt["padding"]) == model.schema.Padding.SAME,
        })
    # H of every conv's input, accumulated over the samples (float model, all tensors kept)
    interp = Interpreter(model_path=str(float_path), experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    input_index = interp.get_input_details()[0]["index"]
    weights = {t["weight"]: interp.get_tensor(t["weight"]).astype(np.float64) for t in targets}
    hess: dict[int, np.ndarray] = {}
    for x in samples:
        interp.set_tensor(input_index, np.asarray(x, np.float32)[None])
        interp.invoke()
        for t in targets:
            w = weights[t["weight"]]
            act = interp.get_tensor(t["input"]).astype(np.float64)
            p = _patches(act, w.shape[1], w.shape[2], t["stride"], t["dilation"], t["same"])
            if t["kind"] == _CONV:
                hess[t["index"]] = hess.get(t["index"], 0.0) + p.T @ p
            else:
                c = act.shape[-1]
                if w.shape[-1] != c:
                    raise ValueError(f"depthwise op {t['name']} has a channel multiplier; not supported")
                p = p.reshape(-1, w.shape[1] * w.shape[2], c).transpose(2, 1, 0)  # (C, k, P)
                hess[t["index"]] = hess.get(t["index"], 0.0) + p @ p.transpose(0, 2, 1)
    out = {}
    for t in targets:
        w, h = weights[t["weight"]], hess[t["index"]]
        if t["kind"] == _CONV:
            rows = w.reshape(w.shape[0], -1)
            s = symmetric_scales(rows)
            q = gptq_round(rows, h, s)
            new_rows = q * s[:, None]
            new = new_rows.reshape(w.shape)
            near = np.clip(np.round(rows / s[:, None]), -INT8_QMAX, INT8_QMAX) * s[:, None]
            err_near, err_gptq = output_error(rows, near, h), output_error(rows, new_rows, h)
        else:
            c = w.shape[-1]
            rows = w.reshape(-1, c).T  # (C, kh*kw)
            s = symmetric_scales(rows)
            q = np.stack([gptq_round(rows[i:i + 1], h[i], s[i:i + 1])[0] for i in range(c)])
            new_rows = q * s[:, None]
            new = new_rows.T.reshape(w.shape)
            near = np.clip(np.round(rows / s[:, None]), -INT8_QMAX, INT8_QMAX) * s[:, None]
            err_near = sum(output_error(rows[i:i + 1], near[i:i + 1], h[i]) for i in range(c))
            err_gptq = sum(output_error(rows[i:i + 1], new_rows[i:i + 1], h[i]) for i in range(c))
        out[t["name"]] = {"op": t["kind"], "weight_index": t["weight"], "weights": new.astype(np.float32),
                          "output_err_nearest": float(err_near), "output_err_gptq": float(err_gptq)}
    return out


def write_conv_weights(float_path: str | os.PathLike, rounded: dict[str, dict], dst: str | os.PathLike,
                       exclude=(), only=None) -> Path:
    """Copy of ``float_path`` with the :func:`gptq_conv_weights` kernels swapped in, except for
    the ops named in ``exclude`` (they keep their float weights) and, if ``only`` is given,
    for every op not in it."""
    from blazepose_sdk.assets import tflite_file

    model = tflite_file.to_object(tflite_file.load(float_path))
    graph = model.subgraphs[0]
    skip = set(exclude)
    for name, entry in rounded.items():
        if name in skip or (only is not None and name not in only):
            continue
        tensor = graph.tensors[entry["weight_index"]]
        if tuple(tensor.shape) != entry["weights"].shape:
            raise ValueError(f"{name}: weights {entry['weights'].shape} do not fit tensor {tuple(tensor.shape)}")
        model.buffers[tensor.buffer].data = np.frombuffer(entry["weights"].tobytes(), np.uint8)
    tflite_file.write_model(model, dst)
    return Path(dst)
