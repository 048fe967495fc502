"""PNG plots of a benchmark folder's suite results (matplotlib; without it they are skipped
with a note): latency vs accuracy, PCK per keypoint, pipeline stages, latency per thread count.
"""

from __future__ import annotations

from pathlib import Path

from .metrics import PCK_THRESHOLD

PLOT_FILES = {
    "scatter": "latency_vs_accuracy.png",
    "pck": "pck_per_keypoint.png",
    "stages": "pipeline_stages.png",
    "threads": "latency_threads.png",
}


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
