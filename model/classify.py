"""Classifying whole documents: read, segment, classify and summarize, one document at a time.

`classify_document` does one document (a file, or a text already in hand) and raises
DocumentError if it cannot be read; `classify_paths` runs over files and folders and yields a
`DocumentResult` or a `DocumentFailure` per document, in order, as each is ready, so that one bad
file never stops a batch.

A document's clauses are classified in fixed chunks of its own, never mixed with another
document's. Its probabilities then depend on the document alone, which is what lets an
interrupted run, resumed, write exactly the bytes an uninterrupted run writes. The model sorts
each call's windows by length and pads per batch, so chunks of CHUNK_SEGMENTS clauses keep
batches full; they also bound memory and give the progress bar steps on very long documents.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from privacy_clauses.data.documents import (Document, DocumentError, iter_document_paths, read_document,
                                            read_text)
from privacy_clauses.data.records import Segment
from privacy_clauses.data.segmenter import segment_document
from privacy_clauses.labels import canonical, names_of

CHUNK_SEGMENTS = 1024
TEXT_DOCUMENT_ID = "<text>"


class Classifier(Protocol):
    """What classification needs of a model: ClauseClassifier and TfidfBaseline both fit."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def thresholds(self) -> np.ndarray: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Evidence:
    """The clause that states a category most clearly: the highest probability among its clauses."""

    segment_index: int
    text: str
    probability: float


@dataclass(frozen=True)
class CategorySummary:
    clauses: int
    evidence: Evidence


@dataclass(frozen=True)
class DocumentSummary:
    """A document at a glance: the categories present (predicted for at least one clause, in label
    order) with their clause counts and strongest clause, and its languages with their clause
    counts, most frequent first (a clause without letters has no language)."""

    document_id: str
    format: str
    title: str | None
    clauses: int
    languages: dict[str, int]
    categories: dict[str, CategorySummary]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DocumentResult:
    """A classified document: its segments, their probabilities (one row per segment, one column
    per label), the labels reaching their thresholds per segment, and the document's summary."""

    document: Document
    segments: list[Segment]
    probabilities: np.ndarray
    labels: tuple[str, ...]
    thresholds: np.ndarray
    predicted: list[tuple[str, ...]]
    summary: DocumentSummary

    @property
    def document_id(self) -> str:
        return self.document.path


@dataclass(frozen=True)
class DocumentFailure:
    """A document that could not be classified, and why (DocumentError's reason)."""

    document_id: str
    reason: str


def classify_document(model: Classifier, path_or_text: str | os.PathLike,
                      document_id: str = TEXT_DOCUMENT_ID) -> DocumentResult:
    """Read, segment and classify one document; DocumentError if it cannot be read.

    A path object is always a file. A str is a file when it names an existing one, otherwise the
    policy text itself, identified by `document_id`; pass a pathlib.Path to have a missing file
    reported instead of classified as text.
    """
    if not isinstance(path_or_text, (str, os.PathLike)):
        raise TypeError(f"path_or_text must be a str or a path, got {type(path_or_text).__name__}")
    if isinstance(path_or_text, os.PathLike) or ("\n" not in path_or_text and Path(path_or_text).is_file()):
        document = read_document(path_or_text)
    else:
        document = read_text(path_or_text, document_id)
    return _classify(document, model, _checked_labels(model), progress=None)


def classify_paths(paths: Iterable[str | os.PathLike], model: Classifier,
                   progress: Callable[[int], Any] | None = None) -> Iterator[DocumentResult | DocumentFailure]:
    """Every file named or found under the folders named (see iter_document_paths), classified in
    that order: a DocumentResult, or a DocumentFailure for a file that cannot be read or holds no
    clause. `progress`, if given, is called with the number of clauses after each chunk."""
    labels = _checked_labels(model)
    for path in iter_document_paths(paths):
        try:
            yield _classify(read_document(path), model, labels, progress)
        except DocumentError as err:
            yield DocumentFailure(str(path), err.reason)


def summarize_document(document: Document, segments: Sequence[Segment], probabilities: np.ndarray,
                       predicted: Sequence[Sequence[str]], labels: Sequence[str]) -> DocumentSummary:
    languages = Counter(s.language for s in segments if s.language is not None)
    categories = {}
    for j, label in enumerate(labels):
        rows = [i for i, names in enumerate(predicted) if label in names]
        if rows:
            best = max(rows, key=lambda i: probabilities[i, j])  # the first of equals
            evidence = Evidence(segments[best].segment_index, segments[best].text, float(probabilities[best, j]))
            categories[label] = CategorySummary(len(rows), evidence)
    return DocumentSummary(document.path, document.format, document.title, len(segments),
                           dict(sorted(languages.items(), key=lambda item: (-item[1], item[0]))), categories)


def _classify(document: Document, model: Classifier, labels: tuple[str, ...],
              progress: Callable[[int], Any] | None) -> DocumentResult:
    segments = segment_document(document)
    if not segments:
        raise DocumentError(document.path, "no clauses found (no line with a letter or digit)")
    texts = [segment.model_input for segment in segments]
    chunks = []
    for start in range(0, len(texts), CHUNK_SEGMENTS):
        chunk = texts[start:start + CHUNK_SEGMENTS]
        scores = np.asarray(model.predict_proba(chunk))
        if scores.shape != (len(chunk), len(labels)):
            raise ValueError(f"the model returned probabilities of shape {scores.shape} for "
                             f"{len(chunk)} texts and {len(labels)} labels")
        chunks.append(scores)
        if progress is not None:
            progress(len(chunk))
    probabilities = np.concatenate(chunks)
    thresholds = np.asarray(model.thresholds, dtype=np.float64)
    predicted = [tuple(names) for names in names_of(probabilities >= thresholds, labels)]
    summary = summarize_document(document, segments, probabilities, predicted, labels)
    return DocumentResult(document, segments, probabilities, labels, thresholds, predicted, summary)


def _checked_labels(model: Classifier) -> tuple[str, ...]:
    """The model's labels, checked once: canonical category names, one threshold each."""
    labels = tuple(model.labels)
    if tuple(canonical(label) for label in labels) != labels:
        raise ValueError(f"model labels {list(labels)} are not all canonical category names")
    if np.asarray(model.thresholds).shape != (len(labels),):
        raise ValueError(f"model thresholds {model.thresholds!r}: expected one per label ({len(labels)})")
    return labels
