"""Temporal filters: One-Euro (scale-normalised) for landmark positions, low-pass for visibility.

Vectorised over arrays: one filter object smooths every coordinate of every landmark at once.
The behaviour follows the One-Euro filter (Casiez et al., CHI 2012) as MediaPipe's
LandmarksSmoothingCalculator applies it: the speed term is multiplied by ``value_scale``
(1 / object size in pixels), so the same settings work for near and far people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from ..errors import OptionError

# pose_landmark_filtering.pbtxt, LandmarksSmoothingCalculator one_euro_filter for the 33 landmarks.
LANDMARK_MIN_CUTOFF = 0.05
LANDMARK_BETA = 80.0
LANDMARK_DERIVATE_CUTOFF = 1.0
# Same graph, world landmarks (metres; disable_value_scaling: true).
WORLD_MIN_CUTOFF = 0.1
WORLD_BETA = 40.0
# Same graph, auxiliary (ROI) landmarks: smoothed harder so the crop stays steady.
AUX_MIN_CUTOFF = 0.01
AUX_BETA = 10.0
# VisibilitySmoothingCalculator low_pass_filter alpha in the same graph.
VISIBILITY_ALPHA = 0.1
# OneEuroFilter frequency option default (Hz), used until two timestamps give a real rate.
DEFAULT_FREQUENCY_HZ = 30.0


def exp_smoothing_alpha(cutoff_hz: float, frequency_hz: float) -> float:
    """Alpha of an exponential smoother with the given cutoff at the given sample rate."""
    te = 1.0 / frequency_hz
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / te)


class LowPassFilter:
    """Exponential smoothing: y = alpha * x + (1 - alpha) * y_prev; the first value passes."""

    def __init__(self, alpha: float) -> None:
        self.alpha = float(alpha)
        self.last_raw: np.ndarray | None = None
        self.last_filtered: np.ndarray | None = None

    def apply_with_alpha(self, value: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self.last_filtered is None:
            filtered = value.copy()
        else:
            filtered = alpha * value + (1.0 - alpha) * self.last_filtered
        self.last_raw = value.copy()
        self.last_filtered = filtered
        return filtered

    def __call__(self, value: np.ndarray) -> np.ndarray:
        return self.apply_with_alpha(value, self.alpha)

    def reset(self) -> None:
        self.last_raw = None
        self.last_filtered = None


class OneEuroFilter:
    """One-Euro filter over an array of values sampled at increasing timestamps.

    Args:
        min_cutoff: cutoff (Hz) when still; lower is smoother.
        beta: how fast the cutoff rises with speed; higher lags less.
        derivate_cutoff: cutoff (Hz) of the speed estimate.
    """

    def __init__(self, min_cutoff: float, beta: float, derivate_cutoff: float = 1.0,
                 frequency_hz: float = DEFAULT_FREQUENCY_HZ) -> None:
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.derivate_cutoff = float(derivate_cutoff)
        self.default_frequency_hz = float(frequency_hz)
        self.reset()

    def reset(self) -> None:
        self.frequency_hz = self.default_frequency_hz
        self.last_time_s: float | None = None
        self._x = LowPassFilter(0.0)
        self._dx = LowPassFilter(0.0)

    def __call__(self, value: np.ndarray, timestamp_s: float, value_scale: float = 1.0) -> np.ndarray:
        """Filter ``value`` taken at ``timestamp_s``; a timestamp not after the last one returns
        the value unfiltered (and changes nothing), as MediaPipe does."""
        value = np.asarray(value, dtype=np.float64)
        if self.last_time_s is not None and timestamp_s <= self.last_time_s:
            return value.copy()
        if self.last_time_s is not None:
            self.frequency_hz = 1.0 / (timestamp_s - self.last_time_s)
        self.last_time_s = timestamp_s
        if self._x.last_raw is not None:
            speed = (value - self._x.last_raw) * value_scale * self.frequency_hz
        else:
            speed = np.zeros_like(value)
        smoothed_speed = self._dx.apply_with_alpha(speed, exp_smoothing_alpha(self.derivate_cutoff, self.frequency_hz))
        cutoff = self.min_cutoff + self.beta * np.abs(smoothed_speed)
        alpha = 1.0 / (1.0 + (1.0 / (2.0 * np.pi * cutoff)) * self.frequency_hz)
        return self._x.apply_with_alpha(value, alpha)


# What each SmoothingOptions field accepts (its ``metadata["kind"]``): a cutoff frequency (Hz) must
# be > 0 (0 divides by zero, a negative one makes the filter diverge); a speed gain >= 0; a low-pass
# alpha in (0, 1] (1: no smoothing; 0 would freeze the first value; above 1 it overshoots).
_SMOOTHING_RULES = {
    "cutoff": (lambda v: v > 0.0, "> 0 (Hz)"),
    "gain": (lambda v: v >= 0.0, ">= 0"),
    "alpha": (lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
}


@dataclass(frozen=True)
class SmoothingOptions:
    """Filter settings; defaults are MediaPipe's pose_landmark_filtering.pbtxt values.

    Each field is checked when the options are made (also by ``dataclasses.replace`` and the
    ``--options`` file): a finite number, cutoffs > 0, betas >= 0, ``visibility_alpha`` in (0, 1];
    anything else raises :class:`~blazepose_sdk.errors.OptionError` naming the field.
    """

    min_cutoff: float = field(default=LANDMARK_MIN_CUTOFF, metadata={"kind": "cutoff"})
    beta: float = field(default=LANDMARK_BETA, metadata={"kind": "gain"})
    derivate_cutoff: float = field(default=LANDMARK_DERIVATE_CUTOFF, metadata={"kind": "cutoff"})
    world_min_cutoff: float = field(default=WORLD_MIN_CUTOFF, metadata={"kind": "cutoff"})
    world_beta: float = field(default=WORLD_BETA, metadata={"kind": "gain"})
    visibility_alpha: float = field(default=VISIBILITY_ALPHA, metadata={"kind": "alpha"})

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            name = f"option 'smoothing.{f.name}'"
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise OptionError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise OptionError(f"{name} must be finite, got {value!r}")
            ok, wanted = _SMOOTHING_RULES[f.metadata["kind"]]
            if not ok(float(value)):
                raise OptionError(f"{name} must be {wanted}, got {value!r}")
            object.__setattr__(self, f.name, float(value))


class PoseSmoother:
    """Smooths one tracked pose across frames.

    Landmark positions (x_px, y_px, z_px) go through a One-Euro filter whose speed is
    normalised by ``object_scale_px`` (the person's size), world landmarks through an
    unscaled One-Euro filter, visibility through a low-pass filter (presence is left raw).
    """

    def __init__(self, options: SmoothingOptions = SmoothingOptions()) -> None:
        self.options = options
        self._xyz = OneEuroFilter(options.min_cutoff, options.beta, options.derivate_cutoff)
        self._world = OneEuroFilter(options.world_min_cutoff, options.world_beta, options.derivate_cutoff)
        self._visibility = LowPassFilter(options.visibility_alpha)

    def reset(self) -> None:
        self._xyz.reset()
        self._world.reset()
        self._visibility.reset()

    def __call__(self, landmarks_px: np.ndarray, world_m: np.ndarray, timestamp_s: float,
                 object_scale_px: float) -> tuple[np.ndarray, np.ndarray]:
        """Return smoothed copies of (33, 5) landmarks and (33, 3) world landmarks."""
        out = np.array(landmarks_px, dtype=np.float64)
        out[:, 3] = self._visibility(out[:, 3])  # visibility only, as VisibilitySmoothingCalculator
        if object_scale_px > 1e-6:
            out[:, :3] = self._xyz(out[:, :3], timestamp_s, 1.0 / object_scale_px)
        world = self._world(np.asarray(world_m, dtype=np.float64), timestamp_s, 1.0)
        return out, world


class AuxiliarySmoother:
    """Smooths the two auxiliary ROI points (hip centre, body-circle point), in pixels."""

    def __init__(self) -> None:
        self._xy = OneEuroFilter(AUX_MIN_CUTOFF, AUX_BETA, LANDMARK_DERIVATE_CUTOFF)

    def reset(self) -> None:
        self._xy.reset()

    def __call__(self, aux_px: np.ndarray, timestamp_s: float, object_scale_px: float) -> np.ndarray:
        if object_scale_px <= 1e-6:
            return np.asarray(aux_px, dtype=np.float64)
        return self._xy(aux_px, timestamp_s, 1.0 / object_scale_px)
