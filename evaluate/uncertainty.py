"""How much to trust a number: spread across training runs and bootstrap intervals over documents.

Two sources of uncertainty are reported separately. `aggregate_runs` (and `aggregate_gaps` for
the gaps between languages) measures how much a result moves with the training seed.
`bootstrap_by_document` measures how much it would move with another sample of test policies; it
resamples whole documents, because the segments of one policy share wording and annotators and are
not independent draws. `bootstrap_gap` does the same for the gap between two languages holding
the same content, drawing the same documents for both.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from privacy_clauses.evaluate.checks import as_binary, as_label_names, as_mask
from privacy_clauses.evaluate.metrics import SCALAR_METRICS, f1_from_counts


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    ddof = 1 if len(values) > 1 else 0
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=ddof))}


def aggregate_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation (ddof=1; 0 for a single run) of metrics across runs.

    `runs` are `classification_metrics` results for the same data and label set, e.g. one per
    training seed. Every scalar metric and every category's F1 is aggregated; a category that no
    run could score (not annotated) stays null.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("aggregate_runs needs at least one run")
    labels = runs[0]["labels"]
    for i, run in enumerate(runs[1:], start=2):
        if run["labels"] != labels:
            raise ValueError(f"run {i} has labels {run['labels']}, run 1 has {labels}")
    per_category: dict[str, dict[str, float] | None] = {}
    for label in labels:
        values = [run["per_category"][label]["f1"] for run in runs]
        if all(v is None for v in values):
            per_category[label] = None
        elif any(v is None for v in values):
            raise ValueError(f"category {label!r} is annotated in some runs but not in others; "
                             "runs must score the same data")
        else:
            per_category[label] = _mean_std(values)
    return {"n_runs": len(runs), "labels": list(labels),
            "metrics": {key: _mean_std([run[key] for run in runs]) for key in SCALAR_METRICS},
            "per_category_f1": per_category}


def aggregate_gaps(runs: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and standard deviation across runs of each language's micro- and macro-F1 gap.

    `runs` are `cross_lingual_gap` results, one per run on the same segments. A language's gap is
    averaged over runs, not computed from the runs' averaged F1, so its spread is the seed's effect
    on the gap itself.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("aggregate_gaps needs at least one run")
    languages = list(runs[0])
    for i, run in enumerate(runs[1:], start=2):
        if list(run) != languages:
            raise ValueError(f"run {i} has gaps for {list(run)}, run 1 for {languages}")
    return {language: {key: _mean_std([run[language][key] for run in runs]) for key in ("micro_f1", "macro_f1")}
            for language in languages}


def document_counts(y_true: Any, y_pred: Any, document_ids: Sequence[str],
                    mask: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sorted document ids and their true positive, false positive and false negative counts,
    each of shape (n_documents, n_categories); masked entries count nowhere."""
    y_true = as_binary("y_true", y_true)
    y_pred = as_binary("y_pred", y_pred, y_true.shape)
    mask = as_mask(mask, y_true.shape)
    if len(document_ids) != y_true.shape[0]:
        raise ValueError(f"{len(document_ids)} document ids for {y_true.shape[0]} segments")
    documents, row_document = np.unique([str(d) for d in document_ids], return_inverse=True)
    counts = []
    for hits in (y_true * y_pred, (1 - y_true) * y_pred, y_true * (1 - y_pred)):
        per_document = np.zeros((len(documents), y_true.shape[1]))
        np.add.at(per_document, row_document, hits * mask)
        counts.append(per_document)
    return documents, counts[0], counts[1], counts[2]


def _interval(estimate: float, replicates: np.ndarray, confidence: float) -> dict[str, float]:
    low, high = np.quantile(replicates, [(1 - confidence) / 2, (1 + confidence) / 2])
    return {"estimate": float(estimate), "low": float(low), "high": float(high)}


def bootstrap_by_document(y_true: Any, y_pred: Any, document_ids: Sequence[str],
                          label_names: Sequence[str], mask: Any = None, n_resamples: int = 1000,
                          confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Percentile bootstrap intervals for micro-F1, macro-F1 and each category's F1.

    Each replicate draws as many documents as there are, with replacement, and pools their
    segments. Counts are summed per document once; a replicate's counts are then the product of
    its document multiplicities with those sums, so a thousand replicates cost one matrix product.
    Macro-F1 averages over the categories annotated in the full sample, as
    `classification_metrics` does, whose numbers are the "estimate" of each interval.
    """
    _check_resampling(n_resamples, confidence)
    y_true = as_binary("y_true", y_true)
    names = as_label_names(label_names, y_true.shape[1])
    documents, tp, fp, fn = document_counts(y_true, y_pred, document_ids, mask)
    columns = np.flatnonzero(as_mask(mask, y_true.shape).sum(axis=0) > 0)
    if columns.size == 0:
        raise ValueError("no category is annotated for any segment; nothing to evaluate")

    weights = _document_weights(len(documents), n_resamples, seed)
    sample = [tp.sum(0), fp.sum(0), fn.sum(0)]
    replicate = [weights @ tp, weights @ fp, weights @ fn]
    sample_f1, replicate_f1 = f1_from_counts(*sample), f1_from_counts(*replicate)
    per_category: dict[str, dict[str, float] | None] = {name: None for name in names}
    for j in columns:
        per_category[names[j]] = _interval(sample_f1[j], replicate_f1[:, j], confidence)
    return {"n_resamples": int(n_resamples), "confidence": float(confidence), "seed": int(seed),
            "n_documents": len(documents),
            "micro_f1": _interval(_micro(sample, columns), _micro(replicate, columns), confidence),
            "macro_f1": _interval(_macro(sample, columns), _macro(replicate, columns), confidence),
            "per_category_f1": per_category}


def bootstrap_gap(y_true: Any, y_pred: Any, document_ids: Sequence[str], languages: Sequence[str | None],
                  mask: Any = None, reference: str = "en",
                  n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Paired percentile bootstrap intervals for each language's micro- and macro-F1 minus the
    `reference` language's.

    A gap of a few points on a hundred translated segments may be noise; this says how much. Each
    replicate draws documents with replacement and scores every language on the same draw, so the
    content stays paired and only the sample of policies varies. Only languages whose documents
    are exactly the reference's are compared (translations, parallel policies); others are left
    out, as is everything when the reference is absent. Each language's macro-F1 averages over
    the categories annotated in its full sample, as `classification_metrics` does.
    """
    _check_resampling(n_resamples, confidence)
    y_true = as_binary("y_true", y_true)
    y_pred = as_binary("y_pred", y_pred, y_true.shape)
    mask = as_mask(mask, y_true.shape)
    if len(languages) != y_true.shape[0] or len(document_ids) != y_true.shape[0]:
        raise ValueError(f"{len(languages)} languages and {len(document_ids)} document ids "
                         f"for {y_true.shape[0]} segments")
    rows = {language: np.flatnonzero([lang == language for lang in languages])
            for language in sorted({lang for lang in languages if lang is not None})}

    def counts(language: str) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        r = rows[language]
        documents, tp, fp, fn = document_counts(y_true[r], y_pred[r], [document_ids[i] for i in r], mask[r])
        return documents, [tp, fp, fn], np.flatnonzero(mask[r].sum(axis=0) > 0)

    result = {"n_resamples": int(n_resamples), "confidence": float(confidence), "seed": int(seed),
              "reference": reference, "n_documents": 0, "gaps": {}}
    if reference not in rows:
        return result
    reference_documents, reference_counts, reference_columns = counts(reference)
    result["n_documents"] = len(reference_documents)
    weights = _document_weights(len(reference_documents), n_resamples, seed)
    for language in rows:
        documents, language_counts, columns = counts(language)
        if language == reference or not np.array_equal(documents, reference_documents):
            continue
        gap = {}
        for key, average in (("micro_f1", _micro), ("macro_f1", _macro)):
            sample = (average([c.sum(0) for c in language_counts], columns)
                      - average([c.sum(0) for c in reference_counts], reference_columns))
            replicates = (average([weights @ c for c in language_counts], columns)
                          - average([weights @ c for c in reference_counts], reference_columns))
            gap[key] = _interval(sample, replicates, confidence)
        result["gaps"][language] = gap
    return result


def _check_resampling(n_resamples: Any, confidence: float) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _document_weights(n_documents: int, n_resamples: int, seed: int) -> np.ndarray:
    """How often each document is drawn in each replicate, shape (n_resamples, n_documents)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_documents, np.full(n_documents, 1 / n_documents),
                           size=n_resamples).astype(np.float64)


def _micro(counts: list[np.ndarray], columns: np.ndarray) -> np.ndarray:
    return f1_from_counts(*(c[..., columns].sum(-1) for c in counts))


def _macro(counts: list[np.ndarray], columns: np.ndarray) -> np.ndarray:
    return f1_from_counts(*counts)[..., columns].mean(-1)
