"""README's two commands, verbatim, in a fresh venv on a copy of the checkout.

The commands are read from README.md's "Set up and run" section (the first two ```bash blocks), so
the README cannot drift from what is tested:

1. install the SDK and run it on a real video with the embedded default model: run with PATH
   holding only the venv's bin folder (no npm, no system Python tools) and an empty model cache;
   the annotated mp4 and the JSON lines must cover every frame and find people;
2. install what the tests need and run them: the suite must pass in a venv that has only the
   [dev] extra and an empty model cache (TensorFlow, torch, the reference models... skip with
   reasons). Inside that inner run this test skips itself.

Slow (a few minutes) and the only test that needs the package index: it skips when the index
cannot be reached.

The fast tests below check what a fresh machine needs without the index (issue 31): the suite
collects with an empty model cache, conftest.py keeps the split between the empty-cache run and
`-m reference` honest, .ci/run runs the README's command that way, the [train] extra pins the
torch release whose CPU build CI uses, and triton is loaded before TensorFlow.
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

from model_cache import fetched_files

REPO = Path(__file__).resolve().parents[1]
INNER_ENV = "BLAZEPOSE_README_TEST_INNER"
REQUIRE_REFERENCE_ENV = "BLAZEPOSE_REQUIRE_REFERENCE"  # conftest.py: a reference-model skip fails


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


# -- a fresh machine: no fetched models ------------------------------------------------------
def _pytest(args: list[str], cwd: Path, cache: Path, **env_extra: str) -> subprocess.CompletedProcess:
    """pytest in a subprocess with ``cache`` as the model cache (and no CI override)."""
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_REFERENCE_ENV}
    env.update(BLAZEPOSE_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                                                      env.get("PYTHONPATH")])))
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_suite_collects_with_an_empty_model_cache(tmp_path):
    """README's test command on a fresh clone (issue 31): no test module may need the official
    models at import; the tests that need them skip at run time instead."""
    cache = tmp_path / "empty_cache"
    cache.mkdir()
    proc = _pytest(["--collect-only", "-q"], REPO, cache)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " collected" in proc.stdout and "error" not in proc.stdout.strip().splitlines()[-1]
    assert not any(cache.iterdir()), "collecting must not fetch anything"


REFERENCE_SPLIT_CASES = """
import pytest

REASON = "pose_landmark_full.tflite not fetched (blazepose models fetch-reference)"


def test_unmarked_skip():
    pytest.skip(REASON)


@pytest.mark.reference
def test_marked_skip():
    pytest.skip(REASON)


def test_uses_the_fixture(reference_models):
    pass


def test_skips_for_another_reason():
    pytest.skip("no GPU here")
"""


def _outcomes(stdout: str) -> dict[str, str]:
    found = re.findall(r"^\S+::(\w+) (PASSED|FAILED|SKIPPED|ERROR)", stdout, flags=re.M)
    return dict(found)


def test_conftest_keeps_the_reference_split_honest(tmp_path):
    """CI runs the suite with an empty cache, fetches, then runs only `-m reference`: a test that
    skips for missing models must be selected by `-m reference`, or it never runs in CI."""
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    reference: needs the official models\n")
    (tmp_path / "test_cases.py").write_text(REFERENCE_SPLIT_CASES)
    cache = tmp_path / "empty_cache"
    cache.mkdir()

    selected = _pytest(["--collect-only", "-q", "-m", "reference"], tmp_path, cache)
    assert sorted(re.findall(r"::(\w+)$", selected.stdout, flags=re.M)) == ["test_marked_skip", "test_uses_the_fixture"]

    fresh = _pytest(["-v"], tmp_path, cache)
    assert _outcomes(fresh.stdout) == {"test_unmarked_skip": "FAILED", "test_marked_skip": "SKIPPED",
                                       "test_uses_the_fixture": "SKIPPED", "test_skips_for_another_reason": "SKIPPED"}
    assert "is not marked `reference`" in fresh.stdout

    # CI's run after the fetch: a reference skip means the fetch did not work
    fetched = _pytest(["-v", "-m", "reference"], tmp_path, cache, **{REQUIRE_REFERENCE_ENV: "1"})
    outcomes = _outcomes(fetched.stdout)
    assert outcomes.keys() == {"test_marked_skip", "test_uses_the_fixture"}, fetched.stdout[-3000:]
    assert set(outcomes.values()) <= {"FAILED", "ERROR"}, outcomes  # ERROR: the fixture's skip, in setup


def test_ci_runs_the_readme_test_command_on_an_empty_cache_then_only_the_reference_tests():
    """.ci/run: README's test command with an empty model cache before the fetch (a fresh
    machine), then `blazepose models fetch-reference`, then only `-m reference`, so no test runs
    twice; pytest's exit 5 (nothing selected) must not fail it."""
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()]
    steps = [ln for ln in lines if ln and not ln.startswith("#")]
    test_command = readme_commands()[1].split(" && ")[-1]
    fresh = [i for i, ln in enumerate(steps) if ln.endswith(" " + test_command)]  # the whole suite
    fetch = [i for i, ln in enumerate(steps) if ln.startswith("blazepose models fetch-reference")]
    reference = [i for i, ln in enumerate(steps) if test_command + " -m reference" in ln]
    assert len(fresh) == 1 and len(fetch) == 1 and len(reference) == 1, steps
    assert fresh[0] < fetch[0] < reference[0]
    assert "BLAZEPOSE_CACHE_DIR=" in steps[fresh[0]], "the first run must see an empty model cache"
    assert REQUIRE_REFERENCE_ENV in steps[reference[0]]
    assert "-eq 5" in steps[reference[0]] or "exit 5" in steps[reference[0]]


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
    assert not fetched_files(cache), "the default model must not need a download"


@pytest.mark.slow
@pytest.mark.network
def test_second_command_installs_the_test_needs_and_the_suite_passes(fresh_checkout):
    repo, bindir, env, root = fresh_checkout
    install_test = readme_commands()[1]
    # a fresh machine has no fetched models: the tests that need them must skip, not error
    cache = root / "empty_cache_tests"
    cache.mkdir()
    test_env = dict(env, PATH=str(bindir) + os.pathsep + env.get("PATH", ""), VIRTUAL_ENV=str(bindir.parent),
                    BLAZEPOSE_CACHE_DIR=str(cache))
    test_env.pop(REQUIRE_REFERENCE_ENV, None)
    test_env[INNER_ENV] = "1"
    proc = _bash(install_test, repo, test_env, timeout=2400)
    lines = proc.stdout.splitlines()
    # the failing tests, then their assertion lines (pytest's "E   ..." lines), so that a failure of
    # the inner run says why, not only which
    problems = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))] + [ln for ln in lines if ln.startswith("E ")][:60]
    assert proc.returncode == 0, "\n".join(problems) or (proc.stdout[-4000:] + proc.stderr[-2000:])
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


# -- the [train] extra: a CPU stack, and TensorFlow with torch that cannot crash -----------------------
def _extra_requirements(tmp_path: Path, extra: str) -> list:
    """The [extra]'s requirements that apply here, from setup.py's metadata (egg_info)."""
    from packaging.requirements import Requirement

    proc = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    requires = next(tmp_path.glob("*.egg-info")) / "requires.txt"
    found, section = [], None
    for line in requires.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif line and section is not None and section.split(":")[0] == extra:
            marker = section.split(":", 1)[1] if ":" in section else None
            req = Requirement(line + (f"; {marker}" if marker else ""))
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                found.append(req)
    return found


def test_train_extra_pins_the_torch_release_whose_cpu_build_ci_uses(tmp_path):
    """`pip install -e ".[train]"` once resolved `torch>=2.1` to PyPI's newest, the CUDA build with
    triton (issue 31); the extra now pins requirements-train.txt's release, whose CPU build
    (2.13.0+cpu) pip takes where it can find it (setup.py's docstring), and TensorFlow's CPU wheel."""
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (REPO / "requirements-train.txt").read_text(), flags=re.M))
    train = {req.name: req for req in _extra_requirements(tmp_path, "train")}
    assert str(train["torch"].specifier) == f"=={pins['torch']}"
    assert train["torch"].specifier.contains(f"{pins['torch']}+cpu")
    import platform

    if sys.platform == "linux" and platform.machine() == "x86_64":
        assert "tensorflow-cpu" in train and "tensorflow" not in train
        assert train["tensorflow-cpu"].specifier.contains(pins["tensorflow-cpu"])
    # the documented command is the one CI runs
    documented = re.findall(r"^ +(pip install -e \"\.\[train\]\".*)$", (REPO / "setup.py").read_text(), flags=re.M)
    assert len(documented) == 1
    ci = (REPO / ".ci" / "run").read_text()
    assert documented[0].replace('".[train]"', '".[dev,npu,train,cluster]"').replace("pip install", "pip_install") in ci


FAKE_TRITON = """
import json, os, sys
with open(os.environ["FAKE_TRITON_LOG"], "w") as f:
    json.dump(sorted(m for m in ("tensorflow", "torch", "anny") if m in sys.modules), f)
"""


def test_triton_is_loaded_before_tensorflow(tmp_path):
    """TensorFlow then triton (torch's CUDA build, reached through anny -> torch._dynamo) is a
    segmentation fault (training/__init__.py says why); the other order works. tests/conftest.py
    and the training package load triton first: a stand-in triton records what was loaded then."""
    fake = tmp_path / "fake"
    (fake / "triton").mkdir(parents=True)
    (fake / "triton" / "__init__.py").write_text(FAKE_TRITON)
    log = tmp_path / "loaded.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), str(REPO)]), FAKE_TRITON_LOG=str(log))
    env.pop(REQUIRE_REFERENCE_ENV, None)
    # the suite: this module imports TensorFlow at import (when installed)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
                           "tests/test_train_models.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 5), proc.stdout[-3000:] + proc.stderr[-2000:]
    assert log.is_file(), "triton was not loaded before the test modules"
    assert json.loads(log.read_text()) == []
    # a training command (python -m training.x): the package loads it before its modules run
    log.unlink()
    proc = subprocess.run([sys.executable, "-c", "import training.config"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(log.read_text()) == []
