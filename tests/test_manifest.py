"""blazepose_sdk.assets.manifest: manifest.json beside user models is written, read, checked and used."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from blazepose_sdk.assets.manifest import (
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    entry_for_model,
    load_manifest,
    manifest_entry,
    update_manifest,
)
from blazepose_sdk.assets.models import REFERENCE_FILES, model_file_from_path
from blazepose_sdk.errors import ManifestError, ModelHashMismatchError, ModelSignatureError
from blazepose_sdk.geometry.roi import roi_from_alignment_points
from blazepose_sdk.stages.detector import PoseDetector
from blazepose_sdk.stages.landmarker import PoseLandmarker
from blazepose_sdk.stages.roles import output_roles
from blazepose_sdk.stages.runtime import TFLiteModel
from blazepose_sdk.tracker import PoseTracker, TrackerOptions

DETECTOR = "pose_detection.tflite"
LANDMARK = "pose_landmark_lite.tflite"
# Output shapes of the official models, in interpreter order (pose_detection.tflite, pose_landmark_lite.tflite).
DETECTOR_SHAPES = [(1, 2254, 12), (1, 2254, 1)]
LANDMARK_SHAPES = [(1, 195), (1, 1), (1, 256, 256, 1), (1, 64, 64, 39), (1, 117)]


@pytest.fixture()
def model_copies(reference_models, tmp_path):
    """The official detector and lite landmark model copied to tmp, with a manifest beside them."""
    for name in (DETECTOR, LANDMARK):
        shutil.copy(reference_models / name, tmp_path / name)
    update_manifest(tmp_path, manifest_entry(tmp_path / DETECTOR, "detector", "float32", (-1.0, 1.0)))
    update_manifest(tmp_path, manifest_entry(tmp_path / LANDMARK, "landmark", "float32", (0.0, 1.0)))
    return tmp_path


def _static(folder, **kw):
    return PoseTracker(TrackerOptions(detector_model=folder / DETECTOR, landmark_model=folder / LANDMARK,
                                      static_image_mode=True, num_threads=1, **kw))


def test_output_roles_on_the_official_shapes(reference_models):
    assert output_roles("detector", DETECTOR_SHAPES, 224) == ["boxes", "scores"]
    assert output_roles("landmark", LANDMARK_SHAPES, 256) == ["landmarks", "presence", "segmentation", "heatmap", "world"]
    # 2254 is the anchor count of a 224 input only: a 128 input has other anchors
    assert output_roles("detector", DETECTOR_SHAPES, 128) == [None, None]
    assert output_roles("landmark", [(1, 195), (1, 1)], 256) == ["landmarks", "presence"]  # no heatmap: R from size
    assert output_roles("generic", LANDMARK_SHAPES, 256) == [None] * 5
    # the stages pick the same outputs as the pure rules
    with TFLiteModel(reference_models / LANDMARK) as m:
        assert [o.shape for o in m.outputs] == LANDMARK_SHAPES
        lmk = PoseLandmarker(m)
        assert (lmk.landmarks_output, lmk.presence_output, lmk.heatmap_output, lmk.world_output) == (0, 1, 3, 4)
    with TFLiteModel(reference_models / DETECTOR) as m:
        assert [o.shape for o in m.outputs] == DETECTOR_SHAPES
        det = PoseDetector(m)
        assert (det.box_output, det.score_output) == (0, 1)


def test_entry_round_trips(model_copies, reference_models):
    path = model_copies / LANDMARK
    entry = entry_for_model(path)
    assert entry["file"] == LANDMARK and entry["sha256"] == REFERENCE_FILES[LANDMARK][1]
    assert entry["bytes"] == path.stat().st_size and entry["kind"] == "landmark"
    assert entry["normalization"]["value_range"] == [0.0, 1.0]
    assert [t["role"] for t in entry["outputs"]] == ["landmarks", "presence", "segmentation", "heatmap", "world"]
    assert [t["shape"] for t in entry["outputs"]] == [list(s) for s in LANDMARK_SHAPES]
    data = load_manifest(model_copies)
    assert data["format"] == MANIFEST_FORMAT and set(data["models"]) == {DETECTOR, LANDMARK}
    assert json.loads(json.dumps(entry)) == data["models"][LANDMARK]
    mf = model_file_from_path(path)
    assert mf.sha256 == entry["sha256"] and mf.value_range == (0.0, 1.0)
    assert mf.output_roles == ("landmarks", "presence", "segmentation", "heatmap", "world")
    # no entry for the file / the reference cache's own record (no "format") / no manifest: None
    shutil.copy(path, model_copies / "other.tflite")
    assert entry_for_model(model_copies / "other.tflite") is None
    assert model_file_from_path(model_copies / "other.tflite").sha256 is None
    assert entry_for_model(reference_models / LANDMARK) is None
    assert entry_for_model(model_copies / "sub" / LANDMARK) is None


@pytest.mark.parametrize("text", [
    "{not json",
    json.dumps({"format": "blazepose-sdk-manifest/99", "models": {}}),
    json.dumps({"format": MANIFEST_FORMAT, "models": {LANDMARK: {"file": LANDMARK}}}),
])
def test_bad_manifest_is_refused(tmp_path, text):
    (tmp_path / MANIFEST_FILE).write_text(text)
    with pytest.raises(ManifestError):
        entry_for_model(tmp_path / LANDMARK)
    with pytest.raises(ManifestError):
        load_manifest(tmp_path)


def test_duplicate_role_is_refused(model_copies):
    data = load_manifest(model_copies)
    data["models"][LANDMARK]["outputs"][4]["role"] = "landmarks"
    (model_copies / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="landmarks"):
        _static(model_copies)


def test_tracker_uses_manifest_and_refuses_changed_file(model_copies, reference_models, basketball_rgb):
    with _static(model_copies) as tracker:
        got = tracker.process(basketball_rgb, 0)
        assert tracker.detector.value_range == (-1.0, 1.0) and tracker.landmarker.value_range == (0.0, 1.0)
    with PoseTracker(TrackerOptions(detector_model=reference_models / DETECTOR,
                                    landmark_model=reference_models / LANDMARK,
                                    static_image_mode=True, num_threads=1)) as tracker:
        ref = tracker.process(basketball_rgb, 0)
    assert got.pose is not None and got.pose.presence > 0.5
    np.testing.assert_array_equal(got.pose.array_px, ref.pose.array_px)
    # the left player: hips in the left half of the 640x480 frame
    assert got.pose.array_px[23:25, 0].max() < 320

    data = bytearray((model_copies / LANDMARK).read_bytes())
    data[-1] ^= 0xFF
    (model_copies / LANDMARK).write_bytes(bytes(data))
    with pytest.raises(ModelHashMismatchError):
        _static(model_copies)


class _WithDecoy:
    """A loaded model with an extra all-zero output placed first, shaped like ``copy_of``."""

    def __init__(self, model, copy_of: int):
        self.model, self.path, self.inputs = model, model.path, model.inputs
        self._shape = model.outputs[copy_of].shape
        self.outputs = [dataclasses.replace(model.outputs[copy_of], name="decoy"), *model.outputs]

    def run(self, *x):
        return [np.zeros(self._shape, np.float32), *self.model.run(*x)]


def test_given_roles_are_honoured(reference_models, basketball_rgb):
    with TFLiteModel(reference_models / DETECTOR) as dm, TFLiteModel(reference_models / LANDMARK) as lm:
        detection = PoseDetector(dm)(basketball_rgb)[0]
        roi = roi_from_alignment_points(detection.hip_center_px, detection.body_circle_px)
        expected = PoseLandmarker(lm)(basketball_rgb, roi)

        decoyed = _WithDecoy(lm, copy_of=0)  # a zero (1, 195) output before the real landmarks
        by_shape = PoseLandmarker(decoyed)
        assert by_shape.landmarks_output == 0  # the shape rules take the decoy
        roles = [None, "landmarks", "presence", "segmentation", "heatmap", "world"]
        by_role = PoseLandmarker(decoyed, output_roles=roles)
        assert (by_role.landmarks_output, by_role.presence_output, by_role.heatmap_output, by_role.world_output) == (1, 2, 4, 5)
        got = by_role(basketball_rgb, roi)
        np.testing.assert_allclose(got.landmarks_px, expected.landmarks_px, rtol=0, atol=1e-9)
        assert not np.allclose(by_shape(basketball_rgb, roi).landmarks_px, expected.landmarks_px, atol=1.0)

        no_world = PoseLandmarker(lm, output_roles=["landmarks", "presence", None, "heatmap", None])
        assert no_world.world_output is None and np.isnan(no_world(basketball_rgb, roi).world_m).all()
        with pytest.raises(ModelSignatureError):  # world and landmarks swapped: sizes do not fit
            PoseLandmarker(lm, output_roles=["world", "presence", None, "heatmap", "landmarks"])
        with pytest.raises(ModelSignatureError):  # one role per output
            PoseLandmarker(lm, output_roles=["landmarks", "presence"])

        det = PoseDetector(_WithDecoy(dm, copy_of=1), output_roles=[None, "boxes", "scores"])
        assert (det.box_output, det.score_output) == (1, 2)
        assert det(basketball_rgb)[0] == detection


def test_manifest_value_range_is_used(model_copies, basketball_rgb):
    entry = entry_for_model(model_copies / LANDMARK)
    entry["normalization"]["value_range"] = [-1.0, 1.0]  # wrong for this model
    update_manifest(model_copies, entry)
    with _static(model_copies) as wrong:
        assert wrong.landmarker.value_range == (-1.0, 1.0)
        detection = wrong.detector(basketball_rgb)[0]
        roi = roi_from_alignment_points(detection.hip_center_px, detection.body_circle_px)
        bad = wrong.landmarker(basketball_rgb, roi)
        with TFLiteModel(model_copies / LANDMARK) as lm:
            good = PoseLandmarker(lm)(basketball_rgb, roi)
    shift = np.abs(bad.landmarks_px[:, :2] - good.landmarks_px[:, :2]).max()
    assert shift > 5.0, shift
