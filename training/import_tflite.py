"""Rebuild a float ``.tflite`` model (e.g. the official BlazePose files) as a trainable Keras model.

    python -m training.import_tflite IN.tflite --out OUT.keras [--check FRAMES...] [--export OUT.tflite]

The graph and its weights are read from the flatbuffer (:mod:`training.tflite_graph`; float16
weights behind DEQUANTIZE and sparse weights behind DENSIFY are folded to float32 constants),
then every operator becomes ordinary built-in Keras layers with the file's weights as trainable
variables (:mod:`training.tflite_keras`, :data:`~training.tflite_keras.SUPPORTED_OPS`). The Keras
outputs keep the .tflite output order and names (``Identity``, ``Identity_1``, ...), so the saved
``.keras`` file loads with plain ``keras.models.load_model`` and re-exports through
:func:`training.models.export.to_tflite`.

``--check`` feeds real frames, preprocessed as the SDK does for that model kind, through the
.tflite interpreter and the Keras model and prints the largest absolute difference of every
output (exit 1 when one exceeds ``--tol``). With ``--export`` the Keras model is converted back to
TFLite (float32, with its SDK manifest entry beside it) and the SDK's landmarks with the
re-exported file are compared with those of the original on the same frames.
``--fork-landmark-blocks N`` builds a landmark model's last N shared residual blocks twice: the
presence (and every output but the landmark rows) on the file's, the landmark rows on a copy (same
outputs at import), so that
``training.distill --train-only landmark-readout`` trains the copy and the presence stays the
file's on every crop. With ``--fork-keeps-aux-rows`` only the 33 landmark rows read the copy: rows 33
on (the auxiliary points the tracker makes its next ROI from) stay the file's too, so the tracker's
ROIs and presence are the file's on every frame. See docs/import_tflite.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.tflite_graph import TFLiteGraph, TFLiteImportError, load_graph
from training.tflite_keras import _Builder, _keras, build_keras_model

DEFAULT_TOLERANCE = 1e-4
# A re-exported model must move the SDK's landmarks by at most this many pixels.
DEFAULT_MAX_PX = 0.1
# The float64 build of the imported graph is the exact result up to float64 rounding, so its
# distance to the .tflite's XNNPACK result is XNNPACK's own float32 rounding; XNNPACK and the
# builtin kernels differ by two such roundings. Factor of margin over that measured floor.
FLOOR_FACTOR = 2.0


def import_tflite(source: str | os.PathLike | bytes, name: str | None = None):
    """Read a .tflite file (path or bytes) and return the equivalent trainable Keras model."""
    if name is None and not isinstance(source, (bytes, bytearray)):
        name = Path(source).stem
    return build_keras_model(load_graph(source), name)


# -- checks on real frames ------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelKind:
    """How the SDK feeds a model: ``kind`` ("detector" or "landmark") and the input value range."""

    kind: str
    value_range: tuple[float, float]


def model_kind(path: str | os.PathLike) -> ModelKind:
    """Kind and value range as the SDK would use them: the manifest entry beside the file if
    any, else by the output shapes (:func:`blazepose_sdk.stages.roles.output_roles`) with the SDK's
    default ranges (detector [-1, 1], landmark [0, 1])."""
    from blazepose_sdk.assets.manifest import entry_for_model
    from blazepose_sdk.stages.detector import DETECTOR_VALUE_RANGE
    from blazepose_sdk.stages.landmarker import LANDMARK_VALUE_RANGE
    from blazepose_sdk.stages.roles import output_roles
    from blazepose_sdk.stages.runtime import TFLiteModel

    entry = entry_for_model(path)
    if entry is not None and entry.get("kind") in ("detector", "landmark"):
        lo, hi = entry["normalization"]["value_range"]
        return ModelKind(entry["kind"], (float(lo), float(hi)))
    with TFLiteModel(path) as model:
        shapes = [s.shape for s in model.outputs]
        size = model.inputs[0].shape[1]
    if "boxes" in output_roles("detector", shapes, size):
        return ModelKind("detector", DETECTOR_VALUE_RANGE)
    if "landmarks" in output_roles("landmark", shapes, size):
        return ModelKind("landmark", LANDMARK_VALUE_RANGE)
    raise TFLiteImportError(f"{path}: outputs {shapes} are neither a detector's nor a landmark model's")


def read_frames(paths: Sequence[str | os.PathLike], per_video: int = 3) -> list[tuple[str, np.ndarray]]:
    """(label, RGB frame) pairs: each image, and ``per_video`` evenly spaced frames of each video."""
    import cv2

    from blazepose_sdk.app.video import is_image_path, read_image

    frames = []
    for path in paths:
        path = Path(path)
        if is_image_path(path):
            frames.append((path.name, read_image(path)))
            continue
        cap = cv2.VideoCapture(str(path))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not cap.isOpened() or total <= 0:
            raise TFLiteImportError(f"cannot read frames from {path}")
        for index in np.linspace(0, total - 1, per_video + 2)[1:-1].astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, bgr = cap.read()
            if ok:
                frames.append((f"{path.name}#{index}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        cap.release()
    if not frames:
        raise TFLiteImportError("no frames to check")
    return frames


def model_input(frame_rgb: np.ndarray, size: int, kind: ModelKind) -> np.ndarray:
    """The SDK's input tensor for the whole frame: letterboxed to ``size`` (the detector's
    zero border; the landmark model's replicated border) in the kind's value range."""
    from blazepose_sdk.geometry.image import crop_roi
    from blazepose_sdk.geometry.roi import letterbox_roi

    h, w = frame_rgb.shape[:2]
    border = "zero" if kind.kind == "detector" else "replicate"
    return crop_roi(frame_rgb, letterbox_roi(w, h), size, kind.value_range, border=border)


def builtin_kernels(path: str | os.PathLike):
    """An interpreter on TFLite's own builtin CPU kernels (no XNNPACK) keeping every tensor, for
    the noise floor of the file itself and the per-operator check."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # tensorflow's copy of the same interpreter
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    interp = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    return interp


@dataclass
class CheckReport:
    """What :func:`check_model` measured over the inputs (largest values over all of them).

    outputs: per output ``name``, ``shape``, ``max_abs_value`` (of the .tflite's result) and the
        largest |difference| of: ``keras_vs_tflite`` (the float32 Keras model vs the SDK runtime,
        XNNPACK), ``keras64_vs_tflite`` (the same graph built in float64 vs XNNPACK: what is
        left is the .tflite's own float32 rounding), ``tflite_floor`` (XNNPACK vs TFLite's
        builtin kernels: how far two float32 implementations of the same file disagree), and
        ``keras_vs_tflite_sdk`` and ``tflite_floor_sdk``: ``keras_vs_tflite`` and
        ``tflite_floor`` after every side is read as the SDK reads it (:func:`sdk_units`:
        normalised coordinates, probabilities, metres; None without a kind).
    op_worst: largest per-operator difference, each operator's float32 Keras layers fed the
        builtin kernels' own input tensors, relative to max(1, |output|); op_worst_at: "#index OP".
    """

    outputs: list[dict]
    op_worst: float
    op_worst_at: str

    def failures(self, tol: float) -> list[str]:
        """What misses: an operator off by more than ``tol`` (relative), or an output of the
        float64 build further from the .tflite than max(tol, :data:`FLOOR_FACTOR` x the file's
        own XNNPACK-vs-builtin difference)."""
        bad = [f"operator {self.op_worst_at} ({self.op_worst:.2e} relative)"] if not self.op_worst <= tol else []
        return bad + [r["output"] for r in self.outputs
                      if not r["keras64_vs_tflite"] <= max(tol, FLOOR_FACTOR * r["tflite_floor"])]


def sdk_units(kind: str, outputs: Sequence[np.ndarray], input_size: int) -> list[np.ndarray]:
    """The raw outputs of a detector or landmark model as the SDK reads them (float64).

    detector: boxes and keypoints decoded with the SSD anchors, normalised to the input (0..1);
        scores clipped and passed through the sigmoid (probabilities).
    landmark: landmark rows as x, y, z / input size (normalised to the ROI crop), visibility and
        presence through the sigmoid; segmentation and heatmap logits through the sigmoid (the
        mask probability, the refinement's confidence); pose presence (already a probability) and
        world landmarks (metres) unchanged.
    Outputs without a role are returned unchanged.
    """
    from blazepose_sdk.geometry.anchors import (
        AnchorOptions,
        DecodeOptions,
        decode_boxes,
        decode_scores,
        generate_anchors,
        sigmoid,
    )
    from blazepose_sdk.stages.detector import decode_options
    from blazepose_sdk.stages.landmarker import decode_landmark_tensor
    from blazepose_sdk.stages.roles import output_roles

    roles = output_roles(kind, [np.shape(o) for o in outputs], input_size)
    out = []
    for role, raw in zip(roles, outputs):
        raw = np.asarray(raw, dtype=np.float64)
        if role == "boxes":
            anchors = generate_anchors(AnchorOptions(input_size_width=input_size, input_size_height=input_size))
            options = decode_options(input_size, raw.shape[-1])
            out.append(decode_boxes(raw.reshape(raw.shape[-2], raw.shape[-1]), anchors, options).astype(np.float64))
        elif role == "scores":
            out.append(decode_scores(raw, DecodeOptions()).astype(np.float64))
        elif role == "landmarks":
            out.append(decode_landmark_tensor(raw, input_size, raw.size // 5))
        elif role in ("segmentation", "heatmap"):
            out.append(sigmoid(raw).astype(np.float64))
        else:
            out.append(raw)
    return out


def _float64_twin(graph: TFLiteGraph):
    keras = _keras()
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        return _Builder(graph).build("float64_twin")
    finally:
        keras.config.set_dtype_policy(policy)


def _outputs(model, x) -> list[np.ndarray]:
    got = model(x, training=False)
    return [np.asarray(g) for g in (got if isinstance(got, (list, tuple)) else [got])]


def check_model(tflite_path: str | os.PathLike, builder: "_Builder", inputs: Sequence[np.ndarray],
                kind: str | None = None) -> CheckReport:
    """Run ``inputs`` through the .tflite (SDK runtime and builtin kernels), the imported model
    and its float64 twin, and each operator alone (see :class:`CheckReport`). With ``kind``
    ("detector" or "landmark") the outputs are also compared in the SDK's units
    (:func:`sdk_units`)."""
    import keras

    from blazepose_sdk.stages.runtime import TFLiteModel

    graph, model = builder.graph, builder.model
    twin = _float64_twin(graph)
    builtin = builtin_kernels(tflite_path)
    pieces = []  # (op, its activation inputs, sub-model from them to the op's output)
    for op in graph.operators:
        ins = [i for i in op.inputs if i >= 0 and not graph.is_constant(i)]
        # a landmark fork's own operators read its tensors; every other operator, the original's
        values = builder.values if op.index in builder.landmark_only_ops else builder.original_values
        pieces.append((op, ins, keras.Model([values[i] for i in ins], values[op.outputs[0]])))
    with TFLiteModel(tflite_path) as runtime:
        names, shapes = [s.name for s in runtime.outputs], [s.shape for s in runtime.outputs]
        rows = [{"output": n, "shape": list(s), "max_abs_value": 0.0, "keras_vs_tflite": 0.0,
                 "keras64_vs_tflite": 0.0, "tflite_floor": 0.0, "keras_vs_tflite_sdk": None,
                 "tflite_floor_sdk": None}
                for n, s in zip(names, shapes)]
        size = int(runtime.inputs[0].shape[1])
        op_worst, op_worst_at = 0.0, ""
        for x in inputs:
            xnn = runtime.run(x)
            builtin.set_tensor(builtin.get_input_details()[0]["index"], x)
            builtin.invoke()
            ref = [builtin.get_tensor(d["index"]) for d in builtin.get_output_details()]
            got, got64 = _outputs(model, x), _outputs(twin, x.astype(np.float64))
            for row, a, b, k, k64 in zip(rows, xnn, ref, got, got64):
                row["max_abs_value"] = max(row["max_abs_value"], float(np.max(np.abs(a))))
                row["keras_vs_tflite"] = max(row["keras_vs_tflite"], float(np.max(np.abs(k - a))))
                row["keras64_vs_tflite"] = max(row["keras64_vs_tflite"], float(np.max(np.abs(k64 - a))))
                row["tflite_floor"] = max(row["tflite_floor"], float(np.max(np.abs(a - b))))
            if kind is not None:
                views = zip(rows, sdk_units(kind, got, size), sdk_units(kind, xnn, size), sdk_units(kind, ref, size))
                for row, k, a, b in views:
                    row["keras_vs_tflite_sdk"] = max(row["keras_vs_tflite_sdk"] or 0.0, float(np.max(np.abs(k - a))))
                    row["tflite_floor_sdk"] = max(row["tflite_floor_sdk"] or 0.0, float(np.max(np.abs(a - b))))
            for op, ins, piece in pieces:
                want = builtin.get_tensor(op.outputs[0])
                out = np.asarray(piece([builtin.get_tensor(i) for i in ins], training=False))
                rel = float(np.max(np.abs(out - want))) / max(1.0, float(np.max(np.abs(want))))
                if rel > op_worst or not op_worst_at:
                    op_worst, op_worst_at = rel, f"#{op.index} {op.op}"
    return CheckReport(rows, op_worst, op_worst_at)


def sdk_landmark_difference(sources: Sequence[str | os.PathLike], original: tuple[str, str],
                            replaced: tuple[str, str], video_frames: int = 100, video_start: int = 0) -> dict:
    """Run the SDK with (detector, landmark) files ``original`` and ``replaced``: each image in
    static image mode, frames ``video_start .. video_start + video_frames - 1`` of each video as
    a tracked clip (detector when tracking is lost, else the landmark model's own ROIs,
    smoothing on). Largest landmark x/y difference in pixels over the frames where both found
    a pose."""
    import itertools

    from blazepose_sdk import PoseTracker, TrackerOptions
    from blazepose_sdk.app.video import is_image_path, read_image
    from blazepose_sdk.app.video import video_frames as frames_of

    def run(pair, source):
        static = is_image_path(source)
        opts = TrackerOptions(detector_model=pair[0], landmark_model=pair[1], static_image_mode=static, num_threads=1)
        frames = ([(0.0, read_image(source))] if static
                  else itertools.islice(frames_of(source), video_start, video_start + video_frames))
        with PoseTracker(opts) as tracker:
            return [tracker.process(frame, timestamp_ms=t) for t, frame in frames]

    worst, both, only, total = 0.0, 0, 0, 0
    for source in sources:
        for ra, rb in zip(run(original, source), run(replaced, source)):
            total += 1
            if ra.pose is None or rb.pose is None:
                only += int((ra.pose is None) != (rb.pose is None))
                continue
            both += 1
            worst = max(worst, float(np.max(np.abs(ra.pose.array_px[:, :2] - rb.pose.array_px[:, :2]))))
    return {"frames": total, "poses_compared": both, "pose_found_by_one_only": only, "max_px_diff": worst}


# -- CLI ------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.import_tflite", description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="float .tflite file")
    p.add_argument("--out", type=Path, required=True, help="Keras model to write (.keras)")
    p.add_argument("--fork-landmark-blocks", type=int, default=0, metavar="N",
                   help="landmark models: build the last N residual blocks of the trunk that the presence and the "
                        "landmarks share twice, the presence and world on the original, the landmark rows on the "
                        "copy (same outputs; `training.distill --train-only landmark-readout` then trains the copy "
                        "and leaves the presence the file's)")
    p.add_argument("--fork-keeps-aux-rows", action="store_true",
                   help="with --fork-landmark-blocks: only landmark rows 0-32 read the copy; the auxiliary rows (33 on, "
                        "which steer the tracker's next ROI) stay the file's, like the presence")
    p.add_argument("--check", nargs="+", type=Path, default=None, metavar="FRAMES",
                   help="images or videos: compare every output of the .tflite and the Keras model")
    p.add_argument("--frames-per-video", type=int, default=3, help="evenly spaced frames taken from each video")
    p.add_argument("--tol", type=float, default=DEFAULT_TOLERANCE, help="largest allowed |tflite - keras|")
    p.add_argument("--export", type=Path, default=None,
                   help="also convert the Keras model back to a float32 .tflite (training.models.export.to_tflite); "
                        "with --check, compare the SDK's landmarks with the original's")
    p.add_argument("--sdk-video-frames", type=int, default=100,
                   help="consecutive frames of each video tracked for the SDK comparison")
    p.add_argument("--sdk-video-start", type=int, default=0, help="first video frame of that clip")
    p.add_argument("--max-px", type=float, default=DEFAULT_MAX_PX, help="largest allowed SDK landmark difference")
    p.add_argument("--pair", type=Path, default=None,
                   help="the other model of the SDK pipeline for that comparison (default: pose_detection.tflite, "
                        "or pose_landmark_full.tflite for a detector, beside SOURCE)")
    a = p.parse_args(argv)
    if a.fork_landmark_blocks < 0:
        p.error(f"--fork-landmark-blocks takes a count >= 0, got {a.fork_landmark_blocks}")
    if a.fork_keeps_aux_rows and not a.fork_landmark_blocks:
        p.error("--fork-keeps-aux-rows needs --fork-landmark-blocks N (N >= 1)")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return _run(args)
    except (TFLiteImportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - SDK errors (bad frames, models) are one line too
        from blazepose_sdk.errors import BlazePoseError

        if isinstance(exc, BlazePoseError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


def _run(args: argparse.Namespace) -> int:
    if not args.source.is_file():
        raise TFLiteImportError(f"no such file: {args.source}")
    if args.out.suffix != ".keras":
        raise TFLiteImportError(f"--out must end in .keras, got {args.out}")
    builder = _Builder(load_graph(args.source), args.fork_landmark_blocks, args.fork_keeps_aux_rows)
    model = builder.build(args.source.stem)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"{args.source.name}: {len(model.layers)} layers, {model.count_params():,} parameters -> {args.out}")
    kind = model_kind(args.source) if args.export is not None or args.check else None
    if args.export is not None:
        from training.models.export import export_manifest_entry, to_tflite, write_manifest

        to_tflite(model, args.export, "float")
        manifest = write_manifest(args.export.parent, [export_manifest_entry(args.export, kind.kind, "float")])
        print(f"re-exported -> {args.export} (entry in {manifest})")
    if not args.check:
        return 0
    frames = read_frames(args.check, args.frames_per_video)
    size = int(model.inputs[0].shape[1])
    inputs = [model_input(frame, size, kind) for _, frame in frames]
    report = check_model(args.source, builder, inputs, kind.kind)
    print(f"{kind.kind} model, {len(inputs)} frames, input range {list(kind.value_range)}; largest |difference|:")
    print(f"{'output':<12}{'shape':<19}{'max |value|':>12}{'keras-tflite':>14}{'keras64-tflite':>16}"
          f"{'xnnpack-builtin':>17}{'SDK units: keras-tflite':>25}{'xnnpack-builtin':>17}")
    for r in report.outputs:
        print(f"{r['output']:<12}{str(r['shape']):<19}{r['max_abs_value']:>12.3f}{r['keras_vs_tflite']:>14.3e}"
              f"{r['keras64_vs_tflite']:>16.3e}{r['tflite_floor']:>17.3e}{r['keras_vs_tflite_sdk']:>25.3e}"
              f"{r['tflite_floor_sdk']:>17.3e}")
    print(f"worst single operator (fed the interpreter's own inputs): {report.op_worst:.3e} relative "
          f"at {report.op_worst_at}")
    strict = all(r["keras_vs_tflite"] <= args.tol for r in report.outputs)
    print(f"every output within {args.tol:g} of the .tflite: {'yes' if strict else 'no'}")
    in_sdk_units = all(r["keras_vs_tflite_sdk"] <= args.tol for r in report.outputs)
    print(f"every output within {args.tol:g} of the .tflite in SDK units: {'yes' if in_sdk_units else 'no'}")
    failed = report.failures(args.tol)
    if args.export is not None:
        pair = args.pair or args.source.parent / ("pose_landmark_full.tflite" if kind.kind == "detector"
                                                  else "pose_detection.tflite")
        if not pair.is_file():
            raise TFLiteImportError(f"--pair model {pair} not found")
        original = (str(args.source), str(pair)) if kind.kind == "detector" else (str(pair), str(args.source))
        replaced = (str(args.export), str(pair)) if kind.kind == "detector" else (str(pair), str(args.export))
        sdk = sdk_landmark_difference(args.check, original, replaced, args.sdk_video_frames, args.sdk_video_start)
        print(f"SDK landmarks, re-exported vs original {kind.kind}: max {sdk['max_px_diff']:.3e} px over "
              f"{sdk['poses_compared']} poses in {sdk['frames']} frames ({sdk['pose_found_by_one_only']} frames "
              "where only one found a pose)")
        if sdk["pose_found_by_one_only"] or not sdk["max_px_diff"] <= args.max_px:
            failed.append(f"SDK landmarks (max {sdk['max_px_diff']:.3g} px, limit {args.max_px:g})")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"OK: every operator within {args.tol:g} (relative); every output of the float64 build within "
          f"max({args.tol:g}, {FLOOR_FACTOR:g} x the file's own XNNPACK-vs-builtin difference)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
