"""Fuzz: malformed frames, files and model manifests through the public API and the CLI.

Seeded (``derandomize``), so CI sees the same 200+ cases every run. Each case must end in a result
or in a typed :class:`blazepose_sdk.BlazePoseError` (CLI: exit code 2 and one line on stderr):
no other exception, no crash, and no case slower than its deadline (a hang fails the test).
"""

import json
import shutil

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from blazepose_sdk import BlazePoseError, PoseTracker, TrackerOptions  # noqa: E402
from blazepose_sdk.app.cli import main  # noqa: E402

def fuzz(examples: int):
    return settings(derandomize=True, deadline=20_000, suppress_health_check=list(HealthCheck), database=None,
                    max_examples=examples)

DTYPES = st.sampled_from([np.uint8, np.int8, np.uint16, np.int32, np.int64, np.float16, np.float32, np.float64,
                          np.bool_, np.complex64])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12)
FRAMES = st.one_of(
    hnp.arrays(DTYPES, SHAPES),
    hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4])),
               elements=st.one_of(st.floats(-2, 2, width=32), st.sampled_from([np.nan, np.inf, -np.inf]))),
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 2, 3, 4, 5]))),
    st.sampled_from([None, "frame.png", [[1, 2], [3, 4]], 3.0, b"\x00" * 12]),
)


@pytest.fixture(scope="module")
def tracker():
    with PoseTracker(TrackerOptions(num_threads=1)) as t:
        yield t


@fuzz(150)
@given(frame=FRAMES, timestamp=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))
def test_malformed_frames_give_a_result_or_a_typed_error(tracker, frame, timestamp):
    tracker.reset()
    try:
        result = tracker.process(frame, timestamp_ms=timestamp)
    except BlazePoseError:
        return
    assert result.image_size[0] >= 1 and result.image_size[1] >= 1


def _cli(argv, capsys):
    code = main([*argv, "--no-progress"])
    err = [line for line in capsys.readouterr().err.splitlines() if "XNNPACK" not in line]
    return code, err


@fuzz(30)
@given(cut=st.integers(0, 400_000), suffix=st.sampled_from([".avi", ".mp4", ".png", ".jpg"]),
       noise=st.binary(min_size=0, max_size=64))
def test_truncated_or_corrupt_media_through_the_cli(shared_data, tmp_path_factory, capsys, cut, suffix, noise):
    source = shared_data / ("vtest.avi" if suffix in (".avi", ".mp4") else "basketball1.png")
    path = tmp_path_factory.mktemp("media") / f"input{suffix}"
    path.write_bytes(source.read_bytes()[:cut] + noise)
    code, err = _cli(["run", str(path), "--max-frames", "3", "--json", str(path.with_suffix(".jsonl"))], capsys)
    assert code in (0, 2), err
    if code == 2:
        assert len(err) == 1 and err[0].startswith("blazepose: error: "), err


@fuzz(30)
@given(cut=st.integers(0, 3_000_000), manifest=st.one_of(st.none(), st.binary(max_size=200),
                                                         st.sampled_from(['{"models": 3}', "[]", '{"format": 99}'])))
def test_truncated_models_and_bad_manifests_through_the_cli(shared_data, tmp_path_factory, capsys, cut, manifest):
    from blazepose_sdk.assets.models import BUNDLED_DIR

    folder = tmp_path_factory.mktemp("model")
    model = folder / "pose_landmark_lite.tflite"
    model.write_bytes((BUNDLED_DIR / "pose_landmark_lite.tflite").read_bytes()[:cut])
    if manifest is not None:
        (folder / "manifest.json").write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
    code, err = _cli(["run", str(shared_data / "basketball1.png"), "--landmark", str(model)], capsys)
    assert code in (0, 2), err
    if code == 2:
        assert len(err) == 1 and err[0].startswith("blazepose: error: "), err


OPTION_KEYS = st.one_of(
    st.sampled_from(["model", "detector_model", "landmark_model", "num_threads", "delegate", "static_image_mode",
                     "min_detection_confidence", "min_tracking_confidence", "smooth_landmarks", "smoothing",
                     "refine_with_heatmap", "redetect_on_loss", "verify_every", "verify_misses",
                     "prune_segmentation"]),
    st.text(max_size=12),
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=16),
    # plausible values, so that some files are valid and build a tracker
    st.sampled_from([1, 2, 0.3, 0.7, "ours-lite", "blazepose-lite", "reference-nothing", "/no/such.tflite", "gpu"]),
)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
OPTION_FILES = st.one_of(
    st.dictionaries(OPTION_KEYS, JSON_VALUES, max_size=4).map(json.dumps),
    st.dictionaries(st.just("smoothing"), st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=3)).map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.binary(max_size=80),
    st.just("[" * 100_000),  # nested too deeply for the parser
)


@fuzz(30)
@given(text=OPTION_FILES)
def test_json_option_files_through_the_api_and_the_cli(shared_data, tmp_path_factory, capsys, text):
    from blazepose_sdk.options import load_tracker_options

    path = tmp_path_factory.mktemp("options") / "options.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        options = load_tracker_options(path)
    except BlazePoseError:
        options = None
    if options is not None:
        try:
            PoseTracker(options).close()
        except BlazePoseError:
            pass
    code, err = _cli(["run", str(shared_data / "basketball1.png"), "--options", str(path)], capsys)
    assert code in (0, 2), err
    if code == 2:
        assert len(err) == 1 and err[0].startswith("blazepose: error: "), err


def test_the_whole_model_file_still_works_after_the_fuzzing(shared_data, tmp_path, capsys):
    from blazepose_sdk.assets.models import BUNDLED_DIR

    shutil.copy(BUNDLED_DIR / "pose_landmark_lite.tflite", tmp_path / "pose_landmark_lite.tflite")
    code, err = _cli(["run", str(shared_data / "basketball1.png"), "--landmark",
                      str(tmp_path / "pose_landmark_lite.tflite")], capsys)
    assert code == 0, err
