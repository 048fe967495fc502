"""Tables (console and markdown), report.md and PNG plots from the suites' JSON files.

The same table definitions feed the console (rich when installed, plain text otherwise) and
report.md. Plots need matplotlib; without it they are skipped with a note. :func:`build_report`
reads whatever ``latency.json`` / ``pipeline.json`` / ``accuracy.json`` / ``presence.json`` an
output folder holds, so suites run one by one into the same folder still give one report.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from .common import read_json
from .metrics import PCK_THRESHOLD, PCKH_THRESHOLD

SUITES = ("latency", "pipeline", "accuracy", "presence", "soak", "npu", "ceiling")
PLOT_FILES = {
    "scatter": "latency_vs_accuracy.png",
    "pck": "pck_per_keypoint.png",
    "stages": "pipeline_stages.png",
    "threads": "latency_threads.png",
}


# -- formatting ------------------------------------------------------------------------------
def fmt(value, digits: int = 1, scale: float = 1.0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, (int, float)):
        return f"{value * scale:.{digits}f}{suffix}"
    return str(value)


def pct(value) -> str:
    return fmt(value, 1, 100.0, "%")


class Table:
    """A titled table of strings."""

    def __init__(self, title: str, columns: list[str], rows: list[list[str]], caption: str = "") -> None:
        self.title, self.columns, self.rows, self.caption = title, columns, rows, caption

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.caption:
            lines += [self.caption, ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def plain(self) -> str:
        widths = [
            max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c) for i, c in enumerate(self.columns)
        ]
        line = "  ".join(c.ljust(w) for c, w in zip(self.columns, widths))
        out = [self.title, line, "-" * len(line)]
        out += [
            "  ".join((v.ljust(w) if i == 0 else v.rjust(w)) for i, (v, w) in enumerate(zip(r, widths)))
            for r in self.rows
        ]
        if self.caption:
            out.append(self.caption)
        return "\n".join(out)


def print_tables(tables: list[Table]) -> None:
    """Print tables with rich when it is installed, else as plain text."""
    try:
        from rich.console import Console
        from rich.table import Table as RichTable
    except ImportError:
        for t in tables:
            print("\n" + t.plain())
        return
    console = Console(width=None if sys.stdout.isatty() else 200)
    for t in tables:
        rt = RichTable(title=t.title, caption=t.caption or None, title_justify="left")
        for i, c in enumerate(t.columns):
            rt.add_column(c, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for r in t.rows:
            rt.add_row(*r)
        console.print(rt)


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


# -- plots -----------------------------------------------------------------------------------
def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _latency_by_name(latency: dict | None, pipeline: dict | None) -> tuple[dict[str, float], str]:
    """x values for the scatter: landmark-model median ms (first CPU config), else tracker ms per frame."""
    if latency:
        out = {}
        config = None
        for r in latency.get("rows", []):
            ms = [m for m in r.get("measurements", []) if not m.get("error") and m.get("median_ms") is not None]
            if ms:
                config = config or ms[0]["config"]
                m = next((x for x in ms if x["config"] == config), None)
                if m:
                    out[r["name"]] = m["median_ms"]
        if out:
            return out, f"landmark model latency, median ms ({config})"
    if pipeline:
        out = {}
        for r in pipeline.get("rows", []):
            if r.get("videos"):
                out[r["name"]] = r["videos"][0]["process_ms_per_frame"]
        if out:
            return out, "tracker ms per frame (pipeline suite)"
    return {}, ""


def make_plots(out_dir: Path, payloads: dict[str, dict], notes: list[str]) -> list[str]:
    """Write the PNG plots that the available payloads allow; returns their file names."""
    plt = _pyplot()
    if plt is None:
        notes.append("matplotlib is not installed: plots skipped (`pip install matplotlib`)")
        return []
    written = []
    acc, lat, pipe = payloads.get("accuracy"), payloads.get("latency"), payloads.get("pipeline")
    p = f"pck@{PCK_THRESHOLD}"
    if acc and acc.get("rows"):
        xs, xlabel = _latency_by_name(lat, pipe)
        points = [(xs[r["name"]], r.get(p), r["name"]) for r in acc["rows"] if r["name"] in xs and r.get(p) is not None]
        if points:
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
            for x, y, name in points:
                ax.scatter([x], [100 * y], s=60)
                ax.annotate(name, (x, 100 * y), textcoords="offset points", xytext=(6, 4), fontsize=9)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"PCK@{PCK_THRESHOLD} (%)")
            truth = acc.get("ground_truth") or {}
            by = f" by {truth['label_model']}" if truth.get("label_model") else ""
            ax.set_title(f"Latency vs accuracy ({truth.get('kind', '')}{by})")
            ax.grid(alpha=0.3)
            ax.margins(x=0.25, y=0.15)
            fig.tight_layout()
            fig.savefig(out_dir / PLOT_FILES["scatter"], dpi=120)
            plt.close(fig)
            written.append(PLOT_FILES["scatter"])
        names = (acc.get("ground_truth") or {}).get("keypoint_names") or list(
            acc["rows"][0].get("per_keypoint_pck", {})
        )
        if names:
            n = len(acc["rows"])
            width = 0.8 / n
            fig, ax = plt.subplots(figsize=(max(8.0, 0.42 * len(names) + 2), 4.8))
            for i, r in enumerate(acc["rows"]):
                vals = [100 * (r.get("per_keypoint_pck", {}).get(k) or 0.0) for k in names]
                ax.bar([j + (i - (n - 1) / 2) * width for j in range(len(names))], vals, width, label=r["name"])
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=75, ha="right", fontsize=8)
            ax.set_ylabel(f"PCK@{PCK_THRESHOLD} (%)")
            ax.set_ylim(0, 105)
            ax.set_title("PCK per keypoint")
            ax.legend(fontsize=8, loc="lower right")
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            fig.savefig(out_dir / PLOT_FILES["pck"], dpi=120)
            plt.close(fig)
            written.append(PLOT_FILES["pck"])
    if pipe and any(r.get("videos") for r in pipe.get("rows", [])):
        from .pipeline import STAGES

        bars = [
            (f"{r['name']}\n{v['video']}", v["stage_ms_per_frame"]) for r in pipe["rows"] for v in r.get("videos", [])
        ]
        fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(bars) + 2), 4.6))
        bottom = [0.0] * len(bars)
        for stage in STAGES:
            vals = [b[1].get(stage) or 0.0 for b in bars]
            ax.bar(range(len(bars)), vals, 0.6, bottom=bottom, label=stage)
            bottom = [a + b for a, b in zip(bottom, vals)]
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([b[0] for b in bars], fontsize=8)
        ax.set_ylabel("ms per frame")
        ax.set_title("Pipeline time per frame by stage")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / PLOT_FILES["stages"], dpi=120)
        plt.close(fig)
        written.append(PLOT_FILES["stages"])
    if lat and lat.get("rows"):
        rows = [r for r in lat["rows"] if r.get("measurements")]
        configs = list(dict.fromkeys(m["config"] for r in rows for m in r["measurements"] if not m.get("error")))
        if rows and configs:
            fig, ax = plt.subplots(figsize=(max(6.4, 1.3 * len(rows) + 2), 4.4))
            width = 0.8 / len(configs)
            for i, c in enumerate(configs):
                vals = [
                    next((m["median_ms"] for m in r["measurements"] if m["config"] == c and not m.get("error")), 0.0)
                    or 0.0
                    for r in rows
                ]
                ax.bar([j + (i - (len(configs) - 1) / 2) * width for j in range(len(rows))], vals, width, label=c)
            ax.set_xticks(range(len(rows)))
            ax.set_xticklabels([r["name"] for r in rows], fontsize=8, rotation=20, ha="right")
            ax.set_ylabel("median ms per inference")
            ax.set_title("Model latency by configuration")
            ax.legend(fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            fig.tight_layout()
            fig.savefig(out_dir / PLOT_FILES["threads"], dpi=120)
            plt.close(fig)
            written.append(PLOT_FILES["threads"])
    return written


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
