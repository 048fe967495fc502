"""Train-split stand-ins for the gate's people-kept and ghost axes: choose a presence head, an
offset or a tracker threshold here, then look at the gate's held-out footage once.

    python -m training.tracking_proxies --corpus /tmp/student/real_corpus --negatives /tmp/student/negatives \\
        --model blazepose-lite --model NAME=DET.tflite+LM.tflite[@OPTIONS.json] [--out FILE.json]

`blazepose bench ghosts` counts the person frames a tracker keeps through a held-out clip's exits and
the poses it leaves on its person-free frames. Picking anything on that clip would tune on the test,
so these measures use training data only, each in tracking mode as `blazepose run` (rows as in
`blazepose bench video`: a pipeline name or DET+LM, optionally @OPTIONS.json):

- **zoom**: every train-split still of the real corpus filmed by ``tracker_crops``' zooming camera
  (``zoom_affines``, its 4 directions, 45 views each): frames with a pose. The person ends up near
  the camera and leaves the view, as on the gate clip's worst exits. (Sports2D's frames are left
  out: ``tracker_crops --zoom-frames`` films them for training.)
- **leave**: the same stills filmed by a camera that zooms in and then leaves the person
  (``LEAVE_DIRECTIONS``: its last window is beside them, 0.8 ROI sides wide): frames with a pose
  while some of the person's landmarks (the static pass's) are in view, and poses held once none
  is, a pose left on the background after its person went (the gate clip's survival after exits).
- **windows**: Sports2D's train video through ``PROXY_WINDOWS``, 12 windows other than those
  docs/data.md builds training crops from: person-frames with up to 2 people per window.
- **pans**: each person-free photo of ``training.data.negatives`` filmed by a camera that pans and
  zooms in (``PAN_STEPS`` views): poses per 100 views, also apart for the photos of even and of odd
  index, so a model trained on one half (``negatives --photos even``) is judged on the other.
- **exits** (with ``--exit-samples``): ``--exit-clips`` clips of ``training.data.exit_clips`` on the
  photos of odd index (seed ``EXIT_SEED``): a train-split person walks out of a person-free photo.
  Frames with a pose while some of them is in view, and poses held after their last pixel left
  (the gate clip's survival after exits, on backgrounds a model trained on the even photos never saw).
- **cuts** (with ``--exit-samples``): each exit clip cut, halfway to its exit, to the next clip's
  empty view for ``exit_clips.CUT_TAIL_FRAMES`` frames (an edit or a camera switch, as the gate clip's second
  exit): clips with a pose on the last frame before the cut, and poses held after it.

Counts are per row, beside the rows it ran with; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.data.tracker_crops import (
    CAMERA_FRAME_MS,
    ZOOM_DIRECTIONS,
    ZOOM_SIZE_PX,
    camera_affines,
    window_slices,
    zoom_affines,
)

# Windows (fractions of the frame) over Sports2D's demo.mp4, none of them a training window.
PROXY_WINDOWS = ((0.40, 0.30, 0.70, 0.70), (0.25, 0.60, 0.55, 1.0), (0.50, 0.20, 0.80, 0.60),
                 (0.0, 0.40, 0.30, 0.80), (0.70, 0.30, 1.0, 0.70), (0.30, 0.0, 0.60, 0.40),
                 (0.15, 0.35, 0.45, 0.65), (0.55, 0.55, 0.85, 0.95), (0.05, 0.0, 0.65, 0.45),
                 (0.35, 0.60, 0.95, 1.0), (0.20, 0.20, 0.80, 0.55), (0.45, 0.35, 0.65, 0.85))
SPORTS2D_VIDEO = "media/sports2d-demo/demo.mp4"
# The leaving camera's last window centres, from the person's ROI centre in ROI sides: far enough
# that none of the person is in view at the end (the window is 0.8 sides wide, 0.45 high).
LEAVE_DIRECTIONS = ((1.3, 0.0), (-1.3, 0.0), (0.0, 1.0), (0.8, -0.9))
PAN_STEPS = 60
EXIT_SEED = 1000


def pan_affines(width: int, height: int, steps: int = PAN_STEPS, size: tuple[int, int] = ZOOM_SIZE_PX) -> np.ndarray:
    """A camera over a ``width`` x ``height`` photo whose window (aspect of ``size``) shrinks from
    0.8 to 0.5 of the largest one while it moves from the lower left (10 %, 80 % of the free
    room) to the upper right (90 %, 20 %); :func:`camera_affines`."""
    full_w = min(float(width), height * size[0] / size[1])

    def window(scale, fx, fy):
        w = full_w * scale
        h = w * size[1] / size[0]
        return (w / 2 + fx * (width - w), h / 2 + fy * (height - h), w)

    return camera_affines(window(0.8, 0.1, 0.8), window(0.5, 0.9, 0.2), steps, size)


def film(image_rgb: np.ndarray, affines: np.ndarray, size: tuple[int, int] = ZOOM_SIZE_PX) -> list[np.ndarray]:
    """The views of ``image_rgb`` through each affine map (black beyond the photo)."""
    import cv2

    return [cv2.warpAffine(image_rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            for m in affines]


def pose_counts(tracker, frames: Sequence[np.ndarray]) -> np.ndarray:
    """(frames,) poses per frame from ``tracker`` restarted first (as a tracker just built), the
    frames stamped ``CAMERA_FRAME_MS`` apart."""
    tracker.restart()
    return np.array([len(tracker.process(f, timestamp_ms=i * CAMERA_FRAME_MS).poses) for i, f in enumerate(frames)])


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"{path}: not an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def train_stills(corpus: Path) -> list[Path]:
    """The real corpus's train-split stills (from its corpus.json), Sports2D's video frames left out."""
    from training.data.corpus_sources import TRAIN

    frames = json.loads((corpus / "corpus.json").read_text())["frames"]
    return sorted(corpus / f["image"] for f in frames if f["split"] == TRAIN and f["kind"] == "image")


def in_view(affines: np.ndarray, points_px: np.ndarray, size: tuple[int, int] = ZOOM_SIZE_PX) -> np.ndarray:
    """(views,) how many of ``points_px`` (N, 2 frame px) each view shows."""
    xy = np.einsum("vij,nj->vni", affines, np.c_[points_px, np.ones(len(points_px))])
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < size[0]) & (xy[..., 1] >= 0) & (xy[..., 1] < size[1])
    return inside.sum(1)


def camera_runs(stills: Sequence[Path], finder, cameras: dict[str, Sequence]) -> dict[str, list]:
    """Per tag of ``cameras`` (tag -> directions), (name, still, the camera's affines, the person's
    landmarks in view per view) of the zooming camera (:func:`zoom_affines`) toward each direction
    on each still, beside the best person ``finder`` (a static tracker) sees (its landmarks with
    visibility >= 0.5 are the person); stills where it sees nobody give none. Each still is read
    and searched once; its views are filmed when a row runs (:func:`film`), not kept."""
    runs: dict[str, list] = {tag: [] for tag in cameras}
    for path in stills:
        image = read_rgb(path)
        person = finder.process(image).pose
        if person is None:
            continue
        h, w = image.shape[:2]
        points = person.array_px[person.array_px[:, 3] >= 0.5, :2]
        centre, side = (person.roi.center_x_px, person.roi.center_y_px), person.roi.size_px
        for tag, directions in cameras.items():
            for d, direction in enumerate(directions):
                affines = zoom_affines(w, h, centre, side, direction)
                runs[tag].append((f"{path.parent.name}:{tag}{d}", image, affines, in_view(affines, points)))
    return runs


def window_views(video: Path) -> list[list[np.ndarray]]:
    """The frames of ``video`` cut to each of ``PROXY_WINDOWS``."""
    from blazepose_sdk.app.video import VideoReader

    with VideoReader(video) as reader:
        frames = [f for _, f in reader]
    h, w = frames[0].shape[:2]
    views = []
    for window in PROXY_WINDOWS:
        rows, cols = window_slices(window, w, h)
        views.append([np.ascontiguousarray(f[rows, cols]) for f in frames])
    return views


def negative_photos(negatives: Path) -> list[Path]:
    """The person-free photos of a training.data.negatives build, by id (the manifest's order)."""
    manifest = json.loads((negatives / "manifest.json").read_text())
    images = {p.stem: p for p in (negatives / "images").iterdir()}
    return [images[s["id"]] for s in manifest["sources"]]


def exit_runs(samples: Sequence[str], corpus: Path, photos: Sequence[np.ndarray], clips: int) -> list:
    """``clips`` exit clips (``training.data.exit_clips``, seed ``EXIT_SEED``) on ``photos``
    (decoded RGB): (cut-out, background view, paste affines, exit frames) each, filmed when a row
    runs."""
    from training.data import exit_clips

    cuts, weights, _ = exit_clips.load_cutouts(samples, str(corpus / "corpus.json"))
    return [(cut, background, affines, plan.exit_frames)
            for plan, cut, background, affines in exit_clips.planned_clips(photos, cuts, weights, clips, EXIT_SEED)]


def exit_counts(tracker, runs) -> tuple[int, int, int, int]:
    """(frames with a pose while the person is in view, such frames, poses held after they left,
    frames after) over :func:`exit_runs`' clips, each tracked as by a tracker just built."""
    from training.data.exit_clips import CLIP_FRAME_MS, clip_frames

    kept = shown = held = gone = 0
    for cut, background, affines, exit_frames in runs:
        tracker.restart()
        for t, (frame, _) in enumerate(clip_frames(cut, background, affines)):
            has = bool(tracker.process(frame, timestamp_ms=t * CLIP_FRAME_MS).poses)
            if t < exit_frames:
                kept, shown = kept + has, shown + 1
            else:
                held, gone = held + has, gone + 1
    return kept, shown, held, gone


def cut_counts(tracker, runs, cut_frames: int | None = None) -> tuple[int, int, int]:
    """(clips with a pose on the frame before the cut, poses held after the cut, frames after) over
    :func:`exit_runs`' clips, each cut halfway to its exit to the empty view of the next clip
    (cyclic) for ``cut_frames`` frames (default: the ``--cut`` training clips' ``CUT_TAIL_FRAMES``;
    ``training.data.exit_clips.cut_clip_frames``, as those clips on the even photos); each tracked
    as by a tracker just built."""
    from training.data.exit_clips import CLIP_FRAME_MS, CUT_TAIL_FRAMES, cut_clip_frames, cut_index

    cut_frames = CUT_TAIL_FRAMES if cut_frames is None else cut_frames
    tracked = held = after = 0
    for i, (cut, background, affines, exit_frames) in enumerate(runs):
        tracker.restart()
        before = cut_index(exit_frames)
        frames = cut_clip_frames(cut, background, affines, exit_frames, runs[(i + 1) % len(runs)][1], cut_frames)
        for t, (frame, _) in enumerate(frames):
            has = bool(tracker.process(frame, timestamp_ms=t * CLIP_FRAME_MS).poses)
            if t == before - 1:
                tracked += has
            elif t >= before:
                held, after = held + has, after + 1
    return tracked, held, after


def measure(rows, zoom, leave, windows, pans, exits=()) -> list[dict]:
    """Per row: zoom frames with a pose, leave frames with a pose while the person is in view and
    after they left, window person-frames, pan poses (all, even, odd photos), and with ``exits``
    (:func:`exit_runs`) the exit clips' frames kept and held after. ``zoom`` and ``leave`` are
    :func:`camera_runs`' runs, ``pans`` (photo, affines) pairs: their views are filmed for each
    row as it runs, so only one run's views are in memory at a time."""
    import dataclasses

    from blazepose_sdk.bench.video import row_options
    from blazepose_sdk.tracker import PoseTracker

    out = []
    for row in rows:
        options = row_options(row, static=False, threads=None)
        with PoseTracker(options) as tracker, PoseTracker(dataclasses.replace(options, num_poses=2)) as two:
            zoom_counts = [int(pose_counts(tracker, film(image, affines)).sum()) for _, image, affines, _ in zoom]
            kept = left = shown = gone = 0
            for _, image, affines, visible in leave:
                flags = pose_counts(tracker, film(image, affines)) > 0
                kept += int(flags[visible > 0].sum())
                left += int(flags[visible == 0].sum())
                shown += int((visible > 0).sum())
                gone += int((visible == 0).sum())
            window_counts = [int(pose_counts(two, views).sum()) for views in windows]
            pan_counts = [int(pose_counts(tracker, film(image, affines)).sum()) for image, affines in pans]
            exit_kept, exit_shown, exit_held, exit_gone = exit_counts(tracker, exits)
            cut_tracked, cut_held, cut_after = cut_counts(tracker, exits) if exits else (0, 0, 0)
        pan_frames = sum(len(affines) for _, affines in pans)
        out.append({"row": row.name, "zoom_frames": sum(len(affines) for _, _, affines, _ in zoom),
                    "zoom_pose_frames": sum(zoom_counts),
                    "leave_person_frames": shown, "leave_kept": kept, "leave_gone_frames": gone, "leave_held_after": left,
                    "window_person_frames": sum(window_counts), "pan_frames": pan_frames, "pan_poses": sum(pan_counts),
                    "pan_per_100": round(100.0 * sum(pan_counts) / max(pan_frames, 1), 1),
                    "pan_poses_even": sum(pan_counts[0::2]), "pan_poses_odd": sum(pan_counts[1::2]),
                    "exit_clips": len(exits), "exit_person_frames": exit_shown, "exit_kept": exit_kept,
                    "exit_gone_frames": exit_gone, "exit_held_after": exit_held,
                    "cut_tracked": cut_tracked, "cut_held_after": cut_held, "cut_frames_after": cut_after,
                    "per_zoom_run": zoom_counts, "per_window": window_counts, "per_photo": pan_counts})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from blazepose_sdk.bench.rows import parse_row
    from blazepose_sdk.errors import BlazePoseError
    from blazepose_sdk.tracker import PoseTracker, TrackerOptions

    ap = argparse.ArgumentParser(prog="python -m training.tracking_proxies", description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="the real corpus (training.data.real_corpus --out)")
    ap.add_argument("--negatives", type=Path, required=True, help="person-free photos (training.data.negatives --out)")
    ap.add_argument("--model", action="append", required=True, metavar="ROW",
                    help="a pipeline name or NAME=DET.tflite+LM.tflite, optionally @OPTIONS.json; repeat")
    ap.add_argument("--exit-samples", nargs="*", default=[], metavar="DIR",
                    help="labelled train-split people (e.g. the Heavy + TTA pseudo-labels): adds the exit clips")
    ap.add_argument("--exit-clips", type=int, default=200, help="exit clips on the odd photos (with --exit-samples)")
    ap.add_argument("--out", type=Path, default=None, help="also write the rows to this JSON file")
    a = ap.parse_args(argv)
    try:
        rows = [parse_row(spec) for spec in a.model]
        with PoseTracker(TrackerOptions(static_image_mode=True)) as finder:
            runs = camera_runs(train_stills(a.corpus), finder, {"d": ZOOM_DIRECTIONS, "l": LEAVE_DIRECTIONS})
        windows = window_views(a.corpus / SPORTS2D_VIDEO)
        pans = []
        for path in negative_photos(a.negatives):
            image = read_rgb(path)
            pans.append((image, pan_affines(image.shape[1], image.shape[0])))
        # the odd photos, decoded once for the pans
        exits = (exit_runs(a.exit_samples, a.corpus, [image for image, _ in pans[1::2]], a.exit_clips)
                 if a.exit_samples else [])
        result = measure(rows, runs["d"], runs["l"], windows, pans, exits)
    except (BlazePoseError, OSError, KeyError, ValueError) as e:
        ap.exit(2, f"error: {e}\n")
    for r in result:
        print(f"{r['row']:<24} zoom {r['zoom_pose_frames']:>5}/{r['zoom_frames']}  leave {r['leave_kept']:>4}/"
              f"{r['leave_person_frames']} held after {r['leave_held_after']:>3}/{r['leave_gone_frames']}  "
              f"windows {r['window_person_frames']:>5}  "
              f"pans {r['pan_per_100']:>5.1f}/100 (even {r['pan_poses_even']}, odd {r['pan_poses_odd']})"
              + (f"  exits {r['exit_kept']}/{r['exit_person_frames']} held after {r['exit_held_after']}/"
                 f"{r['exit_gone_frames']}  cuts tracked {r['cut_tracked']}/{r['exit_clips']} held after "
                 f"{r['cut_held_after']}/{r['cut_frames_after']}" if exits else ""))
    if a.out is not None:
        a.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
