"""Copy exported models into the SDK's package data (blazepose_sdk/model_files) under the names
of a bundled pipeline, with fresh manifest entries.

    python tools/ship_models.py --pipeline ours-lite --landmark RUN/export/MODEL_int8.tflite
        [--detector DETECTOR.tflite]

Only our own files (``ours_*``) are replaced: a pipeline whose detector is the official
``pose_detection.tflite`` (ours-lite) takes no --detector, and the official files are never
overwritten.

Each source file must have an entry in the ``manifest.json`` beside it (the trainers' and
``python -m convert``'s exports write one); its kind, precision, value range and source carry
over, the sha256 and size are recomputed for the copy, and the model is loaded once to check
that the SDK accepts it for its stage. How the models were made is recorded by hand in
blazepose_sdk/model_files/MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blazepose_sdk.stages.detector import PoseDetector  # noqa: E402
from blazepose_sdk.stages.landmarker import PoseLandmarker  # noqa: E402
from blazepose_sdk.assets.manifest import entry_for_model, manifest_entry, update_manifest  # noqa: E402
from blazepose_sdk.assets.models import BUNDLED_DIR, BUNDLED_PIPELINES, model_file_from_path  # noqa: E402
from blazepose_sdk.stages.runtime import TFLiteModel  # noqa: E402


def ship(source: Path, name: str, kind: str, target_dir: Path = BUNDLED_DIR) -> dict:
    """Copy ``source`` to ``target_dir/name`` and write its manifest entry; returns the entry."""
    entry = entry_for_model(source)
    if entry is None or entry["kind"] != kind:
        raise SystemExit(f"{source}: no {kind} entry in the manifest.json beside it")
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    shutil.copyfile(source, target)
    new = manifest_entry(target, kind, entry["precision"], tuple(entry["normalization"]["value_range"]),
                         source={**entry.get("source", {}), "exported_as": source.name},
                         converter=entry.get("converter", {}))
    update_manifest(target_dir, new)
    model = model_file_from_path(target)
    with TFLiteModel(model.path, expected_sha256=model.sha256) as tfl:
        stage = PoseDetector if kind == "detector" else PoseLandmarker
        stage(tfl, value_range=model.value_range, output_roles=model.output_roles)
    return new


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", default="ours-lite", choices=sorted(BUNDLED_PIPELINES))
    ap.add_argument("--detector", type=Path, default=None)
    ap.add_argument("--landmark", type=Path, required=True)
    a = ap.parse_args(argv)
    det_name, lm_name = BUNDLED_PIPELINES[a.pipeline]
    jobs = [(a.detector, det_name, "detector"), (a.landmark, lm_name, "landmark")]
    for src, name, kind in jobs:
        if src is not None and not name.startswith("ours_"):
            ap.error(f"{a.pipeline}'s {kind} is the official {name}: it is never replaced")
    for src, name, kind in jobs:
        if src is None:
            continue
        e = ship(src, name, kind)
        print(f"{name}: {e['bytes']} bytes, sha256 {e['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
