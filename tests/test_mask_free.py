"""The landmark model without its segmentation decoder: the same outputs bit for bit, derived once
into the model cache, used only when no mask is asked for."""

import hashlib

import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.assets import derived, tflite_file
from blazepose_sdk.assets.models import ModelFile, resolve_pipeline
from blazepose_sdk.errors import ModelHashMismatchError
from blazepose_sdk.stages.runtime import TFLiteModel

LITE = resolve_pipeline("blazepose-lite").landmark


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _outputs(model: TFLiteModel, x: np.ndarray) -> dict[tuple, np.ndarray]:
    return {spec.shape: out for spec, out in zip(model.outputs, model.run(x))}


def test_without_outputs_keeps_the_other_outputs_bit_identical_and_drops_the_decoder():
    content = LITE.path.read_bytes()
    pruned = tflite_file.without_outputs(content, {2})
    full, lite = tflite_file.subgraph(tflite_file.load(content)), tflite_file.subgraph(tflite_file.load(pruned))
    assert len(lite.outputs) == len(full.outputs) - 1
    assert len(lite.operators) < len(full.operators) - 30  # the decoder's ops are gone
    a = TFLiteModel(LITE.path, 1)
    b = TFLiteModel(LITE.path, 1, content=pruned)
    x = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    oa, ob = _outputs(a, x), _outputs(b, x)
    assert (1, 256, 256, 1) in oa and (1, 256, 256, 1) not in ob
    assert all(np.array_equal(oa[shape], ob[shape]) for shape in ob)
    with pytest.raises(ValueError):
        tflite_file.without_outputs(content, {7})
    with pytest.raises(ValueError):
        tflite_file.without_outputs(content, {0, 1, 2, 3, 4})


def test_the_derived_model_is_cached_checked_and_rederived_when_damaged(cache):
    first = derived.landmark_without_mask(LITE)
    assert first is not None and "segmentation" not in first.output_roles and len(first.output_roles) == 4
    cached = list((cache / "derived").glob("*.tflite"))
    assert len(cached) == 1 and cached[0].read_bytes() == first.content
    assert derived.landmark_without_mask(LITE).content == first.content  # read back
    cached[0].write_bytes(first.content[:1000])  # a damaged copy is not used
    assert derived.landmark_without_mask(LITE).content == first.content
    assert hashlib.sha256(cached[0].read_bytes()).hexdigest() == first.sha256


def test_an_unwritable_cache_only_costs_the_derivation(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(blocker))
    assert derived.landmark_without_mask(LITE) is not None


def test_a_model_file_with_the_wrong_hash_is_refused(cache):
    with pytest.raises(ModelHashMismatchError):
        derived.landmark_without_mask(ModelFile(LITE.path, "0" * 64))


def test_a_model_without_a_segmentation_output_is_used_as_it_is(cache, tmp_path):
    no_mask = tmp_path / "no_mask.tflite"
    no_mask.write_bytes(tflite_file.without_outputs(LITE.path.read_bytes(), {2}))
    assert derived.landmark_without_mask(ModelFile(no_mask)) is None


def test_the_tracker_prunes_only_without_masks_and_the_poses_do_not_change(cache, shared_data):
    from blazepose_sdk.app.video import VideoReader

    def run(**options):
        poses = []
        with PoseTracker(TrackerOptions(num_threads=1, **options)) as t, VideoReader(shared_data / "vtest.avi") as r:
            outputs = len(t.landmarker.model.outputs)
            for i, (t_ms, frame) in enumerate(r):
                if i == 220:  # a person is tracked from about frame 170
                    break
                result = t.process(frame, timestamp_ms=t_ms)
                poses.append(None if result.pose is None else (result.pose.array_px, result.pose.mask))
        return outputs, poses

    pruned_outputs, pruned = run()
    full_outputs, full = run(prune_segmentation=False)
    mask_outputs, masked = run(enable_segmentation=True)
    assert (pruned_outputs, full_outputs, mask_outputs) == (4, 5, 5)
    assert any(p is not None for p in pruned)
    for a, b, m in zip(pruned, full, masked):
        assert (a is None) == (b is None) == (m is None)
        if a is not None:
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[0], m[0])
            assert a[1] is None and m[1] is not None


def test_a_damaged_model_file_is_left_to_the_loader_to_refuse(cache, tmp_path):
    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(LITE.path.read_bytes()[:64])  # the TFL3 identifier, then nothing usable
    assert derived.landmark_without_mask(ModelFile(damaged)) is None
    assert not (cache / "derived").exists()
