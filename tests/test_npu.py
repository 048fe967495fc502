"""blazepose bench npu: parsing vela's summary CSV and log (fixtures made by vela 5.2.0 on a tiny INT8
model, tests/data/vela), the row built from them, and - when ethos-u-vela and TensorFlow are
installed - vela run on a tiny INT8 model built here, before and after the batch-1 export fix."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from blazepose_sdk.bench.npu import (
    ESTIMATE_LABEL,
    fallback_reasons,
    graph_op_types,
    npu_models,
    npu_row,
    parse_summary_csv,
    parse_vela_log,
    vela_available,
)
from blazepose_sdk.bench.report import npu_tables

DATA = Path(__file__).parent / "data" / "vela"
CSV = DATA / "tiny_dyn_summary_Ethos_U55_High_End_Embedded.csv"
LOG = DATA / "tiny_dyn_ethos-u55-128.log"
needs_vela = pytest.mark.skipif(not vela_available(), reason="ethos-u-vela is not installed (pip install ethos-u-vela)")


# -- pure parsing on vela's own output ---------------------------------------------------------
def test_parse_summary_csv_reads_vela_numbers():
    s = parse_summary_csv(CSV.read_text())
    assert s["accelerator_configuration"] == "Ethos_U55_128"
    assert s["system_config"] == "Ethos_U55_High_End_Embedded" and s["memory_mode"] == "Shared_Sram"
    assert s["core_clock"] == 500e6
    assert s["nn_macs"] == 83968 and s["cycles_total"] == 19392
    assert s["sram_memory_used"] == pytest.approx(8.203125)
    assert s["off_chip_flash_memory_used"] == pytest.approx(10.625)
    # vela's inferences/s is 1 / inference time (s)
    assert s["inferences_per_second"] == pytest.approx(1.0 / s["inference_time"])
    # ... and inference time is total cycles at the clock
    assert s["inference_time"] == pytest.approx(s["cycles_total"] / s["core_clock"])


def test_parse_summary_csv_wants_one_row():
    text = CSV.read_text()
    header, row = text.strip().splitlines()
    with pytest.raises(ValueError, match="one data row"):
        parse_summary_csv("\n".join([header, row, row]))
    with pytest.raises(ValueError, match="one data row"):
        parse_summary_csv(header)


def test_parse_vela_log_defaults_counts_and_warnings():
    log = parse_vela_log(LOG.read_text())
    assert log["system_config_default"] == "Ethos_U55_High_End_Embedded"
    assert log["memory_mode_default"] == "Shared_Sram"
    assert (log["vela_cpu_operators"], log["vela_npu_operators"]) == (2, 4)
    ops = [w["op"] for w in log["warnings"]]
    assert ops == ["DEQUANTIZE", "PACK", "STRIDED_SLICE", "SHAPE", "QUANTIZE"]
    pack = log["warnings"][1]
    assert pack["ofm"] == "functional_1/reshape_1/Reshape/shape"
    assert pack["reason"] == "Operation has shapeless tensor\nTensors must have constant shape."
    assert log["warnings"][0]["reason"] == "Unsupported opType"


def test_fallback_reasons_group_by_first_line_without_tensor_names():
    warnings = [
        {"op": "CONV_2D", "ofm": "a", "reason": "Operation has tensor with unsupported DataType Float32 (x)\nmust be"},
        {"op": "CONV_2D", "ofm": "b", "reason": "Operation has tensor with unsupported DataType Float32 (y)"},
        {"op": "SHAPE", "ofm": "c", "reason": "Unsupported opType"},
    ]
    assert fallback_reasons(warnings) == {
        "CONV_2D": {"Operation has tensor with unsupported DataType Float32": 2},
        "SHAPE": {"Unsupported opType": 1},
    }


def test_npu_row_splits_ops_and_converts_units():
    summary = parse_summary_csv(CSV.read_text())
    log = parse_vela_log(LOG.read_text())
    ops_in = ["QUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE",
              "FULLY_CONNECTED", "DEQUANTIZE"]
    ops_out = ["QUANTIZE", "ethos-u", "DEQUANTIZE"]
    row = npu_row("tiny", "tiny.tflite", "ethos-u55-128", ops_in, ops_out, summary, log)
    assert (row["ops_total"], row["ops_npu"], row["ops_cpu"]) == (9, 7, 2)
    assert row["cpu_op_types"] == {"DEQUANTIZE": 1, "QUANTIZE": 1}
    assert row["npu_subgraphs"] == 1
    assert row["fallback_reasons"] == {"DEQUANTIZE": {"Unsupported opType": 1},
                                       "QUANTIZE": {"Operation has tensor with unsupported DataType Float32": 1}}
    assert row["est_ms"] == pytest.approx(summary["inference_time"] * 1000)
    assert row["core_clock_mhz"] == 500.0
    assert row["flash_kib"] == pytest.approx(10.625) and row["sram_kib"] == pytest.approx(8.203125)
    assert row["system_config_is_vela_default"] and row["estimate"] == ESTIMATE_LABEL
    tables = npu_tables({"settings": {"vela_version": "5.2.0"}, "rows": [row]})
    assert "not a measurement" in tables[0].caption
    assert tables[0].rows[0][3] == "7 / 2 (DEQUANTIZE x1, QUANTIZE x1)"
    assert tables[1].rows[0][:3] == ["tiny", "DEQUANTIZE", "1"]


def test_npu_models_keeps_int8_files_and_says_what_it_skips(tmp_path):
    models, notes = npu_models([], [])
    shipped = {m.name for m in models}
    assert "ours_pose_landmark_lite_int8" in shipped
    assert "pose_landmark_lite" not in shipped  # float16 official model
    assert any("pose_landmark_lite (float16)" in n for n in notes)
    models, notes = npu_models([str(tmp_path / "missing.tflite")], [str(tmp_path / "nodir")], shipped=False)
    assert models == [] and len(notes) == 2


# -- vela on a tiny model built here -----------------------------------------------------------
def _tiny_keras():
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu6")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Reshape((-1,))(x)  # a Reshape whose shape depends on the batch axis
    return keras.Model(inp, keras.layers.Dense(4)(x))


def _representative():
    return (np.random.default_rng(i).random((1, 16, 16, 3), dtype=np.float32) for i in range(8))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """The same tiny Keras model converted with a free batch axis and through to_tflite (batch 1)."""
    tf = pytest.importorskip("tensorflow")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from training.models.export import to_tflite

    out = tmp_path_factory.mktemp("tiny")
    model = _tiny_keras()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x] for x in _representative())
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.float32
    dynamic = out / "tiny_dynamic.tflite"
    dynamic.write_bytes(conv.convert())
    fixed = to_tflite(model, out / "tiny_batch1.tflite", "int8", _representative)
    return dynamic, fixed


def test_to_tflite_exports_static_shapes(tiny_models):
    dynamic, fixed = tiny_models
    assert {"SHAPE", "STRIDED_SLICE", "PACK"} <= set(graph_op_types(dynamic))
    assert graph_op_types(fixed) == ["QUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED",
                                     "DEQUANTIZE"]


@needs_vela
def test_bench_npu_cli_on_tiny_models(tiny_models, tmp_path):
    from blazepose_sdk.bench.__main__ import main

    dynamic, fixed = tiny_models
    out = tmp_path / "npu"
    rc = main(["npu", "--no-shipped", "--no-progress", "--model", f"dyn={dynamic}", "--model", f"fixed={fixed}",
               "--accelerator", "ethos-u55-128", "--accelerator", "ethos-u85-256", "--out", str(out)])
    assert rc == 0
    payload = json.loads((out / "npu.json").read_text())
    assert payload["suite"] == "npu" and payload["machine"]["arch"]
    rows = {(r["name"], r["accelerator"]): r for r in payload["rows"]}
    assert set(rows) == {(n, a) for n in ("dyn", "fixed") for a in ("ethos-u55-128", "ethos-u85-256")}
    for r in rows.values():
        assert r["error"] is None and r["estimate"] == ESTIMATE_LABEL
        # float32 I/O: the input QUANTIZE and the output DEQUANTIZE stay on the CPU, the rest runs on the NPU
        assert r["cpu_op_types"] == {"DEQUANTIZE": 1, "QUANTIZE": 1}
        assert r["est_ms"] > 0 and r["est_inferences_per_s"] == pytest.approx(1000 / r["est_ms"])
        assert r["macs"] >= 16 * 16 * 8 * (27 + 9) + 4 * 2048  # conv + depthwise + dense MACs
    assert rows[("dyn", "ethos-u55-128")]["ops_total"] == 9 and rows[("fixed", "ethos-u55-128")]["ops_total"] == 6
    # vela flags the batch-dependent shape ops of the free-batch export (then folds them at batch 1)
    assert {"SHAPE", "STRIDED_SLICE", "PACK"} <= set(rows[("dyn", "ethos-u55-128")]["vela_warnings"])
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(rows[("fixed", "ethos-u55-128")]["vela_warnings"])
    assert rows[("fixed", "ethos-u55-128")]["system_config"] == "Ethos_U55_High_End_Embedded"
    assert rows[("fixed", "ethos-u85-256")]["system_config"] == "Ethos_U85_SYS_DRAM_Mid"
    report = (out / "report.md").read_text()
    assert "Ethos-U NPU estimates" in report and "not a measurement" in report


def test_bench_npu_without_vela_says_how_to_install(monkeypatch, capsys):
    from blazepose_sdk.bench import npu
    from blazepose_sdk.bench.__main__ import main

    monkeypatch.setattr(npu, "vela_available", lambda: False)
    assert main(["npu", "--out", "unused"]) == 2
    assert "pip install ethos-u-vela" in capsys.readouterr().err
