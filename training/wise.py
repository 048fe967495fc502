"""Weight-space interpolation of a fine-tuned student with its starting point (WiSE-FT).

    python -m training.wise --student imported:LITE.keras --weights RUN/student.weights.h5 --t 0.5 \
        --out DIR [--export-precisions float16]

Every weight becomes ``(1 - t) x start + t x fine-tuned``: ``t = 1`` is the fine-tuned student,
``t = 0`` the model it started from (for ``imported:`` students, the official weights).
Wortsman et al., "Robust fine-tuning of zero-shot models" (CVPR 2022), found the mix keeps the
start's robustness off the fine-tuning data while keeping most of the fine-tuning's gain; ``t``
should be chosen before looking at any test set (0.5 is the paper's simple default). The result is
exported as :func:`training.distill_export.export_student` does (``DIR/<stem>*.tflite`` + manifest).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def interpolate(start: list[np.ndarray], tuned: list[np.ndarray], t: float) -> list[np.ndarray]:
    """``(1 - t) a + t b`` per array (same shapes, dtypes kept)."""
    if len(start) != len(tuned):
        raise ValueError(f"{len(start)} vs {len(tuned)} weight arrays: not the same model")
    out = []
    for a, b in zip(start, tuned):
        if a.shape != b.shape:
            raise ValueError(f"weight shapes differ: {a.shape} vs {b.shape}")
        out.append(((1.0 - t) * a.astype(np.float64) + t * b.astype(np.float64)).astype(a.dtype))
    return out


def main(argv=None) -> int:
    from training.config import EXPORT_PRECISIONS, DistillConfig
    from training.distill_export import export_student
    from training.students import build_student, student_kind_of

    ap = argparse.ArgumentParser(prog="python -m training.wise", description=__doc__.splitlines()[0])
    ap.add_argument("--student", required=True, help="the run's --student (its starting weights)")
    ap.add_argument("--weights", required=True, help="the fine-tuned RUN/student.weights.h5")
    ap.add_argument("--t", type=float, default=0.5, help="share of the fine-tuned weights (0..1)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--input-size", type=int, default=256)
    ap.add_argument("--export-precisions", nargs="+", choices=EXPORT_PRECISIONS, default=["float16"])
    a = ap.parse_args(argv)
    if not 0.0 <= a.t <= 1.0:
        ap.error("--t must be in 0..1")
    start = build_student(a.student, a.input_size)
    tuned = build_student(a.student, a.input_size)
    tuned.load_weights(a.weights)
    start.set_weights(interpolate(start.get_weights(), tuned.get_weights(), a.t))
    cfg = DistillConfig(student=a.student, input_size=a.input_size, export_precisions=tuple(a.export_precisions))
    paths = export_student(start, cfg, a.out, student_kind_of(a.student))
    (a.out / "wise.json").write_text(json.dumps({"student": a.student, "weights": a.weights, "t": a.t,
                                                 "export": paths}, indent=1))
    print(json.dumps({"t": a.t, "export": paths}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
