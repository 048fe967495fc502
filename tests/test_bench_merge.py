"""blazepose bench merge on real result files: a `latency --quick` run made here (with a delegate
that cannot load, whose rows must say why while the CPU rows are timed) and the same file with its
machine object edited to what the aarch64 qemu smoke test reports (Cortex-A72 cpuinfo, aarch64,
Python 3.11.2) and its times scaled by a known factor; and the file the aarch64 qemu smoke test
itself wrote (tests/data/edge/aarch64_qemu_latency.json; the smoke test, qemu and a root, ~15-30
minutes, is not run by the tests)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from blazepose_sdk.bench.__main__ import main
from blazepose_sdk.bench.machine import cpu_name_from_cpuinfo
from blazepose_sdk.bench.merge import (
    MergeInputError,
    load_results,
    merge_files,
    merge_pipeline,
    unique_labels,
)

ARM_SLOWER = 7.0  # the factor the edited aarch64 copy's times are scaled by
# /proc/cpuinfo as aarch64_smoke.sh bind-mounts it into the arm64 root (two host CPUs)
SMOKE_CPUINFO = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n"
    "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n" for i in range(2))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """(x86 latency.json, aarch64-shaped copy, run folder)."""
    out = tmp_path_factory.mktemp("lat")
    rc = main(["latency", "--quick", "--threads", "1,2", "--runs", "3", "--warmup", "1", "--block", "3", "--no-rss",
               "--no-progress", "--delegate", str(out / "libnope_delegate.so"), "--out", str(out / "x86")])
    assert rc == 0
    x86 = out / "x86" / "latency.json"
    payload = json.loads(x86.read_text())
    arm = copy.deepcopy(payload)
    arm["machine"].update({
        "cpu_model": cpu_name_from_cpuinfo(SMOKE_CPUINFO), "board": None, "arch": "aarch64",
        "os": "Linux-6.1.0-aarch64-with-glibc2.36", "python": "CPython 3.11.2", "cpu_governor": None,
        "cpu_temperature_c": None, "cpu_max_mhz": None, "cores_logical": 2, "cores_usable": 2,
    })
    for row in arm["rows"]:
        for m in row["measurements"]:
            for key in ("median_ms", "p90_ms", "min_ms", "mean_ms"):
                if m.get(key) is not None:
                    m[key] *= ARM_SLOWER
    arm_path = out / "arm" / "latency.json"
    arm_path.parent.mkdir()
    arm_path.write_text(json.dumps(arm))
    return x86, arm_path, out


def test_latency_delegate_rows_say_why_and_cpu_rows_run(results):
    x86, _, out = results
    payload = json.loads(x86.read_text())
    assert any(r["name"] == "reference-lite" for r in payload["rows"])
    for row in payload["rows"]:
        by = {m["config"]: m for m in row["measurements"]}
        assert set(by) == {"cpu-1t", "cpu-2t", "delegate-libnope_delegate.so"}
        assert by["cpu-1t"]["error"] is None and by["cpu-1t"]["median_ms"] > 0
        assert by["cpu-2t"]["error"] is None and by["cpu-2t"]["median_ms"] > 0
        err = by["delegate-libnope_delegate.so"]["error"]
        assert err.startswith("cannot load delegate") and "libnope_delegate.so" in err
    # tried once: one note for the whole configuration
    assert sum("libnope_delegate.so" in n for n in payload["notes"]) == 1
    report = (out / "x86" / "report.md").read_text()
    assert "error: cannot load delegate" in report


def test_merge_x86_and_aarch64_results(results, tmp_path):
    x86, arm, _ = results
    merged, tables = merge_files([f"x86={x86}", str(arm)], tmp_path)
    assert [m["label"] for m in merged["machines"]] == ["x86", "2x Cortex-A72 (aarch64)"]
    lat = merged["latency"]
    rows = {(r["model"], r["key"]): r["cells"] for r in lat["rows"]}
    lite = rows[("reference-lite", "cpu-1t")]
    assert lite["x86"]["x_lite"] == pytest.approx(1.0)
    assert lite["2x Cortex-A72 (aarch64)"]["x_lite"] == pytest.approx(1.0)
    for (model, config), cells in rows.items():
        a, b = cells["x86"], cells["2x Cortex-A72 (aarch64)"]
        if config.startswith("delegate"):
            assert a["error"] and b["error"] and a["median_ms"] is None
            continue
        # each machine's ratio comes from its own reference-lite row: scaling all times keeps it
        assert b["median_ms"] == pytest.approx(ARM_SLOWER * a["median_ms"])
        assert b["x_lite"] == pytest.approx(a["x_lite"])
    md = (tmp_path / "merged.md").read_text()
    assert "2x Cortex-A72 (aarch64)" in md and "x reference-lite" in md
    assert json.loads((tmp_path / "merged.json").read_text())["latency"]["machines"] == lat["machines"]
    table = next(t for t in tables if t.title.startswith("Model latency"))
    lite_row = next(r for r in table.rows if r[:2] == ["reference-lite", "cpu-1t"])
    assert lite_row[2].endswith("(1.00)") and lite_row[3].endswith("(1.00)")


def test_merge_cli_and_bad_inputs(results, tmp_path, capsys):
    x86, arm, _ = results
    assert main(["merge", str(x86), str(arm), "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "merged.md").is_file()
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    npu = tmp_path / "npu.json"
    npu.write_text(json.dumps({"suite": "npu", "rows": [], "machine": {}}))
    for args, words in (([str(tmp_path / "missing.json")], "not found"), ([str(bad)], "not a JSON"),
                        ([str(npu)], "cannot be merged")):
        assert main(["merge", *args, "--out", str(tmp_path / "m2")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("blazepose: error:") and words in err[0]
    with pytest.raises(MergeInputError):
        load_results([str(npu)])


def test_merge_pipeline_ratios_per_machine():
    def payload(lite_ms, ours_ms):
        return {"suite": "pipeline", "machine": {}, "rows": [
            {"name": "reference-lite", "videos": [{"video": "v", "fps_process": 1000 / lite_ms,
                                                   "process_ms_per_frame": lite_ms}]},
            {"name": "ours-lite", "videos": [{"video": "v", "fps_process": 1000 / ours_ms,
                                              "process_ms_per_frame": ours_ms}]},
        ]}

    merged = merge_pipeline([("a", payload(20.0, 10.0)), ("b", payload(100.0, 80.0))])
    ours = next(r for r in merged["rows"] if r["model"] == "ours-lite")
    assert ours["cells"]["a"]["x_lite"] == pytest.approx(0.5)
    assert ours["cells"]["b"]["x_lite"] == pytest.approx(0.8)
    assert ours["cells"]["b"]["fps_process"] == pytest.approx(12.5)


def test_unique_labels():
    assert unique_labels(["pi", "pi", "x86", "pi"]) == ["pi", "pi #2", "x86", "pi #3"]


# latency.json written inside the arm64 qemu root by `aarch64_smoke.sh` (BLAZEPOSE_ARM64_BENCH_ARGS=
# "--quick --threads 1 --no-rss", Debian bookworm arm64, Python 3.11.2, ai-edge-litert 2.3.0):
# emulated, so its times mean nothing; its ratios and its machine object are what a board writes.
QEMU_LATENCY = Path(__file__).parent / "data" / "edge" / "aarch64_qemu_latency.json"


def test_merge_with_the_file_the_qemu_smoke_test_wrote(results, tmp_path):
    x86, _, _ = results
    qemu = json.loads(QEMU_LATENCY.read_text())
    assert qemu["machine"]["arch"] == "aarch64" and qemu["machine"]["cpu_model"] == "2x Cortex-A72"
    merged, _ = merge_files([f"x86={x86}", f"qemu-arm64={QEMU_LATENCY}"], tmp_path)
    assert [m["label"] for m in merged["machines"]] == ["x86", "qemu-arm64"]
    rows = {(r["model"], r["key"]): r["cells"] for r in merged["latency"]["rows"]}
    assert rows[("reference-lite", "cpu-1t")]["qemu-arm64"]["x_lite"] == pytest.approx(1.0)
    ours = rows[("ours-lite", "cpu-1t")]["qemu-arm64"]
    by_name = {r["name"]: r for r in qemu["rows"]}
    lite_ms = by_name["reference-lite"]["measurements"][0]["median_ms"]
    assert ours["median_ms"] == pytest.approx(by_name["ours-lite"]["measurements"][0]["median_ms"])
    assert ours["x_lite"] == pytest.approx(ours["median_ms"] / lite_ms)
    # configurations only one machine ran are empty cells for the other, not errors
    assert rows[("reference-lite", "cpu-2t")]["qemu-arm64"] is None
    assert "qemu-arm64" in (tmp_path / "merged.md").read_text()
