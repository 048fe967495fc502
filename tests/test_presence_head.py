"""training.presence_head: a new presence branch on a frozen landmark model. A tiny stand-in for
the imported Lite; known answers: a new branch returns the official presence, training moves
only the branch, every other output stays bit-identical. Offline."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras
from keras import layers

from training.presence_head import (
    BranchConfig,
    at_least_bce,
    auroc,
    build_presence_student,
    crop_targets,
    presence_report,
    sigmoid,
    train_branch,
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
