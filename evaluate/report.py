"""Reports: what one model run, or several seeds of it, scored on one data set.

A report is a plain dict (stored as report.json, metrics as fractions) rendered as report.md
(percentages, one decimal) and f1.png. `build_report` scores one run and adds bootstrap
intervals over documents; `build_runs_report` summarises several runs of the same data, e.g.
training seeds, as mean ± standard deviation.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import privacy_clauses
from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.evaluate import markdown, plots
from privacy_clauses.evaluate.checks import as_scores, as_thresholds
from privacy_clauses.evaluate.metrics import (UNKNOWN_LANGUAGE, binarize, classification_metrics,
                                              cross_fit_predictions, cross_lingual_gap, per_language)
from privacy_clauses.evaluate.predictions import Predictions, canonical_labels
from privacy_clauses.evaluate.uncertainty import aggregate_gaps, aggregate_runs, bootstrap_by_document, bootstrap_gap
from privacy_clauses.labels import LabelView

REPORT_KINDS = ("report", "runs")
CROSS_FIT_NOTE = ("Cross-fitted thresholds: every document is scored at per-category thresholds tuned on "
                  "the other folds only, so no part of the data is scored in-sample.")
# Cross-lingual gaps are measured against English, the language of OPP-115.
REFERENCE_LANGUAGE = "en"
GAP_HEADER = [f"Micro-F1 − {REFERENCE_LANGUAGE}", f"Macro-F1 − {REFERENCE_LANGUAGE}"]
AVERAGE_ROWS = (("Micro", "micro"), ("Macro", "macro"), ("Weighted", "weighted"), ("Samples", "samples"))
METRIC_NAMES = {"micro_f1": "Micro-F1", "micro_precision": "Micro-precision",
                "micro_recall": "Micro-recall", "macro_f1": "Macro-F1",
                "macro_precision": "Macro-precision", "macro_recall": "Macro-recall",
                "weighted_f1": "Weighted-F1", "samples_f1": "Samples-F1"}


def targets_and_mask(segments: Sequence[Segment],
                     label_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Gold labels and annotation mask of `segments` in the model's label order.

    Gold labels are mapped into the model's labels as `labels.to_view` does: a 10-label model
    can be scored on 12-label data (the three "Other" subtypes count as "Other"), not the reverse.
    """
    return label_matrix(segments, LabelView("model", tuple(label_names)))


def effective_thresholds(predictions: Predictions,
                         override: float | Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """The thresholds to score with: `override` if given, else those recorded in the predictions
    file (the ones the model was run with), else 0.5 for every category."""
    n_labels = len(predictions.label_names)
    if override is not None:
        return as_thresholds(override, n_labels)
    if predictions.thresholds is not None:
        return as_thresholds(predictions.thresholds, n_labels)
    return as_thresholds(0.5, n_labels)


def build_report(segments: Sequence[Segment], scores: Any, label_names: Sequence[str],
                 thresholds: float | Sequence[float] | np.ndarray = 0.5, name: str = "predictions",
                 n_bootstrap: int = 1000, seed: int = 0, cross_fit_folds: int = 0) -> dict[str, Any]:
    """Metrics, bootstrap intervals by document (skipped when n_bootstrap is 0), a per-language
    breakdown (when any segment has a language), the thresholds used and counts.

    With `cross_fit_folds` (K > 0) `thresholds` is not used: each of K folds of documents is scored
    at thresholds tuned on the other folds (`cross_fit_predictions`), on their English segments
    when the data has any (training tunes on English validation), else on all of them. Bootstrap
    intervals then resample documents of those fixed predictions.
    """
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}")
    segments = list(segments)
    if not segments:
        raise ValueError("no segments to evaluate")
    names = canonical_labels(label_names)
    scores = as_scores(scores, (len(segments), len(names)))
    y_true, mask = targets_and_mask(segments, names)
    documents = [s.document_id for s in segments]
    languages = [s.language for s in segments]
    cross_fit = None
    if cross_fit_folds:
        reference = np.array([language == REFERENCE_LANGUAGE for language in languages])
        tune_rows = reference if reference.any() else None
        y_pred, fold_thresholds = cross_fit_predictions(y_true, scores, documents, cross_fit_folds, tune_rows, mask)
        cross_fit = {"folds": int(cross_fit_folds),
                     "tuned_on": "all segments" if tune_rows is None else REFERENCE_LANGUAGE,
                     "thresholds": [{label: float(t) for label, t in zip(names, row)} for row in fold_thresholds]}
        thresholds = None
    else:
        thresholds = as_thresholds(thresholds, len(names))
        y_pred = binarize(scores, thresholds)
    known_language = any(language is not None for language in languages)
    by_language = per_language(y_true, y_pred, languages, names, mask) if known_language else None
    bootstrap = None
    if n_bootstrap:
        bootstrap = bootstrap_by_document(y_true, y_pred, documents, names, mask, n_resamples=n_bootstrap, seed=seed)
        if by_language:
            bootstrap["cross_lingual_gap"] = bootstrap_gap(y_true, y_pred, documents, languages, mask,
                                                           REFERENCE_LANGUAGE, n_resamples=n_bootstrap, seed=seed)
    return {
        "kind": "report",
        "name": name,
        "version": privacy_clauses.__version__,
        "labels": list(names),
        "thresholds": None if thresholds is None else {label: float(t) for label, t in zip(names, thresholds)},
        "cross_fit": cross_fit,
        "counts": {"segments": len(segments), "documents": len(set(documents)),
                   "languages": dict(sorted(Counter(language or UNKNOWN_LANGUAGE
                                                    for language in languages).items()))},
        "metrics": classification_metrics(y_true, y_pred, names, mask),
        "bootstrap": bootstrap,
        "per_language": by_language,
        "cross_lingual_gap": cross_lingual_gap(by_language, REFERENCE_LANGUAGE) if by_language else None,
    }


def build_runs_report(runs: Sequence[Predictions], run_names: Sequence[str], name: str = "runs",
                      thresholds: float | Sequence[float] | np.ndarray | None = None,
                      cross_fit_folds: int = 0) -> dict[str, Any]:
    """Mean ± std (ddof=1) of every metric over several runs on the same segments, e.g. seeds.

    Each run is scored with `effective_thresholds(run, thresholds)`, so by default with the
    thresholds it was written with, or with cross-fitted thresholds (see `build_report`). The
    spread across runs is the uncertainty reported here; bootstrap intervals belong to single-run
    reports.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("build_runs_report needs at least one run")
    if len(run_names) != len(runs):
        raise ValueError(f"{len(run_names)} run names for {len(runs)} runs")
    first, first_name = runs[0], run_names[0]
    for run, run_name in zip(runs[1:], run_names[1:]):
        if tuple(run.label_names) != tuple(first.label_names):
            raise ValueError(f"{run_name} has labels {list(run.label_names)}, "
                             f"{first_name} has {list(first.label_names)}")
        if set(run.segments) != set(first.segments):
            raise ValueError(f"{run_name} and {first_name} do not hold the same segments")
    reports = [build_report(run.segments, run.scores, run.label_names, effective_thresholds(run, thresholds),
                            run_name, n_bootstrap=0, cross_fit_folds=cross_fit_folds)
               for run, run_name in zip(runs, run_names)]
    languages = reports[0]["per_language"]
    return {
        "kind": "runs",
        "name": name,
        "version": privacy_clauses.__version__,
        "labels": reports[0]["labels"],
        "n_runs": len(runs),
        "runs": [{"name": r["name"], "thresholds": r["thresholds"], "cross_fit": r["cross_fit"],
                  "micro_f1": r["metrics"]["micro_f1"], "macro_f1": r["metrics"]["macro_f1"]}
                 for r in reports],
        "counts": reports[0]["counts"],
        "metrics": aggregate_runs([r["metrics"] for r in reports]),
        "per_language": None if languages is None else {
            language: aggregate_runs([r["per_language"][language] for r in reports])
            for language in languages},
        "cross_lingual_gap": aggregate_gaps([r["cross_lingual_gap"] for r in reports])
        if reports[0]["cross_lingual_gap"] else None,
    }


def _threshold_note(scored: dict[str, Any], where: str = "see table") -> str:
    """How a report or one run of a runs report was scored: its `thresholds` or `cross_fit`."""
    if scored.get("cross_fit"):
        cross_fit = scored["cross_fit"]
        return (f"cross-fitted thresholds ({cross_fit['folds']} folds of documents, tuned on "
                f"{cross_fit['tuned_on']} segments; in report.json)")
    values = set(scored["thresholds"].values())
    return f"threshold {values.pop():g} for every category" if len(values) == 1 \
        else f"per-category thresholds ({where})"


def _counts_line(report: dict[str, Any]) -> str:
    counts = report["counts"]
    return (f"{counts['segments']} segments from {counts['documents']} documents; "
            f"privacy-clauses {report['version']}.")


def _render_single(report: dict[str, Any]) -> str:
    metrics, thresholds = report["metrics"], report["thresholds"]
    varying = thresholds is not None and len(set(thresholds.values())) > 1
    header = ["Category", "Precision", "Recall", "F1", "Support"] + (["Threshold"] if varying else [])
    rows = []
    for label, m in metrics["per_category"].items():
        support = m["support"] if m["f1"] is not None else "not annotated"
        rows.append([label, markdown.percent(m["precision"]), markdown.percent(m["recall"]),
                     markdown.percent(m["f1"]), support] + ([f"{thresholds[label]:g}"] if varying else []))
    averages = [[title, markdown.percent(metrics.get(f"{key}_precision")),
                 markdown.percent(metrics.get(f"{key}_recall")), markdown.percent(metrics[f"{key}_f1"])]
                for title, key in AVERAGE_ROWS]
    parts = [f"# {report['name']}",
             f"{_counts_line(report)} Scored at {_threshold_note(report)}. All numbers in %."
             + (f" {CROSS_FIT_NOTE}" if report["cross_fit"] else ""),
             "## Per category", markdown.table(header, rows),
             "## Averages", markdown.table(["Average", "Precision", "Recall", "F1"], averages)]
    if metrics["not_annotated"]:
        parts.append("Not annotated in this data, so left out of every average: "
                     + ", ".join(metrics["not_annotated"]) + ".")
    if report["bootstrap"] is not None:
        parts += _render_bootstrap(report["bootstrap"])
    if report["per_language"] is not None:
        gap_intervals = (report["bootstrap"] or {}).get("cross_lingual_gap")
        parts += _render_languages(report["per_language"], report.get("cross_lingual_gap") or {}, gap_intervals)
    return "\n\n".join(parts) + "\n"


def _render_languages(by_language: dict[str, Any], gaps: dict[str, Any],
                      gap_intervals: dict[str, Any] | None) -> list[str]:
    """The per-language averages, their gap to English (with its paired bootstrap interval when
    there is one), and F1 per category and language."""
    intervals = (gap_intervals or {}).get("gaps") or {}
    level = f"{100 * gap_intervals['confidence']:g}%" if intervals else ""

    def gap_cells(language: str) -> list[str]:
        if not gaps:
            return []
        gap = gaps.get(language)  # None for the reference language itself
        cells = [markdown.points(gap["micro_f1"]), markdown.points(gap["macro_f1"])] if gap else ["", ""]
        if intervals:
            ci = intervals.get(language)
            cells += [markdown.point_interval(ci[key]["low"], ci[key]["high"]) if ci else ""
                      for key in ("micro_f1", "macro_f1")]
        return cells

    gap_header = list(GAP_HEADER) if gaps else []
    if intervals:
        gap_header += [f"Micro-F1 − {REFERENCE_LANGUAGE}, {level} interval",
                       f"Macro-F1 − {REFERENCE_LANGUAGE}, {level} interval"]
    rows = [[language, m["n_samples"], markdown.percent(m["micro_f1"]), markdown.percent(m["macro_f1"]),
             markdown.percent(m["samples_f1"])] + gap_cells(language)
            for language, m in by_language.items()]
    parts = ["## Per language",
             markdown.table(["Language", "Segments", "Micro-F1", "Macro-F1", "Samples-F1"] + gap_header, rows)]
    if gaps:
        parts.append(f"Gaps are in F1 points, each language minus {REFERENCE_LANGUAGE}; they compare like with "
                     "like only where the languages hold the same content (translations, parallel policies).")
    if intervals:
        parts.append(f"Gap intervals: paired percentile bootstrap, {gap_intervals['n_resamples']} resamples of the "
                     f"{gap_intervals['n_documents']} documents, every language scored on the same draw "
                     f"(seed {gap_intervals['seed']}); given for languages holding exactly the documents of "
                     f"{REFERENCE_LANGUAGE}.")
    languages = list(by_language)
    labels = [label for label in next(iter(by_language.values()))["per_category"]
              if any(m["per_category"][label]["f1"] is not None for m in by_language.values())]
    rows = [[label] + [markdown.percent(by_language[lang]["per_category"][label]["f1"]) for lang in languages]
            for label in labels]
    parts += ["### F1 per category and language", markdown.table(["Category"] + languages, rows)]
    return parts


def _render_bootstrap(bootstrap: dict[str, Any]) -> list[str]:
    level = f"{100 * bootstrap['confidence']:g}%"
    rows = [[title, markdown.percent(ci["estimate"]), markdown.interval(ci["low"], ci["high"])]
            for title, ci in (("Micro-F1", bootstrap["micro_f1"]), ("Macro-F1", bootstrap["macro_f1"]))]
    rows += [[f"F1: {label}", markdown.percent(ci["estimate"]), markdown.interval(ci["low"], ci["high"])]
             for label, ci in bootstrap["per_category_f1"].items() if ci is not None]
    return [f"## {level} confidence intervals",
            f"Percentile bootstrap: {bootstrap['n_resamples']} resamples of the "
            f"{bootstrap['n_documents']} documents, drawn whole with replacement (seed {bootstrap['seed']}).",
            markdown.table(["Metric", "Value", f"{level} interval"], rows)]


def _render_runs(report: dict[str, Any]) -> str:
    aggregate = report["metrics"]
    rows = [[label, markdown.percent(None) if v is None else markdown.percent(v["mean"], v["std"])]
            for label, v in aggregate["per_category_f1"].items()]
    averages = [[title, markdown.percent(aggregate["metrics"][key]["mean"], aggregate["metrics"][key]["std"])]
                for key, title in METRIC_NAMES.items()]
    runs = [[run["name"], _threshold_note(run, "in report.json"), markdown.percent(run["micro_f1"]),
             markdown.percent(run["macro_f1"])] for run in report["runs"]]
    parts = [f"# {report['name']}",
             f"Mean ± standard deviation over {report['n_runs']} runs. {_counts_line(report)} "
             "All numbers in %." + (f" {CROSS_FIT_NOTE}" if report["runs"][0]["cross_fit"] else ""),
             "## Per category", markdown.table(["Category", "F1"], rows),
             "## Averages", markdown.table(["Metric", "Value"], averages),
             "## Runs", markdown.table(["Run", "Thresholds", "Micro-F1", "Macro-F1"], runs, numeric_from=2)]
    if report["per_language"] is not None:
        gaps = report.get("cross_lingual_gap") or {}
        gap_header = list(GAP_HEADER) if gaps else []
        rows = [[language] + [markdown.percent(m["metrics"][key]["mean"], m["metrics"][key]["std"])
                              for key in ("micro_f1", "macro_f1", "samples_f1")]
                + ([markdown.points(gaps[language][key]["mean"], gaps[language][key]["std"])
                    if language in gaps else "" for key in ("micro_f1", "macro_f1")] if gaps else [])
                for language, m in report["per_language"].items()]
        parts += ["## Per language",
                  markdown.table(["Language", "Micro-F1", "Macro-F1", "Samples-F1"] + gap_header, rows)]
        if gaps:
            parts.append(f"Gaps are in F1 points, each language minus {REFERENCE_LANGUAGE}, computed per run "
                         "and then averaged (± their standard deviation across runs).")
    return "\n\n".join(parts) + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown document (percentages with one decimal)."""
    return _render_single(report) if report["kind"] == "report" else _render_runs(report)


def _plot(report: dict[str, Any], path: Path) -> Path:
    """f1.png: per-category F1 with its bootstrap interval (one run) or ± std (several runs)."""
    if report["kind"] == "report":
        per_category = report["metrics"]["per_category"]
        f1 = {label: m["f1"] for label, m in per_category.items() if m["f1"] is not None}
        errors, note = None, ""
        if report["bootstrap"] is not None:
            cis = report["bootstrap"]["per_category_f1"]
            errors = [(max(value - cis[label]["low"], 0), max(cis[label]["high"] - value, 0))
                      for label, value in f1.items()]
            note = f" ({100 * report['bootstrap']['confidence']:g}% bootstrap intervals)"
    else:
        spread = {label: v for label, v in report["metrics"]["per_category_f1"].items() if v is not None}
        f1 = {label: v["mean"] for label, v in spread.items()}
        errors = [(v["std"], v["std"]) for v in spread.values()]
        note = f" (mean ± std over {report['n_runs']} runs)"
    title = f"{report['name']}: F1 per category{note}"
    return plots.plot_f1_bars(path, title, list(f1), list(f1.values()), errors)


def write_report(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write report.json, report.md and f1.png into `out_dir` (created if needed)."""
    if report.get("kind") not in REPORT_KINDS:
        raise ValueError(f"not a report: kind {report.get('kind')!r}, expected one of {REPORT_KINDS}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                         encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return [json_path, md_path, _plot(report, out_dir / "f1.png")]


def load_report(path: str | Path) -> dict[str, Any]:
    """A report.json written by `write_report`; ValueError naming the file otherwise."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(report, dict) or report.get("kind") not in REPORT_KINDS:
        raise ValueError(f"{path}: not a report.json written by `privacy-clauses evaluate`")
    return report
