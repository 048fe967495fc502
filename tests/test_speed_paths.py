"""The fast paths give exactly what the plain ones give: batched heatmap refinement, BGR frames,
the reader thread, reading only some outputs, the default thread count."""

import cv2
import numpy as np
import pytest

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.geometry.anchors import sigmoid
from blazepose_sdk.errors import VideoError
from blazepose_sdk.geometry.image import crop_roi
from blazepose_sdk.stages.landmarker import refine_with_heatmap
from blazepose_sdk.assets.models import resolve_pipeline
from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.stages.runtime import MAX_DEFAULT_THREADS, TFLiteModel, default_num_threads
from blazepose_sdk.app.video import VideoReader, VideoWriter

SHIPPED = "blazepose-lite"


def _refine_one_window_at_a_time(landmarks_roi, heatmap_logits, kernel_size=7, min_confidence=0.5):
    """RefineLandmarksFromHeatmapCalculator's loop, one landmark after the other (the oracle)."""
    lm = np.array(landmarks_roi, dtype=np.float64)
    hm = np.asarray(heatmap_logits, dtype=np.float32)[0]
    h, w, n = hm.shape
    half = (kernel_size - 1) // 2
    for i in range(n):
        if not (np.isfinite(lm[i, 0]) and np.isfinite(lm[i, 1])):
            continue
        col, row = int(lm[i, 0] * w), int(lm[i, 1] * h)
        if not (0 <= col < w and 0 <= row < h):
            continue
        r0, r1 = max(0, row - half), min(h, row + half + 1)
        c0, c1 = max(0, col - half), min(w, col + half + 1)
        conf = sigmoid(hm[r0:r1, c0:c1, i]).astype(np.float64)
        total = conf.sum()
        if total > 0 and conf.max() >= min_confidence:
            rows, cols = np.mgrid[r0:r1, c0:c1]
            lm[i, 0] = (cols * conf).sum() / total / w
            lm[i, 1] = (rows * conf).sum() / total / h
    return lm


def test_batched_refinement_is_bit_identical_to_the_loop():
    rng = np.random.default_rng(7)
    for trial in range(300):
        lm = rng.uniform(-0.2, 1.2, (39, 5))  # some outside, some in the clipped border windows
        if trial % 5 == 0:
            lm[rng.integers(0, 39), rng.integers(0, 2)] = np.nan
        if trial % 7 == 0:
            lm[:, :2] = rng.uniform(-0.03, 0.03, (39, 2))  # int() truncates toward zero around 0
        hm = rng.normal(0.0, 4.0, (1, 64, 64, 39)).astype(np.float32)
        if trial % 3 == 0:
            hm -= 8.0  # mostly below min_confidence: left unrefined
        expected = _refine_one_window_at_a_time(lm, hm)
        got = refine_with_heatmap(lm, hm)
        assert np.array_equal(got, expected, equal_nan=True), trial
        assert not np.array_equal(got[:, :2], lm[:, :2], equal_nan=True) or trial % 3 == 0


def test_refinement_moves_to_a_known_peak():
    hm = np.full((1, 64, 64, 1), -20.0, np.float32)
    hm[0, 10, 20, 0] = 20.0  # one confident cell: the mean is that cell
    lm = np.array([[20.4 / 64, 10.2 / 64, 0.0, 1.0, 1.0]])
    out = refine_with_heatmap(lm, hm)
    assert out[0, 0] == pytest.approx(20 / 64, abs=1e-6) and out[0, 1] == pytest.approx(10 / 64, abs=1e-6)


def test_bgr_crop_equals_rgb_crop(basketball_rgb):
    bgr = cv2.cvtColor(basketball_rgb, cv2.COLOR_RGB2BGR)
    for roi, border in ((Roi(150.0, 260.0, 300.0, 0.4), "replicate"), (Roi(320.0, 240.0, 640.0, 0.0), "zero")):
        want = crop_roi(basketball_rgb, roi, 256, (-1.0, 1.0), border=border)
        got = crop_roi(bgr, roi, 256, (-1.0, 1.0), border=border, bgr=True)
        assert got.shape == (1, 256, 256, 3) and np.array_equal(got, want)


def test_tracker_on_bgr_frames_equals_rgb_frames(pan_clip):
    frames = pan_clip[:12] + [np.zeros_like(pan_clip[0])] + pan_clip[12:16]  # a lost frame: detector again
    with PoseTracker(TrackerOptions(model=SHIPPED)) as a, PoseTracker(TrackerOptions(model=SHIPPED)) as b:
        for i, rgb in enumerate(frames):
            ra = a.process(rgb, 33.0 * i)
            rb = b.process(np.ascontiguousarray(rgb[:, :, ::-1]), 33.0 * i, bgr=True)
            assert ra.to_dict() == rb.to_dict()
        # the first frame; the blank frame (re-detect on loss, nobody); the frame after it
        assert a.stats() == b.stats() and a.detector_runs == 3


def test_thread_count_does_not_change_results(pan_clip):
    with PoseTracker(TrackerOptions(model=SHIPPED, num_threads=1)) as a, \
            PoseTracker(TrackerOptions(model=SHIPPED, num_threads=2)) as b:
        for i, frame in enumerate(pan_clip[:6]):
            assert a.process(frame, 33.0 * i).to_dict() == b.process(frame, 33.0 * i).to_dict()


def test_default_threads_are_the_usable_cores_up_to_four():
    n = default_num_threads()
    assert 1 <= n <= MAX_DEFAULT_THREADS
    with TFLiteModel(resolve_pipeline(SHIPPED).detector.path) as model:
        assert model.num_threads == n


def test_reading_some_outputs_gives_the_same_arrays():
    with TFLiteModel(resolve_pipeline(SHIPPED).landmark.path, num_threads=1) as model:
        x = np.random.default_rng(0).random(model.inputs[0].shape, dtype=np.float32)
        every = model.run(x)
        some = model.run(x, outputs=(0, 2))
    assert len(some) == len(every) == len(model.outputs) == 5
    assert np.array_equal(some[0], every[0]) and np.array_equal(some[2], every[2])
    assert some[1] is None and some[3] is None and some[4] is None


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory, pan_clip):
    path = tmp_path_factory.mktemp("reader") / "pan.avi"
    with VideoWriter(path, fps=30) as writer:
        for frame in pan_clip[:20]:
            writer.write(frame)
    return path


def _decoded(path, prefetch, bgr=False):
    with VideoReader(path, prefetch=prefetch, bgr=bgr) as reader:
        return [(t, f.copy()) for t, f in reader]


def test_reader_thread_gives_the_same_frames(clip_path):
    plain = _decoded(clip_path, 0)
    assert len(plain) == 20
    for prefetch in (1, 2, 5):
        ahead = _decoded(clip_path, prefetch)
        assert [t for t, _ in ahead] == [t for t, _ in plain]
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(ahead, plain))


def test_bgr_reader_skips_only_the_conversion(clip_path):
    rgb, bgr = _decoded(clip_path, 2), _decoded(clip_path, 2, bgr=True)
    assert [t for t, _ in bgr] == [t for t, _ in rgb]
    assert all(np.array_equal(b[:, :, ::-1], r) for (_, b), (_, r) in zip(bgr, rgb))


@pytest.mark.parametrize("prefetch", [0, 2])
def test_stopping_early_and_resuming_skips_nothing(clip_path, prefetch):
    plain = [t for t, _ in _decoded(clip_path, 0)]
    seen = []
    with VideoReader(clip_path, prefetch=prefetch) as reader:
        for step in (3, 1, 7):
            for i, (t, _) in enumerate(reader):
                seen.append(t)
                if i + 1 == step:
                    break
        seen.extend(t for t, _ in reader)
        with pytest.raises(VideoError, match="no frame could be decoded"):  # as a plain reader at its end
            next(iter(reader))
    assert seen == plain


def test_reader_thread_stops_when_the_loop_stops(clip_path):
    with VideoReader(clip_path, prefetch=2) as reader:
        for _ in reader:
            break
        assert reader._thread is None
    reader.close()  # closing twice is fine
