"""Teacher pseudo-labels: run a pose teacher over images and videos and keep confident poses.

    python -m training.data.pseudo_label INPUT [INPUT ...] --out DIR
        [--model reference-heavy | --detector DET.tflite --landmark LMK.tflite] [--every 10]
        [--min-presence 0.9] [--min-visibility 0.5] [--min-landmarks 16] [--max-people 4]
        [--tta-flip] [--tta-scales 0.9,1,1.1] [--max-spread 0.03]

INPUTs are image files, video files or folders (searched recursively). Videos contribute every
``--every``-th frame, each treated as an unrelated still. The teacher is the SDK's two-stage
pipeline (``PoseTracker`` in static-image mode: its detector, then its landmark model on the ROI of
*every* detection, best first, up to ``--max-people``). A pose is kept when its presence is at
least ``--min-presence``; its landmarks with visibility below ``--min-visibility`` get
``landmark_mask = 0``, and the pose is dropped when fewer than ``--min-landmarks`` remain.

Test-time augmentation (``--tta-flip``, ``--tta-scales``): the landmark model also runs on the
horizontally mirrored frame (ROI mirrored with it; landmarks mirrored back with left/right swapped,
world x negated) and on the ROI scaled by each factor; landmarks (x, y, z), visibility, presence and
world landmarks are averaged over all runs. Each landmark's *confidence* is its mean visibility
times the agreement of the runs, ``max(0, 1 - spread / (max_spread x ROI side))`` with ``spread``
the RMS distance of the runs' points to their mean (image pixels); a landmark below
``--min-visibility`` confidence is masked. ``DIR/confidence.jsonl`` records, per kept sample, the
presence, the 33 confidences and the spreads in pixels.

Output: ``DIR/pseudo-XXXXX-of-YYYYY.tfrecord`` in the Sample format with
``source = "pseudo:<model>"``, and ``DIR/manifest.json`` (options, counts of frames, detections,
kept and dropped poses). Coordinates are converted from the SDK's pixel convention (pixel index j
at j) to the data engine's (pixel centre at j + 0.5).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from training.data.augment import ENGINE_TO_SDK_PX
from blazepose_sdk.geometry.topology import FLIP_INDEX
from training.data.sample import (
    LEFT_HIP,
    NUM_LANDMARKS,
    RIGHT_HIP,
    Sample,
    ShardedWriter,
    alignment_points,
    encode_jpeg,
)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
DEFAULT_TEACHER = "reference-heavy"
# Poses whose landmarks lie closer than this fraction of the first pose's box side (mean distance)
# are the same person found from two detections; the later one is dropped. Our choice.
DUPLICATE_DISTANCE_FRAC = 0.1


@dataclass(frozen=True)
class PseudoLabelOptions:
    """Filter thresholds and sampling.

    min_presence: the landmark model's pose-presence probability needed to keep a pose.
    min_visibility: landmarks below it are masked (landmark_mask 0). 0.5 is the threshold
        MediaPipe's drawing_utils uses (_VISIBILITY_THRESHOLD).
    min_landmarks: a pose with fewer unmasked landmarks is dropped (our choice: about half).
    min_detection: detector score threshold (the SDK's default, 0.5).
    max_people: landmark runs per frame (detections, best first).
    every: take video frames 0, every, 2 * every, ...
    jpeg_quality: for frames and non-JPEG images (JPEG files are stored as they are).
    tta_flip: also run the landmark model on the mirrored frame (left/right swapped back).
    tta_scales: ROI side factors the landmark model runs at (1.0: the detector's ROI as is).
    max_spread: TTA spread (fraction of the ROI side) at which a landmark's agreement reaches 0.
    """

    min_presence: float = 0.9
    min_visibility: float = 0.5
    min_landmarks: int = 16
    min_detection: float = 0.5
    max_people: int = 4
    every: int = 10
    jpeg_quality: int = 95
    tta_flip: bool = False
    tta_scales: tuple[float, ...] = (1.0,)
    # Our choice: 3% of the ROI side (about 8 px of a 256 px crop) is already a large disagreement
    # between a landmark model's flipped and rescaled runs on the same person.
    max_spread: float = 0.03


# --- pure filter logic ----------------------------------------------------------------------
def filter_pose(landmarks_sdk: np.ndarray, presence: float, image_size: tuple[int, int],
                options: PseudoLabelOptions) -> tuple[str, np.ndarray, np.ndarray]:
    """Decide on one teacher pose.

    Args:
        landmarks_sdk: (33, >=4) x_px, y_px, z_px, visibility[, presence] as the SDK reports them.
        presence: the pose-presence probability.
        image_size: (width, height) in pixels.
    Returns:
        (verdict, landmark_mask, visibility): verdict is "keep", "low_presence" or
        "few_landmarks"; landmark_mask (33,) = visibility score >= min_visibility; visibility
        (33,) = landmark_mask and inside the image.
    """
    lm = np.asarray(landmarks_sdk, np.float64)
    mask = (lm[:, 3] >= options.min_visibility).astype(np.float32)
    w, h = image_size
    x, y = lm[:, 0] + ENGINE_TO_SDK_PX, lm[:, 1] + ENGINE_TO_SDK_PX
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    vis = mask * inside.astype(np.float32)
    if not presence >= options.min_presence:
        return "low_presence", mask, vis
    if mask.sum() < options.min_landmarks:
        return "few_landmarks", mask, vis
    return "keep", mask, vis


def same_person(a_xy: np.ndarray, b_xy: np.ndarray, frac: float = DUPLICATE_DISTANCE_FRAC) -> bool:
    """True when two (33, 2) landmark sets are the same person: mean distance below ``frac`` of
    the longer side of ``a``'s landmark box."""
    a, b = np.asarray(a_xy, np.float64), np.asarray(b_xy, np.float64)
    side = max(np.ptp(a[:, 0]), np.ptp(a[:, 1]), 1e-6)
    return float(np.mean(np.linalg.norm(a - b, axis=1))) < frac * side


def pose_to_sample(image_jpeg: bytes, landmarks_sdk: np.ndarray, world_m: np.ndarray | None,
                   mask: np.ndarray, visibility: np.ndarray, image_size: tuple[int, int],
                   face_box_sdk=None, source: str = "", image_id: str = "") -> Sample:
    """A Sample from one kept teacher pose (SDK pixel coordinates in, data-engine out).

    World landmarks are re-centred on the hip mid-point (the teacher's are only approximately
    hip-centred) and has_world = 1 when they are finite. Alignment points come from all 33
    teacher landmarks, as for synthetic samples (where every landmark, occluded or not, counts);
    the box is the landmarks' box clipped to the image; the face box is the teacher detector's.
    """
    w, h = image_size
    lm = np.asarray(landmarks_sdk, np.float64)[:, :3].copy()
    lm[:, :2] += ENGINE_TO_SDK_PX
    lm = lm.astype(np.float32)
    full = np.ones(NUM_LANDMARKS, np.float32)
    box = np.r_[lm[:, :2].min(0), lm[:, :2].max(0)]
    box = np.clip(box, 0, [w, h, w, h]).astype(np.float32)
    s = Sample(image_jpeg=image_jpeg, landmarks_px=lm, visibility=np.asarray(visibility, np.float32),
               landmark_mask=np.asarray(mask, np.float32), box_xyxy_px=box,
               alignment_px=alignment_points(lm, full).astype(np.float32), source=source, image_id=image_id)
    if world_m is not None and np.isfinite(world_m).all():
        wm = np.asarray(world_m, np.float64)
        s.world_m = (wm - 0.5 * (wm[LEFT_HIP] + wm[RIGHT_HIP])).astype(np.float32)
        s.has_world = 1.0
    if face_box_sdk is not None:
        fb = np.asarray(face_box_sdk, np.float64) + ENGINE_TO_SDK_PX
        s.face_box_xyxy_px = np.clip(fb, 0, [w, h, w, h]).astype(np.float32)
        s.has_face_box = 1.0
    return s


# --- test-time augmentation (pure) -------------------------------------------------------------
def mirror_roi(roi, width: int):
    """The ROI that covers the mirror image of ``roi`` in the horizontally flipped frame
    (image pixels, the SDK's convention: pixel j at x = j, so x -> width - 1 - x)."""
    from blazepose_sdk.geometry.roi import Roi

    return Roi(width - 1.0 - roi.center_x_px, roi.center_y_px, roi.size_px, -roi.rotation_rad)


def scale_roi(roi, factor: float):
    """``roi`` with its side multiplied by ``factor`` (same centre and rotation)."""
    from blazepose_sdk.geometry.roi import Roi

    return Roi(roi.center_x_px, roi.center_y_px, roi.size_px * factor, roi.rotation_rad)


def unmirror_landmarks(landmarks_px: np.ndarray, width: int) -> np.ndarray:
    """(33, C) landmarks found in the mirrored frame -> the original frame: x -> width - 1 - x and
    each row moved to its left/right counterpart (z and the scores are unchanged)."""
    lm = np.asarray(landmarks_px, np.float64)
    out = np.empty_like(lm)
    out[FLIP_INDEX] = lm
    out[:, 0] = width - 1.0 - out[:, 0]
    return out


def unmirror_world(world_m: np.ndarray) -> np.ndarray:
    """(33, 3) world landmarks (metres) of the mirrored frame -> original: x negated, left/right swapped."""
    w = np.asarray(world_m, np.float64)
    out = np.empty_like(w)
    out[FLIP_INDEX] = w
    out[:, 0] = -out[:, 0]
    return out


def merge_tta(landmarks: np.ndarray, worlds: np.ndarray, presences: np.ndarray, roi_side_px: float,
              max_spread: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """Average T runs of the landmark model on one person.

    Args:
        landmarks: (T, 33, 5) x_px, y_px, z_px, visibility, presence in the original frame.
        worlds: (T, 33, 3) world landmarks in metres.
        presences: (T,) pose-presence probabilities.
        roi_side_px: the detector ROI's side in pixels (the scale of ``max_spread``).
    Returns:
        (landmarks (33, 5) mean, world (33, 3) mean, presence mean, confidence (33,) in [0, 1],
        spread_px (33,): RMS distance of the runs' (x, y) to their mean).
    """
    lm = np.asarray(landmarks, np.float64)
    mean = lm.mean(axis=0)
    spread = np.sqrt(np.mean(np.sum((lm[:, :, :2] - mean[None, :, :2]) ** 2, axis=2), axis=0))
    agreement = np.clip(1.0 - spread / (max_spread * roi_side_px), 0.0, 1.0)
    confidence = mean[:, 3] * agreement
    return mean, np.asarray(worlds, np.float64).mean(axis=0), float(np.mean(presences)), confidence, spread


# --- teacher ----------------------------------------------------------------------------------
class Teacher:
    """The SDK pipeline run on every detection of a still image. Context manager."""

    def __init__(self, model: str = DEFAULT_TEACHER, detector: str | None = None, landmark: str | None = None,
                 options: PseudoLabelOptions | None = None, num_threads: int | None = None):
        from blazepose_sdk import PoseTracker, TrackerOptions

        self.options = options or PseudoLabelOptions()
        self.name = Path(landmark).stem if landmark else model
        self.tracker = PoseTracker(TrackerOptions(
            model=model, detector_model=detector, landmark_model=landmark, static_image_mode=True,
            min_detection_confidence=self.options.min_detection, num_threads=num_threads))

    def __call__(self, frame_rgb: np.ndarray):
        """Yield (detection, LandmarkerOutput, confidence (33,), spread_px (33,)) for the frame's
        detections, best first; with TTA the output holds the averaged runs (see merge_tta)."""
        from dataclasses import replace

        opt = self.options
        mirrored = np.ascontiguousarray(frame_rgb[:, ::-1]) if opt.tta_flip else None
        width = frame_rgb.shape[1]
        for det in self.tracker.detector(frame_rgb)[: opt.max_people]:
            roi = det.roi()
            if not roi.is_valid():
                continue
            runs, base = [], None
            for factor in opt.tta_scales:
                r = scale_roi(roi, factor)
                o = self.tracker.landmarker(frame_rgb, r)
                base = o if base is None or factor == 1.0 else base
                runs.append((o.landmarks_px, o.world_m, o.presence))
                if mirrored is not None:
                    m = self.tracker.landmarker(mirrored, mirror_roi(r, width))
                    runs.append((unmirror_landmarks(m.landmarks_px, width), unmirror_world(m.world_m), m.presence))
            lm, world, presence, confidence, spread = merge_tta(
                np.stack([r[0] for r in runs]), np.stack([r[1] for r in runs]), np.array([r[2] for r in runs]),
                roi.size_px, opt.max_spread)
            lm[:, 3] = confidence  # the filter masks on it
            yield det, replace(base, roi=roi, presence=presence, landmarks_px=lm, world_m=world), confidence, spread

    def close(self) -> None:
        self.tracker.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def label_frame(teacher: Teacher, frame_rgb: np.ndarray, image_jpeg: bytes, image_id: str,
                counts: dict, confidences: list | None = None) -> list[Sample]:
    """Kept samples for one frame; updates ``counts`` (detections, kept, low_presence,
    few_landmarks, duplicate) and appends one record per kept sample to ``confidences``
    (image_id, presence, per-landmark confidence and TTA spread in pixels)."""
    h, w = frame_rgb.shape[:2]
    kept: list[Sample] = []
    kept_xy: list[np.ndarray] = []
    for det, out, confidence, spread in teacher(frame_rgb):
        counts["detections"] += 1
        verdict, mask, vis = filter_pose(out.landmarks_px, out.presence, (w, h), teacher.options)
        if verdict == "keep" and any(same_person(k, out.landmarks_px[:, :2]) for k in kept_xy):
            verdict = "duplicate"
        counts[verdict] += 1
        if verdict != "keep":
            continue
        kept_xy.append(out.landmarks_px[:, :2])
        kept.append(pose_to_sample(image_jpeg, out.landmarks_px, out.world_m, mask, vis, (w, h), det.box_px,
                                   f"pseudo:{teacher.name}", f"{image_id}-p{len(kept)}"))
        if confidences is not None:
            confidences.append({"image_id": kept[-1].image_id, "presence": round(float(out.presence), 5),
                                "confidence": np.round(confidence, 4).tolist(),
                                "spread_px": np.round(spread, 3).tolist()})
    return kept


def list_inputs(inputs) -> list[Path]:
    """Image and video files of the given files/folders (folders recursively, sorted)."""
    from blazepose_sdk.app.video import is_image_path

    out = []
    for i in inputs:
        p = Path(i)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and (is_image_path(f) or f.suffix.lower() in VIDEO_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(p)
    return out


def _frames(path: Path, every: int):
    """(frame_id, rgb, jpeg bytes or None) for an image or every ``every``-th video frame."""
    from blazepose_sdk.app.video import VideoReader, is_image_path, read_image

    if is_image_path(path):
        from training.data.loaders import _image_bytes

        yield path.stem, read_image(path), _image_bytes(path)
        return
    with VideoReader(path) as r:
        for i, (_, rgb) in enumerate(r):
            if i % every == 0:
                yield f"{path.stem}-f{i:06d}", rgb, None


def _frame_estimate(path: Path, every: int) -> int:
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return 1
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    cap.release()
    return max(1, math.ceil(n / every))


def label_file(teacher: Teacher, path: Path, counts: dict, confidences: list, bar=None):
    """Yield the kept samples of one input file, in order (see :func:`label_frame`)."""
    for frame_id, rgb, jpeg in _frames(path, teacher.options.every):
        counts["frames"] += 1
        jpeg = jpeg if jpeg is not None else encode_jpeg(rgb, teacher.options.jpeg_quality)
        yield from label_frame(teacher, rgb, jpeg, frame_id, counts, confidences)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(kept=counts["keep"])


class _RayLabeler:
    """One Ray actor: the teacher loaded once, then :func:`label_file` per file."""

    def __init__(self, teacher_args: tuple) -> None:
        self.teacher = Teacher(*teacher_args)

    def label(self, path: str) -> tuple[list[Sample], dict, list[dict]]:
        counts = dict.fromkeys(("frames", "detections", "keep", "low_presence", "few_landmarks", "duplicate"), 0)
        confidences: list[dict] = []
        return list(label_file(self.teacher, Path(path), counts, confidences)), counts, confidences


def _label_on_ray(files, teacher_args: tuple, address: str | None, workers: int | None, writer, counts: dict,
                  confidences: list, bar) -> None:
    """Each file is one task on a pool of Ray actors (blazepose_sdk.app.batch's engine: a local Ray with
    one worker per core, or the cluster at ``address``); results are written in input order, so the
    shards are those of the one-process path. The actors import ``training`` from this checkout."""
    from blazepose_sdk.app.batch_engines import connect, ray_module

    ray = ray_module("auto", address)
    if ray is None:  # Ray not installed: the one-process path (a line on stderr said so)
        with Teacher(*teacher_args) as teacher:
            for f in files:
                for s in label_file(teacher, f, counts, confidences, bar):
                    writer.write(s)
        return
    from ray.util import ActorPool

    started = connect(ray, address, workers)
    try:
        repo = str(Path(__file__).resolve().parents[2])
        actor = ray.remote(_RayLabeler).options(
            num_cpus=teacher_args[4] or 1, max_restarts=3, max_task_retries=3,
            runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}})
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // (teacher_args[4] or 1))
        pool = ActorPool([actor.remote(teacher_args) for _ in range(max(1, min(n, len(files))))])
        for f, (samples, file_counts, file_confidences) in zip(files, pool.map(lambda a, f: a.label.remote(str(f)), files)):
            for s in samples:
                writer.write(s)
            for k, v in file_counts.items():
                counts[k] += v
            confidences.extend(file_confidences)
            bar.update(file_counts["frames"])
            bar.set_postfix(kept=counts["keep"])
    finally:
        if started:
            ray.shutdown()


def pseudo_label(inputs, out: str, model: str = DEFAULT_TEACHER, detector: str | None = None,
                 landmark: str | None = None, options: PseudoLabelOptions | None = None,
                 per_shard: int = 1000, num_threads: int | None = None, progress: bool = True,
                 ray_address: str | None = None, workers: int | None = None) -> dict:
    """Label ``inputs`` into ``out``; returns the manifest (also written as manifest.json).

    ``ray_address`` (``"auto"``, ``"ray://HOST:10001"``) or ``workers``: label the files as Ray
    tasks (a local Ray when no address is given); the shards and confidence.jsonl are those of the
    one-process path, byte for byte."""
    from tqdm import tqdm

    opt = options or PseudoLabelOptions()
    files = list_inputs(inputs)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(("frames", "detections", "keep", "low_presence", "few_landmarks", "duplicate"), 0)
    confidences: list[dict] = []
    t0 = time.perf_counter()
    teacher_name = Path(landmark).stem if landmark else model
    with ShardedWriter(str(out_dir / "pseudo"), None, per_shard) as writer, \
            tqdm(total=sum(_frame_estimate(f, opt.every) for f in files), desc="pseudo-label", unit="frame",
                 disable=not progress) as bar:
        if ray_address is not None or workers is not None:
            _label_on_ray(files, (model, detector, landmark, opt, num_threads), ray_address, workers,
                          writer, counts, confidences, bar)
        else:
            with Teacher(model, detector, landmark, opt, num_threads) as teacher:
                for f in files:
                    for s in label_file(teacher, f, counts, confidences, bar):
                        writer.write(s)
    manifest = {"generator": "training.data.pseudo_label", "teacher": teacher_name,
                "detector": str(detector) if detector else None, "landmark": str(landmark) if landmark else None,
                "inputs": [str(f) for f in files], "options": asdict(opt), "counts": counts,
                "seconds": round(time.perf_counter() - t0, 2),
                "shards": [Path(p).name for p in writer.paths]}
    (out_dir / "confidence.jsonl").write_text("".join(json.dumps(c) + "\n" for c in confidences))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.pseudo_label", description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="image/video files or folders")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default=DEFAULT_TEACHER, help="SDK pipeline name (default %(default)s)")
    ap.add_argument("--detector", default=None, help="detector .tflite instead of the pipeline's")
    ap.add_argument("--landmark", default=None, help="landmark .tflite instead of the pipeline's")
    d = PseudoLabelOptions()
    ap.add_argument("--every", type=int, default=d.every, help="video frame step")
    ap.add_argument("--min-presence", type=float, default=d.min_presence)
    ap.add_argument("--min-visibility", type=float, default=d.min_visibility)
    ap.add_argument("--min-landmarks", type=int, default=d.min_landmarks)
    ap.add_argument("--min-detection", type=float, default=d.min_detection)
    ap.add_argument("--max-people", type=int, default=d.max_people)
    ap.add_argument("--tta-flip", action="store_true", help="also run on the mirrored frame (left/right swapped)")
    ap.add_argument("--tta-scales", default="1", help="comma-separated ROI side factors, e.g. 0.9,1,1.1")
    ap.add_argument("--max-spread", type=float, default=d.max_spread,
                    help="TTA spread (fraction of the ROI side) at which a landmark's confidence reaches 0")
    ap.add_argument("--per-shard", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--ray-address", default=None, metavar="ADDR",
                    help="label on Ray: auto or ray://HOST:10001 (docs/scale.md)")
    ap.add_argument("--workers", type=int, default=None, metavar="N",
                    help="label on Ray with N workers (a local Ray without --ray-address)")
    a = ap.parse_args(argv)
    if a.every < 1:
        ap.error("--every must be >= 1")
    if a.workers is not None and a.workers < 1:
        ap.error("--workers must be >= 1")
    try:
        scales = tuple(float(v) for v in a.tta_scales.split(","))
    except ValueError:
        ap.error(f"--tta-scales: not a list of numbers: {a.tta_scales!r}")
    if not scales or not all(0.5 <= f <= 2.0 for f in scales):
        ap.error("--tta-scales factors must lie in [0.5, 2]")
    opt = PseudoLabelOptions(min_presence=a.min_presence, min_visibility=a.min_visibility,
                             min_landmarks=a.min_landmarks, min_detection=a.min_detection,
                             max_people=a.max_people, every=a.every, tta_flip=a.tta_flip, tta_scales=scales,
                             max_spread=a.max_spread)
    m = pseudo_label(a.inputs, a.out, a.model, a.detector, a.landmark, opt, a.per_shard, a.threads,
                     ray_address=a.ray_address, workers=a.workers)
    print(json.dumps(m["counts"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
