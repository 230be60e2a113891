"""Metrics, thresholds, bootstrap and run aggregation on small hand-computed examples."""
import json
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, multilabel_confusion_matrix

from privacy_clauses.evaluate.metrics import (SCALAR_METRICS, binarize, classification_metrics, cross_fit_predictions,
                                              cross_lingual_gap, f1_from_counts, per_language, tune_thresholds)
from privacy_clauses.evaluate.uncertainty import (aggregate_runs, bootstrap_by_document, bootstrap_gap,
                                                  document_counts)
from privacy_clauses.labels import OPP115_10

A, B, C = OPP115_10.labels[:3]
LABELS = [A, B, C]

# Four segments, three categories (columns A, B, C).
Y_TRUE = np.array([[1, 0, 1],
                   [0, 1, 0],
                   [1, 1, 0],
                   [0, 0, 0]])
Y_PRED = np.array([[1, 0, 0],
                   [1, 1, 0],
                   [1, 0, 0],
                   [0, 0, 1]])


def test_per_category_and_averages_by_hand():
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    # A: tp=2 (rows 0, 2), fp=1 (row 1), fn=0 -> P=2/3, R=1, F1=2*2/(2*2+1+0)=4/5
    assert m["per_category"][A] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2, "annotated": 4})
    # B: tp=1 (row 1), fp=0, fn=1 (row 2) -> P=1, R=1/2, F1=2/(2+0+1)=2/3
    assert m["per_category"][B] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "annotated": 4})
    # C: tp=0, fp=1 (row 3), fn=1 (row 0) -> P=R=F1=0
    assert m["per_category"][C] == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "annotated": 4})
    # micro: tp=3, fp=2, fn=2 -> P=3/5, R=3/5, F1=6/(6+2+2)=0.6
    assert (m["micro_precision"], m["micro_recall"], m["micro_f1"]) == pytest.approx((0.6, 0.6, 0.6))
    # macro: P=(2/3+1+0)/3=5/9, R=(1+1/2+0)/3=1/2, F1=(4/5+2/3+0)/3=22/45
    assert (m["macro_precision"], m["macro_recall"], m["macro_f1"]) == pytest.approx((5 / 9, 0.5, 22 / 45))
    # weighted by support (2, 2, 1): (2*4/5 + 2*2/3 + 1*0)/5 = 44/75
    assert m["weighted_f1"] == pytest.approx(44 / 75)
    # samples: rows 0-2 each have tp=1 and one miss -> 2/3; row 3 predicts C with nothing true -> 0
    # mean = (3 * 2/3 + 0)/4 = 1/2
    assert m["samples_f1"] == pytest.approx(0.5)
    assert m["n_samples"] == 4 and m["labels"] == LABELS and m["not_annotated"] == []


def test_result_is_plain_json():
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    assert json.loads(json.dumps(m)) == m
    assert all(type(m[key]) is float for key in SCALAR_METRICS)


def test_masked_entries_change_nothing():
    mask = np.ones_like(Y_TRUE)
    mask[3, 2] = 0  # row 3 was not annotated for C: its prediction of C is neither right nor wrong
    mask[0, 1] = 0
    base = classification_metrics(Y_TRUE, Y_PRED, LABELS, mask)
    flipped_true, flipped_pred = Y_TRUE.copy(), Y_PRED.copy()
    flipped_true[mask == 0] ^= 1
    flipped_pred[mask == 0] ^= 1
    assert classification_metrics(flipped_true, flipped_pred, LABELS, mask) == base
    # C loses its false positive: tp=0, fp=0, fn=1 -> F1 0, but micro has fp=1:
    # tp=3, fp=1, fn=2 -> 6/(6+1+2) = 2/3
    assert base["micro_f1"] == pytest.approx(2 / 3)
    assert base["per_category"][C]["annotated"] == 3


def test_unannotated_category_is_left_out_of_averages():
    mask = np.ones_like(Y_TRUE)
    mask[:, 2] = 0  # nobody annotated C (as MAPP annotates only two categories)
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS, mask)
    assert m["not_annotated"] == [C]
    assert m["per_category"][C] == {"precision": None, "recall": None, "f1": None,
                                    "support": 0, "annotated": 0}
    # macro over A and B only: (4/5 + 2/3)/2 = 11/15
    assert m["macro_f1"] == pytest.approx(11 / 15)
    # micro: tp=3, fp=1 (A, row 1), fn=1 (B, row 2) -> 6/8
    assert m["micro_f1"] == pytest.approx(0.75)
    # samples: row 0 {A}/{A} -> 1, rows 1 and 2 -> 2/3, row 3 nothing true, nothing predicted -> 1
    assert m["samples_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3 + 1) / 4)


def test_metric_input_errors():
    with pytest.raises(ValueError, match="shape"):
        classification_metrics(Y_TRUE, Y_PRED[:, :2], LABELS)
    with pytest.raises(ValueError, match="label names"):
        classification_metrics(Y_TRUE, Y_PRED, LABELS[:2])
    with pytest.raises(ValueError, match="only 0 and 1"):
        classification_metrics(Y_TRUE * 2, Y_PRED, LABELS)
    with pytest.raises(ValueError, match="no category is annotated"):
        classification_metrics(Y_TRUE, Y_PRED, LABELS, np.zeros_like(Y_TRUE))


def test_per_language_groups_unknown():
    languages = ["en", "en", None, "de"]
    result = per_language(Y_TRUE, Y_PRED, languages, LABELS)
    assert list(result) == ["de", "en", "unknown"]
    assert result["en"] == classification_metrics(Y_TRUE[:2], Y_PRED[:2], LABELS)
    assert result["unknown"]["n_samples"] == 1


def test_cross_lingual_gap_is_each_language_minus_english():
    languages = ["en", "en", "de", "de"]
    by_language = per_language(Y_TRUE, Y_PRED, languages, LABELS)
    gaps = cross_lingual_gap(by_language)
    assert list(gaps) == ["de"]
    assert gaps["de"]["macro_f1"] == pytest.approx(by_language["de"]["macro_f1"] - by_language["en"]["macro_f1"])
    for label in LABELS:
        de, en = by_language["de"]["per_category"][label]["f1"], by_language["en"]["per_category"][label]["f1"]
        assert gaps["de"]["per_category_f1"][label] == pytest.approx(de - en)
    assert cross_lingual_gap(per_language(Y_TRUE, Y_PRED, ["de", "de", "fr", "fr"], LABELS)) == {}


def test_cross_lingual_gap_skips_categories_annotated_in_one_language_only():
    mask = np.ones_like(Y_TRUE)
    mask[2:, 0] = 0  # German rows do not annotate the first category
    gaps = cross_lingual_gap(per_language(Y_TRUE, Y_PRED, ["en", "en", "de", "de"], LABELS, mask))
    assert gaps["de"]["per_category_f1"][LABELS[0]] is None


def test_binarize_scalar_and_per_category():
    scores = np.array([[0.5, 0.2, 0.9],
                       [0.49, 0.7, 0.3]])
    # a score equal to its threshold is predicted
    assert binarize(scores).tolist() == [[1, 0, 1], [0, 1, 0]]
    assert binarize(scores, [0.1, 0.8, 0.3]).tolist() == [[1, 0, 1], [1, 0, 1]]
    with pytest.raises(ValueError, match="one per category"):
        binarize(scores, [0.5, 0.5])
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        binarize(scores, 1.5)
    with pytest.raises(ValueError, match="probabilities"):
        binarize(scores + 1)


def test_tune_thresholds_picks_best_f1_and_breaks_ties_towards_half():
    grid = [0.1, 0.3, 0.8, 0.9]
    y_true = np.array([[1, 1, 0],
                       [1, 0, 0],
                       [0, 0, 0],
                       [0, 0, 1]])
    scores = np.array([[0.9, 0.95, 0.9],
                       [0.85, 0.5, 0.1],
                       [0.2, 0.05, 0.1],
                       [0.05, 0.05, 0.1]])
    mask = np.ones_like(y_true)
    mask[3, 2] = 0  # the only positive of the third category is not annotated
    # column 0, positives rows 0-1: t=0.1 predicts rows 0-2 -> tp=2, fp=1 -> 4/5;
    #   t=0.3 and t=0.8 predict rows 0-1 -> F1=1; t=0.9 predicts row 0 -> 2/3. Tie 0.3 vs 0.8:
    #   0.3 is closer to 0.5.
    # column 1, positive row 0: t=0.1 and t=0.3 also predict row 1 -> 2/3; t=0.8 and t=0.9 -> 1;
    #   tie 0.8 vs 0.9 -> 0.8.
    # column 2: no annotated positive -> keeps 0.5.
    assert tune_thresholds(y_true, scores, mask, grid=grid).tolist() == [0.3, 0.8, 0.5]


def test_tune_thresholds_validates_grid():
    with pytest.raises(ValueError, match="grid"):
        tune_thresholds(Y_TRUE, Y_PRED * 0.5, grid=[])


def _scored_documents(seed=0, n_documents=8, per_document=10):
    """Labels, noisy scores, document names and an English flag (every other segment)."""
    rng = np.random.default_rng(seed)
    n = n_documents * per_document
    y_true = rng.integers(0, 2, (n, 3))
    scores = np.clip(0.3 * y_true + rng.random((n, 3)) * 0.7, 0, 1)
    documents = [f"policy-{i // per_document}" for i in range(n)]
    return y_true, scores, documents, np.arange(n) % 2 == 0


def test_cross_fit_never_scores_a_document_at_thresholds_tuned_on_it():
    y_true, scores, documents, english = _scored_documents()
    y_pred, thresholds = cross_fit_predictions(y_true, scores, documents, 4, tune_rows=english)
    assert y_pred.shape == y_true.shape and thresholds.shape == (4, 3)
    rows = np.array(documents) == "policy-0"
    relabelled = y_true.copy()
    relabelled[rows] = 1 - relabelled[rows]  # what policy-0 is said to hold changes ...
    again, _ = cross_fit_predictions(relabelled, scores, documents, 4, tune_rows=english)
    assert np.array_equal(again[rows], y_pred[rows])  # ... and its predictions do not
    # Segments left out of tuning (here the non-English ones) move no threshold at all.
    relabelled = np.where(english[:, None], y_true, 1 - y_true)
    assert np.array_equal(cross_fit_predictions(relabelled, scores, documents, 4, tune_rows=english)[0], y_pred)
    # One fold per document is leave-one-document-out: each document at thresholds of all the others.
    one_out, _ = cross_fit_predictions(y_true, scores, documents, 8)
    others = ~rows
    assert np.array_equal(one_out[rows], binarize(scores[rows], tune_thresholds(y_true[others], scores[others])))


def test_cross_fit_fold_count_is_checked():
    y_true, scores, documents, _ = _scored_documents(n_documents=3)
    for folds in (1, 4, 2.0, True):
        with pytest.raises(ValueError, match=r"from 2 folds to one per document \(3\)"):
            cross_fit_predictions(y_true, scores, documents, folds)
    with pytest.raises(ValueError, match="one entry per segment"):
        cross_fit_predictions(y_true, scores, documents[1:], 2)


def test_f1_from_counts_agrees_with_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 2, (40, 3))
    y_pred = rng.integers(0, 2, (40, 3))
    documents = [f"d{i % 7}" for i in range(40)]
    names, tp, fp, fn = document_counts(y_true, y_pred, documents)
    assert len(names) == 7 and tp.shape == (7, 3)
    confusion = multilabel_confusion_matrix(y_true, y_pred)  # per category [[tn, fp], [fn, tp]]
    assert tp.sum(0).tolist() == confusion[:, 1, 1].tolist()
    assert fp.sum(0).tolist() == confusion[:, 0, 1].tolist()
    assert fn.sum(0).tolist() == confusion[:, 1, 0].tolist()
    f1 = f1_from_counts(tp.sum(0), fp.sum(0), fn.sum(0))
    assert f1 == pytest.approx(f1_score(y_true, y_pred, average=None, zero_division=0))
    assert f1_from_counts(0, 0, 0) == 0.0


def _corpus(seed=0, n_documents=12, per_document=6):
    rng = np.random.default_rng(seed)
    n = n_documents * per_document
    y_true = rng.integers(0, 2, (n, 3))
    y_pred = np.where(rng.random((n, 3)) < 0.8, y_true, 1 - y_true)  # about 80% of entries right
    documents = [f"policy-{i // per_document}" for i in range(n)]
    return y_true, y_pred, documents


def test_bootstrap_estimates_agree_with_classification_metrics():
    y_true, y_pred, documents = _corpus()
    mask = np.ones_like(y_true)
    mask[:30, 1] = 0
    mask[:, 2] = 0
    result = bootstrap_by_document(y_true, y_pred, documents, LABELS, mask, n_resamples=200)
    metrics = classification_metrics(y_true, y_pred, LABELS, mask)
    assert result["micro_f1"]["estimate"] == pytest.approx(metrics["micro_f1"])
    assert result["macro_f1"]["estimate"] == pytest.approx(metrics["macro_f1"])
    for label in (A, B):
        expected = metrics["per_category"][label]["f1"]
        assert result["per_category_f1"][label]["estimate"] == pytest.approx(expected)
    assert result["per_category_f1"][C] is None
    assert result["n_documents"] == 12 and result["n_resamples"] == 200
    assert json.loads(json.dumps(result)) == result


def test_bootstrap_is_deterministic_and_brackets_estimate():
    y_true, y_pred, documents = _corpus()
    first = bootstrap_by_document(y_true, y_pred, documents, LABELS, n_resamples=300, seed=7)
    assert bootstrap_by_document(y_true, y_pred, documents, LABELS, n_resamples=300, seed=7) == first
    assert bootstrap_by_document(y_true, y_pred, documents, LABELS, n_resamples=300, seed=8) != first
    for ci in [first["micro_f1"], first["macro_f1"], *first["per_category_f1"].values()]:
        assert ci["low"] <= ci["estimate"] <= ci["high"]
        assert ci["low"] < ci["high"]


def test_bootstrap_with_one_document_has_no_spread():
    y_true, y_pred, _ = _corpus(n_documents=1)
    ci = bootstrap_by_document(y_true, y_pred, ["only"] * len(y_true), LABELS, n_resamples=20)["micro_f1"]
    assert ci["low"] == pytest.approx(ci["estimate"]) and ci["high"] == pytest.approx(ci["estimate"])


def _translated(n_documents=8, per_document=5):
    """The same segments in en, de (a worse copy of en's predictions) and fr (identical to en),
    and es holding other documents."""
    y_true, y_pred, documents = _corpus(n_documents=n_documents, per_document=per_document)
    worse = y_pred.copy()
    worse[::3] = 1 - worse[::3]
    other = [f"other-{d}" for d in documents]
    return (np.concatenate([y_true] * 4), np.concatenate([y_pred, worse, y_pred, y_pred]),
            documents * 3 + other, ["en"] * len(documents) + ["de"] * len(documents)
            + ["fr"] * len(documents) + ["es"] * len(documents))


def test_gap_interval_is_paired_and_agrees_with_the_gap():
    y_true, y_pred, documents, languages = _translated()
    result = bootstrap_gap(y_true, y_pred, documents, languages, n_resamples=300, seed=3)
    gaps = cross_lingual_gap(per_language(y_true, y_pred, languages, LABELS))
    assert sorted(result["gaps"]) == ["de", "fr"]  # es holds other documents: not comparable
    assert result["n_documents"] == 8 and result["reference"] == "en"
    for key in ("micro_f1", "macro_f1"):
        de = result["gaps"]["de"][key]
        assert de["estimate"] == pytest.approx(gaps["de"][key]) and de["estimate"] < 0
        assert de["low"] <= de["estimate"] <= de["high"] and de["low"] < de["high"]
        # Identical predictions on the same draw: no gap in any replicate.
        assert result["gaps"]["fr"][key] == {"estimate": 0.0, "low": 0.0, "high": 0.0}
    assert bootstrap_gap(y_true, y_pred, documents, languages, n_resamples=300, seed=3) == result
    assert json.loads(json.dumps(result)) == result


def test_gap_interval_without_the_reference_language_is_empty():
    y_true, y_pred, documents, languages = _translated()
    without_english = ["xx" if lang == "en" else lang for lang in languages]
    assert bootstrap_gap(y_true, y_pred, documents, without_english, n_resamples=10)["gaps"] == {}
    with pytest.raises(ValueError, match="languages"):
        bootstrap_gap(y_true, y_pred, documents, languages[1:])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_gap(y_true, y_pred, documents, languages, n_resamples=0)


def test_bootstrap_input_errors():
    y_true, y_pred, documents = _corpus()
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_by_document(y_true, y_pred, documents, LABELS, confidence=95)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_by_document(y_true, y_pred, documents, LABELS, n_resamples=0)
    with pytest.raises(ValueError, match="document ids"):
        bootstrap_by_document(y_true, y_pred, documents[1:], LABELS)


def _run(value, f1_a):
    return {"labels": [A, B], **{key: value for key in SCALAR_METRICS},
            "per_category": {A: {"f1": f1_a}, B: {"f1": None}}}


def test_aggregate_runs_mean_and_sample_std():
    result = aggregate_runs([_run(0.8, 0.5), _run(0.9, 0.6), _run(1.0, 0.7)])
    # mean 0.9; std with ddof=1: sqrt((0.1^2 + 0 + 0.1^2) / (3 - 1)) = 0.1
    assert result["n_runs"] == 3
    for key in SCALAR_METRICS:
        assert result["metrics"][key]["mean"] == pytest.approx(0.9)
        assert result["metrics"][key]["std"] == pytest.approx(0.1)
    assert result["per_category_f1"][A] == pytest.approx({"mean": 0.6, "std": 0.1})
    assert result["per_category_f1"][B] is None


def test_aggregate_single_run_and_errors():
    single = aggregate_runs([_run(0.8, 0.5)])
    assert single["metrics"]["micro_f1"] == {"mean": 0.8, "std": 0.0}
    assert not math.isnan(single["per_category_f1"][A]["std"])
    with pytest.raises(ValueError, match="at least one run"):
        aggregate_runs([])
    other = _run(0.8, 0.5) | {"labels": [B, A]}
    with pytest.raises(ValueError, match="labels"):
        aggregate_runs([_run(0.8, 0.5), other])
    with pytest.raises(ValueError, match="annotated in some runs"):
        aggregate_runs([_run(0.8, 0.5), _run(0.8, None)])
