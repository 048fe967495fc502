"""End-to-end conversions: source model -> float reference -> requested precisions -> parity
reports and manifest entries. The CLI (``python -m convert``) is a thin layer over :func:`run`.

Paths, by source format:

* ``keras`` (.keras / .h5 file or SavedModel folder): TFLiteConverter directly; ``onnx`` in
  ``--to`` also exports ONNX with tf2onnx and checks it with onnxruntime.
* ``onnx``: onnx2tf -> float SavedModel -> TFLiteConverter; the float TFLite is checked against
  onnxruntime on the calibration inputs.
* ``tflite`` (third-party float models, e.g. the official BlazePose ones): tf2onnx -> ONNX ->
  onnx2tf -> SavedModel -> TFLiteConverter; the original .tflite stays the reference, and the
  float32 round trip is reported too (it should match the original to ~1e-5).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blazepose_sdk.stages.runtime import TFLiteModel, file_sha256

from . import calibration as cal
from .manifest import manifest_entry, update_manifest
from .quantize import QuantizeOptions, layer_sensitivity, sensitive_layers, to_tflite
from .report import ParityReport, compare_outputs, parity_report

FORMATS = ("keras", "onnx", "tflite")
TARGETS = ("float32", "float16", "dynamic", "int8", "int16x8", "onnx")
# With keep_float="auto", at most this many of the most sensitive tensors stay float.
AUTO_KEEP_FLOAT_LIMIT = 5


@dataclass
class ConvertOptions:
    """One conversion job.

    Attributes:
        fmt: source format (:data:`FORMATS`); source: the model file/folder; out_dir: output folder.
        targets: any of :data:`TARGETS`.
        io_dtype: int8 model I/O: float32, int8 or uint8.
        calib: calibration source (data-engine folder, image/video folder, .npy); None: the built-in set.
        eval: held-out source (image/video folder); None: the built-in held-out set; "calib": the
            calibration frames (not held out; said so in the report notes).
        detector: detector .tflite used to find people for landmark crops (default: the official one).
        kind: "auto", "landmark", "detector" or "generic".
        keep_float: tensor names kept float in an extra selective-int8 model, or ["auto"].
        keep_float_ops: op types (e.g. "DEPTHWISE_CONV_2D") kept float in that model.
        quantizer: "tflite" (TFLiteConverter, every source format) or "aeq" (ai-edge-quantizer on
            a float .tflite source directly, :mod:`convert.aeq`; targets int8 only; ``keep_float``
            names op output tensors, "auto" is not available: use ``python -m convert.int8_official``
            for the measured sweep).
        weights: with "aeq": "nearest" (AEQ's rounding) or "gptq" (:mod:`convert.weight_rounding`).
    """

    fmt: str
    source: Path
    out_dir: Path
    targets: list[str] = field(default_factory=lambda: ["int8"])
    io_dtype: str = "int8"
    per_channel: bool = True
    calib: Path | None = None
    eval: str | None = None
    detector: Path | None = None
    kind: str = "auto"
    keep_float: list[str] = field(default_factory=list)
    keep_float_ops: list[str] = field(default_factory=list)
    num_threads: int = 1
    latency_runs: int = 30
    calib_limit: int = 200
    name: str | None = None
    quantizer: str = "tflite"
    weights: str = "nearest"


def _default_detector() -> Path | None:
    try:
        from blazepose_sdk.assets.models import reference_model

        return reference_model("pose_detection.tflite").path
    except Exception:  # noqa: BLE001 - no cache: the caller must pass --detector
        return None


@dataclass
class EvalSet:
    inputs: np.ndarray
    frames: list[np.ndarray] | None
    rois: list | None
    note: str


def _frames(source) -> list[np.ndarray]:
    from .heldout import calibration_frames

    return calibration_frames() if source is None else cal.frames_from_folder(source)


def build_inputs(kind: str, shape: tuple[int, ...], source, detector, limit: int) -> np.ndarray:
    """Calibration inputs; ``source`` None = the built-in calibration frames."""
    if source is not None and (Path(source).suffix == ".npy" or any(Path(source).glob("*.tfrecord"))):
        return cal.calibration_inputs(kind, shape, source, detector, limit)
    frames = _frames(source)
    return _inputs_from_frames(kind, shape, frames, detector, jitter=True)[0][:limit]


def _inputs_from_frames(kind, shape, frames, detector, jitter: bool = False):
    _, h, w, _ = shape
    if kind == "detector":
        return cal.detector_inputs(frames, h), None
    if kind == "landmark":
        if detector is None:
            raise ValueError("landmark models need a detector to find people: pass --detector")
        rois = cal.jitter_rois(cal.detect_rois(frames, detector)) if jitter else cal.detect_rois(frames, detector)
        if not rois:
            raise ValueError("the detector found nobody in the given frames")
        return np.stack([c.tensor[0] for c in cal.landmark_crops(frames, rois, h)]), rois
    return cal.generic_inputs(frames, (h, w)), None


def build_eval(kind: str, shape, eval_source, calib_source, detector) -> EvalSet:
    from .heldout import heldout_frames

    if eval_source == "calib":
        frames, note = _frames(calib_source), "evaluated on the calibration frames (NOT held out)"
    elif eval_source is None:
        frames, note = heldout_frames(), "held-out: built-in basketball1 warps + pan clip (same photo as calibration)"
    elif kind in ("landmark", "detector") and any(Path(eval_source).glob("*.tfrecord")):
        # the data engine's held-out shards: whole frames, and for landmark models the crops at
        # each sample's labelled ROI (no detector in the loop)
        pairs = cal.engine_samples(eval_source, shape[1])
        if not pairs:
            raise ValueError(f"no usable samples in {eval_source}")
        frames = [frame for frame, _ in pairs]
        note = f"held-out: {eval_source} ({len(frames)} data-engine samples, labelled ROIs)"
        if kind == "landmark":
            rois = [(i, roi) for i, (_, roi) in enumerate(pairs)]
            crops = cal.landmark_crops(frames, rois, shape[1])
            return EvalSet(np.stack([c.tensor[0] for c in crops]), frames, rois, note)
    else:
        frames, note = cal.frames_from_folder(eval_source), f"held-out: {eval_source}"
    inputs, rois = _inputs_from_frames(kind, shape, frames, detector)
    return EvalSet(inputs, frames, rois, note)


def run(opts: ConvertOptions, progress=None) -> list[ParityReport]:
    """Do the job; write models, ``manifest.json``, ``parity.json`` into ``opts.out_dir``."""
    from .onnx_bridge import OnnxRunner, is_nhwc_image, keras_to_onnx, onnx_inputs, onnx_to_saved_model, tflite_to_onnx

    if opts.fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    bad = [t for t in opts.targets if t not in TARGETS]
    if bad:
        raise ValueError(f"unknown targets {bad}; choose from {TARGETS}")
    step = progress or (lambda msg: None)
    if opts.quantizer == "aeq":
        return _run_aeq(opts, step)
    if opts.quantizer != "tflite":
        raise ValueError(f"quantizer must be 'tflite' or 'aeq', got {opts.quantizer!r}")
    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = opts.name or Path(opts.source).stem
    detector = opts.detector or _default_detector()
    work = Path(tempfile.mkdtemp(prefix="convert_"))
    reports: list[ParityReport] = []
    notes: list[str] = []
    try:
        # 1. a TensorFlow source to quantize from, and the float reference .tflite
        onnx_path = None
        if opts.fmt == "keras":
            tf_source = _load_keras_or_savedmodel(opts.source)
            step("float32 reference (keras -> tflite)")
            reference = out / f"{stem}_float32.tflite"
            reference.write_bytes(to_tflite(tf_source, QuantizeOptions("float32")))
            path_desc = "keras->tflite"
        elif opts.fmt == "onnx":
            onnx_path = Path(opts.source)
            reference = None
            path_desc = "onnx->onnx2tf->savedmodel->tflite"
        else:
            reference = Path(opts.source)
            step("tflite -> onnx (tf2onnx)")
            onnx_path = tflite_to_onnx(reference, work / f"{stem}.onnx")
            path_desc = "tflite->tf2onnx->onnx2tf->savedmodel->tflite"
        calib = None
        if onnx_path is not None:
            kind = opts.kind if opts.kind != "auto" else _onnx_kind(onnx_path)
            (_, shape), *_ = onnx_inputs(onnx_path)
            shape_nhwc = shape if is_nhwc_image(shape) else (shape[0], shape[2], shape[3], shape[1])
            step("calibration inputs")
            calib = build_inputs(kind, shape_nhwc, opts.calib, detector, opts.calib_limit)
            step("onnx -> tensorflow (onnx2tf)")
            tf_source = onnx_to_saved_model(onnx_path, work / "saved_model", sample_nhwc=calib[:20])
            float_rt = out / (f"{stem}_float32.tflite" if reference is None else f"{stem}_float32_roundtrip.tflite")
            float_rt.write_bytes(to_tflite(str(tf_source), QuantizeOptions("float32")))
            if reference is None:
                reference = float_rt
        with TFLiteModel(reference) as m:
            if opts.kind == "auto" and onnx_path is None:
                kind = cal.model_kind(m.inputs, m.outputs)
            elif opts.kind != "auto":
                kind = opts.kind
            in_shape = tuple(m.inputs[0].shape)
        if calib is None:
            step("calibration inputs")
            calib = build_inputs(kind, in_shape, opts.calib, detector, opts.calib_limit)
        value_range = cal.VALUE_RANGES.get(kind, (0.0, 1.0))
        step("held-out set")
        ev = build_eval(kind, in_shape, opts.eval, opts.calib, detector)
        notes.append(ev.note)
        notes.append(f"calibration: {len(calib)} inputs from {opts.calib or 'built-in frames'}")
        source_info = {"file": str(opts.source), "format": opts.fmt,
                       "sha256": file_sha256(opts.source) if Path(opts.source).is_file() else None}

        def finish(path: Path, precision: str, label: str, reference_path: Path = reference) -> ParityReport:
            entry = manifest_entry(path, kind, precision, value_range, source_info,
                                   {"tensorflow": _tf_version(), "path": path_desc})
            update_manifest(out, entry)
            step(f"parity: {label}")
            rep = parity_report(label, reference_path, path, ev.inputs, kind, ev.frames, ev.rois,
                                opts.num_threads, opts.latency_runs)
            rep.notes = list(notes)
            reports.append(rep)
            return rep

        # ONNX checks: onnxruntime vs our float TFLite
        if onnx_path is not None:
            step("onnxruntime vs tflite float32")
            float_tfl = reference if opts.fmt == "onnx" else float_rt
            rep = finish(float_tfl, "float32", f"{stem} float32 (onnx2tf)" if opts.fmt == "onnx" else f"{stem} float32 round trip")
            with TFLiteModel(float_tfl) as tfl:
                rep.onnx_check = compare_outputs(tfl, OnnxRunner(onnx_path), ev.inputs[:8])
            if opts.fmt == "tflite" and "onnx" in opts.targets:
                shutil.copy(onnx_path, out / f"{stem}.onnx")
        elif "onnx" in opts.targets:
            step("keras -> onnx (tf2onnx)")
            onnx_out = keras_to_onnx(tf_source, out / f"{stem}.onnx")
            rep = finish(reference, "float32", f"{stem} float32")
            with TFLiteModel(reference) as tfl:
                rep.onnx_check = compare_outputs(tfl, OnnxRunner(onnx_out), ev.inputs[:8])

        for target in opts.targets:
            if target == "onnx" or (target == "float32" and opts.fmt != "tflite"):
                continue
            io = opts.io_dtype if target == "int8" else "float32"  # int16x8 keeps float I/O
            q = QuantizeOptions(target, io, per_channel=opts.per_channel, calibration_steps=opts.calib_limit)
            step(f"convert {target}")
            suffix = target if target != "int8" else f"int8_{io}io"
            path = out / f"{stem}_{suffix}.tflite"
            path.write_bytes(to_tflite(_src(tf_source), q, calib))
            finish(path, target, f"{stem} {suffix}")

        if "int8" in opts.targets and (opts.keep_float or opts.keep_float_ops):
            step("layer sensitivity")
            keep = list(opts.keep_float)
            if keep == ["auto"]:
                ranking = layer_sensitivity(_src(tf_source), calib, steps=min(32, len(calib)), per_channel=opts.per_channel)
                keep = sensitive_layers(ranking, limit=AUTO_KEEP_FLOAT_LIMIT) or [ranking[0].tensor]
                notes.append("most sensitive tensors (rmse/scale): " + ", ".join(
                    f"{r.tensor} [{r.op}] {r.rmse_per_scale:.2f}" for r in ranking[:AUTO_KEEP_FLOAT_LIMIT]))
            q = QuantizeOptions("int8", opts.io_dtype, opts.per_channel, keep_float=keep,
                                keep_float_ops=list(opts.keep_float_ops), calibration_steps=opts.calib_limit)
            path = out / f"{stem}_int8_selective.tflite"
            step("convert int8 selective")
            path.write_bytes(to_tflite(_src(tf_source), q, calib))
            rep = finish(path, "int8", f"{stem} int8 selective")
            rep.notes.append(f"kept float: {keep} ops {opts.keep_float_ops}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return reports


def _run_aeq(opts: ConvertOptions, step) -> list[ParityReport]:
    """The ai-edge-quantizer route: float .tflite -> plain float32 -> (GPTQ kernels) -> INT8 with
    float fallback for ``opts.keep_float`` (op output tensor names); float32 model I/O."""
    from . import aeq

    if opts.fmt != "tflite":
        raise ValueError("--quantizer aeq works on .tflite sources (convert Keras/ONNX to float TFLite first)")
    if [t for t in opts.targets if t != "int8"]:
        raise ValueError("--quantizer aeq makes int8 models only (--to int8)")
    if opts.keep_float == ["auto"] or opts.keep_float_ops:
        raise ValueError("--quantizer aeq takes --keep-float as op output tensor names; for a measured "
                         "choice run python -m convert.int8_official")
    if opts.weights not in ("nearest", "gptq"):
        raise ValueError(f"weights must be 'nearest' or 'gptq', got {opts.weights!r}")
    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = opts.name or Path(opts.source).stem
    detector = opts.detector or _default_detector()
    reference = Path(opts.source)
    with TFLiteModel(reference) as m:
        kind = cal.model_kind(m.inputs, m.outputs) if opts.kind == "auto" else opts.kind
        in_shape = tuple(m.inputs[0].shape)
    step("float32 copy")
    f32 = aeq.float32_tflite(reference, out / f"{stem}_float32.tflite")
    step("calibration inputs")
    calib = build_inputs(kind, in_shape, opts.calib, detector, opts.calib_limit)
    base = f32
    if opts.weights == "gptq":
        from .weight_rounding import GPTQ_SAMPLES, gptq_conv_weights, write_conv_weights

        step("GPTQ kernels")
        idx = np.linspace(0, len(calib) - 1, min(GPTQ_SAMPLES, len(calib))).round().astype(int)
        base = write_conv_weights(f32, gptq_conv_weights(f32, calib[idx]), out / f"{stem}_float32_gptq.tflite",
                                  exclude=opts.keep_float)
    step("calibrate (ai-edge-quantizer)")
    calibration = aeq.calibrate(base, calib)
    step("convert int8 (ai-edge-quantizer)")
    path = out / f"{stem}_int8_aeq.tflite"
    path.write_bytes(aeq.quantize(base, calibration, keep_float=opts.keep_float, per_channel=opts.per_channel))
    step("held-out set")
    ev = build_eval(kind, in_shape, opts.eval, opts.calib, detector)
    value_range = cal.VALUE_RANGES.get(kind, (0.0, 1.0))
    source_info = {"file": str(opts.source), "format": opts.fmt, "sha256": file_sha256(opts.source)}
    entry = manifest_entry(path, kind, "int8", value_range, source_info,
                           {"ai_edge_quantizer": _aeq_version(), "path": f"tflite->ai-edge-quantizer ({opts.weights})"})
    update_manifest(out, entry)
    step("parity: int8 (aeq)")
    rep = parity_report(f"{stem} int8 (aeq, {opts.weights})", reference, path, ev.inputs, kind, ev.frames, ev.rois,
                        opts.num_threads, opts.latency_runs)
    rep.notes = [ev.note, f"calibration: {len(calib)} inputs from {opts.calib or 'built-in frames'}",
                 f"kept float: {len(opts.keep_float)} ops"]
    return [rep]


def _aeq_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-quantizer")


def _onnx_kind(onnx_path) -> str:
    """Model kind from the ONNX graph's static I/O shapes (image input turned NHWC)."""
    from types import SimpleNamespace

    from .onnx_bridge import OnnxRunner, is_nhwc_image

    runner = OnnxRunner(onnx_path)
    ins = []
    for _, s in runner.inputs:
        s = tuple(s)
        ins.append(SimpleNamespace(shape=s if len(s) != 4 or is_nhwc_image(s) else (s[0], s[2], s[3], s[1])))
    return cal.model_kind(ins, [SimpleNamespace(shape=tuple(s)) for _, s in runner.outputs])


def _src(tf_source):
    return str(tf_source) if isinstance(tf_source, Path) else tf_source


def _load_keras_or_savedmodel(source):
    path = Path(source)
    if path.is_dir():
        return path
    import keras

    return keras.models.load_model(str(path), compile=False)


def _tf_version() -> str:
    import tensorflow as tf

    return tf.__version__
