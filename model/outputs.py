"""What a classify run writes: prediction records, flat rows, summaries, and the run's files.

A record is one segment in the predictions-file format of `privacy_clauses.evaluate.predictions`
(`Segment.to_dict()` + "scores" + "thresholds" + "predicted"), so that `privacy-clauses evaluate`
reads classify output as it is. CSV and Parquet hold the same records flattened, one row per
segment: `span_start`/`span_end`, headings joined by " > ", one probability column per category
(named from the label, see `probability_column`) and the predicted labels joined by ";".

With `-o OUT` a run keeps two journals beside OUT while it goes (`OutputFiles`): the records so far,
always JSON Lines, and one progress line per finished document (its summary, or why it was
skipped). A document counts as done only once its progress line is written, after its records
were flushed, so an interrupted run can be resumed exactly where it stopped. At the end the
document summaries and the run summary are written, then OUT: the records journal renamed (JSON
Lines) or converted (CSV, Parquet). OUT is therefore complete or absent, and its presence means
the run finished.
"""
from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

import numpy as np

from privacy_clauses.evaluate.predictions import prediction_record
from privacy_clauses.io import atomic_path, atomic_write
from privacy_clauses.model.classify import DocumentFailure, DocumentResult

FORMATS = ("jsonl", "csv", "parquet")
SUFFIX_FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
HEADINGS_SEPARATOR = " > "
LABELS_SEPARATOR = ";"
PARQUET_ROWS_PER_GROUP = 10_000
RECORDS_JOURNAL_SUFFIX = ".partial"
PROGRESS_JOURNAL_SUFFIX = ".progress"
RESTART_HINT = "run without --resume to start over"


# --- records and rows --------------------------------------------------------------------------

def prediction_records(result: DocumentResult) -> list[dict[str, Any]]:
    """One predictions-file record per segment of the document (the format `read_predictions` reads)."""
    return [prediction_record(segment, row, result.labels, result.thresholds)
            for segment, row in zip(result.segments, result.probabilities)]


def probability_column(label: str) -> str:
    """A category's column name: "p_" and the label lower-cased, runs of other characters as "_"."""
    return "p_" + re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_")


def flat_columns(labels: Sequence[str]) -> list[str]:
    """CSV and Parquet columns, in order; ValueError if two labels give the same column name."""
    probabilities = [probability_column(label) for label in labels]
    if len(set(probabilities)) != len(probabilities):
        raise ValueError(f"labels {list(labels)} do not give distinct column names: {probabilities}")
    return ["document_id", "segment_index", "span_start", "span_end", "headings", "context", "language",
            "text", *probabilities, "predicted"]


def flat_row(record: dict[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    """A record as one row of `flat_columns(labels)`."""
    span = record.get("span") or (None, None)
    return {
        "document_id": record["document_id"],
        "segment_index": record["segment_index"],
        "span_start": span[0],
        "span_end": span[1],
        "headings": HEADINGS_SEPARATOR.join(record.get("headings") or ()),
        "context": record.get("context"),
        "language": record.get("language"),
        "text": record["text"],
        **{probability_column(label): record["scores"][label] for label in labels},
        "predicted": LABELS_SEPARATOR.join(record["predicted"]),
    }


# --- the run summary -----------------------------------------------------------------------------

@dataclass
class RunSummary:
    """Counts over a run, fed one progress entry per document (see `progress_entry`).

    `seconds` is the time spent reading, classifying and writing documents (model loading
    excluded), summed over the parts of a resumed run.
    """

    documents_read: int = 0
    clauses: int = 0
    seconds: float = 0.0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def add(self, entry: dict[str, Any]) -> None:
        self.seconds += entry["seconds"]
        if "skipped" in entry:
            self.skipped.append({"document_id": entry["document_id"], "reason": entry["skipped"]})
        else:
            self.documents_read += 1
            self.clauses += entry["summary"]["clauses"]

    @property
    def clauses_per_second(self) -> float | None:
        return self.clauses / self.seconds if self.seconds > 0 else None

    @property
    def documents_per_minute(self) -> float | None:
        return 60 * self.documents_read / self.seconds if self.seconds > 0 else None

    def to_dict(self, **context: Any) -> dict[str, Any]:
        """The run summary file's content; `context` (model, output, ...) goes first."""
        rate = self.clauses_per_second
        per_minute = self.documents_per_minute
        return context | {
            "documents_read": self.documents_read,
            "documents_skipped": len(self.skipped),
            "clauses": self.clauses,
            "seconds": round(self.seconds, 3),
            "clauses_per_second": None if rate is None else round(rate, 3),
            "documents_per_minute": None if per_minute is None else round(per_minute, 3),
            "skipped": self.skipped,
        }

    def describe(self) -> str:
        """One line for people: the counts and the speed (each skipped document was reported as it
        happened, and is listed in the run summary file)."""
        rates = "" if self.seconds <= 0 else \
            f" ({self.clauses_per_second:.1f} clauses/s, {self.documents_per_minute:.1f} documents/min)"
        return (f"{self.documents_read} documents classified, {len(self.skipped)} skipped, "
                f"{self.clauses} clauses in {self.seconds:.1f} s{rates}")


def progress_entry(item: DocumentResult | DocumentFailure, seconds: float) -> dict[str, Any]:
    """The progress line of a finished document: its summary, or the reason it was skipped."""
    entry: dict[str, Any] = {"document_id": item.document_id, "seconds": seconds}
    if isinstance(item, DocumentFailure):
        return entry | {"skipped": item.reason}
    return entry | {"summary": item.summary.to_dict()}


# --- where records go --------------------------------------------------------------------------

def output_format(out: str | Path | None, requested: str | None) -> str:
    """The format asked for, else the one OUT's suffix names, else JSON Lines on stdout."""
    if requested is not None and requested not in FORMATS:
        raise ValueError(f"--format {requested!r}: expected one of {', '.join(FORMATS)}")
    if out is None:
        if requested == "parquet":
            raise ValueError("--format parquet needs a file: add -o OUT.parquet")
        return requested or "jsonl"
    by_suffix = SUFFIX_FORMATS.get(Path(out).suffix.lower())
    if requested is not None and by_suffix is not None and requested != by_suffix:
        raise ValueError(f"--format {requested} contradicts the suffix of {out} ({by_suffix})")
    if requested is None and by_suffix is None:
        raise ValueError(f"cannot tell the format from the suffix of {out}; use --format "
                         f"({', '.join(FORMATS)}) or a suffix {', '.join(SUFFIX_FORMATS)}")
    return requested or by_suffix


def summary_paths(out: str | Path) -> tuple[Path, Path]:
    """The document summaries and run summary files beside OUT: out.jsonl → out.documents.jsonl, out.run.json."""
    out = Path(out)
    return out.with_suffix(".documents.jsonl"), out.with_suffix(".run.json")


class StreamOutput:
    """Records to a text stream (stdout) as each document finishes; nothing to resume."""

    def __init__(self, stream: IO[str], format: str, labels: Sequence[str]) -> None:
        if format not in ("jsonl", "csv"):
            raise ValueError(f"{format} cannot be streamed; write it to a file with -o")
        self.stream, self.format, self.labels = stream, format, tuple(labels)
        self._csv = None
        if format == "csv":
            self._csv = csv.DictWriter(stream, fieldnames=flat_columns(self.labels))
            self._csv.writeheader()

    def add(self, item: DocumentResult | DocumentFailure, seconds: float) -> dict[str, Any]:
        """Write a document's records (none for a failure); returns its progress entry."""
        if isinstance(item, DocumentResult):
            for record in prediction_records(item):
                if self._csv is not None:
                    self._csv.writerow(flat_row(record, self.labels))
                else:
                    self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.stream.flush()
        return progress_entry(item, seconds)


class OutputFiles:
    """The files of a run with `-o OUT`: the journals while it goes, the outputs at the end.

    The journals sit beside OUT: OUT + ".partial" (records, JSON Lines) and OUT + ".progress"
    (a header naming the labels and thresholds, then one entry per finished document).
    """

    def __init__(self, out: str | Path, format: str, labels: Sequence[str], thresholds: np.ndarray) -> None:
        if format not in FORMATS:
            raise ValueError(f"format {format!r}: expected one of {', '.join(FORMATS)}")
        self.out, self.format = Path(out), format
        self.labels = tuple(labels)
        self.header = {"labels": list(self.labels), "thresholds": [float(t) for t in thresholds]}
        flat_columns(self.labels)  # fail now, not after the run, if the labels cannot be columns
        self.records_path = self.out.with_name(self.out.name + RECORDS_JOURNAL_SUFFIX)
        self.progress_path = self.out.with_name(self.out.name + PROGRESS_JOURNAL_SUFFIX)
        self.documents_path, self.run_path = summary_paths(self.out)
        self._records: IO[bytes] | None = None
        self._progress: IO[bytes] | None = None

    @property
    def unfinished(self) -> bool:
        """Whether an interrupted run left journals here."""
        return self.progress_path.exists() or self.records_path.exists()

    def start(self) -> None:
        """Begin a new run, discarding any journals left by an interrupted one."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._records = open(self.records_path, "wb")
        self._progress = open(self.progress_path, "wb")
        self._append(self._progress, [self.header])

    def resume(self) -> list[dict[str, Any]] | None:
        """Continue an interrupted run: its finished documents' entries, in order, or None if OUT
        is already complete. Records of a document without a progress entry (the one being
        written when the run stopped) are dropped. ValueError if the journals do not fit
        together or were written with other labels or thresholds."""
        if self.out.exists() and not self.records_path.exists():
            self.progress_path.unlink(missing_ok=True)  # OUT is written last: the run had finished
            return None
        progress = self._read_progress() if self.progress_path.exists() else None
        if progress is None:  # stopped before its first document, or never started
            self.start()
            return []
        entries, valid_bytes = progress
        with open(self.progress_path, "r+b") as f:
            f.truncate(valid_bytes)
        self._truncate_records(entries)
        self._records = open(self.records_path, "ab")
        self._progress = open(self.progress_path, "ab")
        return entries

    def add(self, item: DocumentResult | DocumentFailure, seconds: float) -> dict[str, Any]:
        """Record a finished document: its records (flushed), then its progress entry."""
        if self._records is None or self._progress is None:
            raise RuntimeError("OutputFiles.add before start() or resume()")
        entry = progress_entry(item, seconds)
        if isinstance(item, DocumentResult):
            self._append(self._records, prediction_records(item))
        self._append(self._progress, [entry])
        return entry

    def finish(self, run_summary: dict[str, Any]) -> list[Path]:
        """Write the document summaries, the run summary and OUT; remove the journals."""
        self.close()
        entries, _ = self._read_progress() or ([], 0)
        with atomic_write(self.documents_path) as f:
            for entry in entries:
                if "summary" in entry:
                    f.write(json.dumps(entry["summary"], ensure_ascii=False) + "\n")
        with atomic_write(self.run_path) as f:
            f.write(json.dumps(run_summary, ensure_ascii=False, indent=2) + "\n")
        if self.format == "jsonl":
            os.replace(self.records_path, self.out)
        else:
            (_write_csv if self.format == "csv" else _write_parquet)(self.records_path, self.out, self.labels)
            self.records_path.unlink()
        self.progress_path.unlink()
        return [self.out, self.documents_path, self.run_path]

    def close(self) -> None:
        """Close the journals, keeping them (for --resume)."""
        for f in (self._records, self._progress):
            if f is not None:
                f.close()
        self._records = self._progress = None

    def _append(self, f: IO[bytes], rows: list[dict[str, Any]]) -> None:
        f.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8"))
        f.flush()

    def _read_progress(self) -> tuple[list[dict[str, Any]], int] | None:
        """The progress journal's entries and the length of its complete lines (a last line
        without its newline was cut short by the interruption); None if not even the header
        line is complete."""
        with open(self.progress_path, "rb") as f:
            lines = f.read().split(b"\n")[:-1]
        if not lines:
            return None
        try:
            header, *entries = [json.loads(line) for line in lines]
        except ValueError:
            raise ValueError(f"{self.progress_path}: not valid JSON Lines; {RESTART_HINT}") from None
        if header != self.header:
            raise ValueError(f"{self.progress_path}: the unfinished run used other labels or thresholds "
                             f"(another model); {RESTART_HINT}")
        return entries, sum(len(line) + 1 for line in lines)

    def _truncate_records(self, entries: list[dict[str, Any]]) -> None:
        """Cut the records journal after the last finished document's records."""
        expected = [(e["document_id"], e["summary"]["clauses"]) for e in entries if "summary" in e]
        if not self.records_path.exists():
            if expected:
                raise ValueError(f"{self.records_path} is missing; {RESTART_HINT}")
            self.records_path.touch()
            return
        with open(self.records_path, "r+b") as f:
            for document_id, clauses in expected:
                for _ in range(clauses):
                    if _document_of(f.readline()) != document_id:
                        raise ValueError(f"{self.records_path} lacks records of {document_id} that "
                                         f"{self.progress_path} lists; {RESTART_HINT}")
            f.truncate(f.tell())


def _document_of(line: bytes) -> str | None:
    """The document_id of a complete records line; None for a line cut short or not a record."""
    try:
        return json.loads(line).get("document_id") if line.endswith(b"\n") else None
    except (ValueError, AttributeError):
        return None


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _write_csv(records_path: Path, out: Path, labels: Sequence[str]) -> None:
    with atomic_write(out, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=flat_columns(labels))
        writer.writeheader()
        for record in _records(records_path):
            writer.writerow(flat_row(record, labels))


def _write_parquet(records_path: Path, out: Path, labels: Sequence[str]) -> None:
    """Rows in groups of PARQUET_ROWS_PER_GROUP, so memory stays bounded; written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"segment_index": pa.int64(), "span_start": pa.int64(), "span_end": pa.int64()}
    types |= {probability_column(label): pa.float64() for label in labels}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in flat_columns(labels)])
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        rows: list[dict[str, Any]] = []
        for record in _records(records_path):
            rows.append(flat_row(record, labels))
            if len(rows) == PARQUET_ROWS_PER_GROUP:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows = []
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
