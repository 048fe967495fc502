"""Describe the machine a benchmark ran on (CPU, board, cores, memory, OS, runtime versions).

Only the standard library; every field that cannot be read on a platform is None. Reading
package versions uses package metadata, so TensorFlow is never imported here.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# Distributions whose versions are recorded when installed.
VERSIONED_PACKAGES = (
    "blazepose-sdk",
    "ai-edge-litert",
    "tflite-runtime",
    "tensorflow",
    "numpy",
    "opencv-python-headless",
    "opencv-python",
    "pycocotools",
    "matplotlib",
    "rich",
    "tqdm",
    "tflite",
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip().strip("\x00") or None
    except OSError:
        return None


def _cpuinfo_field(*names: str) -> str | None:
    text = _read("/proc/cpuinfo")
    if not text:
        return None
    for name in names:
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower() and value.strip():
                return value.strip()
    return None


def cpu_model() -> str | None:
    """CPU name: /proc/cpuinfo on Linux (x86 'model name', ARM 'Hardware'/'Model'), sysctl on macOS."""
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], check=False, capture_output=True, text=True, timeout=5
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    name = _cpuinfo_field("model name", "Hardware", "Processor", "cpu model")
    if name is None:
        part = _cpuinfo_field("CPU part")  # ARM boards without a name line
        name = f"ARM CPU part {part}" if part else None
    return name or platform.processor() or None


def board_model() -> str | None:
    """Board name from the device tree (Raspberry Pi, Jetson and other ARM boards)."""
    return _read("/proc/device-tree/model") or _read("/sys/firmware/devicetree/base/model")


def memory_total_mb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


def usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def cpu_temperature_c() -> float | None:
    """SoC temperature (thermal zone 0), useful to spot throttling on a Raspberry Pi."""
    text = _read("/sys/class/thermal/thermal_zone0/temp")
    try:
        return int(text) / 1000.0 if text else None
    except ValueError:
        return None


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def describe_machine() -> dict:
    """A JSON-ready description of this machine and its software."""
    from blazepose_sdk.runtime import runtime_name

    try:
        runtime = runtime_name()
    except Exception as exc:  # noqa: BLE001 - recorded, not raised: the suites report the error themselves
        runtime = f"unavailable ({exc})"
    max_khz = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        load = None
    return {
        "cpu_model": cpu_model(),
        "board": board_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable_cores(),
        "cpu_max_mhz": int(max_khz) / 1000.0 if max_khz and max_khz.isdigit() else None,
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "cpu_temperature_c": cpu_temperature_c(),
        "load_average": load,
        "memory_total_mb": memory_total_mb(),
        "os": platform.platform(),
        "system": platform.system(),
        "arch": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "tflite_runtime": runtime,
        "versions": package_versions(),
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 (py3.9)
    }
