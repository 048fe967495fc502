"""Packaging for blazepose-sdk.

The base install is what an edge device needs to run a pose: numpy, OpenCV (headless) and one
TFLite runtime. Everything else (training, conversion, benchmarks, tests) is an extra:

    pip install blazepose-sdk                  # Raspberry Pi, Jetson, laptop: run poses
    pip install "blazepose-sdk[bench]"         # + the benchmark suite's tables, plots and COCO OKS
    pip install "blazepose-sdk[train]"         # + TensorFlow, PyTorch, anny: the data/training stack
    pip install "blazepose-sdk[convert]"       # + ONNX <-> TF/TFLite conversion tools
    pip install "blazepose-sdk[dev]"           # + test and build tools
    pip install "blazepose-sdk[npu]"           # + Arm's Ethos-U compiler (vela) for `blazepose bench npu`
    pip install "blazepose-sdk[cluster]"       # + Ray for `blazepose batch` on many cores or machines

Training on CPU (what CI installs, .ci/run): on Linux x86_64 PyPI's `torch` is the CUDA build
(with triton and the nvidia-* wheels, over 2 GB), and PyPI has no CPU-only torch under a plain
name. The CPU build of the pinned release (2.13.0+cpu) is on PyTorch's CPU wheel index, the
address PyTorch's "Get started" page gives for CPU; pass it as PYTORCH_CPU_INDEX:

    pip install -e ".[train]" ${PYTORCH_CPU_INDEX:+--extra-index-url "$PYTORCH_CPU_INDEX"}

pip then takes 2.13.0+cpu for torch==2.13.0 (a local version sorts above the plain one); where
pip's configuration already finds that wheel (a find-links folder or a mirror), the plain command
does. The CUDA build works too: training/__init__.py loads triton before TensorFlow, which
otherwise crashes the process (a segmentation fault when anny imports torch._dynamo); a script of
your own that imports both should `import training` (or triton) before TensorFlow.

OpenCV: 4.10 (the first release with NumPy 2 wheels) and later. warpAffine's rounding differs
between releases (4.x: 1/32-pixel positions, fixed-point weights; 5.x: float), so the SDK's crops
move by up to 2 grey levels with the release; tools/golden.py's vectors do not use OpenCV, and
.ci/run checks the crops under the lowest release allowed here.

The model files in blazepose_sdk/model_files/ (with their manifest, model card, NOTICE and licence)
ship inside the wheel as package data: the official MediaPipe detector and Lite landmark model
(Apache-2.0, the default pipeline) and our own. The official Full and Heavy landmark models never
do: `blazepose models fetch-reference` puts them in a user cache.
"""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
version = next(
    line.split("=")[1].strip().strip('"')
    for line in (ROOT / "blazepose_sdk" / "_version.py").read_text().splitlines()
    if line.startswith("__version__")
)

# Where PyPI has an ai-edge-litert wheel (checked for 2.3.0: manylinux_2_27 x86_64/aarch64
# cp310-cp314, 2.0.3 also cp39; macosx_12_0 arm64; win_amd64 from 2.3.0, cp310+).
LITERT_MARKER = (
    "(sys_platform == 'linux' and (platform_machine == 'x86_64' or platform_machine == 'aarch64'))"
    " or (sys_platform == 'darwin' and platform_machine == 'arm64')"
    " or (sys_platform == 'win32' and platform_machine == 'AMD64' and python_version >= '3.10')"
)
# 32-bit Raspberry Pi OS: no LiteRT wheel; tflite-runtime 2.14.0 has manylinux_2_34 armv7l
# wheels for cp38-cp311 (2.13.0: manylinux2014, up to cp310). It was built against NumPy 1.x
# and fails to import under NumPy 2, hence the numpy cap on armv7l.
TFLITE_RUNTIME_MARKER = "sys_platform == 'linux' and platform_machine == 'armv7l'"

# The official model files that never ship (blazepose_sdk.assets.models.REFERENCE_FILES): fetched into a
# user cache. The detector and the Lite landmark model do ship (model_files/NOTICE).
NOT_SHIPPED_MODEL_FILES = ("pose_landmark_full.tflite", "pose_landmark_heavy.tflite")

INSTALL_REQUIRES = [
    "numpy>=1.23; platform_machine != 'armv7l'",
    "numpy>=1.23,<2; platform_machine == 'armv7l'",
    # the lowest is what .ci/run's lowest-OpenCV step installs (see the docstring)
    "opencv-python-headless>=4.10",
    # The CLI's progress bar for videos (pure Python; ai-edge-litert depends on it anyway).
    "tqdm>=4.60",
    f"ai-edge-litert>=1.2; {LITERT_MARKER}",
    f"tflite-runtime>=2.13; {TFLITE_RUNTIME_MARKER}",
]

BENCH = ["pycocotools>=2.0.7", "matplotlib>=3.7", "rich>=13"]
# TensorFlow without its CUDA parts where such a wheel exists (the same as requirements-*.txt);
# `tensorflow` elsewhere (macOS, aarch64), where it is CPU-only anyway.
TF_CPU_MARKER = ("(sys_platform == 'linux' and platform_machine == 'x86_64')"
                 " or (sys_platform == 'win32' and platform_machine == 'AMD64')")
NOT_TF_CPU_MARKER = ("(sys_platform != 'linux' or platform_machine != 'x86_64')"
                     " and (sys_platform != 'win32' or platform_machine != 'AMD64')")
TENSORFLOW = [f"tensorflow-cpu>=2.15; {TF_CPU_MARKER}", f"tensorflow>=2.15; {NOT_TF_CPU_MARKER}"]
# The torch release of requirements-train.txt, whose CPU build CI uses (docstring: how to get it);
# it needs Python 3.10+, so 3.9 keeps the range.
TORCH = ["torch==2.13.0; python_version >= '3.10'", "torch>=2.1; python_version < '3.10'"]
# training/: TensorFlow/Keras models and tf.data; synthetic data from the anny body model (PyTorch).
TRAIN = [*TENSORFLOW, "pyyaml>=6", *TORCH, "anny>=0.6", *BENCH]
# tf2onnx and onnx2tf import TensorFlow at run time without declaring it.
CONVERT = [*TENSORFLOW, "onnx>=1.14", "onnx2tf>=1.20", "tf2onnx>=1.16", "onnxruntime>=1.16",
           "ai-edge-quantizer>=0.10"]
# setuptools and wheel: the packaging tests build with `python -m build --no-isolation` (offline).
DEV = ["pytest>=8", "build>=1.0", "setuptools>=69", "wheel", "hypothesis>=6", *BENCH]
# `blazepose bench npu`: Arm's Ethos-U compiler, for its NPU estimates (5.2.0 used in docs/lab/2026-12-01_npu.md).
NPU = ["ethos-u-vela>=5.2"]
# `blazepose batch` on a Ray cluster (docs/scale.md); without it, batch runs in one local process.
CLUSTER = ["ray[default]>=2.9"]

setup(
    name="blazepose-sdk",
    version=version,
    description="On-device BlazePose-style human pose tracking (TFLite) with an open benchmark pipeline",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    # The benchmark suite lives in the SDK's namespace (blazepose_sdk.bench, `blazepose bench`), so
    # the wheel installs one top-level package; training/, convert/ and tools/ stay in the checkout.
    packages=find_packages(include=["blazepose_sdk", "blazepose_sdk.*"],
                           exclude=["blazepose_sdk.bench.edge", "blazepose_sdk.bench.edge.*"]),
    # Every file under blazepose_sdk/model_files/ (models, manifest.json, model card, NOTICE,
    # licence), but never the official Full and Heavy models: those are fetched into a user cache.
    package_data={"blazepose_sdk": ["model_files/*", "model_files/**/*"],
                  # the hand-check record of the independent real set (read by bench.independent_set)
                  "blazepose_sdk.bench": ["data/*.json", "README.md"]},
    exclude_package_data={"blazepose_sdk": [f"model_files/{name}" for name in NOT_SHIPPED_MODEL_FILES] + ["model_files/*.pyc"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={"bench": BENCH, "train": TRAIN, "convert": CONVERT, "dev": DEV, "npu": NPU, "cluster": CLUSTER},
    entry_points={"console_scripts": ["blazepose=blazepose_sdk.app.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Operating System :: MacOS",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
