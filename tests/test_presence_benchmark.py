"""The presence suite (`blazepose bench presence`) and the default pipeline on person-free frames.

AUROC and the threshold error rates against hand-computed answers; the geometry that keeps
negatives person-free; the suite end to end on its quick set with the shipped default pipeline
as labeller; and the default `PoseTracker` finding nobody on images and videos without people.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from blazepose_sdk.bench import presence as P
from blazepose_sdk.bench.metrics import auroc, threshold_error_rates
from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.assets.models import DEFAULT_PIPELINE, resolve_pipeline
from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.stages.runtime import file_sha256

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# -- metrics ---------------------------------------------------------------------------------
def test_auroc_hand_computed():
    assert auroc([0.9, 0.8, 0.7], [0.1, 0.2]) == 1.0  # perfect separation
    assert auroc([0.1, 0.2], [0.9, 0.8, 0.7]) == 0.0  # reversed
    assert auroc([0.5, 0.5], [0.5, 0.5, 0.5]) == 0.5  # all tied
    # pairs (pos, neg): 0.9 beats both, 0.5 ties 0.5 (1/2) and beats 0.1, 0.2 beats 0.1 only: 4.5 / 6
    assert auroc([0.9, 0.5, 0.2], [0.5, 0.1]) == pytest.approx(0.75)
    # independent of the order of the samples and of any increasing transform of the score
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 1.0, 50)
    value = auroc(pos, neg)
    assert auroc(rng.permutation(pos), rng.permutation(neg)) == pytest.approx(value)
    assert auroc(np.exp(pos), np.exp(neg)) == pytest.approx(value)
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in np.round(pos, 1) for n in np.round(neg, 1)])
    assert auroc(np.round(pos, 1), np.round(neg, 1)) == pytest.approx(brute)  # with many ties


def test_auroc_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    pos, neg = np.round(rng.uniform(0.3, 1.0, 30), 2), np.round(rng.uniform(0.0, 0.7, 45), 2)
    labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    assert auroc(pos, neg) == pytest.approx(metrics.roc_auc_score(labels, np.r_[pos, neg]))


def test_auroc_rejects_empty_and_non_finite():
    with pytest.raises(ValueError, match="positives and negatives"):
        auroc([], [0.1])
    with pytest.raises(ValueError, match="finite"):
        auroc([0.5, float("nan")], [0.1])


def test_threshold_error_rates_follow_the_trackers_rule():
    # the tracker keeps a pose when presence >= threshold: 0.5 itself is accepted
    frr, far = threshold_error_rates([0.4, 0.5, 0.9, 0.99], [0.5, 0.49, 0.1, 0.7, 0.0], 0.5)
    assert frr == 0.25 and far == 0.4
    frr, far = threshold_error_rates([], [0.2], 0.5)
    assert math.isnan(frr) and far == 0.0


# -- what keeps negatives person-free ----------------------------------------------------------
def test_shifted_rois_leave_the_body_circle_out():
    """Every point of the body circle (radius 0.4 side about the ROI centre: ROI side =
    2 x 1.25 x radius) stays outside the ROI moved by SHIFT_ROI_SIDES, at any rotation."""
    t = np.linspace(0, 2 * math.pi, 720, endpoint=False)
    for rotation in np.radians([0.0, 20.0, 45.0, -70.0, 180.0]):
        roi = Roi(300.0, 200.0, 100.0, float(rotation))
        circle = np.c_[300.0 + 40.0 * np.cos(t), 200.0 + 40.0 * np.sin(t)]
        moved = P.shifted_rois(roi)
        assert len(moved) == 4
        for m in moved:
            assert math.hypot(m.center_x_px - 300.0, m.center_y_px - 200.0) == pytest.approx(125.0)
            assert not P.roi_contains_points(m, circle)
        assert P.roi_contains_points(roi, circle)
    # a shift of one side only would let a rotated square reach the circle
    near = [Roi(300.0 + 100.0, 200.0, 100.0, math.radians(45.0))]
    assert P.roi_contains_points(near[0], np.c_[300.0 + 40.0 * np.cos(t), 200.0 + 40.0 * np.sin(t)])


def test_roi_has_foreground_sees_the_crop_and_its_replicated_border():
    mask = np.zeros((200, 300), np.uint8)
    mask[90:110, 280:300] = 255  # a "person" at the right edge
    assert P.roi_has_foreground(mask, Roi(285.0, 100.0, 40.0))
    assert not P.roi_has_foreground(mask, Roi(100.0, 100.0, 80.0))
    # a crop beyond the right edge repeats the edge column, person included
    assert P.roi_has_foreground(mask, Roi(340.0, 100.0, 40.0))
    assert not P.roi_has_foreground(mask, Roi(340.0, 40.0, 40.0))


def test_median_background_and_person_blobs():
    """A dark "walker" crossing a textured static scene: the median is the scene, the mask
    finds the walker as one person-sized blob, and wide or border blobs are left out."""
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(90, 170, (240, 320, 3), dtype=np.uint8), (5, 5), 0)
    frames = []
    for i in range(9):
        f = scene.copy()
        x = 20 + 30 * i
        f[100:180, x : x + 24] = 20
        frames.append(f)
    background = P.median_background(frames)
    assert np.abs(background.astype(int) - scene.astype(int)).max() <= 1
    mask = P.foreground_mask(frames[4], background, dilate_px=1)
    assert P.person_blobs(mask) == [(140, 100, 24, 80)]
    dilated = P.foreground_mask(frames[4], background)
    assert dilated[95, 150] and not dilated[20, 20]  # a margin around the walker, none elsewhere
    wide = np.zeros((240, 320), np.uint8)
    wide[100:180, 40:140] = 255  # two people side by side
    wide[100:180, 300:320] = 255  # at the border
    assert P.person_blobs(wide) == []
    with pytest.raises(ValueError):
        P.median_background([])


def test_synthetic_backgrounds_are_deterministic():
    a = P.synthetic_backgrounds(np.random.default_rng(3), 4)
    b = P.synthetic_backgrounds(np.random.default_rng(3), 4)
    assert [(g, n) for g, n, _ in a] == [(g, n) for g, n, _ in b]
    assert all(np.array_equal(x, y) for (_, _, x), (_, _, y) in zip(a, b))
    groups = {g for g, _, _ in a}
    assert groups == {"synthetic flat", "synthetic noise", "synthetic gradient", "synthetic texture"}
    assert all(im.shape == (P.SYNTHETIC_SIZE, P.SYNTHETIC_SIZE, 3) and im.dtype == np.uint8 for _, _, im in a)
    assert all(np.ptp(im) > 0 for g, _, im in a if g != "synthetic flat")


# -- the suite, end to end ---------------------------------------------------------------------
needs_data = pytest.mark.skipif(not (SHARED_DATA / "vtest.avi").is_file(), reason="shared/data sample files missing")


@needs_data
def test_presence_suite_quick_end_to_end(tmp_path):
    """`blazepose bench presence --quick`, labelled by the shipped default pipeline."""
    from blazepose_sdk.bench.__main__ import main

    out = tmp_path / "presence"
    argv = ["presence", "--quick", "--out", str(out), "--no-progress", "--data-dir", str(SHARED_DATA),
            "--pseudo-labels", DEFAULT_PIPELINE]
    assert main(argv) == 0
    payload = json.loads((out / "presence.json").read_text())
    assert payload["suite"] == "presence" and payload["quick"] is True
    sample_set = payload["sample_set"]
    assert sample_set["label_model"] == DEFAULT_PIPELINE
    groups = sample_set["groups"]
    assert {g for g, v in groups.items() if v["positive"]} == {"derived set", "pan clip", "vtest frames"}
    assert {"vtest background", "vtest median", "shifted off person", "synthetic texture"} <= set(groups)
    assert sample_set["positives"] + sample_set["negatives"] == len(sample_set["samples"])
    rows = {r["name"]: r for r in payload["rows"]}
    assert "ours-lite" in rows
    for row in rows.values():
        assert row["n_pos"] == sample_set["positives"] and row["n_neg"] == sample_set["negatives"]
        assert 0.0 <= row["auroc"] <= 1.0 and row["threshold"] == 0.5
        assert 0.0 <= row["false_rejection_rate"] <= 1.0 and 0.0 <= row["false_acceptance_rate"] <= 1.0
        assert row["passes"] == (row["auroc"] >= P.SHIP_AUROC)
        assert len(row["presence"]) == len(sample_set["samples"])
        assert set(row["per_group"]) == set(groups)
        assert row["top_negatives"][0]["presence"] == max(
            p for p, s in zip(row["presence"], sample_set["samples"]) if not s["positive"])
    # the default pipeline's row (blazepose-lite, or reference-lite: the same files) separates them
    default_sha = file_sha256(resolve_pipeline(DEFAULT_PIPELINE).landmark.path)
    default = [r for r in rows.values() if file_sha256(r["landmark"]) == default_sha]
    assert default and default[0]["auroc"] >= 0.9
    report = (out / "report.md").read_text()
    assert "## Pose presence" in report and "| model | n_pos | n_neg | AUROC |" in report
    assert "Pose presence per sample group" in report


# -- the default pipeline on person-free frames ---------------------------------------------
@pytest.fixture(scope="module")
def vtest_median() -> np.ndarray | None:
    """vtest.avi's median background (no people), or None without the sample data."""
    path = SHARED_DATA / "vtest.avi"
    return P.video_median(path)[0] if path.is_file() else None


@pytest.fixture(scope="module")
def person_free_images(vtest_median) -> list[tuple[str, np.ndarray]]:
    images = [(f"{g}/{n}", im) for g, n, im in P.synthetic_backgrounds(np.random.default_rng(7), 6)]
    if vtest_median is not None:
        images.append(("vtest median", vtest_median))
    return images


def test_default_pipeline_finds_nobody_on_person_free_images(person_free_images):
    assert TrackerOptions().model == DEFAULT_PIPELINE
    with PoseTracker(TrackerOptions(static_image_mode=True)) as tracker:
        found = [name for name, image in person_free_images if tracker.process(image).pose is not None]
    assert found == []


@needs_data
def test_default_pipeline_finds_nobody_on_a_person_free_video(vtest_median):
    """30 frames of vtest.avi's median background with sensor-like noise, then 10 grey frames."""
    median = vtest_median
    rng = np.random.default_rng(0)
    frames = [np.clip(median + rng.normal(0.0, 3.0, median.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    frames += [np.full_like(median, 128)] * 10
    with PoseTracker() as tracker:
        poses = [tracker.process(f, 1000.0 * i / 30.0).pose for i, f in enumerate(frames)]
        stats = tracker.stats()
    assert all(p is None for p in poses)
    assert stats["detector_runs"] == len(frames)  # nothing to track: the detector runs on every frame


@needs_data
def test_default_pipeline_drops_the_pose_when_the_person_leaves(basketball_rgb, vtest_median):
    """Tracking the player, then the scene empties (vtest.avi's median background at the same
    size): the tracked ROI's presence falls below the threshold and the pose is gone by the second
    empty frame (measured: the first empty frame still scores 0.78 with blazepose-lite)."""
    h, w = basketball_rgb.shape[:2]
    empty = cv2.resize(vtest_median, (w, h), interpolation=cv2.INTER_AREA)
    with PoseTracker() as tracker:
        before = [tracker.process(basketball_rgb, 1000.0 * i / 30.0) for i in range(4)]
        after = [tracker.process(empty, 1000.0 * (4 + i) / 30.0) for i in range(10)]
    assert all(r.pose is not None for r in before) and before[-1].tracked
    assert all(r.pose is None for r in after[1:])
