"""The tracker's command-line flags, made from :class:`~blazepose_sdk.options.TrackerOptions`.

``blazepose run`` and ``blazepose batch`` share them: one flag per field with a flag in its
metadata (``--num-poses`` for ``num_poses``; a named flag such as ``--threads`` where the metadata
says so), its help and default from the field, grouped as :data:`blazepose_sdk.options.GROUPS`.
A true/false field whose default is False is a switch that sets it (``--static``); one whose
default is True is a switch that clears it (``--no-smooth``). Values given on the command line
are checked with the field's own rule (:func:`blazepose_sdk.options.check_value`), the message
naming the flag, before any model loads.
"""

from __future__ import annotations

import argparse
import dataclasses

from ..assets.models import available_pipelines
from ..options import GROUPS, TrackerOptions, check_value, load_tracker_options, option_fields

_TYPES = {"threads": int, "count": int, "unit": float}


def flag_of(f: dataclasses.Field) -> str | None:
    """The command-line flag of a TrackerOptions field (None: the field has no flag)."""
    flag = f.metadata["flag"]
    if flag is None:
        return None
    if flag:
        return flag
    name = f.name.replace("_", "-")
    if f.metadata["kind"] == "bool" and f.default is True:
        return f"--no-{name}"
    return f"--{name}"


def _help(f: dataclasses.Field, overrides: dict[str, str]) -> str:
    text = overrides.get(f.name, f.metadata["help"])
    if f.metadata["kind"] == "bool" and f.default is True:
        text = f"turn off: {text}"
    if f.name == "model":
        text += f" (available: {', '.join(available_pipelines())})"
    if f.metadata["kind"] != "bool" and f.default is not None and f.name not in overrides:
        text += f" (default {f.default})"
    return text.replace("%", "%%")


def add_tracker_flags(parser: argparse.ArgumentParser, help_overrides: dict[str, str] | None = None) -> None:
    """Add ``--options FILE.json`` and one flag per TrackerOptions field to ``parser``, in
    argument groups; every flag's value defaults to None (not given)."""
    overrides = help_overrides or {}
    parser.add_argument("--options", metavar="FILE.json",
                        help="tracker options as a JSON object of TrackerOptions fields; flags given here override it")
    groups = {name: parser.add_argument_group(f"tracker options: {name}") for name in GROUPS}
    for f in option_fields():
        flag = flag_of(f)
        if flag is None:
            continue
        group = groups[f.metadata["group"]]
        if f.metadata["kind"] == "bool":
            group.add_argument(flag, dest=f.name, action="store_const", const=not f.default, default=None,
                               help=_help(f, overrides))
        else:
            group.add_argument(flag, dest=f.name, type=_TYPES.get(f.metadata["kind"], str), default=None,
                               metavar=f.metadata["metavar"], help=_help(f, overrides))


def given_flags(args: argparse.Namespace) -> dict[str, object]:
    """{field name: value} of the tracker flags given on the command line, each checked
    (OptionError naming the flag)."""
    given = {}
    for f in option_fields():
        flag = flag_of(f)
        value = getattr(args, f.name, None) if flag is not None else None
        if value is not None:
            check_value(flag, f.metadata["kind"], value, f.metadata["nullable"])
            given[f.name] = value
    return given


def tracker_options_from_args(args: argparse.Namespace, **changes: object) -> TrackerOptions:
    """--options FILE.json (else the defaults), then every tracker flag given on top of it, then
    ``changes``; raises OptionError before any model loads."""
    given = given_flags(args)  # a bad flag is named before the options file is read
    base = load_tracker_options(args.options) if getattr(args, "options", None) else TrackerOptions()
    return dataclasses.replace(base, **{**given, **changes})
