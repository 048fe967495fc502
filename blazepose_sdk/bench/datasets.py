"""Frames and ground truth for the suites.

* :func:`pan_clip_frames`: a synthetic video, a virtual camera panning, zooming and rolling over
  basketball1.png while keeping the full-body player in view (a meaningful detector re-run rate).
* Labelled image sets (:class:`LabelledSet`) from three kinds of ground truth:
  a COCO keypoint annotation file (:func:`load_coco`), a BlazePose-33 labels JSON
  (:func:`load_labels`, written by :func:`save_labels`), or pseudo-labels from a reference model
  (:func:`pseudo_label_images`, :func:`build_derived_set`).

The *derived set* is what the accuracy suite uses when no labelled data is given. Base images
(basketball1.png and person crops of vtest.avi frames, upscaled) are labelled once by the
reference model (default reference-heavy, static image mode); each base image is then rotated,
flipped, cropped and downscaled, and its labels are mapped through the same known transform.
The models are scored on the transformed images, so even the labelling model is tested on
inputs it did not label. These are pseudo-labels, not human annotation: scores measure
agreement with the reference model, and the report says so.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from blazepose_sdk.geometry.roi import Roi
from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, COCO17_NAMES, COCO17_SKELETON, FLIP_INDEX, LANDMARK_NAMES
from blazepose_sdk.app.video import VideoReader, read_image, write_image

# -- synthetic clip --------------------------------------------------------------------------
PAN_CLIP_SOURCE = "basketball1.png"
PAN_CLIP_FPS = 30.0
PAN_CLIP_SIZE = (288, 384)  # output width, height (portrait, like a phone held upright)
# Centre (pixels) of the full-body player at the left of basketball1.png, read off the image.
PAN_CLIP_PERSON_CENTER = (102.0, 292.0)


def pan_clip_camera(u: float) -> tuple[float, float, float, float]:
    """Virtual camera at clip position ``u`` in [0, 1]: centre x, y (source pixels), height of the
    source region shown (pixels) and roll (degrees, counter-clockwise on screen)."""
    cx, cy = PAN_CLIP_PERSON_CENTER
    return (
        cx + 18.0 * math.sin(2.0 * math.pi * u),
        cy + 8.0 * math.sin(4.0 * math.pi * u),
        540.0 - 80.0 * math.sin(math.pi * u),  # zoom in and back out
        12.0 * math.sin(2.0 * math.pi * u),
    )


def camera_matrix(cx: float, cy: float, view_h: float, roll_deg: float, out_size=PAN_CLIP_SIZE) -> np.ndarray:
    """2x3 affine from output pixels to source pixels for a camera centred on (cx, cy) showing a
    ``view_h``-pixel-high region, rolled by ``roll_deg`` (content turns counter-clockwise)."""
    out_w, out_h = out_size
    s = view_h / out_h
    t = math.radians(roll_deg)
    a = s * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    centre_out = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    b = np.array([cx, cy]) - a @ centre_out
    return np.hstack([a, b[:, None]])


def pan_clip_frames(
    image_rgb: np.ndarray, num_frames: int, out_size=PAN_CLIP_SIZE
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(timestamp_ms, frame_rgb)`` of the synthetic clip (black outside the source image)."""
    for i in range(num_frames):
        m = camera_matrix(*pan_clip_camera(i / max(num_frames - 1, 1)), out_size)
        frame = cv2.warpAffine(
            image_rgb,
            m,
            out_size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        yield i * 1000.0 / PAN_CLIP_FPS, frame


# -- labelled data ---------------------------------------------------------------------------
# A pseudo-label landmark counts as visible when the labelling model's visibility is at least
# this (the threshold MediaPipe's drawing_utils uses to draw a landmark) and it lies in the image.
VISIBILITY_THRESHOLD = 0.5
# Person crops of vtest.avi frames: (frame index, x, y, side) in pixels, one walking person each,
# found with the reference tracker and checked by eye; upscaled to VTEST_CROP_SIZE.
VTEST_CROPS = (
    (180, 456, 211, 117),
    (210, 603, 279, 149),
    (240, 397, 235, 135),
    (270, 241, 182, 114),
    (600, 401, 284, 159),
    (630, 571, 221, 132),
    (660, 577, 164, 109),
)
VTEST_CROP_SIZE = 384
LABELS_FORMAT = "blazepose33-labels"


@dataclass
class PersonLabel:
    """Ground truth of one person.

    Attributes:
        xy_px: (K, 2) keypoints in image pixels (K = 33 BlazePose or 17 COCO keypoints).
        visible: (K,) bool, keypoints that are scored.
        world_m: (K, 3) hip-centred metres (y down), or None.
        head_size_px: head segment length for PCKh, or None.
        area_px: object area for OKS (pixels^2), or None to use the keypoint box.
        roi: the person's labelled ROI (image pixels), or None to derive it from the keypoints
            (``--roi labels`` of the accuracy suite).
    """

    xy_px: np.ndarray
    visible: np.ndarray
    world_m: np.ndarray | None = None
    head_size_px: float | None = None
    area_px: float | None = None
    roi: Roi | None = None

    def box_px(self) -> tuple[float, float, float, float]:
        """(x, y, w, h) around the visible keypoints."""
        pts = self.xy_px[self.visible] if self.visible.any() else self.xy_px
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


@dataclass
class LabelledImage:
    key: str
    group: str
    persons: list[PersonLabel]
    image: np.ndarray | None = None
    path: Path | None = None
    image_id: int = 0

    def load(self) -> np.ndarray:
        return self.image if self.image is not None else read_image(self.path)


@dataclass
class LabelledSet:
    """Images with ground truth.

    Attributes:
        ground_truth: ``coco``, ``labels`` or ``pseudo-labels``.
        description: one sentence for the report (where the labels come from).
        keypoints: ``blazepose33`` or ``coco17``: the layout of every PersonLabel.
        coco_gt: for COCO files, the annotation dict for pycocotools (restricted to ``items``).
    """

    name: str
    ground_truth: str
    description: str
    keypoints: str
    items: list[LabelledImage] = field(default_factory=list)
    coco_gt: dict | None = None

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return LANDMARK_NAMES if self.keypoints == "blazepose33" else COCO17_NAMES


@dataclass(frozen=True)
class Derivation:
    """A geometric change of a base image: ``op`` is identity, rotate, flip, crop_upper or scale."""

    name: str
    op: str
    angle_deg: float = 0.0  # rotate: counter-clockwise on screen
    scale: float = 1.0  # scale: output / input size
    keep_fraction: float = 0.6  # crop_upper: fraction of the person's height kept, from the top


DERIVATIONS = (
    Derivation("identity", "identity"),
    Derivation("rotate+30", "rotate", angle_deg=30.0),
    Derivation("rotate-60", "rotate", angle_deg=-60.0),
    Derivation("rotate+90", "rotate", angle_deg=90.0),
    Derivation("flip", "flip"),
    Derivation("upper-body", "crop_upper"),
    Derivation("half-size", "scale", scale=0.5),
)
QUICK_DERIVATIONS = ("identity", "rotate+30", "flip")


def derivation_matrix(d: Derivation, width: int, height: int, person_box=None) -> tuple[np.ndarray, tuple[int, int]]:
    """2x3 affine from base-image pixels to derived-image pixels, and the derived (width, height).

    Rotations turn about the image centre onto a canvas just large enough to hold the result;
    ``crop_upper`` keeps the top ``keep_fraction`` of ``person_box`` (x, y, w, h) with a margin
    of 15% of the person's height left, right and above (a webcam-style upper-body framing).
    """
    if d.op == "identity":
        return np.array([[1.0, 0, 0], [0, 1.0, 0]]), (width, height)
    if d.op == "flip":
        return np.array([[-1.0, 0, width - 1.0], [0, 1.0, 0]]), (width, height)
    if d.op == "scale":
        size = (max(1, round(width * d.scale)), max(1, round(height * d.scale)))
        sx, sy = size[0] / width, size[1] / height
        # pixel centres map onto pixel centres, as cv2.resize does
        return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]]), size
    if d.op == "rotate":
        t = math.radians(d.angle_deg)
        c, s = math.cos(t), math.sin(t)
        new_w = math.ceil(abs(width * c) + abs(height * s) - 1e-9)
        new_h = math.ceil(abs(width * s) + abs(height * c) - 1e-9)
        m = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), d.angle_deg, 1.0)
        m[0, 2] += (new_w - width) / 2.0
        m[1, 2] += (new_h - height) / 2.0
        return m, (new_w, new_h)
    if d.op == "crop_upper":
        if person_box is None:
            raise ValueError("crop_upper needs the person's box")
        x, y, w, h = person_box
        margin = 0.15 * h
        x0 = max(0.0, x - margin)
        y0 = max(0.0, y - margin)
        x1 = min(float(width), x + w + margin)
        y1 = min(float(height), y + d.keep_fraction * h)
        x0, y0 = math.floor(x0), math.floor(y0)
        size = (max(1, math.ceil(x1) - x0), max(1, math.ceil(y1) - y0))
        return np.array([[1.0, 0, -x0], [0, 1.0, -y0]]), size
    raise ValueError(f"unknown derivation op {d.op!r}")


def apply_affine(image_rgb: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Warp an image with a 2x3 base -> derived matrix (bilinear, black border)."""
    return cv2.warpAffine(
        image_rgb, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def transform_points(xy: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (K, 2) points."""
    xy = np.asarray(xy, dtype=np.float64)
    return xy @ matrix[:, :2].T + matrix[:, 2]


def transform_label(label: PersonLabel, d: Derivation, matrix: np.ndarray, size: tuple[int, int]) -> PersonLabel:
    """Map a BlazePose-33 label of a base image onto its derived image.

    Points go through ``matrix``; keypoints outside the derived image become invisible. A flip
    also swaps left and right (``FLIP_INDEX``) and mirrors world x; a rotation turns world x, y
    like the image (world y points down, as image y).
    """
    xy = transform_points(label.xy_px, matrix)
    visible = label.visible.copy()
    world = None if label.world_m is None else label.world_m.copy()
    if d.op == "rotate" and world is not None:
        world[:, :2] = world[:, :2] @ matrix[:, :2].T  # pure rotation: the matrix's linear part
    if d.op == "flip":
        xy, visible = xy[FLIP_INDEX], visible[FLIP_INDEX]
        if world is not None:
            world = world[FLIP_INDEX] * np.array([-1.0, 1.0, 1.0])
    w, h = size
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    head = (
        None if label.head_size_px is None else label.head_size_px * float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    )
    return PersonLabel(xy, visible & inside, world, head)


def label_from_pose(pose, image_size: tuple[int, int]) -> PersonLabel:
    """A BlazePose-33 pseudo-label from a :class:`~blazepose_sdk.results.Pose`."""
    xy = np.asarray(pose.array_px[:, :2], dtype=np.float64)
    w, h = image_size
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    visible = (pose.array_px[:, 3] >= VISIBILITY_THRESHOLD) & inside
    world = np.asarray(pose.world_m, dtype=np.float64)
    return PersonLabel(xy, visible, world if np.isfinite(world).all() else None)


def base_images(data_dir: Path, include_vtest: bool = True) -> list[tuple[str, np.ndarray]]:
    """(name, RGB image) of the base images: basketball1.png and the vtest.avi person crops."""
    out = []
    ball = data_dir / PAN_CLIP_SOURCE
    if ball.is_file():
        out.append(("basketball1", read_image(ball)))
    vtest = data_dir / "vtest.avi"
    if include_vtest and vtest.is_file():
        wanted = {c[0]: c for c in VTEST_CROPS}
        last = max(wanted)
        with VideoReader(vtest) as reader:
            for index, (_, frame) in enumerate(reader):
                if index in wanted:
                    _, x, y, side = wanted[index]
                    crop = frame[y : y + side, x : x + side]
                    out.append(
                        (
                            f"vtest{index:04d}",
                            cv2.resize(crop, (VTEST_CROP_SIZE, VTEST_CROP_SIZE), interpolation=cv2.INTER_CUBIC),
                        )
                    )
                if index >= last:
                    break
    return out


def build_derived_set(
    data_dir: Path, label_tracker, label_model: str, quick: bool = False, reporter=None
) -> LabelledSet:
    """The pseudo-labelled derived set (see the module docstring).

    ``label_tracker``: a static-image-mode PoseTracker of the labelling model. Base images where
    it finds nobody are left out.
    """
    derivations = [d for d in DERIVATIONS if not quick or d.name in QUICK_DERIVATIONS]
    items: list[LabelledImage] = []
    bases = 0
    for base_name, base in base_images(data_dir, include_vtest=not quick):
        result = label_tracker.process(base)
        if result.pose is None:
            if reporter is not None:
                reporter.note(f"labelled set: {label_model} finds no person in {base_name}; left out")
            continue
        label = label_from_pose(result.pose, (base.shape[1], base.shape[0]))
        bases += 1
        for d in derivations:
            matrix, size = derivation_matrix(d, base.shape[1], base.shape[0], label.box_px())
            image = base if d.op == "identity" else apply_affine(base, matrix, size)
            items.append(
                LabelledImage(
                    f"{base_name}-{d.name}",
                    d.name,
                    [transform_label(label, d, matrix, size)],
                    image=image,
                    image_id=len(items) + 1,
                )
            )
    description = (
        f"pseudo-labels from {label_model} (static image mode) on {bases} base "
        f"images (basketball1.png{'' if quick else ' and person crops of vtest.avi frames'}), mapped through known "
        f"rotations, flips, crops and rescaling ({', '.join(d.name for d in derivations)}); not human annotation"
    )
    return LabelledSet("derived", "pseudo-labels", description, "blazepose33", items)


def pseudo_label_images(
    sources: list[tuple[str, np.ndarray]], label_tracker, label_model: str, what: str, reporter=None
) -> LabelledSet:
    """Pseudo-labels straight from the labelling model on the given (name, image) pairs."""
    items = []
    for name, image in sources:
        result = label_tracker.process(image)
        if result.pose is None:
            continue
        label = label_from_pose(result.pose, (image.shape[1], image.shape[0]))
        items.append(LabelledImage(name, "all", [label], image=image, image_id=len(items) + 1))
    if reporter is not None and len(items) < len(sources):
        reporter.note(
            f"pseudo-labels: {label_model} found nobody in {len(sources) - len(items)} of {len(sources)} images; "
            "left out"
        )
    description = (
        f"pseudo-labels from {label_model} (static image mode) on {what}; the labelling model scores itself on the "
        "same images, so its row is an upper bound, not a measurement"
    )
    return LabelledSet("pseudo", "pseudo-labels", description, "blazepose33", items)


def images_from(path: Path, every: int = 1, max_images: int | None = None) -> list[tuple[str, np.ndarray]]:
    """(name, RGB) of the images in a folder, or of every ``every``-th frame of a video."""
    out = []
    if path.is_dir():
        from blazepose_sdk.app.video import IMAGE_SUFFIXES

        for p in sorted(q for q in path.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES):
            out.append((p.name, read_image(p)))
            if max_images and len(out) >= max_images:
                break
        return out
    from blazepose_sdk.app.video import is_image_path

    if is_image_path(path):
        return [(path.name, read_image(path))]
    with VideoReader(path) as reader:
        for index, (_, frame) in enumerate(reader):
            if index % max(1, every) == 0:
                out.append((f"{path.stem}{index:05d}", frame))
                if max_images and len(out) >= max_images:
                    break
    return out


# -- label files -----------------------------------------------------------------------------
def save_labels(labelled: LabelledSet, out_dir: str | os.PathLike) -> Path:
    """Write the images as PNG and a BlazePose-33 labels JSON (``labels.json``) into ``out_dir``."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    images = []
    for item in labelled.items:
        image = item.load()
        name = f"images/{item.key}.png"
        write_image(out / name, image)
        images.append(
            {
                "file": name,
                "group": item.group,
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "persons": [
                    {
                        "landmarks_px": np.round(p.xy_px, 3).tolist(),
                        "visible": [int(v) for v in p.visible],
                        "world_m": None if p.world_m is None else np.round(p.world_m, 5).tolist(),
                        "head_size_px": p.head_size_px,
                        **({"roi": p.roi.to_dict()} if p.roi is not None else {}),
                    }
                    for p in item.persons
                ],
            }
        )
    doc = {
        "format": LABELS_FORMAT,
        "version": 1,
        "ground_truth": labelled.ground_truth,
        "description": labelled.description,
        "landmark_names": list(LANDMARK_NAMES),
        "images": images,
    }
    path = out / "labels.json"
    path.write_text(json.dumps(doc) + "\n")
    return path


def load_labels(
    path: str | os.PathLike, image_dir: str | os.PathLike | None = None, max_images: int | None = None
) -> LabelledSet:
    """Read a BlazePose-33 labels JSON (see blazepose_sdk/bench/README.md); image files are relative to
    ``image_dir`` or to the JSON's folder."""
    p = Path(path)
    doc = json.loads(p.read_text())
    if doc.get("format") != LABELS_FORMAT:
        raise ValueError(f"{p} is not a {LABELS_FORMAT} file (format={doc.get('format')!r})")
    root = Path(image_dir) if image_dir else p.parent
    items = []
    for entry in doc["images"][:max_images]:
        persons = []
        for q in entry["persons"]:
            xy = np.asarray(q["landmarks_px"], dtype=np.float64)[:, :2]
            visible = np.asarray(q.get("visible", [1] * len(xy)), dtype=bool)
            world = np.asarray(q["world_m"], dtype=np.float64) if q.get("world_m") is not None else None
            head = q.get("head_size_px")
            if head is None and q.get("head_box_px") is not None:
                from .metrics import head_size_from_box

                head = float(head_size_from_box(np.asarray(q["head_box_px"]))[0])
            roi = Roi(**q["roi"]) if q.get("roi") is not None else None
            area = float(q["area_px"]) if q.get("area_px") is not None else None  # OKS scale, else the box
            persons.append(PersonLabel(xy, visible, world, head, area, roi=roi))
        items.append(
            LabelledImage(
                Path(entry["file"]).stem,
                entry.get("group", "all"),
                persons,
                path=root / entry["file"],
                image_id=len(items) + 1,
            )
        )
    ground_truth = doc.get("ground_truth", "labels")
    description = doc.get("description") or f"labels from {p.name}"
    return LabelledSet(p.stem, ground_truth, f"{description} ({p})", "blazepose33", items)


def load_coco(
    annotation_file: str | os.PathLike, image_dir: str | os.PathLike, max_images: int | None = None
) -> LabelledSet:
    """COCO person-keypoint annotations: images with at least one annotated person (num_keypoints > 0).

    Crowd annotations and people without keypoints are not scored by PCK but stay in the
    annotation dict given to pycocotools, which handles them as COCO does.
    """
    p = Path(annotation_file)
    doc = json.loads(p.read_text())
    by_image: dict[int, list[dict]] = {}
    for ann in doc.get("annotations", []):
        by_image.setdefault(int(ann["image_id"]), []).append(ann)
    items = []
    chosen: list[dict] = []
    for info in sorted(doc["images"], key=lambda im: im["id"]):
        anns = by_image.get(int(info["id"]), [])
        persons = []
        for ann in anns:
            if ann.get("iscrowd", 0) or ann.get("num_keypoints", 0) <= 0:
                continue
            kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
            persons.append(PersonLabel(kp[:, :2], kp[:, 2] > 0, None, None, float(ann.get("area", 0.0)) or None))
        if not persons:
            continue
        items.append(
            LabelledImage(
                Path(info["file_name"]).stem,
                "all",
                persons,
                path=Path(image_dir) / info["file_name"],
                image_id=int(info["id"]),
            )
        )
        chosen.append(info)
        if max_images and len(items) >= max_images:
            break
    ids = {int(i["id"]) for i in chosen}
    gt = {
        "images": chosen,
        "annotations": [a for a in doc.get("annotations", []) if int(a["image_id"]) in ids],
        "categories": doc.get("categories") or coco_categories(),
    }
    description = f"COCO keypoint annotations {p.name} ({len(items)} images with annotated people)"
    return LabelledSet(p.stem, "coco", description, "coco17", items, coco_gt=gt)


def coco_categories() -> list[dict]:
    """The COCO person category with its 17 keypoints and 1-based skeleton."""
    return [
        {
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(COCO17_NAMES),
            "skeleton": [[a + 1, b + 1] for a, b in COCO17_SKELETON],
        }
    ]


def coco17_of(label: PersonLabel, keypoints: str) -> tuple[np.ndarray, np.ndarray]:
    """(17, 2) points and (17,) visibility of a label in COCO order."""
    if keypoints == "coco17":
        return label.xy_px, label.visible
    return label.xy_px[BLAZEPOSE_TO_COCO17], label.visible[BLAZEPOSE_TO_COCO17]


def to_coco_gt(labelled: LabelledSet) -> dict:
    """A pycocotools annotation dict for a set (COCO files keep their own).

    For BlazePose-33 labels the COCO-17 subset is used, ``v = 2`` for visible keypoints and 0
    otherwise; the object area (the OKS scale) is the area of the box around all visible
    BlazePose-33 landmarks, a stand-in for COCO's segmentation area (which is usually smaller,
    so OKS here is a little more lenient than on COCO).
    """
    if labelled.coco_gt is not None:
        return labelled.coco_gt
    images, annotations = [], []
    for item in labelled.items:
        images.append({"id": item.image_id, "file_name": f"{item.key}.png"})
        for person in item.persons:
            xy, vis = coco17_of(person, labelled.keypoints)
            x, y, w, h = person.box_px()
            kps = np.column_stack([xy, np.where(vis, 2, 0)]).reshape(-1)
            kps[np.repeat(~vis, 3)] = 0
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": item.image_id,
                    "category_id": 1,
                    "iscrowd": 0,
                    "keypoints": [float(v) for v in kps],
                    "num_keypoints": int(vis.sum()),
                    "bbox": [x, y, w, h],
                    "area": float(person.area_px or max(w * h, 1.0)),
                }
            )
    return {"images": images, "annotations": annotations, "categories": coco_categories()}
