"""Heatmap -> keypoint coordinates: arg-max and DARK sub-pixel decoding, in numpy (reference,
tests, tools) and as a Keras layer (inside exported graphs, so a TFLite model gives
coordinates directly).

DARK: Zhang et al., "Distribution-Aware Coordinate Representation for Human Pose Estimation",
CVPR 2020, section 3.2: (1) modulate the heatmap with a Gaussian blur of the training sigma
and rescale it to its original maximum; (2) take the log; (3) at the arg-max cell m, a
second-order Taylor expansion of the log-likelihood gives the maximum at
m - H(m)^-1 D(m), with D and H the first and second derivatives by central differences.

Coordinates are in heatmap cells: cell (row r, col c) is the point (c, r), the convention of
training.losses.gaussian_heatmaps and blazepose_sdk.stages.landmarker.refine_with_heatmap; multiply
by the heatmap stride for input pixels.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np

# Blur kernel of the DARK modulation for 64x48 heatmaps trained with sigma 2: the
# ``modulate_kernel=11`` of the reference test config (litehrnet_18_coco_256x192.py, mmpose).
DARK_KERNEL_SIZE = 11
# Sigma of that kernel: OpenCV's default for ksize 11 (0.3 * ((k - 1) / 2 - 1) + 0.8 = 2.0),
# which mmpose's cv2.GaussianBlur(hm, (k, k), 0) uses; it equals the training sigma.
DARK_SIGMA = 0.3 * ((DARK_KERNEL_SIZE - 1) * 0.5 - 1) + 0.8
# Floor of the heatmap before the log (mmpose's post_dark uses 1e-10; larger is safer in float16/INT8).
LOG_FLOOR = 1e-10
# The Taylor offset is a sub-cell correction; larger steps mean a flat or non-concave peak.
MAX_OFFSET_CELLS = 1.0


def gaussian_kernel_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of ``size`` taps (sums to 1), as cv2.getGaussianKernel."""
    return cv2.getGaussianKernel(size, sigma, cv2.CV_64F).ravel()


def argmax_decode(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, K) heatmaps -> ((K, 2) x, y of the arg-max cell, (K,) maximum values)."""
    hm = np.asarray(heatmaps, np.float64)
    h, w, k = hm.shape
    flat = hm.reshape(h * w, k)
    idx = flat.argmax(0)
    xy = np.stack([idx % w, idx // w], axis=1).astype(np.float64)
    return xy, flat[idx, np.arange(k)]


def dark_decode(heatmaps: np.ndarray, kernel_size: int = DARK_KERNEL_SIZE, sigma: float = DARK_SIGMA,
                modulate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """DARK sub-pixel decoding (module docstring) of (H, W, K) heatmaps.

    Returns ((K, 2) x, y in cells, (K,) maxima of the raw heatmaps). The blur pads with zeros
    (the graph version's padding). The Taylor step is skipped (arg-max kept) at border cells and
    where the Hessian is not negative definite, and is limited to MAX_OFFSET_CELLS per axis.
    """
    hm = np.asarray(heatmaps, np.float64)
    h, w, k = hm.shape
    xy, maxvals = argmax_decode(hm)
    if modulate:
        blurred = np.stack([cv2.GaussianBlur(hm[..., i], (kernel_size, kernel_size), sigma, sigma,
                                             borderType=cv2.BORDER_CONSTANT) for i in range(k)], -1)
        bmax = blurred.reshape(-1, k).max(0)
        blurred *= np.where(bmax > 0, hm.reshape(-1, k).max(0) / np.where(bmax > 0, bmax, 1.0), 1.0)
    else:
        blurred = hm
    logh = np.log(np.maximum(blurred, LOG_FLOOR))
    out = xy.copy()
    for i in range(k):
        x, y = int(xy[i, 0]), int(xy[i, 1])
        if not (1 <= x < w - 1 and 1 <= y < h - 1):
            continue
        L = logh[..., i]
        dx = 0.5 * (L[y, x + 1] - L[y, x - 1])
        dy = 0.5 * (L[y + 1, x] - L[y - 1, x])
        dxx = L[y, x + 1] - 2 * L[y, x] + L[y, x - 1]
        dyy = L[y + 1, x] - 2 * L[y, x] + L[y - 1, x]
        dxy = 0.25 * (L[y + 1, x + 1] - L[y + 1, x - 1] - L[y - 1, x + 1] + L[y - 1, x - 1])
        det = dxx * dyy - dxy * dxy
        if det <= 0 or dxx >= 0:
            continue
        ox = -(dyy * dx - dxy * dy) / det
        oy = -(dxx * dy - dxy * dx) / det
        out[i, 0] += np.clip(ox, -MAX_OFFSET_CELLS, MAX_OFFSET_CELLS)
        out[i, 1] += np.clip(oy, -MAX_OFFSET_CELLS, MAX_OFFSET_CELLS)
    return out, maxvals


def gaussian_heatmaps_np(points_xy: np.ndarray, height: int, width: int, sigma: float) -> np.ndarray:
    """(H, W, K) unnormalised Gaussians exp(-d^2 / 2 sigma^2) about (K, 2) points in cells:
    :func:`training.losses.gaussian_heatmaps` of one sample, in float64."""
    from training.losses import gaussian_heatmaps

    return gaussian_heatmaps(np.asarray(points_xy, np.float64)[None], height, width, sigma).numpy()[0]


# --- graph version ------------------------------------------------------------------------


class DarkDecode(keras.layers.Layer):
    """Keras layer: (B, H, W, K) heatmaps -> (B, K, 3) = x, y (cells), maximum value.

    The same computation as :func:`dark_decode` with tensor ops only (depthwise convolutions
    with fixed kernels for the blur and the finite differences, a one-hot of the arg-max to
    pick the Taylor offset), so it converts to TFLite.
    """

    def __init__(self, kernel_size: int = DARK_KERNEL_SIZE, sigma: float = DARK_SIGMA, modulate: bool = True, **kw):
        kw.setdefault("dtype", "float32")
        super().__init__(**kw)
        self.kernel_size, self.sigma, self.modulate = int(kernel_size), float(sigma), bool(modulate)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "sigma": self.sigma, "modulate": self.modulate}

    def build(self, input_shape):
        k = int(input_shape[-1])
        g = gaussian_kernel_1d(self.kernel_size, self.sigma)
        blur = np.outer(g, g).astype(np.float32)
        self._blur = np.repeat(blur[:, :, None, None], k, axis=2)
        # Finite-difference stencils (3x3, rows = y): dx, dy, dxx, dyy, dxy.
        z = np.zeros((3, 3), np.float32)
        dx, dy, dxx, dyy, dxy = z.copy(), z.copy(), z.copy(), z.copy(), z.copy()
        dx[1, 0], dx[1, 2] = -0.5, 0.5
        dy[0, 1], dy[2, 1] = -0.5, 0.5
        dxx[1, :] = (1.0, -2.0, 1.0)
        dyy[:, 1] = (1.0, -2.0, 1.0)
        dxy[0, 0], dxy[0, 2], dxy[2, 0], dxy[2, 2] = 0.25, -0.25, -0.25, 0.25
        # One depthwise conv with 5 outputs per channel: channel order (k0: dx..dxy, k1: ...).
        sten = np.stack([dx, dy, dxx, dyy, dxy], -1)  # (3, 3, 5)
        self._stencil = np.repeat(sten[:, :, None, :], k, axis=2).astype(np.float32)  # (3, 3, K, 5)
        super().build(input_shape)

    def call(self, heatmaps):
        import tensorflow as tf
        from keras import ops

        hm = ops.cast(heatmaps, "float32")
        _, h, w, k = hm.shape
        flat = ops.reshape(hm, (-1, h * w, k))
        maxval = ops.max(flat, axis=1)  # (B, K)
        # tf.argmax: keras.ops.argmax adds bitwise ops (for signed zeros) that TFLite lacks.
        idx = tf.argmax(flat, axis=1, output_type=tf.int32)  # (B, K)
        cells = np.arange(h * w, dtype=np.int32)[None, :, None]
        onehot = ops.cast(ops.equal(cells, idx[:, None, :]), "float32")  # (B, HW, K)
        grid_x = np.tile(np.arange(w, dtype=np.float32), h)[None, :, None]
        grid_y = np.repeat(np.arange(h, dtype=np.float32), w)[None, :, None]
        x0 = ops.sum(onehot * grid_x, axis=1)
        y0 = ops.sum(onehot * grid_y, axis=1)
        m = hm
        if self.modulate:
            m = ops.depthwise_conv(hm, self._blur, strides=1, padding="same")
            bmax = ops.max(ops.reshape(m, (-1, h * w, k)), axis=1)
            m = m * (maxval / ops.maximum(bmax, 1e-12))[:, None, None, :]
        logh = ops.log(ops.maximum(m, LOG_FLOOR))
        d = ops.depthwise_conv(logh, self._stencil, strides=1, padding="same")  # (B, H, W, K*5)
        d = ops.reshape(d, (-1, h * w, k, 5))
        d = ops.sum(d * onehot[..., None], axis=1)  # (B, K, 5) at the arg-max
        dx, dy, dxx, dyy, dxy = (d[..., i] for i in range(5))
        det = dxx * dyy - dxy * dxy
        interior = ops.ones_like(det, dtype="bool")
        for cond in (x0 >= 1, x0 <= w - 2, y0 >= 1, y0 <= h - 2, det > 0, dxx < 0):
            interior = ops.logical_and(interior, cond)
        safe = ops.where(interior, det, 1.0)
        ox = ops.clip(-(dyy * dx - dxy * dy) / safe, -MAX_OFFSET_CELLS, MAX_OFFSET_CELLS)
        oy = ops.clip(-(dxx * dy - dxy * dx) / safe, -MAX_OFFSET_CELLS, MAX_OFFSET_CELLS)
        zero = ops.zeros_like(ox)
        x = x0 + ops.where(interior, ox, zero)
        y = y0 + ops.where(interior, oy, zero)
        return ops.stack([x, y, maxval], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1], 3)


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


__all__ = [
    "DARK_KERNEL_SIZE",
    "DARK_SIGMA",
    "DarkDecode",
    "argmax_decode",
    "dark_decode",
    "gaussian_heatmaps_np",
    "soft_argmax_xy",
]
