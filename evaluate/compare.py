"""Several reports side by side, optionally with published reference results.

Reference files (JSON) hold published numbers: {"description": ..., "rows": [{"name", "micro_f1",
"macro_f1", "citation", ...}]}, metrics as fractions. They carry only what the source states,
so reference rows have no per-category cells. Files shipped under `references/` can be named
by their stem, e.g. `privacyglue_opp115_majority`.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from privacy_clauses.evaluate import markdown, plots

REFERENCES_DIR = Path(__file__).parent / "references"
REFERENCE_METRICS = ("micro_f1", "macro_f1")


def reference_path(name_or_path: str | Path) -> Path:
    """A reference file: the path itself if it exists, else a shipped file of that stem."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = REFERENCES_DIR / f"{name_or_path}.json"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in REFERENCES_DIR.glob("*.json")))
    raise FileNotFoundError(f"{name_or_path}: no such reference file (shipped references: {names})")


def load_references(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a reference file, checked; ValueError naming the file for anything malformed."""
    path = reference_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError(f'{path}: expected an object with a non-empty "rows" list')
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) \
                or not isinstance(row.get("citation"), str):
            raise ValueError(f'{path}: row {i} needs a "name" and a "citation"')
        for key in REFERENCE_METRICS:
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f'{path}: row {i} ("{row["name"]}"): {key} must be a fraction '
                                 f"within [0, 1], got {value!r}")
    return rows


def _report_row(report: dict[str, Any]) -> dict[str, Any]:
    if report["kind"] == "report":
        metrics = report["metrics"]
        return {"name": report["name"], "kind": "report",
                "micro_f1": metrics["micro_f1"], "macro_f1": metrics["macro_f1"],
                "per_category_f1": {label: m["f1"] for label, m in metrics["per_category"].items()},
                "std": None}
    aggregate = report["metrics"]
    spread = aggregate["per_category_f1"]
    return {"name": report["name"], "kind": "runs", "n_runs": report["n_runs"],
            "micro_f1": aggregate["metrics"]["micro_f1"]["mean"],
            "macro_f1": aggregate["metrics"]["macro_f1"]["mean"],
            "per_category_f1": {label: None if v is None else v["mean"] for label, v in spread.items()},
            "std": {"micro_f1": aggregate["metrics"]["micro_f1"]["std"],
                    "macro_f1": aggregate["metrics"]["macro_f1"]["std"],
                    "per_category_f1": {label: None if v is None else v["std"]
                                        for label, v in spread.items()}}}


def compare_reports(reports: Sequence[dict[str, Any]],
                    references: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Micro-F1, macro-F1 and per-category F1 of each report (mean and std for multi-run
    reports), followed by reference rows; categories are the union of the reports' labels."""
    if not reports:
        raise ValueError("compare_reports needs at least one report")
    labels = list(dict.fromkeys(label for report in reports for label in report["labels"]))
    rows = [_report_row(report) for report in reports]
    rows += [{"kind": "reference", "name": ref["name"], "micro_f1": float(ref["micro_f1"]),
              "macro_f1": float(ref["macro_f1"]), "per_category_f1": None, "std": None,
              "reference": {k: v for k, v in ref.items() if k not in ("name",) + REFERENCE_METRICS}}
             for ref in references or ()]
    seen: Counter[str] = Counter()
    for row in rows:  # rows are told apart by name in tables and legends
        seen[row["name"]] += 1
        if seen[row["name"]] > 1:
            row["name"] = f"{row['name']} ({seen[row['name']]})"
    return {"kind": "comparison", "labels": labels, "rows": rows}


def _average_cell(row: dict[str, Any], key: str) -> str:
    return markdown.percent(row[key], None if row["std"] is None else row["std"][key])


def _category_cell(row: dict[str, Any], label: str) -> str:
    if row["per_category_f1"] is None:  # reference rows: the source gives no per-category numbers
        return ""
    std = None if row["std"] is None else row["std"]["per_category_f1"].get(label)
    return markdown.percent(row["per_category_f1"].get(label), std)


def render_comparison_markdown(comparison: dict[str, Any]) -> str:
    """The comparison as Markdown: one row per run, F1 in % (mean ± std for multi-run reports)."""
    labels = comparison["labels"]
    rows = [[row["name"], _average_cell(row, "micro_f1"), _average_cell(row, "macro_f1")]
            + [_category_cell(row, label) for label in labels]
            for row in comparison["rows"]]
    parts = ["# Comparison",
             "F1 in %; multi-run reports show mean ± standard deviation; "
             "\"–\" marks a category not annotated in that run's data.",
             markdown.table(["Run", "Micro-F1", "Macro-F1"] + labels, rows)]
    references = [row for row in comparison["rows"] if row["kind"] == "reference"]
    if references:
        notes = []
        for row in references:
            details = {k: v for k, v in row["reference"].items() if k != "citation"}
            setting = "; ".join(f"{k}: {v}" for k, v in details.items())
            notes.append(f"- {row['name']}: {row['reference']['citation']}"
                         + (f" ({setting})" if setting else ""))
        parts += ["## References",
                  "Published results; only their averages are recorded, so their category cells are empty.",
                  "\n".join(notes)]
    return "\n\n".join(parts) + "\n"


def write_comparison(comparison: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write comparison.json, comparison.md and comparison.png (grouped bars) into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "comparison.json", out_dir / "comparison.md"
    json_path.write_text(json.dumps(comparison, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                         encoding="utf-8")
    md_path.write_text(render_comparison_markdown(comparison), encoding="utf-8")
    groups = ["Micro-F1", "Macro-F1"] + comparison["labels"]
    series = {row["name"]: [row["micro_f1"], row["macro_f1"]]
              + [None if row["per_category_f1"] is None else row["per_category_f1"].get(label)
                 for label in comparison["labels"]]
              for row in comparison["rows"]}
    png = plots.plot_grouped_bars(out_dir / "comparison.png", "F1 by run", groups, series)
    return [json_path, md_path, png]
