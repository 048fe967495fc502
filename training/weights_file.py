"""Weights-only student files small enough to commit: every weight as float16 in one ``.npz``.

A long CPU run spans sessions and machines; its optimizer checkpoints (RUN/ckpt, 14 MB for
Lite-HRNet-18) and its float32 ``student.weights.h5`` (7.4 MB) are over the project's 5 MB limit
for a committed file. :func:`save_fp16` writes the weights alone in half precision (2.4 MB for
Lite-HRNet-18); ``python -m training.distill --init-weights FILE.npz`` starts the next run from
it (:func:`load_weights`). Half precision keeps about 3 significant digits: a restart point, not an
exact copy (the optimizer state is not kept either).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FP16_SUFFIX = ".npz"


def save_fp16(model, path: str | Path) -> Path:
    """Write ``model``'s weights (Keras ``model.weights`` order) as float16 to ``path`` (.npz),
    with their paths to check against on loading."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"w{i:05d}": np.asarray(w.numpy()).astype(np.float16) for i, w in enumerate(model.weights)}
    names = np.array([w.path for w in model.weights])
    with path.open("wb") as f:
        np.savez_compressed(f, names=names, **arrays)
    return path


def load_weights(model, path: str | Path) -> None:
    """Load ``path`` into ``model``: a float16 ``.npz`` from :func:`save_fp16` (weights in
    order, each cast to its variable's dtype), else anything ``model.load_weights`` reads.

    Raises:
        ValueError: the file holds a different set of weights (count, paths or shapes).
    """
    path = Path(path)
    if path.suffix != FP16_SUFFIX:
        model.load_weights(str(path))
        return
    with np.load(path) as data:
        names = [str(n) for n in data["names"]]
        values = [data[f"w{i:05d}"] for i in range(len(names))]
    weights = model.weights
    if [w.path for w in weights] != names:
        raise ValueError(f"{path} holds {len(names)} weights that are not this model's {len(weights)} "
                         "(another --student or --input-size?)")
    for w, v in zip(weights, values):
        if tuple(w.shape) != v.shape:
            raise ValueError(f"{path}: weight {w.path} has shape {v.shape}, the model's is {tuple(w.shape)}")
        w.assign(v.astype(w.dtype))
