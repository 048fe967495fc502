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


# (CPU implementer, CPU part) of /proc/cpuinfo on ARM -> core name: the part numbers of the Linux
# kernel's arch/arm64/include/asm/cputype.h (ARM_CPU_PART_*, NVIDIA_CPU_PART_*, QCOM_CPU_PART_*).
ARM_CPU_PARTS = {
    ("0x41", "0xd03"): "Cortex-A53", ("0x41", "0xd04"): "Cortex-A35", ("0x41", "0xd05"): "Cortex-A55",
    ("0x41", "0xd07"): "Cortex-A57", ("0x41", "0xd08"): "Cortex-A72", ("0x41", "0xd09"): "Cortex-A73",
    ("0x41", "0xd0a"): "Cortex-A75", ("0x41", "0xd0b"): "Cortex-A76", ("0x41", "0xd0c"): "Neoverse-N1",
    ("0x41", "0xd0d"): "Cortex-A77", ("0x41", "0xd40"): "Neoverse-V1", ("0x41", "0xd41"): "Cortex-A78",
    ("0x41", "0xd42"): "Cortex-A78AE", ("0x41", "0xd44"): "Cortex-X1", ("0x41", "0xd46"): "Cortex-A510",
    ("0x41", "0xd47"): "Cortex-A710", ("0x41", "0xd48"): "Cortex-X2", ("0x41", "0xd49"): "Neoverse-N2",
    ("0x41", "0xd4b"): "Cortex-A78C", ("0x41", "0xd4d"): "Cortex-A715", ("0x41", "0xd4e"): "Cortex-X3",
    ("0x41", "0xd80"): "Cortex-A520", ("0x41", "0xd81"): "Cortex-A720", ("0x41", "0xd82"): "Cortex-X4",
    ("0x4e", "0x003"): "NVIDIA Denver", ("0x4e", "0x004"): "NVIDIA Carmel",
    ("0x51", "0x800"): "Kryo 2xx Gold", ("0x51", "0x801"): "Kryo 2xx Silver", ("0x51", "0x803"): "Kryo 3xx Silver",
    ("0x51", "0x804"): "Kryo 4xx Gold", ("0x51", "0x805"): "Kryo 4xx Silver",
}
# Thermal-zone types that name the CPU / SoC sensor (Raspberry Pi "cpu-thermal", Jetson "CPU-therm" /
# "cpu-thermal", Android "cpu-1-0-usr", "cpuss-0", "soc_thermal", x86 "x86_pkg_temp").
CPU_ZONE_WORDS = ("cpu", "soc", "x86_pkg")


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip().strip("\x00") or None
    except OSError:
        return None


# -- pure parsers (text in, values out; unit-tested on fixture text) --------------------------------
def parse_cpuinfo(text: str | None) -> dict:
    """/proc/cpuinfo -> ``{"model_name", "hardware", "model", "processors", "cores"}``.

    ``cores`` counts core names per processor entry (x86: the model name; ARM: the name of its
    (implementer, part) in :data:`ARM_CPU_PARTS`, else ``ARM part 0x...``).
    """
    out = {"model_name": None, "hardware": None, "model": None, "processors": 0, "cores": {}}
    if not text:
        return out
    cores: dict[str, int] = {}
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        for key in ("hardware", "model"):
            if fields.get(key) and out[key] is None:
                out[key] = fields[key]
        if "processor" not in fields or not fields["processor"].isdigit():
            continue
        out["processors"] += 1
        name = fields.get("model name") or fields.get("cpu model")
        if "cpu part" in fields:
            impl, part = fields.get("cpu implementer", "").lower(), fields["cpu part"].lower()
            name = ARM_CPU_PARTS.get((impl, part), f"ARM part {part}")
        elif name and out["model_name"] is None:
            out["model_name"] = name
        if name:
            cores[name] = cores.get(name, 0) + 1
    out["cores"] = cores
    return out


# CPU features that decide how fast float, float16 and INT8 kernels run (XNNPACK picks its
# kernels by them): x86 AVX2/FMA/F16C, AVX-512, VNNI (int8 dot products), AMX; ARM NEON (asimd),
# its int8 dot product (asimddp) and matrix multiply (i8mm), SVE. Recorded in this order.
SPEED_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
               "amx_int8", "amx_tile", "asimd", "asimdhp", "asimddp", "i8mm", "sve", "sve2", "bf16")


def cpu_flags_from_cpuinfo(text: str | None) -> list[str]:
    """The :data:`SPEED_FLAGS` present in /proc/cpuinfo's ``flags`` (x86) or ``Features`` (ARM) line."""
    present: set[str] = set()
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            present.update(value.split())
    return [f for f in SPEED_FLAGS if f in present]


def cpu_name_from_cpuinfo(text: str | None) -> str | None:
    """The CPU as a person names it: x86 ``model name``; ARM ``4x Cortex-A72`` or
    ``2x Cortex-A76 + 6x Cortex-A55`` (most cores first); None when the text says nothing."""
    info = parse_cpuinfo(text)
    if info["model_name"]:
        return info["model_name"]
    if info["cores"]:
        return " + ".join(f"{n}x {name}" for name, n in sorted(info["cores"].items(), key=lambda kv: (-kv[1], kv[0])))
    return info["hardware"]


def join_governors(governors: list[str | None]) -> str | None:
    """Per-CPU scaling governors -> one value, or the distinct ones joined by ``/`` (None if none readable)."""
    seen = [g.strip() for g in governors if g and g.strip()]
    return "/".join(dict.fromkeys(seen)) or None


def millidegrees_c(text: str | None) -> float | None:
    """A thermal zone's ``temp`` (millidegrees Celsius) in degrees; None when unreadable or absurd."""
    try:
        value = int((text or "").strip()) / 1000.0
    except ValueError:
        return None
    return value if -40.0 < value < 150.0 else None


def cpu_temperature_from_zones(zones: list[tuple[str | None, str | None]]) -> tuple[float | None, str | None]:
    """(type, temp) of each thermal zone -> (degrees, zone type): the hottest zone whose type names
    the CPU or SoC (:data:`CPU_ZONE_WORDS`), else the first readable zone."""
    readings = [(t or "", millidegrees_c(v)) for t, v in zones]
    readings = [(t, v) for t, v in readings if v is not None]
    cpu = [(t, v) for t, v in readings if any(w in t.lower() for w in CPU_ZONE_WORDS)]
    if cpu:
        t, v = max(cpu, key=lambda tv: tv[1])
        return v, t
    if readings:
        t, v = readings[0]
        return v, t or None
    return None, None


# -- reading this machine ------------------------------------------------------------------------
def cpu_model() -> str | None:
    """CPU name: /proc/cpuinfo on Linux (:func:`cpu_name_from_cpuinfo`), sysctl on macOS."""
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], check=False, capture_output=True, text=True, timeout=5
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return cpu_name_from_cpuinfo(_read("/proc/cpuinfo")) or platform.processor() or None


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


def _cpu_dirs() -> list[Path]:
    return sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*"), key=lambda p: int(p.name[3:]))


def cpu_governor() -> str | None:
    """The cpufreq scaling governor of every CPU (``performance``, ``ondemand``, ``schedutil``...)."""
    return join_governors([_read(d / "cpufreq" / "scaling_governor") for d in _cpu_dirs()])


def cpu_max_mhz() -> float | None:
    """The highest cpuinfo_max_freq of any CPU (the big cores of a big.LITTLE SoC)."""
    khz = [_read(d / "cpufreq" / "cpuinfo_max_freq") for d in _cpu_dirs()]
    values = [int(k) for k in khz if k and k.isdigit()]
    return max(values) / 1000.0 if values else None


def thermal_zones() -> list[tuple[str | None, str | None]]:
    zones = sorted(Path("/sys/class/thermal").glob("thermal_zone*"), key=lambda p: int(p.name[12:] or 0))
    return [(_read(z / "type"), _read(z / "temp")) for z in zones]


def cpu_temperature_c() -> float | None:
    """CPU/SoC temperature (degrees C), useful to spot throttling on a Raspberry Pi; None when absent."""
    return cpu_temperature_from_zones(thermal_zones())[0]


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
    from blazepose_sdk.stages.runtime import runtime_name

    try:
        runtime = runtime_name()
    except Exception as exc:  # noqa: BLE001 - recorded, not raised: the suites report the error themselves
        runtime = f"unavailable ({exc})"
    temperature, zone = cpu_temperature_from_zones(thermal_zones())
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        load = None
    return {
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags_from_cpuinfo(_read("/proc/cpuinfo")),
        "board": board_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable_cores(),
        "cpu_max_mhz": cpu_max_mhz(),
        "cpu_governor": cpu_governor(),
        "cpu_temperature_c": temperature,
        "cpu_thermal_zone": zone,
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
