"""Lite-HRNet: shapes, parameter/FLOP counts against the paper's table, and a student exported
to TFLite (float and all-integer INT8) running in the SDK (the SDK's heatmap decoding itself:
tests/test_heatmaps.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from blazepose_sdk.geometry.heatmaps import heatmap_landmark_rows
from training.models.lite_hrnet import (
    PAPER_TABLE_COCO_256x192,
    build_lite_hrnet,
    count_flops,
    count_params,
    variant,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.parametrize("name", ["lite_hrnet_18", "lite_hrnet_30"])
def test_paper_param_and_flop_counts(name):
    """COCO 256x192, 17 keypoints: params within 5% of the paper's 1.1M / 1.8M (which are
    rounded to 0.1M); conv multiply-adds within 5% of its 205.2M / 319.2M."""
    model = build_lite_hrnet(variant(name, num_keypoints=17))
    assert tuple(model.output.shape) == (None, 64, 48, 17)
    paper = PAPER_TABLE_COCO_256x192[name]
    params = count_params(model)
    assert abs(params - paper["params"]) / paper["params"] < 0.05, params
    flops = count_flops(model)
    assert abs(flops["macs"] - paper["flops"]) / paper["flops"] < 0.05, flops
    assert flops["flops"] == 2 * flops["macs"] and flops["mmcv"] > flops["macs"]


def test_tiny_forward_shapes_and_branch_widths():
    cfg = variant("lite_hrnet_tiny", input_height=128, input_width=96, num_keypoints=33)
    assert cfg.branch_channels == (16, 32, 64, 128)
    model = build_lite_hrnet(cfg)
    out = model(np.zeros((2, 128, 96, 3), np.float32))
    assert out.shape == (2, 32, 24, 33)
    # One fusion per module, every branch to every branch: 4 branches -> 4 sums in stage 3.
    names = {layer.name for layer in model.layers}
    assert {f"s2m0_fuse_to{i}_add" for i in range(4)} <= names
    with pytest.raises(ValueError):
        build_lite_hrnet(variant("lite_hrnet_tiny", input_height=100, input_width=96))


@pytest.mark.skipif(not (DATA / "basketball1.png").exists(), reason="shared data not present")
def test_exported_student_runs_in_sdk(tmp_path):
    """Float and INT8 TFLite of an untrained student: heatmaps out (the INT8 graph all-integer
    between its input QUANTIZE and output DEQUANTIZE), decoded by the SDK as the Keras heatmaps
    are, and run through the tracker."""
    from blazepose_sdk.app.video import read_image
    from blazepose_sdk.assets.models import bundled_model
    from blazepose_sdk.stages.landmarker import PoseLandmarker
    from blazepose_sdk.stages.runtime import TFLiteModel
    from blazepose_sdk.tracker import PoseTracker, TrackerOptions
    from convert.aeq import op_precisions
    from training.models.export import to_tflite

    model = build_lite_hrnet(variant("lite_hrnet_tiny", input_height=192, input_width=192, num_keypoints=33))
    crops = [np.random.default_rng(i).uniform(0, 1, (1, 192, 192, 3)).astype(np.float32) for i in range(2)]
    paths = [to_tflite(model, tmp_path / "student.tflite"),
             to_tflite(model, tmp_path / "student_int8.tflite", "int8", lambda: iter(crops))]
    ops = op_precisions(paths[1])
    assert ops[0][0] == "QUANTIZE" and ops[-1][0] == "DEQUANTIZE"
    assert all(dtype == "int8" for _, _, dtype in ops[:-1]), [op for op in ops if op[2] != "int8"]
    keras_rows, keras_presence = heatmap_landmark_rows(np.asarray(model(crops[0])), 192)
    detector = bundled_model("pose_detection.tflite").path
    image = read_image(DATA / "basketball1.png")
    for path in paths:
        with TFLiteModel(path) as m:
            assert [tuple(o.shape) for o in m.outputs] == [(1, 48, 48, 33)]
            if path.name == "student.tflite":
                landmarker = PoseLandmarker(m)
                assert landmarker.keypoint_heatmaps_output == 0 and landmarker.num_rows == 35
                rows, presence = heatmap_landmark_rows(m.run(crops[0])[0], 192)
                np.testing.assert_allclose(rows[:, :2], keras_rows[:, :2], atol=2e-3)
                assert presence == pytest.approx(keras_presence, abs=1e-3)
        with PoseTracker(TrackerOptions(detector_model=str(detector), landmark_model=str(path),
                                        static_image_mode=True, min_tracking_confidence=0.0)) as tracker:
            result = tracker.process(image, timestamp_ms=0)
        assert result.detector_ran
        assert result.pose is not None and result.pose.array_px.shape == (33, 5)
        assert np.isfinite(result.pose.array_px).all() and np.isnan(result.pose.world_m).all()
