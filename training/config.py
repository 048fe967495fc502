"""Configs of the two BlazePose stages and their training runs: plain dataclasses, loaded from
YAML or JSON (``load_config``). A file holds the sections ``model``, ``loss`` and ``train``;
keys not given keep the dataclass defaults, unknown keys raise. ``DistillConfig``: one run of
``python -m training.distill`` (built from its flags).

Example (training/configs/landmark_lite.yaml)::

    model: {width: 1.0}
    loss: {heatmap: 1.0, coords: 1.0}
    train: {data: [/tmp/synth/synth-*.tfrecord], batch_size: 32, steps: 200000}
"""

from __future__ import annotations

import argparse

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

# --- models -----------------------------------------------------------------------------


@dataclass
class LandmarkModelConfig:
    """The landmark (tracker) network. Sizes in tensor pixels.

    - input_size: side of the square ROI crop (256 in pose_landmark_{lite,full}.tflite).
    - width: channel multiplier; ``LITE_WIDTH`` / ``FULL_WIDTH`` below.
    - heatmap_stride: input pixels per heatmap cell (256 / 64 = 4, the official heatmap size).
    - num_rows: rows of the landmark output: 33 landmarks + 2 auxiliary + 4 unused = 39, the
      official layout (blazepose_sdk.geometry.topology.NUM_MODEL_LANDMARKS).
    - stop_gradient: stop gradients from the regression encoder into the heatmap features
      (BlazePose paper, Bazarevsky et al. 2020, section 3.3).
    """

    input_size: int = 256
    width: float = 1.0
    heatmap_stride: int = 4
    num_rows: int = 39
    stop_gradient: bool = True


# Width multipliers of our Lite and Full variants (ours; chosen for <= 1.5 MB INT8 Lite).
LITE_WIDTH = 1.0
FULL_WIDTH = 1.75


@dataclass
class DetectorModelConfig:
    """The face-proxy person detector. ``input_size`` 224 matches the SDK's anchors
    (blazepose_sdk.geometry.anchors.AnchorOptions); the SDK derives anchors from the model's input size,
    so a multiple of 32 also works."""

    input_size: int = 224
    width: float = 1.0


# --- losses -----------------------------------------------------------------------------


@dataclass
class LandmarkLossConfig:
    """Weights of the landmark losses (training.losses.landmark_losses) and their parameters.

    heatmap: per-pixel BCE against a Gaussian of ``heatmap_sigma`` cells; offset: L1 of the
    sub-cell offsets near each landmark; coords: wing loss (``wing_w``, ``wing_eps`` in tensor
    pixels, Feng et al. 2018) on x, y; depth: L1 on z; visibility / presence: BCE on the
    per-landmark logits; pose_presence: BCE on the pose flag; world: L1 in metres; aux: weight
    of the two auxiliary ROI points relative to a landmark.
    """

    heatmap: float = 1.0
    heatmap_sigma: float = 1.5
    offset: float = 1.0
    coords: float = 1.0
    wing_w: float = 10.0
    wing_eps: float = 2.0
    depth: float = 0.1
    visibility: float = 0.5
    presence: float = 0.5
    pose_presence: float = 1.0
    world: float = 10.0
    aux: float = 1.0


@dataclass
class DetectorLossConfig:
    """Detector loss: classification (``cls``: "bce_hnm" = BCE with hard-negative mining at
    ``neg_pos_ratio`` negatives per positive, as SSD; or "focal" with ``focal_gamma``/
    ``focal_alpha``, Lin et al. 2017) + Huber (``huber_delta``, in units of the input side)
    on the box and the four alignment points. Anchors match a face box when their IoU with it
    is at least ``match_iou``; the best anchor always matches."""

    cls: str = "bce_hnm"
    neg_pos_ratio: float = 3.0
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    match_iou: float = 0.5
    huber_delta: float = 0.02
    box: float = 1.0
    points: float = 1.0
    classification: float = 1.0


# --- training ---------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """One training run. ``data``: TFRecord files or globs of the data engine's Sample records.

    - batch_size: global batch (split across replicas).
    - steps: total optimizer steps; checkpoint every ``checkpoint_every``, log every ``log_every``.
    - learning_rate: peak Adam rate, cosine-decayed to ``lr_min_frac`` of it after ``warmup``.
    - input: "engine" = the data engine's tf.data pipeline (training.data.pipeline, with its
      augmentation; ``augment`` holds overrides of training.data.augment.AugmentOptions), or
      "builtin" = this package's own SDK-geometry crops (train_landmarks.landmark_example /
      train_detector.detector_example) with the jitter fields below.
    - negative_prob (landmarks): fraction of crops with no person (pose presence 0).
    - jitter_*: ROI augmentation: centre shift (fraction of the ROI side), scale (log-uniform
      factor range), rotation (degrees) and horizontal flip probability.
    """

    input: str = "engine"
    augment: dict = field(default_factory=dict)

    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    batch_size: int = 32
    steps: int = 100000
    learning_rate: float = 1e-3
    warmup: int = 1000
    lr_min_frac: float = 0.02
    weight_decay: float = 1e-5
    log_every: int = 50
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    shuffle_buffer: int = 2000
    seed: int = 0
    negative_prob: float = 0.05
    jitter_shift: float = 0.08
    jitter_scale: tuple[float, float] = (0.85, 1.2)
    jitter_rotation_deg: float = 30.0
    flip_prob: float = 0.5
    zoom_out: tuple[float, float] = (1.0, 3.0)  # detector: frame shrink factor range


@dataclass
class LandmarkRunConfig:
    model: LandmarkModelConfig = field(default_factory=LandmarkModelConfig)
    loss: LandmarkLossConfig = field(default_factory=LandmarkLossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class DetectorRunConfig:
    model: DetectorModelConfig = field(default_factory=DetectorModelConfig)
    loss: DetectorLossConfig = field(default_factory=DetectorLossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _fill(cls, values: dict):
    """Instantiate dataclass ``cls`` from a dict, recursing into dataclass fields."""
    if values is None:
        return cls()
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    kw = {}
    for name, value in values.items():
        default = known[name].default_factory() if known[name].default_factory is not dataclasses.MISSING else known[name].default
        if dataclasses.is_dataclass(default):
            kw[name] = _fill(type(default), value)
        elif isinstance(default, dict):
            kw[name] = dict(value or {})
        elif isinstance(default, tuple):
            kw[name] = tuple(value)
        else:
            kw[name] = value
    return cls(**kw)


def load_config(path: str | Path | None, kind: str, overrides: dict | None = None):
    """Load a ``kind`` ("landmark" or "detector") run config from YAML/JSON (None: defaults).

    ``overrides`` is a dict of dotted keys ("train.steps": 10) applied after the file.
    """
    cls = {"landmark": LandmarkRunConfig, "detector": DetectorRunConfig}[kind]
    values: dict = {}
    if path is not None:
        text = Path(path).read_text()
        if str(path).endswith(".json"):
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text) or {}
    for key, value in (overrides or {}).items():
        node = values
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return _fill(cls, values)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def add_run_arguments(ap: argparse.ArgumentParser) -> None:
    """The command-line options every training script shares (config, run dir, overrides,
    strategy, precision, export)."""
    ap.add_argument("--config", default=None, help="YAML/JSON with model/loss/train sections")
    ap.add_argument("--run-dir", required=True, help="checkpoints, logs and exports go here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.steps=100")
    ap.add_argument("--strategy", default="auto", help="auto, default, mirrored, multiworker or tpu")
    ap.add_argument("--tpu", default="", help="TPU name/address for --strategy tpu")
    ap.add_argument("--precision", default="auto", help="auto (mixed_float16 on GPU), float32, mixed_float16, mixed_bfloat16")
    ap.add_argument("--export", action="store_true", help="export TFLite (float + INT8) after training")
    ap.add_argument("--export-only", action="store_true",
                    help="no training: export the latest checkpoint of --run-dir (as --export would)")


# --- distillation (python -m training.distill) ------------------------------------------

# Gaussian sigma of the heatmap targets in heatmap cells: TopDownGenerateTarget(sigma=2) of the
# reference Lite-HRNet COCO configs (64x48 heatmaps).
HEATMAP_SIGMA = 2.0
# FPD's balance of the distillation and ground-truth terms (the paper uses 0.5).
FPD_ALPHA = 0.5
TEACHER_CONFIDENCE_MODES = ("weight", "scale")  # DistillConfig.teacher_confidence
TRAIN_ONLY_CHOICES = ("all", "presence-head", "tail", "landmark-readout")  # DistillConfig.train_only
EXPORT_PRECISIONS = ("float", "float16", "int8")  # DistillConfig.export_precisions


@dataclass
class DistillConfig:
    """One distillation (or plain supervised) run. Sizes in tensor pixels."""

    student: str = "lite_hrnet_18"
    teacher: str = "none"
    alpha: float = FPD_ALPHA
    data: list[str] = field(default_factory=list)
    val_data: list[str] = field(default_factory=list)
    unlabelled_data: list[str] = field(default_factory=list)  # labels ignored: teacher term only
    labelled_fraction: float = 0.5  # of each batch from ``data`` when ``unlabelled_data`` is given
    input_size: int = 256
    # Side of the crops cut from the records before the area-downscale to input_size (None: the
    # black-box teacher's input size, else input_size). Give runs that are compared the same.
    crop_size: int | None = None
    batch_size: int = 32
    steps: int = 10000
    learning_rate: float = 2e-3  # Adam 2e-3: the reference Lite-HRNet COCO schedule
    warmup: int = 500
    seed: int = 0
    sigma: float = HEATMAP_SIGMA
    # A black-box teacher's confidence (visibility x presence) in the heatmap loss: "weight" =
    # unit-peak Gaussians at its points, the confidence as each joint's weight (as the coordinate
    # variant); "scale" = Gaussians of peak = confidence, every joint weight 1.
    teacher_confidence: str = "weight"
    # Heatmap students: weight of the cells under the Gaussians in the MSE (joints_mse; 0: the
    # reference JointsMSELoss).
    heatmap_fg_weight: float = 0.0
    checkpoint_every: int = 0  # steps between checkpoints (0: only at the end); runs resume from the latest
    # Share of training crops taken off the person (AugmentOptions.negative_prob): with a teacher
    # they carry its (low) presence, so a student's presence learns to reject background.
    negative_prob: float = 0.0
    # Share of person crops made partial people (AugmentOptions.partial_person_prob: close-ups and
    # people cut by a frame edge); a black-box teacher's presence is their target.
    partial_person_prob: float = 0.0
    # Share of crops, people and person-free alike, seen as a small compressed video shows them
    # (AugmentOptions.degrade_prob): image quality then tells a person from clutter no more.
    degrade_prob: float = 0.0
    # Person-free photos (training.data.negatives records) and their share of the labelled crops:
    # every crop of them is a negative whose presence, visibility and coordinate targets are 0
    # (not the teacher's: the teacher may see a person in clutter too).
    negative_data: list[str] = field(default_factory=list)
    negative_data_prob: float = 0.0
    # TFLite files written by --export (to_tflite modes: float, float16, int8).
    export_precisions: tuple[str, ...] = ("float", "int8")
    # What the optimizer moves: "all" layers, or only the "presence-head" (the layers of an
    # imported student that feed its pose presence and no other output; the rest stays frozen), or
    # the "tail": the last ``tail_blocks`` residual blocks of an imported student's trunk shared by
    # landmarks and presence, and the heads on them (training.students.tail_layers).
    train_only: str = "all"
    tail_blocks: int = 1
    # Weight of an L1 term (crop px) pulling the student's rows 33-34 (hip centre, body-circle
    # point: the next frame's ROI in tracking mode) to the teacher's on person crops, weighted by the
    # teacher's presence. 0: those rows get no loss (they drift as the shared layers move).
    aux_kd_weight: float = 0.0
    # The model whose rows 33-34 that term pulls toward, when not the teacher: a .tflite file or a
    # reference-* pipeline (e.g. the student's own starting model, so that the ROI the tracker makes
    # from those rows keeps the behaviour the landmark layers were trained with). "" = the teacher.
    aux_teacher: str = ""
    # The model whose pose presence an imported student learns, when not the teacher's (same forms
    # as aux_teacher; hard-negative crops still take 0). "" = the teacher.
    presence_teacher: str = ""
    # Student weights to start from (another run's student.weights.h5, same --student).
    init_weights: str | None = None
    # Quantization-aware fine-tuning: train the student through int8 fake quantization
    # (training.qat.fake_quant_model); the float student is what gets saved and exported.
    fake_quant: bool = False

