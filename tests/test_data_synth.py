"""Synthetic data engine: label geometry, visibility, flip, determinism, TFRecord round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("anny")
pytest.importorskip("tensorflow")

from blazepose_sdk.geometry.topology import LANDMARK_NAMES
from training.data import body as bodymod
from training.data.augment import flip_landmarks
from training.data.raster import rasterize
from training.data.sample import read_tfrecords
from training.data.synth import HumanRenderer, generate, landmark_visibility

NOSE, L_WRIST, R_WRIST, L_HIP = 0, 15, 16, 23


@pytest.fixture(scope="module")
def renderer():
    return HumanRenderer(seed=123)


@pytest.fixture(scope="module")
def samples(renderer):
    return [renderer(i) for i in range(12)]


def test_projected_world_landmarks_equal_2d_labels(samples):
    for s in samples:
        cam = s.world_m.astype(np.float64) + s.hip_cam_m
        uvw = cam @ s.camera_k.astype(np.float64).T
        xy = uvw[:, :2] / uvw[:, 2:3]
        np.testing.assert_allclose(xy, s.landmarks_px[:, :2], atol=2e-2)
        # world landmarks are hip-centred
        np.testing.assert_allclose(0.5 * (s.world_m[23] + s.world_m[24]), 0, atol=1e-5)


def test_labels_are_plausible(samples):
    for s in samples:
        assert s.image_rgb().shape == (256, 256, 3)
        w = s.world_m
        # adult-ish body: shoulder width 0.2..0.6 m, hip->shoulder 0.3..0.8 m
        assert 0.2 < np.linalg.norm(w[11] - w[12]) < 0.6
        assert 0.3 < np.linalg.norm(0.5 * (w[11] + w[12])) < 0.8
        x0, y0, x1, y1 = s.box_xyxy_px
        vis = s.visibility > 0
        assert vis.sum() > 0
        p = s.landmarks_px[vis, :2]
        assert (p[:, 0] >= x0 - 1).all() and (p[:, 0] <= x1 + 1).all()
        assert (p[:, 1] >= y0 - 1).all() and (p[:, 1] <= y1 + 1).all()
        assert not np.isnan(s.alignment_px).any()


def _render_neutral(body, from_front: bool, size: int = 128):
    """Neutral pose, camera 3 m in front of (or behind) the person, looking at the pelvis."""
    params = np.tile(np.eye(4), (len(body.bone_index), 1, 1))
    phen = {k: np.array([0.5]) for k in ("gender", "age", "muscle", "weight", "height", "proportions")}
    v, lm = body.pose(params[None], phen)
    v, lm = v[0], lm[0]
    # anny: the face looks to -y, z is up. Camera axes rows: right, down, forward.
    if from_front:
        rot, cam = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]), np.array([0, -3.0, 0])
    else:
        rot, cam = np.array([[-1.0, 0, 0], [0, 0, -1], [0, -1, 0]]), np.array([0, 3.0, 0])
    vc, lc = (v - cam) @ rot.T, (lm - cam) @ rot.T
    f = 0.9 * size / 2.0 * 3.0
    xy = vc[:, :2] / vc[:, 2:3] * f + size / 2
    r = rasterize(xy, vc[:, 2], body.faces, size, size)
    lxy = lc[:, :2] / lc[:, 2:3] * f + size / 2
    owner = np.zeros(len(body.faces), np.int64)
    return landmark_visibility(lxy, lc[:, 2], r.face_id, r.depth_m, owner, bodymod.VISIBILITY_TOLERANCE_M), r


def test_visibility_false_behind_the_body(renderer):
    front, r = _render_neutral(renderer.body, True)
    back, _ = _render_neutral(renderer.body, False)
    assert (r.face_id >= 0).sum() > 500  # the person was drawn
    assert front[NOSE] and front[LANDMARK_NAMES.index("left_eye")] and front[L_HIP]
    assert not back[NOSE] and not back[LANDMARK_NAMES.index("mouth_left")]
    assert back[LANDMARK_NAMES.index("left_heel")] and not front[LANDMARK_NAMES.index("left_heel")]


def test_flip_swaps_left_and_right(samples):
    s = samples[0]
    lm, vis, mask, w = flip_landmarks(s.landmarks_px, s.visibility, s.landmark_mask, 256, s.world_m)
    assert lm[R_WRIST, 0] == pytest.approx(256 - s.landmarks_px[L_WRIST, 0])
    assert lm[R_WRIST, 1] == pytest.approx(s.landmarks_px[L_WRIST, 1])
    assert vis[R_WRIST] == s.visibility[L_WRIST]
    assert w[L_WRIST, 0] == pytest.approx(-s.world_m[R_WRIST, 0])
    assert lm[NOSE, 0] == pytest.approx(256 - s.landmarks_px[NOSE, 0])
    lm2, *_ = flip_landmarks(lm, vis, mask, 256)
    np.testing.assert_allclose(lm2, s.landmarks_px, atol=1e-4)


def test_same_seed_same_sample_other_seed_differs(renderer):
    a, b = renderer(3), renderer(3)
    assert a.image_jpeg == b.image_jpeg
    np.testing.assert_array_equal(a.landmarks_px, b.landmarks_px)
    assert renderer(4).image_jpeg != a.image_jpeg


def test_cli_output_is_byte_identical_and_round_trips(tmp_path):
    m1 = generate(str(tmp_path / "a"), 5, seed=9, workers=1, per_shard=3, coco_preview=2, progress=False)
    m2 = generate(str(tmp_path / "b"), 5, seed=9, workers=2, per_shard=3, coco_preview=2, progress=False)
    assert m1 == m2 and len(m1["shards"]) == 2
    names = sorted(p.name for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert names == sorted(p.name for p in (tmp_path / "b").rglob("*") if p.is_file())
    for p in (tmp_path / "a").rglob("*"):
        if p.is_file():
            assert p.read_bytes() == (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes(), p
    got = read_tfrecords(sorted((tmp_path / "a").glob("*.tfrecord")))
    ref = HumanRenderer(seed=9)(4)
    assert len(got) == 5 and got[4].image_jpeg == ref.image_jpeg
    np.testing.assert_allclose(got[4].landmarks_px, ref.landmarks_px)
    np.testing.assert_allclose(got[4].camera_k, ref.camera_k)
    assert got[4].source == ref.source and math.isclose(got[4].has_world, 1.0)


def test_video_backgrounds_are_deterministic_and_leave_labels_alone(shared_data, renderer):
    from training.data.synth import SynthOptions

    opt = SynthOptions(background_video=str(shared_data / "vtest.avi"), background_video_step=100)
    a, b = HumanRenderer(seed=123, options=opt), HumanRenderer(seed=123, options=opt)
    plain = renderer
    assert len(a.backgrounds) == 8  # frames 0, 100, ..., 700 of 795
    changed = 0
    for i in range(4):
        s, t, p = a(i), b(i), plain(i)
        assert s.image_jpeg == t.image_jpeg
        np.testing.assert_array_equal(s.landmarks_px, p.landmarks_px)  # geometry is drawn before the background
        np.testing.assert_array_equal(s.visibility, p.visibility)
        changed += s.image_jpeg != p.image_jpeg
    assert changed >= 2  # 70 % of samples take a video frame
