#!/usr/bin/env python3
"""Generate reference landmarks from MediaPipe's own legacy pose solution.

Writes, relative to the repository root:

* ``tests/data/parity/mediapipe_legacy_pose.json`` - still images, run with
  ``mediapipe.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
  smooth_landmarks=False, enable_segmentation=False,
  min_detection_confidence=0.5)``.
* ``tests/data/parity/mediapipe_legacy_clip.json`` - the synthetic clip from
  ``tests/parity_images.make_pan_clip`` run in video mode, once with
  ``smooth_landmarks=True`` and once with ``smooth_landmarks=False``.

The input images are re-created by ``tests/parity_images.derive_image`` from
the specs stored in the fixtures, so the SDK tests need no mediapipe.

This is NOT part of the SDK and is not run by the tests.  It needs a separate
virtualenv with an old mediapipe wheel that still ships the legacy graphs and
pose_detection.tflite / pose_landmark_full.tflite, e.g.::

    python3 -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install "mediapipe==0.10.21" "numpy<2" opencv-python-headless
    /tmp/mpvenv/bin/python tools/make_parity_fixtures.py [--shared-dir ../shared/data] [--vis-dir /tmp/parity_vis]

Only model_complexity=1 (full) works offline: the lite/heavy landmark models
are not inside the wheel and the legacy API would try to download them.

Besides the public ``Pose`` API we run the very same graph through
``SolutionBase`` with extra output streams, because ``Pose.process`` clears
the ``presence`` field of every landmark and does not expose the detection
or the ROIs.  The script asserts that x, y, z and visibility from both paths
are identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

import parity_images  # noqa: E402  (numpy + cv2 only)

import mediapipe as mp  # noqa: E402
from mediapipe.python.solution_base import SolutionBase  # noqa: E402

BINARYPB = "mediapipe/modules/pose_landmark/pose_landmark_cpu.binarypb"
MIN_DETECTION_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5

BB = "basketball1.png"
VT = "vtest.avi"

IMAGE_SPECS = [
    {"source": BB, "op": "identity"},
    {"source": BB, "op": "rotate", "angle_deg": 30},
    {"source": BB, "op": "rotate", "angle_deg": -45},
    {"source": BB, "op": "rotate", "angle_deg": 90},
    {"source": BB, "op": "rotate", "angle_deg": 180},
    {"source": BB, "op": "rotate", "angle_deg": 270},
    {"source": BB, "op": "flip"},
    # full-body player (left), upscaled 2x
    {"source": BB, "op": "crop_scale", "crop_xywh": [0, 60, 200, 420], "scale": 2},
    # whole image downscaled
    {"source": BB, "op": "crop_scale", "crop_xywh": [0, 0, 640, 480], "scale": 0.5},
    # letterbox-heavy canvases
    {"source": BB, "op": "pad", "pad_ltrb": [320, 0, 320, 0]},
    {"source": BB, "op": "pad", "pad_ltrb": [0, 240, 0, 240]},
    # partly visible second person (right edge)
    {"source": BB, "op": "crop_scale", "crop_xywh": [400, 0, 240, 480], "scale": 1},
    # empty wall / door region: no person expected
    {"source": BB, "op": "crop_scale", "crop_xywh": [200, 0, 240, 400], "scale": 1},
    # small pedestrians from vtest.avi, cropped and upscaled 4x
    {"source": VT, "frame": 120, "op": "crop_scale", "crop_xywh": [339, 157, 96, 128], "scale": 4},
    {"source": VT, "frame": 120, "op": "crop_scale", "crop_xywh": [477, 191, 96, 128], "scale": 4},
    {"source": VT, "frame": 300, "op": "crop_scale", "crop_xywh": [152, 133, 96, 128], "scale": 4},
]

CLIP_FRAMES = 60


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def r(v: float, nd: int) -> float:
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(v)
    return round(v, nd)


def make_solution(static_image_mode: bool, smooth_landmarks: bool) -> SolutionBase:
    # Mirrors mediapipe.solutions.pose.Pose.__init__ (0.10.x), plus outputs.
    return SolutionBase(
        binary_graph_path=BINARYPB,
        side_inputs={
            "model_complexity": 1,
            "smooth_landmarks": smooth_landmarks and not static_image_mode,
            "enable_segmentation": False,
            "smooth_segmentation": False,
            "use_prev_landmarks": not static_image_mode,
        },
        calculator_params={
            "posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh":
                MIN_DETECTION_CONFIDENCE,
            "poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__ThresholdingCalculator.threshold":
                MIN_TRACKING_CONFIDENCE,
        },
        outputs=[
            "pose_landmarks",
            "pose_world_landmarks",
            "pose_detection",
            "pose_rect_from_detection",
            "pose_rect_from_landmarks",
        ],
    )


def make_public_pose(static_image_mode: bool, smooth_landmarks: bool):
    return mp.solutions.pose.Pose(
        static_image_mode=static_image_mode,
        model_complexity=1,
        smooth_landmarks=smooth_landmarks,
        enable_segmentation=False,
        min_detection_confidence=MIN_DETECTION_CONFIDENCE,
        min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
    )


def rect_to_list(rect, nd):
    if rect is None:
        return None
    return [r(rect.x_center, nd), r(rect.y_center, nd), r(rect.width, nd),
            r(rect.height, nd), r(rect.rotation, nd)]


def detection_to_dict(det, nd):
    if det is None:
        return None
    bb = det.location_data.relative_bounding_box
    return {
        "score": r(det.score[0], nd),
        "box_xywh": [r(bb.xmin, nd), r(bb.ymin, nd), r(bb.width, nd), r(bb.height, nd)],
        "keypoints": [[r(k.x, nd), r(k.y, nd)] for k in det.location_data.relative_keypoints],
    }


def landmarks_to_lists(res, nd_norm, nd_vis, nd_world, with_world=True):
    if res.pose_landmarks is None:
        return None
    lms = []
    for lm in res.pose_landmarks.landmark:
        lms.append([r(lm.x, nd_norm), r(lm.y, nd_norm), r(lm.z, nd_norm),
                    r(lm.visibility, nd_vis), r(lm.presence, nd_vis)])
    out = {"landmarks": lms}
    if with_world:
        out["world_landmarks"] = [[r(w.x, nd_world), r(w.y, nd_world), r(w.z, nd_world)]
                                  for w in res.pose_world_landmarks.landmark]
    return out


def check_same_as_public(res, pub, what):
    a, b = res.pose_landmarks, pub.pose_landmarks
    if (a is None) != (b is None):
        raise AssertionError(f"{what}: public Pose and SolutionBase disagree on detection")
    if a is None:
        return
    for la, lb in zip(a.landmark, b.landmark):
        if (la.x, la.y, la.z, la.visibility) != (lb.x, lb.y, lb.z, lb.visibility):
            raise AssertionError(f"{what}: public Pose differs from SolutionBase")
        if lb.HasField("presence"):
            raise AssertionError("expected Pose.process to clear presence")
    for la, lb in zip(pub.pose_world_landmarks.landmark, res.pose_world_landmarks.landmark):
        if (la.x, la.y, la.z) != (lb.x, lb.y, lb.z):
            raise AssertionError(f"{what}: world landmarks differ")


def draw(rgb, res, path):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    scale = max(1, int(round(max(bgr.shape[:2]) / 640)))
    if res.pose_rect_from_detection is not None:
        _draw_rect(bgr, res.pose_rect_from_detection, (0, 200, 255))
    if res.pose_landmarks is not None:
        mp.solutions.drawing_utils.draw_landmarks(
            bgr, res.pose_landmarks, mp.solutions.pose.POSE_CONNECTIONS,
            landmark_drawing_spec=mp.solutions.drawing_utils.DrawingSpec(
                color=(0, 0, 255), thickness=2 * scale, circle_radius=2 * scale),
            connection_drawing_spec=mp.solutions.drawing_utils.DrawingSpec(
                color=(0, 255, 0), thickness=scale))
    cv2.imwrite(str(path), bgr)


def _draw_rect(bgr, rect, color):
    h, w = bgr.shape[:2]
    cx, cy = rect.x_center * w, rect.y_center * h
    rw, rh = rect.width * w, rect.height * h
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    pts = []
    for dx, dy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
        x, y = dx * rw, dy * rh
        pts.append([cx + c * x - s * y, cy + s * x + c * y])
    cv2.polylines(bgr, [np.round(pts).astype(np.int32)], True, color, 2)


def spec_name(spec) -> str:
    parts = [Path(spec["source"]).stem]
    if "frame" in spec:
        parts.append(f"f{spec['frame']}")
    parts.append(spec.get("op", "identity"))
    for k in ("angle_deg", "crop_xywh", "scale", "pad_ltrb"):
        if k in spec:
            v = spec[k]
            parts.append("x".join(str(x) for x in v) if isinstance(v, list) else str(v))
    return "_".join(parts).replace("-", "m")


MASK_THRESHOLD = 0.5  # binarisation of the probability masks for IoU (blazepose_sdk.geometry.segmentation)


def write_masks(shared: Path, out_dir: Path, common: dict) -> int:
    """The still images through Pose(enable_segmentation=True): each mask binarised at 0.5 and
    stored as run lengths (tests/parity_images.rle_encode); null where no pose was found."""
    images = []
    for spec in IMAGE_SPECS:
        rgb = parity_images.derive_image(spec, shared)
        with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, smooth_landmarks=False,
                                    enable_segmentation=True, smooth_segmentation=False,
                                    min_detection_confidence=MIN_DETECTION_CONFIDENCE) as pose:
            res = pose.process(rgb)
        mask = None if res.segmentation_mask is None else np.asarray(res.segmentation_mask) >= MASK_THRESHOLD
        images.append({
            "spec": spec,
            "width": int(rgb.shape[1]),
            "height": int(rgb.shape[0]),
            "image_sha256": parity_images.image_sha256(rgb),
            "mask_rle": None if mask is None else parity_images.rle_encode(mask),
            "mask_fraction": None if mask is None else r(mask.mean(), 5),
        })
        print(f"{spec_name(spec):55s} mask={'none' if mask is None else f'{mask.mean():.3f} of the image'}")
    doc = dict(common)
    doc["settings"] = {
        "api": "mediapipe.solutions.pose.Pose",
        "static_image_mode": True,
        "model_complexity": 1,
        "enable_segmentation": True,
        "smooth_segmentation": False,
        "min_detection_confidence": MIN_DETECTION_CONFIDENCE,
        "mask_threshold": MASK_THRESHOLD,
    }
    doc["format"] = {"mask_rle": "run lengths of the binarised mask flattened row by row, alternating "
                                 "background / person runs, starting with background (tests/parity_images.rle_decode)"}
    doc["images"] = images
    path = out_dir / "mediapipe_legacy_masks.json"
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared-dir", default=str(REPO_ROOT.parent / "shared" / "data"),
                    help="folder holding basketball1.png and vtest.avi (default: ../shared/data)")
    ap.add_argument("--out-dir", default=str(REPO_ROOT / "tests" / "data" / "parity"))
    ap.add_argument("--vis-dir", default=None, help="also write PNGs with the landmarks drawn")
    ap.add_argument("--no-clip", action="store_true", help="skip the video-mode clip fixture")
    ap.add_argument("--masks", action="store_true",
                    help="only write mediapipe_legacy_masks.json: the still images' segmentation masks")
    args = ap.parse_args(argv)

    shared = Path(args.shared_dir)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vis = Path(args.vis_dir) if args.vis_dir else None
    if vis:
        vis.mkdir(parents=True, exist_ok=True)

    mp_root = Path(mp.__file__).parent
    model_sha = {
        "pose_detection.tflite": sha256_file(mp_root / "modules/pose_detection/pose_detection.tflite"),
        "pose_landmark_full.tflite": sha256_file(mp_root / "modules/pose_landmark/pose_landmark_full.tflite"),
    }
    common = {
        "mediapipe_version": mp.__version__,
        "opencv_version": cv2.__version__,
        "model_sha256": model_sha,
        "source_sha256": {BB: sha256_file(shared / BB), VT: sha256_file(shared / VT)},
    }
    fmt = {
        "landmarks": "33 x [x_norm, y_norm, z, visibility, presence]; x,y normalised to the "
                     "image width/height, z on roughly the same scale as x (hip-centre origin)",
        "world_landmarks": "33 x [x, y, z] metres, origin between the hips",
        "detection": "pose detector output after NMS: score, relative box [xmin, ymin, w, h] "
                     "and 4 relative keypoints (hip centre, full-body scale point, shoulder "
                     "centre, upper-body scale point); null when the detector did not run or "
                     "found nothing",
        "roi_from_detection": "[x_center, y_center, width, height, rotation_rad] normalised "
                              "rect the landmark model was run on (from the detection)",
        "roi_from_landmarks": "same format: ROI derived from the auxiliary landmarks, i.e. the "
                              "ROI the next frame would use when tracking",
        "presence": "Pose.process() clears the presence field (reads 0); these values come "
                    "from the same graph run via SolutionBase without clearing it",
    }

    if args.masks:
        return write_masks(shared, out_dir, common)

    # ---------------- still images ----------------
    images = []
    for spec in IMAGE_SPECS:
        rgb = parity_images.derive_image(spec, shared)
        with make_solution(True, False) as sol:
            res = sol.process({"image": rgb})
        with make_public_pose(True, False) as pub_pose:
            pub = pub_pose.process(rgb)
        check_same_as_public(res, pub, spec_name(spec))
        entry = {
            "spec": spec,
            "width": int(rgb.shape[1]),
            "height": int(rgb.shape[0]),
            "image_sha256": parity_images.image_sha256(rgb),
            "pose": landmarks_to_lists(res, 6, 5, 5),
            "detection": detection_to_dict(res.pose_detection, 6),
            "roi_from_detection": rect_to_list(res.pose_rect_from_detection, 6),
            "roi_from_landmarks": rect_to_list(res.pose_rect_from_landmarks, 6),
        }
        images.append(entry)
        print(f"{spec_name(spec):55s} {rgb.shape[1]}x{rgb.shape[0]}  "
              f"pose={'yes' if entry['pose'] else 'NO'}  "
              f"det={entry['detection']['score'] if entry['detection'] else None}")
        if vis:
            draw(rgb, res, vis / f"{spec_name(spec)}.png")

    doc = dict(common)
    doc["settings"] = {
        "api": "mediapipe.solutions.pose.Pose",
        "static_image_mode": True,
        "model_complexity": 1,
        "smooth_landmarks": False,
        "enable_segmentation": False,
        "min_detection_confidence": MIN_DETECTION_CONFIDENCE,
        "min_tracking_confidence": MIN_TRACKING_CONFIDENCE,
    }
    doc["format"] = fmt
    doc["images"] = images
    path = out_dir / "mediapipe_legacy_pose.json"
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")

    # ---------------- video clip ----------------
    if args.no_clip:
        return 0
    frames = parity_images.make_pan_clip(shared, CLIP_FRAMES)
    runs = {}
    for smooth in (True, False):
        per_frame = []
        with make_solution(False, smooth) as sol, make_public_pose(False, smooth) as pub_pose:
            for i, rgb in enumerate(frames):
                res = sol.process({"image": rgb})
                pub = pub_pose.process(rgb)
                check_same_as_public(res, pub, f"clip frame {i} smooth={smooth}")
                per_frame.append({
                    "pose": landmarks_to_lists(res, 5, 3, 4, with_world=smooth),
                    "detection": detection_to_dict(res.pose_detection, 5),
                    "roi_from_landmarks": rect_to_list(res.pose_rect_from_landmarks, 5),
                })
                if vis and smooth and i % 10 == 0:
                    draw(rgb, res, vis / f"clip_{i:02d}.png")
        runs["smooth" if smooth else "nosmooth"] = per_frame
        n_det = sum(f["detection"] is not None for f in per_frame)
        n_pose = sum(f["pose"] is not None for f in per_frame)
        print(f"clip smooth={smooth}: pose in {n_pose}/{len(frames)} frames, detector ran "
              f"(and found) in {n_det}")

    clip = dict(common)
    clip["settings"] = {
        "api": "mediapipe.solutions.pose.Pose",
        "static_image_mode": False,
        "model_complexity": 1,
        "enable_segmentation": False,
        "min_detection_confidence": MIN_DETECTION_CONFIDENCE,
        "min_tracking_confidence": MIN_TRACKING_CONFIDENCE,
        "smooth_landmarks": {"smooth": True, "nosmooth": False},
        "timestamps_us": "frame i (0-based) is sent at (i + 1) * 33333 us "
                         "(SolutionBase's simulated 30 fps clock)",
    }
    clip["clip"] = {
        "generator": "tests/parity_images.make_pan_clip",
        "num_frames": CLIP_FRAMES,
        "width": int(frames[0].shape[1]),
        "height": int(frames[0].shape[0]),
        "frame_sha256": [parity_images.image_sha256(f) for f in frames],
    }
    clip["format"] = dict(fmt, nosmooth="per-frame landmarks only (no world landmarks)")
    clip["runs"] = runs
    path = out_dir / "mediapipe_legacy_clip.json"
    path.write_text(json.dumps(clip, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
