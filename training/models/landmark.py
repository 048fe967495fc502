"""The BlazePose landmark (tracker) network, our own implementation of the paper's design
(Bazarevsky et al., "BlazePose: On-device Real-time Body Pose tracking", 2020, figure 4):

    crop (256x256x3, 0..1)
      -> encoder: BlazeBlock stages at 128, 64, 32, 16, 8 px
      -> decoder: upsample + skip back to 64x64 -> heatmap (33) and offset (33 x 2) heads
      -> regression encoder: from the 64x64 decoder features down to 2x2, with a skip from
         the decoder (and the encoder's 8x8 features) at every stage, all through
         stop-gradient, so only the heatmap losses train the shared features
      -> heads: 39 x (x, y, z, visibility logit, presence logit), pose-presence logit,
         39 x world (x, y, z)

Output units, as the official pose_landmark_*.tflite (blazepose_sdk.stages.landmarker): x, y, z in
tensor pixels of the crop (pixel index j at coordinate j, the SDK's warp convention; z shares
x's scale, hip-relative), world in metres (hip-centred, upright ROI frame). Heatmap cell
(row r, col c) stands for tensor point (c, r) * heatmap_stride, the convention of the SDK's
refine_with_heatmap; offsets are in cells.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from blazepose_sdk.geometry.topology import NUM_LANDMARKS
from training.config import LandmarkModelConfig
from training.models.blocks import blaze_stage, conv_bn_relu, make_divisible, project, upsample_add

# Encoder channels and blocks per stage (output strides 2, 4, 8, 16, 32) at width 1.0. Ours,
# sized so that the Lite model stays under 1.5 MB as INT8 TFLite.
ENCODER_CHANNELS = (24, 32, 64, 128, 192)
ENCODER_BLOCKS = (1, 2, 3, 4, 4)
# Decoder channels at output strides 16, 8, 4 (the 64x64 heatmap resolution).
DECODER_CHANNELS = (64, 48, 32)
# Regression encoder: channels and blocks at strides 8, 16, 32, 64, 128 (2x2 for a 256 input).
REGRESSION_CHANNELS = (64, 128, 192, 192, 192)
REGRESSION_BLOCKS = (2, 2, 3, 2, 1)
# Prior logit of the heatmap head's bias (sigmoid(-4) = 0.018), the focal-loss initialisation
# of Lin et al. 2017 (RetinaNet, section 4.1), so the sparse Gaussian targets start balanced.
HEATMAP_PRIOR_LOGIT = -4.0


def _c(channels: int, width: float) -> int:
    return make_divisible(channels * width)


def build_landmark_model(cfg: LandmarkModelConfig | None = None) -> keras.Model:
    """The training model. Input (B, S, S, 3) float in 0..1; outputs a dict:

    - ``landmarks`` (B, 39, 5): x, y, z (tensor px), visibility logit, presence logit;
    - ``pose_presence`` (B, 1): logit;
    - ``world`` (B, 39, 3): metres;
    - ``heatmap`` (B, S/4, S/4, 33): logits; ``offset`` (B, S/4, S/4, 66): (dx, dy) per
      landmark in cells.
    """
    cfg = cfg or LandmarkModelConfig()
    s, w = cfg.input_size, cfg.width
    if s % 32:
        raise ValueError("input_size must be a multiple of 32")
    inp = keras.Input((s, s, 3), name="image")
    x = conv_bn_relu(inp, _c(ENCODER_CHANNELS[0], w), 3, 2, name="stem")  # /2
    x = blaze_stage(x, _c(ENCODER_CHANNELS[0], w), ENCODER_BLOCKS[0], 1, "enc1")
    feats = {2: x}
    stride = 2
    for i in range(1, 5):
        stride *= 2
        x = blaze_stage(x, _c(ENCODER_CHANNELS[i], w), ENCODER_BLOCKS[i], 2, f"enc{i + 1}")
        feats[stride] = x  # strides 4, 8, 16, 32

    # Heatmap decoder: 32 -> 16 -> 8 -> 4 (64x64 for 256 input).
    if cfg.heatmap_stride != 4:
        raise ValueError("this decoder ends at stride 4 (heatmap_stride=4)")
    d = feats[32]
    dec = {32: d}
    for stride, ch in zip((16, 8, 4), DECODER_CHANNELS):
        d = upsample_add(d, feats[stride], _c(ch, w), name=f"dec{stride}")
        dec[stride] = d
    heatmap = layers.Conv2D(NUM_LANDMARKS, 3, padding="same", name="heatmap",
                            bias_initializer=keras.initializers.Constant(HEATMAP_PRIOR_LOGIT),
                            dtype="float32")(d)
    offset = layers.Conv2D(2 * NUM_LANDMARKS, 3, padding="same", name="offset", dtype="float32")(d)

    # Regression encoder, fed through stop-gradient from the heatmap features.
    sg = (lambda t: ops.stop_gradient(t)) if cfg.stop_gradient else (lambda t: t)
    r = blaze_stage(sg(dec[4]), _c(REGRESSION_CHANNELS[0], w), REGRESSION_BLOCKS[0], 2, "reg8")
    r = layers.Add(name="reg8_skip")([r, project(sg(dec[8]), r.shape[-1], "reg8_lat")])
    r = blaze_stage(r, _c(REGRESSION_CHANNELS[1], w), REGRESSION_BLOCKS[1], 2, "reg16")
    r = layers.Add(name="reg16_skip")([r, project(sg(dec[16]), r.shape[-1], "reg16_lat")])
    r = blaze_stage(r, _c(REGRESSION_CHANNELS[2], w), REGRESSION_BLOCKS[2], 2, "reg32")
    r = layers.Add(name="reg32_skip")([r, project(sg(dec[32]), r.shape[-1], "reg32_lat")])
    r = blaze_stage(r, _c(REGRESSION_CHANNELS[3], w), REGRESSION_BLOCKS[3], 2, "reg64")
    r = blaze_stage(r, _c(REGRESSION_CHANNELS[4], w), REGRESSION_BLOCKS[4], 2, "reg128")
    # Collapse the remaining (S/128)^2 grid with a per-channel spatial kernel (keeps position).
    r = layers.DepthwiseConv2D(r.shape[1], padding="valid", name="collapse")(r)
    r = layers.Flatten(name="flat")(r)

    rows = cfg.num_rows
    raw_lm = layers.Dense(rows * 5, name="landmarks_dense", dtype="float32", kernel_initializer="zeros")(r)
    raw_lm = layers.Reshape((rows, 5), name="landmarks_rows")(raw_lm)
    # x, y start at the crop centre and move in units of the crop side; z in crop sides too.
    scale = ops.convert_to_tensor([s, s, s, 1.0, 1.0], "float32")
    bias = ops.convert_to_tensor([s / 2.0, s / 2.0, 0.0, 0.0, 0.0], "float32")
    landmarks = layers.Identity(name="landmarks", dtype="float32")(raw_lm * scale + bias)
    pose_presence = layers.Dense(1, name="pose_presence", dtype="float32")(r)
    world = layers.Dense(rows * 3, name="world_dense", dtype="float32", kernel_initializer="zeros")(r)
    world = layers.Reshape((rows, 3), name="world", dtype="float32")(world)
    return keras.Model(inp, {"landmarks": landmarks, "pose_presence": pose_presence, "world": world,
                             "heatmap": heatmap, "offset": offset}, name="blazepose_landmark")


def inference_model(model: keras.Model) -> keras.Model:
    """The export model: the heatmap/offset heads dropped. Outputs, as the official models:
    (B, rows*5) landmarks, (B, 1) pose-presence probability (sigmoid applied), (B, rows*3)
    world landmarks. Shares weights with ``model``."""
    rows = model.get_layer("landmarks_rows").output.shape[1]
    lm = layers.Reshape((rows * 5,), name="landmarks_flat")(model.get_layer("landmarks").output)
    pres = layers.Activation("sigmoid", name="pose_presence_prob", dtype="float32")(model.get_layer("pose_presence").output)
    world = layers.Reshape((rows * 3,), name="world_flat")(model.get_layer("world").output)
    return keras.Model(model.inputs, [lm, pres, world], name="blazepose_landmark_infer")
