"""Pose.mask through the tracker and the CLI: MediaPipe parity, smoothing on video, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.app.cli import main
from blazepose_sdk.geometry.segmentation import mask_iou, smooth_mask
from parity_images import derive_image, make_pan_clip, rle_decode

# written by tools/make_parity_fixtures.py --masks (MediaPipe 0.10.21, model_complexity=1)
MASKS = json.loads((Path(__file__).parent / "data" / "parity" / "mediapipe_legacy_masks.json").read_text())
# issue 17: mean IoU of the binarised masks against MediaPipe's legacy solution on the parity images
MIN_MEAN_IOU = 0.95


@pytest.mark.reference
def test_masks_match_mediapipe_on_the_parity_images(reference_models, shared_data):
    ious = []
    with PoseTracker(TrackerOptions(model="reference-full", static_image_mode=True, enable_segmentation=True,
                                    num_threads=2)) as tracker:
        for entry in MASKS["images"]:
            result = tracker.process(derive_image(entry["spec"], shared_data))
            if entry["mask_rle"] is None:
                assert result.pose is None, entry["spec"]
                continue
            mask = result.pose.mask
            assert mask.shape == (entry["height"], entry["width"]) and mask.dtype == np.float32
            ious.append(mask_iou(mask, rle_decode(entry["mask_rle"], entry["height"], entry["width"])))
    assert len(ious) == 13
    assert np.mean(ious) >= MIN_MEAN_IOU, ious
    assert min(ious) >= 0.9, ious


def test_mask_only_on_request_and_in_frame_pixels(basketball_rgb):
    with PoseTracker(TrackerOptions(static_image_mode=True)) as plain:
        assert plain.process(basketball_rgb).pose.mask is None
    with PoseTracker(TrackerOptions(static_image_mode=True, enable_segmentation=True)) as tracker:
        result = tracker.process(basketball_rgb)
        mask = result.pose.mask
        assert mask.shape == basketball_rgb.shape[:2] and mask.dtype == np.float32
        assert 0.0 <= mask.min() and mask.max() <= 1.0
        person = mask >= 0.5
        assert 0.03 < person.mean() < 0.3
        # the person's landmarks lie on the mask: most of the 33 points are "person" pixels
        xy = np.rint(result.pose.array_px[:, :2]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < mask.shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < mask.shape[0])
        assert person[xy[inside, 1], xy[inside, 0]].mean() > 0.8
        # the ROI-only path gives the same (unsmoothed) mask
        again = tracker.process_roi(basketball_rgb, result.pose.roi).pose.mask
        np.testing.assert_allclose(again, mask, atol=1e-6)


def test_video_masks_are_smoothed_as_mediapipe_does(shared_data):
    frames = make_pan_clip(shared_data, 6)
    options = dict(enable_segmentation=True, num_threads=1)
    with PoseTracker(TrackerOptions(**options)) as smoothed, \
            PoseTracker(TrackerOptions(**options, smooth_segmentation=False)) as raw:
        previous = None
        for i, frame in enumerate(frames):
            s = smoothed.process(frame, timestamp_ms=i * 33.0).pose
            r = raw.process(frame, timestamp_ms=i * 33.0).pose
            np.testing.assert_array_equal(s.array_px, r.array_px)  # same ROIs, same landmarks
            expected = r.mask if previous is None else smooth_mask(r.mask, previous)
            np.testing.assert_allclose(s.mask, expected, atol=1e-6)
            if previous is not None:
                assert np.abs(s.mask - r.mask).max() > 0.01  # the smoothing did something
            previous = s.mask


def _cli(argv, capsys):
    code = main([*argv, "--no-progress"])
    return code, [line for line in capsys.readouterr().err.splitlines() if "XNNPACK" not in line]


def test_cli_writes_masks_for_an_image_a_folder_and_a_video(shared_data, tmp_path, capsys):
    code, err = _cli(["run", str(shared_data / "basketball1.png"), "--mask", str(tmp_path / "m.png")], capsys)
    assert code == 0, err
    mask = cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (480, 640) and 0.03 < (mask >= 128).mean() < 0.3

    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), cv2.imread(str(shared_data / "basketball1.png")))
    cv2.imwrite(str(folder / "empty.png"), np.zeros((60, 80, 3), np.uint8))
    code, err = _cli(["run", str(folder), "--mask", str(tmp_path / "masks")], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["a.png", "empty.png"]
    assert cv2.imread(str(tmp_path / "masks" / "empty.png")).max() == 0  # nobody: black

    code, err = _cli(["run", str(shared_data / "vtest.avi"), "--mask", str(tmp_path / "m.mp4"),
                      "--max-frames", "12"], capsys)
    assert code == 0, err
    video = cv2.VideoCapture(str(tmp_path / "m.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert (int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (768, 576)
    video.release()


@pytest.mark.parametrize("mask, message", [("m.xyz", "unknown extension"), ("nodir/m.mp4", "does not exist"),
                                           ("v.mp4", "--out and --mask name the same path")])
def test_cli_mask_mistakes_are_one_line_before_any_model_loads(shared_data, tmp_path, capsys, mask, message):
    code, err = _cli(["run", str(shared_data / "vtest.avi"), "--out", str(tmp_path / "v.mp4"),
                      "--mask", str(tmp_path / mask)], capsys)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "v.mp4").exists()


def test_options_file_turns_segmentation_on(tmp_path):
    from blazepose_sdk.options import tracker_options_from_dict

    o = tracker_options_from_dict({"enable_segmentation": True, "smooth_segmentation": False})
    assert o.enable_segmentation and not o.smooth_segmentation

