"""One table of the peers against BlazePose, from the suites' payloads of one output folder.

Rows: the BlazePose pipelines of the run (reference-lite/full/heavy, ours-lite, ...) and every
peer row (:mod:`blazepose_sdk.bench.peers.movenet` names); columns from accuracy.json (PCK@0.2 on
the COCO-17 joints, OKS AP, ms per image) and latency.json (median ms at 1 and 2 threads, file
size), each with its ratio to reference-lite measured in the same suite run.
"""

from __future__ import annotations

from ..rows import BASELINE_ROW
from ..tables import Table, fmt, pct, with_ratio
from .movenet import PRECISIONS, VARIANTS, row_name

PEER_NAMES = tuple(row_name(v, p) for v in VARIANTS for p in PRECISIONS)


def _latency(row: dict | None, threads: int) -> float | None:
    for m in (row or {}).get("measurements", []):
        if m.get("threads") == threads and not m.get("delegate") and not m.get("error"):
            return m.get("median_ms")
    return None


def _ratio(value, base) -> float | None:
    return value / base if value is not None and base else None


def peer_summary_rows(payloads: dict[str, dict]) -> list[dict]:
    """One dict per model present in accuracy.json or latency.json, when any peer row is there."""
    acc = {r["name"]: r for r in (payloads.get("accuracy") or {}).get("rows", [])}
    lat = {r["name"]: r for r in (payloads.get("latency") or {}).get("rows", []) if r.get("role") != "detector"}
    if not any(n in acc or n in lat for n in PEER_NAMES):
        return []
    names = [n for n in dict.fromkeys([*acc, *lat]) if n in acc or n in lat]
    base_acc, base_lat = acc.get(BASELINE_ROW, {}), lat.get(BASELINE_ROW)
    out = []
    for name in names:
        a, l = acc.get(name, {}), lat.get(name)
        ms = (a.get("ms_per_image") or {}).get("median_ms")
        base_ms = (base_acc.get("ms_per_image") or {}).get("median_ms")
        row = {
            "name": name,
            "peer": name in PEER_NAMES,
            "pck_coco17": a.get("pck@0.2_coco17"),
            "oks_ap": (a.get("oks") or {}).get("AP"),
            "accuracy_ms_per_image": ms,
            "accuracy_ms_ratio": _ratio(ms, base_ms),
            "size_bytes": (l or {}).get("file_size_bytes"),
            "size_ratio": _ratio((l or {}).get("file_size_bytes"), (base_lat or {}).get("file_size_bytes")),
        }
        for t in (1, 2):
            row[f"ms_{t}t"] = _latency(l, t)
            row[f"ms_{t}t_ratio"] = _ratio(row[f"ms_{t}t"], _latency(base_lat, t))
        out.append(row)
    return out


def peer_tables(payloads: dict[str, dict]) -> list:
    from ..pipeline import peers_table

    loops = peers_table(payloads.get("pipeline"))  # MediaPipe's own solution, whole loops (docs/lab/2026-12-01_speed.md)
    rows = peer_summary_rows(payloads)
    if not rows:
        return [loops] if loops else []

    cells = [[r["name"] + (" (peer)" if r["peer"] else ""), pct(r["pck_coco17"]), fmt(r["oks_ap"], 3),
              with_ratio(r["accuracy_ms_per_image"], r["accuracy_ms_ratio"], 1),
              with_ratio(r["ms_1t"], r["ms_1t_ratio"]), with_ratio(r["ms_2t"], r["ms_2t_ratio"]),
              with_ratio(r["size_bytes"], r["size_ratio"], 2, 1 / 2**20)] for r in rows]
    truth = (payloads.get("accuracy") or {}).get("ground_truth") or {}
    caption = (
        f"(x) = ratio to {BASELINE_ROW} in the same suite run. Accuracy on the COCO-17 joints of "
        f"{truth.get('description', 'the accuracy suite set') if truth else 'the accuracy suite set'}; "
        "BlazePose rows run detector + landmarks per image (static mode), MoveNet rows its own cropping "
        "(whole padded image, then crops from the previous pass) on the same images. Model latency: one "
        "inference of the file alone (BlazePose: the landmark model; its detector is a separate row of the "
        "latency table)."
    )
    return [Table("Peers vs BlazePose", ["model", "PCK@0.2 COCO-17", "OKS AP", "accuracy ms / image (x)",
                                         "1 thr ms (x)", "2 thr ms (x)", "size MB (x)"], cells, caption)] + \
        ([loops] if loops else [])
