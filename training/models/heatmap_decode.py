"""Heatmap helpers of training: target Gaussians in numpy (tests, tools) and the differentiable
soft-argmax for coordinate losses. Decoding heatmaps to keypoints (arg-max, DARK) is the SDK's:
:mod:`blazepose_sdk.geometry.heatmaps`.

Coordinates are in heatmap cells: cell (row r, col c) is the point (c, r), the convention of
training.losses.gaussian_heatmaps and blazepose_sdk.geometry.heatmaps.
"""

from __future__ import annotations

import numpy as np


def gaussian_heatmaps_np(points_xy: np.ndarray, height: int, width: int, sigma: float) -> np.ndarray:
    """(H, W, K) unnormalised Gaussians exp(-d^2 / 2 sigma^2) about (K, 2) points in cells:
    :func:`training.losses.gaussian_heatmaps` of one sample, in float64."""
    from training.losses import gaussian_heatmaps

    return gaussian_heatmaps(np.asarray(points_xy, np.float64)[None], height, width, sigma).numpy()[0]


def soft_argmax_xy(heatmaps, beta: float = 1.0):
    """Differentiable expected position (B, K, 2) in cells of softmax(beta * heatmap) over the
    map (integral regression, Sun et al. ECCV 2018); for coordinate-space losses on heatmap
    students. TensorFlow tensors."""
    import tensorflow as tf

    hm = tf.cast(heatmaps, tf.float32)
    h, w, k = hm.shape[1], hm.shape[2], hm.shape[3]
    p = tf.nn.softmax(tf.reshape(hm, (-1, h * w, k)) * beta, axis=1)
    gx = tf.tile(tf.range(w, dtype=tf.float32), [h])[None, :, None]
    gy = tf.repeat(tf.range(h, dtype=tf.float32), w)[None, :, None]
    return tf.stack([tf.reduce_sum(p * gx, 1), tf.reduce_sum(p * gy, 1)], -1)


__all__ = ["gaussian_heatmaps_np", "soft_argmax_xy"]
