"""Bar charts for reports and comparisons.

matplotlib is imported inside the functions, so importing the evaluation package stays cheap, and
figures are drawn on a plain Agg-backed `Figure` rather than through pyplot, so plotting never
opens a window or changes the backend of the program that calls it.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np


def _figure(height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_f1_bars(path: str | Path, title: str, labels: Sequence[str], f1: Sequence[float],
                 errors: Sequence[tuple[float, float]] | None = None) -> Path:
    """Horizontal bars of per-category F1 (fractions, drawn as %), first category on top.

    `errors` are (below, above) distances from each bar's end: a bootstrap interval or ± std.
    """
    figure = _figure(1.2 + 0.4 * len(labels))
    axes = figure.add_subplot()
    positions = np.arange(len(labels))
    xerr = None if errors is None else 100 * np.asarray(errors, dtype=float).T
    axes.barh(positions, 100 * np.asarray(f1, dtype=float), xerr=xerr, color="tab:blue",
              error_kw={"capsize": 3, "elinewidth": 1})
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("F1 (%)")
    axes.set_title(textwrap.fill(title, 70))
    axes.grid(axis="x", alpha=0.3)
    figure.savefig(path, dpi=120)
    return Path(path)


def plot_grouped_bars(path: str | Path, title: str, groups: Sequence[str],
                      series: dict[str, Sequence[float | None]]) -> Path:
    """Horizontal grouped bars: one group per metric, one bar per series (run); None leaves a gap."""
    figure = _figure(1.5 + 0.2 * len(groups) * max(len(series), 1) + 0.2 * len(series))
    axes = figure.add_subplot()
    height = 0.8 / max(len(series), 1)
    for k, (name, values) in enumerate(series.items()):
        present = [(i, v) for i, v in enumerate(values) if v is not None]
        positions = np.array([i for i, _ in present], dtype=float) - 0.4 + height * (k + 0.5)
        axes.barh(positions, [100 * v for _, v in present], height=height, label=name)
    axes.set_yticks(np.arange(len(groups)), groups)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("F1 (%)")
    axes.set_title(textwrap.fill(title, 70))
    axes.grid(axis="x", alpha=0.3)
    figure.legend(loc="outside lower center", fontsize="small")
    figure.savefig(path, dpi=120)
    return Path(path)
