"""training.wise.interpolate and training.losses.aux_kd_loss: known values. Offline, no models."""

from __future__ import annotations

import numpy as np
import pytest

from training.wise import interpolate


def test_interpolate_known_values_and_shape_checks():
    a = [np.float32([0.0, 2.0]), np.zeros((2, 2), np.float32)]
    b = [np.float32([4.0, 2.0]), np.ones((2, 2), np.float32)]
    out = interpolate(a, b, 0.25)
    assert np.allclose(out[0], [1.0, 2.0]) and np.allclose(out[1], 0.25) and out[0].dtype == np.float32
    assert np.allclose(interpolate(a, b, 0.0)[0], a[0]) and np.allclose(interpolate(a, b, 1.0)[0], b[0])
    with pytest.raises(ValueError):
        interpolate(a, b[:1], 0.5)
    with pytest.raises(ValueError):
        interpolate([np.zeros(2)], [np.zeros(3)], 0.5)


def test_aux_kd_loss_weights_crops_by_teacher_presence():
    pytest.importorskip("tensorflow")
    from training.losses import aux_kd_loss

    student = np.zeros((2, 2, 3), np.float32)
    teacher = np.zeros((2, 2, 2), np.float32)
    teacher[0] = [[1.0, 2.0], [3.0, 0.0]]  # crop 0: |dx|+|dy| = 3 and 3 -> mean 3
    teacher[1] = [[10.0, 10.0], [10.0, 10.0]]  # crop 1: 20, but presence 0 (a person-free crop)
    assert np.isclose(float(aux_kd_loss(student, teacher, np.float32([1.0, 0.0]))), 3.0)
    assert np.isclose(float(aux_kd_loss(student, teacher, np.float32([0.5, 0.5]))), 11.5)
    assert float(aux_kd_loss(student, teacher, np.float32([0.0, 0.0]))) == 0.0
