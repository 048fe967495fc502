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
source's sha256, with a JSON record beside them: the derived file's own sha256 and its output
roles), so later processes skip the derivation (0.2 s for Lite, 0.5 s for Heavy) and the parse of
the source's flatbuffer. An unwritable cache only costs that time per load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..stages.roles import output_roles
from ..stages.runtime import read_model_file
from . import tflite_file
from .models import ModelFile, cache_dir

SEGMENTATION = "segmentation"
MASK_FREE_SUFFIX = "no-segmentation"


@dataclass(frozen=True)
class DerivedModel:
    """A derived model's bytes, their sha256 and its output roles (interpreter order)."""

    content: bytes
    output_roles: tuple[str | None, ...]
    sha256: str


def derived_dir() -> Path:
    return cache_dir() / "derived"


def landmark_roles(content: bytes, given: tuple[str | None, ...] | None = None) -> list[str | None]:
    """Output roles of a landmark model's bytes: ``given`` (a manifest's), else by shape."""
    if given is not None:
        return list(given)
    f = tflite_file.load(content)
    graph = tflite_file.subgraph(f)
    shapes = [graph.tensors[i].shape for i in graph.outputs]
    size = graph.tensors[graph.inputs[0]].shape[1] if graph.inputs else None
    return output_roles("landmark", shapes, size)


def landmark_without_mask(model_file: ModelFile, content: bytes | None = None) -> DerivedModel | None:
    """``model_file`` (a landmark model) without its segmentation output and decoder, from the
    cache or derived now (and cached when the cache is writable). ``content``: the file's bytes
    when the caller has already read and checked them; else they are read here and checked
    against the file's sha256 (:func:`blazepose_sdk.stages.runtime.read_model_file`). None when
    the model has no segmentation output, cannot be parsed, or no TFLite schema module with the
    object API is installed (``tflite-runtime`` alone): the caller runs the file as it is.

    Raises:
        ModelNotFoundError, ModelHashMismatchError: as loading the file itself would.
    """
    if content is None:
        content = read_model_file(model_file.path, model_file.sha256)
    source_sha = model_file.sha256 or hashlib.sha256(content).hexdigest()
    cached = derived_dir() / f"{source_sha}-{MASK_FREE_SUFFIX}.tflite"
    hit = _read_cached(cached)
    if hit is not None:
        return hit
    try:
        roles = landmark_roles(content, model_file.output_roles)
    except Exception:  # noqa: BLE001 - not a model this reader can parse: loading the file says why
        return None
    drop = {k for k, role in enumerate(roles) if role == SEGMENTATION}
    if not drop or len(drop) == len(roles) or tflite_file.object_api_schema() is None:
        return None
    try:
        derived = tflite_file.without_outputs(content, drop)
    except Exception:  # noqa: BLE001 - a damaged flatbuffer: loading the file itself gives the typed error
        return None
    model = DerivedModel(derived, tuple(role for k, role in enumerate(roles) if k not in drop),
                         hashlib.sha256(derived).hexdigest())
    _write_cached(cached, model)
    return model


def _record_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _read_cached(path: Path) -> DerivedModel | None:
    """The cached derived model when its bytes match the sha256 recorded beside them, else None."""
    try:
        content = path.read_bytes()
        record = json.loads(_record_path(path).read_text())
        sha, roles = str(record["sha256"]), tuple(record["output_roles"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return DerivedModel(content, roles, sha) if hashlib.sha256(content).hexdigest() == sha else None


def _write_cached(path: Path, model: DerivedModel) -> None:
    """Write the derived bytes and their record atomically (a crash leaves no half file); an
    unwritable cache is not an error."""
    record = json.dumps({"sha256": model.sha256, "output_roles": list(model.output_roles)}).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, data in ((path, model.content), (_record_path(path), record)):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
    except OSError:
        return
