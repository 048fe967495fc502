"""Copy-paste augmentation: real labelled people cut out with the landmark model's segmentation
and pasted, transformed and recoloured, onto other backgrounds.

    python -m training.data.copy_paste --samples DIR_OR_TFRECORDS [...] --backgrounds DIR [...]
        --out DIR --num N --seed S [--model reference-heavy | --landmark FILE.tflite]
        [--corpus corpus.json] [--synthetic-prob 0.25] [--max-side 960]

1. Cut-out. For every labelled person (a :class:`~training.data.sample.Sample`) the landmark
   model runs on the SDK's ROI of its labels (``blazepose_sdk.geometry.roi.roi_from_keypoints``, cropped by
   ``blazepose_sdk.geometry.image.crop_roi``); its (1, 256, 256, 1) segmentation logits -> sigmoid -> warped
   back to the image through the inverse of the ROI affine give a soft person mask in image pixels.
   The mask's connected parts (prob >= 0.5) that touch the person's landmarks are kept (other
   people in the ROI fall away) and it is clipped to the landmark box grown by ``box_margin``.
   A person is dropped when the mask is poor (:class:`MaskThresholds`; counted per reason).
2. Paste. Each output picks a person (weighted 1 / sqrt(people of its scene): see
   :func:`person_weights`) and a background (with ``synthetic_prob`` a procedural one, else a
   scene of the other scenes, then one of its frames), a scale, rotation, flip and colour jitter
   (the person only: the jittered cut-out is what the alpha lets through), and
   composites the person with a feathered alpha. Labels go through the same affine: landmark
   x, y; z times the scale; world x, y turned with the image and mirrored with it (x negated,
   left/right rows swapped by ``FLIP_INDEX``); visibility 0 for landmarks outside the image or off
   the cut-out; box and alignment points recomputed (``training.data.sample.alignment_points``).
   People cut by their source image's border are pasted upright with that cut on the output's
   matching border, so no body ends in a straight line mid-image.
3. Output: ``DIR/copy_paste-XXXXX-of-YYYYY.tfrecord`` (``source = "copy_paste:<orig source>"``),
   ``DIR/manifest.json`` (options, seed, counts, per-person mask metrics and verdicts) and
   ``DIR/provenance.jsonl`` (per output: person, background, parameters). Output i is a pure
   function of (inputs, model, seed, i).

Held-out data never enters: a person whose source, image id or real-corpus frame (matched by
sha256, else by pixels) names pose2sim (the reserved test set), vtest.avi or the basketball scene
(held-out sources), or whose corpus split is not ``train``, is refused with
:class:`ReservedSourceError`; such background files are left out and counted.

Coordinates: the data engine's (pixel centres at j + 0.5); OpenCV warps take index coordinates, so
matrices are converted with :func:`engine_to_index_affine` (``ENGINE_TO_SDK_PX``).
"""

from __future__ import annotations

from training.data.copy_paste.cli import main
from training.data.copy_paste.compositing import crop_background, paste, place_affine, synthetic_background
from training.data.copy_paste.cutouts import (
    Cutout,
    LandmarkSegmenter,
    alpha_from_prob,
    make_cutout,
    mask_metrics,
    mask_verdict,
    select_person_mask,
)
from training.data.copy_paste.generator import generate, load_persons, person_weights
from training.data.copy_paste.geometry import (
    box_from_points,
    composite,
    engine_to_index_affine,
    known_landmarks,
    paste_affine,
    person_roi,
    rotation_matrix,
    transform_labels,
)
from training.data.copy_paste.inputs import (
    Background,
    CorpusIndex,
    check_person,
    entry_reason,
    find_corpus_json,
    forbidden_reason,
    list_backgrounds,
    list_records,
    load_background,
)
from training.data.copy_paste.options import (
    CopyPasteError,
    CopyPasteOptions,
    MaskThresholds,
    ReservedSourceError,
    SegmentFn,
)

__all__ = [
    "Background", "CopyPasteError", "CopyPasteOptions", "CorpusIndex", "Cutout", "LandmarkSegmenter",
    "MaskThresholds", "ReservedSourceError", "SegmentFn", "alpha_from_prob", "box_from_points", "check_person",
    "composite", "crop_background", "engine_to_index_affine", "entry_reason", "find_corpus_json",
    "forbidden_reason", "generate", "known_landmarks", "list_backgrounds", "list_records", "load_background",
    "load_persons", "main", "make_cutout", "mask_metrics", "mask_verdict", "paste", "paste_affine",
    "person_roi", "person_weights", "place_affine", "rotation_matrix", "select_person_mask",
    "synthetic_background", "transform_labels",
]
