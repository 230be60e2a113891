"""Multi-label classification metrics that respect partial annotation.

Label matrices are (n_segments, n_categories) arrays of 0/1 in the model's label order. A mask of
the same shape says which entries were annotated (see `privacy_clauses.data.records.label_matrix`):
MAPP, for instance, annotates only two categories, so its other entries are unknown, not
negative. Precision, recall and F1 never use true negatives, so zeroing masked entries in both
targets and predictions removes them exactly; the counting itself is left to scikit-learn.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from privacy_clauses.evaluate.checks import (as_binary, as_label_names, as_mask, as_scores,
                                             as_thresholds)

# The scalar metrics of `classification_metrics`, in the order reports list them.
SCALAR_METRICS: tuple[str, ...] = ("micro_f1", "micro_precision", "micro_recall",
                                   "macro_f1", "macro_precision", "macro_recall",
                                   "weighted_f1", "samples_f1")
UNKNOWN_LANGUAGE = "unknown"
# Candidate thresholds for `tune_thresholds`: coarse enough not to overfit a small validation set.
DEFAULT_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))


def binarize(scores: Any, thresholds: float | Sequence[float] | np.ndarray = 0.5) -> np.ndarray:
    """0/1 predictions: a category is predicted when its score is at least its threshold."""
    scores = as_scores(scores)
    return (scores >= as_thresholds(thresholds, scores.shape[1])).astype(np.int64)


def f1_from_counts(tp: Any, fp: Any, fn: Any) -> np.ndarray:
    """F1 = 2tp / (2tp + fp + fn), elementwise; 0 where there is nothing to count.

    This is scikit-learn's definition with zero_division=0; the bootstrap and threshold tuning use
    it on count arrays, where calling scikit-learn per replicate would be far too slow.
    """
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator), where=denominator > 0)


def classification_metrics(y_true: Any, y_pred: Any, label_names: Sequence[str],
                           mask: Any = None) -> dict[str, Any]:
    """Per-category precision/recall/F1/support and micro, macro, weighted and samples averages.

    Categories annotated for no row at all are listed under "not_annotated", get null
    precision/recall/F1 and are left out of every average: a MAPP-only evaluation averages over
    the two categories MAPP annotates. Samples-F1 averages over rows with at least one annotated
    category and counts a row with nothing true and nothing predicted as right (F1 = 1).
    All numbers are plain Python floats and ints, ready for JSON.
    """
    y_true = as_binary("y_true", y_true)
    y_pred = as_binary("y_pred", y_pred, y_true.shape)
    mask = as_mask(mask, y_true.shape)
    names = as_label_names(label_names, y_true.shape[1])
    y_true, y_pred = y_true * mask, y_pred * mask

    n_annotated = mask.sum(axis=0)
    columns = np.flatnonzero(n_annotated > 0)
    if columns.size == 0:
        raise ValueError("no category is annotated for any segment; nothing to evaluate")
    rows = np.flatnonzero(mask.any(axis=1))
    true, pred = y_true[:, columns], y_pred[:, columns]

    precision, recall, f1, support = precision_recall_fscore_support(
        true, pred, average=None, zero_division=0)
    result: dict[str, Any] = {"n_samples": int(y_true.shape[0]), "labels": names}
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(true, pred, average=average, zero_division=0)
        result |= {f"{average}_f1": float(f), f"{average}_precision": float(p),
                   f"{average}_recall": float(r)}
    result["weighted_f1"] = float(precision_recall_fscore_support(
        true, pred, average="weighted", zero_division=0)[2])
    result["samples_f1"] = float(precision_recall_fscore_support(
        true[rows], pred[rows], average="samples", zero_division=1)[2])

    per_category: dict[str, dict[str, Any]] = {
        name: {"precision": None, "recall": None, "f1": None, "support": 0, "annotated": 0}
        for name in names}
    for k, j in enumerate(columns):
        per_category[names[j]] = {"precision": float(precision[k]), "recall": float(recall[k]),
                                  "f1": float(f1[k]), "support": int(support[k]),
                                  "annotated": int(n_annotated[j])}
    result["per_category"] = per_category
    result["not_annotated"] = [names[j] for j in np.flatnonzero(n_annotated == 0)]
    return result


def per_language(y_true: Any, y_pred: Any, languages: Sequence[str | None],
                 label_names: Sequence[str], mask: Any = None) -> dict[str, dict[str, Any]]:
    """`classification_metrics` for each language, sorted by name; None is grouped as "unknown".

    A language whose segments annotate no category at all is skipped, as it has nothing to score.
    """
    y_true = as_binary("y_true", y_true)
    y_pred = as_binary("y_pred", y_pred, y_true.shape)
    mask = as_mask(mask, y_true.shape)
    if len(languages) != y_true.shape[0]:
        raise ValueError(f"{len(languages)} languages for {y_true.shape[0]} segments")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, language in enumerate(languages):
        groups[UNKNOWN_LANGUAGE if language is None else language].append(i)
    return {language: classification_metrics(y_true[rows], y_pred[rows], label_names, mask[rows])
            for language, rows in sorted(groups.items()) if mask[rows].any()}


def cross_lingual_gap(by_language: dict[str, dict[str, Any]], reference: str = "en") -> dict[str, dict[str, Any]]:
    """Each language's scores minus the `reference` language's, per average and per category.

    Meaningful on comparable data only: the same segments translated, or parallel corpora such as
    MAPP's German and English policies of the same apps. Empty when the reference is absent.
    Differences are in F1 units (0.03 = 3 points); a category scored in only one of the two
    languages gets None.
    """
    if reference not in by_language:
        return {}
    base = by_language[reference]
    gaps = {}
    for language, m in by_language.items():
        if language == reference:
            continue
        per_category = {label: None if v["f1"] is None or base["per_category"][label]["f1"] is None
                        else v["f1"] - base["per_category"][label]["f1"]
                        for label, v in m["per_category"].items()}
        gaps[language] = {"micro_f1": m["micro_f1"] - base["micro_f1"],
                          "macro_f1": m["macro_f1"] - base["macro_f1"], "per_category_f1": per_category}
    return gaps


def tune_thresholds(y_true: Any, scores: Any, mask: Any = None,
                    grid: Sequence[float] = DEFAULT_GRID) -> np.ndarray:
    """Per-category threshold from `grid` that maximises that category's F1.

    Call it on VALIDATION predictions only, never on test data: thresholds tuned on the data they
    are scored on inflate every reported number. Ties go to the threshold closest to 0.5 (the
    untuned default), and a category with no annotated positive example keeps 0.5, since there
    is no evidence to move it.
    """
    y_true = as_binary("y_true", y_true)
    scores = as_scores(scores, y_true.shape)
    mask = as_mask(mask, y_true.shape)
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not ((grid >= 0) & (grid <= 1)).all():
        raise ValueError(f"grid must be a non-empty 1-D sequence of thresholds within [0, 1], got {grid}")
    # Stable sort by distance to 0.5, so argmax (first maximum) breaks ties towards 0.5.
    grid = grid[np.argsort(np.abs(grid - 0.5), kind="stable")]

    thresholds = np.full(y_true.shape[1], 0.5)
    for j in range(y_true.shape[1]):
        rows = mask[:, j] == 1
        true = y_true[rows, j][:, None] == 1
        if not true.any():
            continue
        pred = scores[rows, j][:, None] >= grid[None, :]
        tp, fp, fn = (pred & true).sum(0), (pred & ~true).sum(0), (~pred & true).sum(0)
        # Equal count ratios divide to the same float, so exact ties compare equal.
        thresholds[j] = grid[np.argmax(f1_from_counts(tp, fp, fn))]
    return thresholds


def cross_fit_predictions(y_true: Any, scores: Any, documents: Sequence[str], n_folds: int,
                          tune_rows: Any = None, mask: Any = None,
                          grid: Sequence[float] = DEFAULT_GRID) -> tuple[np.ndarray, np.ndarray]:
    """0/1 predictions in which no segment is scored at thresholds tuned on its own document.

    Why: a data set that overlaps the one thresholds were tuned on flatters the overlapping part.
    The translated OPP-115 validation set is the case in point: its English segments are the
    validation set the model's thresholds were tuned on, its translations are not, so English is
    scored in-sample and every gap to it is too wide. Here the documents are split into `n_folds`
    folds (scikit-learn's GroupKFold, so all segments of a document, translations included, fall
    in one fold) and each fold is binarized at thresholds that `tune_thresholds` fits on the other
    folds' segments, only those in `tune_rows` (a boolean per segment; None for all); where those
    hold no positive of a category, it keeps 0.5, as in `tune_thresholds`. Returns the predictions
    and the thresholds, one row per fold.
    """
    y_true = as_binary("y_true", y_true)
    scores = as_scores(scores, y_true.shape)
    mask = as_mask(mask, y_true.shape)
    groups = np.asarray(documents)
    tune_rows = np.ones(len(y_true), bool) if tune_rows is None else np.asarray(tune_rows, bool)
    if groups.shape != (len(y_true),) or tune_rows.shape != (len(y_true),):
        raise ValueError(f"documents and tune_rows need one entry per segment ({len(y_true)})")
    n_documents = len(set(groups.tolist()))
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or not 2 <= n_folds <= n_documents:
        raise ValueError(f"cross-fitting needs from 2 folds to one per document ({n_documents}), "
                         f"got {n_folds!r}")
    y_pred = np.zeros_like(y_true)
    fold_thresholds = []
    for train, held_out in GroupKFold(n_splits=n_folds).split(scores, groups=groups):
        tune = train[tune_rows[train]]
        thresholds = tune_thresholds(y_true[tune], scores[tune], mask[tune], grid)
        y_pred[held_out] = binarize(scores[held_out], thresholds)
        fold_thresholds.append(thresholds)
    return y_pred, np.array(fold_thresholds)
