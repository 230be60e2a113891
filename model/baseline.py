"""The reference row: TF-IDF word and character n-grams with one logistic regression per category.

Every transformer result is shown against it. It follows the scikit-learn verbs (`fit`,
`predict_proba`, `predict`) and the Hugging Face save/load verbs, and saves no pickles:
the vocabularies go to JSON and the arrays to safetensors.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from privacy_clauses.labels import LabelView, get_view, names_of

MODEL_TYPE = "tfidf-logreg"
WORD_PARAMS = {"analyzer": "word", "ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True, "lowercase": True}
CHAR_PARAMS = {"analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2, "sublinear_tf": True, "lowercase": True}


class TfidfBaseline:
    """Multi-label TF-IDF + logistic regression; `thresholds` are per category (default 0.5).

    Rows whose mask is 0 for a category (not annotated there) are left out of that
    category's regression instead of being taken as negatives.
    """

    def __init__(self, view: LabelView | str = "opp115-10", C: float = 10.0,
                 class_weight: str | None = "balanced", max_iter: int = 2000) -> None:
        if C <= 0:
            raise ValueError(f"C must be positive, got {C}")
        if class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
        self.view = get_view(view)
        self.C, self.class_weight, self.max_iter = C, class_weight, max_iter
        self.thresholds = np.full(len(self.view), 0.5)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.view.labels

    def _features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack([self.word_.transform(texts), self.char_.transform(texts)]).tocsr()

    def fit(self, texts: Sequence[str], targets: np.ndarray, mask: np.ndarray | None = None) -> "TfidfBaseline":
        targets = np.asarray(targets)
        if targets.shape != (len(texts), len(self.view)):
            raise ValueError(f"targets must have shape ({len(texts)}, {len(self.view)}), got {targets.shape}")
        mask = np.ones_like(targets) if mask is None else np.asarray(mask)
        self.word_ = TfidfVectorizer(**WORD_PARAMS).fit(texts)
        self.char_ = TfidfVectorizer(**CHAR_PARAMS).fit(texts)
        features = self._features(texts)
        self.coef_ = np.zeros((len(self.view), features.shape[1]), dtype=np.float32)
        self.intercept_ = np.zeros(len(self.view), dtype=np.float32)
        for j in range(len(self.view)):
            rows = mask[:, j] > 0
            y = targets[rows, j]
            if len(np.unique(y)) < 2:  # no data or one class: a constant prediction, never learnt
                self.intercept_[j] = 10.0 if y.size and y[0] else -10.0
                continue
            clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
            clf.fit(features[rows], y)
            self.coef_[j], self.intercept_[j] = clf.coef_[0], clf.intercept_[0]
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, one column per category in `labels` order."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("this TfidfBaseline is not fitted yet; call fit() or from_pretrained()")
        logits = self._features(list(texts)) @ self.coef_.T + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def predict(self, texts: Sequence[str]) -> list[list[str]]:
        """The labels whose probability reaches the category's threshold, per text."""
        hits = self.predict_proba(texts) >= self.thresholds
        return names_of(hits, self.labels)

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "model_type": MODEL_TYPE, "label_view": self.view.name,
            "id2label": {str(i): l for i, l in self.view.id2label.items()},
            "label2id": self.view.label2id, "thresholds": [float(t) for t in self.thresholds],
            "C": self.C, "class_weight": self.class_weight, "max_iter": self.max_iter,
        }
        (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        vocab = {"word": self.word_.vocabulary_, "char": self.char_.vocabulary_}
        (directory / "vocabulary.json").write_text(
            json.dumps({k: {t: int(i) for t, i in v.items()} for k, v in vocab.items()}, ensure_ascii=False),
            encoding="utf-8")
        save_file({"coef": self.coef_, "intercept": self.intercept_,
                   "idf_word": self.word_.idf_.astype(np.float64), "idf_char": self.char_.idf_.astype(np.float64)},
                  str(directory / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "TfidfBaseline":
        directory = Path(directory)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != MODEL_TYPE:
            raise ValueError(f"{directory}: not a {MODEL_TYPE} model (model_type {config.get('model_type')!r})")
        model = cls(config["label_view"], config["C"], config["class_weight"], config["max_iter"])
        model.thresholds = np.asarray(config["thresholds"])
        vocab = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
        arrays = load_file(str(directory / "model.safetensors"))
        model.word_ = TfidfVectorizer(**WORD_PARAMS, vocabulary=vocab["word"])
        model.char_ = TfidfVectorizer(**CHAR_PARAMS, vocabulary=vocab["char"])
        model.word_.idf_, model.char_.idf_ = arrays["idf_word"], arrays["idf_char"]
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        return model
