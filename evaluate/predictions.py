"""The predictions file: what a model said about each segment, kept apart from any report on it.

JSON Lines, one segment per line: every field of `Segment.to_dict()`, then
  "scores":     {label: probability}, in the model's label order,
  "thresholds": {label: threshold} the model was run with (the same on every line),
  "predicted":  [labels whose score reached their threshold].
Reports are computed from scores, so the same file can be re-scored at other thresholds;
"predicted" is there for people and tools that read the file directly.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from privacy_clauses.data.records import Segment
from privacy_clauses.evaluate.checks import as_label_names, as_scores, as_thresholds
from privacy_clauses.io import atomic_write
from privacy_clauses.labels import canonical


class Predictions(NamedTuple):
    """Everything a report needs from one model run on one data set."""

    segments: list[Segment]
    scores: np.ndarray                # (n_segments, n_labels) probabilities, in label_names order
    label_names: tuple[str, ...]
    thresholds: np.ndarray | None     # as recorded in the file; None if it records none


def canonical_labels(label_names: Sequence[str]) -> tuple[str, ...]:
    """Label names in their canonical spelling; ValueError if one is unknown or repeated."""
    names = tuple(canonical(name) for name in label_names)
    as_label_names(names, len(names))
    return names


def prediction_record(segment: Segment, scores: Sequence[float], label_names: Sequence[str],
                      thresholds: Sequence[float]) -> dict[str, Any]:
    """One line of a predictions file: the segment, every category's score, the thresholds and
    the categories whose score reached its threshold. The one place this format is built."""
    return segment.to_dict() | {
        "scores": {name: float(s) for name, s in zip(label_names, scores)},
        "thresholds": {name: float(t) for name, t in zip(label_names, thresholds)},
        "predicted": [name for name, s, t in zip(label_names, scores, thresholds) if s >= t],
    }


def write_predictions(path: str | Path, segments: Sequence[Segment], scores: Any,
                      label_names: Sequence[str],
                      thresholds: float | Sequence[float] | np.ndarray = 0.5) -> Path:
    """Write one line per segment; the file appears complete or not at all (temp file + rename)."""
    path = Path(path)
    names = canonical_labels(label_names)
    scores = as_scores(scores, (len(segments), len(names)))
    thresholds = as_thresholds(thresholds, len(names))
    with atomic_write(path) as f:
        for segment, row in zip(segments, scores):
            line = prediction_record(segment, row, names, thresholds)
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def _label_map(row: dict[str, Any], key: str) -> dict[str, float]:
    """A {label: number in [0, 1]} field of one line, with canonical label names."""
    value = row[key]
    if not isinstance(value, dict) or not value:
        raise ValueError(f'"{key}" must be a non-empty object {{label: number}}')
    out = {}
    for label, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= 1:
            raise ValueError(f'"{key}" for {label!r} must be a number within [0, 1], got {number!r}')
        out[canonical(label)] = float(number)
    if len(out) != len(value):
        raise ValueError(f'"{key}" names the same category twice')
    return out


def read_predictions(path: str | Path) -> Predictions:
    """Read a predictions file; ValueError naming file and line for anything malformed."""
    path = Path(path)
    segments, scores = [], []
    names: tuple[str, ...] | None = None
    thresholds: dict[str, float] | None = None
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("expected a JSON object")
                segment = Segment.from_dict(row)
                line_scores = _label_map(row, "scores")
                line_thresholds = _label_map(row, "thresholds") if "thresholds" in row else None
                if line_thresholds is not None and set(line_thresholds) != set(line_scores):
                    raise ValueError("thresholds and scores name different categories")
                if names is None:
                    names, thresholds = tuple(line_scores), line_thresholds
                if set(line_scores) != set(names):
                    raise ValueError(f"scores are for {sorted(line_scores)}, "
                                     f"earlier lines for {sorted(names)}")
                if line_thresholds != thresholds:
                    raise ValueError("thresholds differ from those of the earlier lines")
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
            except KeyError as err:
                raise ValueError(f"{path}:{line_no}: missing field {err}") from None
            except (TypeError, ValueError) as err:
                raise ValueError(f"{path}:{line_no}: {err}") from None
            segments.append(segment)
            scores.append([line_scores[name] for name in names])
    if names is None:
        raise ValueError(f"{path}: no predictions (empty file)")
    return Predictions(segments, np.array(scores), names,
                       None if thresholds is None else np.array([thresholds[n] for n in names]))
