"""The only module that touches a TFLite interpreter.

:class:`TFLiteModel` loads a ``.tflite`` file through the first runtime found, in order:
``ai_edge_litert`` (LiteRT), ``tflite_runtime``, ``tensorflow.lite``. It sets the XNNPACK
thread count, attaches an optional delegate, quantizes/dequantizes int8/uint8 tensors so
callers always pass and get float32, and turns every runtime failure into a
:class:`~blazepose_sdk.errors.BlazePoseError`.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    ModelHashMismatchError,
    ModelLoadError,
    ModelNotFoundError,
    ModelSignatureError,
    OptionError,
    RuntimeUnavailableError,
)

# Import paths tried in order: (module with Interpreter and load_delegate, runtime name).
_RUNTIMES = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite", "tensorflow"),
)
# Most XNNPACK threads chosen by default: the usable cores, up to this many (MediaPipe clamps its
# mobile default to 1..4 as well, in mediapipe/calculators/tensor/inference_calculator_utils.cc).
MAX_DEFAULT_THREADS = 4
# Well-known delegate names resolved to shared libraries (Edge TPU and GPU on Linux/Android).
DELEGATE_LIBRARIES = {
    "edgetpu": "libedgetpu.so.1",
    "gpu": "libtensorflowlite_gpu_delegate.so",
}


def load_runtime() -> tuple[Any, str]:
    """Return (interpreter module, runtime name) for the first TFLite runtime installed."""
    errors = []
    for module_name, runtime_name in _RUNTIMES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # try the next runtime
            errors.append(f"{runtime_name}: {exc}")
            continue
        return module, runtime_name
    raise RuntimeUnavailableError(
        "no TFLite runtime found; install one with `pip install ai-edge-litert` "
        "(or tflite-runtime on platforms without a LiteRT wheel). Tried: " + "; ".join(errors)
    )


def runtime_name() -> str:
    """Name of the TFLite runtime :class:`TFLiteModel` will use."""
    return load_runtime()[1]


# More interpreter threads than any edge CPU has cores is a typo, not a setting.
MAX_THREADS = 256


def check_num_threads(label: str, value: object) -> None:
    """Raise :class:`OptionError` unless ``value`` is None or a whole number from 1 to
    MAX_THREADS (``label`` names it: a field, an option key or a flag)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THREADS:
        raise OptionError(f"{label} must be a whole number from 1 to {MAX_THREADS}, got {value!r}")


def default_num_threads() -> int:
    """The thread count used when none is given: the cores this process may run on, 1..4.

    Results do not depend on it (XNNPACK splits work, not sums); it only sets the speed. The
    runtimes' own default is one thread.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_THREADS, cores))


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_model_file(path: str | os.PathLike, expected_sha256: str | None = None) -> bytes:
    """The bytes of a model file; refused with ModelNotFoundError when it is missing and with
    ModelHashMismatchError when ``expected_sha256`` is given and differs."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    content = path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected_sha256:
            raise ModelHashMismatchError(
                f"{path} has sha256 {actual}, expected {expected_sha256}; the file is corrupt "
                "or a different version: delete it and fetch it again (`blazepose models fetch-reference`)"
            )
    return content


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as the interpreter reports it."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float  # quantization scale; 0.0 for float tensors
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)


def quantize(values: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """Affine-quantize float values: ``clip(round(x / scale) + zero_point)`` to ``dtype``'s range."""
    info = np.iinfo(np.dtype(dtype))
    q = np.rint(np.asarray(values, dtype=np.float32) / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Inverse of :func:`quantize`: ``(q - zero_point) * scale`` as float32."""
    return (np.asarray(values).astype(np.float32) - zero_point) * np.float32(scale)


def _spec(detail: dict) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        name=str(detail["name"]),
        index=int(detail["index"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


class TFLiteModel:
    """A loaded ``.tflite`` model; call :meth:`run` with float32 arrays.

    Args:
        path: the model file.
        num_threads: XNNPACK/CPU threads (None: :func:`default_num_threads`, the usable cores up to 4).
        delegate: None, a shared-library path, or a name in :data:`DELEGATE_LIBRARIES`
            (``"gpu"``, ``"edgetpu"``); ``delegate_options`` are passed to it.
        expected_sha256: if given, the file is refused unless its sha256 matches
            (:func:`read_model_file`).
        content: the model's bytes, already read and checked by the caller (e.g. a model derived
            from ``path`` by :mod:`blazepose_sdk.assets.derived`); ``path`` then only names it and
            ``expected_sha256`` is not used.
    Raises:
        ModelNotFoundError, ModelHashMismatchError, ModelLoadError, RuntimeUnavailableError.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        num_threads: int | None = None,
        delegate: str | None = None,
        delegate_options: dict | None = None,
        expected_sha256: str | None = None,
        content: bytes | None = None,
    ) -> None:
        self.path = Path(path)
        if content is None:
            content = read_model_file(self.path, expected_sha256)
        check_num_threads("num_threads", num_threads)
        module, self.runtime = load_runtime()
        delegates = []
        if delegate:
            library = DELEGATE_LIBRARIES.get(delegate, delegate)
            # tflite-runtime / LiteRT expose load_delegate; tf.lite keeps it under experimental
            load_delegate = getattr(module, "load_delegate", None) or module.experimental.load_delegate
            # Open the library first: when the runtime's own Delegate() cannot, the half-built object
            # prints a traceback from its __del__ (LiteRT 2.3) on top of our one-line error.
            try:
                ctypes.CDLL(library)
            except OSError as exc:
                raise ModelLoadError(f"cannot load delegate {library!r}: {exc}") from None
            try:
                delegates.append(load_delegate(library, delegate_options or {}))
            except (ValueError, OSError, RuntimeError) as exc:
                raise ModelLoadError(f"cannot load delegate {library!r}: {exc}") from exc
        if len(content) < 8 or content[4:8] != b"TFL3":
            raise ModelLoadError(f"{self.path} is not a TFLite flatbuffer (missing 'TFL3' identifier)")
        if num_threads is None:
            num_threads = default_num_threads()
        try:
            kwargs: dict[str, Any] = {"model_content": content, "num_threads": int(num_threads)}
            if delegates:
                kwargs["experimental_delegates"] = delegates
            self._interpreter = module.Interpreter(**kwargs)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"cannot load {self.path}: {exc}") from exc
        self.num_threads = num_threads
        self.delegate = delegate
        self.inputs = [_spec(d) for d in self._interpreter.get_input_details()]
        self.outputs = [_spec(d) for d in self._interpreter.get_output_details()]

    def run(self, *inputs: np.ndarray, outputs: Collection[int] | None = None) -> list[np.ndarray | None]:
        """Run once; returns float32 outputs in the model's output order.

        Each input must have the model's input shape; float data is quantized for int8/uint8
        inputs with the model's scale and zero point, and quantized outputs are dequantized.
        ``outputs``: indices of the outputs to read (None: all); the others come back as None,
        which spares copying outputs the caller does not use (a landmark model's segmentation mask).
        """
        if self._interpreter is None:
            raise ModelLoadError(f"{self.path} was closed")
        if len(inputs) != len(self.inputs):
            raise ModelSignatureError(f"{self.path.name} takes {len(self.inputs)} inputs, got {len(inputs)}")
        for spec, value in zip(self.inputs, inputs):
            value = np.asarray(value)
            if tuple(value.shape) != spec.shape:
                raise ModelSignatureError(
                    f"{self.path.name} input {spec.name!r} expects shape {spec.shape}, got {tuple(value.shape)}"
                )
            if spec.quantized:
                value = quantize(value, spec.dtype, spec.scale, spec.zero_point)
            else:
                value = value.astype(spec.dtype, copy=False)
            self._interpreter.set_tensor(spec.index, np.ascontiguousarray(value))
        try:
            self._interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"inference failed in {self.path.name}: {exc}") from exc
        results: list[np.ndarray | None] = []
        for i, spec in enumerate(self.outputs):
            if outputs is not None and i not in outputs:
                results.append(None)
                continue
            out = self._interpreter.get_tensor(spec.index)
            if spec.quantized:
                out = dequantize(out, spec.scale, spec.zero_point)
            results.append(np.asarray(out, dtype=np.float32))
        return results

    def close(self) -> None:
        """Release the interpreter (idempotent)."""
        self._interpreter = None

    def __enter__(self) -> "TFLiteModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TFLiteModel({str(self.path)!r}, runtime={self.runtime!r}, threads={self.num_threads})"
