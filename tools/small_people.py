"""Small and distant people on vtest.avi: ground truth that does not come from the person detector,
then the official detector alone vs the detector with zoomed tiles (docs/lab/2026-12-01_multi_person.md).

Ground truth (``labels``): OpenCV's MOG2 background subtraction over the whole video proposes
moving blobs (no person detector involved); around each blob an upright square ROI (1.25x the
blob's longer side; wide blobs also split in two halves) goes through the landmark model alone
(``PoseTracker.process_roi``, default ``reference-heavy``), twice refined from its own landmarks
(``roi_from_keypoints``). A person is kept when the pose presence is >= ``--min-presence`` and it is
not a duplicate (keypoint similarity) of a kept one. ``--overlays DIR`` draws them for checking by
eye. Person-free frames: MOG2's background image (people removed), cropped, mirrored and
relit at random (``person_free_frames``).

Evaluation (``eval``): per sampled frame, the detector's detections (whole frame; whole frame +
tiles) matched one-to-one to the labelled people (ROI IoU >= ``MATCH_ROI_IOU``, best score first);
person-frames found, false detections per 100 person-free frames, detector ms per frame.

    python tools/small_people.py labels ../shared/data/vtest.avi --out /tmp/sp --every 8 --overlays /tmp/sp/ov
    python tools/small_people.py eval /tmp/sp --tiles 2x2+c 3x3 3x3+c

``--tile-detector NAME=FILE`` adds rows with the official detector on the whole frame and another
detector (e.g. a fine-tuned one) on the tiles.

Doubles (``doubles``): on a benchmark labels file (``blazepose bench`` format, e.g. the real-derived
set's large people) the whole-frame detector's detections matched to the labelled people as
above; an unmatched detection whose face-box centre lies inside a labelled person's ROI is a
double of that person (a box on a chest, an upper-body ROI), any other one is elsewhere.

    python tools/small_people.py doubles /tmp/final/derived/labelled_set/labels.json --detector ours=FILE
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk import PoseTracker, TrackerOptions
from blazepose_sdk.app.drawing import draw_pose
from blazepose_sdk.geometry.matching import keypoint_similarity, polygon_iou
from blazepose_sdk.assets.models import resolve_pipeline
from blazepose_sdk.results import PoseResult
from blazepose_sdk.geometry.roi import Roi, image_to_roi, roi_from_keypoints
from blazepose_sdk.geometry.tiles import parse_tile_layout, tile_rois
from blazepose_sdk.app.video import VideoReader

# A detection is a labelled person when their tracker ROIs overlap by at least this IoU (the ROI
# from the detection's alignment points vs the one from the person's keypoints). Our choice: loose
# enough for the detector's coarse alignment points on 20-30 px people, tight enough that a
# detection between two people matches neither.
MATCH_ROI_IOU = 0.3
# Two labelled poses at least this similar (keypoint_similarity) are one person. As the tracker's
# SAME_PERSON_SIMILARITY.
DUPLICATE_SIMILARITY = 0.5
# MOG2 foreground blobs smaller than this (pixels of height) are noise, not people (vtest's
# pedestrians are 60-110 px tall; partly hidden ones 30+).
MIN_BLOB_HEIGHT_PX = 30


def blob_boxes(fg_mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of the foreground blobs worth a look (shadows dropped, gaps closed)."""
    m = (fg_mask == 255).astype(np.uint8)  # MOG2 marks shadows 127
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((9, 5), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(m)
    return [tuple(int(v) for v in stats[i, :4]) for i in range(1, n) if stats[i, 3] >= MIN_BLOB_HEIGHT_PX]


def seed_rois(boxes) -> list[Roi]:
    rois = []
    for x, y, w, h in boxes:
        rois.append(Roi(x + w / 2, y + h / 2, 1.25 * max(w, h), 0.0))
        if w > 0.6 * h:  # probably two people side by side: also each half
            for cx in (x + w / 4, x + 3 * w / 4):
                rois.append(Roi(cx, y + h / 2, 1.25 * h, 0.0))
    return rois


def grid_rois(width: int, height: int, side: float) -> list[Roi]:
    """Upright squares of ``side`` px every side/2 px over the frame (seeds for people that do not
    move, which background subtraction misses)."""
    step = side / 2.0
    return [Roi(float(x), float(y), float(side), 0.0)
            for y in np.arange(step, height - step / 2 + 1, step) for x in np.arange(step, width - step / 2 + 1, step)]


def label_frame(tracker: PoseTracker, frame: np.ndarray, rois: list[Roi], min_presence: float, refine: int = 2,
                grid: list[Roi] = ()):
    """The confident, distinct people found from the seed ROIs, then from the ``grid`` seeds not
    already near a found person: list of (pose, tracker ROI)."""
    people = []

    def near_someone(seed: Roi) -> bool:
        return any(np.hypot(seed.center_x_px - r.center_x_px, seed.center_y_px - r.center_y_px) < 0.3 * r.size_px
                   for _, r in people)

    for k, roi in enumerate([*rois, *grid]):
        if k >= len(rois) and near_someone(roi):
            continue
        pose = None
        for _ in range(refine + 1):
            if not roi.is_valid():
                break
            result = tracker.process_roi(frame, roi)
            pose = result.pose
            if pose is None:
                break
            new = roi_from_keypoints(pose.array_px[:, :2], pose.array_px[:, 3] > 0.0)
            if new is None:
                pose = None
                break
            roi = new
        if pose is None or pose.presence < min_presence:
            continue
        if any(keypoint_similarity(pose.array_px, p.array_px, max(roi.size_px, r.size_px)) > DUPLICATE_SIMILARITY
               for p, r in people):
            continue
        people.append((pose, roi))
    return people


def cmd_labels(args: argparse.Namespace) -> int:
    out = Path(args.out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    (out / "empty").mkdir(exist_ok=True)
    if args.overlays:
        Path(args.overlays).mkdir(parents=True, exist_ok=True)
    mog = cv2.createBackgroundSubtractorMOG2(history=200, varThreshold=25, detectShadows=True)
    frames, blobs = {}, {}
    with VideoReader(args.video, bgr=True) as reader:
        for i, (_, bgr) in enumerate(reader):
            fg = mog.apply(bgr)
            if i >= args.skip and (i - args.skip) % args.every == 0:
                frames[i] = bgr
                blobs[i] = blob_boxes(fg)
    background = mog.getBackgroundImage()
    cv2.imwrite(str(out / "background.png"), background)
    labels = {}
    t0 = time.perf_counter()
    with PoseTracker(TrackerOptions(model=args.model, num_threads=args.threads, min_tracking_confidence=0.5)) as tracker:
        for i, bgr in frames.items():
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            grid = grid_rois(rgb.shape[1], rgb.shape[0], args.grid) if args.grid else []
            people = label_frame(tracker, rgb, seed_rois(blobs[i]), args.min_presence, grid=grid)
            labels[str(i)] = [{"presence": float(p.presence), "roi": r.to_dict(),
                               "keypoints_px": np.round(p.array_px, 2).tolist()} for p, r in people]
            cv2.imwrite(str(out / "frames" / f"{i:04d}.png"), bgr)
            if args.overlays:
                poses = [dataclass_with_id(p, k + 1) for k, (p, _) in enumerate(people)]
                result = PoseResult(i, 0.0, (rgb.shape[1], rgb.shape[0]), poses[0] if poses else None, None, False,
                                    False, poses=poses)
                drawn = draw_pose(rgb, result, min_visibility=0.0)
                drawn = cv2.resize(drawn, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
                cv2.imwrite(str(Path(args.overlays) / f"{i:04d}.jpg"), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            print(f"frame {i}: {len(blobs[i])} blobs, {len(people)} people", file=sys.stderr)
    for k, empty in enumerate(person_free_frames(background, args.empty, args.seed)):
        cv2.imwrite(str(out / "empty" / f"{k:04d}.png"), empty)
    (out / "labels.json").write_text(json.dumps({"video": str(args.video), "model": args.model,
                                                 "min_presence": args.min_presence, "frames": labels}))
    n = sum(len(v) for v in labels.values())
    print(f"{len(labels)} frames, {n} people ({n / max(len(labels), 1):.2f} per frame), "
          f"{time.perf_counter() - t0:.0f} s")
    return 0


def person_free_frames(background_bgr: np.ndarray, n: int, seed: int = 0):
    """``n`` person-free frames from the background image: random crops (half to all of the
    frame, resized back), mirror images, brightness/contrast changes and sensor noise."""
    rng = np.random.default_rng(seed)
    h, w = background_bgr.shape[:2]
    for _ in range(n):
        s = rng.uniform(0.5, 1.0)
        cw, ch = int(w * s), int(h * s)
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img = cv2.resize(background_bgr[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            img = img[:, ::-1]
        img = img.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20) + rng.normal(0, 2.0, img.shape)
        yield np.clip(img, 0, 255).astype(np.uint8)


def dataclass_with_id(pose, track_id: int):
    import dataclasses

    return dataclasses.replace(pose, id=track_id)


def match_pairs(det_rois: list[Roi], gt_rois: list[Roi]) -> dict[int, int]:
    """One-to-one matches {labelled person index: detection index}, detections best first, each
    taking the free person its ROI overlaps most (IoU >= ``MATCH_ROI_IOU``)."""
    used: dict[int, int] = {}
    for i, d in enumerate(det_rois):
        best, best_iou = None, MATCH_ROI_IOU
        for j, g in enumerate(gt_rois):
            if j in used:
                continue
            iou = polygon_iou(d.corners_px(), g.corners_px())
            if iou >= best_iou:
                best, best_iou = j, iou
        if best is not None:
            used[best] = i
    return used


def match(det_rois: list[Roi], gt_rois: list[Roi]) -> int:
    """How many labelled people a detection matches one-to-one (detections best first)."""
    return len(match_pairs(det_rois, gt_rois))


def detect(tracker: PoseTracker, rgb: np.ndarray, layout, tile_min_score: float | None = None,
           tile_detector=None) -> tuple[list, float]:
    """The tracker's detector on the whole frame, then (with a tile ``layout``) ``tile_detector``
    (default the same detector) on the tiles, merged; (detections, ms)."""
    t0 = time.perf_counter()
    dets = tracker.detector(rgb)
    if layout is not None:
        dets = (tile_detector or tracker.detector).detect_tiles(
            rgb, tile_rois(rgb.shape[1], rgb.shape[0], *layout), extra=dets, min_score=tile_min_score)
    return dets, (time.perf_counter() - t0) * 1000.0


def in_half(index: int, total: int, half: str) -> bool:
    """``half``: "all", "first" (index < total / 2) or "second"."""
    return half == "all" or (index < total / 2) == (half == "first")


def pipeline_counts(folder: Path, labels: dict, empties: list[Path], tiles: str | None, detector_model: str | None,
                    min_score: float, args: argparse.Namespace,
                    tiles_model: str | None = None) -> tuple[int, int, int]:
    """The whole pipeline (detector, tiles run by ``tiles_model`` or the detector, landmark
    presence) in static mode with num_poses: labelled people whose pose it finds, poses on the
    labelled frames that match nobody, and poses it reports on the person-free frames."""
    options = TrackerOptions(model=args.model, detector_model=detector_model, num_threads=args.threads,
                             static_image_mode=True,
                             num_poses=args.num_poses, detector_tiles=tiles, min_detection_confidence=min_score,
                             detector_tiles_min_score=args.tile_min_score, detector_tiles_model=tiles_model)
    found = unmatched = false = 0
    with PoseTracker(options) as tracker:
        for key, people in labels.items():
            gt = [Roi(**p["roi"]) for p in people]
            rgb = cv2.cvtColor(cv2.imread(str(folder / "frames" / f"{int(key):04d}.png")), cv2.COLOR_BGR2RGB)
            poses = tracker.process(rgb).poses
            rois = [roi_from_keypoints(p.array_px[:, :2], np.ones(33, bool)) for p in poses]
            hit = match([r for r in rois if r is not None], gt)
            found, unmatched = found + hit, unmatched + len(poses) - hit
        for path in empties:
            false += len(tracker.process(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)).poses)
    return found, unmatched, false


def eval_detector(tracker: PoseTracker, folder: Path, labels: dict, tiles: str | None, det_name: str,
                  det_path: str | None, min_score: float, args: argparse.Namespace, tile_detector=None,
                  tile_path: str | None = None) -> dict:
    """One table row: the tracker's detector (whole frame at ``min_score``, plus ``tiles``, run by
    ``tile_detector``, the detector of the file ``tile_path``, when given) against the labels."""
    layout = parse_tile_layout(tiles) if tiles else None
    found = total = false_real = false_empty = 0
    ms = []
    for key, people in labels.items():
        gt = [Roi(**p["roi"]) for p in people]
        rgb = cv2.cvtColor(cv2.imread(str(folder / "frames" / f"{int(key):04d}.png")), cv2.COLOR_BGR2RGB)
        dets, t = detect(tracker, rgb, layout, args.tile_min_score, tile_detector)
        ms.append(t)
        rois = [d.roi() for d in dets]
        hit = match(rois, gt)
        found += hit
        total += len(gt)
        false_real += len(dets) - hit
    empties = [p for p in sorted((folder / "empty").glob("*.png")) if in_half(int(p.stem), 100, args.half)]
    for path in empties:
        empty = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        false_empty += len(detect(tracker, empty, layout, args.tile_min_score, tile_detector)[0])
    n = len(labels)
    # the pipeline's tiles run the row's tile detector, else its whole-frame one (not a pipeline's own)
    tiles_model = tile_path or det_path or str(resolve_pipeline("blazepose-lite").detector.path)
    poses_found, poses_unmatched, poses_empty = pipeline_counts(folder, labels, empties, tiles, det_path, min_score,
                                                                args, tiles_model)
    return {"detector": det_name + (f" + tiles {tiles}" if tiles else ""), "min_score": min_score,
            "person_frames": found,
            "labelled": total, "recall": found / max(total, 1),
            "false_per_100_person_free": 100.0 * false_empty / max(len(empties), 1),
            "person_free_frames": len(empties),
            "unmatched_on_real_frames_per_100": 100.0 * false_real / n,
            "detector_ms_median": float(np.median(ms)), "frames": n,
            "pipeline_person_frames": poses_found,
            "pipeline_unmatched_per_100_real": 100.0 * poses_unmatched / n,
            "pipeline_poses_per_100_person_free": 100.0 * poses_empty / max(len(empties), 1)}


def detectors_to_compare(args: argparse.Namespace) -> list[tuple[str, str | None, float]]:
    """(name, .tflite path or None for the official one, whole-frame threshold): the official
    detector at ``--min-score``, then each ``--detector NAME=FILE`` at ``--detector-min-score``
    (default ``--min-score``)."""
    own = args.min_score if args.detector_min_score is None else args.detector_min_score
    return [("official", None, args.min_score)] + [(*d.split("=", 1), own) for d in args.detector or []]


def cmd_eval(args: argparse.Namespace) -> int:
    folder = Path(args.labels_dir)
    labels = json.loads((folder / "labels.json").read_text())["frames"]
    labels = {k: v for k, v in labels.items() if in_half(int(k), 795, args.half)}
    dropped: dict[str, set[int]] = {}
    for item in args.drop or []:
        frame, k = item.split(":")
        dropped.setdefault(frame, set()).add(int(k))
    labels = {key: [p for j, p in enumerate(people) if j not in dropped.get(key, ())] for key, people in labels.items()}
    rows = []
    detectors = detectors_to_compare(args)
    for det_name, det_path, min_score in detectors:
        with PoseTracker(TrackerOptions(model="blazepose-lite", detector_model=det_path, num_threads=args.threads,
                                        min_detection_confidence=min_score)) as tracker:
            for name in [None, *args.tiles]:
                rows.append(eval_detector(tracker, folder, labels, name, det_name, det_path, min_score, args))
    with PoseTracker(TrackerOptions(model="blazepose-lite", num_threads=args.threads,
                                    min_detection_confidence=args.min_score)) as tracker:
        for spec in args.tile_detector or []:
            tile_name, tile_path = spec.split("=", 1)
            with PoseTracker(TrackerOptions(model="blazepose-lite", detector_model=tile_path,
                                            num_threads=args.threads)) as on_tiles:
                for name in args.tiles:
                    row = eval_detector(tracker, folder, labels, name, "official", None, args.min_score, args,
                                        tile_detector=on_tiles.detector, tile_path=tile_path)
                    rows.append({**row, "detector": f"{row['detector']} (tiles: {tile_name})"})
    print("| detector | person-frames found (of labelled) | recall | false detections / 100 person-free frames "
          "| unmatched detections / 100 real frames | detector ms / frame (median) "
          f"| {args.model} poses matched | {args.model} poses matching nobody / 100 real frames "
          f"| {args.model} poses / 100 person-free frames |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['detector']} | {r['person_frames']} / {r['labelled']} | {100 * r['recall']:.1f}% | "
              f"{r['false_per_100_person_free']:.1f} | {r['unmatched_on_real_frames_per_100']:.1f} | "
              f"{r['detector_ms_median']:.1f} | {r['pipeline_person_frames']} | "
              f"{r['pipeline_unmatched_per_100_real']:.1f} | {r['pipeline_poses_per_100_person_free']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def inside_roi(point_px: np.ndarray, roi: Roi) -> bool:
    """Whether an image point lies inside a rotated ROI."""
    u = image_to_roi(np.asarray(point_px, np.float64).reshape(1, 2), roi)[0]
    return bool(np.all((u >= 0.0) & (u <= 1.0)))


def count_doubles(det_rois: list[Roi], det_centres_px: np.ndarray, gt_rois: list[Roi]) -> tuple[int, int, int]:
    """(labelled people matched one-to-one, unmatched detections centred inside a labelled
    person's ROI, other unmatched detections) for one frame; detections best first."""
    used = match_pairs(det_rois, gt_rois)
    matched = set(used.values())
    doubles = elsewhere = 0
    for i, c in enumerate(np.asarray(det_centres_px, np.float64).reshape(-1, 2)):
        if i in matched:
            continue
        if any(inside_roi(c, g) for g in gt_rois):
            doubles += 1
        else:
            elsewhere += 1
    return len(used), doubles, elsewhere


def cmd_doubles(args: argparse.Namespace) -> int:
    from blazepose_sdk.bench.datasets import load_labels
    from blazepose_sdk.app.video import read_image

    labelled = load_labels(args.labels)
    detectors = detectors_to_compare(args)
    print(f"{labelled.name}: {len(labelled.items)} images")
    print("| detector | threshold | people found (of labelled) | doubles on a labelled person | detections elsewhere |")
    print("|---|---:|---:|---:|---:|")
    for name, path, min_score in detectors:
        found = total = doubles = elsewhere = 0
        with PoseTracker(TrackerOptions(model="blazepose-lite", detector_model=path, num_threads=args.threads,
                                        min_detection_confidence=min_score)) as tracker:
            for item in labelled.items:
                rgb = read_image(item.path)
                gt = [r for r in (roi_from_keypoints(p.xy_px, p.visible) for p in item.persons) if r is not None]
                dets = tracker.detector(rgb)
                rois = [d.roi() for d in dets]
                centres = np.array([[0.5 * (d.box_px[0] + d.box_px[2]), 0.5 * (d.box_px[1] + d.box_px[3])]
                                    for d in dets]).reshape(-1, 2)
                f, db, el = count_doubles(rois, centres, gt)
                found, total, doubles, elsewhere = found + f, total + len(gt), doubles + db, elsewhere + el
        print(f"| {name} | {min_score} | {found} / {total} | {doubles} | {elsewhere} |")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("labels", help="ground truth from background subtraction + the landmark model")
    lab.add_argument("video")
    lab.add_argument("--out", required=True)
    lab.add_argument("--every", type=int, default=8, help="label every K-th frame")
    lab.add_argument("--skip", type=int, default=40, help="frames for the background model to settle first")
    lab.add_argument("--model", default="reference-heavy")
    lab.add_argument("--min-presence", type=float, default=0.9)
    lab.add_argument("--threads", type=int, default=1)
    lab.add_argument("--grid", type=float, default=0.0, metavar="SIDE",
                     help="also seed with upright SIDE px squares every SIDE/2 px (finds people standing still)")
    lab.add_argument("--empty", type=int, default=100, help="person-free frames to make from the background")
    lab.add_argument("--seed", type=int, default=0)
    lab.add_argument("--overlays", help="write each labelled frame with its people drawn (2x) here")
    lab.set_defaults(func=cmd_labels)
    ev = sub.add_parser("eval", help="official detector alone vs with tiles against the labels")
    ev.add_argument("labels_dir")
    ev.add_argument("--tiles", nargs="*", default=["2x2+c"])
    ev.add_argument("--min-score", type=float, default=0.5, help="the whole-frame detector's threshold")
    ev.add_argument("--tile-min-score", type=float, default=0.95, help="threshold of detections on tiles")
    ev.add_argument("--half", choices=("all", "first", "second"), default="all",
                    help="first: labelled frames < 397 and person-free frames 0-49 (to choose thresholds on); "
                         "second: the rest (to report)")
    ev.add_argument("--threads", type=int, default=1)
    ev.add_argument("--model", default="ours-lite", help="landmark pipeline for the whole-pipeline columns")
    ev.add_argument("--num-poses", type=int, default=6)
    ev.add_argument("--drop", nargs="*", help="FRAME:INDEX labels found wrong by eye")
    ev.add_argument("--detector", action="append", metavar="NAME=FILE",
                    help="also evaluate this detector .tflite (rows named NAME), e.g. a fine-tuned one")
    ev.add_argument("--detector-min-score", type=float,
                    help="the --detector files' whole-frame threshold (default: --min-score)")
    ev.add_argument("--tile-detector", action="append", metavar="NAME=FILE",
                    help="also: the official detector on the whole frame (--min-score) and this one on the "
                         "--tiles (--tile-min-score; the pipeline with detector_tiles_model)")
    ev.add_argument("--json")
    ev.set_defaults(func=cmd_eval)
    db = sub.add_parser("doubles", help="detections that find a labelled person twice (benchmark labels file)")
    db.add_argument("labels", help="labels.json in blazepose bench format")
    db.add_argument("--min-score", type=float, default=0.5)
    db.add_argument("--detector", action="append", metavar="NAME=FILE")
    db.add_argument("--detector-min-score", type=float, help="the --detector files' threshold (default: --min-score)")
    db.add_argument("--threads", type=int, default=1)
    db.set_defaults(func=cmd_doubles)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
