"""How noisy MAPP's German minus English gap is: a paired bootstrap over the development apps.

MAPP's German and English policies of an app are different texts, so the report's per-document
gap interval (which needs the same documents in both languages) does not cover them. Here each
replicate draws the development apps with replacement and scores both languages on the segments
of the drawn apps (an app with a policy in only one language counts for that language only).
The gap is macro-F1 over the two categories MAPP annotates, at the model's own thresholds.

    python benchmarks/mapp_gap_bootstrap.py shipped=model/shipped other=DIR [--resamples 1000]
"""
from __future__ import annotations

import argparse

import numpy as np

from privacy_clauses.data.corpora import DataConfig, load_splits
from privacy_clauses.data.mapp import policy_key
from privacy_clauses.data.records import label_matrix
from privacy_clauses.evaluate.metrics import binarize, classification_metrics
from privacy_clauses.model.classifier import ClauseClassifier


def macro_gap(y_true: np.ndarray, y_pred: np.ndarray, mask: np.ndarray, languages: np.ndarray,
              labels: list[str]) -> float:
    """German minus English macro-F1, in points."""
    f1 = {lang: classification_metrics(y_true[languages == lang], y_pred[languages == lang], labels,
                                       mask[languages == lang])["macro_f1"] for lang in ("de", "en")}
    return 100 * (f1["de"] - f1["en"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="NAME=DIR")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    segments = load_splits(DataConfig(source="mapp"))["validation"]
    languages = np.array([s.language for s in segments])
    apps = np.array([policy_key(s.document_id) for s in segments])
    rows_of = {app: np.flatnonzero(apps == app) for app in sorted(set(apps))}
    names = list(rows_of)
    for item in args.models:
        name, sep, directory = item.partition("=")
        if not sep:
            parser.error(f"{item!r}: expected NAME=DIR")
        classifier = ClauseClassifier.from_pretrained(directory)
        y_true, mask = label_matrix(segments, classifier.label_view or "opp115-10")
        scores = classifier.predict_proba([s.model_input for s in segments])
        y_pred = binarize(scores, classifier.thresholds)
        labels = list(classifier.labels)
        point = macro_gap(y_true, y_pred, mask, languages, labels)
        rng, replicates = np.random.default_rng(args.seed), []
        for _ in range(args.resamples):
            rows = np.concatenate([rows_of[app] for app in rng.choice(names, len(names))])
            if {"de", "en"} <= set(languages[rows]):
                replicates.append(macro_gap(y_true[rows], y_pred[rows], mask[rows], languages[rows], labels))
        low, high = np.percentile(replicates, [2.5, 97.5])
        print(f"{name}: MAPP German - English macro-F1 {point:+.1f} points, 95% interval {low:+.1f} to "
              f"{high:+.1f} ({len(replicates)} resamples of {len(names)} apps)", flush=True)


if __name__ == "__main__":
    main()
