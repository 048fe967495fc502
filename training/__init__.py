"""Training-side code for blazepose-sdk (data engine, later models). Not installed with the SDK.

Importing this package loads triton, when it is installed, before anything imports TensorFlow
(:func:`load_triton_before_tensorflow`); tests/conftest.py imports it first for the same reason.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings


def load_triton_before_tensorflow() -> None:
    """Import triton now if it is installed and neither it nor TensorFlow is loaded yet.

    PyPI's Linux x86_64 torch is the CUDA build, which brings triton. TensorFlow's
    libtensorflow_framework.so.2 and libtensorflow_cc.so.2 export the LLVM and MLIR they are built
    with; triton's libtriton.so carries another LLVM, and loaded after TensorFlow its static
    initialisers bind to TensorFlow's copies and the process dies with a segmentation fault
    (measured: tensorflow-cpu 2.21.0, then torch 2.14.1 + triton 3.8.0 by way of anny -> roma ->
    torch._dynamo; gdb: llvm::DebugCounter in libtriton's PassBuilder.cpp initialiser, with
    LD_DEBUG=bindings showing libtriton's llvm:: and mlir:: symbols bound to TensorFlow's
    libraries). Loaded first, each keeps its own. The CPU build of torch has no triton: nothing
    to do. Idempotent and cheap when triton is absent or already loaded.
    """
    if "triton" in sys.modules or importlib.util.find_spec("triton") is None:
        return
    if "tensorflow" in sys.modules:
        warnings.warn("TensorFlow was imported before triton (torch's CUDA build): importing torch._dynamo or "
                      "anny now may crash the process; import `training` (or triton) before TensorFlow",
                      RuntimeWarning, stacklevel=2)
        return
    try:
        import triton  # noqa: F401
    except Exception:  # a broken triton: torch imports it lazily and reports it itself
        pass


load_triton_before_tensorflow()
