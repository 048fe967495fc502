"""The benchmark suites run on tiny inputs and write the documented JSON fields.

No timing is asserted. The suites' own rows are the official BlazePose models (fetched by
`blazepose models fetch-reference`, which CI runs first); tests that need them are marked
``reference`` and skipped when they are not cached. Tiny .tflite files (one conv + one depthwise
conv, float32 and int8) are written here with LiteRT's flatbuffer schema.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blazepose_sdk.bench import datasets as D
from blazepose_sdk.bench.modelinfo import analyze_tflite, quantization_label
from blazepose_sdk.bench.rows import BASELINE_ROW, REFERENCE_DETECTOR_ROW, resolve_rows
from blazepose_sdk.errors import ModelNotFoundError
from blazepose_sdk.assets.models import available_pipelines, resolve_pipeline

HAVE_PYCOCOTOOLS = importlib.util.find_spec("pycocotools") is not None

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REFERENCE_ROWS = ["reference-lite", "reference-full", "reference-heavy"]
MACHINE_FIELDS = {
    "cpu_model",
    "cores_logical",
    "cores_usable",
    "memory_total_mb",
    "os",
    "arch",
    "python",
    "tflite_runtime",
    "versions",
    "timestamp_utc",
}
PAYLOAD_FIELDS = {"suite", "schema_version", "command", "quick", "machine", "settings", "rows", "notes"}


def _references_cached() -> bool:
    try:
        for name in available_pipelines():
            resolve_pipeline(name)
    except ModelNotFoundError:
        return False
    return True


def needs_reference(test):
    """Mark a test that runs the suites on the official models and the shared sample data."""
    # conftest's reference_models fixture skips at run time (with the fetch command) when they are
    # not cached; a check at import would break collection on a fresh clone
    test = pytest.mark.reference(test)
    test = pytest.mark.usefixtures("reference_models")(test)
    return pytest.mark.skipif(not (SHARED_DATA / "vtest.avi").is_file(), reason="shared/data sample files missing")(
        test
    )


# -- tiny models -----------------------------------------------------------------------------
def _build_tiny_tflite(int8: bool) -> bytes:
    """(1, 8, 8, 3) -> CONV_2D 3x3x3->4 (SAME) -> DEPTHWISE_CONV_2D 3x3 (SAME) -> (1, 8, 8, 4).

    params = 4*3*3*3 + 4 + 3*3*4 + 4 = 152; FLOPs = 2 * (8*8*4*27 + 8*8*4*9) = 18432.
    """
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    flatbuffers = pytest.importorskip("flatbuffers")
    s = schema
    rng = np.random.default_rng(0)

    def tensor(name, shape, ttype, buf, quant=None):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), ttype, buf
        if quant:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [float(quant[0])], [int(quant[1])]
            t.quantization = q
        return t

    def buffer(arr=None):
        b = s.BufferT()
        if arr is not None:
            b.data = np.frombuffer(np.ascontiguousarray(arr).tobytes(), dtype=np.uint8)
        return b

    wf = rng.normal(0, 0.2, (4, 3, 3, 3)).astype(np.float32)
    wd = rng.normal(0, 0.2, (1, 3, 3, 4)).astype(np.float32)
    if int8:
        i8, i32 = s.TensorType.INT8, s.TensorType.INT32
        s_in, s_w, s_out = 1 / 255, 0.01, 0.05
        tensors = [
            tensor("input", (1, 8, 8, 3), i8, 0, (s_in, -128)),
            tensor("conv_w", wf.shape, i8, 1, (s_w, 0)),
            tensor("conv_b", (4,), i32, 2, (s_in * s_w, 0)),
            tensor("conv_out", (1, 8, 8, 4), i8, 0, (s_out, 0)),
            tensor("dw_w", wd.shape, i8, 3, (s_w, 0)),
            tensor("dw_b", (4,), i32, 4, (s_out * s_w, 0)),
            tensor("output", (1, 8, 8, 4), i8, 0, (s_out, 0)),
        ]
        buffers = [
            buffer(),
            buffer(np.round(wf / s_w).astype(np.int8)),
            buffer(np.zeros(4, np.int32)),
            buffer(np.round(wd / s_w).astype(np.int8)),
            buffer(np.zeros(4, np.int32)),
        ]
    else:
        f32 = s.TensorType.FLOAT32
        tensors = [
            tensor("input", (1, 8, 8, 3), f32, 0),
            tensor("conv_w", wf.shape, f32, 1),
            tensor("conv_b", (4,), f32, 2),
            tensor("conv_out", (1, 8, 8, 4), f32, 0),
            tensor("dw_w", wd.shape, f32, 3),
            tensor("dw_b", (4,), f32, 4),
            tensor("output", (1, 8, 8, 4), f32, 0),
        ]
        buffers = [buffer(), buffer(wf), buffer(np.zeros(4, np.float32)), buffer(wd), buffer(np.zeros(4, np.float32))]
    conv = s.OperatorT()
    conv.opcodeIndex, conv.inputs, conv.outputs = 0, [0, 1, 2], [3]
    opt = s.Conv2DOptionsT()
    opt.padding, opt.strideW, opt.strideH, opt.dilationWFactor, opt.dilationHFactor = s.Padding.SAME, 1, 1, 1, 1
    conv.builtinOptionsType, conv.builtinOptions = s.BuiltinOptions.Conv2DOptions, opt
    dw = s.OperatorT()
    dw.opcodeIndex, dw.inputs, dw.outputs = 1, [3, 4, 5], [6]
    opt = s.DepthwiseConv2DOptionsT()
    opt.padding, opt.strideW, opt.strideH, opt.depthMultiplier = s.Padding.SAME, 1, 1, 1
    opt.dilationWFactor = opt.dilationHFactor = 1
    dw.builtinOptionsType, dw.builtinOptions = s.BuiltinOptions.DepthwiseConv2DOptions, opt
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [6], [conv, dw]
    codes = []
    for c in (s.BuiltinOperator.CONV_2D, s.BuiltinOperator.DEPTHWISE_CONV_2D):
        oc = s.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = c, c, 1
        codes.append(oc)
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, codes, [graph], buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    paths = {}
    for kind in ("float32", "int8"):
        paths[kind] = folder / f"tiny_{kind}.tflite"
        paths[kind].write_bytes(_build_tiny_tflite(kind == "int8"))
    return paths


def test_modelinfo_counts_params_flops_and_quantization(tiny_models):
    from blazepose_sdk.stages.runtime import TFLiteModel

    for kind, path in tiny_models.items():
        info = analyze_tflite(path)
        assert info.params == 152
        assert info.flops == 18432
        assert info.counted_ops == {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1}
        assert info.quantization == kind
        assert info.file_size_bytes == path.stat().st_size
        with TFLiteModel(path, num_threads=1) as model:  # the file is a valid model
            assert model.run(np.zeros((1, 8, 8, 3), np.float32))[0].shape == (1, 8, 8, 4)


def test_modelinfo_rejects_non_tflite(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="TFL3"):
        analyze_tflite(bad)


def test_quantization_label_rules():
    assert quantization_label(["float32"], {"float32": 100}, {"float32": 9}) == "float32"
    assert quantization_label(["float32"], {"float16": 100}, {"float32": 9, "float16": 2}) == "float16"
    assert quantization_label(["float32"], {"int8": 100, "float32": 3}, {"float32": 9}) == "int8-weights"
    assert quantization_label(["float32"], {"int8": 100}, {"int8": 9, "float32": 2}) == "int8"  # float I/O, int8 inside
    assert quantization_label(["uint8"], {"uint8": 100}, {"uint8": 9}) == "int8"
    assert quantization_label(["int16"], {"int8": 100}, {"int16": 9}) == "int16x8"


# -- rows and ground-truth geometry ----------------------------------------------------------
def test_resolve_rows_user_specs(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(tmp_path / "empty-cache"))
    rows, notes = resolve_rows(
        [
            str(tiny_models["float32"]),
            f"mine={tiny_models['int8']}",
            f"{tiny_models['float32']}+{tiny_models['int8']}",
            "missing.tflite",
        ]
    )
    # reference-lite's files ship in the package: its row needs no fetch, and the shipped default
    # blazepose-lite (the same files) is not repeated; Full and Heavy are missing from the empty cache
    assert [r.name for r in rows] == ["reference-lite", "ours-lite", "tiny_float32", "mine", "tiny_int8"]
    assert all(r.detector.parent.name == "model_files" for r in rows[:2])  # shipped, no fetch
    assert rows[1].pipeline == "ours-lite"
    assert rows[2].detector is None and rows[4].detector == tiny_models["float32"]
    assert any("fetch-reference" in n and "reference-full" in n for n in notes)
    assert any("blazepose-lite" in n and "reference-lite" in n for n in notes)
    assert any("missing.tflite" in n for n in notes)


def test_derivations_move_labels_with_the_pixels():
    """A bright dot at a known pixel lands where transform_points says, for every derivation."""
    h, w = 120, 90
    image = np.zeros((h, w, 3), np.uint8)
    dot = np.array([30.0, 80.0])
    image[80, 30] = 255
    for d in D.DERIVATIONS:
        box = (20.0, 10.0, 40.0, 100.0) if d.op == "crop_upper" else None
        if d.op == "crop_upper":  # a dot in the kept upper part
            image2 = np.zeros_like(image)
            image2[40, 30] = 255
            point = np.array([30.0, 40.0])
        else:
            image2, point = image, dot
        matrix, size = D.derivation_matrix(d, w, h, box)
        out = D.apply_affine(image2, matrix, size).astype(float).sum(axis=2)
        where = D.transform_points(point[None], matrix)[0]
        ys, xs = np.nonzero(out)
        centre = np.array([np.average(xs, weights=out[ys, xs]), np.average(ys, weights=out[ys, xs])])
        tolerance = 1.0 if d.op != "scale" else 1.5
        assert np.linalg.norm(centre - where) < tolerance, d.name


def test_transform_label_flip_swaps_sides_and_mirrors_world():
    xy = np.tile(np.array([[10.0, 20.0]]), (33, 1))
    xy[11] = (40.0, 50.0)  # left shoulder
    world = np.zeros((33, 3))
    world[11] = (0.2, -0.4, 0.1)
    label = D.PersonLabel(xy, np.ones(33, bool), world)
    flip = next(d for d in D.DERIVATIONS if d.op == "flip")
    matrix, size = D.derivation_matrix(flip, 100, 80)
    out = D.transform_label(label, flip, matrix, size)
    assert np.allclose(out.xy_px[12], (59.0, 50.0))  # becomes the right shoulder, mirrored
    assert np.allclose(out.world_m[12], (-0.2, -0.4, 0.1))
    rot = next(d for d in D.DERIVATIONS if d.name == "rotate+90")
    matrix, size = D.derivation_matrix(rot, 100, 80)
    out = D.transform_label(label, rot, matrix, size)
    # 90 degrees counter-clockwise on screen: image x -> -y, world (x, y) -> (y, -x) with y down
    assert np.allclose(out.world_m[11], (-0.4, -0.2, 0.1))
    assert size == (80, 100)


def test_pan_clip_is_deterministic_and_sized():
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    a = [f for _, f in D.pan_clip_frames(image, 3)]
    b = [f for _, f in D.pan_clip_frames(image, 3)]
    assert all(x.shape == (384, 288, 3) for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


# -- the suites, end to end ------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_all(tmp_path_factory, tiny_models) -> Path:
    """``blazepose bench all --quick`` with the reference rows and a tiny int8 file."""
    from blazepose_sdk.bench.__main__ import main

    out = tmp_path_factory.mktemp("bench")
    argv = [
        "all",
        "--quick",
        "--out",
        str(out),
        "--no-progress",
        "--threads",
        "1,2",
        "--model",
        f"tiny-int8={tiny_models['int8']}",
        "--data-dir",
        str(SHARED_DATA),
    ]
    assert main(argv) == 0
    return out


def _load(out: Path, suite: str) -> dict:
    payload = json.loads((out / f"{suite}.json").read_text())
    assert PAYLOAD_FIELDS <= set(payload)
    assert payload["suite"] == suite and payload["quick"] is True
    assert MACHINE_FIELDS <= set(payload["machine"])
    assert payload["machine"]["cores_logical"] >= 1
    return payload


@needs_reference
def test_latency_suite_json(quick_all):
    payload = _load(quick_all, "latency")
    rows = {r["name"]: r for r in payload["rows"]}
    assert set(REFERENCE_ROWS + [REFERENCE_DETECTOR_ROW, "tiny-int8"]) <= set(rows)
    for row in rows.values():
        for field in (
            "path",
            "role",
            "quantization",
            "file_size_bytes",
            "params",
            "flops",
            "peak_rss_mb",
            "baseline",
            "measurements",
        ):
            assert field in row, field
        assert [m["config"] for m in row["measurements"]] == ["cpu-1t", "cpu-2t"]
        for m in row["measurements"]:
            assert m["error"] is None and m["runs"] == 5
            assert 0 < m["min_ms"] <= m["median_ms"] <= m["p90_ms"]
            assert m["ratio_vs_baseline"] > 0
        assert row["peak_rss_mb"] > 0
    assert rows[BASELINE_ROW]["measurements"][0]["ratio_vs_baseline"] == 1.0
    assert rows["tiny-int8"]["quantization"] == "int8" and rows["tiny-int8"]["role"] == "other"
    assert rows["tiny-int8"]["baseline"] == BASELINE_ROW
    assert rows[REFERENCE_DETECTOR_ROW]["role"] == "detector" and rows["reference-heavy"]["role"] == "landmark"
    assert rows["reference-heavy"]["params"] > rows["reference-lite"]["params"]
    assert any("teacher" in n for n in payload["notes"])


@needs_reference
def test_pipeline_suite_json(quick_all):
    payload = _load(quick_all, "pipeline")
    rows = {r["name"]: r for r in payload["rows"]}
    assert set(rows) == set(REFERENCE_ROWS) | {"ours-lite"}  # the tiny file is no landmark model: skipped with a note
    assert any("tiny-int8" in n for n in payload["notes"])
    for row in rows.values():
        assert {v["video"] for v in row["videos"]} == {"vtest.avi", "pan-clip"}
        for v in row["videos"]:
            for field in (
                "frames",
                "fps_end_to_end",
                "fps_process",
                "ms_per_frame",
                "process_ms_per_frame",
                "stage_ms_per_frame",
                "stage_ms_per_call",
                "detector_runs",
                "detector_rerun_rate",
                "pose_frames",
                "pose_frame_rate",
                "ratio_process_ms_vs_baseline",
            ):
                assert field in v, field
            assert v["frames"] == 15
            assert set(v["stage_ms_per_frame"]) == {"decode", "detector", "crop", "landmark", "smoothing"}
            total = sum(v["stage_ms_per_frame"].values())
            assert total == pytest.approx(v["ms_per_frame"], rel=1e-6)
        clip = next(v for v in row["videos"] if v["video"] == "pan-clip")
        # one continuous person: the detector runs on the first frame, then the ROI is tracked
        assert clip["detector_runs"] >= 1 and clip["detector_rerun_rate"] < 0.5
        assert clip["pose_frame_rate"] > 0.8


@needs_reference
def test_accuracy_suite_json(quick_all):
    payload = _load(quick_all, "accuracy")
    truth = payload["ground_truth"]
    assert truth["kind"] == "pseudo-labels" and truth["label_model"] == "reference-heavy"
    assert truth["groups"] == list(D.QUICK_DERIVATIONS)
    rows = {r["name"]: r for r in payload["rows"]}
    assert set(rows) == set(REFERENCE_ROWS) | {"ours-lite"}
    for row in rows.values():
        for field in (
            "images",
            "poses_found",
            "pck@0.2",
            "pck@0.2_coco17",
            "pckh@0.5",
            "oks",
            "mean_oks",
            "mpjpe_mm",
            "pa_mpjpe_mm",
            "per_keypoint_pck",
            "per_group_pck",
        ):
            assert field in row, field
        if HAVE_PYCOCOTOOLS:
            assert set(row["oks"]) >= {"AP", "AP50", "AP75", "AR"}
        else:  # OKS AP needs pycocotools (the [bench] extra): the row says so instead
            assert row["oks"] is None
        assert len(row["per_keypoint_pck"]) == 33
        assert 0.0 <= row["pck@0.2"] <= 1.0
    heavy = rows["reference-heavy"]
    # the labelling model on the untransformed image reproduces its own labels exactly
    assert heavy["per_group_pck"]["identity"] == 1.0
    labels = D.load_labels(quick_all / "labelled_set" / "labels.json")
    assert len(labels.items) == truth["images"] == 3


@needs_reference
def test_report_and_plots_written(quick_all):
    report = (quick_all / "report.md").read_text()
    for heading in ("## Model latency", "## Pipeline throughput", "## Accuracy", "### Machine"):
        assert heading in report
    if importlib.util.find_spec("matplotlib") is None:  # plots need the [bench] extra; the report says so
        assert "matplotlib is not installed" in report
        return
    for png in ("latency_vs_accuracy.png", "pck_per_keypoint.png", "pipeline_stages.png", "latency_threads.png"):
        assert (quick_all / png).stat().st_size > 1000, png


def test_latency_quick_with_runtime_dependencies_only(tmp_path, tiny_models):
    """`blazepose bench latency --quick --out DIR` without rich, matplotlib, pycocotools, TensorFlow."""
    blocked = ("rich", "matplotlib", "pycocotools", "tensorflow")
    code = (
        "import sys\n"
        f"for m in {blocked!r}: sys.modules[m] = None\n"
        "from blazepose_sdk.bench.__main__ import main\n"
        f"sys.exit(main(['latency', '--quick', '--out', {str(tmp_path)!r}, '--no-progress', '--threads', '1', "
        f"'--no-rss', '--teacher', 'teacher_savedmodel', '--model', {str(tiny_models['float32'])!r}]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads((tmp_path / "latency.json").read_text())
    names = [r["name"] for r in payload["rows"]]
    assert "tiny_float32" in names
    if _references_cached():
        assert set(REFERENCE_ROWS) <= set(names)
    assert "Model latency" in proc.stdout  # the plain-text table
    assert "teacher teacher_savedmodel skipped: no GPU (TensorFlow is not installed)" in payload["notes"]
    assert (tmp_path / "report.md").is_file()
    assert not list(tmp_path.glob("*.png"))
    assert "matplotlib is not installed" in (tmp_path / "report.md").read_text()


@needs_reference
def test_accuracy_from_coco_file_matches_the_labels_path(quick_all, tmp_path):
    """The same labels as a COCO annotation file give the same COCO-17 PCK and OKS AP."""
    pytest.importorskip("pycocotools")
    from blazepose_sdk.bench.__main__ import main

    labels = D.load_labels(quick_all / "labelled_set" / "labels.json")
    ann = tmp_path / "person_keypoints.json"
    ann.write_text(json.dumps(D.to_coco_gt(labels)))
    out = tmp_path / "coco"
    argv = [
        "accuracy",
        "--quick",
        "--out",
        str(out),
        "--no-progress",
        "--coco-annotations",
        str(ann),
        "--images",
        str(quick_all / "labelled_set" / "images"),
    ]
    assert main(argv) == 0
    coco = _load(out, "accuracy")
    assert coco["ground_truth"]["kind"] == "coco" and coco["ground_truth"]["keypoints"] == "coco17"
    first = {r["name"]: r for r in _load(quick_all, "accuracy")["rows"]}
    for row in coco["rows"]:
        assert len(row["per_keypoint_pck"]) == 17
        assert row["mpjpe_mm"] is None  # COCO has no 3D ground truth
        assert row["pck@0.2"] == pytest.approx(first[row["name"]]["pck@0.2_coco17"])
        assert row["oks"]["AP"] == pytest.approx(first[row["name"]]["oks"]["AP"])


@needs_reference
def test_accuracy_with_labelled_rois_scores_the_landmark_stage(quick_all, tmp_path):
    """--roi labels: no detector; each person's ROI from the keypoints, or the label file's roi."""
    from blazepose_sdk.bench.__main__ import main

    labels_path = quick_all / "labelled_set" / "labels.json"

    def run(path: Path, out: Path) -> dict:
        argv = ["accuracy", "--quick", "--out", str(out), "--no-progress", "--labels", str(path),
                "--roi", "labels", "--model", "reference-heavy"]
        assert main(argv) == 0
        payload = _load(out, "accuracy")
        assert payload["ground_truth"]["roi"] == "labels"
        return {r["name"]: r for r in payload["rows"]}

    rows = run(labels_path, tmp_path / "from_keypoints")
    heavy = rows["reference-heavy"]
    assert heavy["roi"] == "labels" and heavy["poses_found"] == 3
    # heavy made these labels; its own ROI rule on them lands it close to its own landmarks
    assert heavy["pck@0.2"] > 0.9
    # a label file's roi wins over the keypoints: an ROI beside the person finds nothing there
    doc = json.loads(labels_path.read_text())
    for entry in doc["images"]:
        for person in entry["persons"]:
            person["roi"] = {"center_x_px": 20.0, "center_y_px": 20.0, "size_px": 30.0, "rotation_rad": 0.0}
    moved = labels_path.parent / "labels_roi_beside.json"
    moved.write_text(json.dumps(doc))
    beside = run(moved, tmp_path / "beside")["reference-heavy"]
    assert beside["pck@0.2"] < 0.2
    assert "landmark stage alone" in (tmp_path / "beside" / "report.md").read_text()


def test_min_presence_reaches_every_tracker():
    from blazepose_sdk.bench.__main__ import build_parser
    from blazepose_sdk.bench.pipeline import tracker_options
    from blazepose_sdk.bench.rows import ModelRow

    row = ModelRow("pair", Path("lm.tflite"), Path("det.tflite"))
    assert tracker_options(row, 1).min_tracking_confidence == 0.5  # the SDK's default
    assert tracker_options(row, 1, static=True, min_presence=0.0).min_tracking_confidence == 0.0
    named = ModelRow("ours-lite", Path("lm.tflite"), Path("det.tflite"), pipeline="ours-lite")
    assert tracker_options(named, 1, min_presence=0.2).min_tracking_confidence == 0.2
    args = build_parser().parse_args(["accuracy", "--min-presence", "0", "--out", "x"])
    assert args.min_presence == 0.0
