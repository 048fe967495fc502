"""Lite-HRNet: our Keras implementation of the lightweight high-resolution network of
Yu et al., "Lite-HRNet: A Lightweight High-Resolution Network", CVPR 2021 (arXiv 2104.06403),
built from the paper's description and the published configs (litehrnet_{18,30}_coco_256x192).

    image (H x W x 3, 0..1) -> ImageNet normalisation
      -> stem: 3x3 stride-2 conv, then a stride-2 shuffle block              (1/4 resolution)
      -> 3 stages of modules on parallel branches at 1/4, 1/8, 1/16, 1/32 with widths
         C, 2C, 4C, 8C (stage s has s + 1 branches; a transition adds the new branch)
         module = 2 conditional channel weighting blocks on every branch, then
                  multi-resolution fusion (every branch to every branch)
      -> iterative head: coarse to fine, upsample + add + depthwise-separable conv
      -> 1x1 conv -> K heatmaps at 1/4 resolution                            (B, H/4, W/4, K)

Conditional channel weighting block (the paper's replacement of the two 1x1 convolutions of a
shuffle block): split every branch's channels in half; one half passes; the other half gets
  1. cross-resolution weights: every branch average-pooled to the smallest resolution,
     concatenated, 1x1 conv (/ reduce ratio) + ReLU, 1x1 conv + sigmoid, split per branch,
     nearest-upsampled back and multiplied in;
  2. a 3x3 depthwise conv (BN, no activation);
  3. spatial weights: global average pool, 1x1 conv (/4) + ReLU, 1x1 conv + sigmoid (per
     branch, a squeeze-excitation);
then the halves are concatenated and channel-shuffled (2 groups).

Differences from the PyTorch reference, all without effect on parameter counts: TensorFlow's
"same" padding of stride-2 convs pads bottom/right rather than both sides; the iterative head
upsamples bilinearly with half-pixel centres (the reference uses align_corners=True); the
fusion sums every branch once (the reference adds branch 0 twice, see :func:`count_flops`).

The heatmap of keypoint k has cell (row r, col c) standing for input point (c, r) * stride
(stride 4), the convention of training.losses.gaussian_heatmaps and of the SDK's
refine_with_heatmap; heatmap values are ~1 at a keypoint (trained by MSE on Gaussians).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import keras
import numpy as np
from keras import layers

# ImageNet mean / std of RGB in 0..1: the NormalizeTensor step of the reference pipeline
# (litehrnet_18_coco_256x192.py, mmpose).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# PyTorch BatchNorm2d defaults (momentum 0.1 of the new statistic = Keras momentum 0.9; eps 1e-5).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
# Output stride of the heatmaps (the stem halves twice).
HEATMAP_STRIDE = 4
# Spatial-weighting reduction (SpatialWeighting(ratio=4) in the reference implementation).
SPATIAL_RATIO = 4
# The paper's table / the reference README (configs/top_down/lite_hrnet/README.md), COCO
# 256x192, 17 keypoints: #Params and FLOPs (mmcv's counter, which counts multiply-adds of
# convolutions plus one op per element of BN (x2), ReLU, pooling and nn.Upsample).
PAPER_TABLE_COCO_256x192 = {
    "lite_hrnet_18": {"params": 1.1e6, "flops": 205.2e6},
    "lite_hrnet_30": {"params": 1.8e6, "flops": 319.2e6},
}


@dataclass(frozen=True)
class LiteHRNetConfig:
    """One Lite-HRNet variant. Sizes in input pixels; widths in channels.

    - input_height, input_width: the crop (256 x 192 for COCO, 256 x 256 for the SDK).
      Must be multiples of 32 (the 4th branch is at 1/32).
    - num_keypoints: heatmap channels (17 COCO, 33 BlazePose).
    - stem_channels: width of the stem's 3x3 conv and of its output (32 in both configs).
    - stem_expand_ratio: expansion of the stem shuffle block's inner branch (1).
    - width: C, the first branch's width; branches have C, 2C, 4C, 8C (40 in both configs).
    - num_modules: modules per stage ((2, 4, 2) for -18, (3, 8, 3) for -30).
    - num_blocks: conditional channel weighting blocks per module (2).
    - reduce_ratio: cross-resolution weighting reduction (8).
    """

    input_height: int = 256
    input_width: int = 192
    num_keypoints: int = 17
    stem_channels: int = 32
    stem_expand_ratio: float = 1.0
    width: int = 40
    num_modules: tuple[int, ...] = (2, 4, 2)
    num_blocks: int = 2
    reduce_ratio: int = 8
    name: str = "lite_hrnet_18"

    @property
    def branch_channels(self) -> tuple[int, ...]:
        return tuple(self.width * 2**i for i in range(len(self.num_modules) + 1))


# stages_spec of litehrnet_18_coco_256x192.py / litehrnet_30_coco_256x192.py.
LITE_HRNET_18 = LiteHRNetConfig(num_modules=(2, 4, 2), name="lite_hrnet_18")
LITE_HRNET_30 = LiteHRNetConfig(num_modules=(3, 8, 3), name="lite_hrnet_30")
# Ours: a 4x-cheaper student for quick experiments and tests, and a wide teacher.
LITE_HRNET_TINY = LiteHRNetConfig(stem_channels=16, width=16, num_modules=(1, 1, 1), num_blocks=1,
                                  reduce_ratio=4, name="lite_hrnet_tiny")
LITE_HRNET_WIDE = LiteHRNetConfig(stem_channels=48, width=64, num_modules=(3, 8, 3), name="lite_hrnet_wide")
VARIANTS = {c.name: c for c in (LITE_HRNET_18, LITE_HRNET_30, LITE_HRNET_TINY, LITE_HRNET_WIDE)}


def variant(variant_name: str, **overrides) -> LiteHRNetConfig:
    """A named config (``VARIANTS``) with fields overridden, e.g. input size or keypoints."""
    if variant_name not in VARIANTS:
        raise ValueError(f"unknown Lite-HRNet variant {variant_name!r}; one of {sorted(VARIANTS)}")
    return replace(VARIANTS[variant_name], **overrides)


# --- blocks -------------------------------------------------------------------------------


def _bn(x, name):
    return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def conv_bn(x, filters: int, kernel: int = 1, stride: int = 1, relu: bool = True, name: str = ""):
    """Conv (no bias) + BN (+ ReLU)."""
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = _bn(x, f"{name}_bn")
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def dw_bn(x, stride: int = 1, name: str = ""):
    """3x3 depthwise conv (no bias) + BN, no activation."""
    x = layers.DepthwiseConv2D(3, stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    return _bn(x, f"{name}_dwbn")


def channel_shuffle(x, groups: int = 2, name: str = ""):
    """ShuffleNet's channel shuffle: (.., g * n) -> (.., n, g) order (Zhang et al. 2018)."""
    h, w, c = x.shape[1:]
    x = layers.Reshape((h, w, groups, c // groups), name=f"{name}_shuf_r1")(x)
    x = layers.Permute((1, 2, 4, 3), name=f"{name}_shuf_t")(x)
    return layers.Reshape((h, w, c), name=f"{name}_shuf_r2")(x)


def split_half(x):
    c = x.shape[-1]
    return x[..., : c // 2], x[..., c // 2:]


def stem(x, channels: int, expand_ratio: float, name: str = "stem"):
    """3x3 stride-2 conv, then a stride-2 shuffle block (out ``channels`` at 1/4)."""
    x = conv_bn(x, channels, 3, 2, name=f"{name}_conv1")
    half = channels // 2
    x1, x2 = split_half(x)
    x1 = dw_bn(x1, 2, name=f"{name}_b1")
    x1 = conv_bn(x1, channels - half, 1, name=f"{name}_b1_pw")
    mid = round(channels * expand_ratio)
    x2 = conv_bn(x2, mid, 1, name=f"{name}_b2_expand")
    x2 = dw_bn(x2, 2, name=f"{name}_b2")
    x2 = conv_bn(x2, half, 1, name=f"{name}_b2_linear")
    x = layers.Concatenate(name=f"{name}_cat")([x1, x2])
    return channel_shuffle(x, 2, name)


def cross_resolution_weighting(xs: list, reduce_ratio: int, name: str):
    """Weights for every branch from all branches pooled to the smallest resolution."""
    n = len(xs)
    chans = [int(x.shape[-1]) for x in xs]
    pooled = []
    for i, x in enumerate(xs):
        f = 2 ** (n - 1 - i)
        pooled.append(layers.AveragePooling2D(f, f, name=f"{name}_pool{i}")(x) if f > 1 else x)
    y = layers.Concatenate(name=f"{name}_cat")(pooled) if n > 1 else pooled[0]
    total = sum(chans)
    y = conv_bn(y, int(total / reduce_ratio), 1, name=f"{name}_fc1")
    y = layers.Conv2D(total, 1, use_bias=False, name=f"{name}_fc2_conv")(y)
    y = _bn(y, f"{name}_fc2_bn")
    y = layers.Activation("sigmoid", name=f"{name}_sigmoid")(y)
    out, start = [], 0
    for i, (x, c) in enumerate(zip(xs, chans)):
        wgt = y[..., start:start + c]
        start += c
        f = 2 ** (n - 1 - i)
        if f > 1:
            wgt = layers.UpSampling2D(f, interpolation="nearest", name=f"{name}_up{i}")(wgt)
        out.append(layers.Multiply(name=f"{name}_mul{i}")([x, wgt]))
    return out


def spatial_weighting(x, name: str):
    """Per-branch squeeze-excitation: GAP -> 1x1 (/4) ReLU -> 1x1 sigmoid -> multiply."""
    c = int(x.shape[-1])
    y = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_gap")(x)
    y = layers.Conv2D(int(c / SPATIAL_RATIO), 1, name=f"{name}_fc1")(y)
    y = layers.ReLU(name=f"{name}_relu")(y)
    y = layers.Conv2D(c, 1, activation="sigmoid", name=f"{name}_fc2")(y)
    return layers.Multiply(name=f"{name}_mul")([x, y])


def conditional_channel_weighting(xs: list, reduce_ratio: int, name: str):
    """One conditional channel weighting block over all branches (module docstring)."""
    halves = [split_half(x) for x in xs]
    x2 = cross_resolution_weighting([h[1] for h in halves], reduce_ratio, f"{name}_crw")
    out = []
    for i, (h, y) in enumerate(zip(halves, x2)):
        y = dw_bn(y, 1, name=f"{name}_br{i}")
        y = spatial_weighting(y, f"{name}_br{i}_sw")
        y = layers.Concatenate(name=f"{name}_br{i}_cat")([h[0], y])
        out.append(channel_shuffle(y, 2, f"{name}_br{i}"))
    return out


def fuse(xs: list, name: str):
    """Multi-resolution fusion: output i = ReLU(sum_j path_j->i(x_j)). Finer to coarser: chains
    of (3x3 depthwise stride 2 + BN + 1x1 + BN), ReLU between; coarser to finer: 1x1 + BN and
    nearest upsampling. Layer names ``{name}_to{i}_from{j}_*``."""
    n = len(xs)
    chans = [int(x.shape[-1]) for x in xs]
    out = []
    for i in range(n):
        terms = []
        for j in range(n):
            p = f"{name}_to{i}_from{j}"
            y = xs[j]
            if j > i:
                y = conv_bn(y, chans[i], 1, relu=False, name=p)
                y = layers.UpSampling2D(2 ** (j - i), interpolation="nearest", name=f"{p}_up")(y)
            elif j < i:
                for k in range(i - j):
                    last = k == i - j - 1
                    y = dw_bn(y, 2, name=f"{p}_d{k}")
                    y = conv_bn(y, chans[i] if last else chans[j], 1, relu=not last, name=f"{p}_d{k}_pw")
            terms.append(y)
        y = layers.Add(name=f"{name}_to{i}_add")(terms)
        out.append(layers.ReLU(name=f"{name}_to{i}_relu")(y))
    return out


def transition(xs: list, channels: tuple[int, ...], name: str):
    """Adapt the previous stage's branches to ``channels`` and add the new coarsest branch
    (3x3 depthwise stride 2 + BN + 1x1 + BN + ReLU from the last branch)."""
    out = []
    for i, c in enumerate(channels):
        if i < len(xs):
            x = xs[i]
            if int(x.shape[-1]) != c:
                x = dw_bn(x, 1, name=f"{name}_{i}")
                x = conv_bn(x, c, 1, name=f"{name}_{i}_pw")
        else:
            x = dw_bn(xs[-1], 2, name=f"{name}_{i}")
            x = conv_bn(x, c, 1, name=f"{name}_{i}_pw")
        out.append(x)
    return out


def iterative_head(xs: list, name: str = "head"):
    """Coarse to fine: y = dwsep(x_coarsest); for finer branches y = dwsep(x_i + up(y)); each
    depthwise-separable conv (3x3 dw + BN, 1x1 + BN + ReLU) maps to the next finer width."""
    y = None
    n = len(xs)
    for i in range(n - 1, -1, -1):
        x = xs[i]
        if y is not None:
            y = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_{i}_up")(y)
            x = layers.Add(name=f"{name}_{i}_add")([x, y])
        c_out = int(xs[i - 1].shape[-1]) if i > 0 else int(x.shape[-1])
        x = dw_bn(x, 1, name=f"{name}_{i}")
        y = conv_bn(x, c_out, 1, name=f"{name}_{i}_pw")
    return y


# --- model --------------------------------------------------------------------------------


def build_lite_hrnet(cfg: LiteHRNetConfig = LITE_HRNET_18, normalize_input: bool = True) -> keras.Model:
    """The heatmap model. Input (B, H, W, 3) RGB in 0..1 (ImageNet-normalised inside when
    ``normalize_input``); output ``heatmap`` (B, H/4, W/4, K) float32, cell (r, c) standing for
    input point (c, r) * 4."""
    h, w = cfg.input_height, cfg.input_width
    depth = 2 ** (len(cfg.num_modules) + 2)
    if h % depth or w % depth:
        raise ValueError(f"input {h}x{w} must be a multiple of {depth}")
    inp = keras.Input((h, w, 3), name="image")
    x = inp
    if normalize_input:
        mean = np.asarray(IMAGENET_MEAN, np.float32)
        inv_std = 1.0 / np.asarray(IMAGENET_STD, np.float32)
        x = layers.Rescaling(scale=inv_std, offset=-mean * inv_std, name="normalize")(x)
    x = stem(x, cfg.stem_channels, cfg.stem_expand_ratio)
    xs = [x]
    chans = cfg.branch_channels
    for s, n_modules in enumerate(cfg.num_modules):
        xs = transition(xs, chans[: s + 2], f"trans{s}")
        for m in range(n_modules):
            for b in range(cfg.num_blocks):
                xs = conditional_channel_weighting(xs, cfg.reduce_ratio, f"s{s}m{m}b{b}")
            xs = fuse(xs, f"s{s}m{m}_fuse")
    y = iterative_head(xs)
    heatmap = layers.Conv2D(cfg.num_keypoints, 1, name="heatmap", dtype="float32")(y)
    return keras.Model(inp, heatmap, name=cfg.name)


def count_params(model: keras.Model) -> int:
    """Trainable parameters (conv weights and biases, BN scale and offset), the quantity the
    paper counts (PyTorch parameters; BN running statistics are buffers there)."""
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def _numel(shape) -> int:
    return int(np.prod([d for d in shape[1:]]))


def count_flops(model: keras.Model, reference_fusion: bool = False) -> dict:
    """Analytic operation counts of one image (batch 1), from each layer's output shape.

    Returns a dict:
    - ``macs``: multiply-accumulates of Conv2D / DepthwiseConv2D / Dense weights;
    - ``mmcv``: the count the paper's table uses (mmcv.cnn.get_model_complexity_info, whose
      "FLOPs" are MACs): conv MACs + bias adds + BN 2 x elements + ReLU elements + average-pool
      input elements of the spatial weighting + upsampling output elements of the fusion (the
      nn.Module kinds its hooks count; sigmoids, products, sums and the functional pooling /
      interpolation of the cross-resolution weighting and the head are not counted);
    - ``flops``: 2 x macs (one multiply and one add each).

    ``reference_fusion``: also count the reference implementation's second evaluation of the
    path from branch 0 to every coarser branch in each fusion (its forward starts each sum
    with that path and then adds it again), to compare with the paper's number.
    """
    macs = other = 0
    for layer in model.layers:
        if not hasattr(layer, "output") or isinstance(layer, keras.layers.InputLayer):
            continue
        times = 2 if reference_fusion and "_from0" in layer.name and "_to0_" not in layer.name else 1
        out = layer.output.shape
        inp = layer.input.shape if not isinstance(layer.input, list) else layer.input[0].shape
        n_out = _numel(out)
        if isinstance(layer, layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            m = n_out * kh * kw
            macs += times * m
            other += times * (n_out if layer.use_bias else 0)
        elif isinstance(layer, layers.Conv2D):
            kh, kw = layer.kernel_size
            m = n_out * kh * kw * int(inp[-1]) // layer.groups
            macs += times * m
            other += times * (n_out if layer.use_bias else 0)
        elif isinstance(layer, layers.Dense):
            macs += times * int(inp[-1]) * n_out
            other += times * (n_out if layer.use_bias else 0)
        elif isinstance(layer, layers.BatchNormalization):
            other += times * 2 * n_out
        elif isinstance(layer, layers.ReLU):
            other += times * n_out
        elif isinstance(layer, (layers.AveragePooling2D, layers.GlobalAveragePooling2D)) and "_crw_" not in layer.name:
            other += times * _numel(inp)  # the cross-resolution pooling is functional there
        elif isinstance(layer, layers.UpSampling2D) and "_fuse_" in layer.name:
            other += times * n_out  # nn.Upsample only in the fusion
    return {"macs": int(macs), "mmcv": int(macs + other), "flops": int(2 * macs)}
