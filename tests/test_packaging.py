"""Packaging: `python -m build` makes an sdist and a wheel that carry the SDK, its model files
(package data) and the `blazepose` console script; the wheel declares an edge-sized dependency
set per platform; and the wheel, installed into a fresh venv, runs a pose outside the source tree.

SLOW: the module builds the project with `python -m build` (an isolated build: pip fetches
setuptools into a temporary environment, so it needs the package index or a warm pip cache)
and creates venvs; about 20-40 s in all. Needs the `build` package (`pip install build`).
"""

from __future__ import annotations

import email.parser
import fnmatch
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
MODELS_SRC = REPO / "blazepose_sdk" / "model_files"
# Files in blazepose_sdk/model_files/ that must never ship (setup.py exclude_package_data,
# MANIFEST.in): the official Full and Heavy models are fetched into a user cache.
NEVER_SHIPPED = ("pose_landmark_full.tflite", "pose_landmark_heavy.tflite", "*.pyc")
# The official files that do ship, with the licence terms that must travel with them.
OFFICIAL_SHIPPED = ("pose_detection.tflite", "pose_landmark_lite.tflite")
LICENCE_FILES = ("NOTICE", "LICENSE.mediapipe", "MODEL_CARD.md")
BASE_DEPENDENCIES_64BIT = {"numpy", "opencv-python-headless", "tqdm", "ai-edge-litert"}
BUILD_TIMEOUT_S = 300


def _run(cmd: list[str], cwd: Path, timeout: float = BUILD_TIMEOUT_S, env: dict | None = None):
    proc = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def _build(source: Path, outdir: Path) -> tuple[Path, Path]:
    """sdist and wheel of ``source`` (the wheel is built from the sdist, as `python -m build` does)."""
    missing = [m for m in ("build", "setuptools", "wheel") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: `pip install -e \".[dev]\"` installs them")
    # --no-isolation: build with this interpreter's setuptools/wheel; no download of a build env
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(source)], cwd=source)
    (sdist,), (wheel,) = sorted(outdir.glob("*.tar.gz")), sorted(outdir.glob("*.whl"))
    return sdist, wheel


def _shippable(models_dir: Path) -> set[str]:
    """Relative paths of the files in models_dir that the packaging rules must ship."""
    if not models_dir.is_dir():
        return set()
    return {
        p.relative_to(models_dir).as_posix()
        for p in models_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
        and not any(fnmatch.fnmatch(p.name, pattern) for pattern in NEVER_SHIPPED)
    }


def _wheel_models(wheel: Path) -> set[str]:
    prefix = "blazepose_sdk/model_files/"
    with zipfile.ZipFile(wheel) as zf:
        return {n[len(prefix):] for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/")}


def _metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(name).decode())


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    return _build(REPO, tmp_path_factory.mktemp("dist"))


def test_wheel_has_package_and_console_script(dists):
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_text = zf.read(entry_points).decode()
    source_modules = {f"blazepose_sdk/{p.name}" for p in (REPO / "blazepose_sdk").glob("*.py")}
    assert source_modules - names == set(), "modules of the source tree missing from the wheel"
    assert "blazepose = blazepose_sdk.app.cli:main" in entry_text
    assert not any(n.startswith(("tests/", "blazepose_sdk/bench/edge/")) for n in names)


def test_wheel_installs_one_top_level_package(dists):
    """The wheel must not install a generic top-level name (PyPI has an unrelated `benchmarks`,
    and users have their own benchmarks/ folders): the suite is blazepose_sdk.bench, and the
    golden-vector generator (test tooling) stays in tools/."""
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    top_level = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == {"blazepose_sdk"}
    bench_modules = {f"blazepose_sdk/bench/{p.name}" for p in (REPO / "blazepose_sdk" / "bench").glob("*.py")}
    assert bench_modules <= names
    assert "blazepose_sdk/bench/data/independent_set_review.json" in names
    assert not any("golden" in n for n in names)


def test_wheel_ships_every_model_file_and_manifest(dists):
    """Every file in blazepose_sdk/model_files/ of the source tree, and nothing else, is in the
    wheel: the shipped pipelines' models with their manifest, and the official files with their
    NOTICE, licence and model card."""
    from blazepose_sdk.assets.models import BUNDLED_PIPELINES

    _, wheel = dists
    expected = _shippable(MODELS_SRC)
    assert "manifest.json" in expected, "blazepose_sdk/model_files/ has no manifest.json"
    assert {f for pair in BUNDLED_PIPELINES.values() for f in pair} <= expected
    assert _wheel_models(wheel) == expected
    assert set(OFFICIAL_SHIPPED) | set(LICENCE_FILES) <= expected


def test_sdist_carries_the_build_inputs(dists):
    sdist, _ = dists
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"setup.py", "pyproject.toml", "MANIFEST.in", "blazepose_sdk/app/cli.py"} <= names
    assert {f"blazepose_sdk/model_files/{m}" for m in _shippable(MODELS_SRC)} <= names
    assert not any(n.startswith("blazepose_sdk/bench/edge") for n in names)


def test_package_data_rules_ship_models_but_never_full_or_heavy(tmp_path):
    """The glob rules, checked on a copy of the project with made-up model files: a nested file,
    the manifest and the official detector/Lite ship (through the sdist into the wheel); the
    official Full and Heavy models do not."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in"):
        shutil.copy2(REPO / name, project / name)
    shutil.copytree(REPO / "blazepose_sdk", project / "blazepose_sdk",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    models = project / "blazepose_sdk" / "model_files"
    (models / "cards").mkdir(parents=True, exist_ok=True)
    made_up = {"fake_landmark.tflite": b"TFL3", "manifest.json": b"{}\n", "cards/fake_landmark.md": b"# card\n"}
    for rel, data in made_up.items():
        (models / rel).write_bytes(data)
    for reference in ("pose_landmark_full.tflite", "pose_landmark_heavy.tflite"):
        (models / reference).write_bytes(b"not for redistribution")
    _, wheel = _build(project, tmp_path / "dist")
    shipped = _wheel_models(wheel)
    assert set(made_up) | set(OFFICIAL_SHIPPED) <= shipped
    assert not shipped & {"pose_landmark_full.tflite", "pose_landmark_heavy.tflite"}


def _environment(machine: str, platform: str = "linux", python: str = "3.11") -> dict[str, str]:
    return {
        "sys_platform": platform, "platform_machine": machine, "python_version": python,
        "python_full_version": f"{python}.0", "os_name": "nt" if platform == "win32" else "posix",
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[platform],
        "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
    }


def _requirements_for(wheel: Path, environment: dict[str, str]) -> dict[str, str]:
    """{project name: specifier} the wheel asks for in ``environment`` ('extra' selects an extra)."""
    from packaging.requirements import Requirement

    out = {}
    for line in _metadata(wheel).get_all("Requires-Dist"):
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(environment):
            out[req.name.lower()] = str(req.specifier)
    return out


@pytest.mark.parametrize(
    "machine,platform,runtime",
    [
        ("aarch64", "linux", "ai-edge-litert"),  # Raspberry Pi OS 64-bit, Jetson (JetPack 6)
        ("x86_64", "linux", "ai-edge-litert"),
        ("arm64", "darwin", "ai-edge-litert"),
        ("armv7l", "linux", "tflite-runtime"),  # Raspberry Pi OS 32-bit
    ],
)
def test_base_install_is_numpy_opencv_and_one_tflite_runtime(dists, machine, platform, runtime):
    _, wheel = dists
    base = _requirements_for(wheel, _environment(machine, platform))
    assert set(base) == {"numpy", "opencv-python-headless", "tqdm", runtime}
    if runtime == "tflite-runtime":  # built against NumPy 1.x
        assert "<2" in base["numpy"]


def test_extras(dists):
    _, wheel = dists
    metadata = _metadata(wheel)
    assert {"bench", "train", "convert", "dev"} <= set(metadata.get_all("Provides-Extra"))
    aarch64 = _environment("aarch64")
    assert set(_requirements_for(wheel, aarch64)) == BASE_DEPENDENCIES_64BIT
    train = set(_requirements_for(wheel, aarch64 | {"extra": "train"})) - BASE_DEPENDENCIES_64BIT
    convert = set(_requirements_for(wheel, aarch64 | {"extra": "convert"})) - BASE_DEPENDENCIES_64BIT
    dev = set(_requirements_for(wheel, aarch64 | {"extra": "dev"})) - BASE_DEPENDENCIES_64BIT
    assert "tensorflow" in train
    assert {"onnx", "onnx2tf", "tf2onnx", "onnxruntime"} <= convert
    assert {"pytest", "build"} <= dev


def _dependency_dirs() -> list[str]:
    """Folders holding this interpreter's numpy, cv2, tqdm and TFLite runtime."""
    from blazepose_sdk.stages.runtime import load_runtime

    runtime_module, _ = load_runtime()
    top = importlib.import_module(runtime_module.__name__.split(".")[0])
    dirs = []
    for module in ("numpy", "cv2", "tqdm", top.__name__):
        spec = importlib.util.find_spec(module)
        folder = str(Path(spec.origin).resolve().parents[1])
        if folder not in dirs:
            dirs.append(folder)
    return dirs


def test_installed_wheel_runs_a_pose(dists, reference_models, shared_data, tmp_path):
    """pip-install the wheel (no deps) into a fresh venv whose only other packages are this
    interpreter's numpy/OpenCV/TFLite runtime, then run the console script from a folder outside
    the source tree; the SDK must import from the venv, not from the checkout."""
    _, wheel = dists
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    # A plain path line in a .pth only appends that folder to sys.path: the venv's own
    # site-packages stays first, and the host's .pth files (an editable install of this
    # checkout) are not executed.
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp_path).stdout.strip())
    (purelib / "zz_host_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], cwd=tmp_path, env=env)

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    where = _run([str(python), "-c", "import blazepose_sdk; print(blazepose_sdk.__file__)"], cwd=workdir, env=env)
    module_path = Path(where.stdout.strip()).resolve()
    assert module_path.is_relative_to(venv.resolve()), f"imported from {module_path}, not from the venv"
    assert not module_path.is_relative_to(REPO)

    out_json = workdir / "out.jsonl"
    run = _run([str(bindir / "blazepose"), "run", str(shared_data / "basketball1.png"), "--model", "reference-full",
                "--json", str(out_json), "--out", str(workdir / "annotated.png")], cwd=workdir, env=env)
    assert "with_pose: 1" in run.stdout
    record = json.loads(out_json.read_text().splitlines()[0])
    assert record["pose"] is not None and len(record["pose"]["landmarks"]) == 33
    # the full-body player stands at the left of the 640x480 photo
    nose_x_px = record["pose"]["landmarks"][0][0]
    assert 0 < nose_x_px < 200
    assert (workdir / "annotated.png").stat().st_size > 0
