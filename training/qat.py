"""Quantization-aware fine-tuning: fake int8 quantization inside a Keras model.

:func:`fake_quant_model` returns a model that shares every layer (and so every variable) of a
float Keras functional model and computes as TFLite's int8 graph will:

* conv / depthwise / dense kernels are rounded to int8 per output channel, symmetric, on the
  narrow range [-127, 127] with the scale max|w| / 127 (what ai-edge-quantizer's per-channel
  recipe and the TF converter do);
* every tensor a layer produces (and the model input) is rounded to int8 per tensor,
  asymmetric, between the smallest and largest value seen in training batches so far, as
  ai-edge-quantizer's min/max calibration sets them;
* layers that only move values (Reshape, Permute, padding, cropping) keep their input's grid.

Gradients pass the rounding as the straight-through estimator (TF's ``fake_quant`` ops): zero
outside the range, identity inside. Training the fake-quant model therefore trains the shared
float weights to tolerate int8 rounding. The float model itself (no fake quant) is what gets
exported and quantized (``python -m convert.int8_official quantize --float-model ...``).

Only graphs without batch normalization are accepted (an imported BlazePose model has its batch
norms folded already; folding after fake quant would quantize the wrong kernels).
"""

from __future__ import annotations

# Activation ranges are the min/max of every batch seen, not an EMA as in TF's QAT: on 148 real
# ROI crops through the imported official Lite (activations only), an EMA at 0.99 moved the
# landmarks by 8.7 px mean and min/max by 9.0 px (the same), and min/max is what the converter's
# calibration does.
NUM_BITS = 8
# Layers whose output values are their input's (only moved or dropped; Lambda: the students' slicing
# wrappers): no new grid.
PASS_THROUGH = ("Reshape", "Permute", "Lambda", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping2D",
                "Flatten", "InputLayer")
KERNEL_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


def _keras():
    import keras

    return keras


def fake_quant_kernel(kernel, depthwise: bool = False):
    """Round a kernel to symmetric per-output-channel int8 (narrow range) and back to float.

    Conv2D (kh, kw, in, out) and Dense (in, out): one scale per ``out``. DepthwiseConv2D
    (kh, kw, in, multiplier): one per ``in x multiplier`` output channel (TFLite's layout).
    """
    import tensorflow as tf

    shape = tf.shape(kernel)
    flat = tf.reshape(kernel, tf.concat([shape[:2], [-1]], 0)) if depthwise else kernel
    axes = list(range(len(flat.shape) - 1))
    bound = tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(flat), axis=axes), 1e-12))
    q = tf.quantization.fake_quant_with_min_max_vars_per_channel(flat, -bound, bound, num_bits=NUM_BITS,
                                                                   narrow_range=True)
    return tf.reshape(q, shape) if depthwise else q


def _make_layers():
    keras = _keras()

    class FakeQuantActivation(keras.layers.Layer):
        """Per-tensor asymmetric int8 fake quant between a running min and max (see module)."""

        def build(self, input_shape):
            self.range_min = self.add_weight(shape=(), initializer="zeros", trainable=False, name="range_min",
                                             aggregation="mean")
            self.range_max = self.add_weight(shape=(), initializer="zeros", trainable=False, name="range_max",
                                             aggregation="mean")
            self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen",
                                        aggregation="only_first_replica")

        def call(self, x, training=None):
            import tensorflow as tf

            if training:  # the range of everything seen so far, as min/max calibration
                lo, hi = tf.reduce_min(x), tf.reduce_max(x)
                first = self.seen < 0.5
                self.range_min.assign(tf.where(first, lo, tf.minimum(self.range_min, lo)))
                self.range_max.assign(tf.where(first, hi, tf.maximum(self.range_max, hi)))
                self.seen.assign(1.0)
            # the grid always holds 0 (TFLite's zero point), and is never empty
            lo = tf.minimum(tf.convert_to_tensor(self.range_min), 0.0)
            hi = tf.maximum(tf.maximum(tf.convert_to_tensor(self.range_max), 0.0), lo + 1e-6)
            return tf.quantization.fake_quant_with_min_max_vars(x, lo, hi, num_bits=NUM_BITS)

    class FakeQuantKernel(keras.layers.Layer):
        """Calls a Conv2D / DepthwiseConv2D / Dense layer with its kernel fake-quantized."""

        def __init__(self, inner, **kwargs):
            super().__init__(name=f"{inner.name}_fq", **kwargs)
            self.inner = inner

        def call(self, x):
            from keras import ops

            layer, kind = self.inner, type(self.inner).__name__
            if kind == "Dense":
                y = ops.matmul(x, fake_quant_kernel(layer.kernel))
            elif kind == "Conv2D":
                if layer.groups != 1:
                    raise ValueError(f"{layer.name}: grouped convolutions are not supported")
                y = ops.conv(x, fake_quant_kernel(layer.kernel), strides=layer.strides, padding=layer.padding,
                             data_format=layer.data_format, dilation_rate=layer.dilation_rate)
            else:
                y = ops.depthwise_conv(x, fake_quant_kernel(layer.kernel, depthwise=True), strides=layer.strides,
                                       padding=layer.padding, data_format=layer.data_format,
                                       dilation_rate=layer.dilation_rate)
            if layer.use_bias:
                y = y + layer.bias
            return layer.activation(y) if layer.activation is not None else y

    return FakeQuantActivation, FakeQuantKernel


def fake_quant_model(model, kernels: bool = True, activations: bool = True):
    """The functional ``model`` with int8 fake quantization of kernels and activations (see the
    module docstring; either can be left float). Shares ``model``'s layers and variables; adds
    only the range variables."""
    keras = _keras()
    FakeQuantActivation, FakeQuantKernel = _make_layers()
    for layer in model.layers:
        if "BatchNormalization" in type(layer).__name__:
            raise ValueError(f"{model.name}: fold batch normalization ({layer.name}) before fake quantization")
    seen_names: set[str] = set()

    def quantizer(base: str):
        n, i = f"{base}_aq", 1
        while n in seen_names:
            n, i = f"{base}_aq{i}", i + 1
        seen_names.add(n)
        return FakeQuantActivation(name=n)

    input_quantizers: dict[int, object] = {}  # id of a model input -> its fake-quantized tensor

    def quantize_input(t):
        history = getattr(t, "_keras_history", None)
        if not activations or history is None or type(history.operation).__name__ != "InputLayer":
            return t
        if id(t) not in input_quantizers:
            input_quantizers[id(t)] = quantizer(f"input_{len(input_quantizers)}")(t)
        return input_quantizers[id(t)]

    def call(layer, *args, **kwargs):
        args = keras.tree.map_structure(quantize_input, args)
        kind = type(layer).__name__
        out = FakeQuantKernel(layer)(*args, **kwargs) if kernels and kind in KERNEL_LAYERS else layer(*args, **kwargs)
        if not activations or kind in PASS_THROUGH or not hasattr(out, "shape"):
            return out
        return quantizer(layer.name)(out)

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


def quantizer_layers(model) -> list:
    """The activation fake-quant layers of a :func:`fake_quant_model` model."""
    return [layer for layer in model.layers if type(layer).__name__ == "FakeQuantActivation"]
