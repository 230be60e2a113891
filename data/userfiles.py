"""Users' own annotated paragraphs, as JSON Lines or CSV, either possibly gzip-compressed
(`.jsonl.gz`, `.csv.gz`).

Fields: `text` (required), `labels` (category names or aliases; in CSV one cell separated by
`;`), and optionally `document_id`, `segment_index`, `language` and `annotated` (the
categories that were annotated at all, when only some were). Without `document_id` a row is
its own document named after the file and line. Every error names the file and line.
"""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import IO, Any, Iterable

from privacy_clauses.data.records import Segment
from privacy_clauses.io import atomic_path

SEPARATOR = ";"
FORMATS = (".jsonl", ".json", ".csv")


def _names(value: Any, field: str, where: str) -> list[str]:
    if isinstance(value, str):
        return [x.strip() for x in value.split(SEPARATOR) if x.strip()]
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value
    raise ValueError(f"{where}: {field}: expected a list of category names or a "
                     f"'{SEPARATOR}'-separated string, found {value!r}")


def _segment(row: dict[str, Any], where: str, default_document: str) -> Segment:
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: text: missing or empty")
    if "labels" not in row or row["labels"] is None:
        raise ValueError(f"{where}: labels: missing (use [] or an empty cell for none)")
    annotated = row.get("annotated")
    try:
        index = int(row.get("segment_index") or 0)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: segment_index: not an integer: {row.get('segment_index')!r}") from None
    try:
        return Segment(
            document_id=str(row.get("document_id") or default_document),
            segment_index=index,
            text=text,
            language=row.get("language") or None,
            labels=frozenset(_names(row["labels"], "labels", where)),
            annotated=None if annotated in (None, "") else frozenset(_names(annotated, "annotated", where)),
        )
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def read_jsonl(path: str | Path) -> list[Segment]:
    path = Path(path)
    segments = []
    with _open(path, "r", _gzipped(path)) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object, found {type(row).__name__}")
            segments.append(_segment(row, where, f"{path.stem}:{line_no}"))
    if not segments:
        raise ValueError(f"{path}: no rows (empty file)")
    return segments


def read_csv(path: str | Path) -> list[Segment]:
    path = Path(path)
    with _open(path, "r", _gzipped(path)) as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("text", "labels") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}:1: missing column(s): {', '.join(missing)}")
        segments = [_segment(row, f"{path}:{reader.line_num}", f"{path.stem}:{reader.line_num}")
                    for row in reader]
    if not segments:
        raise ValueError(f"{path}: no rows (empty file)")
    return segments


def _format(path: Path) -> str:
    """The table format of a file name, looking through a final .gz: ".jsonl", ".json" or ".csv"."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown format {suffix!r}; expected .jsonl or .csv, optionally gzipped (.gz)")
    return suffix


def _gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _open(path: Path, mode: str, gzipped: bool) -> IO[str]:
    """A text file, through gzip if asked (newline="" as the csv module wants)."""
    if gzipped:
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def read_annotated(path: str | Path) -> list[Segment]:
    """Read a .jsonl or .csv file of annotated paragraphs (also .jsonl.gz, .csv.gz)."""
    path = Path(path)
    read = read_csv if _format(path) == ".csv" else read_jsonl
    try:
        return read(path)
    except (gzip.BadGzipFile, EOFError) as err:
        raise ValueError(f"{path}: not a readable gzip file ({err})") from None


def write_annotated(segments: Iterable[Segment], path: str | Path) -> None:
    """Write segments as .jsonl or .csv, gzipped when the name ends in .gz (format from the
    suffix), readable by `read_annotated`."""
    path, segments = Path(path), list(segments)
    suffix = _format(path)
    with atomic_path(path) as tmp, _open(tmp, "w", _gzipped(path)) as f:
        if suffix != ".csv":
            f.writelines(json.dumps(seg.to_dict(), ensure_ascii=False) + "\n" for seg in segments)
            return
        writer = csv.DictWriter(f, ["document_id", "segment_index", "language", "text", "labels", "annotated"])
        writer.writeheader()
        for seg in segments:
            row = seg.to_dict()
            row["labels"] = SEPARATOR.join(row["labels"])
            row["annotated"] = "" if row["annotated"] is None else SEPARATOR.join(row["annotated"])
            writer.writerow(row)
