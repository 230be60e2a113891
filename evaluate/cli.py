"""`privacy-clauses evaluate`: turn predictions into reports, and put reports side by side.

Evaluation runs in two steps. A source yields named `Predictions` (segments, scores, label
names, the thresholds they were written with): predictions files, or a model run over a split
of a corpus (its predictions are saved beside the report). `_evaluate` scores them and writes
the report.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from privacy_clauses.data.cli import add_data_arguments, data_config
from privacy_clauses.data.corpora import load_splits
from privacy_clauses.evaluate.checks import as_thresholds
from privacy_clauses.evaluate.compare import compare_reports, load_references, write_comparison
from privacy_clauses.evaluate.predictions import (Predictions, canonical_labels, read_predictions,
                                                  write_predictions)
from privacy_clauses.evaluate.report import (build_report, build_runs_report, effective_thresholds,
                                             load_report, write_report)
from privacy_clauses.labels import view_of
from privacy_clauses.model import load_model

DEFAULT_PROG = "python -m privacy_clauses.evaluate"


def _evaluate_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Score predictions files and write report.json, report.md and f1.png.",
        epilog=f"To put reports side by side: {prog} compare R1/report.json R2/report.json "
               f"[--references FILE] -o OUT_DIR (see {prog} compare --help).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--predictions", nargs="+", metavar="P.jsonl",
                        help="predictions file(s) written by write_predictions; several files are "
                             "several runs (e.g. seeds) on the same data, reported as mean ± std")
    source.add_argument("--model", metavar="DIR",
                        help="a saved model (baseline or transformer): run it over --split of the corpus "
                             "chosen by the data options, save predictions-<split>.jsonl, report")
    parser.add_argument("--split", default="test", help="with --model: the part to score (default: test)")
    add_data_arguments(parser, default_source=None)
    thresholds = parser.add_mutually_exclusive_group()
    thresholds.add_argument("--thresholds", nargs="+", type=float, metavar="T",
                            help="one threshold for every category, or one per category in the "
                                 "model's label order. Default: the thresholds recorded in each "
                                 "predictions file (those the model was run with), else 0.5")
    thresholds.add_argument("--thresholds-file", metavar="F.json",
                            help='JSON object {"category": threshold, ...} naming every category')
    thresholds.add_argument("--cross-fit", type=int, default=0, metavar="K",
                            help="score every document at thresholds tuned on other documents only: K "
                                 "folds by document, each at per-category thresholds tuned on the other "
                                 "folds' English segments (all of them if none is English). For data "
                                 "that overlaps the model's threshold-tuning set, e.g. the translated "
                                 "OPP-115 validation set, whose English part is that set")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples of documents for confidence intervals, 0 for none "
                             "(single predictions file only; several files report the spread "
                             "across runs instead) (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--name", help="report title (default: the predictions path without "
                                       "suffix; for several files, their common folder)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the report")
    return parser


def _compare_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Put reports side by side: comparison.json, comparison.md, comparison.png.")
    parser.add_argument("reports", nargs="+", metavar="REPORT.json", help="report.json files")
    parser.add_argument("--references", metavar="FILE",
                        help="JSON file of published results, or the name of a shipped one "
                             "(privacyglue_opp115_majority)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the comparison")
    return parser


def _predictions_from_files(paths: Sequence[str]) -> list[tuple[str, Predictions]]:
    return [(path, read_predictions(path)) for path in paths]


def _predictions_from_model(args: argparse.Namespace) -> list[tuple[str, Predictions]]:
    if args.source is None:
        raise ValueError("--model needs --source: the corpus to score (e.g. opp115 for the policy split, "
                         "opp115-majority for the Majority benchmark)")
    model = load_model(args.model)
    args.view = args.view or view_of(model.labels).name
    config = data_config(args)
    splits = load_splits(config)
    if args.split not in splits:
        raise ValueError(f"--split {args.split!r}: the {config.source} corpus has parts {', '.join(splits)}")
    segments = splits[args.split]
    scores = model.predict_proba([s.model_input for s in segments])
    path = write_predictions(Path(args.output) / f"predictions-{args.split}.jsonl", segments, scores,
                             model.labels, model.thresholds)
    return [(f"{Path(args.model)} on {config.source} {args.split}", read_predictions(path))]


def _load_runs(args: argparse.Namespace) -> list[tuple[str, Predictions]]:
    """The named runs to report on, from whichever source the arguments chose."""
    if args.model:
        return _predictions_from_model(args)
    return _predictions_from_files(args.predictions)


def _default_name(run_names: list[str]) -> str:
    if len(run_names) == 1:
        return str(Path(run_names[0]).with_suffix(""))
    return Path(os.path.commonpath([os.path.abspath(name) for name in run_names])).name


def _threshold_override(args: argparse.Namespace, label_names: Sequence[str]) -> float | np.ndarray | None:
    """Thresholds given on the command line for a run with these labels; None if none were."""
    if args.thresholds is not None:
        return args.thresholds[0] if len(args.thresholds) == 1 else np.array(args.thresholds)
    if args.thresholds_file is None:
        return None
    path = args.thresholds_file
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(mapping, dict):
        raise ValueError(f'{path}: expected a JSON object {{"category": threshold, ...}}')
    try:
        mapping = dict(zip(canonical_labels(mapping), mapping.values()))
        if set(mapping) != set(label_names):
            raise ValueError(f"names {sorted(mapping)}, the predictions have {sorted(label_names)}")
        return as_thresholds([mapping[label] for label in label_names], len(label_names))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def _evaluate(args: argparse.Namespace) -> int:
    runs = _load_runs(args)
    run_names = [name for name, _ in runs]
    name = args.name or _default_name(run_names)
    if len(runs) == 1:
        predictions = runs[0][1]
        thresholds = effective_thresholds(predictions, _threshold_override(args, predictions.label_names))
        report = build_report(predictions.segments, predictions.scores, predictions.label_names,
                              thresholds, name, n_bootstrap=args.bootstrap, seed=args.seed,
                              cross_fit_folds=args.cross_fit)
        micro, macro = report["metrics"]["micro_f1"], report["metrics"]["macro_f1"]
    else:
        override = _threshold_override(args, runs[0][1].label_names)
        report = build_runs_report([p for _, p in runs], run_names, name, override, args.cross_fit)
        micro, macro = (report["metrics"]["metrics"][k]["mean"] for k in ("micro_f1", "macro_f1"))
    paths = write_report(report, args.output)
    print(f"{name}: micro-F1 {100 * micro:.1f}, macro-F1 {100 * macro:.1f}; wrote "
          + ", ".join(str(p) for p in paths))
    return 0


def _compare(args: argparse.Namespace) -> int:
    references = load_references(args.references) if args.references else None
    comparison = compare_reports([load_report(path) for path in args.reports], references)
    paths = write_comparison(comparison, args.output)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the command; errors in inputs print one line to stderr and return 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or DEFAULT_PROG
    if argv[:1] == ["compare"]:
        prog, command = f"{prog} compare", _compare
        args = _compare_parser(prog).parse_args(argv[1:])
    else:
        command = _evaluate
        args = _evaluate_parser(prog).parse_args(argv)
    try:
        return command(args)
    except OSError as err:
        message = f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)
    except ValueError as err:
        message = str(err)
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2
