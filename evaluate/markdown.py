"""Markdown pieces shared by the report and comparison writers.

Metrics are stored as fractions and shown as percentages with one decimal, so 0.8214 reads 82.1.
"""
from __future__ import annotations

from typing import Sequence

MISSING = "–"


def _formatted(value: float | None, std: float | None, spec: str) -> str:
    """A fraction in percent with `spec` ("" or "+" for a sign), then "± std" when given."""
    if value is None:
        return MISSING
    text = f"{100 * value:{spec}.1f}"
    return text if std is None else f"{text} ± {100 * std:.1f}"


def percent(value: float | None, std: float | None = None) -> str:
    """A fraction as a percentage with one decimal, "82.1" or "82.1 ± 0.4"; "–" for no value."""
    return _formatted(value, std, "")


def points(difference: float | None, std: float | None = None) -> str:
    """A difference of fractions in percentage points with a sign, "+1.2", "-3.0" or "-3.0 ± 0.8";
    "–" for none."""
    return _formatted(difference, std, "+")


def interval(low: float, high: float) -> str:
    """A confidence interval given as fractions, shown as "80.3–84.0"."""
    return f"{100 * low:.1f}–{100 * high:.1f}"


def point_interval(low: float, high: float) -> str:
    """An interval of differences given as fractions, in signed points: "-8.1 to +0.9"."""
    return f"{points(low)} to {points(high)}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric_from: int = 1) -> str:
    """A Markdown table; columns from `numeric_from` on are right-aligned."""
    def cells(values: Sequence[object]) -> str:
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"

    rule = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return "\n".join([cells(header), cells(rule)] + [cells(row) for row in rows])
