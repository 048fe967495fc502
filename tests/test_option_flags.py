"""Options declared once: TrackerOptions' fields give the checks, the JSON keys and the CLI flags."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from blazepose_sdk import TrackerOptions
from blazepose_sdk.app.batch_cli import add_arguments as add_batch_arguments
from blazepose_sdk.app.option_flags import add_tracker_flags, flag_of, tracker_options_from_args
from blazepose_sdk.app.run import add_run_parser
from blazepose_sdk.errors import OptionError
from blazepose_sdk.options import GROUPS, KINDS, option_fields, tracker_options_from_dict


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_tracker_flags(parser)
    return parser


def test_every_field_is_declared_with_kind_group_and_help():
    for f in option_fields():
        assert f.metadata["kind"] in KINDS and f.metadata["group"] in GROUPS and f.metadata["help"], f.name
    assert {f.metadata["group"] for f in option_fields()} == set(GROUPS)


def test_flags_come_from_the_fields():
    flags = {f.name: flag_of(f) for f in option_fields()}
    assert flags["num_poses"] == "--num-poses" and flags["num_threads"] == "--threads"
    assert flags["static_image_mode"] == "--static" and flags["smooth_landmarks"] == "--no-smooth"
    assert flags["redetect_on_loss"] == "--no-redetect-on-loss"  # a True default is turned off
    assert flags["smoothing"] is None and flags["enable_segmentation"] is None  # nested; set by --mask
    for build in (lambda sub: add_run_parser(sub), lambda sub: add_batch_arguments(sub.add_parser("batch"))):
        top = argparse.ArgumentParser()
        build(top.add_subparsers())
        sub_parser = next(iter(top._subparsers._group_actions[0].choices.values()))
        declared = {opt for action in sub_parser._actions for opt in action.option_strings}
        assert {flag for flag in flags.values() if flag} <= declared


def test_given_flags_replace_the_defaults_and_the_rest_stay():
    args = _parser().parse_args(["--num-poses", "3", "--no-redetect-on-loss", "--static", "--threads", "2",
                                 "--min-tracking-confidence", "0.7"])
    options = tracker_options_from_args(args)
    assert options == dataclasses.replace(TrackerOptions(), num_poses=3, redetect_on_loss=False,
                                          static_image_mode=True, num_threads=2, min_tracking_confidence=0.7)
    assert tracker_options_from_args(_parser().parse_args([])) == TrackerOptions()


def test_flags_override_the_options_file(tmp_path):
    path = tmp_path / "o.json"
    path.write_text('{"num_poses": 4, "detect_every": 3}')
    options = tracker_options_from_args(_parser().parse_args(["--options", str(path), "--num-poses", "2"]))
    assert (options.num_poses, options.detect_every) == (2, 3)


@pytest.mark.parametrize("argv, message", [
    (["--num-poses", "0"], "--num-poses must be a whole number from 1 to 10000, got 0"),
    (["--threads", "300"], "--threads must be a whole number from 1 to 256, got 300"),
    (["--min-detection-confidence", "1.5"], "--min-detection-confidence must be in [0, 1], got 1.5"),
    (["--detector-tiles", "0x2"], "detector_tiles"),
])
def test_a_bad_flag_is_named(argv, message):
    with pytest.raises(OptionError) as info:
        tracker_options_from_args(_parser().parse_args(argv))
    assert message in str(info.value)


@pytest.mark.parametrize("field, value", [("num_poses", 0), ("detect_every", 2.5), ("min_tracking_confidence", -0.1),
                                          ("smooth_landmarks", 1), ("model", ""), ("delegate", 3),
                                          ("detector_tiles_min_score", float("nan")), ("smoothing", {"beta": 1})])
def test_the_same_rule_in_the_dataclass_and_the_json_loader(field, value):
    with pytest.raises(OptionError, match=field):
        TrackerOptions(**{field: value})
    if field != "smoothing":  # the file gives smoothing as an object of its own fields
        with pytest.raises(OptionError, match=f"'{field}'"):
            tracker_options_from_dict({field: value})
