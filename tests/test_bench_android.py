"""blazepose_sdk.bench.android: benchmark_model's log and a phone's command outputs parsed (fixture
text in the formats TFLite's benchmark tool and Android print), and a run through a fake adb that
answers like a phone: latency.json in the suite's schema, a failing GPU delegate row that says why,
and a file `bench merge` takes."""

from __future__ import annotations

import json

import pytest

from blazepose_sdk.bench.android import (
    MACHINE_COMMANDS,
    android_machine,
    benchmark_command,
    main,
    parse_benchmark_output,
    parse_getprop,
    run_android,
)
from blazepose_sdk.bench.common import Reporter
from blazepose_sdk.bench.merge import merge_files


def bench_log(median_us: float, threads: int = 2) -> str:
    """benchmark_model's log as the tool prints it (warm-up line, then the timed runs)."""
    return (
        "INFO: STARTING!\nINFO: Log parameter values verbosely: [0]\n"
        f"INFO: Num threads: [{threads}]\nINFO: Graph: [/data/local/tmp/blazepose/m.tflite]\n"
        "INFO: Loaded model /data/local/tmp/blazepose/m.tflite\n"
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nINFO: Initialized session in 45.2ms.\n"
        "INFO: Running benchmark for at least 5 iterations and at least 0.5 seconds but terminate if exceeding "
        "150 seconds.\n"
        "INFO: count=31 first=21034 curr=15873 min=15611 max=21034 avg=16212.4 std=1002 p5=15633 median=15981 "
        "p95=17234\n\n"
        "INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding "
        "150 seconds.\n"
        f"INFO: count=63 first=15902 curr=15788 min={median_us - 290} max=18011 avg={median_us + 84.2} std=401 "
        f"p5=15544 median={median_us} p95={median_us + 1160}\n\n"
        f"INFO: Inference timings in us: Init: 45213, First inference: 21034, Warmup (avg): 16212.4, "
        f"Inference (avg): {median_us + 84.2}\n"
        "INFO: Memory footprint delta from the start of the tool (MB): init=12.3 overall=20.1\n"
    )


GPU_FAIL = ("INFO: STARTING!\nINFO: Use gpu: [1]\nERROR: Failed to create GPU delegate: no OpenCL library\n"
            "ERROR: Failed to apply GPU delegate.\nERROR: Benchmarking failed.\n")

CPUINFO = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 38.40\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\n"
    f"CPU part\t: {'0xd05' if i < 4 else '0xd41'}\nCPU revision\t: 0\n\n" for i in range(8))
PHONE = {
    "cpuinfo": CPUINFO,
    "getprop": ("[ro.build.version.release]: [14]\n[ro.build.version.sdk]: [34]\n"
                "[ro.product.manufacturer]: [Google]\n[ro.product.model]: [Pixel 7]\n[ro.soc.model]: [GS201]\n"),
    "governors": "sched_pixel\nsched_pixel\nsched_pixel\nsched_pixel\nsched_pixel\nsched_pixel\nsched_pixel\n",
    "max_freq": "1803000\n1803000\n1803000\n1803000\n2348000\n2348000\n2850000\n2850000\n",
    "thermal": "BIG|41200\nMID|39800\nLITTLE|38000\nbattery|30100\nsoc_therm|42700\n",
    "loadavg": "3.10 2.95 2.80 2/1460 12345\n",
    "meminfo": "MemTotal:        7803456 kB\nMemFree:          512000 kB\n",
    "arch": "aarch64\n",
}


def test_parse_benchmark_output_takes_the_timed_runs():
    r = parse_benchmark_output(bench_log(15790.0))
    assert r["runs"] == 63
    assert r["median_ms"] == pytest.approx(15.79) and r["min_ms"] == pytest.approx(15.5)
    assert r["mean_ms"] == pytest.approx(15.8742) and r["p95_ms"] == pytest.approx(16.95)
    assert r["p90_ms"] is None and r["init_ms"] == pytest.approx(45.213) and r["first_ms"] == pytest.approx(21.034)


def test_parse_benchmark_output_all_same_and_failure():
    text = ("INFO: count=3 curr=1000(all same)\n"
            "INFO: Inference timings in us: Init: 10, First inference: 1000, Warmup (avg): 1000, Inference (avg): 1000\n")
    r = parse_benchmark_output(text)
    assert r["runs"] == 3 and r["median_ms"] == r["min_ms"] == r["mean_ms"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Benchmarking failed"):
        parse_benchmark_output(GPU_FAIL)
    with pytest.raises(ValueError, match="no inference timings"):
        parse_benchmark_output("")


def test_android_machine_from_phone_outputs():
    assert parse_getprop(PHONE["getprop"])["ro.product.model"] == "Pixel 7"
    m = android_machine(PHONE)
    assert m["cpu_model"] == "4x Cortex-A55 + 4x Cortex-A78"
    assert m["board"] == "Google Pixel 7" and m["soc"] == "GS201"
    assert m["cores_logical"] == 8 and m["cpu_max_mhz"] == pytest.approx(2850.0)
    assert m["cpu_governor"] == "sched_pixel"
    assert m["cpu_temperature_c"] == pytest.approx(42.7) and m["cpu_thermal_zone"] == "soc_therm"
    assert m["load_average"] == [3.1, 2.95, 2.8] and m["memory_total_mb"] == pytest.approx(7803456 / 1024)
    assert m["os"] == "Android 14 (SDK 34)" and m["arch"] == "aarch64" and m["system"] == "Android"
    assert android_machine({})["cpu_model"] is None  # nothing readable: None, not an error


def test_benchmark_command():
    cpu = benchmark_command("/d/bm", "/d/m.tflite", 4, 50, 5, gpu=False)
    assert cpu == "/d/bm --graph=/d/m.tflite --num_threads=4 --num_runs=50 --warmup_runs=5 --use_xnnpack=true"
    assert benchmark_command("/d/bm", "/d/m.tflite", 4, 50, 5, gpu=True).endswith("--use_gpu=true")


class FakePhone:
    """Answers adb shell/push like a phone: machine commands from PHONE, benchmark runs from bench_log
    (each model its own median), the GPU delegate failing."""

    MEDIAN_US = {"pose_landmark_lite.tflite": 20000.0, "ours_pose_landmark_lite_int8.tflite": 14000.0}

    def __init__(self):
        self.pushed, self.commands = [], []

    def shell(self, command):
        self.commands.append(command)
        for key, cmd in MACHINE_COMMANDS.items():
            if command == cmd:
                return 0, PHONE[key]
        if "--graph=" in command:
            if "--use_gpu=true" in command:
                return 1, GPU_FAIL
            graph = command.split("--graph=")[1].split()[0].rsplit("/", 1)[1]
            return 0, bench_log(self.MEDIAN_US.get(graph, 30000.0))
        return 0, ""

    def push(self, local, remote):
        self.pushed.append((str(local), remote))


def test_run_android_writes_a_latency_payload_merge_takes(tmp_path, tmp_path_factory):
    phone = FakePhone()
    payload = run_android(phone, tmp_path / "benchmark_model", [], (1, 2), 20, 2, True, Reporter(progress=False))
    assert payload["suite"] == "latency" and payload["machine"]["board"] == "Google Pixel 7"
    rows = {r["name"]: r for r in payload["rows"]}
    assert {"reference-lite", "ours-lite"} <= set(rows)
    lite, ours = rows["reference-lite"], rows["ours-lite"]
    assert lite["role"] == "landmark" and lite["params"] > 0
    by = {m["config"]: m for m in ours["measurements"]}
    assert set(by) == {"cpu-1t", "cpu-2t", "delegate-gpu"}
    assert by["cpu-1t"]["median_ms"] == pytest.approx(14.0)
    assert by["cpu-1t"]["ratio_vs_baseline"] == pytest.approx(14.0 / 20.0)
    assert by["delegate-gpu"]["error"] == "ERROR: Benchmarking failed."
    assert any("delegate-gpu" in n for n in payload["notes"])
    assert ("benchmark_model" in phone.pushed[0][1]) and any(r.endswith("pose_landmark_lite.tflite")
                                                              for _, r in phone.pushed)
    path = tmp_path / "phone" / "latency.json"
    path.parent.mkdir()
    path.write_text(json.dumps(payload))
    merged, _ = merge_files([f"pixel7={path}"], tmp_path / "merged")
    cell = next(r for r in merged["latency"]["rows"] if r["model"] == "ours-lite" and r["key"] == "cpu-2t")
    assert cell["cells"]["pixel7"]["x_lite"] == pytest.approx(0.7)


def test_main_checks_its_options(tmp_path, capsys):
    assert main(["--benchmark-model", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "no benchmark binary" in capsys.readouterr().err
    assert main(["--benchmark-model", str(tmp_path), "--out", str(tmp_path), "--threads", "0"]) == 2
