"""Each suite's tables (console and markdown) and report.md from the suites' JSON files.

The same table definitions (built from :mod:`.tables`' primitives) feed the console (rich when
installed, plain text otherwise) and report.md, with the PNG plots of :mod:`.plots` (matplotlib;
without it they are skipped with a note). :func:`build_report`
reads whatever ``latency.json`` / ``pipeline.json`` / ``accuracy.json`` / ``presence.json`` an
output folder holds, so suites run one by one into the same folder still give one report.
"""

from __future__ import annotations

from pathlib import Path

from .common import read_json
from .metrics import PCK_THRESHOLD, PCKH_THRESHOLD
from .plots import make_plots
from .tables import Table, fmt, pct

SUITES = ("latency", "pipeline", "accuracy", "presence", "soak", "npu", "ceiling")


# -- suite tables ----------------------------------------------------------------------------
def _config_label(config: str) -> str:
    """``cpu-2t`` -> ``2 thr``; delegate configs keep their name."""
    if config.startswith("cpu-") and config.endswith("t"):
        return f"{config[4:-1]} thr"
    return config


def _short_error(text: str, width: int = 90) -> str:
    """A measurement's error for a table cell: why it has no timing, cut to ``width`` characters."""
    text = " ".join(str(text).split())
    return "error: " + (text if len(text) <= width else text[: width - 3] + "...")


def latency_tables(payload: dict) -> list[Table]:
    rows = payload.get("rows", [])
    configs = list(dict.fromkeys(m["config"] for r in rows for m in r.get("measurements", [])))
    files = []
    for r in rows:
        files.append(
            [
                r["name"] + (" *" if r.get("reference") else ""),
                r.get("role", "-"),
                r.get("quantization") or "-",
                fmt(r.get("file_size_bytes"), 2, 1 / 2**20),
                fmt(r.get("params"), 2, 1e-6),
                fmt(r.get("flops"), 2, 1e-9),
                fmt(r.get("peak_rss_mb"), 0),
                r.get("device") or r.get("runtime") or "-",
            ]
        )
    columns = ["model", "role", "quant", "size MB", "params M", "GFLOPs", "peak RSS MB", "runs on"]
    file_caption = (
        "params: constant-tensor elements; GFLOPs: 2 x MACs of conv / depthwise / fully-connected ops; peak RSS: "
        "a fresh process that loads and runs the model. * = official BlazePose model."
    )
    timing_columns = ["model"]
    for c in configs:
        timing_columns += [f"{_config_label(c)} median / p90 / min ms", f"{_config_label(c)} x base"]
    timings = []
    for r in rows:
        cells = [r["name"] + (" *" if r.get("reference") else "")]
        by_config = {m["config"]: m for m in r.get("measurements", [])}
        for c in configs:
            m = by_config.get(c)
            if m is None or m.get("error"):
                cells += [_short_error(m["error"]) if m else "-", "-"]
            else:
                cells += [
                    f"{fmt(m['median_ms'], 2)} / {fmt(m['p90_ms'], 2)} / {fmt(m['min_ms'], 2)}",
                    fmt(m.get("ratio_vs_baseline"), 2),
                ]
        timings.append(cells)
    s = payload.get("settings", {})
    caption = (
        f"{s.get('runs')} timed runs per model and configuration after {s.get('warmup')} warm-up runs, "
        "models alternated "
        f"in blocks of {s.get('block')}. x base = median / the baseline's median in the same configuration "
        "(detectors: reference-detector; every other model: reference-lite)."
    )
    return [
        Table("Model files", columns, files, file_caption),
        Table("Model latency", timing_columns, timings, caption),
    ]


def pipeline_tables(payload: dict) -> list[Table]:
    tables = []
    videos = list(dict.fromkeys(v["video"] for r in payload.get("rows", []) for v in r.get("videos", [])))
    for video in videos:
        rows = []
        description = ""
        for r in payload["rows"]:
            v = next((x for x in r.get("videos", []) if x["video"] == video), None)
            if v is None:
                continue
            description = v.get("description", "")
            st = v["stage_ms_per_frame"]
            rows.append(
                [
                    r["name"] + (" *" if r.get("reference") else ""),
                    str(r.get("threads")),
                    str(v["frames"]),
                    fmt(v["fps_end_to_end"], 1),
                    fmt(v["fps_process"], 1),
                    fmt(st["decode"], 2),
                    fmt(st["detector"], 2),
                    fmt(st["crop"], 2),
                    fmt(st["landmark"], 2),
                    fmt(st["smoothing"], 2),
                    pct(v["detector_rerun_rate"]),
                    pct(v["pose_frame_rate"]),
                    fmt(v.get("ratio_process_ms_vs_baseline"), 2),
                ]
            )
        columns = [
            "model",
            "threads",
            "frames",
            "fps end-to-end",
            "fps tracker",
            "decode ms",
            "detector ms",
            "crop ms",
            "landmark ms",
            "smoothing ms",
            "detector re-run",
            "frames with pose",
            "x lite",
        ]
        caption = (
            f"{description}. Stage times are ms per frame averaged over all frames (they add up to the frame time); "
            "x lite = tracker ms per frame / reference-lite's."
        )
        tables.append(Table(f"Pipeline throughput: {video}", columns, rows, caption))
    return tables


def accuracy_tables(payload: dict) -> list[Table]:
    rows = payload.get("rows", [])
    truth = payload.get("ground_truth") or {}
    if not rows:
        return []
    p, ph = f"pck@{PCK_THRESHOLD}", f"pckh@{PCKH_THRESHOLD}"
    main_rows = []
    for r in rows:
        o = r.get("oks") or {}
        main_rows.append(
            [
                r["name"] + (" *" if r.get("reference") else ""),
                str(r["images"]),
                f"{r['poses_found']}/{r['images'] if r.get('roi', 'detector') == 'detector' else r['persons']}",
                pct(r.get(p)),
                pct(r.get(p + "_coco17")),
                pct(r.get(ph)),
                fmt(o.get("AP"), 3),
                fmt(o.get("AP50"), 3),
                fmt(o.get("AP75"), 3),
                fmt(o.get("AR"), 3),
                fmt(r.get("mean_oks"), 3),
                fmt(r.get("mpjpe_mm"), 1),
                fmt(r.get("pa_mpjpe_mm"), 1),
            ]
        )
    n_kp = len(truth.get("keypoint_names", [])) or "K"
    columns = [
        "model",
        "images",
        "poses found",
        f"PCK@{PCK_THRESHOLD} ({n_kp})",
        f"PCK@{PCK_THRESHOLD} (COCO-17)",
        f"PCKh@{PCKH_THRESHOLD}",
        "OKS AP",
        "AP50",
        "AP75",
        "AR",
        "mean OKS",
        "MPJPE mm",
        "PA-MPJPE mm",
    ]
    caption = f"Ground truth: {truth.get('description', '?')}."
    if truth.get("kind") == "pseudo-labels":
        caption += (
            f" {truth.get('label_model')} made the labels, so its row measures robustness to the transforms, "
            "not accuracy."
        )
    title = "Accuracy"
    if truth.get("roi") == "labels":
        title += " of the landmark stage alone (labelled ROIs, no detector)"
        caption += " Every labelled person is cropped at its labelled ROI (--roi labels); poses found counts persons."
    tables = [Table(title, columns, main_rows, caption)]
    groups = truth.get("groups") or []
    if len(groups) > 1:
        tables.append(
            Table(
                f"PCK@{PCK_THRESHOLD} per image group",
                ["model", *groups],
                [[r["name"], *(pct(r.get("per_group_pck", {}).get(g)) for g in groups)] for r in rows],
            )
        )
    names = truth.get("keypoint_names") or list(rows[0].get("per_keypoint_pck", {}))
    tables.append(
        Table(
            f"PCK@{PCK_THRESHOLD} per keypoint",
            ["keypoint", *(r["name"] for r in rows)],
            [[n, *(pct(r.get("per_keypoint_pck", {}).get(n)) for r in rows)] for n in names],
        )
    )
    return tables


def presence_tables(payload: dict) -> list[Table]:
    rows = payload.get("rows", [])
    if not rows:
        return []
    sample_set = payload.get("sample_set") or {}
    main_rows = [
        [
            r["name"] + (" *" if r.get("reference") else ""),
            str(r["n_pos"]),
            str(r["n_neg"]),
            fmt(r.get("auroc"), 4),
            pct(r.get("false_rejection_rate")),
            pct(r.get("false_acceptance_rate")),
            f"{fmt(r.get('pos_presence_p5'), 3)} / {fmt(r.get('pos_presence_median'), 3)}",
            f"{fmt(r.get('neg_presence_median'), 3)} / {fmt(r.get('neg_presence_p95'), 3)}",
            "PASS" if r.get("passes") else "FAIL",
        ]
        for r in rows
    ]
    t = fmt(rows[0].get("threshold"), 2)
    ship = rows[0].get("ship_auroc")
    columns = ["model", "n_pos", "n_neg", "AUROC", f"false rejection @{t}", f"false acceptance @{t}",
               "people p5 / median", "background median / p95", f"AUROC >= {ship}"]
    caption = (
        f"Pose presence of the landmark model alone at each sample's ROI. {sample_set.get('description', '')}. "
        f"False rejection: people with presence < {t} (the tracker drops them); false acceptance: background "
        f"with presence >= {t} (the tracker keeps a pose on it)."
    )
    groups = list(rows[0].get("per_group", {}))
    group_rows = []
    for g in groups:
        first = rows[0]["per_group"][g]
        sign = "+" if first["positive"] else "-"
        cells = [f"{g} ({sign}{first['n_pos'] if first['positive'] else first['n_neg']})"]
        for r in rows:
            v = r["per_group"].get(g) or {}
            rate = v.get("false_rejection_rate") if v.get("positive") else v.get("false_acceptance_rate")
            cells.append(f"{fmt(v.get('auroc'), 3)} / {pct(rate)}")
        group_rows.append(cells)
    group_caption = (
        "AUROC / error rate per sample group: + groups (people) against all negatives, with their false rejection; "
        "- groups (no person) against all positives, with their false acceptance."
    )
    return [
        Table("Pose presence: people vs person-free crops", columns, main_rows, caption),
        Table("Pose presence per sample group", ["group (n)", *(r["name"] for r in rows)], group_rows, group_caption),
    ]


def soak_tables(payload: dict) -> list[Table]:
    rows = payload.get("rows", [])
    if not rows:
        return []
    limit = (payload.get("settings") or {}).get("max_spread_pct")
    summary = [
        [
            r["name"],
            r["video"],
            str(r["frames"]),
            fmt(r.get("baseline_mib"), 1),
            fmt(r.get("final_mib"), 1),
            fmt(r.get("growth_pct"), 2, suffix="%"),
            fmt(r.get("spread_pct"), 2, suffix="%"),
            fmt(r.get("slope_mib_per_1k_frames"), 3),
            "-" if r.get("flat") is None else ("yes" if r["flat"] else "NO"),
        ]
        for r in rows
    ]
    tables = [Table(
        "Soak: resident memory over a long run",
        ["model", "video (looped)", "frames", "RSS first MiB", "RSS last MiB", "growth", "spread", "MiB / 1k frames",
         f"flat (spread <= {fmt(limit, 0)}%)"],
        summary,
        "RSS of the benchmark process, first sample after the models are loaded and warm; segments alternate "
        "tracking (detector only when lost) and static (detector every frame).",
    )]
    for r in rows:
        curve = [[str(s["frame"]), s["mode"], fmt(s.get("rss_mib"), 1), fmt(s.get("fps"), 1), str(s["poses"]),
                  str(s["detector_runs"])] for s in r["samples"]]
        tables.append(Table(f"Soak curve: {r['name']}", ["frame", "mode", "RSS MiB", "frames/s", "poses", "detector runs"],
                            curve, "Counts are over the frames since the previous sample."))
    return tables


def _kib(value) -> str:
    return fmt(value, 0) if value else "0"


def _cpu_macs(row: dict) -> str:
    cpu, total = row.get("cpu_macs"), row.get("model_macs")
    if cpu is None:
        return "-"
    return f"{fmt(cpu, 1, 1e-6)} ({pct(cpu / total) if total else '-'})"


def npu_tables(payload: dict) -> list[Table]:
    """vela's estimates per model x accelerator, and why ops fall back to the CPU."""
    rows = payload.get("rows", [])
    if not rows:
        return []
    version = (payload.get("settings") or {}).get("vela_version")
    main_rows, reasons = [], {}
    for r in rows:
        if r.get("error"):
            main_rows.append([r["name"], r["accelerator"], "-", f"vela failed: {r['error'][:120]}", *["-"] * 7])
            continue
        cpu = ", ".join(f"{op} x{n}" for op, n in r["cpu_op_types"].items()) or "none"
        dram = bool(r.get("dram_kib"))
        main_rows.append([
            r["name"],
            r["accelerator"],
            f"{r['system_config']} / {r['memory_mode']}",
            f"{r['ops_npu']} / {r['ops_cpu']} ({cpu})",
            _kib(r.get("sram_kib")),
            f"{_kib(r.get('dram_kib') if dram else r.get('flash_kib'))} {'DRAM' if dram else 'flash'}",
            fmt(r.get("cycles_total"), 0),
            fmt(r.get("est_ms"), 2),
            fmt(r.get("est_inferences_per_s"), 1),
            fmt(r.get("macs"), 1, 1e-6),
            _cpu_macs(r),
        ])
        for op, by_reason in r.get("fallback_reasons", {}).items():
            for reason, n in by_reason.items():
                entry = reasons.setdefault((r["name"], op, reason), {"n": n, "acc": []})
                entry["acc"].append(r["accelerator"].replace("ethos-", ""))
    columns = ["model", "accelerator", "system config / memory mode", "TFLite ops NPU / CPU (CPU op types)",
               "SRAM KiB", "flash or DRAM KiB", "NPU cycles", "est. ms", "est. inf/s", "NPU MACs M",
               "CPU conv MACs M (share)"]
    caption = (
        f"Arm's estimate (vela {version}), not a measurement: vela's performance model of the NPU part at the "
        "configuration's clock, with vela's default system configuration and memory mode per accelerator. Ops left "
        "to the CPU are not in est. ms. Op counts are TFLite-graph ops (CPU: the non-ethos-u ops of the compiled graph). "
        "CPU conv MACs: convolution / fully-connected MACs left to the CPU, share of the model's."
    )
    tables = [Table("NPU (Ethos-U) estimates", columns, main_rows, caption)]
    if reasons:
        tables.append(Table(
            "Ops that fall back to the CPU, and vela's reason",
            ["model", "op", "ops", "accelerators", "reason"],
            [[name, op, str(v["n"]), ", ".join(v["acc"]), reason] for (name, op, reason), v in reasons.items()],
        ))
    return tables


def suite_tables(payload: dict) -> list[Table]:
    return {
        "latency": latency_tables,
        "pipeline": pipeline_tables,
        "accuracy": accuracy_tables,
        "presence": presence_tables,
        "soak": soak_tables,
        "npu": npu_tables,
        "ceiling": _ceiling_tables,
    }[payload["suite"]](payload)


def _ceiling_tables(payload: dict) -> list[Table]:
    from .ceiling import ceiling_tables

    return ceiling_tables(payload)


def machine_table(machine: dict) -> Table:
    keys = [
        "cpu_model",
        "board",
        "cores_logical",
        "cores_usable",
        "cpu_max_mhz",
        "cpu_governor",
        "memory_total_mb",
        "os",
        "arch",
        "python",
        "tflite_runtime",
        "load_average",
        "cpu_temperature_c",
        "cpu_thermal_zone",
        "timestamp_utc",
    ]
    rows = [
        [k, fmt(machine.get(k), 0) if isinstance(machine.get(k), (float, type(None))) else str(machine.get(k))]
        for k in keys
    ]
    rows.append(["versions", ", ".join(f"{k} {v}" for k, v in (machine.get("versions") or {}).items())])
    return Table("Machine", ["field", "value"], rows)


# -- report.md -------------------------------------------------------------------------------
def load_payloads(out_dir: Path) -> dict[str, dict]:
    return {s: read_json(out_dir / f"{s}.json") for s in SUITES if (out_dir / f"{s}.json").is_file()}


def build_report(out_dir: str | Path) -> Path:
    """Write ``report.md`` and the plots for the suite JSON files in ``out_dir``."""
    out = Path(out_dir)
    payloads = load_payloads(out)
    notes: list[str] = []
    plots = make_plots(out, payloads, notes)
    parts = ["# blazepose-sdk benchmark report", ""]
    if not payloads:
        parts.append("No suite results in this folder.")
    first = next(iter(payloads.values()), None)
    if first:
        parts += ["Commands:", ""] + [f"    {c}" for c in dict.fromkeys(p["command"] for p in payloads.values())] + [""]
        if any(p.get("quick") for p in payloads.values()):
            parts += ["**Quick mode** (few runs, few frames): a smoke test, not numbers to quote.", ""]
        parts.append(machine_table(first["machine"]).markdown())
        loads = [
            f"{suite} {p['machine'].get('load_average')} -> {(p.get('machine_end') or {}).get('load_average')}"
            for suite, p in payloads.items()
        ]
        parts += [
            "Load average (1, 5, 15 min) at the start -> end of each suite: "
            + "; ".join(loads)
            + f". A load above the core count ({first['machine'].get('cores_usable')}) means other work shared the CPU:"
            " absolute times are then inflated, ratios between rows (measured alternately) much less.",
            "",
        ]
    titles = {"latency": "Model latency", "pipeline": "Pipeline throughput", "accuracy": "Accuracy",
              "presence": "Pose presence", "soak": "Soak (memory over a long run)",
              "npu": "Ethos-U NPU estimates (vela: Arm's estimate, not a measurement)",
              "ceiling": "Ceiling: achieved GFLOP/s vs what this CPU can do"}
    for suite, payload in payloads.items():
        parts += [f"## {titles[suite]}", ""]
        tables = suite_tables(payload)
        if not tables:
            parts += ["No rows.", ""]
        parts += [t.markdown() for t in tables]
        if payload.get("notes"):
            parts += ["Notes:", ""] + [f"- {n}" for n in payload["notes"]] + [""]
    from .peers.summary import peer_tables

    peers = peer_tables(payloads)
    if peers:
        parts += ["## Peers", ""] + [t.markdown() for t in peers]
    if plots:
        parts += ["## Plots", ""] + [f"![{p}]({p})\n" for p in plots]
    if notes:
        parts += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    path = out / "report.md"
    path.write_text("\n".join(parts))
    return path
