"""Table primitives of the benchmark suites: cell formatting, a titled table that prints to the
console (rich when installed, plain text otherwise) and to markdown.

A leaf module: it imports nothing from the suites, so every suite (and report.py, which builds
report.md from them) can use it.
"""

from __future__ import annotations

import math
import sys


def fmt(value, digits: int = 1, scale: float = 1.0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, (int, float)):
        return f"{value * scale:.{digits}f}{suffix}"
    return str(value)


def pct(value) -> str:
    return fmt(value, 1, 100.0, "%")


def with_ratio(value, ratio, digits: int = 2, scale: float = 1.0) -> str:
    """``value (ratio)``: a cell with its ratio to a baseline row; "-" when the value is missing."""
    return "-" if value is None else f"{fmt(value, digits, scale)} ({fmt(ratio, 2)})"


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
