"""Splits of segments as a Hugging Face `DatasetDict`, as Parquet files, and as statistics."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from datasets import Dataset, DatasetDict

from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.labels import LabelView, get_view, to_view


def to_dataset_dict(splits: dict[str, list[Segment]], view: LabelView | str) -> DatasetDict:
    """Columns: the segment fields, `label_vector` and `label_mask` in the view's label order."""
    view = get_view(view)
    parts = {}
    for name, segments in splits.items():
        targets, mask = label_matrix(segments, view)
        rows = [seg.to_dict() for seg in segments]
        for row, target, m in zip(rows, targets, mask):
            row["label_vector"], row["label_mask"] = target.tolist(), m.tolist()
        parts[name] = Dataset.from_list(rows)
    return DatasetDict(parts)


def export_parquet(splits: dict[str, list[Segment]], view: LabelView | str, out_dir: str | Path) -> list[Path]:
    """Write one `<split>.parquet` per split; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, dataset in to_dataset_dict(splits, view).items():
        path = out_dir / f"{name}.parquet"
        dataset.to_parquet(str(path))
        written.append(path)
    return written


def stats_table(splits: dict[str, list[Segment]], view: LabelView | str) -> str:
    """Segments and labels per split, category and language, as a Markdown table."""
    view = get_view(view)
    names = list(splits)
    per_label = {name: Counter(l for s in segs for l in to_view(s.labels, view)) for name, segs in splits.items()}
    annotated = {name: Counter(l for s in segs for l in view.labels if s.is_annotated(l))
                 for name, segs in splits.items()}
    languages = sorted({s.language or "unknown" for segs in splits.values() for s in segs})
    per_language = {name: Counter(s.language or "unknown" for s in segs) for name, segs in splits.items()}

    def row(cells: list) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    lines = [row(["", *names, "total"]), row(["---"] * (len(names) + 2))]

    def add(label: str, values: list[int]) -> None:
        lines.append(row([label, *values, sum(values)]))

    add("segments", [len(splits[n]) for n in names])
    add("documents", [len({s.document_id for s in splits[n]}) for n in names])
    add("labels (segment, category pairs)", [sum(per_label[n].values()) for n in names])
    for label in view.labels:
        cells = [per_label[n][label] if annotated[n][label] == len(splits[n])
                 else "not annotated" if not annotated[n][label]
                 else f"{per_label[n][label]} of {annotated[n][label]} annotated" for n in names]
        lines.append(row([label, *cells, sum(per_label[n][label] for n in names)]))
    for lang in languages:
        add(f"language: {lang}", [per_language[n][lang] for n in names])
    return "\n".join(lines)
