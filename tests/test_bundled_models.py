"""Our own models ship inside the package (blazepose_sdk/model_files): the default pipeline runs
with no download, every file is hash-checked against the shipped manifest, and the files are
edge-sized."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk import models as models_module
from blazepose_sdk.errors import ModelHashMismatchError
from blazepose_sdk.manifest import load_manifest
from blazepose_sdk.models import BUNDLED_DIR, BUNDLED_PIPELINES, available_pipelines, resolve_pipeline
from blazepose_sdk.runtime import file_sha256
from blazepose_sdk.tracker import DEFAULT_MODEL

# The size budget for the Lite landmark model as INT8 TFLite.
MAX_LITE_LANDMARK_BYTES = 1_500_000


def test_default_pipeline_is_ours_and_shipped():
    assert DEFAULT_MODEL in BUNDLED_PIPELINES
    assert available_pipelines()[0] == DEFAULT_MODEL
    pipeline = resolve_pipeline(DEFAULT_MODEL)
    manifest = load_manifest(BUNDLED_DIR)["models"]
    for model, kind in ((pipeline.detector, "detector"), (pipeline.landmark, "landmark")):
        assert model.path.parent == BUNDLED_DIR
        entry = manifest[model.path.name]
        assert entry["kind"] == kind and entry["precision"] == "int8"
        assert model.sha256 == entry["sha256"] == file_sha256(model.path)
        assert entry["bytes"] == model.path.stat().st_size
    assert pipeline.detector.value_range == (-1.0, 1.0) and pipeline.landmark.value_range == (0.0, 1.0)
    assert pipeline.landmark.path.stat().st_size <= MAX_LITE_LANDMARK_BYTES
    assert (BUNDLED_DIR / "MODEL_CARD.md").is_file()


def test_default_tracker_runs_without_the_reference_cache(shared_data, tmp_path, monkeypatch):
    """PoseTracker() with no options: our shipped models, nothing fetched, and poses that match
    the exact labels of held-out synthetic people (seed 0: the held-out seed; training used 1)."""
    pytest.importorskip("anny")
    from training.data.synth import HumanRenderer, SynthOptions

    options = SynthOptions(background_video=str(shared_data / "vtest.avi"), background_video_step=100)
    renderer = HumanRenderer(seed=0, options=options)
    samples = [renderer(i) for i in range(12)]
    cache = tmp_path / "empty-cache"
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(cache))
    pck = []
    with PoseTracker(TrackerOptions(static_image_mode=True)) as tracker:
        assert tracker.options.model == DEFAULT_MODEL
        for sample in samples:
            result = tracker.process(sample.image_rgb())
            if result.pose is None:
                pck.append(0.0)
                continue
            xy, gt = result.pose.array_px[:, :2], sample.landmarks_px[:, :2]
            assert np.isfinite(xy).all()
            # PCK@0.2 of the longer side of the person's label box, in image pixels
            threshold = 0.2 * max(np.ptp(gt[:, 0]), np.ptp(gt[:, 1]))
            pck.append(float(np.mean(np.linalg.norm(xy - gt, axis=1) < threshold)))
    assert not cache.exists()
    # measured when shipped: 12/12 found, 10/12 with PCK@0.2 >= 0.6 (reference-lite: 9/12)
    assert sum(p >= 0.6 for p in pck) >= 8, pck


def test_a_changed_shipped_model_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "model_files"
    shutil.copytree(BUNDLED_DIR, copy)
    _, landmark = BUNDLED_PIPELINES[DEFAULT_MODEL]
    data = bytearray((copy / landmark).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / landmark).write_bytes(bytes(data))
    monkeypatch.setattr(models_module, "BUNDLED_DIR", copy)
    with pytest.raises(ModelHashMismatchError):
        PoseTracker(TrackerOptions())
