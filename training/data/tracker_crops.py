"""Crops the tracker itself makes: run the SDK's tracker over training videos and keep, per frame
and tracked person, the ROI its landmark model ran on, as unlabelled Sample records.

    python -m training.data.tracker_crops VIDEO [VIDEO ...] --out DIR [--model blazepose-lite]
        [--num-poses 2] [--max-frames N] [--window X0 Y0 X1 Y1 ...] [--zoom-frames K]

In tracking mode a person's ROI comes from the previous frame's (smoothed) rows 33-34, with the
drift and lag of the model's own points, and from the detector only on the frame a track starts;
near a frame edge the tracker holds a person the detector no longer finds. The data engine's other
crops centre a jittered ROI on labelled points instead. These records let a student see the
tracker's ROIs: ``alignment_px`` holds the two points :func:`blazepose_sdk.geometry.roi.roi_from_alignment_points`
turns into that very ROI (:func:`~blazepose_sdk.geometry.roi.alignment_points_of_roi`), so
``training.data.augment.landmark_crop`` cuts the tracker's crop before its own jitter. The records
carry no labels (every ``landmark_mask`` 0): use them as ``python -m training.distill
--unlabelled-data DIR``, where the teacher (and ``--presence-teacher``) give the targets.

``--window X0 Y0 X1 Y1`` (fractions of the frame; repeat it) tracks a virtual camera instead of
the whole frame: every frame cut to that window before the tracker sees it, as a camera with a
narrower view of the same scene would film it. People then enter and leave through the window's
edges, and a window shorter than a person cuts them above and below (a landscape frame with a
person near the camera). Each window is tracked on its own (a new tracker) and gives its own
records (``image_id = "<source id>:w<k>:<frame>:<track id>"``).

``--zoom-frames K`` films K evenly spaced frames of each video, each held still, with a virtual
camera that zooms in: ``ZOOM_STEPS`` views (``ZOOM_SIZE_PX``) go from the whole frame to a window of
``ZOOM_END_SIDE`` x the side of the person the tracker's detector finds, centred beside that
person (one run per direction of ``ZOOM_DIRECTIONS``). The person grows past the view's edge as a
person walking towards the camera and out of view does, and the tracker's ROI grows past the view
with them. Records: ``image_id = "<source id>:z<frame>d<direction>:<step>:<track id>"``.

``--empty-out DIR`` marks the crops after an exit: a labeller (``--labeller``, default
reference-heavy) finds every person in each frame of the video, as the union of two runs, each up
to ``LABELLER_PEOPLE`` people with a 2x2+c detector tile scan at score ``LABELLER_MIN_SCORE``: one
static (every frame on its own) and one tracking (people the detector misses on a frame stay
followed; the detector alone misses the Sports2D video's people on many frames). A crop
whose ROI, where it lies inside the view, reaches no person's landmark box (grown by
``EMPTY_BOX_GROWTH`` of its longer side on each side) goes to ``DIR`` as a person-free record
(``source = "negative:tracker-empty:<source id>"``: presence 0 in training) instead of the
unlabelled output. They are the crops a tracker holds after its person has left (a pose on the
car behind them, the wall beside them). A labeller misses people; look at every one of them
(``DIR/sheet_NN.png``, each crop as the landmark model sees it) before training on them.

Only videos of the real corpus's train split are accepted (by sha256,
``training.data.corpus_sources``): the held-out and test-only media (vtest.avi, pose2sim) and
anything unknown are refused. Output: ``DIR/tracker-XXXXX-of-YYYYY.tfrecord`` (``source =
"tracker:<source id>"``, ``image_id = "<source id>:<frame>:<track id>"``) and ``DIR/manifest.json``
(model, options, per video: source, package, version, licence, frames, crops, tracks, and with
``--empty-out`` empty crops), and with ``--empty-out`` ``DIR/empty-XXXXX-of-YYYYY.tfrecord`` and
``DIR/manifest.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from blazepose_sdk.geometry.roi import Roi, alignment_points_of_roi, roi_to_image
from training.data.augment import ENGINE_TO_SDK_PX, NEGATIVE_SOURCE_PREFIX
from training.data.corpus_sources import ARCHIVES, SOURCES, TRAIN, Source
from training.data.real_corpus import sha256_bytes
from training.data.sample import NUM_LANDMARKS, Sample, ShardedWriter, encode_jpeg

SOURCE_PREFIX = "tracker:"
EMPTY_SOURCE_PREFIX = NEGATIVE_SOURCE_PREFIX + "tracker-empty:"
# --empty-out: each person's landmark box grows by this share of its longer side on each side (the
# body reaches past its joints), the ROI is sampled on a grid of this many points a side, and the
# labeller keeps up to this many people per frame.
EMPTY_BOX_GROWTH = 0.15
EMPTY_GRID = 24
LABELLER_PEOPLE = 6
LABELLER_MIN_SCORE = 0.3
SHEET_TILE_PX = 128
SHEET_COLS = 10


class TrackerCropsError(ValueError):
    """A video that may not be used, or bad arguments."""


def train_video_source(path: Path) -> Source:
    """The real corpus's train-split video source whose sha256 the file has; refuses any other
    file (held-out and test-only media included)."""
    digest = sha256_bytes(Path(path).read_bytes())
    for s in SOURCES:
        if s.sha256 == digest:
            if s.split != TRAIN or s.kind != "video":
                raise TrackerCropsError(f"{path}: {s.id} is a {s.split} {s.kind}; only train-split videos are used")
            return s
    raise TrackerCropsError(f"{path}: not a video of the real corpus's train split (sha256 {digest[:12]}...)")


def tracker_sample(frame_rgb: np.ndarray, roi, landmarks_px: np.ndarray, source_id: str, frame: int,
                   track: int, view: str = "", prefix: str = SOURCE_PREFIX) -> Sample:
    """One record: the frame, the alignment points of ``roi`` (the ROI the landmark model ran on,
    SDK image px) and the box of the model's 33 landmarks (SDK px), both in data-engine px
    (+ ``ENGINE_TO_SDK_PX``); no labels. ``view`` (a window's tag, e.g. "w0") goes into the
    image id; ``prefix`` starts the source (``EMPTY_SOURCE_PREFIX`` for a person-free crop)."""
    align = np.full((4, 2), np.nan, np.float32)
    align[:2] = alignment_points_of_roi(roi) + ENGINE_TO_SDK_PX
    xy = np.asarray(landmarks_px, np.float64)[:NUM_LANDMARKS, :2] + ENGINE_TO_SDK_PX
    h, w = frame_rgb.shape[:2]
    box = np.array([max(xy[:, 0].min(), 0), max(xy[:, 1].min(), 0), min(xy[:, 0].max(), w), min(xy[:, 1].max(), h)],
                   np.float32)
    zeros = np.zeros(NUM_LANDMARKS, np.float32)
    return Sample(image_jpeg=encode_jpeg(frame_rgb, 95), landmarks_px=np.zeros((NUM_LANDMARKS, 3), np.float32),
                  visibility=zeros, landmark_mask=zeros, box_xyxy_px=box, alignment_px=align,
                  source=f"{prefix}{source_id}",
                  image_id=":".join([source_id, *([view] if view else []), str(frame), str(track)]))


FULL_FRAME = (0.0, 0.0, 1.0, 1.0)
# The zooming virtual camera (--zoom-frames): its view size (px, 16:9), the number of views from
# the whole frame to the end window, the end window's width as a multiple of the person's ROI side
# (its height 9/16 of that), and the end window centre's offsets from the ROI centre in ROI sides.
ZOOM_SIZE_PX = (640, 360)
ZOOM_STEPS = 45
ZOOM_END_SIDE = 0.8
ZOOM_DIRECTIONS = ((0.6, 0.0), (-0.6, 0.0), (0.0, 0.6), (0.3, -0.5))
# The virtual cameras' frame interval (ms): 30 views a second.
CAMERA_FRAME_MS = 1000.0 / 30


def check_window(window: Sequence[float]) -> tuple[float, float, float, float]:
    """A window as (x0, y0, x1, y1), fractions of the frame with 0 <= x0 < x1 <= 1 and the same
    for y; raises TrackerCropsError otherwise."""
    if len(window) != 4:
        raise TrackerCropsError(f"--window takes 4 fractions X0 Y0 X1 Y1, got {list(window)}")
    x0, y0, x1, y1 = (float(v) for v in window)
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise TrackerCropsError(f"--window {x0} {y0} {x1} {y1}: need 0 <= X0 < X1 <= 1 and 0 <= Y0 < Y1 <= 1")
    return x0, y0, x1, y1


def window_slices(window: Sequence[float], width: int, height: int) -> tuple[slice, slice]:
    """(rows, columns) of a ``width`` x ``height`` frame inside ``window`` (fractions; pixel
    edges rounded, at least one pixel)."""
    x0, y0, x1, y1 = window
    c0, r0 = min(round(x0 * width), width - 1), min(round(y0 * height), height - 1)
    c1, r1 = max(round(x1 * width), c0 + 1), max(round(y1 * height), r0 + 1)
    return slice(r0, min(r1, height)), slice(c0, min(c1, width))


def camera_affines(start: Sequence[float], end: Sequence[float], steps: int,
                   size: tuple[int, int] = ZOOM_SIZE_PX) -> np.ndarray:
    """(steps, 2, 3) affine maps from a frame to the views of a virtual camera (``size`` px) whose
    window, (centre x, centre y, width) in frame px with the aspect of ``size``, goes linearly from
    ``start`` to ``end`` (the window may leave the frame)."""
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    out = np.zeros((steps, 2, 3))
    for i, a in enumerate(np.linspace(0.0, 1.0, steps)):
        cx, cy, w = (1.0 - a) * start + a * end
        k = size[0] / w
        out[i] = [[k, 0.0, size[0] / 2.0 - k * cx], [0.0, k, size[1] / 2.0 - k * cy]]
    return out


def zoom_affines(width: int, height: int, roi_center_px: Sequence[float], roi_side_px: float,
                 direction: Sequence[float], steps: int = ZOOM_STEPS,
                 size: tuple[int, int] = ZOOM_SIZE_PX) -> np.ndarray:
    """The zooming camera (:func:`camera_affines`) on a ``width`` x ``height`` frame: from the
    largest window centred in the frame to one ``ZOOM_END_SIDE`` x ``roi_side_px`` wide centred
    at the ROI centre + ``direction`` x ``roi_side_px`` (frame px)."""
    full_w = min(float(width), height * size[0] / size[1])
    end = (roi_center_px[0] + direction[0] * roi_side_px, roi_center_px[1] + direction[1] * roi_side_px,
           ZOOM_END_SIDE * roi_side_px)
    return camera_affines((width / 2.0, height / 2.0, full_w), end, steps, size)


def people_boxes(people_px: Sequence[np.ndarray], growth: float = EMPTY_BOX_GROWTH) -> np.ndarray:
    """(P, 4) boxes x0, y0, x1, y1 around each person's landmarks ((N, 2+) arrays, px), grown by
    ``growth`` x the box's longer side on each side; (0, 4) for nobody."""
    boxes = np.zeros((len(people_px), 4))
    for i, xy in enumerate(people_px):
        xy = np.asarray(xy, np.float64)[:, :2]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = growth * float((hi - lo).max())
        boxes[i] = [lo[0] - pad, lo[1] - pad, hi[0] + pad, hi[1] + pad]
    return boxes


def roi_shows_people(roi: Roi, view_size: tuple[int, int], boxes: np.ndarray, grid: int = EMPTY_GRID) -> bool:
    """Whether the part of ``roi`` (view px) inside the ``view_size`` (width, height px) view
    reaches one of ``boxes`` ((P, 4) x0, y0, x1, y1, view px), tested on a ``grid`` x ``grid``
    lattice of ROI points. Beyond the view the crop shows padding, never a person."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    u = (np.arange(grid) + 0.5) / grid
    pts = roi_to_image(np.stack(np.meshgrid(u, u), axis=-1).reshape(-1, 2), roi)
    w, h = view_size
    pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    if not len(pts) or not len(boxes):
        return False
    x, y = pts[:, None, 0], pts[:, None, 1]
    return bool(((x >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y >= boxes[:, 1]) & (y <= boxes[:, 3])).any())


def label_people(labeller, frame_rgb: np.ndarray, t_ms: float | None = None) -> list[np.ndarray]:
    """Every person ``labeller`` (a PoseTracker) gives on ``frame_rgb``: their (33, 2) landmarks
    (px); ``t_ms`` is the frame's timestamp for a tracking labeller."""
    result = labeller.process(frame_rgb) if t_ms is None else labeller.process(frame_rgb, timestamp_ms=t_ms)
    return [np.asarray(p.array_px, np.float64)[:NUM_LANDMARKS, :2] for p in result.poses]


def labeller_options(model: str, static: bool):
    """The options of a ``--empty-out`` labeller run: ``model``, up to ``LABELLER_PEOPLE`` people,
    a 2x2+c tile scan for small people, scores down to ``LABELLER_MIN_SCORE``."""
    from blazepose_sdk.tracker import TrackerOptions

    return TrackerOptions(model=model, static_image_mode=static, num_poses=LABELLER_PEOPLE, detector_tiles="2x2+c",
                          detector_tiles_every=1, detect_every=1, min_detection_confidence=LABELLER_MIN_SCORE,
                          min_tracking_confidence=LABELLER_MIN_SCORE, detector_tiles_min_score=LABELLER_MIN_SCORE)


def label_video(path: Path, model: str) -> list[list[np.ndarray]]:
    """Per frame of ``path``, everyone a static and a tracking run of ``model``
    (:func:`labeller_options`) find: the union of their (33, 2) landmark arrays (px)."""
    from blazepose_sdk.app.video import VideoReader
    from blazepose_sdk.tracker import PoseTracker

    with (PoseTracker(labeller_options(model, True)) as still, PoseTracker(labeller_options(model, False)) as follow,
          VideoReader(path) as reader):
        return [label_people(still, frame) + label_people(follow, frame, t_ms) for t_ms, frame in reader]


class EmptyCrops:
    """Where ``--empty-out`` sends the crops whose ROI shows nobody: ``writer`` (person-free
    records), the labelled people's boxes of the current view (view px, set by the caller) and a
    ``SHEET_TILE_PX`` thumbnail of each crop as the landmark model sees it, for the check by eye."""

    def __init__(self, writer):
        self.writer = writer
        self.boxes = np.zeros((0, 4))
        self.tiles: list[np.ndarray] = []

    def add(self, view: np.ndarray, sample: Sample, roi: Roi) -> None:
        import cv2

        from blazepose_sdk.geometry.image import crop_roi

        self.writer.write(sample)
        tile = np.ascontiguousarray(crop_roi(view, roi, SHEET_TILE_PX, (0.0, 255.0))[0].astype(np.uint8))
        cv2.putText(tile, str(len(self.tiles)), (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
        self.tiles.append(tile)

    def write_sheets(self, out: Path, cols: int = SHEET_COLS) -> list[str]:
        """PNG grids of the thumbnails, ``cols`` x ``cols`` a sheet, numbered as the records were
        written (``sheet_00.png``, ...); returns their names."""
        import cv2

        from training.data.contact_sheet import tile_grid

        names = []
        per = cols * cols
        for k in range(0, len(self.tiles), per):
            sheet = tile_grid(self.tiles[k:k + per], cols)
            names.append(f"sheet_{k // per:02d}.png")
            cv2.imwrite(str(out / names[-1]), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        return names


def write_poses(writer, tracker, view: np.ndarray, t_ms: float, source_id: str, frame: int, tag: str,
                ids: set[int], empty: EmptyCrops | None = None) -> int:
    """Track ``view`` (one frame of a stream) and write one record per person the tracker gives;
    their ids go into ``ids``. With ``empty``, a crop whose ROI reaches none of ``empty.boxes``
    goes to ``empty.writer`` as a person-free record instead. Returns how many records were
    written to ``writer``."""
    poses = tracker.process(view, timestamp_ms=t_ms).poses
    size = (view.shape[1], view.shape[0])
    written = 0
    for pose in poses:
        ids.add(pose.id)
        if empty is not None and not roi_shows_people(pose.roi, size, empty.boxes):
            empty.add(view, tracker_sample(view, pose.roi, pose.array_px, source_id, frame, pose.id, tag,
                                           EMPTY_SOURCE_PREFIX), pose.roi)
            continue
        writer.write(tracker_sample(view, pose.roi, pose.array_px, source_id, frame, pose.id, tag))
        written += 1
    return written


def track_zoom(writer, frame_rgb: np.ndarray, source: Source, frame_index: int, finder, tracker,
               empty: EmptyCrops | None = None, people: Sequence[np.ndarray] = ()) -> tuple[int, int, int]:
    """Film the still ``frame_rgb`` with the zooming camera, once per direction (``tracker``
    restarted for each, as a tracker just built), toward the best person ``finder`` (a static
    tracker) finds (nothing when it finds nobody); one record per tracked person and view (with
    ``empty``, crops that show none of ``people``, the frame's labelled people in frame px, go there);
    returns (views, crops, tracks)."""
    import cv2

    person = finder.process(frame_rgb).pose
    if person is None:
        return 0, 0, 0
    h, w = frame_rgb.shape[:2]
    centre, side = (person.roi.center_x_px, person.roi.center_y_px), person.roi.size_px
    views = crops = tracks = 0
    for d, direction in enumerate(ZOOM_DIRECTIONS):
        tracker.restart()
        ids: set[int] = set()
        for step, m in enumerate(zoom_affines(w, h, centre, side, direction)):
            view = cv2.warpAffine(frame_rgb, m, ZOOM_SIZE_PX, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            if empty is not None:
                empty.boxes = people_boxes([xy @ m[:, :2].T + m[:, 2] for xy in people])
            crops += write_poses(writer, tracker, view, step * CAMERA_FRAME_MS, source.id, step, f"z{frame_index}d{d}",
                                 ids, empty)
            views += 1
        tracks += len(ids)
    return views, crops, tracks


def zoom_video(writer, path: Path, source: Source, count: int, tracker, empty: EmptyCrops | None = None,
               people: Sequence[list[np.ndarray]] | None = None) -> tuple[int, int, int]:
    """:func:`track_zoom` on ``count`` evenly spaced frames of ``path``, with ``tracker`` and a
    static tracker of its pipeline as the finder; returns the summed (views, crops, tracks)."""
    import dataclasses

    from blazepose_sdk.app.video import VideoReader
    from blazepose_sdk.tracker import PoseTracker

    with VideoReader(path) as reader:
        frames = [frame for _, frame in reader]
    total = np.zeros(3, int)
    with PoseTracker(dataclasses.replace(tracker.options, static_image_mode=True, num_poses=1)) as finder:
        for i in np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int)):
            total += track_zoom(writer, frames[i], source, int(i), finder, tracker, empty,
                                people[i] if people is not None else ())
    return tuple(int(v) for v in total)


def track_view(writer, path: Path, source: Source, window: Sequence[float], view_tag: str, tracker,
               max_frames: int | None, empty: EmptyCrops | None = None,
               people: Sequence[list[np.ndarray]] | None = None) -> tuple[int, int, int]:
    """Track ``window`` of every frame of ``path`` with ``tracker`` (restarted first, as a tracker
    just built) and write one record per tracked person and frame to ``writer`` (with ``empty``,
    crops that show none of ``people[frame]``, the labelled people in frame px, go there);
    returns (frames, crops, tracks)."""
    from blazepose_sdk.app.video import VideoReader

    tracker.restart()
    frames = crops = 0
    tracks: set[int] = set()
    rows = cols = None
    with VideoReader(path) as reader:
        for t_ms, frame in reader:
            if max_frames is not None and frames >= max_frames:
                break
            if rows is None:  # a video's frames share one size
                rows, cols = window_slices(window, frame.shape[1], frame.shape[0])
            view = np.ascontiguousarray(frame[rows, cols])
            if empty is not None:
                offset = np.array([cols.start, rows.start], np.float64)
                empty.boxes = people_boxes([xy - offset for xy in people[frames]])
            crops += write_poses(writer, tracker, view, t_ms, source.id, frames, view_tag, tracks, empty)
            frames += 1
    return frames, crops, len(tracks)


def source_entry(source: Source) -> dict:
    """A video's provenance in the manifest: source id, registry, package, version, licence,
    file and sha256."""
    archive = ARCHIVES[source.archive]
    return {"source": source.id, "registry": archive.registry, "package": archive.package, "version": archive.version,
            "licence": source.licence or archive.licence, "file": source.member, "sha256": source.sha256}


def build(videos: Sequence[Path], out: Path, model: str = "blazepose-lite", num_poses: int = 2,
          max_frames: int | None = None, windows: Sequence[Sequence[float]] | None = None,
          zoom_frames: int | None = None, empty_out: Path | None = None,
          labeller: str = "reference-heavy") -> dict:
    """Track every video with ``model`` (tracking mode, ``num_poses`` people), once per window
    (the whole frame when ``windows`` is None), or with the zooming camera on ``zoom_frames``
    frames of each, and write one record per tracked person and frame; returns the manifest.
    The models load once; each window or camera run is tracked as by a tracker just built.
    With ``empty_out``, crops that show none of the people ``labeller`` finds (:func:`label_video`)
    go there as person-free records, with contact sheets and their own manifest."""
    import contextlib

    from blazepose_sdk.tracker import PoseTracker, TrackerOptions

    if zoom_frames is not None and (zoom_frames < 1 or windows or max_frames is not None):
        raise TrackerCropsError("--zoom-frames takes a count >= 1 and goes with neither --window nor --max-frames")
    if empty_out is not None and Path(empty_out).resolve() == Path(out).resolve():
        raise TrackerCropsError("--empty-out must be another folder than --out")
    windows = [check_window(w) for w in windows] if windows else None
    sources = [train_video_source(v) for v in videos]
    out.mkdir(parents=True, exist_ok=True)
    per_video = []
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(ShardedWriter(str(out / "tracker"), None, per_shard=500))
        tracker = stack.enter_context(PoseTracker(TrackerOptions(model=model, num_poses=num_poses)))
        empty = None
        if empty_out is not None:
            Path(empty_out).mkdir(parents=True, exist_ok=True)
            empty = EmptyCrops(stack.enter_context(ShardedWriter(str(Path(empty_out) / "empty"), None, per_shard=500)))
        for path, source in zip(videos, sources):
            people = label_video(path, labeller) if empty is not None else None
            if zoom_frames is not None:
                before = len(empty.tiles) if empty is not None else 0
                views, crops, tracks = zoom_video(writer, path, source, zoom_frames, tracker, empty, people)
                entry = {**source_entry(source), "zoom_frames": zoom_frames, "frames": views, "crops": crops,
                         "tracks": tracks}
                per_video.append({**entry, "empty": len(empty.tiles) - before} if empty is not None else entry)
                continue
            for k, window in enumerate(windows or [FULL_FRAME]):
                before = len(empty.tiles) if empty is not None else 0
                frames, crops, tracks = track_view(writer, path, source, window, f"w{k}" if windows else "", tracker,
                                                   max_frames, empty, people)
                entry = {**source_entry(source), "frames": frames, "crops": crops, "tracks": tracks}
                if empty is not None:
                    entry["empty"] = len(empty.tiles) - before
                per_video.append({**entry, "window": list(window)} if windows else entry)
    zoom = None if zoom_frames is None else {"frames": zoom_frames, "size_px": list(ZOOM_SIZE_PX), "steps": ZOOM_STEPS,
                                             "end_side": ZOOM_END_SIDE, "directions": [list(d) for d in ZOOM_DIRECTIONS]}
    manifest = {"model": model, "num_poses": num_poses, "max_frames": max_frames, "windows": windows, "zoom": zoom,
                "videos": per_video, "records": sum(v["crops"] for v in per_video),
                "files": [Path(p).name for p in writer.paths]}
    if empty is not None:
        manifest["empty_out"] = str(empty_out)
        sheets = empty.write_sheets(Path(empty_out))
        (Path(empty_out) / "manifest.json").write_text(json.dumps({
            "made_by": "training.data.tracker_crops --empty-out", "tracker_model": model, "labeller": labeller,
            "labeller_people": LABELLER_PEOPLE, "labeller_min_score": LABELLER_MIN_SCORE,
            "labeller_runs": "static + tracking, detector tiles 2x2+c",
            "box_growth": EMPTY_BOX_GROWTH, "grid": EMPTY_GRID, "windows": windows, "zoom": zoom,
            "videos": per_video, "records": len(empty.tiles), "sheets": sheets,
            "files": [Path(p).name for p in empty.writer.paths]}, indent=1))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.tracker_crops", description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="+", type=Path, help="train-split videos of the real corpus (checked by sha256)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default="blazepose-lite", help="the pipeline whose tracker makes the ROIs")
    ap.add_argument("--num-poses", type=int, default=2)
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--window", type=float, nargs=4, action="append", metavar=("X0", "Y0", "X1", "Y1"),
                    help="track this part of the frame (fractions) as its own virtual camera; repeat for more")
    ap.add_argument("--zoom-frames", type=int, default=None, metavar="K",
                    help="instead: film K evenly spaced frames of each video, held still, with a camera that zooms in "
                         "beside the person until they leave the view")
    ap.add_argument("--empty-out", type=Path, default=None, metavar="DIR",
                    help="write the crops that show none of the labelled people here, as person-free records "
                         "(presence 0 in training), with contact sheets to check by eye")
    ap.add_argument("--labeller", default="reference-heavy",
                    help="with --empty-out: the pipeline that finds every person in each frame (a static and a "
                         "tracking run, their union)")
    a = ap.parse_args(argv)
    try:
        manifest = build(a.videos, a.out, a.model, a.num_poses, a.max_frames, a.window, a.zoom_frames,
                         a.empty_out, a.labeller)
    except (TrackerCropsError, OSError) as e:
        ap.exit(2, f"error: {e}\n")
    print(json.dumps({k: manifest[k] for k in ("model", "records", "videos") + (("empty_out",) if a.empty_out else ())},
                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
