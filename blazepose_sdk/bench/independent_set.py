"""The independent real set: real people, ground truth where two unrelated models agree.

``python -m blazepose_sdk.bench.independent_set --out DIR`` builds it; then
``blazepose bench accuracy --labels DIR/labels.json`` scores every pipeline on it.

Why: the derived set's labels come from BlazePose-Heavy alone, and students distilled from Heavy
inherit its mistakes, so they look better on it than they are. Here a joint is ground truth only
where Heavy and Google's MoveNet SinglePose Thunder (a different architecture, data and team's
keypoint definition trained on COCO + Active) both see it and land close together
(:func:`agree_keypoints`); the label is their mean and every other joint is ignored.

Media: the demo videos of the PyPI package ``pose2sim`` (BSD-3-Clause), a RESERVED test set:
never train, tune or pseudo-label training data on it. The pinned wheel is fetched with
``pip download`` (pip's own index configuration) or given with ``--wheel``, and its sha256 is
checked. Its four ``Demo_SinglePerson`` videos (one man on a force platform filmed by four
calibrated cameras, 1080x1920, 100 frames at 60 fps each; other people stand in the background
of two views) are sampled every :data:`FRAME_STEP` frames. The ``Demo_MultiPerson`` videos (the
same man plus a woman) and ``Demo_Batch`` (byte-identical copies) are left out: the accuracy
suite scores one pose per image, and which of two people a single-person model picks is a
detector question, not a keypoint one.

Hand check: frames whose index is a multiple of :data:`REVIEW_EVERY` were looked at as overlays
(``--overlays`` draws them into ``DIR/review``); the decisions (keep, drop, ignore or move a
joint per frame; joints to ignore in a whole video) are in
``blazepose_sdk/bench/data/independent_set_review.json`` (frame keys, joint names and pixel coordinates
only, no media) and applied on every build. ``DIR/labels_checked.json`` holds
the reviewed frames alone.

Writes into DIR (never committed): ``images/*.png``, ``labels.json``, ``labels_checked.json``,
``agreement.json`` (per-joint statistics), ``source/`` (the wheel, so a rebuild is offline).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, COCO17_NAMES, COCO17_SKELETON, LANDMARK_NAMES

from .datasets import LABELS_FORMAT, VISIBILITY_THRESHOLD
from .peers.movenet import KEYPOINT_SCORE_THRESHOLD
from .wheels import PinnedWheel, fetch_pinned_wheel

# -- the media -------------------------------------------------------------------------------
POSE2SIM_VERSION = "0.10.49"
POSE2SIM_WHEEL = f"pose2sim-{POSE2SIM_VERSION}-py3-none-any.whl"
POSE2SIM_WHEEL_SHA256 = "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1"  # measured here
POSE2SIM_LICENSE = "BSD-3-Clause"
POSE2SIM_PIN = PinnedWheel("pose2sim", POSE2SIM_VERSION, POSE2SIM_WHEEL, POSE2SIM_WHEEL_SHA256, POSE2SIM_LICENSE)
# wheel member -> group (camera) name
VIDEOS = {f"Pose2Sim/Demo_SinglePerson/videos/cam0{c}.mp4": f"cam0{c}" for c in range(1, 5)}
FRAME_STEP = 5  # every 5th frame (12 per second of the 60 fps videos), from frame 0
REVIEW_EVERY = 15  # frames 0, 15, 30, ... of each video were hand-checked
REVIEW_FILE = Path(__file__).resolve().parent / "data" / "independent_set_review.json"
REVIEW_FORMAT = "independent-set-review/1"

# -- the agreement rule ----------------------------------------------------------------------
# A joint is confident for Heavy at visibility >= 0.5 (datasets.VISIBILITY_THRESHOLD, MediaPipe's
# drawing threshold) and for MoveNet at score >= 0.3 (its model card's recommended default).
HEAVY_MIN_VISIBILITY = VISIBILITY_THRESHOLD
MOVENET_MIN_SCORE = KEYPOINT_SCORE_THRESHOLD
# Two confident joints agree when they are closer than this fraction of the person's box
# diagonal. Chosen so that the label (the mean) is within 0.025 diagonals of each model, about
# half the PCK@0.2 tolerance of a standing person (0.2 x torso ~ 0.06 x height ~ 0.055 diagonals):
# a label cannot move a correct prediction out of tolerance on its own.
AGREEMENT_FRACTION = 0.05
# A person is kept with at least this many agreed COCO-17 joints, including both joints of the
# accuracy suite's PCK torso (left shoulder, right hip); others are left out of the set.
MIN_AGREED_JOINTS = 10
REQUIRED_JOINTS = ("left_shoulder", "right_hip")

AGREED, DISAGREE, MISSING = "agreed", "disagree", "missing"


# -- agreement (pure) ------------------------------------------------------------------------
def box_diagonal(xy: np.ndarray, ok: np.ndarray) -> float:
    """Diagonal of the box around the ``ok`` points of (K, 2) ``xy``; 0 with fewer than two."""
    pts = np.asarray(xy, dtype=np.float64)[np.asarray(ok, dtype=bool)]
    if len(pts) < 2:
        return 0.0
    return float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))


def person_size_px(a_xy: np.ndarray, a_ok: np.ndarray, b_xy: np.ndarray, b_ok: np.ndarray) -> float:
    """The person's size for the agreement rule: the geometric mean of the two models' box
    diagonals (each around its own confident joints), so neither model sets it alone."""
    return float(np.sqrt(box_diagonal(a_xy, a_ok) * box_diagonal(b_xy, b_ok)))


def agree_keypoints(
    a_xy: np.ndarray,
    a_ok: np.ndarray,
    b_xy: np.ndarray,
    b_ok: np.ndarray,
    size_px: float,
    fraction: float = AGREEMENT_FRACTION,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine two models' (K, 2) keypoints (image pixels) with their (K,) confident masks.

    Returns ``(label_xy, status, distance_px)``: the mean of the two where both are confident
    and ``distance < fraction * size_px`` (status ``agreed``), NaN elsewhere; status ``missing``
    where either model is not confident, ``disagree`` where both are but too far apart;
    ``distance_px`` is the two models' distance (NaN where either is not confident).
    """
    a = np.asarray(a_xy, dtype=np.float64)
    b = np.asarray(b_xy, dtype=np.float64)
    both = np.asarray(a_ok, dtype=bool) & np.asarray(b_ok, dtype=bool)
    dist = np.where(both, np.linalg.norm(a - b, axis=-1), np.nan)
    agreed = both & (dist < fraction * size_px)
    status = np.where(agreed, AGREED, np.where(both, DISAGREE, MISSING)).astype(object)
    label = np.where(agreed[:, None], (a + b) / 2.0, np.nan)
    return label, status, dist


def in_image(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    return (xy[:, 0] >= 0) & (xy[:, 0] <= width) & (xy[:, 1] >= 0) & (xy[:, 1] <= height)


@dataclass
class PersonAgreement:
    """One person's agreed COCO-17 label. ``heavy`` / ``movenet``: (17, 3) x_px, y_px, confidence."""

    heavy: np.ndarray
    movenet: np.ndarray
    label_xy: np.ndarray
    status: np.ndarray
    distance_px: np.ndarray
    size_px: float
    area_px: float

    @property
    def agreed(self) -> np.ndarray:
        return self.status == AGREED

    def keep_reason(self) -> str | None:
        """None when the person stays in the set, else why not."""
        labelled = labelled_mask(self.status)
        if int(labelled.sum()) < MIN_AGREED_JOINTS:
            return f"{int(labelled.sum())} agreed joints < {MIN_AGREED_JOINTS}"
        missing = [n for n in REQUIRED_JOINTS if not labelled[COCO17_NAMES.index(n)]]
        return f"torso joint(s) {', '.join(missing)} not agreed" if missing else None


def combine(heavy: np.ndarray, movenet: np.ndarray, width: int, height: int) -> PersonAgreement:
    """Agreement of Heavy's and MoveNet's (17, 3) keypoints on a ``width`` x ``height`` image.

    The OKS area is the box around both models' confident joints (the union).
    """
    h_ok = (heavy[:, 2] >= HEAVY_MIN_VISIBILITY) & in_image(heavy[:, :2], width, height)
    m_ok = (movenet[:, 2] >= MOVENET_MIN_SCORE) & in_image(movenet[:, :2], width, height)
    size = person_size_px(heavy[:, :2], h_ok, movenet[:, :2], m_ok)
    label, status, dist = agree_keypoints(heavy[:, :2], h_ok, movenet[:, :2], m_ok, size)
    pts = np.concatenate([heavy[h_ok, :2], movenet[m_ok, :2]])
    area = float(np.prod(pts.max(axis=0) - pts.min(axis=0))) if len(pts) >= 2 else 0.0
    return PersonAgreement(heavy, movenet, label, status, dist, size, area)


# -- hand-check decisions --------------------------------------------------------------------
def load_review(path: Path = REVIEW_FILE) -> dict:
    """The hand-check decisions: ``{"format": ..., "groups": {video group: {"ignore": [joints]}},
    "decisions": {frame key: {"action": ...}}}``; frame decisions cover the frames whose index is
    a multiple of :data:`REVIEW_EVERY`, group decisions every frame of that video."""
    if not path.is_file():
        return {"format": REVIEW_FORMAT, "groups": {}, "decisions": {}}
    doc = json.loads(path.read_text())
    if doc.get("format") != REVIEW_FORMAT:
        raise ValueError(f"{path} is not a {REVIEW_FORMAT} file")
    return doc


def apply_decision(person: PersonAgreement, decision: dict) -> PersonAgreement | None:
    """Apply one frame's decision: ``drop`` (None), or ``ignore`` (joint names become
    ``hand-ignored``) and ``set_px`` (joint name -> [x, y], status ``hand-set``); ``keep`` as is."""
    action = decision.get("action", "keep")
    if action == "drop":
        return None
    if action not in ("keep", "fix"):
        raise ValueError(f"unknown review action {action!r}")
    label, status = person.label_xy.copy(), person.status.copy()
    for name in decision.get("ignore", []):
        k = COCO17_NAMES.index(name)
        label[k], status[k] = np.nan, "hand-ignored"
    for name, xy in decision.get("set_px", {}).items():
        k = COCO17_NAMES.index(name)
        label[k], status[k] = np.asarray(xy, dtype=np.float64), "hand-set"
    return PersonAgreement(person.heavy, person.movenet, label, status, person.distance_px, person.size_px,
                           person.area_px)


def labelled_mask(status: np.ndarray) -> np.ndarray:
    """Joints that are ground truth: agreed by the models, or placed by hand."""
    return (status == AGREED) | (status == "hand-set")


# -- label file ------------------------------------------------------------------------------
def person_entry(person: PersonAgreement) -> dict:
    """One person of the labels JSON: BlazePose-33 layout, the COCO-17 joints filled in,
    ``visible`` 1 only for ground-truth joints (every other joint is ignored by the metrics)."""
    xy33 = np.zeros((len(LANDMARK_NAMES), 2))
    vis33 = np.zeros(len(LANDMARK_NAMES), dtype=int)
    ok = labelled_mask(person.status)
    xy33[BLAZEPOSE_TO_COCO17[ok]] = person.label_xy[ok]
    vis33[BLAZEPOSE_TO_COCO17[ok]] = 1
    return {
        "landmarks_px": np.round(xy33, 3).tolist(),
        "visible": vis33.tolist(),
        "world_m": None,
        "head_size_px": None,
        "area_px": round(person.area_px, 1),
        "coco17_status": [str(s) for s in person.status],
        "heavy_coco17": np.round(person.heavy, 3).tolist(),
        "movenet_coco17": np.round(person.movenet, 3).tolist(),
        "size_px": round(person.size_px, 2),
    }


def write_labels(path: Path, frames: list[dict], description: str) -> Path:
    """A ``blazepose33-labels`` JSON (read by :func:`blazepose_sdk.bench.datasets.load_labels`);
    ``frames``: dicts with file, group, width, height, persons (from :func:`person_entry`)."""
    doc = {
        "format": LABELS_FORMAT,
        "version": 1,
        "ground_truth": "labels",
        "description": description,
        "landmark_names": list(LANDMARK_NAMES),
        "images": frames,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) + "\n")
    return path


def agreement_stats(persons: list[PersonAgreement]) -> dict:
    """Per-joint counts of agreed / disagree / missing / hand-changed, and the models' median
    distance in person sizes where both are confident."""
    out = {}
    status = np.array([p.status for p in persons], dtype=object).reshape(-1, len(COCO17_NAMES))
    dist = np.array([p.distance_px / max(p.size_px, 1e-9) for p in persons]).reshape(-1, len(COCO17_NAMES))
    for k, name in enumerate(COCO17_NAMES):
        col = status[:, k]
        d = dist[:, k][np.isfinite(dist[:, k])]
        out[name] = {
            "agreed": int((col == AGREED).sum()),
            "disagree": int((col == DISAGREE).sum()),
            "missing": int((col == MISSING).sum()),
            "hand_ignored": int((col == "hand-ignored").sum()),
            "hand_set": int((col == "hand-set").sum()),
            "median_distance_per_size": round(float(np.median(d)), 4) if len(d) else None,
        }
    return out


# -- fetching the media ----------------------------------------------------------------------
def fetch_wheel(out_dir: Path, wheel: str | None = None) -> Path:
    """The pinned pose2sim wheel in ``out_dir/source`` (kept there: a rebuild is offline);
    ``wheel``: a copy made elsewhere. Raises FetchError, ModelHashMismatchError."""
    return fetch_pinned_wheel(POSE2SIM_PIN, out_dir, wheel)


def sampled_frames(wheel: Path, scratch: Path, step: int = FRAME_STEP):
    """Yield ``(key, group, frame_index, frame_rgb)`` for every ``step``-th frame of :data:`VIDEOS`."""
    from blazepose_sdk.app.video import VideoReader

    with zipfile.ZipFile(wheel) as zf:
        for member, group in VIDEOS.items():
            path = Path(zf.extract(member, scratch))
            with VideoReader(path) as reader:
                for index, (_, frame) in enumerate(reader):
                    if index % step == 0:
                        yield f"{group}_f{index:04d}", group, index, frame


# -- overlays --------------------------------------------------------------------------------
def draw_overlay(image_rgb: np.ndarray, person: PersonAgreement, title: str) -> np.ndarray:
    """BGR crop around the person: Heavy blue, MoveNet red (skeletons), the label green
    (filled = agreed, ring = set by hand), a grey cross where a joint is ignored, with names."""
    pts = np.concatenate([person.heavy[:, :2], person.movenet[:, :2]])
    x0, y0 = np.floor(pts.min(axis=0) - 0.15 * person.size_px).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + 0.15 * person.size_px).astype(int)
    h, w = image_rgb.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    crop = cv2.cvtColor(image_rgb[y0:y1, x0:x1], cv2.COLOR_RGB2BGR)
    scale = 900.0 / max(1, crop.shape[0])
    img = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)

    def p(xy):
        return (int(round((xy[0] - x0) * scale)), int(round((xy[1] - y0) * scale)))

    for kps, color in ((person.heavy, (255, 120, 0)), (person.movenet, (0, 0, 255))):
        for a, b in COCO17_SKELETON:
            cv2.line(img, p(kps[a]), p(kps[b]), color, 1, cv2.LINE_AA)
        for k in range(17):
            cv2.circle(img, p(kps[k]), 3, color, -1, cv2.LINE_AA)
    for k, name in enumerate(COCO17_NAMES):
        st = person.status[k]
        if st in (AGREED, "hand-set"):
            cv2.circle(img, p(person.label_xy[k]), 6, (0, 200, 0), -1 if st == AGREED else 2, cv2.LINE_AA)
            cv2.putText(img, name, (p(person.label_xy[k])[0] + 7, p(person.label_xy[k])[1]),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1, cv2.LINE_AA)
        else:
            q = p(person.heavy[k])
            cv2.drawMarker(img, q, (160, 160, 160), cv2.MARKER_TILTED_CROSS, 10, 2)
            cv2.putText(img, f"{name}:{st}", (q[0] + 7, q[1]), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 200, 200), 1)
    cv2.putText(img, f"{title} blue=Heavy red=MoveNet green=label crop@({x0},{y0}) x{scale:.2f}", (5, 15),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA)
    return img


# -- build -----------------------------------------------------------------------------------
def build(out_dir: Path, wheel: str | None = None, threads: int | None = None, overlays: bool = False,
          review_path: Path = REVIEW_FILE, step: int = FRAME_STEP) -> dict:
    """Build the set into ``out_dir``; returns the summary written to ``agreement.json``."""
    from blazepose_sdk import PoseTracker, TrackerOptions
    from blazepose_sdk.app.video import write_image

    from .peers.movenet import MoveNetThunder

    review = load_review(review_path)
    reviewed: set[str] = set()
    wheel_path = fetch_wheel(out_dir, wheel)
    frames, checked, persons, kept, dropped, unreviewed = [], [], [], [], [], []
    no_pose = {"heavy": 0, "movenet": 0}
    total = 0
    if overlays:
        (out_dir / "review").mkdir(parents=True, exist_ok=True)
    heavy_options = TrackerOptions(model="reference-heavy", static_image_mode=True, num_threads=threads)
    with tempfile.TemporaryDirectory(prefix="pose2sim-") as scratch, PoseTracker(heavy_options) as heavy, \
            MoveNetThunder(num_threads=threads) as movenet:
        for key, group, index, frame in sampled_frames(wheel_path, Path(scratch), step):
            total += 1
            if index % REVIEW_EVERY == 0:
                reviewed.add(key)
            h, w = frame.shape[:2]
            result = heavy.process(frame)
            m = movenet.process(frame)
            if not (m[:, 2] >= MOVENET_MIN_SCORE).any():
                no_pose["movenet"] += 1
            if result.pose is None:
                no_pose["heavy"] += 1
                dropped.append({"key": key, "why": "Heavy found nobody"})
                continue
            person = combine(result.pose.coco17(), m, w, h)
            persons.append(person)
            if overlays and key in reviewed:
                cv2.imwrite(str(out_dir / "review" / f"{key}.png"), draw_overlay(frame, person, key))
            if key in reviewed and key not in review["decisions"]:
                unreviewed.append(key)
            if group in review.get("groups", {}):  # whole-video decisions (pixelated faces)
                person = apply_decision(person, {"action": "fix", "ignore": review["groups"][group]["ignore"]})
            person = apply_decision(person, review["decisions"].get(key, {}) if key in reviewed else {})
            if person is None:
                dropped.append({"key": key, "why": f"hand check: {review['decisions'][key].get('why', '')}"})
                continue
            why = person.keep_reason()
            if why is not None:
                dropped.append({"key": key, "why": why})
                continue
            name = f"images/{key}.png"
            write_image(out_dir / name, frame)
            entry = {"file": name, "group": group, "width": w, "height": h, "frame_index": index,
                     "hand_checked": key in reviewed, "persons": [person_entry(person)]}
            frames.append(entry)
            kept.append(person)
            if key in reviewed:
                checked.append(entry)
    description = (
        f"independent real set: pose2sim {POSE2SIM_VERSION} ({POSE2SIM_LICENSE}) Demo_SinglePerson videos, "
        f"every {step}th frame; COCO-17 joints where reference-heavy and MoveNet Thunder agree "
        f"(< {AGREEMENT_FRACTION} x person diagonal, both confident), label = their mean, other joints ignored; "
        "reference-heavy is one of the two labellers, so its row is an upper bound, not a measurement"
    )
    write_labels(out_dir / "labels.json", frames, description)
    write_labels(out_dir / "labels_checked.json", checked, description + "; hand-checked frames only")
    summary = {
        "source": {"package": "pose2sim", "version": POSE2SIM_VERSION, "license": POSE2SIM_LICENSE,
                   "wheel_sha256": POSE2SIM_WHEEL_SHA256, "videos": list(VIDEOS), "frame_step": step},
        "rule": {"agreement_fraction_of_diagonal": AGREEMENT_FRACTION, "heavy_min_visibility": HEAVY_MIN_VISIBILITY,
                 "movenet_min_score": MOVENET_MIN_SCORE, "min_agreed_joints": MIN_AGREED_JOINTS,
                 "required_joints": list(REQUIRED_JOINTS)},
        "frames_sampled": total,
        "frames_kept": len(frames),
        "frames_hand_checked_kept": len(checked),
        "frames_reviewed": len(reviewed),
        "frames_to_review_without_decision": unreviewed,
        "no_pose": no_pose,
        "dropped": dropped,
        "labelled_joints": int(sum(sum(e["persons"][0]["visible"]) for e in frames)),
        "per_joint": agreement_stats(persons),
        "per_joint_kept": agreement_stats(kept),
    }
    (out_dir / "agreement.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blazepose_sdk.bench.independent_set", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for images, labels.json, agreement.json")
    parser.add_argument("--wheel", default=None, help=f"{POSE2SIM_WHEEL} made elsewhere (else pip download)")
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads (default: the runtime's)")
    parser.add_argument("--overlays", action="store_true", help="draw the hand-checked frames into OUT/review")
    args = parser.parse_args(argv)
    try:
        summary = build(args.out, args.wheel, args.threads, args.overlays)
    except (BlazePoseError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{summary['frames_kept']} of {summary['frames_sampled']} frames kept "
          f"({summary['frames_hand_checked_kept']} hand-checked), {summary['labelled_joints']} labelled joints "
          f"-> {args.out / 'labels.json'}")
    print(f"{'joint':16s} agreed disagree missing median_d/size")
    for name, s in summary["per_joint"].items():
        print(f"{name:16s} {s['agreed']:6d} {s['disagree']:8d} {s['missing']:7d} {s['median_distance_per_size']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
