"""OPP-115 in its official v1.0 release layout, and the Majority benchmark CSVs.

Text comes from `sanitized_policies/<policy>.html`, whose segments are separated by `|||`;
labels come from `annotations/<policy>.csv`, one row per (annotator, segment, category).
Annotations are aggregated per segment by a named rule: `majority` keeps a label that at
least two of the policy's three annotators gave (more than half of them in general),
`union` keeps a label any annotator gave.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from inscriptis import get_text

from privacy_clauses.data.records import Segment
from privacy_clauses.labels import OTHER, LabelView, canonical, get_view, other_type_label

RULES = ("majority", "union")
ANNOTATION_COLUMNS = ("annotation_id", "batch_id", "annotator_id", "policy_id", "segment_id",
                      "category_name", "attributes", "date", "policy_url")
SPLITS = ("train", "validation", "test")


def html_to_text(html: str) -> str:
    """Clean text of one sanitized segment: one line per paragraph or list item, no blank lines."""
    lines = (line.strip() for line in get_text(html).splitlines())
    return "\n".join(line for line in lines if line)


def read_policy_text(path: Path) -> list[str]:
    """The segments of one sanitized policy, in order (segment id = position)."""
    return [html_to_text(part) for part in Path(path).read_text(encoding="utf-8").split("|||")]


def _annotation_label(row: list[str], view: LabelView, where: str) -> str | None:
    """The label one annotation row contributes in `view` (None: no label in that view)."""
    try:
        category = canonical(row[5])
    except ValueError as err:
        raise ValueError(f"{where}: category_name: {err}") from None
    try:
        attributes = json.loads(row[6])
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: attributes: not valid JSON ({err.msg})") from None
    if category != OTHER or OTHER in view.labels:
        return category
    other_type = attributes.get("Other Type", {}).get("value") if isinstance(attributes, dict) else None
    return other_type_label(other_type)


def read_annotations(path: Path, n_segments: int, view: LabelView | str = "opp115-10",
                     rule: str = "majority") -> list[frozenset[str]]:
    """Aggregated labels per segment of one policy, from its annotations CSV."""
    if rule not in RULES:
        raise ValueError(f"unknown aggregation rule {rule!r}; expected one of {', '.join(RULES)}")
    view = get_view(view)
    votes: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    annotators: set[str] = set()
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            where = f"{path}:{line_no}"
            if len(row) < 7:
                raise ValueError(f"{where}: expected at least 7 columns "
                                 f"({', '.join(ANNOTATION_COLUMNS[:7])}), found {len(row)}")
            try:
                segment_id = int(row[4])
            except ValueError:
                raise ValueError(f"{where}: segment_id: not an integer: {row[4]!r}") from None
            if not 0 <= segment_id < n_segments:
                raise ValueError(f"{where}: segment_id {segment_id} outside the policy's "
                                 f"{n_segments} segments")
            annotators.add(row[2])
            label = _annotation_label(row, view, where)
            if label is not None:
                votes[segment_id][label].add(row[2])
    if not annotators:
        raise ValueError(f"{path}: no annotations (empty file)")
    needed = len(annotators) // 2 + 1 if rule == "majority" else 1
    return [frozenset(label for label, who in votes[i].items() if len(who) >= needed)
            for i in range(n_segments)]


def read_opp115(root: str | Path, view: LabelView | str = "opp115-10",
                rule: str = "majority") -> list[Segment]:
    """Every segment of every policy under `root`, labelled in `view` by `rule`."""
    root = Path(root)
    policies = sorted((root / "sanitized_policies").glob("*.html"))
    if not policies:
        raise FileNotFoundError(
            f"no OPP-115 policies in {root / 'sanitized_policies'}; point to the unpacked release "
            "(the folder holding sanitized_policies/ and annotations/) or run `privacy-clauses data download`")
    segments = []
    for html_path in policies:
        texts = read_policy_text(html_path)
        csv_path = root / "annotations" / f"{html_path.stem}.csv"
        if not csv_path.is_file():
            raise FileNotFoundError(f"{csv_path}: annotations missing for {html_path.name}")
        labels = read_annotations(csv_path, len(texts), view, rule)
        segments += [Segment(html_path.stem, i, text, "en", labels[i]) for i, text in enumerate(texts)]
    return segments


def read_policy_split(path: str | Path) -> dict[str, list[str]]:
    """A policy-level split file: {"train": [policy, ...], "validation": [...], "test": [...]}."""
    try:
        split = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    missing = [name for name in SPLITS if not isinstance(split.get(name), list)]
    if missing:
        raise ValueError(f"{path}: missing list(s) of policy names: {', '.join(missing)}")
    seen: dict[str, str] = {}
    for name in SPLITS:
        for policy in split[name]:
            if policy in seen:
                raise ValueError(f"{path}: policy {policy!r} is in both {seen[policy]} and {name}")
            seen[policy] = name
    return {name: list(split[name]) for name in SPLITS}


def split_by_policy(segments: list[Segment], split: dict[str, list[str]]) -> dict[str, list[Segment]]:
    """Assign segments to parts by their policy; every policy named must exist."""
    known = {seg.document_id for seg in segments}
    unknown = sorted(p for part in split.values() for p in part if p not in known)
    if unknown:
        raise ValueError(f"split names policies not in the corpus: {', '.join(unknown[:5])}"
                         + (" ..." if len(unknown) > 5 else ""))
    part_of = {policy: name for name, policies in split.items() for policy in policies}
    parts: dict[str, list[Segment]] = {name: [] for name in split}
    for seg in segments:
        if seg.document_id in part_of:
            parts[part_of[seg.document_id]].append(seg)
    return parts


def read_majority_csv(path: str | Path, document_id: str | None = None) -> list[Segment]:
    """One part of the Majority benchmark: rows `text,label`, one per (segment, label).

    Rows with the same text are one segment with several labels, in order of first appearance.
    The benchmark does not say which policy a row came from, so each segment is its own
    document (document-level bootstrap then resamples segments).
    """
    path = Path(path)
    document_id = document_id or path.stem
    labels: dict[str, set[str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if line_no == 1 and [c.strip().lower() for c in row] == ["text", "label"]:
                continue
            if len(row) != 2:
                raise ValueError(f"{path}:{line_no}: expected 2 columns (text,label), found {len(row)}")
            try:
                label = canonical(row[1])
            except ValueError as err:
                raise ValueError(f"{path}:{line_no}: label: {err}") from None
            labels.setdefault(row[0].strip(), set()).add(label)
    if not labels:
        raise ValueError(f"{path}: no rows (empty file)")
    return [Segment(f"{document_id}-{i}", 0, text, "en", frozenset(ls))
            for i, (text, ls) in enumerate(labels.items())]


def read_majority_split(root: str | Path) -> dict[str, list[Segment]]:
    """The Majority benchmark's train/validation/test CSVs under `root` (12-label view)."""
    root = Path(root)
    return {name: read_majority_csv(root / f"{name}.csv", name) for name in SPLITS}
