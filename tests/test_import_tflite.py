"""training.import_tflite: .tflite -> trainable Keras, on synthetic graphs and the official models."""

from __future__ import annotations

import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from training.import_tflite import (  # noqa: E402
    check_model,
    import_tflite,
    main,
    model_input,
    model_kind,
    sdk_units,
)
from training.tflite_graph import TFLiteImportError, UnsupportedOpError, densify, load_graph, read_tflite  # noqa: E402
from training.tflite_keras import SUPPORTED_OPS, _Builder  # noqa: E402

REFERENCE_VERSION = "0.5.1675469404"


def _synthetic_function():
    """A tf.function whose TFLite conversion holds every operator in SUPPORTED_OPS."""
    rng = np.random.default_rng(0)

    def const(*shape, scale=0.3, sparse=False):
        a = (rng.standard_normal(shape) * scale).astype(np.float32)
        if sparse:  # 80 % zeros: the converter's sparsity option stores it sparse behind DENSIFY
            a[rng.random(shape) < 0.8] = 0.0
        return tf.constant(a)

    w1, b1 = const(3, 3, 3, 8), const(8)
    dw, db = const(3, 3, 8, 2), const(16)
    w2, b2 = const(1, 1, 16, 16, sparse=True), const(16)
    neg_alpha = -tf.abs(const(1, 1, 16, scale=0.2))
    w3, w4, b4 = const(1, 1, 8, 8), const(3, 3, 8, 4, scale=1.0), const(4)
    fc_w, fc_b = const(256, 10), const(10)

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32)])
    def f(x):
        y = tf.nn.relu6(tf.nn.conv2d(x, w1, 2, "SAME") + b1)  # CONV_2D, stride 2, SAME, fused RELU6
        z = tf.pad(y, [[0, 0], [1, 1], [0, 2], [0, 0]])  # PAD (spatial, uneven)
        z = tf.nn.depthwise_conv2d(z, dw, [1, 1, 1, 1], "VALID") + db  # DEPTHWISE_CONV_2D, multiplier 2
        z = tf.nn.relu(z) + neg_alpha * tf.nn.relu(-z)  # PRELU
        z = tf.nn.conv2d(z, w2, 1, "SAME") + b2  # CONV_2D with sparse weights
        yp = tf.pad(tf.nn.relu(tf.reshape(y, [1, 8, 8, 8])), [[0, 0], [0, 0], [0, 0], [3, 5]])  # RELU, PAD channels
        s = tf.nn.relu(z + yp)  # ADD, fused RELU
        m = s * tf.sigmoid(z)  # LOGISTIC, MUL
        p = tf.nn.max_pool2d(m, 2, 2, "VALID")  # MAX_POOL_2D
        a = tf.nn.avg_pool2d(m, 3, 2, "SAME")  # AVERAGE_POOL_2D, SAME
        d = tf.nn.depth_to_space(tf.concat([p, a], axis=-1), 2)  # CONCATENATION, DEPTH_TO_SPACE
        r = tf.nn.relu6(tf.image.resize(d, [16, 16], "bilinear"))  # RESIZE_BILINEAR (half pixel), RELU6
        t = tf.tanh(tf.nn.conv2d(r, w3, 1, "VALID", dilations=1))  # TANH
        c = tf.minimum(tf.maximum(tf.nn.conv2d(r, w4, 1, "SAME") + b4, -1.0), 1.0)  # fused RELU_N1_TO_1
        fc = tf.matmul(tf.reshape(p, [1, 256]), fc_w) + fc_b  # RESHAPE, FULLY_CONNECTED
        swapped = tf.transpose(tf.reshape(t, [1, 16, 2, 8, 8]), [0, 3, 2, 1, 4])  # TRANSPOSE (5-D)
        return {"feat": t, "fc": fc, "clipped": c, "swapped": swapped}

    return f


def _convert(f, mode: str = "float") -> bytes:
    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    if mode == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "sparse":
        conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return bytes(conv.convert())


def _interpreter(**kwargs):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    if kwargs.pop("builtin", False):
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return Interpreter(**kwargs)


def _run_tflite(content: bytes, x: np.ndarray) -> list[np.ndarray]:
    interp = _interpreter(model_content=content)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


@pytest.fixture(scope="module")
def synthetic():
    f = _synthetic_function()
    return {mode: _convert(f, mode) for mode in ("float", "fp16", "sparse")}


@pytest.mark.parametrize("mode, folded", [("float", None), ("fp16", "DEQUANTIZE"), ("sparse", "DENSIFY")])
def test_synthetic_round_trip(synthetic, mode, folded):
    content = synthetic[mode]
    ops = read_tflite(content).op_counts()
    assert set(SUPPORTED_OPS) <= set(ops), f"synthetic graph lacks {set(SUPPORTED_OPS) - set(ops)}"
    if folded:
        assert folded in ops
    fused = {o.options.get("fusedActivationFunction") for o in read_tflite(content).operators}
    assert {1, 2, 3} <= fused  # RELU, RELU_N1_TO_1, RELU6 fused into ops
    model = import_tflite(content)
    assert model.count_params() > 0 and len(model.trainable_weights) > 0
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
        want = _run_tflite(content, x)
        got = model(x)
        assert len(got) == len(want)
        for w, g in zip(want, got):
            assert w.shape == tuple(g.shape)
            np.testing.assert_allclose(np.asarray(g), w, atol=1e-5, rtol=0)


def test_output_names_and_keras_file_round_trip(synthetic, tmp_path):
    content = synthetic["float"]
    graph = read_tflite(content)
    names = [graph.tensors[i].name for i in graph.outputs]
    model = import_tflite(content)
    assert list(model.output_names) == names
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # built-in layers only: no custom objects needed
    x = np.random.default_rng(2).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_densify_known_csr_and_block_layouts():
    dense = np.array([[0, 2, 0, 0], [0, 0, 0, 0], [5, 0, 0, 7]], np.float32)
    # row DENSE, column CSR: segments per row, column indices of the non-zeros
    out = densify(np.array([2, 5, 7], np.float32), (3, 4), [0, 1], [], ["DENSE", "SPARSE_CSR"], [3, 0],
                  [np.zeros(0), np.array([0, 1, 1, 3])], [np.zeros(0), np.array([1, 0, 3])])
    np.testing.assert_array_equal(out, dense)
    # 1x2 blocks: (3, 2) blocks, block columns CSR, then the dense 2-wide block (traversal 0, 1, 2)
    blocks = densify(np.array([0, 2, 5, 0, 0, 7], np.float32), (3, 4), [0, 1, 2], [1],
                     ["DENSE", "SPARSE_CSR", "DENSE"], [3, 0, 2],
                     [np.zeros(0), np.array([0, 1, 1, 3]), np.zeros(0)],
                     [np.zeros(0), np.array([0, 0, 1]), np.zeros(0)])
    np.testing.assert_array_equal(blocks, dense)


def test_densify_matches_the_interpreter(synthetic):
    content = synthetic["sparse"]
    raw = read_tflite(content)
    op = next(o for o in raw.operators if o.op == "DENSIFY")
    # builtin kernels: XNNPACK would take the DENSIFY and not keep its output
    interp = _interpreter(model_content=content, experimental_preserve_all_tensors=True, builtin=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.zeros((1, 16, 16, 3), np.float32))
    interp.invoke()
    folded = load_graph(content)
    np.testing.assert_array_equal(folded.tensors[op.outputs[0]].data, interp.get_tensor(op.outputs[0]))


def test_unsupported_op_names_it():
    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def f(x):
        return tf.exp(x)

    with pytest.raises(UnsupportedOpError, match="EXP") as err:
        import_tflite(_convert(f))
    assert err.value.op == "EXP"


def test_transpose_of_the_batch_axis_is_refused():
    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def f(x):
        return tf.transpose(x, [1, 0])

    with pytest.raises(UnsupportedOpError, match="batch"):
        import_tflite(_convert(f))


def test_cli_writes_a_loadable_keras_file(synthetic, tmp_path):
    src = tmp_path / "syn.tflite"
    src.write_bytes(synthetic["fp16"])
    out = tmp_path / "syn.keras"
    assert main([str(src), "--out", str(out)]) == 0
    model = keras.models.load_model(out)
    x = np.random.default_rng(3).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    for w, g in zip(_run_tflite(synthetic["fp16"], x), model(x)):
        np.testing.assert_allclose(np.asarray(g), w, atol=1e-5, rtol=0)


def test_cli_bad_input_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    assert main([str(bad), "--out", str(tmp_path / "x.keras")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "TFL3" in err[0]


# -- the official models ----------------------------------------------------------------------------

def _official(name: str):
    from blazepose_sdk.assets.models import reference_dir

    path = reference_dir() / name
    if not path.is_file():
        pytest.skip(f"{name} not fetched (blazepose models fetch-reference)")
    return path


# heavy adds ~25 s on a 2-core CPU; the CLI check in docs/import_tflite.md covers it
HEAVY = pytest.param("pose_landmark_heavy.tflite", marks=pytest.mark.skipif(
    not os.environ.get("BLAZEPOSE_TEST_HEAVY"), reason="set BLAZEPOSE_TEST_HEAVY=1 to include heavy"))


@pytest.mark.reference
@pytest.mark.parametrize("name", ["pose_detection.tflite", "pose_landmark_lite.tflite",
                                  "pose_landmark_full.tflite", HEAVY])
def test_official_model_imports_within_tolerance(name, basketball_rgb):
    path = _official(name)
    builder = _Builder(load_graph(path))
    model = builder.build(path.stem)
    assert list(model.output_names) == [f"Identity{'' if i == 0 else f'_{i}'}" for i in range(len(model.outputs))]
    kind = model_kind(path)
    assert kind.kind == ("detector" if "detection" in name else "landmark")
    x = model_input(basketball_rgb, int(model.inputs[0].shape[1]), kind)
    report = check_model(path, builder, [x], kind.kind)
    assert report.failures(1e-4) == [], report
    # read as the SDK reads them (normalised coordinates, probabilities, metres), the Keras model
    # is as close to the file as the file's own two kernel sets are to each other
    for row in report.outputs:
        assert row["keras_vs_tflite_sdk"] <= max(1e-4, 2 * row["tflite_floor_sdk"]), row


def test_sdk_units_read_outputs_as_the_sdk_does():
    raw_rows = np.zeros((1, 195), np.float32)
    raw_rows[0, :5] = [128.0, 64.0, -32.0, 0.0, 100.0]  # x, y, z px of a 256 crop; visibility, presence logits
    seg, heat = np.full((1, 256, 256, 1), -1000.0, np.float32), np.zeros((1, 64, 64, 39), np.float32)
    world, presence = np.ones((1, 117), np.float32), np.array([[0.7]], np.float32)
    rows, p, s, h, w = sdk_units("landmark", [raw_rows, presence, seg, heat, world], 256)
    np.testing.assert_allclose(rows[0], [0.5, 0.25, -0.125, 0.5, 1.0], atol=1e-7)
    assert p[0, 0] == pytest.approx(0.7) and np.all(s == 0.0) and np.all(h == 0.5) and np.all(w == 1.0)


@pytest.mark.reference
def test_a_few_training_steps_lower_the_loss(basketball_rgb):
    path = _official("pose_landmark_lite.tflite")
    model = import_tflite(path)
    assert len(model.trainable_variables) == len(model.variables) > 100
    kind = model_kind(path)
    x0 = model_input(basketball_rgb, 256, kind)[0]
    x = np.stack([x0, x0[:, ::-1]])  # two crops: the frame and its mirror image
    rng = np.random.default_rng(0)
    target = np.asarray(model(x)[0]) + rng.normal(0, 2.0, (1, 195)).astype(np.float32)  # perturbed landmarks

    def loss_and_grads(variables):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True)[0] - target))
        return float(loss), tape.gradient(loss, variables)

    # gradients reach every layer that feeds the landmark output (the segmentation and heatmap
    # heads do not)
    _, grads = loss_and_grads(model.trainable_variables)
    assert sum(g is not None for g in grads) > len(grads) // 2
    # The imported net has its batch norms folded and no normalization left: whole-model steps
    # need a tiny learning rate (Adam at 1e-6 already raises this loss), so fine-tune the layers
    # between the last merge and the landmark output, as one does with an imported backbone.
    head = model.get_layer("Identity")._inbound_nodes[0].parent_nodes[0].operation
    variables = head.trainable_variables
    assert variables
    opt = keras.optimizers.Adam(3e-3)
    losses = []
    for _ in range(5):
        loss, grads = loss_and_grads(variables)
        opt.apply_gradients(zip(grads, variables))
        losses.append(loss)
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.8 * losses[0], losses


@pytest.mark.reference
def test_landmark_fork_gives_the_same_outputs_and_a_trainable_copy_the_presence_never_reads(basketball_rgb, tmp_path):
    """--fork-landmark-blocks 2 on the official Lite: every output as the unforked import's; the
    layers that landmark-readout training moves are the copy and the heads, none the presence reads;
    a fork longer than the shared trunk is refused."""
    from training.students import _ancestor_layers, build_imported_student, landmark_readout_layers

    path = _official("pose_landmark_lite.tflite")
    graph = load_graph(path)
    plain = _Builder(graph).build("plain")
    builder = _Builder(graph, fork_landmark_blocks=2)
    forked = builder.build("forked")
    x = model_input(basketball_rgb, 256, model_kind(path))
    for a, b in zip(plain(x), forked(x)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-6)
    extra = forked.count_params() - plain.count_params()
    assert 70_000 < extra < 90_000  # two 2x2 blocks of 192 channels: depthwise + 1x1, ~39k each
    forked.save(tmp_path / "fork.keras")
    student = build_imported_student(str(tmp_path / "fork.keras"))
    names = set(landmark_readout_layers(student))
    copies = {n for n in names if n.endswith("_lm") or "_lm_" in n}
    assert len(copies) >= 6 and "Identity" in names and "Identity_4" not in names  # the world stays
    assert not names & _ancestor_layers(student, student.output["presence"])
    with pytest.raises(TFLiteImportError, match="cannot fork the last 99"):
        _Builder(graph, fork_landmark_blocks=99).build("too_long")


@pytest.mark.reference
def test_landmark_fork_that_keeps_aux_rows_trains_rows_0_32_only(basketball_rgb, tmp_path):
    """--fork-keeps-aux-rows: at import every output is the plain import's; a step of
    landmark-readout training on a loss over all 39 rows moves rows 0-32 and leaves rows 33-38
    (the tracker's ROI points) and the presence bit-identical; without a fork it is refused."""
    import keras
    import tensorflow as tf

    from training.students import build_imported_student, freeze_all_but, landmark_readout_layers

    path = _official("pose_landmark_lite.tflite")
    graph = load_graph(path)
    plain = _Builder(graph).build("plain")
    forked = _Builder(graph, fork_landmark_blocks=2, fork_keeps_aux_rows=True).build("forked")
    x = model_input(basketball_rgb, 256, model_kind(path))
    for a, b in zip(plain(x), forked(x)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-6)
    forked.save(tmp_path / "fork.keras")
    student = build_imported_student(str(tmp_path / "fork.keras"))
    names = landmark_readout_layers(student)
    assert not [n for n in names if n.endswith("_aux") or "_aux_" in n]
    freeze_all_but(student, names)
    before = student(x)
    variables = student.trainable_variables
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(student(x)["landmarks"]))  # every row, the auxiliary ones too
    keras.optimizers.SGD(1e-3).apply_gradients(zip(tape.gradient(loss, variables), variables))
    after = student(x)
    rows_before, rows_after = (np.asarray(o["landmarks"])[0] for o in (before, after))
    assert np.abs(rows_after[:33] - rows_before[:33]).max() > 1e-3
    np.testing.assert_array_equal(rows_after[33:], rows_before[33:])
    np.testing.assert_array_equal(np.asarray(after["presence"]), np.asarray(before["presence"]))
    with pytest.raises(TFLiteImportError, match="needs a landmark fork"):
        _Builder(graph, fork_keeps_aux_rows=True)
