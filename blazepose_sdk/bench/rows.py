"""Which models a benchmark run compares: the rows of every table.

A row is either a *pipeline* (a person detector plus a landmark model, run through
:class:`~blazepose_sdk.tracker.PoseTracker`) or a single *.tflite file*. ``--model`` values:

* a pipeline name known to the SDK (``ours-lite``, ``reference-lite``, ``reference-full``,
  ``reference-heavy``);
* a path to a ``.tflite`` file (a landmark model is paired with the reference detector in the
  pipeline and accuracy suites; any file works in the latency suite);
* ``DETECTOR.tflite+LANDMARK.tflite``: a pipeline from two files;
* any of these prefixed with ``LABEL=`` to name the row (e.g. ``ours-int8=out/lm_int8.tflite``);
* any of these followed by ``@OPTIONS.json``: the row's pipeline runs with the tracker options of
  that file (``blazepose run --options``; its model fields are overridden by the row's), e.g.
  ``unpruned=blazepose-lite@no_prune.json`` with ``{"prune_segmentation": false}``; without a
  label the row is named ``MODEL@STEM`` (``blazepose-lite@no_prune``).

The three official BlazePose pipelines are always added first when they are in the model cache
(``blazepose models fetch-reference``; ``reference-lite`` always is: its files ship in the package);
when they are not, a note says so and the run goes on with the rows given. The pipelines that ship
inside the SDK (``blazepose-lite``, ``ours-lite``) follow them, except one that runs the same files
as a row already there (``blazepose-lite`` is ``reference-lite``).

Peer rows (``--peers``, :func:`peer_rows`): the MoveNet files converted into the cache by
``python -m convert.movenet``, as bare-file rows of the latency suite; the accuracy suite runs
them with their own cropping (:mod:`blazepose_sdk.bench.accuracy`). A model not converted is a
note that says so and how to convert it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from blazepose_sdk.errors import ModelNotFoundError
from blazepose_sdk.assets.models import BUNDLED_PIPELINES, REFERENCE_PIPELINES, available_pipelines, resolve_pipeline

# Row every ratio is taken against ("ours / BlazePose-lite").
BASELINE_ROW = "reference-lite"
# Name of the reference detector's row in the latency suite.
REFERENCE_DETECTOR_ROW = "reference-detector"


@dataclass(frozen=True)
class ModelRow:
    """One compared model.

    Attributes:
        name: the label used in tables and JSON.
        landmark: landmark model file (or the only file of a file row).
        detector: detector file of a pipeline; None for a bare file row.
        reference: one of the official BlazePose models.
        sha256: expected hash of ``landmark`` (reference models only), else None.
        detector_sha256: expected hash of ``detector`` (reference models only), else None.
        pipeline: the SDK pipeline name for reference rows (``reference-lite`` ...), else None.
        options_file: a TrackerOptions JSON file the row's pipeline runs with (``@OPTIONS.json``),
            else None (the defaults).
    """

    name: str
    landmark: Path
    detector: Path | None = None
    reference: bool = False
    sha256: str | None = None
    detector_sha256: str | None = None
    pipeline: str | None = None
    options_file: Path | None = None

    @property
    def is_pipeline(self) -> bool:
        return self.detector is not None


def split_label(spec: str) -> tuple[str, str]:
    """``LABEL=VALUE`` -> (LABEL, VALUE); a spec without ``=`` -> ("", spec)."""
    label, sep, value = spec.partition("=")
    return (label, value) if sep else ("", spec)


def parse_row(spec: str) -> ModelRow:
    """One ``--model`` value as a row (see the module docstring); raises ModelNotFoundError."""
    label, value = split_label(spec)
    value, options_file = split_options(value, spec)
    row = _parse_model(label, value, spec)
    if options_file is None:
        return row
    # without a label, rows of one model under several option files stay apart: MODEL@STEM
    name = row.name if label else f"{row.name}@{options_file.stem}"
    return dataclasses.replace(row, name=name, options_file=options_file)


def split_options(value: str, spec: str | None = None) -> tuple[str, Path | None]:
    """``MODEL@OPTIONS.json`` -> (MODEL, the options file); a value without one -> (value, None).
    Raises ModelNotFoundError when the options file does not exist."""
    model, at, options = value.rpartition("@")
    if not at or not options.endswith(".json"):
        return value, None
    if not Path(options).is_file():
        raise ModelNotFoundError(f"options file not found: {options} (in --model {spec or value!r})")
    return model, Path(options)


def _parse_model(label: str, value: str, spec: str) -> ModelRow:
    if value in BUNDLED_PIPELINES or value in REFERENCE_PIPELINES or value.startswith("reference-"):
        pipeline = resolve_pipeline(value)
        return ModelRow(
            label or value,
            pipeline.landmark.path,
            pipeline.detector.path,
            reference=value not in BUNDLED_PIPELINES,
            sha256=pipeline.landmark.sha256,
            detector_sha256=pipeline.detector.sha256,
            pipeline=value,
        )
    if "+" in value and not Path(value).exists():
        det, _, lm = value.partition("+")
        for p in (det, lm):
            if not Path(p).is_file():
                raise ModelNotFoundError(f"model file not found: {p} (in --model {spec!r})")
        return ModelRow(label or Path(lm).stem, Path(lm), Path(det))
    path = Path(value)
    if not path.is_file():
        raise ModelNotFoundError(
            f"--model {spec!r}: no such file and not a pipeline name "
            f"(known: {available_pipelines()})"
        )
    return ModelRow(label or path.stem, path)


def resolve_rows(specs: list[str] | None, include_reference: bool = True,
                 include_bundled: bool = True) -> tuple[list[ModelRow], list[str]]:
    """The reference rows (when cached), our shipped pipelines, then the ``--model`` rows, and
    notes for the report.

    A spec that cannot be resolved is left out with a note rather than ending the run.
    """
    rows: list[ModelRow] = []
    notes: list[str] = []
    if include_reference:
        missing = []
        for name in sorted(REFERENCE_PIPELINES, key=lambda n: ("lite", "full", "heavy").index(n.split("-")[1])):
            try:
                rows.append(parse_row(name))
            except ModelNotFoundError:
                missing.append(name)
        if missing:
            notes.append(
                f"reference models not in the cache ({', '.join(missing)}): run `blazepose models fetch-reference` "
                "to add the official BlazePose rows"
            )
    given = specs
    specs = list(specs or [])
    if include_bundled:
        specs = [name for name in sorted(BUNDLED_PIPELINES) if name not in specs] + specs
    for spec in specs:
        try:
            row = parse_row(spec)
        except (ModelNotFoundError, ValueError) as exc:
            notes.append(f"skipped --model {spec}: {exc}")
            continue
        same = next((r for r in rows if (r.landmark, r.detector) == (row.landmark, row.detector)), None)
        if same is not None and same.name == row.name:
            continue  # e.g. --model reference-lite: already a row
        if same is not None and spec in BUNDLED_PIPELINES and spec not in (given or []):
            notes.append(f"{spec} (shipped) runs the same files as the {same.name} row")
            continue
        if any(r.name == row.name for r in rows):
            row = dataclasses.replace(row, name=f"{row.name}#{len(rows)}")
        rows.append(row)
    return rows, notes


def reference_detector() -> tuple[Path, str | None] | None:
    """The cached reference detector file and hash, or None when not fetched."""
    try:
        pipeline = resolve_pipeline(BASELINE_ROW)
    except ModelNotFoundError:
        return None
    return pipeline.detector.path, pipeline.detector.sha256


def peer_rows() -> tuple[list[ModelRow], list[str]]:
    """The converted MoveNet models as file rows (hash-checked against the cache manifest), and
    one note per model that is not there (with the command that converts it)."""
    from .peers.movenet import MoveNetNotFoundError, PRECISIONS, VARIANTS, cached_model, row_name

    rows, notes = [], []
    for variant in VARIANTS:
        for precision in PRECISIONS:
            try:
                path, sha = cached_model(variant, precision)
            except MoveNetNotFoundError as exc:
                notes.append(f"{row_name(variant, precision)} skipped: {exc}")
                continue
            rows.append(ModelRow(row_name(variant, precision), path, sha256=sha))
    return rows, notes
