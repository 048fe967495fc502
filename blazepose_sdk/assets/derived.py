"""Model files derived on this machine from a checked model file: the landmark model without its
segmentation decoder.

Every BlazePose landmark model computes a (1, S, S, 1) segmentation map (S = 256) on each run,
whether or not a mask is asked for. The decoder that upsamples it to the input's size is about half
of the Lite model's time on a 2-core x86 CPU (30% of Full's, 9% of Heavy's), for 17% of its
FLOPs: measured in docs/lab/2026-12-06_mask_free.md. When no
mask is wanted the tracker runs :func:`landmark_without_mask`'s model instead: the same file with
the segmentation output and every operator only it needed removed
(:func:`blazepose_sdk.assets.tflite_file.without_outputs`). The other outputs are computed by the same
operators on the same weights, so landmarks, presence, heatmap and world landmarks are bit-identical.

The derived bytes are written once into the model cache (``cache_dir()/derived/``, named by the
source's sha256, with the derived file's own sha256 beside it), so later processes skip the
derivation (0.2 s for Lite, 0.5 s for Heavy). An unwritable cache only costs that time per load.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelHashMismatchError, ModelNotFoundError
from ..stages.roles import output_roles
from . import tflite_file
from .models import ModelFile, cache_dir

SEGMENTATION = "segmentation"
MASK_FREE_SUFFIX = "no-segmentation"


@dataclass(frozen=True)
class DerivedModel:
    """A model's bytes derived from ``source`` and its output roles (interpreter order)."""

    source: ModelFile
    content: bytes
    output_roles: tuple[str | None, ...]
    sha256: str


def derived_dir() -> Path:
    return cache_dir() / "derived"


def _read_checked(model_file: ModelFile) -> bytes:
    path = Path(model_file.path)
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    content = path.read_bytes()
    if model_file.sha256 is not None:
        actual = hashlib.sha256(content).hexdigest()
        if actual != model_file.sha256:
            raise ModelHashMismatchError(
                f"{path} has sha256 {actual}, expected {model_file.sha256}; the file is corrupt or a different "
                "version: delete it and fetch it again (`blazepose models fetch-reference`)")
    return content


def landmark_roles(content: bytes, given: tuple[str | None, ...] | None = None) -> list[str | None]:
    """Output roles of a landmark model's bytes: ``given`` (a manifest's), else by shape."""
    if given is not None:
        return list(given)
    f = tflite_file.load(content)
    graph = tflite_file.subgraph(f)
    shapes = [graph.tensors[i].shape for i in graph.outputs]
    size = graph.tensors[graph.inputs[0]].shape[1] if graph.inputs else None
    return output_roles("landmark", shapes, size)


def landmark_without_mask(model_file: ModelFile) -> DerivedModel | None:
    """``model_file`` (a landmark model; its sha256 checked when it has one) without its
    segmentation output and decoder, from the cache or derived now (and cached when the cache is
    writable). None when the model has no segmentation output or no TFLite schema module with the
    object API is installed (``tflite-runtime`` alone): the caller runs the file as it is.

    Raises:
        ModelNotFoundError, ModelHashMismatchError: as loading the file itself would.
    """
    content = _read_checked(model_file)
    try:
        roles = landmark_roles(content, model_file.output_roles)
    except Exception:  # noqa: BLE001 - not a model this reader can parse: loading the file says why
        return None
    drop = {k for k, role in enumerate(roles) if role == SEGMENTATION}
    if not drop or len(drop) == len(roles):
        return None
    kept_roles = tuple(role for k, role in enumerate(roles) if k not in drop)
    source_sha = hashlib.sha256(content).hexdigest()
    cached = derived_dir() / f"{source_sha}-{MASK_FREE_SUFFIX}.tflite"
    derived = _read_cached(cached)
    if derived is None:
        if tflite_file.object_api_schema() is None:
            return None
        try:
            derived = tflite_file.without_outputs(content, drop)
        except Exception:  # noqa: BLE001 - a damaged flatbuffer: loading the file itself gives the typed error
            return None
        _write_cached(cached, derived)
    return DerivedModel(model_file, derived, kept_roles, hashlib.sha256(derived).hexdigest())


def _read_cached(path: Path) -> bytes | None:
    """The cached derived bytes when they match the sha256 written beside them, else None."""
    try:
        content = path.read_bytes()
        expected = path.with_suffix(".sha256").read_text().strip()
    except OSError:
        return None
    return content if hashlib.sha256(content).hexdigest() == expected else None


def _write_cached(path: Path, content: bytes) -> None:
    """Write ``content`` and its sha256 atomically (a crash leaves no half file); an unwritable
    cache is not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, data in ((path, content), (path.with_suffix(".sha256"), hashlib.sha256(content).hexdigest().encode())):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
    except OSError:
        return
