"""Bad frames, bad models and bad videos get typed errors and never crash or hang."""

import subprocess
import sys

import numpy as np
import pytest

from blazepose_sdk import (
    BlazePoseError, InvalidFrameError, ModelHashMismatchError, ModelLoadError, ModelNotFoundError, PoseTracker,
    TrackerOptions, VideoError,
)
from blazepose_sdk.geometry.image import as_rgb_uint8
from blazepose_sdk.stages.runtime import TFLiteModel
from blazepose_sdk.app.video import VideoReader, read_image


@pytest.fixture(scope="module")
def tracker(reference_models):
    with PoseTracker(TrackerOptions(model="reference-lite", num_threads=1)) as t:
        yield t


@pytest.mark.parametrize("frame, reason", [
    (None, "None"),
    ([[1, 2], [3, 4]], "numpy array"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10, 0), np.uint8), "empty"),
    (np.zeros((4, 4, 2), np.uint8), "channels"),
    (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
    (np.zeros((8, 8, 3), np.int32), "dtype"),
    (np.zeros((8, 8, 3), bool), "dtype"),
    (np.full((8, 8, 3), np.nan, np.float32), "NaN"),
    (np.full((8, 8, 3), 200.0, np.float32), r"\[0, 1\]"),
])
def test_invalid_frames_raise_typed_error(tracker, frame, reason):
    frames_before = tracker.frames_processed
    with pytest.raises(InvalidFrameError, match=reason):
        tracker.process(frame)
    assert tracker.frames_processed == frames_before  # nothing lost or counted
    assert issubclass(InvalidFrameError, ValueError) and issubclass(InvalidFrameError, BlazePoseError)


def test_unambiguous_conversions(basketball_rgb):
    rgb = basketball_rgb[:64, :64]
    gray = rgb[:, :, 0]
    assert as_rgb_uint8(gray).shape == (64, 64, 3)
    assert as_rgb_uint8(gray[:, :, None]).shape == (64, 64, 3)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(as_rgb_uint8(rgba), rgb)
    view = basketball_rgb[::2, ::2]
    assert not view.flags["C_CONTIGUOUS"] and as_rgb_uint8(view).flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(as_rgb_uint8(rgb.astype(np.float32) / 255.0), rgb)


def test_odd_sizes_run_without_error(tracker, basketball_rgb):
    for frame in (np.zeros((1, 1, 3), np.uint8), np.zeros((3, 500, 3), np.uint8)):
        assert tracker.process(frame).pose is None
    big = np.zeros((8000, 8000, 3), np.uint8)
    big[:480, :640] = basketball_rgb
    result = tracker.process(big)
    assert result.image_size == (8000, 8000)
    tracker.reset()


def test_missing_model(tmp_path):
    with pytest.raises(ModelNotFoundError):
        TFLiteModel(tmp_path / "nope.tflite")
    with pytest.raises(ModelNotFoundError):
        PoseTracker(TrackerOptions(model="no-such-model"))


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"\x00\x00\x00\x00TFL3" + b"\xff" * 64])
def test_corrupt_model_files(tmp_path, content):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError):
        TFLiteModel(path)


def test_truncated_reference_model_is_refused_by_hash(tmp_path, reference_models):
    src = reference_models / "pose_landmark_lite.tflite"
    bad = tmp_path / "pose_landmark_lite.tflite"
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    from blazepose_sdk.assets.models import REFERENCE_FILES

    with pytest.raises(ModelHashMismatchError, match="fetch"):
        TFLiteModel(bad, expected_sha256=REFERENCE_FILES["pose_landmark_lite.tflite"][1])


def test_truncated_model_without_hash_fails_cleanly_in_subprocess(tmp_path, reference_models):
    """A half file must raise, not segfault: run it in a child so a crash would show as a code."""
    src = reference_models / "pose_landmark_lite.tflite"
    bad = tmp_path / "half.tflite"
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    code = (
        "import sys\nfrom blazepose_sdk.stages.runtime import TFLiteModel\nfrom blazepose_sdk.errors import ModelLoadError\n"
        f"try:\n    TFLiteModel({str(bad)!r})\nexcept ModelLoadError as e:\n    print('refused'); sys.exit(0)\nsys.exit(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "refused" in proc.stdout, proc.stderr[-2000:]


def test_wrong_model_for_stage(reference_models):
    # the detector file given as landmark model: a clear signature error, not a crash
    from blazepose_sdk.errors import ModelSignatureError

    with pytest.raises(ModelSignatureError):
        PoseTracker(TrackerOptions(detector_model=reference_models / "pose_detection.tflite",
                                   landmark_model=reference_models / "pose_detection.tflite"))


def test_unreadable_video_and_image(tmp_path):
    with pytest.raises(VideoError):
        VideoReader(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 1000)
    with pytest.raises(VideoError):
        with VideoReader(junk) as reader:
            list(reader)
    bad_png = tmp_path / "bad.png"
    bad_png.write_bytes(b"\x89PNG broken")
    with pytest.raises(VideoError):
        read_image(bad_png)


def test_tracker_rejects_bad_thresholds():
    with pytest.raises(ValueError):
        PoseTracker(TrackerOptions(min_tracking_confidence=1.5))


def test_runtime_fallback_order():
    from blazepose_sdk.stages.runtime import runtime_name

    # ai-edge-litert is installed here, so it must win over the fallbacks
    assert runtime_name() == "ai-edge-litert"


def test_no_runtime_installed_is_a_typed_error(monkeypatch, reference_models):
    from blazepose_sdk import RuntimeUnavailableError
    from blazepose_sdk.stages import runtime

    monkeypatch.setattr(runtime, "_RUNTIMES", (("no_such_litert.interpreter", "ai-edge-litert"),
                                               ("no_such_tflite_runtime.interpreter", "tflite-runtime")))
    with pytest.raises(RuntimeUnavailableError, match="pip install ai-edge-litert"):
        TFLiteModel(reference_models / "pose_detection.tflite")


# LiteRT's Delegate.__del__ trips over its own half-built object; that is theirs and harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_bad_delegate_is_a_typed_error(reference_models, tmp_path):
    with pytest.raises(ModelLoadError, match="delegate"):
        TFLiteModel(reference_models / "pose_detection.tflite", delegate=str(tmp_path / "libnope.so"))
