"""Parity report: run the float original and the converted model side by side.

For every conversion: per-output max/mean |diff| over the same inputs; for landmark models the
decoded landmarks in image pixels and PCK@0.2 (float model's output as the reference); for
detectors the agreement of the decoded best detection; latency of both, measured alternating in
one process; file sizes. :func:`print_table` prints it, :meth:`ParityReport.to_dict` is the JSON.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blazepose_sdk.stages.runtime import TFLiteModel

from .parity import LandmarkParity, OutputDiff, landmark_parity, latency_summary, match_outputs, output_diff


@dataclass
class ParityReport:
    """Float original vs converted model. Sizes in bytes, latency in ms (median of alternated runs)."""

    name: str
    reference: str
    candidate: str
    kind: str
    num_inputs: int
    reference_bytes: int
    candidate_bytes: int
    outputs: list[OutputDiff] = field(default_factory=list)
    landmarks: LandmarkParity | None = None
    detector: dict | None = None
    latency: dict | None = None
    onnx_check: list[OutputDiff] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "reference": self.reference, "candidate": self.candidate, "kind": self.kind,
            "num_inputs": self.num_inputs, "reference_bytes": self.reference_bytes,
            "candidate_bytes": self.candidate_bytes,
            "size_ratio": self.candidate_bytes / self.reference_bytes if self.reference_bytes else None,
            "outputs": [o.to_dict() for o in self.outputs],
            "landmarks": self.landmarks.to_dict() if self.landmarks else None,
            "detector": self.detector, "latency": self.latency,
            "onnx_check": [o.to_dict() for o in self.onnx_check] if self.onnx_check is not None else None,
            "notes": self.notes,
        }


def run_all(model, inputs: np.ndarray) -> list[list[np.ndarray]]:
    """Per output, the list of that output over all inputs (each input is one (1, ...) sample)."""
    per_output: list[list[np.ndarray]] | None = None
    for x in inputs:
        outs = model.run(np.asarray(x, np.float32)[None])
        if per_output is None:
            per_output = [[] for _ in outs]
        for k, o in enumerate(outs):
            per_output[k].append(o)
    return per_output or []


def _io(model) -> list[tuple[str, tuple[int, ...]]]:
    if hasattr(model, "session"):  # convert.onnx_bridge.OnnxRunner
        return [(n, tuple(s)) for n, s in model.outputs]
    return [(s.name, tuple(s.shape)) for s in model.outputs]


def compare_outputs(reference, candidate, inputs: np.ndarray) -> list[OutputDiff]:
    """Run both models on ``inputs`` (N, H, W, C) and diff every output, matched by name/shape.

    4-D candidate outputs in NCHW (ONNX exported from PyTorch) are compared after NHWC transpose.
    """
    ref_out = run_all(reference, inputs)
    cand_out = run_all(candidate, inputs)
    ref_io, cand_io = _io(reference), _io(candidate)
    ref_shapes = [(n, tuple(np.shape(o[0]))) for (n, _), o in zip(ref_io, ref_out)]
    cand_shapes = [(n, tuple(np.shape(o[0]))) for (n, _), o in zip(cand_io, cand_out)]
    transposed = set()
    for k, (n, s) in enumerate(cand_shapes):
        if len(s) == 4 and all(s != rs for _, rs in ref_shapes):
            t = (s[0], s[2], s[3], s[1])
            if any(t == rs for _, rs in ref_shapes):
                cand_shapes[k] = (n, t)
                transposed.add(k)
    order = match_outputs(ref_shapes, cand_shapes)
    diffs = []
    for (name, _), values, j in zip(ref_shapes, ref_out, order):
        cand = [np.transpose(v, (0, 2, 3, 1)) for v in cand_out[j]] if j in transposed else cand_out[j]
        diffs.append(output_diff(name, values, cand))
    return diffs


def measure_latency(models: dict[str, object], sample: np.ndarray, runs: int = 30, warmup: int = 3) -> dict:
    """Median/mean/p90 ms per model, calls alternated (A B, B A, ...) so that load from other
    processes on the machine hits every model alike; ``ratio`` = each median / the first one's."""
    names = list(models)
    x = np.asarray(sample, np.float32)[None]
    for name in names:
        for _ in range(warmup):
            models[name].run(x)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(runs):
        for name in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            models[name].run(x)
            times[name].append(time.perf_counter() - t0)
    out = {n: latency_summary(times[n]) for n in names}
    base = out[names[0]]["median_ms"]
    for n in names:
        out[n]["ratio_to_" + names[0]] = out[n]["median_ms"] / base if base else float("nan")
    return out


def landmark_results(model_path, frames, rois, num_threads: int | None = 1) -> dict[str, np.ndarray]:
    """Run the SDK's PoseLandmarker on every (frame index, ROI): landmarks_px (N, 33, 5), presence (N,)."""
    from blazepose_sdk.stages.landmarker import PoseLandmarker

    with TFLiteModel(model_path, num_threads=num_threads) as model:
        landmarker = PoseLandmarker(model)
        outs = [landmarker(frames[i], roi) for i, roi in rois]
    return {
        "landmarks_px": np.stack([o.landmarks_px for o in outs]) if outs else np.zeros((0, 33, 5)),
        "presence": np.array([o.presence for o in outs]),
    }


def detector_results(model_path, frames, num_threads: int | None = 1, min_score: float = 0.5) -> list:
    """Best detection per frame (None where nobody is found), decoded by the SDK's PoseDetector."""
    from blazepose_sdk.stages.detector import PoseDetector

    with TFLiteModel(model_path, num_threads=num_threads) as model:
        detector = PoseDetector(model, min_score=min_score)
        return [(dets[0] if dets else None) for dets in (detector(f) for f in frames)]


def detector_parity(ref: list, cand: list) -> dict:
    """Agreement of the best detection per frame. Distances in image pixels."""
    both = [(a, b) for a, b in zip(ref, cand) if a is not None and b is not None]
    hip = [float(np.hypot(*np.subtract(a.hip_center_px, b.hip_center_px))) for a, b in both]
    circle = [float(np.hypot(*np.subtract(a.body_circle_px, b.body_circle_px))) for a, b in both]
    score = [abs(a.score - b.score) for a, b in both]
    return {
        "frames": len(ref),
        "found_by_reference": sum(a is not None for a in ref),
        "found_by_candidate": sum(b is not None for b in cand),
        "found_by_both": len(both),
        "hip_center_err_px_mean": float(np.mean(hip)) if hip else float("nan"),
        "hip_center_err_px_max": float(np.max(hip)) if hip else float("nan"),
        "body_circle_err_px_mean": float(np.mean(circle)) if circle else float("nan"),
        "score_abs_diff_max": float(np.max(score)) if score else float("nan"),
    }


def parity_report(
    name: str,
    reference_path: str | os.PathLike,
    candidate_path: str | os.PathLike,
    inputs: np.ndarray,
    kind: str = "generic",
    frames: list[np.ndarray] | None = None,
    rois: list | None = None,
    num_threads: int = 1,
    latency_runs: int = 30,
) -> ParityReport:
    """Compare ``candidate_path`` with its float original ``reference_path`` on held-out data.

    ``inputs``: (N, H, W, C) model inputs for the raw output diffs. ``frames`` (RGB uint8) and,
    for landmark models, ``rois`` (frame index, Roi) give the decoded comparisons.
    """
    report = ParityReport(
        name=name, reference=str(reference_path), candidate=str(candidate_path), kind=kind,
        num_inputs=len(inputs), reference_bytes=Path(reference_path).stat().st_size,
        candidate_bytes=Path(candidate_path).stat().st_size,
    )
    with TFLiteModel(reference_path, num_threads=num_threads) as ref, TFLiteModel(candidate_path, num_threads=num_threads) as cand:
        report.outputs = compare_outputs(ref, cand, inputs)
        if latency_runs > 0:
            report.latency = measure_latency({"reference": ref, "candidate": cand}, inputs[0], runs=latency_runs)
    if kind == "landmark" and frames is not None and rois:
        a = landmark_results(reference_path, frames, rois, num_threads)
        b = landmark_results(candidate_path, frames, rois, num_threads)
        report.landmarks = landmark_parity(
            b["landmarks_px"][..., :2], a["landmarks_px"][..., :2], a["landmarks_px"][..., 3], b["presence"], a["presence"]
        )
    if kind == "detector" and frames is not None:
        report.detector = detector_parity(detector_results(reference_path, frames, num_threads),
                                          detector_results(candidate_path, frames, num_threads))
    return report


def save_json(reports: list[ParityReport], path: str | os.PathLike, extra: dict | None = None) -> Path:
    data = {"reports": [r.to_dict() for r in reports]}
    if extra:
        data.update(extra)
    Path(path).write_text(json.dumps(data, indent=2, default=float) + "\n")
    return Path(path)


def _fmt(v: float, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}g}"


def print_table(reports: list[ParityReport], console=None) -> None:
    """Two rich tables: the summary per conversion and the per-output differences."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=max(Console().width, 150))
    summary = Table(title="Conversion parity (reference = float original)")
    for col in ("conversion", "size KB ref -> new", "latency ms ref -> new (ratio)", "lm err px mean/p95",
                "PCK@0.2 vs float", "detector hip err px"):
        summary.add_column(col)
    for r in reports:
        lat = r.latency or {}
        lat_s = "-"
        if lat:
            lat_s = (f"{lat['reference']['median_ms']:.2f} -> {lat['candidate']['median_ms']:.2f} "
                     f"({lat['candidate']['ratio_to_reference']:.2f}x)")
        lm = r.landmarks
        summary.add_row(
            r.name, f"{r.reference_bytes / 1024:.0f} -> {r.candidate_bytes / 1024:.0f}", lat_s,
            f"{_fmt(lm.mean_px)} / {_fmt(lm.p95_px)}" if lm else "-",
            _fmt(lm.pck, 4) if lm else "-",
            _fmt(r.detector["hip_center_err_px_mean"]) if r.detector else "-",
        )
    console.print(summary)
    detail = Table(title="Per-output difference, candidate vs float original")
    for col in ("conversion", "output", "shape", "max |diff|", "mean |diff|", "mean |diff| / std"):
        detail.add_column(col)
    for r in reports:
        for o in r.outputs:
            detail.add_row(r.name, o.name, str(o.shape), _fmt(o.max_abs), _fmt(o.mean_abs), _fmt(o.rel_mean_abs))
        for o in r.onnx_check or []:
            detail.add_row(r.name + " [onnxruntime vs tflite]", o.name, str(o.shape), _fmt(o.max_abs), _fmt(o.mean_abs),
                           _fmt(o.rel_mean_abs))
    console.print(detail)


def markdown_summary(reports: list[dict]) -> str:
    """Markdown tables (summary, then per-output) from ``parity.json`` report dicts, for notes."""
    header = ("| conversion | size KB (ref -> new) | latency ms median (ref -> new, ratio) "
              "| landmark err px mean / p95 / max | PCK@0.2 vs float | detector: found ref/new, hip err px mean |")
    lines = [header, "|---|---|---|---|---|---|"]
    for r in reports:
        lat = r.get("latency") or {}
        lat_s = (f"{lat['reference']['median_ms']:.2f} -> {lat['candidate']['median_ms']:.2f} "
                 f"({lat['candidate']['ratio_to_reference']:.2f}x)") if lat else "-"
        lm = r.get("landmarks")
        lm_s = f"{lm['mean_px']:.2f} / {lm['p95_px']:.2f} / {lm['max_px']:.1f}" if lm else "-"
        pck_s = f"{lm['pck']:.4f}" if lm else "-"
        det = r.get("detector")
        det_s = (f"{det['found_by_reference']}/{det['found_by_candidate']} of {det['frames']}, "
                 f"{det['hip_center_err_px_mean']:.2f}") if det else "-"
        size_s = f"{r['reference_bytes'] / 1024:.0f} -> {r['candidate_bytes'] / 1024:.0f}"
        lines.append(f"| {r['name']} | {size_s} | {lat_s} | {lm_s} | {pck_s} | {det_s} |")
    lines += ["", "| conversion | output | shape | max abs diff | mean abs diff | mean abs diff / std |",
              "|---|---|---|---|---|---|"]
    for r in reports:
        for o in r["outputs"]:
            lines.append(f"| {r['name']} | {o['name']} | {tuple(o['shape'])} | {o['max_abs']:.4g} | {o['mean_abs']:.4g} "
                         f"| {o['rel_mean_abs']:.4g} |")
    return "\n".join(lines)
