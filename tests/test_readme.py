"""README's two commands, verbatim, in a fresh venv on a copy of the checkout.

The commands are read from README.md's "Set up and run" section (the first two ```bash blocks), so
the README cannot drift from what is tested:

1. install the SDK and run it on a real video with the embedded default model: run with PATH
   holding only the venv's bin folder (no npm, no system Python tools) and an empty model cache;
   the annotated mp4 and the JSON lines must cover every frame and find people;
2. install what the tests need and run them: the suite must pass in a venv that has only the
   [dev] extra (TensorFlow, torch, the reference models... skip with reasons). Inside that inner
   run this test skips itself.

Slow (a few minutes) and the only test that needs the package index: it skips when the index
cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[1]
INNER_ENV = "BLAZEPOSE_README_TEST_INNER"


def readme_commands() -> list[str]:
    """The ```bash blocks of README.md's "Set up and run" section, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_readme_has_the_two_commands():
    commands = readme_commands()
    assert len(commands) == 2, commands
    install_run, install_test = commands
    assert "\n" not in install_run and "\n" not in install_test, "each command is one line"
    assert install_run.startswith("pip install -e . && blazepose run ../shared/data/vtest.avi")
    assert "--model" not in install_run, "the first command runs the embedded default model"
    assert "--out v.mp4" in install_run and "--json v.jsonl" in install_run
    assert install_test == 'pip install -e ".[dev]" && python -m pytest -q'


def _copy_checkout(dest: Path) -> None:
    """The files git tracks (what a fresh clone has), or the tree without build outputs."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60)
        files = [f for f in listed.stdout.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = [str(p.relative_to(REPO)) for p in REPO.rglob("*")
                 if p.is_file() and not {".git", "out", "__pycache__"} & set(p.relative_to(REPO).parts)]
    for name in files:
        src = REPO / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def _index_reachable(python: Path, tmp: Path, env: dict) -> bool:
    proc = subprocess.run([str(python), "-m", "pip", "download", "--no-deps", "--dest", str(tmp), "tqdm"],
                          capture_output=True, text=True, env=env, timeout=180)
    return proc.returncode == 0


@pytest.fixture(scope="module")
def fresh_checkout(tmp_path_factory):
    if os.environ.get(INNER_ENV):
        pytest.skip("inside the README test's own run of the suite")
    shared = REPO.parent / "shared"
    if not (shared / "data" / "vtest.avi").is_file():
        pytest.skip(f"{shared / 'data' / 'vtest.avi'} missing (shared/ must sit beside the repo)")
    root = tmp_path_factory.mktemp("readme")
    repo = root / "repo"
    _copy_checkout(repo)
    (root / "shared").symlink_to(shared, target_is_directory=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if not _index_reachable(bindir / "python", root / "probe", env):
        pytest.skip("the package index cannot be reached: README's install commands need it")
    return repo, bindir, env, root


def _bash(command: str, cwd: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("README's commands are bash commands: no bash here")
    return subprocess.run([bash, "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
@pytest.mark.network
def test_first_command_installs_and_tracks_people_on_the_real_video(fresh_checkout):
    repo, bindir, env, root = fresh_checkout
    install_run = readme_commands()[0]
    cache = root / "empty_cache"
    cache.mkdir()
    run_env = dict(env, PATH=str(bindir), BLAZEPOSE_CACHE_DIR=str(cache), VIRTUAL_ENV=str(bindir.parent))
    assert shutil.which("npm", path=run_env["PATH"]) is None
    proc = _bash(install_run, repo, run_env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    capture = cv2.VideoCapture(str(repo / "v.mp4"))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    source = cv2.VideoCapture(str(REPO.parent / "shared" / "data" / "vtest.avi"))
    expected = int(source.get(cv2.CAP_PROP_FRAME_COUNT))
    source.release()
    assert frames == expected

    records = [json.loads(line) for line in (repo / "v.jsonl").read_text().splitlines()]
    assert len(records) == expected
    with_pose = sum(r["pose"] is not None for r in records)
    assert with_pose > expected // 3, f"a pose in only {with_pose} of {expected} frames"
    assert f"with_pose: {with_pose}" in proc.stdout
    assert not any(cache.iterdir()), "the default model must not need the cache"


@pytest.mark.slow
@pytest.mark.network
def test_second_command_installs_the_test_needs_and_the_suite_passes(fresh_checkout):
    repo, bindir, env, _ = fresh_checkout
    install_test = readme_commands()[1]
    test_env = dict(env, PATH=str(bindir) + os.pathsep + env.get("PATH", ""), VIRTUAL_ENV=str(bindir.parent))
    test_env[INNER_ENV] = "1"
    proc = _bash(install_test, repo, test_env, timeout=2400)
    problems = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    assert proc.returncode == 0, "\n".join(problems) or (proc.stdout[-4000:] + proc.stderr[-2000:])
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
