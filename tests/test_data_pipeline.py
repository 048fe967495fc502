"""tf.data pipeline and augmentation: shapes, the label -> tensor-pixel mapping, SDK-identical
crops, flip swap, occlusion visibility, negatives, determinism by seed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.geometry.roi import roi_from_alignment_points
from blazepose_sdk.geometry.topology import FLIP_INDEX, LANDMARK_NAMES
from training.data.augment import NO_AUGMENT, AugmentOptions, degrade, detector_crop, landmark_crop, occlude
from training.data.pipeline import (
    DETECTOR_TARGET_SHAPES,
    LANDMARK_TARGET_SHAPES,
    make_detector_dataset,
    make_landmark_dataset,
)
from training.data.sample import Sample, ShardedWriter, alignment_points, encode_jpeg

L = {n: i for i, n in enumerate(LANDMARK_NAMES)}
W, H = 320, 240


def _skeleton(cx: float, top: float, height: float) -> np.ndarray:
    """(33, 3) landmarks of an upright stick figure facing the camera (its left = image right)."""
    u = height / 10.0
    lm = np.zeros((33, 3))
    side = {"left": 1, "right": -1}
    rows = {"eye_inner": (0.25, 0.2), "eye": (0.5, 0.2), "eye_outer": (0.75, 0.2), "ear": (1.0, 0.5),
            "shoulder": (1.5, 2.0), "elbow": (1.8, 3.5), "wrist": (1.9, 5.0), "pinky": (2.0, 5.5),
            "index": (1.8, 5.6), "thumb": (1.6, 5.4), "hip": (1.0, 5.5), "knee": (1.0, 7.5),
            "ankle": (1.0, 9.5), "heel": (0.9, 9.8), "foot_index": (1.3, 10.0)}
    lm[L["nose"], :2] = (cx, top + 0.5 * u)
    for name, (dx, dy) in rows.items():
        for s, sgn in side.items():
            lm[L[f"{s}_{name}"], :2] = (cx + sgn * dx * u, top + dy * u)
    lm[L["mouth_left"], :2] = (cx + 0.3 * u, top + 0.9 * u)
    lm[L["mouth_right"], :2] = (cx - 0.3 * u, top + 0.9 * u)
    lm[:, 2] = np.linspace(-5, 5, 33)
    return lm


def _sample(image: np.ndarray, lm: np.ndarray, image_id: str = "t") -> Sample:
    mask = np.ones(33, np.float32)
    world = (lm - 0.5 * (lm[L["left_hip"]] + lm[L["right_hip"]])) / 100.0
    return Sample(image_jpeg=encode_jpeg(image, 100), landmarks_px=lm.astype(np.float32),
                  visibility=np.ones(33, np.float32), landmark_mask=mask,
                  box_xyxy_px=np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32),
                  alignment_px=alignment_points(lm, mask).astype(np.float32), world_m=world.astype(np.float32),
                  has_world=1.0, face_box_xyxy_px=np.array([150, 20, 170, 45], np.float32), has_face_box=1.0,
                  source="test", image_id=image_id)


def _textured(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    import cv2

    return cv2.resize(rng.integers(0, 256, (12, 16, 3)).astype(np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    with ShardedWriter(str(d / "t"), 6, per_shard=3) as w:
        for i in range(6):
            w.write(_sample(_textured(i), _skeleton(150 + 5 * i, 20, 200), f"t{i}"))
    return sorted(str(p) for p in d.glob("*.tfrecord"))


def _first(ds):
    return next(iter(ds.take(1)))


def test_shapes_and_dtypes(records):
    img, t = _first(make_landmark_dataset(records, 4, training=True, seed=0))
    assert img.shape == (4, 256, 256, 3) and img.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(img)) and float(tf.reduce_max(img)) <= 1.0
    assert set(t) == set(LANDMARK_TARGET_SHAPES)
    for k, shape in LANDMARK_TARGET_SHAPES.items():
        assert t[k].shape == (4, *shape) and t[k].dtype == tf.float32, k
    assert np.all(t["presence"].numpy() == 1) and np.all(t["has_world"].numpy() == 1)

    img, t = _first(make_detector_dataset(records, 2, training=False))
    assert img.shape == (2, 224, 224, 3)
    assert float(tf.reduce_min(img)) >= -1.0 and float(tf.reduce_max(img)) <= 1.0
    assert set(t) == set(DETECTOR_TARGET_SHAPES)
    for k, shape in DETECTOR_TARGET_SHAPES.items():
        assert t[k].shape == (2, *shape), k
    # 320x240 letterboxed: 16 rows of black padding (-1) above and below the image
    assert np.all(img.numpy()[:, :15] == -1.0) and np.all(img.numpy()[:, -15:] == -1.0)
    assert np.all(img.numpy()[:, 30:190].std(axis=(1, 2, 3)) > 0.05)
    # eval pass: every record once, in file order; last partial batch kept
    assert sum(int(b[0].shape[0]) for b in make_landmark_dataset(records, 4, training=False)) == 6


def _blob_image(x: float, y: float, sigma: float = 2.0) -> np.ndarray:
    """A Gaussian blob centred at data-engine pixel coordinates (x, y) (pixel centres at +0.5)."""
    jj, ii = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    g = np.exp(-((jj - x) ** 2 + (ii - y) ** 2) / (2 * sigma**2))
    return np.repeat((g * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)


def _centroid(image: np.ndarray) -> np.ndarray:
    """Intensity centroid in index coordinates (pixel u at u)."""
    g = image[..., 0].astype(np.float64)
    g = np.where(g > 20, g, 0)
    ii, jj = np.indices(g.shape)
    return np.array([(jj * g).sum(), (ii * g).sum()]) / g.sum()


@pytest.mark.parametrize("opts", [NO_AUGMENT, dataclasses.replace(NO_AUGMENT, rotation_deg=60, scale_jitter=0.1,
                                                                    shift_jitter=0.1, flip_prob=0.5)])
def test_label_lands_on_its_tensor_pixel(opts):
    lm = _skeleton(160, 40, 80)  # small person: the crop magnifies ~2x, so a 0.5 px error shows as ~1 px
    x, y = 171.3, 97.8
    lm[L["left_wrist"], :2] = (x, y)
    s = _sample(_blob_image(x, y), lm)
    for seed in range(4):
        c = landmark_crop(s, np.random.default_rng(seed), opts, 256, training=True, image_rgb=_blob_image(x, y))
        k = c.matrix[0, :2] @ c.matrix[0, :2]
        assert k > 2.0  # magnified
        wrist = L["right_wrist"] if c.flipped else L["left_wrist"]
        np.testing.assert_allclose(c.landmarks[wrist, :2], _centroid(c.image), atol=0.15)


def test_crop_is_the_sdk_inference_crop():
    lm = _skeleton(150, 20, 200)
    img = _textured(7)
    s = _sample(img, lm)
    c = landmark_crop(s, np.random.default_rng(0), training=False, image_rgb=img)
    hip = 0.5 * (lm[L["left_hip"], :2] + lm[L["right_hip"], :2]) - 0.5  # SDK pixel convention
    roi = roi_from_alignment_points(hip, s.alignment_px[1] - 0.5)
    sdk = crop_roi(img, roi, 256, (0.0, 255.0), border="replicate")[0]
    np.testing.assert_allclose(c.image.astype(np.float32), sdk, atol=1.0)
    # the hip centre is the crop centre and the body-circle point straight above it at 1/1.25 of a half side
    np.testing.assert_allclose(c.aux, [[128, 128], [128, 128 - 128 / 1.25]], atol=1e-3)
    np.testing.assert_allclose(0.5 * (c.landmarks[L["left_hip"], :2] + c.landmarks[L["right_hip"], :2]), [128, 128],
                               atol=1e-3)
    assert c.presence == 1.0 and c.has_aux == 1.0


def test_flip_swaps_left_and_right_in_the_pipeline(tmp_path):
    with ShardedWriter(str(tmp_path / "one"), 1, per_shard=1) as w:  # one record: training starts anywhere
        w.write(_sample(_textured(0), _skeleton(150, 20, 200), "t0"))
    one = sorted(str(p) for p in tmp_path.glob("*.tfrecord"))
    flip = dataclasses.replace(NO_AUGMENT, flip_prob=1.0)
    img0, t0 = _first(make_landmark_dataset(one, 1, training=False))
    img1, t1 = _first(make_landmark_dataset(one, 1, training=True, seed=0, options=flip, shuffle_buffer=1))
    img0, img1 = img0.numpy()[0], img1.numpy()[0]
    np.testing.assert_allclose(img1, img0[:, ::-1], atol=2 / 255)
    lm0, lm1 = t0["landmarks"].numpy()[0], t1["landmarks"].numpy()[0]
    lw, rw = L["left_wrist"], L["right_wrist"]
    assert lm1[rw, 0] == pytest.approx(255 - lm0[lw, 0], abs=1e-3)
    assert lm1[rw, 1] == pytest.approx(lm0[lw, 1], abs=1e-3)
    np.testing.assert_allclose(lm1[:, 0], 255 - lm0[FLIP_INDEX, 0], atol=1e-3)
    np.testing.assert_allclose(lm1[:, 2], lm0[FLIP_INDEX, 2], atol=1e-4)
    w0, w1 = t0["world_m"].numpy()[0], t1["world_m"].numpy()[0]
    np.testing.assert_allclose(w1[:, 0], -w0[FLIP_INDEX, 0], atol=1e-5)
    # the figure faces the camera, so its left wrist is on the image's right; the mirrored figure still faces
    # the camera, so after the swap the *left* wrist label is again on the right (without it: on the left)
    assert lm0[lw, 0] > 128 and lm1[lw, 0] > 128 and lm1[rw, 0] < 128
    a0, a1 = t0["aux"].numpy()[0], t1["aux"].numpy()[0]
    np.testing.assert_allclose(a1[:, 0], 255 - a0[:, 0], atol=1e-3)


def test_occlusion_rectangles_hide_landmarks():
    img = np.full((100, 100, 3), 128, np.uint8)
    xy = np.stack(np.meshgrid(np.arange(5, 100, 10.0), np.arange(5, 100, 10.0)), -1).reshape(-1, 2)
    vis = np.ones(len(xy), np.float32)
    out, v, rects = occlude(img.copy(), xy, vis, np.random.default_rng(3), (2, 3), (0.2, 0.4))
    assert 2 <= len(rects) <= 3
    inside = np.zeros(len(xy), bool)
    for x0, y0, x1, y1 in rects:
        inside |= (xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1)
        assert len(np.unique(out[y0:y1, x0:x1].reshape(-1, 3), axis=0)) <= 3  # solid colours (overlaps)
    assert inside.any() and not inside.all()
    np.testing.assert_array_equal(v == 0, inside)
    untouched = np.ones((100, 100), bool)
    for x0, y0, x1, y1 in rects:
        untouched[y0:y1, x0:x1] = False
    assert np.all(out[untouched] == 128)

    # through the crop: occluded landmarks lose visibility, none gains it
    s = _sample(_textured(1), _skeleton(150, 20, 200))
    occ = dataclasses.replace(NO_AUGMENT, occlusion_prob=1.0, occlusion_count=(3, 3), occlusion_side=(0.4, 0.4))
    base = landmark_crop(s, np.random.default_rng(0), NO_AUGMENT)
    lost = 0
    for seed in range(5):
        c = landmark_crop(s, np.random.default_rng(seed), occ)
        assert np.all(c.visibility <= base.visibility)
        np.testing.assert_allclose(c.landmarks, base.landmarks)
        lost += int((base.visibility - c.visibility).sum())
    assert lost > 0


def test_negative_crops_miss_the_person():
    big = np.zeros((480, 640, 3), np.uint8)
    s = _sample(big, _skeleton(80, 20, 150))  # the person on the left, room on the right
    neg = dataclasses.replace(NO_AUGMENT, negative_prob=1.0)
    c = landmark_crop(s, np.random.default_rng(0), neg, image_rgb=big)
    assert c.presence == 0.0 and c.landmark_mask.sum() == 0 and c.visibility.sum() == 0 and c.has_world == 0
    inside = (c.landmarks[:, :2] >= 0) & (c.landmarks[:, :2] < 256)
    assert not inside.all(axis=1).any()


def test_detector_targets_normalised_to_the_letterbox():
    lm = _skeleton(150, 20, 200)
    s = _sample(_textured(2), lm)
    c = detector_crop(s, np.random.default_rng(0), training=False, input_size=224)
    # letterbox ROI of 320x240: centre (160, 120), side 320 -> tensor = 0.7 * x_sdk + (0, 112 - 0.7 * 120)
    hip = s.alignment_px[0] - 0.5
    np.testing.assert_allclose(c.alignment[0] * 224, [hip[0] * 0.7, hip[1] * 0.7 + 28], atol=1e-3)
    fb = (np.array([150, 20, 170, 45]) - 0.5) * 0.7 + np.array([0, 28, 0, 28])
    np.testing.assert_allclose(c.face_box * 224, fb, atol=1e-3)
    f = detector_crop(s, np.random.default_rng(0), dataclasses.replace(NO_AUGMENT, flip_prob=1.0), 224)
    np.testing.assert_allclose(f.alignment[:, 0] * 224, 223 - c.alignment[:, 0] * 224, atol=1e-3)
    np.testing.assert_allclose(f.face_box[[0, 2]] * 224, 223 - c.face_box[[2, 0]] * 224, atol=1e-3)


def test_same_seed_same_batches_other_seed_differs(records):
    def batches(seed, n=2):
        ds = make_landmark_dataset(records, 3, training=True, seed=seed, options=AugmentOptions(negative_prob=0.0))
        return [(i.numpy(), {k: v.numpy() for k, v in t.items()}) for i, t in ds.take(n)]

    a, b, c = batches(5), batches(5), batches(6)
    for (ia, ta), (ib, tb) in zip(a, b):
        np.testing.assert_array_equal(ia, ib)
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k])
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][1]["landmarks"], a[1][1]["landmarks"])


def test_export_labels_for_the_benchmark_suite(records, tmp_path):
    """Sample records -> benchmarks' BlazePose-33 labels file: SDK pixel convention (engine - 0.5),
    padding offset, world landmarks, and visibility limited to labelled points inside the image."""
    from blazepose_sdk.bench.datasets import load_labels
    from training.data.export_labels import export_labels
    from training.data.sample import read_tfrecords

    path = export_labels(records[:1], tmp_path / "labels", pad=2.0)
    samples = read_tfrecords(records[:1])
    got = load_labels(path)
    assert len(got.items) == len(samples) == 3
    item, s = got.items[0], samples[0]
    image = item.load()
    assert image.shape == (2 * H, 2 * W, 3)
    (person,) = item.persons
    expected = s.landmarks_px[:, :2] - 0.5 + [W // 2, H // 2]
    np.testing.assert_allclose(person.xy_px, expected, atol=1e-3)
    np.testing.assert_allclose(person.world_m, s.world_m, atol=1e-4)
    assert person.visible.all()
    # the ROI the training pipeline cuts, moved with the padding: the tracker's rule on the
    # sample's alignment points (hip centre at the ROI centre)
    from training.data.augment import landmark_roi

    train_roi, _ = landmark_roi(s.alignment_px, s.box_xyxy_px)
    assert person.roi.size_px == pytest.approx(train_roi.size_px, abs=1e-3)
    assert person.roi.rotation_rad == pytest.approx(train_roi.rotation_rad, abs=1e-3)
    np.testing.assert_allclose([person.roi.center_x_px, person.roi.center_y_px],
                               s.alignment_px[0] - 0.5 + [W // 2, H // 2], atol=1e-3)
    # the padded image holds the original in its middle (JPEG: within a few grey levels)
    assert np.abs(image[H // 2:H // 2 + H, W // 2:W // 2 + W].astype(int) - s.image_rgb().astype(int)).mean() < 3


def _sharpness(image: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_degrade_resamples_a_large_roi_small_and_keeps_the_crop_shape():
    fine = np.random.default_rng(0).integers(0, 256, (256, 256, 3)).astype(np.uint8)
    rng = np.random.default_rng(1)
    # a ROI 1,000 source pixels wide seen through at most 64 of them: the fine detail is gone
    out = degrade(fine, 1000.0, rng, side_px=(48.0, 64.0), jpeg_quality=(90, 90))
    assert out.shape == fine.shape and out.dtype == np.uint8
    assert _sharpness(out) < 0.2 * _sharpness(fine)
    # a ROI already under the drawn side is only JPEG-coded (at quality 100 a smooth crop barely changes)
    smooth = _textured(2)[:256, :256]
    same = degrade(smooth, 40.0, np.random.default_rng(1), side_px=(48.0, 64.0), jpeg_quality=(100, 100))
    assert np.abs(same.astype(int) - smooth.astype(int)).mean() < 2.0
    # one seed, one result
    a = degrade(fine, 500.0, np.random.default_rng(5), (48.0, 256.0), (20, 90))
    b = degrade(fine, 500.0, np.random.default_rng(5), (48.0, 256.0), (20, 90))
    np.testing.assert_array_equal(a, b)


def test_a_degraded_crop_keeps_its_labels_and_loses_detail():
    lm = _skeleton(150, 20, 200)
    img = np.random.default_rng(3).integers(0, 256, (H, W, 3)).astype(np.uint8)  # detail at every pixel
    s = _sample(img, lm)
    plain = dataclasses.replace(NO_AUGMENT)
    worse = dataclasses.replace(NO_AUGMENT, degrade_prob=1.0, degrade_side_px=(48.0, 48.0))
    a = landmark_crop(s, np.random.default_rng(0), plain, image_rgb=img)
    b = landmark_crop(s, np.random.default_rng(0), worse, image_rgb=img)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert a.presence == b.presence == 1.0 and not np.array_equal(a.image, b.image)
    assert _sharpness(b.image) < _sharpness(a.image)


def _raw_records(path, tag: str, n: int) -> str:
    """A TFRecord file of ``n`` records b"tag:k" (the draw is checked before parsing)."""
    with tf.io.TFRecordWriter(str(path)) as w:
        for k in range(n):
            w.write(f"{tag}:{k}".encode())
    return str(path)


def _draw(files, n: int, seed: int) -> list[tuple[str, int]]:
    from training.data.pipeline import _records

    out = []
    for _, record in _records(files, True, seed, 1).take(n):
        tag, k = record.numpy().decode().split(":")
        out.append((tag, int(k)))
    return out


def test_record_count_reads_the_headers(tmp_path):
    from training.data.pipeline import record_count

    assert record_count(_raw_records(tmp_path / "a.tfrecord", "a", 37)) == 37
    assert record_count(_raw_records(tmp_path / "e.tfrecord", "e", 0)) == 0


def test_a_short_draw_reaches_every_part_of_every_file(tmp_path):
    """Ten files of 100 records: a draw of 40 (a cached chunk in miniature) already comes from
    most files and from all along them, not only from their first records."""
    files = [_raw_records(tmp_path / f"f{i}.tfrecord", f"f{i}", 100) for i in range(10)]
    draws = [_draw(files, 40, seed) for seed in range(5)]
    for d in draws:
        assert len({tag for tag, _ in d}) >= 7
    positions = [k for d in draws for _, k in d]
    assert max(positions) >= 90 and np.median(positions) > 25
    assert draws[0] == _draw(files, 40, 0) and draws[0] != draws[1]  # a pure function of the seed


def test_draws_follow_record_counts_or_the_shares(tmp_path):
    from training.data.pipeline import file_weights, source_files

    big = _raw_records(tmp_path / "big.tfrecord", "big", 90)
    small_dir = tmp_path / "small"
    small_dir.mkdir()
    _raw_records(small_dir / "s0.tfrecord", "small", 5)
    _raw_records(small_dir / "s1.tfrecord", "small", 5)
    _, w = file_weights(source_files([big, str(small_dir)]))
    np.testing.assert_allclose(w, [0.9, 0.05, 0.05])
    _, w = file_weights(source_files([f"{big}@3", f"{small_dir}@1"]))
    np.testing.assert_allclose(w, [0.75, 0.125, 0.125])
    tags = [tag for tag, _ in _draw([f"{big}@1", f"{small_dir}@1"], 600, 0)]
    assert 0.4 < tags.count("small") / len(tags) < 0.6
    with pytest.raises(ValueError, match="share"):
        source_files([f"{big}@1", str(small_dir)])
    with pytest.raises(ValueError, match="> 0"):
        source_files([f"{big}@0"])
    odd = tmp_path / "a@b"  # an "@" that is not a share stays part of the path
    odd.mkdir()
    _raw_records(odd / "x.tfrecord", "x", 2)
    assert source_files([str(odd)]) == [([str(odd / "x.tfrecord")], None)]
