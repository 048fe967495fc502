"""Child process of the latency suite: peak resident memory of loading and running one model.

``python -m blazepose_sdk.bench._rss_probe MODEL.tflite --threads N --runs K [--delegate D]`` prints one
JSON line ``{"baseline_rss_mb": ..., "peak_rss_mb": ...}``: the process's peak RSS after
importing the runtime, and after loading the model and running it K times. A fresh process per
model keeps one model's memory out of another's. On Linux the peak is ``VmHWM`` of
/proc/self/status (``getrusage``'s ru_maxrss would include the parent's peak, which Linux
carries over fork and exec); elsewhere ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import sys


def proc_status_kib(field: str) -> int | None:
    """A memory field of /proc/self/status in KiB (``VmRSS``: resident now, ``VmHWM``: its peak);
    None where there is no such file (not Linux) or field."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MiB (None where it cannot be read, e.g. Windows)."""
    peak_kib = proc_status_kib("VmHWM")
    if peak_kib is not None:
        return peak_kib / 1024.0
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux and in bytes on macOS (getrusage(2) man pages).
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blazepose_sdk.bench._rss_probe")
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delegate", default=None)
    args = parser.parse_args(argv)

    import numpy as np

    from blazepose_sdk.stages.runtime import TFLiteModel, load_runtime

    load_runtime()
    baseline = peak_rss_mb()
    with TFLiteModel(args.model, num_threads=args.threads, delegate=args.delegate) as model:
        rng = np.random.default_rng(0)
        inputs = [rng.random(spec.shape, dtype=np.float32) for spec in model.inputs]
        for _ in range(max(1, args.runs)):
            model.run(*inputs)
        peak = peak_rss_mb()
    print(json.dumps({"baseline_rss_mb": baseline, "peak_rss_mb": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
