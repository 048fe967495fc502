"""Shared fixtures: paths to ../shared/data and the official reference models.

Tests that need the official models fetched by `blazepose models fetch-reference` skip at run
time with the reason (never at import: a fresh clone with an empty cache must collect) and carry
the ``reference`` marker, so CI can run the suite once with an empty cache, fetch, then run only
``-m reference``. Two checks keep that split honest:

- a test that uses the ``reference_models`` fixture is marked ``reference`` here, at collection;
- a test that skips because the models are missing but is not marked ``reference`` fails (it would
  never run in CI), and with ``BLAZEPOSE_REQUIRE_REFERENCE=1`` (CI's run after the fetch) any such
  skip fails, marked or not.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

# Before any test module imports TensorFlow: loads triton (torch's CUDA build) first, or the
# process segfaults when anny imports torch._dynamo later (training/__init__.py says why).
import training  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/parity_images.py

# Set by CI for its run after `blazepose models fetch-reference`: the models must be there.
REQUIRE_REFERENCE_ENV = "BLAZEPOSE_REQUIRE_REFERENCE"
# How the tests say "the official models are not fetched" (every such reason names the command).
MISSING_REFERENCE = re.compile(r"fetch-reference|reference models? not fetched")


def reference_models_missing() -> str | None:
    """Why the official models cannot be used here (a skip reason naming the fix), or None.
    Never raises, so it is safe anywhere, but call it at run time, not at import."""
    from blazepose_sdk.assets.models import REFERENCE_FILES, reference_dir

    folder = reference_dir()
    missing = [name for name in REFERENCE_FILES if not (folder / name).is_file()]
    if missing:
        return (f"official models not in the cache {folder} ({', '.join(missing)}): run "
                "`blazepose models fetch-reference` once (network)")
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "basketball1.png").is_file():
        pytest.fail(f"real test data missing: {SHARED_DATA} (shared/ must sit beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def reference_models() -> Path:
    """The official models in the user cache. No test downloads them: when they are missing, the
    tests that need them skip and say how to fetch them (CI runs that command first)."""
    from blazepose_sdk.assets.models import reference_dir

    reason = reference_models_missing()
    if reason:
        pytest.skip(reason)
    return reference_dir()


@pytest.fixture(scope="session")
def basketball_rgb(shared_data) -> np.ndarray:
    from blazepose_sdk.app.video import read_image

    return read_image(shared_data / "basketball1.png")


@pytest.fixture(scope="session")
def pan_clip(shared_data) -> list[np.ndarray]:
    """60 frames of a slow pan/zoom/roll over the full-body player in basketball1.png."""
    from parity_images import make_pan_clip

    return make_pan_clip(shared_data, 60)


# tryfirst: before `-m` deselects, so `-m reference` selects the tests marked here
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "reference_models" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.reference)


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if not MISSING_REFERENCE.search(reason):
        return
    if item.get_closest_marker("reference") is None:
        problem = ("skips for missing reference models but is not marked `reference`, so CI's "
                   "`pytest -m reference` after the fetch never runs it: mark it "
                   "@pytest.mark.reference or use the reference_models fixture")
    elif os.environ.get(REQUIRE_REFERENCE_ENV):
        problem = f"{REQUIRE_REFERENCE_ENV} is set (the models were fetched), yet it skips"
    else:
        return
    report.outcome = "failed"
    report.longrepr = f"{item.nodeid}: {problem}. Skip reason: {reason}"
