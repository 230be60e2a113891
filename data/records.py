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
    """

    document_id: str
    segment_index: int
    text: str
    language: str | None = None
    labels: frozenset[str] = field(default_factory=frozenset)
    annotated: frozenset[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", frozenset(canonical(x) for x in self.labels))
        if self.annotated is not None:
            object.__setattr__(self, "annotated", frozenset(canonical(x) for x in self.annotated))
            missing = self.labels - self.annotated
            if missing:
                raise ValueError(f"{self.document_id}#{self.segment_index}: labels {sorted(missing)} "
                                 "are not among the annotated categories")

    def is_annotated(self, label: str) -> bool:
        return self.annotated is None or label in self.annotated

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "segment_index": self.segment_index,
            "text": self.text,
            "language": self.language,
            "labels": sorted(self.labels),
            "annotated": None if self.annotated is None else sorted(self.annotated),
        }

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
