"""The segment record: the one shape data takes between readers, training, models and reports."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from privacy_clauses.labels import LabelView, canonical, get_view, to_view


@dataclass(frozen=True)
class Segment:
    """One clause-sized piece of a policy with its labels.

    `annotated` names the categories that annotators were asked about. None means all of
    them; MAPP, for instance, annotates only first- and third-party practices, so its other
    categories are unknown rather than negative and are masked out of losses and metrics.

    Segments cut from a document by the segmenter also carry where they came from: `span`
    (start, end) character offsets into the document's extracted text, `headings` (the
    heading path above the clause, outermost first) and `context` (the lead-in sentence of
    a list, which carries the meaning of its items: "We collect: ..." + "- your name").
    """

    document_id: str
    segment_index: int
    text: str
    language: str | None = None
    labels: frozenset[str] = field(default_factory=frozenset)
    annotated: frozenset[str] | None = None
    span: tuple[int, int] | None = None
    headings: tuple[str, ...] = ()
    context: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", frozenset(canonical(x) for x in self.labels))
        object.__setattr__(self, "headings", tuple(self.headings))
        if self.span is not None:
            object.__setattr__(self, "span", (int(self.span[0]), int(self.span[1])))
        if self.annotated is not None:
            object.__setattr__(self, "annotated", frozenset(canonical(x) for x in self.annotated))
            missing = self.labels - self.annotated
            if missing:
                raise ValueError(f"{self.document_id}#{self.segment_index}: labels {sorted(missing)} "
                                 "are not among the annotated categories")

    def is_annotated(self, label: str) -> bool:
        return self.annotated is None or label in self.annotated

    @property
    def model_input(self) -> str:
        """What a classifier reads: the clause, after its list lead-in when it has one."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the document-position fields appear only when set."""
        row: dict[str, Any] = {
            "document_id": self.document_id,
            "segment_index": self.segment_index,
            "text": self.text,
            "language": self.language,
            "labels": sorted(self.labels),
            "annotated": None if self.annotated is None else sorted(self.annotated),
        }
        if self.span is not None:
            row["span"] = list(self.span)
        if self.headings:
            row["headings"] = list(self.headings)
        if self.context is not None:
            row["context"] = self.context
        return row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Segment":
        annotated = row.get("annotated")
        return cls(
            document_id=str(row["document_id"]),
            segment_index=int(row["segment_index"]),
            text=row["text"],
            language=row.get("language") or None,
            labels=frozenset(row.get("labels") or ()),
            annotated=None if annotated is None else frozenset(annotated),
            span=None if row.get("span") is None else tuple(row["span"]),
            headings=tuple(row.get("headings") or ()),
            context=row.get("context"),
        )


def label_matrix(segments: Iterable[Segment], view: LabelView | str) -> tuple[np.ndarray, np.ndarray]:
    """Targets and annotation mask, both float32 of shape (n_segments, n_labels) in view order."""
    view = get_view(view)
    segments = list(segments)
    targets = np.zeros((len(segments), len(view)), dtype=np.float32)
    mask = np.ones_like(targets)
    for i, seg in enumerate(segments):
        labels = to_view(seg.labels, view)
        annotated = None if seg.annotated is None else to_view(seg.annotated, view)
        for j, label in enumerate(view.labels):
            targets[i, j] = label in labels
            mask[i, j] = annotated is None or label in annotated
    return targets, mask
