"""Building blocks shared by the detector and the landmark network (BlazeFace/BlazePose style).

BlazeBlock (Bazarevsky et al., "BlazeFace", 2019, figure 1): a 5x5 depthwise convolution and a
1x1 projection, with a residual connection; on stride 2 the shortcut is max-pooled, and when
the channel count grows it is zero-padded in channels. ReLU after the addition.
"""

from __future__ import annotations

import keras
from keras import layers

# Depthwise kernel of BlazeBlocks (BlazeFace section 3: "5x5 depthwise convolutions").
BLAZE_KERNEL = 5


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` (at least ``divisor``), as the
    width multipliers of MobileNet."""
    return max(divisor, int(channels + divisor / 2) // divisor * divisor)


def conv_bn_relu(x, filters: int, kernel: int = 3, stride: int = 1, name: str = ""):
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def blaze_block(x, filters: int, stride: int = 1, name: str = ""):
    """One BlazeBlock: depthwise 5x5 (stride) -> BN -> 1x1 conv -> BN, + shortcut, ReLU."""
    in_ch = x.shape[-1]
    y = layers.DepthwiseConv2D(BLAZE_KERNEL, stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    y = layers.BatchNormalization(name=f"{name}_dwbn")(y)
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(y)
    y = layers.BatchNormalization(name=f"{name}_pwbn")(y)
    shortcut = x
    if stride == 2:
        shortcut = layers.MaxPooling2D(2, 2, padding="same", name=f"{name}_pool")(shortcut)
    if filters > in_ch:
        shortcut = keras.ops.pad(shortcut, [[0, 0], [0, 0], [0, 0], [0, filters - in_ch]])
    elif filters < in_ch:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_relu")(y)


def blaze_stage(x, filters: int, blocks: int, stride: int, name: str):
    """``blocks`` BlazeBlocks, the first with ``stride``."""
    for i in range(blocks):
        x = blaze_block(x, filters, stride if i == 0 else 1, name=f"{name}_b{i}")
    return x


def project(x, filters: int, name: str):
    """1x1 conv + BN + ReLU to ``filters`` channels (decoder skips and lateral links)."""
    return conv_bn_relu(x, filters, 1, 1, name=name)


def upsample_add(coarse, skip, filters: int, name: str):
    """Decoder step: bilinear x2 upsampling of ``coarse`` + projected ``skip``, then a BlazeBlock."""
    up = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(project(coarse, filters, f"{name}_pc"))
    x = layers.Add(name=f"{name}_add")([up, project(skip, filters, f"{name}_ps")])
    return blaze_block(x, filters, 1, name=f"{name}_blk")


__all__ = ["blaze_block", "blaze_stage", "conv_bn_relu", "make_divisible", "project", "upsample_add"]
