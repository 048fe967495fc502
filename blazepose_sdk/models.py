"""Model files: our own models (shipped inside the package, in ``blazepose_sdk/model_files/``),
the official BlazePose models (fetched with npm into a user cache) and named pipelines that
pair a detector with a landmark model.

Our models need no download: ``ours-lite`` (the default pipeline) resolves to the INT8 files in
``model_files/``, each checked against the sha256 of its entry in ``model_files/manifest.json``
(:mod:`blazepose_sdk.manifest`), which also gives their input value range and output roles.

The official models are never shipped with the SDK. ``blazepose models fetch-reference``
runs ``npm pack @mediapipe/pose@<version>``, extracts the four model files, checks each
against the sha256 recorded below and writes a manifest next to them. Loading a reference
model checks its hash again, so a truncated or replaced file is refused with a clear message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import FetchError, ModelHashMismatchError, ModelNotFoundError
from .runtime import file_sha256

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
    """The two models of a pose pipeline."""

    name: str
    detector: ModelFile
    landmark: ModelFile


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


# Our own models, shipped as package data (setup.py, MANIFEST.in); how each was made is in
# model_files/MODEL_CARD.md. pipeline name -> (detector file, landmark file).
BUNDLED_DIR = Path(__file__).resolve().parent / "model_files"
BUNDLED_PIPELINES: dict[str, tuple[str, str]] = {
    "ours-lite": ("ours_pose_detection_int8.tflite", "ours_pose_landmark_lite_int8.tflite"),
}

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
            "run `blazepose models fetch-reference` once (needs npm and the npm registry)"
        )
    return ModelFile(path, REFERENCE_FILES[filename][1])


def model_file_from_path(path: str | os.PathLike) -> ModelFile:
    """A user-given model file, with the sha256, value range and output roles of its entry in
    the ``manifest.json`` beside it (see :mod:`blazepose_sdk.manifest`), or unchecked if none.

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
    from .errors import ManifestError

    path = BUNDLED_DIR / filename
    if not path.is_file():
        raise ModelNotFoundError(f"bundled model {filename} is missing from {BUNDLED_DIR}; reinstall blazepose-sdk")
    model = model_file_from_path(path)
    if model.sha256 is None:
        raise ManifestError(f"bundled model {filename} has no entry in {BUNDLED_DIR / MANIFEST_NAME}")
    return model


def available_pipelines() -> list[str]:
    """Names accepted by :func:`resolve_pipeline`: ours first, then the official ones."""
    return sorted(BUNDLED_PIPELINES) + sorted(REFERENCE_PIPELINES)


def resolve_pipeline(name: str) -> PipelineModels:
    """Resolve a pipeline name (``ours-lite``, ``reference-lite|full|heavy``) to its model files."""
    if name in BUNDLED_PIPELINES:
        detector, landmark = BUNDLED_PIPELINES[name]
        return PipelineModels(name, bundled_model(detector), bundled_model(landmark))
    if name in REFERENCE_PIPELINES:
        return PipelineModels(
            name, reference_model("pose_detection.tflite"), reference_model(REFERENCE_PIPELINES[name])
        )
    raise ModelNotFoundError(f"unknown model {name!r}; choose one of {available_pipelines()} or pass file paths")


def _verify(path: Path, sha256: str) -> bool:
    return path.is_file() and file_sha256(path) == sha256


def fetch_reference(
    tarball: str | os.PathLike | None = None,
    npm: str = "npm",
    timeout_s: float = 600.0,
) -> Path:
    """Put the official BlazePose models into :func:`reference_dir` and return that folder.

    Idempotent: files already present with the right hash are kept, so it works offline once
    cached. Otherwise the package tarball is taken from ``tarball`` (a ``.tgz`` made by
    ``npm pack``, for machines without npm access) or fetched with ``npm pack``. Every file is
    checked against its pinned sha256 before it is moved into place; a manifest.json records
    the files, hashes and source.

    Raises:
        FetchError: npm is missing or fails, or the tarball lacks a file.
        ModelHashMismatchError: a file in the tarball has an unexpected hash.
    """
    target = reference_dir()
    target.mkdir(parents=True, exist_ok=True)
    missing = [n for n, (_, sha) in REFERENCE_FILES.items() if not _verify(target / n, sha)]
    if missing:
        with tempfile.TemporaryDirectory(prefix="blazepose_fetch_") as tmp:
            tgz = Path(tarball) if tarball else _npm_pack(Path(tmp), npm, timeout_s)
            _extract(tgz, Path(tmp) / "extract", target, missing)
    manifest = {
        "source": f"npm {REFERENCE_NPM_PACKAGE}@{REFERENCE_NPM_VERSION}",
        "license": "Apache-2.0",
        "files": {n: {"sha256": sha, "tarball_member": member} for n, (member, sha) in REFERENCE_FILES.items()},
    }
    (target / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def _npm_pack(workdir: Path, npm: str, timeout_s: float) -> Path:
    exe = shutil.which(npm)
    if exe is None:
        raise FetchError(f"{npm!r} not found; install Node.js/npm, or pass --tarball with a copy of the package")
    spec = f"{REFERENCE_NPM_PACKAGE}@{REFERENCE_NPM_VERSION}"
    try:
        proc = subprocess.run(
            [exe, "pack", spec, "--pack-destination", str(workdir), "--silent"],
            cwd=workdir, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"`npm pack {spec}` timed out after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise FetchError(f"`npm pack {spec}` failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    tgzs = sorted(workdir.glob("*.tgz"))
    if not tgzs:
        raise FetchError(f"`npm pack {spec}` produced no tarball")
    return tgzs[0]


def _extract(tgz: Path, scratch: Path, target: Path, names: list[str]) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for name in names:
                member, sha = REFERENCE_FILES[name]
                try:
                    info = tar.getmember(member)
                except KeyError as exc:
                    raise FetchError(f"{tgz} has no {member}") from exc
                source = tar.extractfile(info)
                if source is None:
                    raise FetchError(f"{member} in {tgz} is not a regular file")
                tmp_path = scratch / name
                with open(tmp_path, "wb") as out:
                    shutil.copyfileobj(source, out)
                actual = file_sha256(tmp_path)
                if actual != sha:
                    raise ModelHashMismatchError(f"{member} in {tgz} has sha256 {actual}, expected {sha}")
                shutil.move(str(tmp_path), str(target / name))
    except (tarfile.TarError, OSError) as exc:
        raise FetchError(f"cannot read {tgz}: {exc}") from exc
