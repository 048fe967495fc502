"""blazepose_sdk.bench.metrics against hand-computed cases and against pycocotools."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blazepose_sdk.bench import metrics as M

K33 = 33
LS, RH = M.TORSO_PAIR_BLAZEPOSE33  # left shoulder 11, right hip 24


def person33(torso_px: float = 50.0, seed: int = 0) -> np.ndarray:
    """(33, 2) points with the left shoulder -> right hip distance exactly ``torso_px``."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(100, 300, size=(K33, 2))
    xy[LS] = (200.0, 100.0)
    xy[RH] = (200.0 + 0.6 * torso_px, 100.0 + 0.8 * torso_px)  # 3-4-5 triangle
    return xy


def test_perfect_prediction_scores_one():
    gt = np.stack([person33(50.0, 0), person33(80.0, 1)])
    vis = np.ones((2, K33), dtype=bool)
    assert M.pck(gt.copy(), gt, vis) == 1.0
    assert np.all(M.pck_per_keypoint(gt.copy(), gt, vis) == 1.0)
    assert M.pckh(gt.copy(), gt, vis, np.array([10.0, 10.0])) == 1.0


def test_known_shift_gives_known_pck():
    # torso 50 px -> PCK@0.2 threshold 10 px. Shift 17 keypoints by 9 px (correct) and 16 by 11 px (wrong).
    gt = person33(50.0)[None]
    vis = np.ones((1, K33), dtype=bool)
    pred = gt.copy()
    pred[0, :17, 0] += 9.0
    pred[0, 17:, 1] -= 11.0
    assert M.torso_size(gt, vis)[0] == pytest.approx(50.0)
    assert M.pck(pred, gt, vis) == pytest.approx(17 / 33)
    per_kp = M.pck_per_keypoint(pred, gt, vis)
    assert np.all(per_kp[:17] == 1.0) and np.all(per_kp[17:] == 0.0)
    # the same shifts at PCK@0.5 (25 px) are all correct
    assert M.pck(pred, gt, vis, threshold=0.5) == 1.0


def test_invisible_keypoints_are_ignored_and_missing_predictions_are_wrong():
    gt = person33(50.0)[None]
    vis = np.ones((1, K33), dtype=bool)
    pred = gt.copy()
    pred[0, 0] += 100.0  # far off, but not visible in the ground truth -> not scored
    vis[0, 0] = False
    assert M.pck(pred, gt, vis) == 1.0
    pred[0, 1] = np.nan  # not predicted -> wrong
    assert M.pck(pred, gt, vis) == pytest.approx(31 / 32)
    # a person whose torso is not visible has no size and is left out
    vis_no_torso = np.ones((1, K33), dtype=bool)
    vis_no_torso[0, LS] = False
    assert math.isnan(M.pck(gt.copy(), gt, vis_no_torso))


def test_pckh_uses_head_size_from_the_head_box():
    # MPII head size = 0.6 x box diagonal: box 30 x 40 -> diagonal 50 -> head size 30 -> threshold 15 px.
    head = M.head_size_from_box(np.array([[10.0, 10.0, 40.0, 50.0]]))
    assert head[0] == pytest.approx(30.0)
    gt = np.zeros((1, 4, 2))
    vis = np.ones((1, 4), dtype=bool)
    pred = gt + np.array([[[14.0, 0], [0, 14.9], [15.1, 0], [0, -16.0]]])
    assert M.pckh(pred, gt, vis, head) == pytest.approx(0.5)


def test_oks_matches_hand_computation_and_pycocotools():
    pytest.importorskip("pycocotools")
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(3)
    gt = rng.uniform(50, 250, size=(3, 17, 2))
    vis = rng.random((3, 17)) > 0.2
    pred = gt + rng.normal(0, 6, size=gt.shape)
    areas = np.array([9000.0, 20000.0, 4000.0])
    ours = M.oks(pred, gt, vis, areas)
    # by hand: mean over visible k of exp(-d^2 / (2 * area * (2 sigma_k)^2))
    for n in range(3):
        d2 = ((pred[n] - gt[n]) ** 2).sum(axis=1)
        terms = np.exp(-d2 / (2 * areas[n] * (2 * M.COCO17_OKS_SIGMAS) ** 2))
        assert ours[n] == pytest.approx(terms[vis[n]].mean())
    # pycocotools' own computeOks on the same people
    ev = COCOeval(iouType="keypoints")
    ev.params.kpt_oks_sigmas = M.COCO17_OKS_SIGMAS
    for n in range(3):
        g = {
            "keypoints": np.column_stack([gt[n], np.where(vis[n], 2, 0)]).reshape(-1).tolist(),
            "bbox": [0, 0, 300, 300],
            "area": areas[n],
        }
        d = {"keypoints": np.column_stack([pred[n], np.ones(17)]).reshape(-1).tolist(), "score": 1.0}
        ev._gts[1, 1] = [g]
        ev._dts[1, 1] = [d]
        ev.params.maxDets = [20]
        assert ev.computeOks(1, 1)[0, 0] == pytest.approx(ours[n])


def _coco_gt(xy: np.ndarray, area: float) -> dict:
    kps = np.column_stack([xy, np.full(17, 2)]).reshape(-1).tolist()
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 640, "height": 480}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "keypoints": kps,
                "num_keypoints": 17,
                "bbox": [0, 0, 100, 100],
                "area": area,
            }
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": [str(i) for i in range(17)], "skeleton": []}],
    }


def _result(xy: np.ndarray) -> list[dict]:
    return [
        {
            "image_id": 1,
            "category_id": 1,
            "score": 0.9,
            "keypoints": np.column_stack([xy, np.ones(17)]).reshape(-1).tolist(),
        }
    ]


def test_coco_ap_perfect_and_known_oks():
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(0)
    gt = rng.uniform(100, 200, size=(17, 2))
    area = 10000.0  # > 96^2: a "large" person, so APm has nothing to average (-1)
    stats = M.coco_keypoint_eval(_coco_gt(gt, area), _result(gt))
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    assert stats["APl"] == pytest.approx(1.0) and stats["APm"] == -1.0
    # Shift every keypoint by d with exp(-d^2 / (2 area (2 sigma_k)^2)) chosen so that OKS = 0.77:
    # one true positive at the thresholds 0.50 ... 0.75 (6 of 10), none at 0.80 ... 0.95 -> AP = 0.6.
    target = 0.77
    sig = M.COCO17_OKS_SIGMAS

    def oks_for(d):
        return float(np.mean(np.exp(-(d**2) / (2 * area * (2 * sig) ** 2))))

    lo, hi = 0.0, 100.0
    for _ in range(100):  # bisection on the shift that gives OKS = 0.77
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if oks_for(mid) > target else (lo, mid)
    pred = gt + np.array([lo, 0.0])
    assert M.oks(pred[None], gt[None], np.ones((1, 17), bool), np.array([area]))[0] == pytest.approx(target, abs=1e-6)
    stats = M.coco_keypoint_eval(_coco_gt(gt, area), _result(pred))
    assert stats["AP"] == pytest.approx(0.6)
    assert stats["AR"] == pytest.approx(0.6)
    assert stats["AP50"] == pytest.approx(1.0) and stats["AP75"] == pytest.approx(1.0)
    # no detection at all: AP 0
    assert M.coco_keypoint_eval(_coco_gt(gt, area), [])["AP"] == 0.0


def test_mpjpe_known_offset_and_root_alignment():
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 0.3, size=(2, 33, 3))
    pred = gt + np.array([0.003, 0.004, 0.0])  # 5 mm everywhere
    assert M.mpjpe(pred, gt) == pytest.approx(0.005)
    assert M.mpjpe(pred, gt, root=(23, 24)) == pytest.approx(0.0, abs=1e-12)
    one_joint = gt.copy()
    one_joint[:, 0] += np.array([0.0, 0.0, 0.033])  # 33 mm on 1 of 33 joints -> 1 mm mean
    assert M.mpjpe(one_joint, gt) == pytest.approx(0.001)
    missing = pred.copy()
    missing[1] = np.nan  # a person without a prediction is left out
    assert M.mpjpe(missing, gt) == pytest.approx(0.005)


def test_pa_mpjpe_removes_similarity_transform():
    rng = np.random.default_rng(2)
    gt = rng.normal(0, 0.3, size=(1, 33, 3))
    t = math.radians(40)
    rot = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    pred = 1.3 * gt @ rot.T + np.array([0.1, -0.2, 0.5])
    assert M.mpjpe(pred, gt) > 0.1
    assert M.pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    # a reflection is not a rotation: a mirrored pose keeps an error
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert M.pa_mpjpe(mirrored, gt) > 0.01
    # noise that no similarity transform can explain stays, and PA-MPJPE <= MPJPE
    noisy = gt + rng.normal(0, 0.01, size=gt.shape)
    assert 0.0 < M.pa_mpjpe(noisy, gt) <= M.mpjpe(noisy, gt)


def test_timing_stats_in_milliseconds():
    stats = M.timing_stats([i / 1000.0 for i in range(1, 11)])  # 1 ... 10 ms
    assert stats["runs"] == 10
    assert stats["median_ms"] == pytest.approx(5.5)
    assert stats["min_ms"] == pytest.approx(1.0)
    assert stats["p90_ms"] == pytest.approx(9.1)
    assert stats["mean_ms"] == pytest.approx(5.5)
