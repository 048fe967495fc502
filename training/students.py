"""Students and teachers of distillation (``python -m training.distill``): the student builders
(Lite-HRNet heatmap students, BlazePose regression students, an official landmark model imported
into Keras), freezing all but the pose-presence head or the trunk's last blocks and the heads, and the Keras / black-box teacher choice.
Sizes in tensor pixels (the student's square input).
"""

from __future__ import annotations

from blazepose_sdk.geometry.topology import NUM_LANDMARKS

HEATMAP_STUDENTS = ("lite_hrnet_18", "lite_hrnet_30", "lite_hrnet_tiny", "lite_hrnet_wide")
REGRESSION_STUDENTS = ("blazepose_lite",)
# --student imported:PATH.keras: a landmark model made by training.import_tflite.
IMPORTED_PREFIX = "imported:"


def is_imported(name: str) -> bool:
    return name.startswith(IMPORTED_PREFIX)


def student_kind_of(name: str) -> str:
    """``"heatmap"`` for a Lite-HRNet student, ``"regression"`` for the others (BlazePose landmark
    students, imported official models): which loss, evaluation and export path it takes."""
    return "heatmap" if name in HEATMAP_STUDENTS else "regression"


def build_imported_student(path: str):
    """The landmark model in ``path`` (a .keras file from training.import_tflite) as a student:
    outputs ``landmarks`` (B, R, 3) x, y, z in tensor pixels, ``visibility_logit`` (B, R),
    ``presence`` (B, 1), ``heatmap`` (B, h, w, R) logits when it has one, and ``raw_0..raw_N`` (the original outputs, in order, for export)."""
    import keras
    from keras import layers

    from blazepose_sdk.stages.roles import output_roles

    base = keras.models.load_model(path, compile=False)
    size = int(base.inputs[0].shape[1])
    roles = output_roles("landmark", [tuple(int(d or 1) for d in o.shape) for o in base.outputs], size)
    if "landmarks" not in roles or "presence" not in roles:
        raise ValueError(f"{path}: not a landmark model (output roles {roles})")
    landmarks = base.outputs[roles.index("landmarks")]
    rows = int(landmarks.shape[-1]) // 5
    table = layers.Reshape((rows, 5), name="landmark_rows")(landmarks)
    outputs = {"landmarks": layers.Lambda(lambda t: t[..., :3], name="landmarks_xyz")(table),
               "visibility_logit": layers.Lambda(lambda t: t[..., 3], name="visibility_logit")(table),
               "presence": base.outputs[roles.index("presence")]}
    if "heatmap" in roles:
        outputs["heatmap"] = base.outputs[roles.index("heatmap")]
    outputs.update({f"raw_{i}": o for i, o in enumerate(base.outputs)})
    return keras.Model(base.inputs, outputs, name=f"{base.name}_student")


def _ancestor_layers(model, tensor) -> set[str]:
    """Names of the layers ``tensor`` depends on in a functional Keras model."""
    seen, stack = set(), [tensor._keras_history.operation]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        for node in op._inbound_nodes:
            stack += [t._keras_history.operation for t in node.input_tensors]
    return seen


def presence_head_layers(model) -> list[str]:
    """The layers of an imported student that feed its ``presence`` output and no other output
    (for the official Lite: the 2x2 conv and sigmoid on the shared features)."""
    pres = model.output["presence"]
    others = set()
    for key, t in model.output.items():
        if key != "presence" and tuple(t.shape[1:]) != tuple(pres.shape[1:]):
            others |= _ancestor_layers(model, t)
    return [layer.name for layer in model.layers
            if layer.name in _ancestor_layers(model, pres) and layer.name not in others]


def landmark_readout_layers(model) -> list[str]:
    """The layers of an imported student that feed its landmark rows (landmarks, visibility, rows
    33-34) and not its ``presence`` (for the official Lite: the 2x2 convolution that reads the
    shared features into the 195 landmark values; with a fork, ``training.import_tflite
    --fork-landmark-blocks``, also the copied blocks). Training only these leaves the presence, and
    every layer it reads, bit-identical to the imported model's. The world landmarks have no
    distillation target, so their head is not among them; nor, in a fork that keeps the auxiliary
    rows (``--fork-keeps-aux-rows``), is anything those rows read."""
    from training.tflite_keras import AUX_ROWS_LAYER

    out = model.output
    fixed = _ancestor_layers(model, out["presence"])
    heads = _ancestor_layers(model, out["landmarks"]) | _ancestor_layers(model, out["visibility_logit"])
    aux = [layer for layer in model.layers if layer.name == AUX_ROWS_LAYER]
    if aux:
        fixed |= _ancestor_layers(model, aux[0].output)
    return [layer.name for layer in model.layers if layer.name in heads and layer.name not in fixed]


def tail_layers(model, blocks: int) -> list[str]:
    """The layers of an imported student from its last ``blocks`` residual blocks on: those blocks of
    the trunk shared by the landmarks and the presence, and every layer after them (the landmark,
    visibility, rows 33-34, world and presence heads). The heatmap and segmentation branches and
    everything before those blocks are not among them."""
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    import keras

    out = model.output
    shared = _ancestor_layers(model, out["presence"]) & _ancestor_layers(model, out["landmarks"])
    adds = [layer for layer in model.layers if layer.name in shared and isinstance(layer, keras.layers.Add)]
    if len(adds) <= blocks:
        raise ValueError(f"the shared trunk has {len(adds)} residual blocks; cannot train the last {blocks} alone")
    before = _ancestor_layers(model, adds[-blocks - 1].output)
    heads = set()
    for key in ("landmarks", "visibility_logit", "presence"):
        heads |= _ancestor_layers(model, out[key])
    raw = [t for k, t in out.items() if k.startswith("raw_") and len(t.shape) == 2]  # flat heads: rows, world, presence
    for t in raw:
        heads |= _ancestor_layers(model, t)
    return [layer.name for layer in model.layers if layer.name in heads and layer.name not in before]


def freeze_all_but(model, names) -> None:
    """Make every layer of ``model`` not trainable except those named."""
    keep = set(names)
    for layer in model.layers:
        layer.trainable = layer.name in keep


def build_student(name: str, input_size: int, num_keypoints: int = NUM_LANDMARKS):
    """A heatmap student (Lite-HRNet variant), a regression student (BlazePose landmark), or an
    imported official landmark model (``imported:PATH.keras``; its input size is its own)."""
    if is_imported(name):
        return build_imported_student(name[len(IMPORTED_PREFIX):])
    if name in HEATMAP_STUDENTS:
        from training.models.lite_hrnet import build_lite_hrnet, variant

        return build_lite_hrnet(variant(name, input_height=input_size, input_width=input_size,
                                        num_keypoints=num_keypoints))
    if name in REGRESSION_STUDENTS:
        from training.config import LITE_WIDTH, LandmarkModelConfig
        from training.models.landmark import build_landmark_model

        return build_landmark_model(LandmarkModelConfig(input_size=input_size, width=LITE_WIDTH))
    raise ValueError(f"unknown student {name!r}; one of {HEATMAP_STUDENTS + REGRESSION_STUDENTS}")


def teacher_spec_kind(spec: str) -> str:
    """A teacher spec's kind from its form alone (nothing is resolved or loaded): "none", "tflite"
    (a .tflite path or a reference-* pipeline) or "keras" (``VARIANT:WEIGHTS``)."""
    if spec in ("", "none"):
        return "none"
    if spec.endswith(".tflite") or spec.startswith("reference-"):
        return "tflite"
    if ":" in spec:
        return "keras"
    raise ValueError(f"teacher {spec!r}: use none, VARIANT:WEIGHTS.weights.h5, a .tflite file or a reference-* pipeline")


def parse_teacher(spec: str) -> tuple[str, str | None]:
    """``none`` -> ("none", None); ``VARIANT:WEIGHTS`` -> ("keras", spec); a .tflite path or
    reference pipeline name -> ("tflite", path) (a reference pipeline must be in the model cache)."""
    kind = teacher_spec_kind(spec)
    if kind == "none":
        return "none", None
    if kind == "tflite" and spec.startswith("reference-"):
        from blazepose_sdk.assets.models import resolve_pipeline

        return "tflite", str(resolve_pipeline(spec).landmark.path)
    return kind, spec


def load_keras_teacher(spec: str, input_size: int):
    """``VARIANT:WEIGHTS`` -> a frozen Lite-HRNet heatmap model with those weights."""
    variant_name, _, weights = spec.partition(":")
    model = build_student(variant_name, input_size)
    model.load_weights(weights)
    model.trainable = False
    return model
