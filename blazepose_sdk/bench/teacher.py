"""GPU teacher models (TensorFlow SavedModel or Keras files), timed on ``/GPU:0``.

TensorFlow is imported only when a teacher is given, so the .tflite suites never need it.
Without TensorFlow or without a GPU every teacher is skipped with a note saying why.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .metrics import timing_stats

TEACHER_DEVICE = "/GPU:0"


def gpu_status() -> tuple[bool, str]:
    """(usable, description): whether TensorFlow is installed and sees a GPU."""
    try:
        import tensorflow as tf
    except ImportError:
        return False, "TensorFlow is not installed"

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return False, f"TensorFlow {tf.__version__} sees no GPU"
    return True, f"TensorFlow {tf.__version__}, {len(gpus)} GPU(s): " + ", ".join(g.name for g in gpus)


def _concrete_shape(shape, name: str) -> tuple[int, ...]:
    dims = list(shape)
    if dims and dims[0] is None:
        dims[0] = 1  # batch of one, as on device
    if any(d is None for d in dims):
        raise ValueError(
            f"teacher input {name!r} has unknown dimensions {tuple(shape)}; export it with a fixed input size"
        )
    return tuple(int(d) for d in dims)


def _load(path: Path):
    """Return (callable taking a list of arrays, list of input shapes) for a SavedModel dir or Keras file."""
    import tensorflow as tf

    if path.is_dir() and (path / "saved_model.pb").is_file():
        loaded = tf.saved_model.load(str(path))
        fn = loaded.signatures["serving_default"]
        specs = fn.structured_input_signature[1]
        names = sorted(specs)
        shapes = [_concrete_shape(specs[n].shape, n) for n in names]
        return (lambda arrays: fn(**dict(zip(names, arrays)))), shapes, loaded
    model = tf.keras.models.load_model(str(path), compile=False)
    shapes = [_concrete_shape(t.shape, getattr(t, "name", "input")) for t in model.inputs]
    return (lambda arrays: model(arrays if len(arrays) > 1 else arrays[0], training=False)), shapes, model


def _sync(outputs) -> None:
    """Copy every output to the host, which waits for the GPU to finish."""
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    for out in outputs:
        np.asarray(out)


def benchmark_teacher(path: str | os.PathLike, runs: int, warmup: int) -> dict:
    """Time one teacher on /GPU:0 with random input: the same statistics as the .tflite rows."""
    import tensorflow as tf

    p = Path(path)
    with tf.device(TEACHER_DEVICE):
        call, shapes, _keep = _load(p)
        rng = np.random.default_rng(0)
        arrays = [tf.constant(rng.random(s, dtype=np.float32)) for s in shapes]
        for _ in range(max(1, warmup)):
            _sync(call(arrays))
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            _sync(call(arrays))
            times.append(time.perf_counter() - t0)
    params = None
    if hasattr(_keep, "count_params"):
        params = int(_keep.count_params())
    return {
        "name": p.name,
        "path": str(p),
        "kind": "teacher",
        "role": "teacher",
        "reference": False,
        "framework": f"tensorflow {tf.__version__}",
        "device": TEACHER_DEVICE,
        "params": params,
        "input_shapes": [list(s) for s in shapes],
        "measurements": [{"config": "gpu", "threads": None, "delegate": None, **timing_stats(times), "error": None}],
    }
