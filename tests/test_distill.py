"""FPD distillation: the loss mixes teacher and ground truth as specified, and one distillation
step of a tiny Lite-HRNet student lowers it."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from training.distill import (
    DistillConfig,
    fpd_coordinate_loss,
    fpd_heatmap_loss,
    gaussian_targets,
    joints_mse,
    make_loss_fn,
)

K = 33


def _maps(seed, b=2, h=16, w=16):
    return tf.constant(np.random.default_rng(seed).uniform(0, 1, (b, h, w, K)).astype(np.float32))


def test_joints_mse_known_value():
    pred = tf.ones((1, 4, 4, 2))
    target = tf.zeros((1, 4, 4, 2))
    # 0.5 * mean((1 - 0)^2) = 0.5 for joint 0; joint 1 weighted 0 -> mean over joints 0.25.
    assert float(joints_mse(pred, target, tf.constant([[1.0, 0.0]]))[0]) == pytest.approx(0.25)


def test_gaussian_targets_peak_at_point():
    pts = np.zeros((1, K, 3), np.float32)
    pts[0, :, 0], pts[0, :, 1] = 20.0, 12.0  # tensor px -> cell (5, 3) at stride 4
    target, weight = gaussian_targets(tf.constant(pts), tf.ones((1, K)), 16, 16, 4.0, 2.0)
    t = target.numpy()[0, ..., 0]
    assert np.unravel_index(t.argmax(), t.shape) == (3, 5) and t.max() == pytest.approx(1.0)
    assert np.all(weight.numpy() == 1)


def test_alpha_one_ignores_ground_truth_and_zero_ignores_teacher():
    s, t, g1, g2 = _maps(0), _maps(1), _maps(2), _maps(3)
    w, has = tf.ones((2, K)), tf.ones((2,))
    a1 = fpd_heatmap_loss(s, t, g1, w, has, alpha=1.0)["total"]
    a1b = fpd_heatmap_loss(s, t, g2, w, has, alpha=1.0)["total"]
    assert float(a1) == pytest.approx(float(a1b))
    a0 = fpd_heatmap_loss(s, t, g1, w, has, alpha=0.0)["total"]
    a0b = fpd_heatmap_loss(s, _maps(4), g1, w, has, alpha=0.0)["total"]
    assert float(a0) == pytest.approx(float(a0b))
    assert float(a1) != pytest.approx(float(a0))
    half = fpd_heatmap_loss(s, t, g1, w, has, alpha=0.5)["total"]
    assert float(half) == pytest.approx(0.5 * float(a1) + 0.5 * float(a0), rel=1e-5)
    # Without ground truth only the teacher counts, whatever alpha.
    no_gt = fpd_heatmap_loss(s, t, g1, w, tf.zeros((2,)), alpha=0.0)["total"]
    assert float(no_gt) == pytest.approx(float(a1))


def test_coordinate_variant():
    s = tf.zeros((1, K, 2))
    t = tf.fill((1, K, 2), 1.0)  # L1 distance 2 to the teacher
    g = tf.fill((1, K, 2), 3.0)  # 6 to the labels
    ones = tf.ones((1, K))
    assert float(fpd_coordinate_loss(s, t, ones, g, ones, tf.ones(1), 1.0)["total"]) == pytest.approx(2.0)
    assert float(fpd_coordinate_loss(s, t, ones, g, ones, tf.ones(1), 0.0)["total"]) == pytest.approx(6.0)
    assert float(fpd_coordinate_loss(s, t, ones, g, ones, tf.ones(1), 0.25)["total"]) == pytest.approx(5.0)


def test_one_distillation_step_lowers_the_loss():
    import keras

    from training.models.lite_hrnet import build_lite_hrnet, variant

    size = 64
    keras.utils.set_random_seed(0)
    student = build_lite_hrnet(variant("lite_hrnet_tiny", input_height=size, input_width=size, num_keypoints=K))
    teacher = build_lite_hrnet(variant("lite_hrnet_tiny", input_height=size, input_width=size, num_keypoints=K,
                                       width=24, name="teacher"))
    teacher.trainable = False
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 1, (4, size, size, 3)).astype(np.float32))
    targets = {"image": images, "landmarks": tf.constant(rng.uniform(4, 60, (4, K, 3)).astype(np.float32)),
               "landmark_mask": tf.ones((4, K)), "presence": tf.ones((4,))}
    loss_fn = make_loss_fn(DistillConfig(input_size=size, alpha=0.5), "heatmap", teacher, "keras")
    opt = keras.optimizers.Adam(1e-2)
    teacher_before = [w.numpy().copy() for w in teacher.weights]

    def loss_value():
        return loss_fn(student(images, training=True), targets)

    before = loss_value()
    with tf.GradientTape() as tape:
        loss = loss_value()["total"]
    grads = tape.gradient(loss, student.trainable_variables)
    opt.apply_gradients(zip(grads, student.trainable_variables))
    after = loss_value()
    assert float(after["total"]) < float(before["total"])
    assert float(before["kd"]) > 0 and float(before["gt"]) > 0
    for a, b in zip(teacher_before, teacher.weights):  # the teacher stays frozen
        np.testing.assert_array_equal(a, b.numpy())
