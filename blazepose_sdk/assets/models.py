"""Model files: the models shipped inside the package (``blazepose_sdk/model_files/``), the
official BlazePose models fetched into a user cache, and named pipelines that pair a detector
with a landmark model.

Shipped models need no download. ``blazepose-lite`` is the official MediaPipe detector and Lite
landmark model (Apache-2.0, unmodified; ``model_files/NOTICE``), the default pipeline;
``ours-lite`` pairs that detector with our INT8 Lite landmark model (fine-tuned from it). Each file is checked against the sha256 of its entry in
``model_files/manifest.json`` (:mod:`blazepose_sdk.assets.manifest`), which also gives its input value
range and output roles.

The Full and Heavy landmark models are not shipped. ``blazepose models fetch-reference``
downloads the npm package ``@mediapipe/pose@<version>`` (:mod:`blazepose_sdk.assets.fetch`: HTTPS from
the configured npm registry, a ``--tarball`` copy, or ``npm pack``), extracts the four model files,
checks each against the sha256 recorded below and writes a manifest next to them. Loading a reference
model checks its hash again, so a truncated or replaced file is refused with a clear message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError

# The npm package that carries the official models (Apache-2.0), and the version pinned here.
REFERENCE_NPM_PACKAGE = "@mediapipe/pose"
REFERENCE_NPM_VERSION = "0.5.1675469404"

# name in the cache -> (member in the npm tarball, sha256). pose_solution_packed_assets.data
# IS pose_detection.tflite (checked: same TFLite flatbuffer, 224x224 input, 2254 anchors).
REFERENCE_FILES: dict[str, tuple[str, str]] = {
    "pose_detection.tflite": (
        "package/pose_solution_packed_assets.data",
        "a63c614bef30d35947f13be361820b1e4e3bec9cfeebf4d11216a18373108e85",
    ),
    "pose_landmark_lite.tflite": (
        "package/pose_landmark_lite.tflite",
        "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
    ),
    "pose_landmark_full.tflite": (
        "package/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    ),
    "pose_landmark_heavy.tflite": (
        "package/pose_landmark_heavy.tflite",
        "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
    ),
}
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ModelFile:
    """A model file on disk and how to use it.

    Attributes:
        path: the .tflite file.
        sha256: the hash it must have (None: not checked).
        value_range: (lo, hi) its float input takes for pixel values 0..255 (None: the stage's
            MediaPipe default).
        output_roles: one role per output in interpreter order (None: identified by shape).
    """

    path: Path
    sha256: str | None = None
    value_range: tuple[float, float] | None = None
    output_roles: tuple[str | None, ...] | None = None


@dataclass(frozen=True)
class PipelineModels:
    """The models of a pose pipeline: the detector, the landmark model, and the detector its tile
    scan runs (``TrackerOptions.detector_tiles``; None: ``detector``)."""

    name: str
    detector: ModelFile
    landmark: ModelFile
    tile_detector: ModelFile | None = None


def cache_dir() -> Path:
    """Where fetched models live: $BLAZEPOSE_CACHE_DIR, else $XDG_CACHE_HOME/blazepose_sdk,
    else ~/.cache/blazepose_sdk."""
    env = os.environ.get("BLAZEPOSE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "blazepose_sdk"


def reference_dir() -> Path:
    return cache_dir() / "reference" / REFERENCE_NPM_VERSION


# Models shipped as package data (setup.py, MANIFEST.in), each described in
# model_files/MODEL_CARD.md: the official BlazePose detector and Lite landmark model (Apache-2.0,
# unmodified, with model_files/NOTICE and LICENSE.mediapipe) and our own. pipeline name ->
# (detector file, landmark file).
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "model_files"
BUNDLED_PIPELINES: dict[str, tuple[str, str]] = {
    "blazepose-lite": ("pose_detection.tflite", "pose_landmark_lite.tflite"),
    # the official detector with our Lite landmark model: MediaPipe's Lite fine-tuned from Heavy
    # on real frames, INT8 (MODEL_CARD.md)
    "ours-lite": ("pose_detection.tflite", "ours_pose_landmark_lite_int8.tflite"),
}
# pipeline name -> the detector its tile scan (detector_tiles) runs instead of the whole-frame one:
# for ours-lite, MediaPipe's detector fine-tuned for small people (MODEL_CARD.md; on vtest.avi 1.8x
# the people the official detector finds on the tiles, docs/lab/2026-12-01_multi_person.md).
BUNDLED_TILE_DETECTORS: dict[str, str] = {"ours-lite": "ours_pose_detection_tiles.tflite"}
# What PoseTracker() and `blazepose run` use: MediaPipe's own detector and Lite landmark model. A
# pipeline replaces it only when `blazepose bench gate CANDIDATE --vs blazepose-lite` passes on the
# machine at hand: tracking-mode accuracy on calibrated video at or above, ghost poses on
# person-free footage at or below, `blazepose run` time at or below (docs/gate.md). ours-lite was
# the default until 2026-12-06 and failed it (more ghosts; its INT8 file is slower on x86 without VNNI).
DEFAULT_PIPELINE = "blazepose-lite"

REFERENCE_PIPELINES = {
    "reference-lite": "pose_landmark_lite.tflite",
    "reference-full": "pose_landmark_full.tflite",
    "reference-heavy": "pose_landmark_heavy.tflite",
}


def reference_model(filename: str) -> ModelFile:
    """The cached reference model ``filename``, with its pinned sha256; raises if not fetched."""
    if filename not in REFERENCE_FILES:
        raise ModelNotFoundError(f"unknown reference model {filename!r}; known: {sorted(REFERENCE_FILES)}")
    path = reference_dir() / filename
    if not path.is_file():
        raise ModelNotFoundError(
            f"reference model {filename} is not in the cache ({path.parent}); "
            "run `blazepose models fetch-reference` once (downloads from the npm registry; or --tarball FILE)"
        )
    return ModelFile(path, REFERENCE_FILES[filename][1])


def model_file_from_path(path: str | os.PathLike) -> ModelFile:
    """A user-given model file, with the sha256, value range and output roles of its entry in
    the ``manifest.json`` beside it (see :mod:`blazepose_sdk.assets.manifest`), or unchecked if none.

    Raises:
        ManifestError: the manifest beside it is of another format or malformed.
    """
    from .manifest import entry_for_model

    path = Path(path)
    entry = entry_for_model(path)
    if entry is None:
        return ModelFile(path)
    lo, hi = entry["normalization"]["value_range"]
    # a "generic" entry names no roles: its outputs still go by shape
    roles = tuple(t.get("role") for t in entry["outputs"]) if entry["kind"] != "generic" else None
    return ModelFile(path, entry["sha256"], (float(lo), float(hi)), roles)


def bundled_model(filename: str) -> ModelFile:
    """One of our shipped model files, with its manifest entry (sha256, value range, roles).

    Raises:
        ModelNotFoundError: the file is not in the installed package.
        ManifestError: ``model_files/manifest.json`` is missing or has no entry for it.
    """
    from ..errors import ManifestError

    path = BUNDLED_DIR / filename
    if not path.is_file():
        raise ModelNotFoundError(f"bundled model {filename} is missing from {BUNDLED_DIR}; reinstall blazepose-sdk")
    model = model_file_from_path(path)
    if model.sha256 is None:
        raise ManifestError(f"bundled model {filename} has no entry in {BUNDLED_DIR / MANIFEST_NAME}")
    return model


def official_model_shipped(filename: str) -> bool:
    """Whether the package ships the official file ``filename`` (its manifest entry has the pinned
    sha256): the detector and Lite are, so ``reference-lite`` needs no fetch."""
    if filename not in REFERENCE_FILES or not (BUNDLED_DIR / filename).is_file():
        return False
    return bundled_model(filename).sha256 == REFERENCE_FILES[filename][1]


def _official_model(filename: str) -> ModelFile:
    """An official MediaPipe file: the shipped copy when the package carries it (the detector and
    Lite, byte-identical to the pinned files), else the cached one."""
    if official_model_shipped(filename):
        return bundled_model(filename)
    return reference_model(filename)


def available_pipelines() -> list[str]:
    """Names accepted by :func:`resolve_pipeline`: the default first, then the other shipped
    pipelines, then the official ones fetched into the cache."""
    shipped = [DEFAULT_PIPELINE] + sorted(set(BUNDLED_PIPELINES) - {DEFAULT_PIPELINE})
    return shipped + sorted(REFERENCE_PIPELINES)


def resolve_pipeline(name: str) -> PipelineModels:
    """Resolve a pipeline name (``blazepose-lite``, ``ours-lite``, ``reference-lite|full|heavy``)
    to its model files."""
    if name in BUNDLED_PIPELINES:
        detector, landmark = BUNDLED_PIPELINES[name]
        tiles = BUNDLED_TILE_DETECTORS.get(name)
        return PipelineModels(name, bundled_model(detector), bundled_model(landmark),
                              bundled_model(tiles) if tiles else None)
    if name in REFERENCE_PIPELINES:
        return PipelineModels(name, _official_model("pose_detection.tflite"),
                              _official_model(REFERENCE_PIPELINES[name]))
    raise ModelNotFoundError(f"unknown model {name!r}; choose one of {available_pipelines()} or pass file paths")
