"""training.presence_head: a new presence branch on a frozen landmark model. A tiny stand-in for
the imported Lite; known answers: a new branch returns the official presence, training moves
only the branch, every other output stays bit-identical; a partial-person crop (a close-up, or a
person cut by a frame edge) takes the official presence on that very crop as its target; the
operating point from held-out crops. Offline."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import dataclasses

import keras
from keras import layers

from training.data.augment import NO_AUGMENT, cut_frame_edge, landmark_crop
from training.data.sample import Sample, alignment_points, encode_jpeg
from training.presence_head import (
    BranchConfig,
    at_least_bce,
    auroc,
    build_presence_student,
    collect_chunk,
    crop_targets,
    crop_weights,
    load_chunks,
    offset_for_max_rejected,
    presence_report,
    reference_presence,
    sigmoid,
    train_branch,
    unlabelled_mask,
)


def tiny_student():
    """An imported-student-shaped model: 32x32 input, an 8x8 shared map, landmarks, a heatmap and
    a presence conv + sigmoid that feed only the presence (as the official Lite's)."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="stem")(inp)
    feat = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="feat")(x)
    heat = layers.Conv2D(5, 1, name="heat")(feat)
    deep = layers.Conv2D(8, 3, strides=4, padding="same", activation="relu", name="deep")(feat)  # 2x2
    landmarks = layers.Reshape((10,), name="lm")(layers.Conv2D(10, 2, name="lm_conv")(deep))
    seg = layers.Conv2D(1, 1, name="seg")(layers.UpSampling2D(4, name="seg_up")(feat))  # 32x32x1
    logit = layers.Conv2D(1, 2, name="presence_conv")(deep)
    presence = layers.Reshape((1,), name="presence_out")(layers.Activation("sigmoid", name="presence_sig")(logit))
    return keras.Model(inp, {"landmarks": landmarks, "presence": presence, "heatmap": heat,
                             "raw_0": landmarks, "raw_1": presence, "raw_2": heat, "raw_3": seg})


def test_new_branch_returns_the_official_presence_and_keeps_the_other_outputs():
    student = tiny_student()
    model, _, features = build_presence_student(student, BranchConfig(feature_layer="feat", channels=4, hidden=3))
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    ref, out = student(x), model(x)
    assert np.allclose(out["presence"], ref["presence"], atol=1e-6)
    assert out["raw_1"] is not None and np.array_equal(out["raw_1"], out["presence"])
    for k in ("landmarks", "heatmap", "raw_0", "raw_2"):
        assert np.array_equal(out[k], ref[k])
    f, peaks, logit = features(x)
    assert f.shape == (4, 8, 8, 6) and peaks.shape == (4, 5) and logit.shape == (4, 1)
    assert np.allclose(peaks, np.max(ref["heatmap"], axis=(1, 2)))
    assert np.allclose(sigmoid(logit), ref["presence"], atol=1e-6)
    assert not student.trainable_variables  # the base is frozen
    assert all(v.path.startswith("presence_branch") for v in model.trainable_variables)


def test_training_moves_only_the_branch_and_lowers_presence_on_negatives():
    student = tiny_student()
    model, branch, features = build_presence_student(student, BranchConfig(feature_layer="feat", channels=4, hidden=3))
    base_weights = [w.copy() for w in student.get_weights()]
    branch_before = [w.copy() for w in branch.get_weights()]
    x = np.random.default_rng(1).uniform(size=(32, 32, 32, 3)).astype(np.float32)
    ref = student(x)
    f, peaks, logit = (np.asarray(t) for t in features(x))
    data = {"features": f.astype(np.float16), "cues": peaks, "logit": logit}
    losses = train_branch(branch, data, np.zeros(32), np.ones(32), epochs=20, lr=1e-2, batch_size=8, log=lambda m: None)
    assert losses[-1] < losses[0]
    assert all(not np.array_equal(a, b) for a, b in zip(branch_before, branch.get_weights()) if a.size > 1)
    assert all(np.array_equal(a, b) for a, b in zip(base_weights, student.get_weights()))
    out = model(x)
    assert np.array_equal(out["landmarks"], ref["landmarks"]) and np.array_equal(out["heatmap"], ref["heatmap"])
    assert float(np.mean(out["presence"])) < float(np.mean(ref["presence"])) - 0.05


def test_crop_targets_and_the_presence_report():
    t = crop_targets(person=[1, 0, 0, 1], hard_negative=[0, 1, 0, 0], official_presence=[0.9, 0.8, 0.7, 0.6],
                     off_person_presence=[0.1, 0.2, 0.3, 0.4])
    assert np.allclose(t, [0.9, 0.0, 0.3, 0.6])
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0 and auroc([0.1], [0.9]) == 0.0 and auroc([0.5], [0.5]) == 0.5
    data = {"person": np.float32([1, 1, 0, 0]), "hard_negative": np.float32([0, 0, 1, 1]),
            "logit": np.float32([[3], [3], [3], [-3]])}
    r = presence_report(np.float32([0.9, 0.4, 0.6, 0.1]), data)
    assert r["hard_negative_accepted"] == 0.5 and r["person_rejected_where_official_accepts"] == 0.5
    assert r["auroc_person_vs_hard_negative"] == 0.75
    assert r["auroc_kept_person_vs_hard_negative"] == 0.75  # the official keeps both person crops
    data["logit"] = np.float32([[3], [-3], [3], [-3]])  # the official drops the second person crop
    assert presence_report(np.float32([0.9, 0.4, 0.6, 0.1]), data)["auroc_kept_person_vs_hard_negative"] == 1.0
    assert presence_report(np.float32([0.4, 0.9, 0.6, 0.1]), data)["auroc_kept_person_vs_hard_negative"] == 0.5


def test_crop_weights_per_kind_of_crop():
    w = crop_weights(person=[1, 1, 0, 0], partial=[0, 1, 0, 0], hard_negative=[0, 0, 1, 0], person_weight=16,
                     partial_weight=32, hard_negative_weight=128)
    assert w.tolist() == [16, 32, 128, 1]
    assert crop_weights([1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], 4).tolist() == [4, 4, 1, 1]


def test_at_least_loss_is_one_sided_only_where_asked():
    y_true = np.float32([[0.8, 1], [0.8, 1], [0.8, 0], [0.0, 0]])
    y_pred = np.float32([[0.9], [0.5], [0.9], [0.5]])
    loss = np.asarray(at_least_bce(y_true, y_pred))
    bce = -(0.8 * np.log([0.9, 0.5]) + 0.2 * np.log([0.1, 0.5]))
    assert loss[0] == 0.0  # at least the target: no loss
    assert np.allclose(loss[1:3], bce[::-1], atol=1e-5)  # below it, or two-sided: plain BCE
    assert np.isclose(loss[3], np.log(2.0), atol=1e-5)


def test_segmentation_cues_are_the_mask_grid_and_its_max():
    student = tiny_student()
    cfg = BranchConfig(feature_layer="feat", channels=4, hidden=3, segmentation_cues=True)
    model, _, features = build_presence_student(student, cfg)
    x = np.random.default_rng(2).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    ref = student(x)
    _, cues, _ = features(x)
    seg = np.asarray(ref["raw_3"])[..., 0]
    grid = sigmoid(seg).reshape(2, 4, 8, 4, 8).mean(axis=(2, 4)).reshape(2, 16)
    assert cues.shape == (2, 5 + 16 + 1)
    assert np.allclose(cues[:, 5:21], grid, atol=1e-5) and np.allclose(cues[:, 21], seg.max(axis=(1, 2)), atol=1e-5)
    assert np.allclose(model(x)["presence"], ref["presence"], atol=1e-6)


def stick_person(w=160, h=120):
    """A textured photo with a labelled upright person: 33 landmarks spread over a column of the
    image (x 60-100, y 10-110), box and alignment points from them."""
    rng = np.random.default_rng(3)
    import cv2

    img = cv2.resize(rng.integers(0, 256, (12, 16, 3)).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    lm = np.zeros((33, 3), np.float32)
    lm[:, 0] = np.tile([60.0, 80.0, 100.0], 11)
    lm[:, 1] = np.linspace(10.0, 110.0, 33)
    lm[[11, 12], :2] = [[90, 40], [70, 40]]  # shoulders
    lm[[23, 24], :2] = [[88, 70], [72, 70]]  # hips
    mask = np.ones(33, np.float32)
    return Sample(image_jpeg=encode_jpeg(img, 100), landmarks_px=lm, visibility=mask.copy(), landmark_mask=mask,
                  box_xyxy_px=np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32),
                  alignment_px=alignment_points(lm, mask).astype(np.float32), world_m=np.zeros((33, 3), np.float32),
                  has_world=0.0, face_box_xyxy_px=np.zeros(4, np.float32), has_face_box=0.0, source="test", image_id="p")


def test_a_partial_person_crop_targets_the_official_presence_on_that_crop():
    sample = stick_person()
    plain = dataclasses.replace(NO_AUGMENT)  # no jitter, flip, occlusion or colour: only the partial draw
    partial = dataclasses.replace(NO_AUGMENT, partial_person_prob=1.0)
    whole = landmark_crop(sample, np.random.default_rng(0), plain, 32, True)
    kinds = {}
    for seed in range(40):
        c = landmark_crop(sample, np.random.default_rng(seed), partial, 32, True)
        zoom = float(c.matrix[0, 0] / whole.matrix[0, 0])  # crop px per image px, against the whole-body crop
        kinds.setdefault("zoom" if zoom > 1.01 else "cut", c)
        if zoom > 1.01:
            assert 1.0 / 0.8 - 1e-4 <= zoom <= 1.0 / 0.4 + 1e-4  # ROI side 0.4-0.8 x the body's
        else:
            assert np.allclose(c.matrix, whole.matrix) and not np.array_equal(c.image, whole.image)
        assert c.presence == 1.0
    assert set(kinds) == {"zoom", "cut"}
    # the close-up is centred on a labelled body point (SDK px = data-engine px - 0.5)
    z = kinds["zoom"]
    centre = np.linalg.solve(z.matrix[:, :2].astype(np.float64), np.float64([16.0, 16.0]) - z.matrix[:, 2])
    assert np.min(np.hypot(*(sample.landmarks_px[:, :2] - 0.5 - centre).T)) < 1e-3

    student = tiny_student()
    _, _, features = build_presence_student(student, BranchConfig(feature_layer="feat", channels=4, hidden=3))
    crops = np.stack([kinds["zoom"].image, kinds["cut"].image, whole.image]).astype(np.float32) / 255.0
    _, _, logit = (np.asarray(t) for t in features(crops))
    official = np.asarray(student(crops)["presence"]).reshape(-1)
    t = crop_targets(person=[1, 1, 1], hard_negative=[0, 0, 0], official_presence=sigmoid(logit).reshape(-1),
                     off_person_presence=[0, 0, 0])
    assert np.allclose(t, official, atol=1e-6)  # the teacher's presence on each crop, not 1
    assert len(set(np.round(t, 6))) == 3  # three crops, three different targets


def test_cut_frame_edge_fills_beyond_the_cut_and_hides_those_landmarks():
    img = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    box = np.float32([10, 5, 20, 15])
    seen = set()
    for seed in range(60):
        out, (side, c) = cut_frame_edge(img, box, np.random.default_rng(seed), (0.3, 0.7))
        region = [out[:, :c], out[:, c:], out[:c], out[c:]][side]
        edge = [out[:, c:c + 1], out[:, c - 1:c], out[c:c + 1], out[c - 1:c]][side]
        black = not region.any()
        assert black or np.array_equal(region, np.broadcast_to(edge, region.shape))
        kept = [out[:, c:], out[:, :c], out[c:], out[:c]][side]
        assert np.array_equal(kept, [img[:, c:], img[:, :c], img[c:], img[:c]][side])
        lo, hi = (10, 20) if side < 2 else (5, 15)
        assert lo + 0.3 * (hi - lo) - 1 <= c <= lo + 0.7 * (hi - lo) + 1
        seen.add((side, black))
    assert len(seen) == 8
    sample = stick_person()
    partial = dataclasses.replace(NO_AUGMENT, partial_person_prob=1.0)
    for seed in range(40):
        c = landmark_crop(sample, np.random.default_rng(seed), partial, 32, True)
        if np.allclose(c.matrix, landmark_crop(sample, np.random.default_rng(0), NO_AUGMENT, 32, True).matrix):
            assert 0 < c.visibility.sum() < 33  # a cut person: the landmarks beyond the edge are hidden
            break
    else:
        raise AssertionError("no cut crop in 40 seeds")


def test_operating_point_and_partial_report(tmp_path):
    z = np.float64([-3, -1, 0.5, 2, 3, 4, 5, 6, 7, 8])  # branch logits of crops to keep
    p = sigmoid(z)
    everyone = np.ones(10, bool)
    o = offset_for_max_rejected(p, [everyone], 0.1)  # one of ten may be rejected: lift the second lowest to 0
    assert np.isclose(o, 1.0, atol=1e-3) and (z + o < 0).sum() == 1
    assert np.isclose(offset_for_max_rejected(p, [everyone], 0.0), 3.0, atol=1e-3)
    assert offset_for_max_rejected(p[2:], [everyone[2:]], 0.0) < 0  # room to reject more: a negative offset
    o2 = offset_for_max_rejected(p, [everyone, np.arange(10) >= 5], 0.0)
    assert np.isclose(o2, 3.0, atol=1e-3)  # the strictest group decides
    data = {"person": np.float32([1, 1, 1, 1, 0]), "hard_negative": np.float32([0, 0, 0, 0, 1]),
            "partial": np.float32([0, 1, 1, 1, 0]), "logit": np.float32([[3], [3], [3], [-3], [3]])}
    r = presence_report(np.float32([0.9, 0.4, 0.8, 0.7, 0.1]), data)
    assert r["partial"] == 3 and r["partial_official_accepts"] == 2
    assert r["partial_rejected_where_official_accepts"] == 0.5 and r["partial_accepted_where_official_rejects"] == 1.0
    assert r["person_rejected_where_official_accepts"] == 0.0 and r["hard_negative_accepted"] == 0.0
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    old = {k: v for k, v in data.items() if k != "partial"}
    np.savez(tmp_path / "a" / "chunk_000.npz", **old)  # a cache from before the partial stream
    np.savez(tmp_path / "b" / "chunk_000.npz", **data)
    both = load_chunks(tmp_path / "a", tmp_path / "b")
    assert np.array_equal(both["partial"], np.r_[np.zeros(5), data["partial"]])


def _records(path, n, seed, source="test"):
    """``n`` stick-person records (each photo re-textured) in one shard under ``path``; with
    ``source`` training.data.negatives' prefix, person-free photos."""
    from training.data.sample import ShardedWriter

    base, rng = stick_person(), np.random.default_rng(seed)
    with ShardedWriter(str(path), n, per_shard=n) as w:
        for i in range(n):
            img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
            w.write(dataclasses.replace(base, image_jpeg=encode_jpeg(img, 90), image_id=f"{seed}-{i}", source=source))
    return w.paths


def test_a_presence_teacher_gives_the_target_on_labelled_and_unlabelled_person_crops(tmp_path):
    """--presence-teacher: every person crop, the unlabelled ones included (counted as people),
    takes that model's presence on the very crop; the base's own logit is still cached beside it;
    the report compares the branch to the teacher."""
    from pathlib import Path

    from training.config import DistillConfig
    from training.distill_data import make_dataset_fn, tflite_teacher_fn

    official = str(Path(__file__).resolve().parents[1] / "blazepose_sdk" / "model_files" / "pose_landmark_lite.tflite")
    from training.data.augment import NEGATIVE_SOURCE_PREFIX

    cfg = DistillConfig(student="imported:unused.keras", input_size=256, batch_size=4, labelled_fraction=0.5,
                        data=_records(tmp_path / "lab", 4, 0), unlabelled_data=_records(tmp_path / "unl", 4, 1),
                        negative_data=_records(tmp_path / "neg", 4, 2, f"{NEGATIVE_SOURCE_PREFIX}test"),
                        negative_data_prob=0.5)
    assert unlabelled_mask(cfg, 4).tolist() == [False, False, True, True]
    assert not unlabelled_mask(dataclasses.replace(cfg, unlabelled_data=[]), 4).any()
    _, _, features = build_presence_student(tiny_student(), BranchConfig(feature_layer="feat", channels=4, hidden=3))

    def small_features(image, training=False):  # the tiny base reads 32 x 32; the teacher the 256 crop
        return features(tf.image.resize(image, (32, 32)), training=training)

    chunk = collect_chunk(cfg, small_features, 3, seed=5, presence_teacher=official)
    hard = chunk["hard_negative"] > 0.5
    assert 0 < hard.sum() < 6 and not hard[2::4].any() and not hard[3::4].any()  # photos only among the labelled
    assert chunk["person"].tolist() == (~hard).astype(float).tolist()  # unlabelled crops count as people
    run = tflite_teacher_fn(official, with_scores=True)
    ds = make_dataset_fn(dataclasses.replace(cfg, seed=5), 4, "tflite", official)(None)
    want = np.concatenate([run(image.numpy())[3] for image, _ in ds.take(3)])
    assert (want[hard] > 0).all()  # not zeroed: the teacher's own presence on the photos is kept for the report
    np.testing.assert_allclose(chunk["reference_presence"], want, atol=1e-5)
    np.testing.assert_allclose(reference_presence(chunk), want, atol=1e-5)
    assert not np.allclose(sigmoid(chunk["logit"]).reshape(-1), want, atol=0.05)  # the base's own differs
    t = crop_targets(chunk["person"], chunk["hard_negative"], reference_presence(chunk), chunk["off_person_presence"])
    np.testing.assert_allclose(t, np.where(hard, 0.0, want), atol=1e-5)  # but the target there is 0
    # the report's "official" is the teacher: the base rejects both people, the teacher keeps the first
    data = {"person": np.float32([1, 1]), "hard_negative": np.float32([0, 0]), "logit": np.float32([[-3], [-3]]),
            "reference_presence": np.float32([0.9, 0.2])}
    assert presence_report(np.float32([0.4, 0.4]), data)["person_rejected_where_official_accepts"] == 1.0
    assert presence_report(np.float32([0.6, 0.4]), data)["person_rejected_where_official_accepts"] == 0.0

    with pytest.raises(ValueError, match="presence teacher"):
        collect_chunk(cfg, small_features, 1, seed=5)
    np.savez(tmp_path / "chunk_000.npz", **chunk)
    np.savez(tmp_path / "chunk_001.npz", **{k: v for k, v in chunk.items() if k != "reference_presence"})
    with pytest.raises(ValueError, match="presence teacher"):
        load_chunks(tmp_path)


def test_degrade_prob_reaches_the_crops_of_the_training_stream(tmp_path):
    """DistillConfig.degrade_prob (--degrade-prob) goes to the crop path: the same seed gives the
    same crops, each resampled small (less fine detail) with the share 1."""
    import cv2

    from training.config import DistillConfig
    from training.distill_data import make_dataset_fn

    cfg = DistillConfig(student="imported:unused.keras", input_size=256, batch_size=4,
                        data=_records(tmp_path / "d", 4, 0))

    def sharpness(prob):
        ds = make_dataset_fn(dataclasses.replace(cfg, degrade_prob=prob), 4, "none", None)(None)
        images = next(iter(ds))[0].numpy().astype(np.uint8)
        return np.mean([cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for im in images])

    assert sharpness(1.0) < 0.7 * sharpness(0.0)
