"""MoveNet as a benchmark peer: TF.js graph rebuild, video cropping, cache and skip notes,
COCO-17 scoring, the peer summary table."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from blazepose_sdk.bench import accuracy as acc
from blazepose_sdk.bench.datasets import LabelledImage, LabelledSet, PersonLabel
from blazepose_sdk.bench.peers import movenet as mn
from blazepose_sdk.bench.peers.summary import peer_summary_rows
from blazepose_sdk.bench.rows import peer_rows
from blazepose_sdk.errors import ModelHashMismatchError
from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, LANDMARK_NAMES
from convert import movenet as cm


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _dims(shape) -> dict:
    return {"dim": [{"size": str(d)} for d in shape]}


# -- TF.js graph model decoding and rebuild -----------------------------------------------------
def test_decode_weights_float16_and_int32():
    w16 = np.array([[1.5, -2.0], [0.25, 3.0]], np.float16)
    i32 = np.array([7, -1], np.int32)
    manifest = [{"paths": ["x.bin"], "weights": [
        {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "b", "shape": [2], "dtype": "int32"},
    ]}]
    out = cm.decode_weights(manifest, w16.tobytes() + i32.tobytes())
    assert out["a"].dtype == np.float32
    np.testing.assert_array_equal(out["a"], w16.astype(np.float32))
    np.testing.assert_array_equal(out["b"], i32)
    with pytest.raises(ValueError):
        cm.decode_weights(manifest, w16.tobytes())  # truncated


def test_fused_depthwise_is_split_into_native_ops():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 2, 1)).astype(np.float32)
    bias = np.array([0.5, -4.0], np.float32)
    model = {"modelTopology": {"node": [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                                                   "shape": {"shape": _dims([1, 5, 5, 2])}}},
        {"name": "k", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {
            "dtype": "DT_FLOAT", "tensorShape": _dims(kernel.shape)}}}},
        {"name": "b", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {
            "dtype": "DT_FLOAT", "tensorShape": _dims([2])}}}},
        {"name": "y", "op": "FusedDepthwiseConv2dNative", "input": ["x", "k", "b"], "attr": {
            "T": {"type": "DT_FLOAT"}, "strides": {"list": {"i": ["1", "1", "1", "1"]}},
            "padding": {"s": _b64("SAME")}, "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
            "data_format": {"s": _b64("NHWC")}, "fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Relu6")]}}}},
    ]}}
    graph = cm.graph_def_from_tfjs(model, {"k": kernel, "b": bias})
    assert [n.op for n in graph.node if n.name.startswith("y")] == ["DepthwiseConv2dNative", "BiasAdd", "Relu6"]
    x = rng.normal(size=(1, 5, 5, 2)).astype(np.float32) * 3
    fn = tf.compat.v1.wrap_function(
        lambda t: tf.graph_util.import_graph_def(graph, input_map={"x:0": t}, return_elements=["y:0"])[0],
        [tf.TensorSpec(x.shape, tf.float32)])
    want = tf.nn.relu6(tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME") + bias).numpy()
    np.testing.assert_allclose(fn(tf.constant(x)).numpy(), want, rtol=1e-5, atol=1e-5)


def _int_input_model() -> dict:
    """input (int32) -> Cast -> Mul by 2 -> y: the shape of MoveNet's first ops."""
    return {"modelTopology": {"node": [
        {"name": "input", "op": "Placeholder", "attr": {"dtype": {"type": "DT_INT32"},
                                                       "shape": {"shape": _dims([1, 2])}}},
        {"name": "c", "op": "Cast", "input": ["input"], "attr": {"SrcT": {"type": "DT_INT32"},
                                                                 "DstT": {"type": "DT_FLOAT"}}},
        {"name": "two", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {
            "dtype": "DT_FLOAT", "tensorShape": _dims([])}}}},
        {"name": "y", "op": "Mul", "input": ["c", "two"], "attr": {"T": {"type": "DT_FLOAT"}}},
    ]}}


def test_float_input_replaces_the_int32_placeholder_and_its_cast():
    tf = pytest.importorskip("tensorflow")
    graph = cm.graph_def_from_tfjs(_int_input_model(), {"two": np.array(2.0, np.float32)}, float_input="input")
    ops = {n.name: n for n in graph.node}
    assert "c" not in ops and list(ops["y"].input) == ["input", "two"]
    assert ops["input"].attr["dtype"].type == tf.float32.as_datatype_enum
    fn = tf.compat.v1.wrap_function(
        lambda t: tf.graph_util.import_graph_def(graph, input_map={"input:0": t}, return_elements=["y:0"])[0],
        [tf.TensorSpec([1, 2], tf.float32)])
    np.testing.assert_array_equal(fn(tf.constant([[3.0, 255.0]])).numpy(), [[6.0, 510.0]])
    with pytest.raises(ValueError, match="no Placeholder 'nope'"):
        cm.graph_def_from_tfjs(_int_input_model(), {}, float_input="nope")


def test_tarball_with_the_wrong_hash_is_refused(tmp_path):
    tgz = tmp_path / "fake.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        data = b"{}"
        info = tarfile.TarInfo("package/models/movenet-lightning.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ModelHashMismatchError, match="expected " + cm.NPM_TARBALL_SHA256):
        cm.tfjs_files("lightning", tarball=tgz, cache=tmp_path / "tfjs")
    assert not list((tmp_path / "tfjs").glob("movenet-*"))


def test_tfjs_pins_cover_both_variants():
    assert set(cm.TFJS_FILES) == set(mn.VARIANTS)
    for variant, files in cm.TFJS_FILES.items():
        assert set(files) == {f"movenet-{variant}.json", f"movenet-{variant}.bin"}
    cached = mn.model_dir() / "tfjs"
    present = [(name, sha) for files in cm.TFJS_FILES.values() for name, (_, sha) in files.items()
               if (cached / name).is_file()]
    if not present:
        pytest.skip(f"no TF.js files cached in {cached} (python -m convert.movenet --variant lightning)")
    from blazepose_sdk.stages.runtime import file_sha256

    for name, sha in present:
        assert file_sha256(cached / name) == sha


def test_calibration_refuses_the_reserved_pose2sim_media(tmp_path):
    with pytest.raises(ValueError, match="reserved test set"):
        cm.check_not_reserved([tmp_path / "vtest.avi", Path("/data/Pose2Sim/Demo_SinglePerson/videos/cam01.mp4")])
    cm.check_not_reserved([tmp_path / "vtest.avi"])  # anything else is fine


# -- cropping on video -------------------------------------------------------------------------
class _ScriptedModel:
    """Stands in for a MoveNet file: returns scripted keypoints and records the regions."""

    def __init__(self, outputs):
        self.outputs, self.regions, self.name = list(outputs), [], "scripted"

    def run_crop(self, image, region):
        self.regions.append(region)
        return self.outputs.pop(0)


def _person(score=0.9):
    kp = np.zeros((17, 3))
    kp[:, :2] = [110.0, 200.0]
    kp[mn.LEFT_HIP, :2], kp[mn.RIGHT_HIP, :2] = [100.0, 200.0], [120.0, 200.0]
    kp[mn.LEFT_SHOULDER, :2], kp[mn.RIGHT_SHOULDER, :2] = [100.0, 150.0], [120.0, 150.0]
    kp[16, :2] = [110.0, 300.0]
    kp[:, 2] = score
    return kp


def test_video_crops_each_frame_from_the_previous_frame():
    frame = np.zeros((480, 640, 3), np.uint8)
    lost = _person(score=0.1)
    model = _ScriptedModel([_person(), _person(), lost, _person()])
    video = mn.MoveNetVideo(model)
    for _ in range(4):
        video.process(frame)
    whole = mn.initial_crop_region(640, 480)
    # frame 1: whole image; 2 and 3: around the previous person (known numbers in
    # test_independent_set.test_crop_region_known_numbers); 4: torso lost on frame 3 -> whole image
    assert model.regions == [whole, mn.CropRegion(-10.0, 80.0, 240.0), mn.CropRegion(-10.0, 80.0, 240.0), whole]
    video.reset()
    model.outputs.append(_person())
    video.process(frame)
    assert model.regions[-1] == whole


def test_still_image_is_three_passes_of_the_video_rule():
    model = _ScriptedModel([_person(), _person(), _person()])
    keypoints = mn.MoveNet.process(model, np.zeros((480, 640, 3), np.uint8))
    assert len(model.regions) == 1 + mn.REFINE_PASSES
    assert model.regions[0] == mn.initial_crop_region(640, 480)
    np.testing.assert_array_equal(keypoints, _person())


# -- the cache: found, skipped with the reason, hash-checked ------------------------------------
def test_missing_models_are_listed_as_skipped_with_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path))
    found, missing = mn.available_models()
    assert found == [] and len(missing) == 4
    assert any("movenet-lightning-int8 skipped" in n and "python -m convert.movenet --variant lightning --int8" in n
               for n in missing)
    rows, notes = peer_rows()
    assert rows == [] and notes == missing


def test_a_changed_cached_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path))
    folder = mn.model_dir()
    folder.mkdir(parents=True)
    name = mn.tflite_name("lightning", "float32")
    shipped = Path(mn.__file__).resolve().parents[2] / "model_files" / "pose_landmark_lite.tflite"
    (folder / name).write_bytes(shipped.read_bytes())
    (folder / mn.MANIFEST_NAME).write_text(json.dumps({"files": {name: {"sha256": "0" * 64}}}))
    rows, _ = peer_rows()
    assert [r.name for r in rows] == ["movenet-lightning-fp32"]
    with pytest.raises(ModelHashMismatchError):
        mn.MoveNet("lightning", "float32")


@pytest.mark.parametrize("variant", list(mn.VARIANTS))
def test_converted_models_find_the_basketball_player(basketball_rgb, variant):
    try:
        mn.cached_model(variant, "float32")
        mn.cached_model(variant, "int8")
    except mn.MoveNetNotFoundError as exc:
        pytest.skip(str(exc))
    out = {}
    for precision in mn.PRECISIONS:
        with mn.MoveNet(variant, precision, num_threads=1) as model:
            out[precision] = kp = model.process(basketball_rgb)
        # the full-body player at the left of basketball1.png
        assert 30 < kp[:, 0].min() and kp[:, 0].max() < 170
        assert 90 < kp[:, 1].min() < 130 and 430 < kp[:, 1].max() < 490
        assert (kp[:, 2] >= mn.KEYPOINT_SCORE_THRESHOLD).mean() > 0.8
    # INT8 stays within a few pixels of float32 (the player is ~350 px tall)
    distance = np.linalg.norm(out["float32"][:, :2] - out["int8"][:, :2], axis=1)
    assert np.median(distance) < 6.0 and distance.max() < 20.0


def test_int8_keeps_the_keypoint_decoding_float():
    try:
        path, _ = mn.cached_model("lightning", "float32")
    except mn.MoveNetNotFoundError as exc:
        pytest.skip(str(exc))
    names = cm.decoder_tensors(path.read_bytes())
    assert any("ArgMax" in n for n in names) and any("GatherNd" in n for n in names)
    assert not any("conv2d" in n.lower() for n in names)


# -- scoring a COCO-17 peer against BlazePose-33 labels ------------------------------------------
def _labelled_set() -> tuple[LabelledSet, np.ndarray]:
    rng = np.random.default_rng(1)
    xy = rng.uniform(100, 300, size=(len(LANDMARK_NAMES), 2))
    xy[11], xy[24] = [150.0, 120.0], [170.0, 260.0]  # left shoulder, right hip: torso 141 px
    person = PersonLabel(xy_px=xy, visible=np.ones(len(LANDMARK_NAMES), bool))
    items = [LabelledImage("a", "g1", [person], image=np.zeros((400, 400, 3), np.uint8), image_id=1),
             LabelledImage("b", "g2", [person], image=np.zeros((400, 400, 3), np.uint8), image_id=2)]
    return LabelledSet("t", "labels", "test set", "blazepose33", items), xy


def test_a_perfect_coco17_peer_scores_one_and_leaves_the_33_columns_empty():
    labelled, xy = _labelled_set()
    coco = xy[BLAZEPOSE_TO_COCO17]
    good = acc.KeypointPrediction(coco, np.full(17, 0.9))
    far = acc.KeypointPrediction(coco + 500.0, np.full(17, 0.9))
    out = acc.score(labelled, [good, far], pycocotools_ok=False)
    assert out["pck@0.2_coco17"] == pytest.approx(0.5)
    assert out["per_group_pck"] == {"g1": pytest.approx(1.0), "g2": pytest.approx(0.0)}
    assert out["pck@0.2"] is None and out["pckh@0.5"] is None and out["mpjpe_mm"] is None
    assert out["per_keypoint_pck"]["left_shoulder"] == pytest.approx(0.5)
    assert out["per_keypoint_pck"]["left_pinky"] is None  # not a COCO-17 joint
    entry = good.to_coco(7)[0]
    assert entry["image_id"] == 7 and len(entry["keypoints"]) == 51 and entry["score"] == pytest.approx(0.9)


def test_found_needs_one_keypoint_at_the_model_card_threshold():
    xy = np.zeros((17, 2))
    assert acc.KeypointPrediction(xy, np.full(17, 0.29)).found is False
    assert acc.KeypointPrediction(xy, np.r_[np.full(16, 0.1), 0.3]).found is True


# -- the summary table ---------------------------------------------------------------------------
def test_summary_gives_ratios_to_reference_lite():
    def lat(name, ms1, ms2, size):
        return {"name": name, "role": "other", "file_size_bytes": size,
                "measurements": [{"config": "cpu-1t", "threads": 1, "median_ms": ms1, "error": None},
                                 {"config": "cpu-2t", "threads": 2, "median_ms": ms2, "error": None}]}

    payloads = {
        "latency": {"rows": [lat("reference-lite", 10.0, 6.0, 1000), lat("movenet-lightning-int8", 5.0, 3.0, 3000),
                             {"name": "reference-detector", "role": "detector", "measurements": []}]},
        "accuracy": {"rows": [{"name": "reference-lite", "pck@0.2_coco17": 0.8, "oks": {"AP": 0.7},
                               "ms_per_image": {"median_ms": 20.0}},
                              {"name": "movenet-lightning-int8", "pck@0.2_coco17": 0.6, "oks": None,
                               "ms_per_image": {"median_ms": 30.0}}]},
    }
    rows = {r["name"]: r for r in peer_summary_rows(payloads)}
    assert set(rows) == {"reference-lite", "movenet-lightning-int8"}
    peer = rows["movenet-lightning-int8"]
    assert peer["peer"] and peer["ms_1t_ratio"] == pytest.approx(0.5) and peer["ms_2t_ratio"] == pytest.approx(0.5)
    assert peer["size_ratio"] == pytest.approx(3.0) and peer["accuracy_ms_ratio"] == pytest.approx(1.5)
    assert peer["oks_ap"] is None and rows["reference-lite"]["ms_1t_ratio"] == pytest.approx(1.0)
    # no peer row in the folder: no table
    assert peer_summary_rows({"latency": {"rows": [lat("reference-lite", 10.0, 6.0, 1000)]}}) == []


def test_track_video_counts_tracked_and_torso_frames():
    model = _ScriptedModel([_person(), _person(), _person(score=0.1), _person()])
    frames = [(float(i), np.zeros((480, 640, 3), np.uint8)) for i in range(4)]
    out = mn.track_video(model, frames)
    # frame 1 and frame 4 (after the lost torso) see the whole image
    assert (out["frames"], out["tracked_frames"], out["torso_frames"]) == (4, 2, 3)
    assert mn.track_video(_ScriptedModel([_person()] * 3), frames, max_frames=2)["frames"] == 2
