"""Lite-HRNet: shapes, parameter/FLOP counts against the paper's table, the DARK decoder, and
the top-down wrapper exported to TFLite (float and INT8) running in the SDK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from training.models.heatmap_decode import DarkDecode, argmax_decode, dark_decode, gaussian_heatmaps_np
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


def test_dark_decoder_recovers_subpixel_peaks():
    rng = np.random.default_rng(1)
    pts = rng.uniform(4, 44, (6, 2))
    hm = gaussian_heatmaps_np(pts, 48, 48, 2.0).astype(np.float32)
    xy_arg, maxv = argmax_decode(hm)
    xy, maxv2 = dark_decode(hm)
    assert np.abs(xy - pts).max() < 0.05  # arg-max alone is off by up to 0.5 cell
    assert np.abs(xy_arg - pts).max() > 0.1
    np.testing.assert_allclose(maxv, maxv2)
    graph = DarkDecode()(hm[None]).numpy()[0]
    np.testing.assert_allclose(graph[:, :2], xy, atol=1e-3)
    np.testing.assert_allclose(graph[:, 2], maxv, rtol=1e-5)


def test_aux_points_match_alignment_definition():
    from training.data.sample import alignment_points
    from training.models.topdown import aux_points

    rng = np.random.default_rng(2)
    xy = rng.uniform(20, 200, (33, 2))
    expected = alignment_points(xy, np.ones(33))[:2]
    np.testing.assert_allclose(aux_points(xy), expected, atol=1e-9)


def _topdown_student(num_keypoints=33):
    from training.models.topdown import build_topdown_model

    hm = build_lite_hrnet(variant("lite_hrnet_tiny", input_height=256, input_width=256, num_keypoints=num_keypoints))
    return hm, build_topdown_model(hm)


def test_topdown_rows_from_heatmaps():
    """Known heatmaps in -> landmark rows at the DARK positions x stride, aux rows as the
    alignment definition, logits of the peaks, zero world."""
    import keras

    from training.data.sample import alignment_points
    from training.models.topdown import TopDownDecode

    rng = np.random.default_rng(3)
    pts = rng.uniform(6, 58, (33, 2))
    peaks = rng.uniform(0.2, 0.9, 33)
    hm = (gaussian_heatmaps_np(pts, 64, 64, 2.0) * peaks).astype(np.float32)[None]
    inp = keras.Input((64, 64, 33))
    model = keras.Model(inp, TopDownDecode(33, 39, 4.0)(inp))
    rows, presence, world = (np.asarray(t) for t in model(hm))
    rows = rows.reshape(39, 5)
    np.testing.assert_allclose(rows[:33, :2], pts * 4.0, atol=0.25)
    hm_max = hm.reshape(-1, 33).max(0)
    np.testing.assert_allclose(1 / (1 + np.exp(-rows[:33, 3])), hm_max, rtol=1e-3)
    np.testing.assert_allclose(rows[33:35, :2], alignment_points(rows[:33, :2], np.ones(33))[:2], atol=1e-3)
    assert np.all(rows[35:] == 0) and np.all(world == 0)
    assert presence.shape == (1, 1) and presence[0, 0] == pytest.approx(hm_max.mean(), rel=1e-3)


def test_coco17_model_fills_33_rows():
    _, model = _topdown_student(num_keypoints=17)
    rows, presence, world = (np.asarray(t) for t in model(np.zeros((1, 256, 256, 3), np.float32)))
    assert rows.shape == (1, 195) and presence.shape == (1, 1) and world.shape == (1, 117)


@pytest.mark.reference
@pytest.mark.skipif(not (DATA / "basketball1.png").exists(), reason="shared data not present")
def test_exported_student_runs_in_sdk(tmp_path):
    """Float and INT8 TFLite of an untrained student load in the SDK and run through the tracker."""
    from blazepose_sdk.assets.models import reference_dir
    from blazepose_sdk.stages.runtime import TFLiteModel
    from blazepose_sdk.tracker import PoseTracker, TrackerOptions
    from blazepose_sdk.app.video import read_image
    from training.models.topdown import export_tflite

    detector = Path(reference_dir()) / "pose_detection.tflite"
    if not detector.exists():
        pytest.skip("reference models not fetched (blazepose models fetch-reference)")
    _, model = _topdown_student()
    crops = [np.random.default_rng(i).uniform(0, 1, (1, 256, 256, 3)).astype(np.float32) for i in range(2)]
    paths = export_tflite(model, tmp_path / "student.tflite", tmp_path / "student_int8.tflite", lambda: iter(crops))
    keras_rows = np.asarray(model(crops[0])[0]).reshape(39, 5)
    image = read_image(DATA / "basketball1.png")
    for path in paths:
        with TFLiteModel(path) as m:
            shapes = sorted(tuple(s.shape) for s in m.outputs)
            assert shapes == [(1, 1), (1, 117), (1, 195)]
            if path.name == "student.tflite":
                out = {int(np.prod(s.shape)): o for s, o in zip(m.outputs, m.run(crops[0]))}
                np.testing.assert_allclose(out[195].reshape(39, 5), keras_rows, atol=1e-2)
        with PoseTracker(TrackerOptions(detector_model=str(detector), landmark_model=str(path),
                                        static_image_mode=True, min_tracking_confidence=0.0)) as tracker:
            result = tracker.process(image, timestamp_ms=0)
        assert result.detector_ran
        if result.pose is not None:
            assert result.pose.array_px.shape == (33, 5) and np.isfinite(result.pose.array_px).all()
