"""The export of distilled students (``python -m training.distill --export`` / ``--export-only``):
the SDK landmark model of a student (Lite-HRNet: the heatmap network itself, at its own input size,
decoded by the SDK on the CPU; BlazePose regression students: an in-graph area downscale from the
SDK's 256 crop; imported official models: their original outputs in the original order) as float /
float16 / INT8 TFLite, with the model manifest beside them. Coordinates of the exported regression
models are in the SDK crop's pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.config import DistillConfig
from training.students import IMPORTED_PREFIX, build_student, is_imported, student_kind_of
from training.weights_file import save_fp16


def imported_export_model(student):
    """The imported student with its original outputs, in the original order (for TFLite)."""
    import keras

    raw = sorted((k for k in student.output if k.startswith("raw_")), key=lambda k: int(k[4:]))
    return keras.Model(student.inputs, [student.output[k] for k in raw], name=student.name.replace("_student", ""))


def export_checkpoint(cfg: DistillConfig, run_dir: str | Path) -> list[str]:
    """Export the latest checkpoint of ``run_dir`` (also while its run goes on) to
    ``run_dir/export_stepN`` as :func:`export_student` does, without training."""
    from training.models.runner import restore_latest

    import keras

    keras.mixed_precision.set_global_policy("float32")
    student = build_student(cfg.student, cfg.input_size)
    if cfg.fake_quant:  # the run checkpointed the fake-quant wrapper, which shares the student's variables
        from training.qat import fake_quant_model

        step = restore_latest(fake_quant_model(student), run_dir)
    else:
        step = restore_latest(student, run_dir)
    out = Path(run_dir) / f"export_step{step}"
    exported = export_student(student, cfg, out, student_kind_of(cfg.student))
    return exported + [str(save_fp16(student, out / "student.weights.fp16.npz"))]


def regression_export_model(model, sdk_size: int = 256):
    """The SDK landmark model around a regression (BlazePose) student: its inference outputs and,
    for a student smaller than the SDK's crop, an in-graph n x n average pool in front (the
    area downscale the student was trained on) with its tensor-pixel outputs mapped to the
    crop's units: x' = (x + 0.5) n - 0.5 (index coordinates), z' = n z."""
    import keras
    from keras import layers

    from training.models.landmark import inference_model

    infer = inference_model(model)
    s = int(infer.inputs[0].shape[1])
    if s == sdk_size:
        return infer
    if sdk_size % s:
        raise ValueError(f"student input {s} does not divide the SDK crop {sdk_size}")
    n = sdk_size // s
    inp = keras.Input((sdk_size, sdk_size, 3), name="image")
    landmarks, presence, world = infer(layers.AveragePooling2D(n, name="downscale")(inp))
    rows = int(landmarks.shape[-1]) // 5
    scale = np.tile(np.float32([n, n, n, 1, 1]), rows)
    bias = np.tile(np.float32([(n - 1) / 2.0, (n - 1) / 2.0, 0, 0, 0]), rows)
    landmarks = layers.Identity(name="landmarks_sdk_px")(landmarks * scale + bias)
    return keras.Model(inp, [landmarks, presence, world], name=f"{infer.name}_{sdk_size}")


def export_student(student, cfg: DistillConfig, out_dir: Path, student_kind: str = "heatmap",
                   num_calibration: int = 64) -> list[str]:
    """Float and INT8 TFLite of the SDK landmark model of a student and their entries in
    ``out_dir/manifest.json`` (the SDK's model manifest, as the other trainers write).

    A heatmap student (Lite-HRNet) is exported as it is: input its own crop (the SDK crops each
    landmark model at its input size, the crop it was trained on), output its keypoint heatmaps,
    which the SDK decodes (:func:`blazepose_sdk.geometry.heatmaps.heatmap_landmark_rows`), so the
    INT8 file is all-integer between its float input and output. Regression students take the
    SDK's 256 crop (:func:`regression_export_model`). INT8 calibration uses training crops
    (``cfg.data``), never the held-out set."""
    from training.data.augment import LANDMARK_INPUT_SIZE
    from training.data.pipeline import make_landmark_dataset
    from training.models.export import landmark_manifest_entry, to_tflite, write_manifest

    heatmap = student_kind == "heatmap" and not is_imported(cfg.student)
    size = cfg.input_size if heatmap else LANDMARK_INPUT_SIZE

    def rep():
        ds = make_landmark_dataset(cfg.data, 1, training=False, input_size=size)
        for image, _ in ds.take(num_calibration):
            yield image.numpy()

    stem = Path(cfg.student[len(IMPORTED_PREFIX):]).stem if is_imported(cfg.student) else cfg.student
    paths = {"float": out_dir / f"{stem}.tflite", "float16": out_dir / f"{stem}_fp16.tflite",
             "int8": out_dir / f"{stem}_int8.tflite"}
    if heatmap:
        wrapped, precisions = student, ("float", "int8")
    else:
        wrapped = imported_export_model(student) if is_imported(cfg.student) else regression_export_model(student, size)
        precisions = tuple(cfg.export_precisions)
    out = tuple(to_tflite(wrapped, paths[q], q, rep if q == "int8" else None) for q in precisions)
    write_manifest(out_dir, [landmark_manifest_entry(p, q) for p, q in zip(out, precisions)])
    return [str(p) for p in out]
