"""Exit clips: a real person walks out of view over a real person-free photo while the SDK's
tracker follows; the crops it keeps making after the person has gone show nobody, for certain.

    python -m training.data.exit_clips --samples PL_DIR --negatives NEG_DIR --out DIR --empty-out EMPTY \\
        --clips N [--seed S] [--model blazepose-lite] [--corpus CORPUS.json] [--empty-every K]
        [--cut | --zoom]

A tracker that holds a pose after its person has left keeps it on whatever lies behind: the car
body, the fence, the wall. ``training.data.tracker_crops --empty-out`` looks for such crops in the
train split's video, but a labeller misses small and hidden people there, and most crops it calls
empty show one. Here the background is one of ``training.data.negatives``'s photos, each looked at
by eye and person-free, so once the pasted person's last pixel has left the view nothing in the
frame is a person.

Each clip is a pure function of ``(seed, index)`` and the inputs:
- one cut-out person of the real corpus's train split (``PL_DIR``: labelled records such as the
  Heavy + TTA pseudo-labels; cut out as ``training.data.copy_paste`` does, with Heavy's
  segmentation, reserved sources refused), mirrored with probability 1/2;
- one photo of ``NEG_DIR/images`` (build ``NEG_DIR`` with ``--photos even`` so that the odd photos stay
  unseen for ``training.tracking_proxies``), seen through a random 16:9 window of it at
  ``CLIP_SIZE_PX``;
- the person pasted ``HEIGHT_RANGE`` x the view's height tall, their feet at ``FEET_RANGE`` of it
  (below 1: cut by the bottom edge, as a person near the camera), their centre starting at
  ``START_RANGE`` of the width and walking out through the left or right edge in
  ``EXIT_FRAMES_RANGE`` frames, then ``TAIL_FRAMES`` frames of the photo alone.

The SDK's tracker (``--model``, tracking mode, one person, ``CLIP_FRAME_MS`` apart) runs over each
clip as over a video. Each crop it makes goes to one of two record sets, with the alignment points
of its ROI (``training.data.tracker_crops.tracker_sample``):

    the ROI, where it lies inside the view, reaches the pasted person's pixels  -> DIR (tracker:, no labels)
    it does not: the person has gone, or the ROI sits beside them                 -> EMPTY (negative:, presence 0)

DIR's records train as ``--unlabelled-data`` (a presence teacher gives their target), EMPTY's as
``--negative-data``. With ``--cut`` the person does not walk out: halfway to the exit the clip cuts
to the next clip's person-free view (an edit or a camera switch), which stays ``CUT_TAIL_FRAMES``
frames; the crops the tracker makes there (its ROI still where the person was) go to EMPTY.
With ``--zoom`` the person stands still and the camera closes in: the clip's first frame, held,
is filmed by ``training.data.tracker_crops``' zooming camera (``zoom_affines``, ``ZOOM_STEPS`` views,
toward ``ZOOM_DIRECTIONS[clip % 4]``) on a square ROI ``ZOOM_ROI_GROWTH`` x the pasted person's box,
so the person grows past the view's edges as one walking up to the camera does (the people
``training.tracking_proxies``' zoom stand-in counts, here on the even photos' backgrounds).
``EMPTY/sheet_NN.png`` shows every empty crop as the landmark model sees it.
Both folders get a ``manifest.json`` (inputs, options, per clip: person, photo, direction, frames,
crops, empty crops).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk.errors import BlazePoseError
from training.data.copy_paste.cutouts import Cutout, LandmarkSegmenter
from training.data.copy_paste.generator import load_persons, person_weights
from training.data.copy_paste.geometry import composite
from training.data.copy_paste.inputs import CorpusIndex, find_corpus_json, list_records
from training.data.copy_paste.options import MaskThresholds
from training.data.sample import ShardedWriter, read_tfrecords
from training.data.tracker_crops import (
    EMPTY_SOURCE_PREFIX,
    ZOOM_DIRECTIONS,
    ZOOM_SIZE_PX,
    EmptyCrops,
    roi_shows_people,
    tracker_sample,
    zoom_affines,
)

CLIP_SIZE_PX = (640, 360)
CLIP_FRAME_MS = 1000.0 / 30
HEIGHT_RANGE = (0.5, 1.1)
FEET_RANGE = (0.85, 1.15)
START_RANGE = (0.3, 0.7)
EXIT_FRAMES_RANGE = (10, 36)
TAIL_FRAMES = 24
CUT_TAIL_FRAMES = 25  # frames of the other view after a cut (--cut)
WINDOW_RANGE = (0.5, 1.0)
# --zoom: the side of the square ROI the camera closes in on, as a multiple of the longer side of
# the pasted person's box (the landmark model's ROI is about 1.25 x a whole person's height)
ZOOM_ROI_GROWTH = 1.25
# pixels of the pasted alpha above this count as the person
ALPHA_MIN = 0.05
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class ExitClipsError(BlazePoseError, ValueError):
    """Bad inputs or arguments of the exit clips."""


@dataclass(frozen=True)
class ClipPlan:
    """One clip: the person (index into the cut-outs), whether mirrored, the photo (index) and
    its window (x0, y0, width in photo px; 16:9), the person's height and feet (fractions of the
    view height), start centre (fraction of the width), direction (-1 left, +1 right) and the
    frames until their last pixel has left."""

    person: int
    mirror: bool
    photo: int
    window: tuple[float, float, float]
    height: float
    feet: float
    start: float
    direction: int
    exit_frames: int


def plan_clip(rng: np.random.Generator, person_p: np.ndarray, photo_sizes: Sequence[tuple[int, int]]) -> ClipPlan:
    """Draw one clip's plan: the person by ``person_p``, the photo uniformly, the rest from the
    module's ranges."""
    person = int(rng.choice(len(person_p), p=person_p))
    photo = int(rng.integers(len(photo_sizes)))
    w, h = photo_sizes[photo]
    aspect = CLIP_SIZE_PX[0] / CLIP_SIZE_PX[1]
    full = min(float(w), h * aspect)
    win = rng.uniform(*WINDOW_RANGE) * full
    x0, y0 = rng.uniform(0, w - win), rng.uniform(0, h - win / aspect)
    return ClipPlan(person=person, mirror=bool(rng.random() < 0.5), photo=photo, window=(x0, y0, win),
                    height=float(rng.uniform(*HEIGHT_RANGE)), feet=float(rng.uniform(*FEET_RANGE)),
                    start=float(rng.uniform(*START_RANGE)), direction=int(rng.choice((-1, 1))),
                    exit_frames=int(rng.integers(EXIT_FRAMES_RANGE[0], EXIT_FRAMES_RANGE[1] + 1)))


def paste_affines(cut_size: tuple[int, int], plan: ClipPlan, size: tuple[int, int] = CLIP_SIZE_PX) -> np.ndarray:
    """(exit_frames + TAIL_FRAMES, 2, 3) maps from the cut-out's pixels (``cut_size`` = width,
    height) to the view's, one per frame: scaled to ``plan.height`` x the view height (mirrored
    with ``plan.mirror``), feet at ``plan.feet``, the centre moving linearly from ``plan.start`` x the
    width (frame 0) to where the cut-out's near edge has just passed the view's edge (frame
    ``plan.exit_frames``, the first with nothing of them in view); the tail frames keep the speed."""
    cw, ch = cut_size
    vw, vh = size
    k = plan.height * vh / ch
    half = k * cw / 2.0
    x_start = plan.start * vw
    x_gone = -half - 1.0 if plan.direction < 0 else vw + half + 1.0
    speed = (x_gone - x_start) / plan.exit_frames
    n = plan.exit_frames + TAIL_FRAMES
    out = np.zeros((n, 2, 3))
    sx = -k if plan.mirror else k
    for t in range(n):
        cx = x_start + speed * t
        # cut-out x -> view x: the cut-out's centre column lands on cx (mirrored about it)
        out[t] = [[sx, 0.0, cx - sx * cw / 2.0], [0.0, k, plan.feet * vh - k * ch]]
    return out


def view_of(photo: np.ndarray, window: tuple[float, float, float], size: tuple[int, int] = CLIP_SIZE_PX) -> np.ndarray:
    """The ``size`` view of ``photo`` (RGB) through ``window`` = (x0, y0, width), photo px."""
    x0, y0, win = window
    k = size[0] / win
    m = np.array([[k, 0.0, -k * x0], [0.0, k, -k * y0]])
    return cv2.warpAffine(photo, m, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def person_box(alpha_view: np.ndarray) -> np.ndarray:
    """(1, 4) box x0, y0, x1, y1 (view px) of the pasted person's pixels (alpha > ``ALPHA_MIN``);
    (0, 4) once none is left in the view."""
    ys, xs = np.nonzero(alpha_view > ALPHA_MIN)
    if not len(xs):
        return np.zeros((0, 4))
    return np.array([[xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0]])


def paste(cut: Cutout, background: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame RGB, alpha) of the cut-out warped by ``m`` (2, 3) onto ``background`` (a view-sized
    RGB photo), alpha in view px; the frame is ``background`` itself when none of the cut-out lands
    in view."""
    size = (background.shape[1], background.shape[0])
    alpha = cv2.warpAffine(cut.alpha, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if not (alpha > ALPHA_MIN).any():
        return background, alpha
    rgb = cv2.warpAffine(cut.rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return composite(background, rgb, alpha), alpha


def clip_frames(cut: Cutout, background: np.ndarray, affines: np.ndarray):
    """Yield (frame RGB, person box) for each affine: the cut-out warped onto ``background`` (a
    view-sized RGB photo)."""
    for m in affines:
        frame, alpha = paste(cut, background, m)
        yield frame, person_box(alpha)


def cut_index(exit_frames: int) -> int:
    """The first frame after the cut of a clip cut halfway to its exit (``--cut``): the person is
    still wholly in view on every frame before it."""
    return max(1, int(exit_frames) // 2)


def cut_clip_frames(cut: Cutout, background: np.ndarray, affines: np.ndarray, exit_frames: int,
                    other_view: np.ndarray, tail: int):
    """Yield (frame RGB, person box) of a clip cut halfway to its exit (:func:`cut_index`) to
    ``other_view`` (another clip's person-free view, same size), which then stays ``tail`` frames:
    an edit or a camera switch, where the tracker's ROI lands on a scene with nobody in it."""
    yield from clip_frames(cut, background, affines[:cut_index(exit_frames)])
    for _ in range(tail):
        yield other_view, np.zeros((0, 4))


def zoom_roi(box: np.ndarray, growth: float = ZOOM_ROI_GROWTH) -> tuple[tuple[float, float], float]:
    """((centre x, centre y), side) in view px of the square ROI on a person's (1, 4) box x0, y0,
    x1, y1 (view px): centred on it, ``growth`` x its longer side."""
    x0, y0, x1, y1 = np.asarray(box, np.float64).reshape(4)
    return ((x0 + x1) / 2.0, (y0 + y1) / 2.0), growth * max(x1 - x0, y1 - y0)


def zoom_clip_frames(cut: Cutout, background: np.ndarray, affine: np.ndarray, direction: Sequence[float]):
    """Yield (view RGB, person box in view px) of the zooming camera (``zoom_affines`` toward
    ``direction``, ``ZOOM_SIZE_PX`` views) on the still of the cut-out pasted onto ``background``
    with ``affine`` (2, 3): the person stands, the camera closes in on their ROI (:func:`zoom_roi`)
    until they spill over the view's edges. Nothing when the paste leaves nobody in view."""
    still, alpha = paste(cut, background, affine)
    box = person_box(alpha)
    if not len(box):
        return
    centre, side = zoom_roi(box[0])
    for m in zoom_affines(still.shape[1], still.shape[0], centre, side, direction):
        view = cv2.warpAffine(still, m, ZOOM_SIZE_PX, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        yield view, person_box(cv2.warpAffine(alpha, m, ZOOM_SIZE_PX, flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_CONSTANT))


def list_photos(negatives: Path) -> list[Path]:
    """The person-free photos of a ``training.data.negatives`` folder (``DIR/images``), sorted."""
    images = Path(negatives) / "images"
    photos = sorted(p for p in images.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if images.is_dir() else []
    if not photos:
        raise ExitClipsError(f"{negatives}: no photos in images/ (build it with python -m training.data.negatives)")
    return photos


def read_photo(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ExitClipsError(f"{path}: cannot be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_cutouts(samples_dirs: Sequence[str], corpus: str | None = None,
                 segmenter: str = "reference-heavy") -> tuple[list[Cutout], np.ndarray, dict]:
    """The people of ``samples_dirs`` cut out (``training.data.copy_paste``: ``segmenter``'s
    segmentation; reserved and held-out sources refused), their sampling weights (1 / sqrt of
    their scene's people) and the verdict counts."""
    samples = read_tfrecords(list_records(samples_dirs))
    if not samples:
        raise ExitClipsError("the sample files hold no records")
    with LandmarkSegmenter(segmenter) as seg:
        cuts, _records, verdicts = load_persons(samples, seg, CorpusIndex(corpus or find_corpus_json(samples_dirs)),
                                                MaskThresholds())
    if not cuts:
        raise ExitClipsError(f"no person could be cut out ({verdicts})")
    weights = person_weights([c.origin.get("scene") or c.origin.get("image_id") for c in cuts])
    return cuts, weights, {"read": len(samples), "kept": len(cuts), "verdicts": verdicts}


def clip_of(plan: ClipPlan, cuts: Sequence[Cutout], photo: np.ndarray):
    """(cut-out, background view, paste affines) of ``plan`` with ``photo`` its photo (RGB)."""
    cut = cuts[plan.person]
    return cut, view_of(photo, plan.window), paste_affines((cut.rgb.shape[1], cut.rgb.shape[0]), plan)


def planned_clips(photos: Sequence[np.ndarray], cuts: Sequence[Cutout], weights: np.ndarray, count: int, seed: int):
    """Yield ``count`` clips, each (plan, cut-out, background view, paste affines): plans drawn
    in turn (:func:`plan_clip`, one generator seeded ``seed``) over ``photos`` (decoded RGB) and
    ``cuts`` (sampled by ``weights``)."""
    rng = np.random.default_rng(seed)
    sizes = [(im.shape[1], im.shape[0]) for im in photos]
    for _ in range(count):
        plan = plan_clip(rng, weights, sizes)
        yield (plan, *clip_of(plan, cuts, photos[plan.photo]))


def track_clip(tracker, frames, clip_id: str, writer, empty: EmptyCrops, empty_every: int = 1) -> tuple[int, int, int]:
    """Track one clip (``tracker`` restarted first) and route each crop (module docstring), of
    the empty ones only every ``empty_every``-th (the clip's first, then every k-th after: a pose
    held on a photo gives many near-identical crops); returns (frames, person crops, empty crops
    made, written or not)."""
    tracker.restart()
    n = kept = gone = 0
    for t, (frame, box) in enumerate(frames):
        for pose in tracker.process(frame, timestamp_ms=t * CLIP_FRAME_MS).poses:
            shows = roi_shows_people(pose.roi, (frame.shape[1], frame.shape[0]), box)
            if shows:
                writer.write(tracker_sample(frame, pose.roi, pose.array_px, clip_id, t, pose.id))
                kept += 1
            else:
                if gone % empty_every == 0:
                    empty.add(frame, tracker_sample(frame, pose.roi, pose.array_px, clip_id, t, pose.id,
                                                    prefix=EMPTY_SOURCE_PREFIX), pose.roi)
                gone += 1
        n += 1
    return n, kept, gone


def build(samples_dirs: Sequence[str], negatives: Path, out: Path, empty_out: Path, clips: int, seed: int = 0,
          model: str = "blazepose-lite", corpus: str | None = None, segmenter: str = "reference-heavy",
          empty_every: int = 1, scene_cuts: bool = False, zoom: bool = False) -> dict:
    """Make ``clips`` exit clips, track them and write both record sets (of each clip's empty
    crops every ``empty_every``-th); returns the manifest. With ``scene_cuts`` each clip is cut halfway
    to its exit to the next clip's person-free view (:func:`cut_clip_frames`, the last clip to
    the first's). With ``zoom`` the person stands at their start and the camera closes in
    (:func:`zoom_clip_frames`, toward ``ZOOM_DIRECTIONS[i % 4]`` for clip ``i``)."""
    from blazepose_sdk.tracker import PoseTracker, TrackerOptions

    if clips < 1:
        raise ExitClipsError("--clips must be >= 1")
    if empty_every < 1:
        raise ExitClipsError("--empty-every must be >= 1")
    if Path(out).resolve() == Path(empty_out).resolve():
        raise ExitClipsError("--empty-out must be another folder than --out")
    if scene_cuts and zoom:
        raise ExitClipsError("--cut and --zoom are two kinds of clip: choose one")
    t0 = time.time()
    photos = list_photos(negatives)
    people, person_p, persons = load_cutouts(samples_dirs, corpus, segmenter)
    images = [read_photo(p) for p in photos]  # each decoded once, not once per clip
    out.mkdir(parents=True, exist_ok=True)
    empty_out.mkdir(parents=True, exist_ok=True)
    per_clip = []
    with (ShardedWriter(str(out / "exit"), None, per_shard=1000) as writer,
          ShardedWriter(str(empty_out / "empty"), None, per_shard=1000) as empty_writer,
          PoseTracker(TrackerOptions(model=model, num_poses=1)) as tracker):
        empty = EmptyCrops(empty_writer)
        planned = planned_clips(images, people, person_p, clips, seed)
        first = following = next(planned)
        kind = "zoom" if zoom else "cut" if scene_cuts else "exit"
        for i in range(clips):  # one clip ahead: a cut shows the following clip's view (the last, the first's)
            (plan, cut, background, affines), following = following, next(planned, first)
            direction = ZOOM_DIRECTIONS[i % len(ZOOM_DIRECTIONS)]
            if zoom:
                frames = zoom_clip_frames(cut, background, affines[0], direction)
            elif scene_cuts:
                frames = cut_clip_frames(cut, background, affines, plan.exit_frames, following[2], CUT_TAIL_FRAMES)
            else:
                frames = clip_frames(cut, background, affines)
            n, kept, gone = track_clip(tracker, frames, f"{kind}-{i:05d}", writer, empty, empty_every)
            per_clip.append({"clip": i, "person": cut.origin.get("image_id"), "scene": cut.origin.get("scene"),
                             "photo": photos[plan.photo].stem, "mirror": plan.mirror,
                             "window": [round(v, 1) for v in plan.window], "height": round(plan.height, 3),
                             "feet": round(plan.feet, 3), "start": round(plan.start, 3), "direction": plan.direction,
                             "exit_frames": plan.exit_frames, "frames": n, "crops": kept, "empty": gone,
                             "empty_written": -(-gone // empty_every),
                             **({"zoom_direction": list(direction)} if zoom else {})})
        sheets = empty.write_sheets(empty_out)
        files, empty_files = [Path(p).name for p in writer.paths], [Path(p).name for p in empty_writer.paths]
    common = {"made_by": "training.data.exit_clips", "tracker_model": model, "segmenter": segmenter, "seed": seed,
              "clips": clips, "scene_cuts": scene_cuts, "zoom": zoom,
              "inputs": {"samples": [str(s) for s in samples_dirs], "negatives": str(negatives),
                         "photos": [p.stem for p in photos]},
              "persons": persons,
              "options": {"size_px": list(CLIP_SIZE_PX), "frame_ms": CLIP_FRAME_MS, "height": HEIGHT_RANGE,
                          "feet": FEET_RANGE, "start": START_RANGE, "exit_frames": EXIT_FRAMES_RANGE,
                          "tail_frames": TAIL_FRAMES, "window": WINDOW_RANGE, "alpha_min": ALPHA_MIN,
                          "cut_tail_frames": CUT_TAIL_FRAMES if scene_cuts else None,
                          "zoom_roi_growth": ZOOM_ROI_GROWTH if zoom else None},
              "per_clip": per_clip, "crops": sum(c["crops"] for c in per_clip),
              "empty": sum(c["empty"] for c in per_clip), "empty_every": empty_every,
              "empty_written": sum(c["empty_written"] for c in per_clip), "seconds": round(time.time() - t0, 1)}
    (out / "manifest.json").write_text(json.dumps({**common, "files": files}, indent=1))
    (empty_out / "manifest.json").write_text(json.dumps({**common, "files": empty_files, "sheets": sheets}, indent=1))
    return common


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.exit_clips", description=__doc__.splitlines()[0])
    ap.add_argument("--samples", nargs="+", required=True, help="labelled person records of the train split")
    ap.add_argument("--negatives", type=Path, required=True,
                    help="a training.data.negatives folder (its images/ are the backgrounds)")
    ap.add_argument("--out", type=Path, required=True, help="crops that reach the person (unlabelled records)")
    ap.add_argument("--empty-out", type=Path, required=True, help="crops that show nobody (person-free records)")
    ap.add_argument("--clips", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="blazepose-lite", help="the pipeline whose tracker makes the ROIs")
    ap.add_argument("--segmenter", default="reference-heavy", help="the pipeline whose segmentation cuts people out")
    ap.add_argument("--corpus", default=None, help="the real corpus's corpus.json (default: found beside --samples)")
    ap.add_argument("--empty-every", type=int, default=1, metavar="K",
                    help="write each clip's first empty crop and every K-th after it (default: all)")
    ap.add_argument("--cut", action="store_true",
                    help="cut each clip halfway to its exit to the next clip's person-free view (an edit, a camera "
                         "switch) instead of letting the person walk out")
    ap.add_argument("--zoom", action="store_true",
                    help="the person stands still and the camera closes in on them until they spill over the view "
                         "(tracker_crops' zooming camera) instead of walking out")
    a = ap.parse_args(argv)
    try:
        m = build(a.samples, a.negatives, a.out, a.empty_out, a.clips, a.seed, a.model, a.corpus, a.segmenter,
                  a.empty_every, a.cut, a.zoom)
    except (BlazePoseError, OSError) as exc:
        print(f"exit_clips: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: m[k] for k in ("clips", "crops", "empty", "empty_written", "persons", "seconds")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
