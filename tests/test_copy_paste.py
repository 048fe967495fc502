"""Copy-paste augmentation (training.data.copy_paste): affine label transform with hand-computed
numbers, flip swap, alpha compositing, mask checks, a full run on a generated person with a stub
segmentation, provenance refusals, and the real landmark models' segmentation path."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math

import cv2
import numpy as np
import pytest

from blazepose_sdk.geometry.topology import FLIP_INDEX, LANDMARK_NAMES
from training.data import copy_paste as cp
from training.data.augment import transform_points
from training.data.sample import (
    LEFT_HIP,
    LEFT_SHOULDER,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    Sample,
    ShardedWriter,
    alignment_points,
    encode_jpeg,
    read_tfrecords,
)

# The sample shards are TFRecords: writing and reading them needs TensorFlow (requirements-train.txt).
needs_tensorflow = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                      reason="TFRecord sample shards need tensorflow (pip install -r requirements-train.txt)")

LEFT = np.array([n.startswith("left_") or n.endswith("_left") for n in LANDMARK_NAMES])
RIGHT = np.array([n.startswith("right_") or n.endswith("_right") for n in LANDMARK_NAMES])


# --- geometry -------------------------------------------------------------------------------------
def test_paste_affine_known_points():
    # p' = dst + R(90 deg) * 2 * (p - src): x right turns to y down (clockwise on screen)
    a = cp.paste_affine((10, 20), (100, 50), 2.0, math.pi / 2, flip=False)
    np.testing.assert_allclose(transform_points(a, [[13, 20], [10, 24], [10, 20]]),
                               [[100, 56], [92, 50], [100, 50]], atol=1e-9)
    # flip mirrors about x = src_x before scaling: (13, 20) -> (7, 20) -> 2 * (-3, 0) -> (94, 50)
    f = cp.paste_affine((10, 20), (100, 50), 2.0, 0.0, flip=True)
    np.testing.assert_allclose(transform_points(f, [[13, 20], [10, 24]]), [[94, 50], [100, 58]], atol=1e-9)


def test_transform_labels_scale_rotation_translation():
    a = cp.paste_affine((10, 20), (100, 50), 2.0, math.pi / 2, flip=False)
    lm = np.zeros((33, 3), np.float32)
    lm[:, :2] = (10, 20)
    lm[0] = (13, 20, 1.5)
    lm[1] = (10, 90, 0.0)  # -> (100 - 140, 50) = (-40, 50): left of the image
    world = np.zeros((33, 3), np.float32)
    world[0] = (1.0, 0.0, 0.25)
    world[2] = (0.0, 1.0, 0.0)
    vis, mask = np.ones(33, np.float32), np.ones(33, np.float32)
    lm2, vis2, mask2, w2 = cp.transform_labels(lm, vis, mask, world, a, (200, 100))
    np.testing.assert_allclose(lm2[0], [100, 56, 3.0], atol=1e-5)  # z scaled by 2
    np.testing.assert_allclose(lm2[1, :2], [-40, 50], atol=1e-5)
    assert vis2[1] == 0 and vis2[0] == 1 and mask2[1] == 1  # outside: invisible, still labelled
    np.testing.assert_allclose(w2[0], [0, 1, 0.25], atol=1e-6)  # world x turns to y with the image
    np.testing.assert_allclose(w2[2], [-1, 0, 0], atol=1e-6)


def test_transform_labels_flip_swaps_left_right_and_mirrors_x():
    a = cp.paste_affine((50, 0), (50, 0), 1.0, 0.0, flip=True)  # x -> 100 - x
    lm = np.zeros((33, 3), np.float32)
    lm[:, :2] = (50, 50)
    lm[0] = (40, 10, 0.5)  # nose: no partner
    lm[LEFT_SHOULDER] = (30, 40, 0.1)
    lm[RIGHT_SHOULDER] = (80, 45, 0.3)
    vis = np.ones(33, np.float32)
    vis[RIGHT_SHOULDER] = 0
    mask = np.ones(33, np.float32)
    world = np.zeros((33, 3), np.float32)
    world[LEFT_SHOULDER] = (0.2, -0.4, 0.1)
    world[RIGHT_SHOULDER] = (-0.25, -0.4, 0.3)
    lm2, vis2, _, w2 = cp.transform_labels(lm, vis, mask, world, a, (100, 100))
    np.testing.assert_allclose(lm2[0], [60, 10, 0.5], atol=1e-6)
    np.testing.assert_allclose(lm2[LEFT_SHOULDER], [20, 45, 0.3], atol=1e-6)  # the old right one, mirrored
    np.testing.assert_allclose(lm2[RIGHT_SHOULDER], [70, 40, 0.1], atol=1e-6)
    assert vis2[LEFT_SHOULDER] == 0 and vis2[RIGHT_SHOULDER] == 1
    np.testing.assert_allclose(w2[LEFT_SHOULDER], [0.25, -0.4, 0.3], atol=1e-6)
    np.testing.assert_allclose(w2[RIGHT_SHOULDER], [-0.2, -0.4, 0.1], atol=1e-6)
    assert (FLIP_INDEX[FLIP_INDEX] == np.arange(33)).all()


def test_engine_to_index_affine_moves_a_blob_where_the_labels_go():
    # a Gaussian blob centred at engine (12.5, 9.0); warped with OpenCV by the index form of an
    # engine affine, its centroid (index + 0.5) lands on the engine affine's image of the centre
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    blob = np.exp(-(((xx + 0.5) - 12.5) ** 2 + ((yy + 0.5) - 9.0) ** 2) / (2 * 1.5 ** 2)).astype(np.float32)
    a = cp.paste_affine((12.5, 9.0), (40.25, 30.75), 1.7, math.radians(30), flip=True)
    out = cv2.warpAffine(blob, cp.engine_to_index_affine(a), (80, 64), flags=cv2.INTER_LINEAR)
    gy, gx = np.mgrid[0:64, 0:80]
    c = np.array([(out * (gx + 0.5)).sum(), (out * (gy + 0.5)).sum()]) / out.sum()
    np.testing.assert_allclose(c, [40.25, 30.75], atol=0.05)


def test_composite_tiny_arrays():
    bg = np.zeros((1, 4, 3), np.uint8)
    fg = np.full((1, 4, 3), 200, np.uint8)
    fg[0, 3] = 3
    alpha = np.array([[0.0, 0.5, 1.0, 0.25]], np.float32)
    out = cp.composite(bg, fg, alpha)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0], [0, 100, 200, 1])  # 0.75 rounds to 1
    np.testing.assert_array_equal(cp.composite(bg, fg, np.full((1, 4), 7.0)), fg)  # alpha clipped to 1
    np.testing.assert_allclose(cp.alpha_from_prob(np.array([0.0, 0.3, 0.4, 0.5, 0.7, 0.95]), (0.3, 0.7)),
                               [0, 0, 0.25, 0.5, 1, 1], atol=1e-6)


def test_mask_selection_and_verdicts():
    prob = np.zeros((100, 100), np.float32)
    prob[20:80, 40:60] = 0.9  # the person
    prob[5:15, 5:15] = 0.9  # someone else, away from the landmarks
    lm = np.array([[50.0, 30.0], [50.0, 70.0], [45.0, 50.0]])
    person = cp.select_person_mask(prob, lm, 2.0, 0.5)
    assert person[50, 50] and not person[10, 10]
    t = cp.MaskThresholds()
    counted = np.ones(3, bool)
    m = cp.mask_metrics(person, lm, counted, np.array([42.0, 25.0, 58.0, 75.0]), 2.0, t.box_margin)
    assert m["coverage"] == 1.0 and m["in_box"] == 1.0
    assert cp.mask_verdict(m, t) == "keep"
    # a landmark far off the mask lowers the coverage
    m2 = cp.mask_metrics(person, np.r_[lm, [[5.0, 95.0]]], np.ones(4, bool), np.array([42.0, 25.0, 58.0, 75.0]),
                         2.0, t.box_margin)
    assert m2["coverage"] == 0.75 and cp.mask_verdict(m2, t) == "low_coverage"
    # the mask bleeding far outside the box
    wide = person.copy()
    wide[20:80, 0:100] = True
    m3 = cp.mask_metrics(wide, lm, counted, np.array([42.0, 25.0, 58.0, 75.0]), 2.0, t.box_margin)
    assert m3["in_box"] < t.min_in_box and cp.mask_verdict(m3, t) == "outside_box"
    # a box full of mask is not a person's shape
    m4 = cp.mask_metrics(np.ones((100, 100), bool), lm, counted, np.array([10.0, 10.0, 90.0, 90.0]), 2.0,
                         t.box_margin)
    assert cp.mask_verdict(m4, t) == "area"


# --- a generated person ---------------------------------------------------------------------------
GREY, BLUE, GREEN = (128, 128, 128), (20, 20, 220), (20, 220, 20)


def _person_sample(source="test:painted", image_id="person-0") -> Sample:
    """A 200x200 grey image with a painted front-facing 'person' (x 70..130, y 15..195): its right
    half of the image (the person's left side) green, the other half blue; left landmarks at
    x = 118, right ones at x = 82, mid-line ones at x = 100 (data-engine pixels)."""
    img = np.full((200, 200, 3), GREY, np.uint8)
    img[15:195, 70:100] = BLUE
    img[15:195, 100:130] = GREEN
    ys = {"nose": 30, "eye": 26, "ear": 30, "mouth": 40, "shoulder": 60, "elbow": 90, "wrist": 112, "pinky": 118,
          "index": 120, "thumb": 116, "hip": 125, "knee": 155, "ankle": 178, "heel": 182, "foot_index": 186}
    lm = np.zeros((33, 3), np.float32)
    for j, name in enumerate(LANDMARK_NAMES):
        key = next(k for k in ys if k in name)
        lm[j, 0] = 118.0 if LEFT[j] else 82.0 if RIGHT[j] else 100.0
        lm[j, 1] = ys[key]
        lm[j, 2] = 0.01 * j
    hip = 0.5 * (lm[LEFT_HIP, :2] + lm[RIGHT_HIP, :2])
    world = np.zeros((33, 3), np.float32)
    world[:, :2] = (lm[:, :2] - hip) / 100.0  # metres, an orthographic camera
    world[:, 2] = 0.001 * np.arange(33)
    full = np.ones(33, np.float32)
    return Sample(image_jpeg=encode_jpeg(img, 100), landmarks_px=lm, visibility=full.copy(), landmark_mask=full.copy(),
                  box_xyxy_px=np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32),
                  alignment_px=alignment_points(lm, full).astype(np.float32), world_m=world, has_world=1.0,
                  face_box_xyxy_px=np.array([92, 22, 108, 44], np.float32), has_face_box=1.0,
                  source=source, image_id=image_id)


def _painted_segmentation(calls=None):
    def segment(image_rgb, roi):
        if calls is not None:
            calls.append(roi)
        diff = np.abs(image_rgb.astype(np.int32) - np.array(GREY)).max(axis=2)
        return (diff > 40).astype(np.float32)
    return segment


def _backgrounds(tmp_path):
    rng = np.random.default_rng(0)
    for scene, (w, h) in (("scene-a", (240, 180)), ("scene-b", (160, 220))):
        d = tmp_path / "bg" / scene
        d.mkdir(parents=True)
        img = rng.integers(0, 256, (h // 8, w // 8, 3)).astype(np.uint8)
        cv2.imwrite(str(d / "00000.png"), cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST))
    return tmp_path / "bg"


def _dominant(rgb):
    return int(np.argmax(rgb))  # 0 red, 1 green, 2 blue


@needs_tensorflow
def test_full_run_on_a_generated_person(tmp_path):
    s = _person_sample()
    corpus = cp.CorpusIndex(None)
    backgrounds, excluded = cp.list_backgrounds([_backgrounds(tmp_path)], corpus)
    assert len(backgrounds) == 2 and excluded == {}
    calls = []
    opt = cp.CopyPasteOptions(colour_prob=0.0, person_scale=(0.7, 1.0), synthetic_prob=0.3)
    m = cp.generate([s], backgrounds, str(tmp_path / "out"), 12, 5, _painted_segmentation(calls), corpus, opt,
                    progress=False)
    # the segmentation ran once, on the SDK's ROI of the labels (hip centre, 1.25 x the body circle)
    assert len(calls) == 1
    hip = 0.5 * (s.landmarks_px[LEFT_HIP, :2] + s.landmarks_px[RIGHT_HIP, :2]) - 0.5
    assert calls[0].center_x_px == pytest.approx(hip[0]) and calls[0].center_y_px == pytest.approx(hip[1])
    r = np.linalg.norm(s.alignment_px[1] - s.alignment_px[0])
    assert calls[0].size_px == pytest.approx(2 * 1.25 * r, rel=1e-5)
    assert m["persons"]["kept"] == 1 and m["counts"]["outputs"] == 12
    out = read_tfrecords(sorted((tmp_path / "out").glob("*.tfrecord")))
    prov = [json.loads(x) for x in (tmp_path / "out" / "provenance.jsonl").read_text().splitlines()]
    assert len(out) == 12 and {p["flip"] for p in prov} == {True, False}
    assert m["counts"]["synthetic_background"] >= 1 and m["counts"]["real_background"] >= 1
    for o, p in zip(out, prov):
        assert o.source == "copy_paste:test:painted"
        img = o.image_rgb()
        h, w = img.shape[:2]
        assert [w, h] == p["size"]
        checked = 0
        for j in np.nonzero((o.visibility > 0) & (LEFT | RIGHT))[0]:
            x, y = (int(np.floor(v)) for v in o.landmarks_px[j, :2])
            assert 0 <= x < w and 0 <= y < h
            # the source's left side is green; a mirror image shows it as the person's right side,
            # so a flipped output's left labels (swapped rows) sit on the blue half
            assert _dominant(img[y, x]) == (1 if LEFT[j] != p["flip"] else 2), (o.image_id, j, p, img[y, x])
            checked += 1
        assert checked >= 10
        # world landmarks turn and mirror with the image: parallel to the 2D offsets from the hips
        hip2 = 0.5 * (o.landmarks_px[LEFT_HIP, :2] + o.landmarks_px[RIGHT_HIP, :2])
        d2, dw = o.landmarks_px[:, :2] - hip2, o.world_m[:, :2]
        k = np.linalg.norm(dw, axis=1) > 0.05
        np.testing.assert_allclose(dw[k] / np.linalg.norm(dw[k], axis=1, keepdims=True),
                                   d2[k] / np.linalg.norm(d2[k], axis=1, keepdims=True), atol=1e-3)
        # z scaled like x, y; left/right z rows swapped on a flip
        src = FLIP_INDEX if p["flip"] else np.arange(33)
        scale = p["scale"]
        np.testing.assert_allclose(o.landmarks_px[:, 2], s.landmarks_px[src, 2] * scale, rtol=2e-3, atol=1e-5)
        np.testing.assert_allclose(o.world_m[:, 2], s.world_m[src, 2], atol=1e-6)
        # box and alignment points from the moved landmarks
        np.testing.assert_allclose(o.alignment_px, alignment_points(o.landmarks_px, np.ones(33)), atol=1e-3)
        np.testing.assert_allclose(o.alignment_px[0], hip2, atol=1e-3)
        assert o.box_xyxy_px[0] >= 0 and o.box_xyxy_px[2] <= w and o.has_face_box == 1
    # deterministic by seed
    cp.generate([s], backgrounds, str(tmp_path / "again"), 12, 5, _painted_segmentation(), corpus, opt,
                progress=False)
    cp.generate([s], backgrounds, str(tmp_path / "other"), 12, 6, _painted_segmentation(), corpus, opt,
                progress=False)
    first = (tmp_path / "out" / "copy_paste-00000-of-00001.tfrecord").read_bytes()
    assert (tmp_path / "again" / "copy_paste-00000-of-00001.tfrecord").read_bytes() == first
    assert (tmp_path / "other" / "copy_paste-00000-of-00001.tfrecord").read_bytes() != first


@needs_tensorflow
def test_background_of_the_persons_own_scene_is_not_used(tmp_path):
    s = _person_sample()
    bg_dir = _backgrounds(tmp_path)
    # the person's frame is a corpus frame of scene-a: only scene-b (or procedural) backgrounds
    corpus_json = tmp_path / "corpus.json"
    entries = [{"image": "bg/scene-a/00000.png", "split": "train", "source": "scene-a", "scene": "scene-a",
                "sha256": hashlib.sha256((bg_dir / "scene-a" / "00000.png").read_bytes()).hexdigest()},
               {"image": "person.jpg", "split": "train", "source": "scene-a-2", "scene": "scene-a",
                "sha256": hashlib.sha256(s.image_jpeg).hexdigest()}]
    corpus_json.write_text(json.dumps({"frames": entries}))
    corpus = cp.CorpusIndex(corpus_json)
    backgrounds, _ = cp.list_backgrounds([bg_dir], corpus)
    assert sorted(b.scene for b in backgrounds) == ["scene-a", "scene-b"]
    opt = cp.CopyPasteOptions(synthetic_prob=0.0)
    cp.generate([s], backgrounds, str(tmp_path / "out"), 8, 1, _painted_segmentation(), corpus, opt, progress=False)
    prov = [json.loads(x) for x in (tmp_path / "out" / "provenance.jsonl").read_text().splitlines()]
    assert {p["background"].split("/")[-2] for p in prov} == {"scene-b"}
    assert cp.find_corpus_json([bg_dir / "scene-a"]) == corpus_json


def test_reserved_and_held_out_sources_are_refused(tmp_path):
    t = cp.MaskThresholds()
    seg = _painted_segmentation()
    for source, image_id in (("pseudo:reference-heavy", "pose2sim-singleperson-cam01-f000010-p0"),
                             ("pose2sim/demo", "x"), ("pseudo:x", "vtest-f000100-p0"),
                             ("pseudo:x", "basketball1-p0")):
        with pytest.raises(cp.ReservedSourceError, match="reserved or held-out"):
            cp.load_persons([_person_sample(source, image_id)], seg, cp.CorpusIndex(None), t)
    # by the real corpus's split, whatever the names say
    s = _person_sample("pseudo:x", "00000-p0")
    corpus_json = tmp_path / "corpus.json"
    corpus_json.write_text(json.dumps({"frames": [{"image": "test-only/cam/00000.jpg", "split": "test-only",
                                                   "source": "cam", "scene": "cam",
                                                   "sha256": hashlib.sha256(s.image_jpeg).hexdigest()}]}))
    with pytest.raises(cp.ReservedSourceError, match="test-only"):
        cp.load_persons([s], seg, cp.CorpusIndex(corpus_json), t)
    # backgrounds: such files are left out and counted
    d = tmp_path / "bgs"
    for name in ("vtest/00000.jpg", "pose2sim-cam01/00000.jpg", "fine/00000.jpg"):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / name), np.full((8, 8, 3), 90, np.uint8))
    kept, excluded = cp.list_backgrounds([d], cp.CorpusIndex(None))
    assert [b.path.parent.name for b in kept] == ["fine"] and excluded == {"vtest": 1, "pose2sim": 1}


def _write_records(path, samples):
    with ShardedWriter(str(path / "people"), len(samples)) as w:
        for s in samples:
            w.write(s)


@needs_tensorflow
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    assert cp.main(["--samples", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--num", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("copy_paste: samples not found")
    # the shipped Lite model does not see a person in a painted rectangle: nothing to paste
    _write_records(tmp_path, [_person_sample()])
    rc = cp.main(["--samples", str(tmp_path), "--out", str(tmp_path / "o"), "--num", "2", "--model", "blazepose-lite",
                  "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("copy_paste: no person survived the mask checks")


# --- the real segmentation path -------------------------------------------------------------------
def _model_available(name: str) -> bool:
    from blazepose_sdk.errors import ModelNotFoundError
    from blazepose_sdk.assets.models import resolve_pipeline

    try:
        resolve_pipeline(name)
    except ModelNotFoundError:
        return False
    return True


@pytest.mark.parametrize("model", ["blazepose-lite", pytest.param("reference-heavy", marks=pytest.mark.reference)])
def test_landmark_model_segmentation_cuts_out_a_real_person(model, basketball_rgb):
    """The official model's segmentation of a real person (basketball1.png; only read here, never
    written as training data) passes the mask checks and covers the person, not the background."""
    if not _model_available(model):
        pytest.skip(f"{model} is not in the model cache (blazepose models fetch-reference)")
    from blazepose_sdk import PoseTracker, TrackerOptions

    with PoseTracker(TrackerOptions(model="blazepose-lite", static_image_mode=True, num_threads=2)) as tracker:
        result = tracker.process(basketball_rgb)
    lm = np.asarray(result.pose.array_px[:, :3], np.float32).copy()
    lm[:, :2] += 0.5  # SDK -> data-engine pixels
    full = np.ones(33, np.float32)
    h, w = basketball_rgb.shape[:2]
    s = Sample(image_jpeg=b"", landmarks_px=lm, visibility=full, landmark_mask=full,
               box_xyxy_px=cp.box_from_points(lm[:, :2], (w, h)), alignment_px=alignment_points(lm, full))
    with cp.LandmarkSegmenter(model, num_threads=2) as seg:
        prob = seg(basketball_rgb, cp.person_roi(s))
        verdict, cut, metrics = cp.make_cutout(s, basketball_rgb, seg, cp.MaskThresholds())
    assert prob.shape == (h, w) and 0.0 <= prob.min() and prob.max() <= 1.0
    assert verdict == "keep", metrics
    assert metrics["coverage"] >= 0.9 and metrics["in_box"] >= 0.95
    x0, y0, x1, y1 = (int(v) for v in s.box_xyxy_px)
    inside = prob[y0:y1, x0:x1].mean()
    outside = (prob.sum() - prob[y0:y1, x0:x1].sum()) / (prob.size - (y1 - y0) * (x1 - x0))
    assert inside > 0.3 and inside > 10 * outside  # (the other player stands partly inside the ROI)
