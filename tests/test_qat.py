"""training.qat: int8 fake quantization that shares the float model's weights."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from training.qat import fake_quant_kernel, fake_quant_model, quantizer_layers  # noqa: E402


def _net():
    """Conv (fused ReLU) -> depthwise -> add -> reshape -> dense, no normalization."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3), name="image")
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    b = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(a)
    c = keras.layers.Conv2D(8, 1, name="pw")(a)
    s = keras.layers.Add(name="add")([b, c])
    flat = keras.layers.Reshape((8 * 8 * 8,), name="flat")(s)
    return keras.Model(x, {"points": keras.layers.Dense(6, name="head")(flat), "map": s})


def _per_channel_int8(w: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    scale = np.abs(w).max(axis=axes, keepdims=True) / 127.0
    return np.clip(np.round(w / scale), -127, 127) * scale


def test_kernels_round_to_symmetric_per_channel_int8():
    w = np.random.default_rng(0).normal(size=(3, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(fake_quant_kernel(tf.constant(w)).numpy(), _per_channel_int8(w, (0, 1, 2)), atol=1e-6)
    dw = np.random.default_rng(1).normal(size=(3, 3, 4, 2)).astype(np.float32)  # (kh, kw, in, multiplier)
    flat = dw.reshape(3, 3, 8)  # TFLite's output channel = in x multiplier
    want = _per_channel_int8(flat, (0, 1)).reshape(dw.shape)
    np.testing.assert_allclose(fake_quant_kernel(tf.constant(dw), depthwise=True).numpy(), want, atol=1e-6)


def test_fake_quant_model_shares_weights_and_quantizes_every_tensor():
    model = _net()
    q = fake_quant_model(model)
    # the same variables (training q trains model), plus 3 range variables per quantizer
    assert {id(v) for v in q.trainable_variables} == {id(v) for v in model.trainable_variables}
    names = sorted(layer.name for layer in quantizer_layers(q))
    assert names == ["add_aq", "conv_aq", "dw_aq", "head_aq", "input_0_aq", "pw_aq"]  # not the reshape
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 3)).astype(np.float32)
    q(x, training=True)
    ranges = {layer.name: (float(layer.range_min), float(layer.range_max)) for layer in quantizer_layers(q)}
    assert ranges["input_0_aq"] == pytest.approx((float(x.min()), float(x.max())))
    assert ranges["conv_aq"][0] == 0.0  # a ReLU output
    float_out, quant_out = model(x), q(x)
    step = (ranges["head_aq"][1] - ranges["head_aq"][0]) / 255
    err = np.abs(np.asarray(float_out["points"]) - np.asarray(quant_out["points"]))
    assert 0 < err.max() < 0.1 * np.abs(np.asarray(float_out["points"])).max()
    # the output sits on its own int8 grid, which holds 0 (an integer zero point)
    grid = np.asarray(quant_out["points"]) / step
    np.testing.assert_allclose(grid, np.round(grid), atol=2e-2)
    # ranges only grow: a batch of larger inputs widens the input range
    q(2 * x, training=True)
    assert float(quantizer_layers(q)[0].range_max) == pytest.approx(2 * float(x.max()), rel=1e-6)


def test_gradients_reach_every_kernel_through_the_rounding():
    model = _net()
    q = fake_quant_model(model)
    x = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        out = q(x, training=True)
        loss = tf.reduce_mean(tf.square(out["points"])) + tf.reduce_mean(tf.square(out["map"]))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)
    opt = keras.optimizers.Adam(1e-2)
    before = float(loss)
    for _ in range(5):
        with tf.GradientTape() as tape:
            out = q(x, training=True)
            loss = tf.reduce_mean(tf.square(out["points"])) + tf.reduce_mean(tf.square(out["map"]))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    assert float(loss) < before


def test_batch_normalization_is_refused():
    x = keras.Input((8, 8, 3))
    y = keras.layers.BatchNormalization()(keras.layers.Conv2D(2, 3)(x))
    with pytest.raises(ValueError, match="batch normalization"):
        fake_quant_model(keras.Model(x, y))
