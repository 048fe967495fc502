"""Merge result files from several machines into one comparison table.

    blazepose bench merge [LABEL=]pi5/latency.json [LABEL=]x86/latency.json [...] --out DIR

Takes ``latency.json`` and ``pipeline.json`` files written by ``blazepose bench`` on any machine
(a Raspberry Pi, a Jetson, a phone through ``edge/android_adb.py``, this x86 box), and writes
``DIR/merged.json`` and ``DIR/merged.md``: a table of the machines (from each file's ``machine``
object), then per suite one row per model and configuration with, per machine, the median time
and its ratio to **reference-lite measured on the same machine** in the same configuration (for
the pipeline suite: tracker frames/s and the ms-per-frame ratio per video). Ratios are the part
that carries across machines: both numbers of a ratio come from one run.

A machine's label is ``LABEL=`` when given, else its board (device-tree model) or CPU model and
architecture. Merging is pure (:func:`merge_latency`, :func:`merge_pipeline`, :func:`merged_tables`);
:func:`load_results` and :func:`main` do the I/O.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from blazepose_sdk.errors import BlazePoseError

from .common import json_ready, ratio
from .rows import BASELINE_ROW
from .tables import Table, fmt, print_tables

MERGEABLE_SUITES = ("latency", "pipeline")


class MergeInputError(BlazePoseError, ValueError):
    """A result file that cannot be merged (missing, not JSON, not a latency/pipeline result)."""


def machine_label(machine: dict) -> str:
    """A short name for a machine: board or CPU model, and architecture."""
    name = machine.get("board") or machine.get("cpu_model") or "unknown machine"
    arch = machine.get("arch")
    return f"{name} ({arch})" if arch else name


def unique_labels(labels: list[str]) -> list[str]:
    """Labels made distinct with ``#2``, ``#3``... (two runs on one machine stay two columns)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def latency_cells(payload: dict) -> dict[tuple[str, str], dict]:
    """(model, config) -> {"median_ms", "x_lite", "error"} of one latency.json."""
    rows = payload.get("rows", [])
    base = next((r for r in rows if r.get("name") == BASELINE_ROW), None)
    base_ms = {m["config"]: m.get("median_ms") for m in (base or {}).get("measurements", []) if not m.get("error")}
    cells = {}
    for r in rows:
        for m in r.get("measurements", []):
            ms = None if m.get("error") else m.get("median_ms")
            cells[(r["name"], m["config"])] = {
                "median_ms": ms,
                "x_lite": ratio(ms, base_ms.get(m["config"])),
                "error": m.get("error"),
            }
    return cells


def pipeline_cells(payload: dict) -> dict[tuple[str, str], dict]:
    """(model, video) -> {"fps_process", "process_ms_per_frame", "x_lite"} of one pipeline.json."""
    rows = payload.get("rows", [])
    base = next((r for r in rows if r.get("name") == BASELINE_ROW), None)
    base_ms = {v["video"]: v.get("process_ms_per_frame") for v in (base or {}).get("videos", [])}
    cells = {}
    for r in rows:
        for v in r.get("videos", []):
            cells[(r["name"], v["video"])] = {
                "fps_process": v.get("fps_process"),
                "process_ms_per_frame": v.get("process_ms_per_frame"),
                "x_lite": ratio(v.get("process_ms_per_frame"), base_ms.get(v["video"])),
                "error": None,
            }
    return cells


def _merge(entries: list[tuple[str, dict]], cells_of) -> dict:
    keys: list[tuple[str, str]] = []
    per_machine = {}
    for label, payload in entries:
        cells = cells_of(payload)
        per_machine[label] = cells
        keys += [k for k in cells if k not in keys]
    return {
        "machines": [label for label, _ in entries],
        "rows": [{"model": k[0], "key": k[1], "cells": {label: per_machine[label].get(k) for label, _ in entries}}
                 for k in keys],
    }


def merge_latency(entries: list[tuple[str, dict]]) -> dict:
    """Rows (model, config) x machines of several latency payloads (``entries``: (label, payload))."""
    return _merge(entries, latency_cells)


def merge_pipeline(entries: list[tuple[str, dict]]) -> dict:
    """Rows (model, video) x machines of several pipeline payloads."""
    return _merge(entries, pipeline_cells)


def machines_table(entries: list[tuple[str, dict, str]]) -> Table:
    rows = []
    for label, payload, path in entries:
        m = payload.get("machine") or {}
        rows.append([
            label, str(m.get("cpu_model")), str(m.get("board")), str(m.get("arch")), str(m.get("cores_usable")),
            str(m.get("cpu_governor")), fmt(m.get("cpu_temperature_c"), 1), str(m.get("tflite_runtime")),
            "yes" if payload.get("quick") else "no", path,
        ])
    columns = ["machine", "CPU", "board", "arch", "cores", "governor", "temp C", "runtime", "quick", "file"]
    return Table("Machines", columns, rows)


def merged_tables(merged: dict) -> list[Table]:
    tables = []
    lat = merged.get("latency")
    if lat and lat["rows"]:
        rows = []
        for r in lat["rows"]:
            cells = []
            for label in lat["machines"]:
                c = r["cells"].get(label)
                if c is None:
                    cells.append("-")
                elif c["error"]:
                    cells.append("error")
                else:
                    cells.append(f"{fmt(c['median_ms'], 2)} ({fmt(c['x_lite'], 2)})")
            rows.append([r["model"], r["key"], *cells])
        tables.append(Table(
            "Model latency across machines: median ms (x reference-lite on the same machine)",
            ["model", "config", *lat["machines"]], rows,
            "x reference-lite: the median / reference-lite's median in the same configuration of the same file "
            "(detectors too). A missing ratio: that file has no reference-lite row.",
        ))
    pipe = merged.get("pipeline")
    if pipe and pipe["rows"]:
        rows = [[r["model"], r["key"], *(
            "-" if r["cells"].get(label) is None
            else f"{fmt(r['cells'][label]['fps_process'], 1)} ({fmt(r['cells'][label]['x_lite'], 2)})"
            for label in pipe["machines"])] for r in pipe["rows"]]
        tables.append(Table(
            "Tracker throughput across machines: frames/s (ms per frame x reference-lite on the same machine)",
            ["model", "video", *pipe["machines"]], rows,
        ))
    return tables


# -- I/O ---------------------------------------------------------------------------------------
def load_results(specs: list[str]) -> list[tuple[str, dict, str]]:
    """``[LABEL=]FILE`` values -> (label, payload, file); raises MergeInputError."""
    loaded = []
    for spec in specs:
        label, sep, file = spec.partition("=")
        if not sep or Path(spec).is_file():
            label, file = "", spec
        path = Path(file)
        if not path.is_file():
            raise MergeInputError(f"result file not found: {file}")
        try:
            payload = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MergeInputError(f"{file}: not a JSON result file ({exc})") from exc
        if not isinstance(payload, dict) or payload.get("suite") not in MERGEABLE_SUITES:
            suite = payload.get("suite") if isinstance(payload, dict) else None
            raise MergeInputError(f"{file}: suite {suite!r} cannot be merged (only {', '.join(MERGEABLE_SUITES)})")
        if not isinstance(payload.get("rows"), list) or not isinstance(payload.get("machine"), dict):
            raise MergeInputError(f"{file}: no rows or machine object")
        loaded.append((label or machine_label(payload["machine"]), payload, str(path)))
    return loaded


def merge_files(specs: list[str], out_dir: str | Path) -> tuple[dict, list[Table]]:
    """Merge the files, write ``merged.json`` and ``merged.md`` into ``out_dir``."""
    loaded = load_results(specs)
    by_suite: dict[str, list[tuple[str, dict, str]]] = {}
    for label, payload, path in loaded:
        by_suite.setdefault(payload["suite"], []).append((label, payload, path))
    merged: dict = {"machines": [], "files": []}
    for suite, entries in by_suite.items():
        labels = unique_labels([e[0] for e in entries])
        entries = [(lab, p, f) for lab, (_, p, f) in zip(labels, entries)]
        merged[suite] = (merge_latency if suite == "latency" else merge_pipeline)([(lab, p) for lab, p, _ in entries])
        for lab, p, f in entries:
            merged["machines"].append({"label": lab, "suite": suite, "file": f, "quick": p.get("quick"),
                                       "machine": p["machine"]})
    tables = [machines_table([(m["label"], {"machine": m["machine"], "quick": m["quick"]}, m["file"])
                              for m in merged["machines"]]), *merged_tables(merged)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "merged.json").write_text(json.dumps(json_ready(merged), indent=2) + "\n")
    (out / "merged.md").write_text("# blazepose-sdk results across machines\n\n" + "\n".join(t.markdown() for t in tables))
    return merged, tables


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="[LABEL=]RESULT.json",
                   help="latency.json / pipeline.json files from `blazepose bench` on each machine")
    p.add_argument("--out", required=True, help="folder for merged.json and merged.md")


def main(args: argparse.Namespace) -> int:
    try:
        _, tables = merge_files(args.files, args.out)
    except MergeInputError as exc:
        print(f"blazepose: error: {exc}", file=sys.stderr)
        return 2
    print_tables(tables)
    print(f"merged: {Path(args.out) / 'merged.md'}")
    return 0
