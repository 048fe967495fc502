"""The machine object's parsers (blazepose_sdk.bench.machine) on /proc/cpuinfo and thermal-zone text
as boards write it: Raspberry Pi 4, Jetson Orin, a big.LITTLE phone, x86, and the aarch64 qemu
smoke test's made-up Cortex-A72 cpuinfo."""

from __future__ import annotations

import pytest

from blazepose_sdk.bench.machine import (
    cpu_name_from_cpuinfo,
    cpu_temperature_from_zones,
    describe_machine,
    join_governors,
    millidegrees_c,
    parse_cpuinfo,
)


def _arm_entry(n: int, implementer: str, part: str) -> str:
    return (f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
            f"CPU implementer\t: {implementer}\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: {part}\n"
            "CPU revision\t: 3\n")


# Raspberry Pi 4, 64-bit Raspberry Pi OS: four Cortex-A72 entries, then the board lines.
PI4 = "\n".join(_arm_entry(i, "0x41", "0xd08") for i in range(4)) + (
    "\nHardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 100000001234abcd\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n")
# Jetson AGX Orin: Cortex-A78AE cores, no board lines (the board is in the device tree).
ORIN = "\n".join(_arm_entry(i, "0x41", "0xd42") for i in range(6))
# A phone SoC: 4 little, 3 big, 1 prime core; the last one with an unknown part.
PHONE = "\n".join([_arm_entry(i, "0x41", "0xd05") for i in range(4)]
                  + [_arm_entry(4 + i, "0x41", "0xd41") for i in range(3)]
                  + [_arm_entry(7, "0x41", "0xd99")])
X86 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\ncpu cores\t: 1\n\n"
       "processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\ncpu cores\t: 1\n")
# What blazepose_sdk/bench/edge/aarch64_smoke.sh bind-mounts over /proc/cpuinfo (one entry per host CPU).
QEMU_SMOKE = "".join(_arm_entry(i, "0x41", "0xd08") + "\n" for i in range(2))


def test_parse_cpuinfo_raspberry_pi4():
    info = parse_cpuinfo(PI4)
    assert info["processors"] == 4 and info["cores"] == {"Cortex-A72": 4}
    assert info["hardware"] == "BCM2835" and info["model"] == "Raspberry Pi 4 Model B Rev 1.4"
    assert cpu_name_from_cpuinfo(PI4) == "4x Cortex-A72"


def test_cpu_names_of_other_boards():
    assert cpu_name_from_cpuinfo(ORIN) == "6x Cortex-A78AE"
    assert cpu_name_from_cpuinfo(PHONE) == "4x Cortex-A55 + 3x Cortex-A78 + 1x ARM part 0xd99"
    assert cpu_name_from_cpuinfo(X86) == "AMD EPYC 7B13"
    assert parse_cpuinfo(X86)["processors"] == 2
    assert cpu_name_from_cpuinfo(QEMU_SMOKE) == "2x Cortex-A72"
    assert cpu_name_from_cpuinfo("") is None and cpu_name_from_cpuinfo(None) is None
    assert cpu_name_from_cpuinfo("Hardware\t: Qualcomm Technologies, Inc SM8250\n") == "Qualcomm Technologies, Inc SM8250"


def test_join_governors():
    assert join_governors(["ondemand"] * 4) == "ondemand"
    assert join_governors(["schedutil", "schedutil", "performance", None]) == "schedutil/performance"
    assert join_governors([None, ""]) is None and join_governors([]) is None


def test_millidegrees():
    assert millidegrees_c("48850\n") == pytest.approx(48.85)
    assert millidegrees_c("-5000") == pytest.approx(-5.0)
    for bad in (None, "", "n/a", "-274000", "200000"):
        assert millidegrees_c(bad) is None


def test_cpu_temperature_from_zones():
    # Raspberry Pi: one zone
    assert cpu_temperature_from_zones([("cpu-thermal", "48850")]) == (pytest.approx(48.85), "cpu-thermal")
    # Jetson Orin: the hottest CPU/SoC zone, not the GPU
    orin = [("cpu-thermal", "45500"), ("gpu-thermal", "52000"), ("soc0-thermal", "46125"), ("tj-thermal", "53000")]
    assert cpu_temperature_from_zones(orin) == (pytest.approx(46.125), "soc0-thermal")
    # a phone: battery first, an unreadable CPU zone, a readable one
    phone = [("battery", "31000"), ("cpu-1-0-usr", None), ("cpu-1-1-usr", "41300")]
    assert cpu_temperature_from_zones(phone) == (pytest.approx(41.3), "cpu-1-1-usr")
    # no CPU-named zone: the first readable one
    assert cpu_temperature_from_zones([("acpitz", "bad"), ("acpitz", "27800")]) == (pytest.approx(27.8), "acpitz")
    assert cpu_temperature_from_zones([]) == (None, None)
    assert cpu_temperature_from_zones([("cpu-thermal", "-274000")]) == (None, None)


def test_describe_machine_has_the_documented_fields():
    m = describe_machine()
    for key in ("cpu_model", "board", "cores_logical", "cores_usable", "cpu_max_mhz", "cpu_governor",
                "cpu_temperature_c", "cpu_thermal_zone", "arch", "python", "tflite_runtime", "timestamp_utc"):
        assert key in m
    assert m["cores_logical"] >= 1
