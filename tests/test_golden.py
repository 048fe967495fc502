"""Golden vectors for ports of the pipeline (android_demo/core): deterministic, self-consistent,
and equal to the committed copy that the JVM tests read when Python is not around."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tools import golden
from blazepose_sdk.anchors import decode_boxes, decode_scores, generate_anchors
from blazepose_sdk.detector import NMS_IOU_THRESHOLD, detections_from_decoded
from blazepose_sdk.models import resolve_pipeline
from blazepose_sdk.nms import weighted_nms
from blazepose_sdk.roi import letterbox_roi

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "android_demo" / "core"
COMMITTED = CORE / "src" / "test" / "resources" / "golden.json"
DATA = REPO.parent / "shared" / "data"
# Sections computed from the official models' outputs: XNNPACK kernels may round differently on
# another CPU, so those are compared to the committed copy with a relative tolerance.
MODEL_SECTIONS = {"detector", "landmark_model"}
SYNTHETIC_ATOL = 1e-6
MODEL_RTOL = 1e-4
MAX_FILE_BYTES = 1 << 20


def _models_ready() -> str | None:
    """Why the golden file cannot be built here, or None."""
    pipeline = resolve_pipeline(golden.DEFAULT_PIPELINE)
    for f in (pipeline.detector, pipeline.landmark):
        if not f.path.is_file():
            return f"reference model {f.path.name} missing (run `blazepose models fetch-reference`)"
    if not (DATA / golden.SAMPLE_IMAGE).is_file():
        return f"sample image {DATA / golden.SAMPLE_IMAGE} missing"
    return None


needs_models = pytest.mark.skipif(_models_ready() is not None, reason=str(_models_ready()))


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """The golden file written by the command line, as CI and run_tests.sh write it."""
    reason = _models_ready()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("golden") / "golden.json"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "golden.py"), "--out", str(out), "--data-dir", str(DATA)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def _compare(a, b, path: str, atol: float, rtol: float) -> list[str]:
    """Differences between two JSON values (numbers within atol + rtol * |b|)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())} differ"]
        return [d for k in a for d in _compare(a[k], b[k], f"{path}.{k}", atol, rtol)]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _compare(x, y, f"{path}[{i}]", atol, rtol)]
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str):
        return [] if a == b else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return [] if abs(a - b) <= atol + rtol * abs(b) else [f"{path}: {a} != {b}"]
    return [f"{path}: {type(a).__name__} vs {type(b).__name__}"]


@pytest.mark.reference
@needs_models
def test_generation_is_deterministic(generated: Path) -> None:
    again = generated.with_name("again.json")
    golden.write_golden(again, data_dir=DATA)
    assert again.read_bytes() == generated.read_bytes()


@pytest.mark.reference
@needs_models
def test_committed_copy_matches_the_current_sdk(generated: Path) -> None:
    """The JVM tests fall back to the committed copy: it must be what the SDK writes today.
    Regenerate it with: python tools/golden.py --out android_demo/core/src/test/resources/golden.json"""
    assert COMMITTED.is_file(), f"{COMMITTED} missing"
    fresh = json.loads(generated.read_text())
    committed = json.loads(COMMITTED.read_text())
    assert fresh.keys() == committed.keys()
    problems = []
    for section in fresh:
        model = section in MODEL_SECTIONS
        problems += _compare(fresh[section], committed[section], section,
                             SYNTHETIC_ATOL if not model else MODEL_RTOL, MODEL_RTOL if model else 0.0)
    assert not problems, f"{len(problems)} differences, first: {problems[:5]}"


def test_committed_copy_is_small_and_well_formed() -> None:
    assert COMMITTED.stat().st_size < MAX_FILE_BYTES
    g = json.loads(COMMITTED.read_text())
    assert g["format_version"] == golden.FORMAT_VERSION
    assert g["tolerance"] == golden.TOLERANCE
    assert g["anchors"]["default"]["count"] == 2254 == len(generate_anchors())
    for section in ("decode", "nms", "roi", "crop", "landmarks", "smoothing", "tracker", "detector", "landmark_model"):
        assert g[section], section


def test_tracker_sequences_cover_every_decision() -> None:
    """The tracker golden must exercise tracking, re-detection on loss, a detector miss, weak
    landmarks and an invalid ROI; a script change that drops one would weaken the port's test."""
    frames = json.loads(COMMITTED.read_text())["tracker"]["default"]["frames"]
    results = [f["result"] for f in frames]
    assert any(r["tracked"] for r in results)
    # lost and re-detected on the same frame: two landmark calls, pose found
    assert any(len(f["landmark_calls"]) == 2 and f["result"]["pose"] is not None for f in frames)
    # detector ran and found nobody
    assert any(f["detector_calls"] == [[]] for f in frames)
    # detection with an invalid ROI: no landmark call at all
    assert any(f["detector_calls"] and f["detector_calls"][0] and not f["landmark_calls"] for f in frames)
    # detector not run while tracking holds
    assert sum(not r["detector_ran"] for r in results) >= 4


def test_stored_detector_rows_are_enough_to_decode() -> None:
    """Only candidate rows of the raw detector tensor are stored: re-decoding with every other row
    set to NaN must give the recorded detections (so a port reading NaN there is not misled)."""
    g = json.loads(COMMITTED.read_text())["detector"]
    raw = np.full((g["num_anchors"], g["num_coords"]), np.nan, np.float32)
    raw[g["stored_rows"]] = np.asarray(g["raw_box_rows"], np.float32)
    scores = decode_scores(np.asarray(g["raw_scores"], np.float32))
    # equal but for float32 tanh rounding, which may differ between numpy builds
    np.testing.assert_allclose(scores, np.asarray(g["scores"], np.float32), rtol=0, atol=1e-6)
    anchors = generate_anchors()
    w, h = g["image_size"]
    for result in g["results"]:
        keep = scores >= result["min_score"]
        assert set(np.flatnonzero(keep)) <= set(g["stored_rows"])
        with np.errstate(invalid="ignore"):
            boxes = decode_boxes(raw, anchors)[keep]
        merged, merged_scores = weighted_nms(boxes, scores[keep], NMS_IOU_THRESHOLD)
        found = [d.to_dict() for d in detections_from_decoded(merged, merged_scores, letterbox_roi(w, h))]
        assert len(found) == len(result["detections"])
        for a, b in zip(found, result["detections"]):
            assert not _compare(a, b, "detection", 1e-3, 0.0)


def test_heatmap_windows_cover_what_refinement_reads() -> None:
    g = json.loads(COMMITTED.read_text())["landmark_model"]
    hm_h, hm_w, channels = g["heatmap_shape"]
    assert channels == g["num_rows"]
    for wdw in g["heatmap_windows"]:
        assert len(wdw["logits"]) == wdw["rows"] * wdw["cols"]
        assert 0 <= wdw["row0"] and wdw["row0"] + wdw["rows"] <= hm_h
        assert 0 <= wdw["col0"] and wdw["col0"] + wdw["cols"] <= hm_w
    assert all(math.isfinite(v) for row in g["expected"]["landmarks_px"] for v in row)


def _jvm_missing() -> str | None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        return "no JDK (apt-get install -y default-jdk-headless)"
    libs = Path(os.environ.get("JAVA_LIBS", "/usr/share/java"))
    for jar in ("junit4.jar", "hamcrest.jar", "gson.jar"):
        if not (libs / jar).is_file():
            return f"{libs / jar} missing (apt-get install -y junit4 libgoogle-gson-java)"
    return None


@pytest.mark.skipif(_jvm_missing() is not None, reason=str(_jvm_missing()))
def test_jvm_core_tests_pass(tmp_path: Path) -> None:
    """Compile the JVM port and run its JUnit tests (against freshly generated vectors when the
    reference models are here, else against the committed copy)."""
    env = dict(os.environ, BUILD_DIR=str(tmp_path / "build"), PYTHON=sys.executable)
    if _models_ready() is not None:
        env["GOLDEN"] = "committed"
    proc = subprocess.run(["bash", str(CORE / "run_tests.sh")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " 0 failed" in proc.stdout
