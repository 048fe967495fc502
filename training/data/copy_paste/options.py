"""Copy-paste options, mask thresholds and errors (training.data.copy_paste)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from blazepose_sdk.errors import BlazePoseError
from blazepose_sdk.geometry.roi import Roi
from training.data.augment import AugmentOptions

SegmentFn = Callable[[np.ndarray, Roi], np.ndarray]


class CopyPasteError(BlazePoseError, ValueError):
    """Copy-paste input is unusable (no samples, no background, bad option)."""


class ReservedSourceError(CopyPasteError):
    """A person comes from a reserved test set or a held-out source."""


@dataclass(frozen=True)
class MaskThresholds:
    """When a person's segmentation mask is good enough to cut it out (all our choices, set from
    the 46 Heavy pseudo-labels of the real corpus's train split, see docs/data.md).

    prob: a pixel is 'person' at sigmoid >= prob (MediaPipe's own segmentation smoothing and
        drawing use 0.5 too, but that choice is ours here).
    coverage_radius: a landmark counts as 'on the mask' within this fraction of the ROI side of
        the mask (landmarks sit on silhouette edges: wrists, heels, toes).
    min_coverage: share of the labelled, visible landmarks that must lie on the mask.
    box_margin: the landmark box is grown by this fraction of its longer side on every side
        (the head top, hair and hands reach beyond the landmarks).
    min_in_box: share of the mask inside the grown box (a mask bleeding into a neighbour or the
        background fails).
    area_ratio: (min, max) mask area / grown-box area (the grown box, not the landmark box: a
        side view's landmark box is narrower than the body).
    """

    prob: float = 0.5
    coverage_radius: float = 0.02
    min_coverage: float = 0.8
    box_margin: float = 0.15
    min_in_box: float = 0.9
    area_ratio: tuple[float, float] = (0.1, 0.9)
    # The cut-out's alpha ramps linearly from 0 to 1 between these probabilities: the model's mask
    # is soft over several pixels, and its faint fringe would carry the old background along as
    # a halo (seen on the contact sheet). Our choice.
    alpha_ramp: tuple[float, float] = (0.3, 0.7)


@dataclass(frozen=True)
class CopyPasteOptions:
    """Paste parameters. Angles in degrees; person_scale: ROI side / shorter output side."""

    person_scale: tuple[float, float] = (0.3, 1.0)
    max_upscale: float = 2.0  # never enlarge a person more than this (blur)
    rotation_deg: float = 25.0
    flip_prob: float = 0.5
    truncation_prob: float = 0.1  # the person may leave the image partly (hip centre stays inside)
    synthetic_prob: float = 0.25  # procedural background instead of a real frame
    background_crop: tuple[float, float] = (0.6, 1.0)  # crop side / frame side, per axis
    background_flip_prob: float = 0.5
    max_side: int = 960  # longer side of real backgrounds (downscaled) and synthetic ones
    feather_sigma_px: float = 1.0  # Gaussian blur of the alpha in the output
    colour_prob: float = 0.8
    brightness: float = 0.2
    contrast: tuple[float, float] = (0.75, 1.3)
    saturation: tuple[float, float] = (0.6, 1.4)
    hue_deg: float = 10.0
    gamma: tuple[float, float] = (0.8, 1.25)
    jpeg_quality: int = 92
    masks: MaskThresholds = field(default_factory=MaskThresholds)

    def colour_options(self) -> AugmentOptions:
        return AugmentOptions(brightness=self.brightness, contrast=self.contrast, saturation=self.saturation,
                              hue_deg=self.hue_deg, gamma=self.gamma)
