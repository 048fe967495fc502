"""Shared fixtures: paths to ../shared/data and the official reference models."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/parity_images.py


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "basketball1.png").is_file():
        pytest.fail(f"real test data missing: {SHARED_DATA} (shared/ must sit beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def reference_models() -> Path:
    """The official models in the user cache. No test downloads them: when they are missing, the
    tests that need them skip and say how to fetch them (CI runs that command first)."""
    from blazepose_sdk.models import REFERENCE_FILES, reference_dir

    folder = reference_dir()
    missing = [name for name in REFERENCE_FILES if not (folder / name).is_file()]
    if missing:
        pytest.skip(f"official models not in the cache ({', '.join(missing)}): run "
                    "`blazepose models fetch-reference` once (network)")
    return folder


@pytest.fixture(scope="session")
def basketball_rgb(shared_data) -> np.ndarray:
    from blazepose_sdk.video import read_image

    return read_image(shared_data / "basketball1.png")


@pytest.fixture(scope="session")
def pan_clip(shared_data) -> list[np.ndarray]:
    """60 frames of a slow pan/zoom/roll over the full-body player in basketball1.png."""
    from parity_images import make_pan_clip

    return make_pan_clip(shared_data, 60)
