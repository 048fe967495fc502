"""Tracker options from a JSON file: the API (blazepose_sdk.options) and `blazepose run --options`."""

from __future__ import annotations

import json

import pytest

from blazepose_sdk import TrackerOptions
from blazepose_sdk.app.cli import main
from blazepose_sdk.options import load_tracker_options, tracker_options_from_dict
from blazepose_sdk.errors import OptionError
from blazepose_sdk.geometry.smoothing import SmoothingOptions


def test_keys_replace_defaults_and_the_rest_stay():
    o = tracker_options_from_dict({"model": "blazepose-lite", "num_threads": 2, "min_tracking_confidence": 0.7,
                                   "smoothing": {"beta": 80}})
    assert o.model == "blazepose-lite" and o.num_threads == 2 and o.min_tracking_confidence == 0.7
    assert o.smoothing.beta == 80.0 and o.smoothing.min_cutoff == SmoothingOptions().min_cutoff
    assert o.min_detection_confidence == TrackerOptions().min_detection_confidence
    assert tracker_options_from_dict({}) == TrackerOptions()
    tiles = tracker_options_from_dict({"detector_tiles": "3x3", "detector_tiles_model": "small_people.tflite"})
    assert tiles.detector_tiles_model == "small_people.tflite"
    assert tracker_options_from_dict({"detector_tiles_model": None}).detector_tiles_model is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({"modle": "ours-lite"}, "unknown tracker option 'modle'; valid: delegate, detect_every, detector_model"),
        ({"smoothing": {"beta2": 1}}, "unknown smoothing option 'beta2'; valid: beta, derivate_cutoff"),
        ({"num_threads": 0}, "'num_threads' must be a whole number from 1 to 256, got 0"),
        ({"num_threads": 2.0}, "'num_threads' must be a whole number"),
        ({"num_threads": True}, "'num_threads' must be a whole number from 1 to 256, got True"),
        ({"min_detection_confidence": 1.5}, "min_detection_confidence"),
        ({"min_tracking_confidence": "high"}, "must be a number"),
        ({"smooth_landmarks": 1}, "'smooth_landmarks' must be true or false"),
        ({"model": ""}, "'model' must be a non-empty string"),
        ({"model": None}, "'model' may not be null"),
        ({"detector_tiles_model": 3}, "'detector_tiles_model' must be a non-empty string"),
        ({"smoothing": [1, 2]}, "'smoothing' must be an object"),
        ({"smoothing": {"beta": float("inf")}}, "'smoothing.beta' must be finite"),
    ],
)
def test_bad_values_name_the_key(values, message):
    with pytest.raises(OptionError, match=None) as info:
        tracker_options_from_dict(values)
    assert message in str(info.value)


def test_not_an_object_is_refused():
    with pytest.raises(OptionError, match="must be an object"):
        tracker_options_from_dict([1, 2])


@pytest.mark.parametrize("text, message", [("{", "not valid JSON (Expecting property name"), ("[]", "must be an object"),
                                           ('{"x": 1}', "unknown tracker option 'x'"), (b"\xff\xfe", "cannot be read")])
def test_bad_files_are_typed_errors_naming_the_file(tmp_path, text, message):
    path = tmp_path / "o.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(OptionError) as info:
        load_tracker_options(path)
    assert str(info.value).startswith(f"options file {path}: ") and message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(OptionError, match="cannot be read"):
        load_tracker_options(tmp_path / "none.json")


def test_cli_uses_the_file_and_flags_override_it(shared_data, tmp_path, capsys):
    opts = tmp_path / "o.json"
    # a detection threshold no detector score reaches: nobody is found...
    opts.write_text(json.dumps({"min_detection_confidence": 1.0, "num_threads": 1}))
    out = tmp_path / "a.jsonl"
    assert main(["run", str(shared_data / "basketball1.png"), "--options", str(opts), "--json", str(out),
                 "--no-progress"]) == 0
    assert json.loads(out.read_text())["pose"] is None
    # ...until the flag overrides the file
    assert main(["run", str(shared_data / "basketball1.png"), "--options", str(opts), "--json", str(out),
                 "--min-detection-confidence", "0.5", "--no-progress"]) == 0
    assert json.loads(out.read_text())["pose"] is not None


def test_cli_bad_options_file_is_one_line_exit_2_before_any_output(shared_data, tmp_path, capsys):
    opts = tmp_path / "o.json"
    opts.write_text('{"min_tracking_confidence": 3}')
    out = tmp_path / "a.jsonl"
    out.write_text("kept\n")
    code = main(["run", str(shared_data / "basketball1.png"), "--options", str(opts), "--json", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(f"blazepose: error: options file {opts}: ")
    assert out.read_text() == "kept\n"
