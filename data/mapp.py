"""MAPP (Arora et al., LREC 2022): German and English app privacy policies.

Segment id k (counted from 1) is the k-th non-empty line of `<Language>_sanitized_policies/
<policy>.txt`; `<Language>_consolidation/<policy>.csv` lists the categories per segment as a
Python-literal list. MAPP annotates first- and third-party practices only, so every segment
says that just those two categories were annotated: the others are unknown, not negative.

Some policies are pages that carry the policy in several languages (one German policy also holds
its English, French, Spanish, Dutch, Finnish, Norwegian, Swedish and Danish versions). The
annotators labelled the part in the corpus's language only: the other parts carry no label at
all. Read as negatives they would teach a multilingual model that a practice in French is no
practice, and penalise it in evaluation for finding one, so segments identified (py3langid, as
for documents) as another language are left out.
"""
from __future__ import annotations

import ast
import csv
import hashlib
from pathlib import Path

from privacy_clauses.data.records import Segment
from privacy_clauses.data.segmenter import detect_languages
from privacy_clauses.labels import FIRST_PARTY, THIRD_PARTY, canonical

LANGUAGES = {"de": "German", "en": "English"}
ANNOTATED = frozenset({FIRST_PARTY, THIRD_PARTY})
REQUIRED_COLUMNS = ("policy id", "segment_id", "category name")


def _categories(cell: str, where: str) -> frozenset[str]:
    try:
        names = ast.literal_eval(cell) if cell.strip() else []
    except (ValueError, SyntaxError):
        raise ValueError(f"{where}: category name: not a list literal: {cell!r}") from None
    if not isinstance(names, list):
        raise ValueError(f"{where}: category name: not a list: {cell!r}")
    try:
        return frozenset(canonical(name) for name in names)
    except ValueError as err:
        raise ValueError(f"{where}: category name: {err}") from None


def read_mapp_policy(text_path: Path, csv_path: Path, language: str) -> list[Segment]:
    """The segments of one MAPP policy in its language, with their (partial) labels."""
    lines = [line.strip() for line in text_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels: dict[int, frozenset[str]] = {}
    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path}:1: missing column(s): {', '.join(missing)}")
        for line_no, row in enumerate(reader, start=2):
            where = f"{csv_path}:{line_no}"
            try:
                k = int(row["segment_id"])
            except (TypeError, ValueError):
                raise ValueError(f"{where}: segment_id: not an integer: {row['segment_id']!r}") from None
            if not 1 <= k <= len(lines):
                raise ValueError(f"{where}: segment_id {k} outside the policy's {len(lines)} non-empty lines")
            found = _categories(row["category name"], where)
            if not found <= ANNOTATED:
                raise ValueError(f"{where}: category name: MAPP annotates only first and third party, "
                                 f"found {sorted(found - ANNOTATED)}")
            labels[k] = labels.get(k, frozenset()) | found
    document_id = f"mapp-{language}/{text_path.stem}"
    segments = [Segment(document_id, k, lines[k - 1], language, labels[k], ANNOTATED) for k in sorted(labels)]
    detected = detect_languages([s.text for s in segments])
    return [s for s, found in zip(segments, detected) if found in (None, language)]


def read_mapp(root: str | Path, languages: tuple[str, ...] = ("de", "en")) -> list[Segment]:
    """Every annotated segment of the MAPP policies in `languages` under `root`."""
    root = Path(root)
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown:
        raise ValueError(f"MAPP has no language(s) {unknown}; expected some of {list(LANGUAGES)}")
    segments = []
    for lang in languages:
        texts = sorted((root / f"{LANGUAGES[lang]}_sanitized_policies").glob("*.txt"))
        if not texts:
            raise FileNotFoundError(f"no MAPP policies in {root / (LANGUAGES[lang] + '_sanitized_policies')}")
        for text_path in texts:
            csv_path = root / f"{LANGUAGES[lang]}_consolidation" / f"{text_path.stem}.csv"
            if not csv_path.is_file():
                raise FileNotFoundError(f"{csv_path}: labels missing for {text_path.name}")
            segments += read_mapp_policy(text_path, csv_path, lang)
    return segments


def policy_key(document_id: str) -> str:
    """The app a MAPP document belongs to, shared by its German and English versions."""
    return document_id.split("/", 1)[1].split("_", 1)[0]


def split_mapp(segments: list[Segment], dev_fraction: float = 0.2) -> dict[str, list[Segment]]:
    """Split by app (both languages of one app on the same side), stable across runs and machines."""
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1, got {dev_fraction}")

    def in_dev(document_id: str) -> bool:
        digest = hashlib.sha256(policy_key(document_id).encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < dev_fraction

    parts: dict[str, list[Segment]] = {"train": [], "validation": []}
    for seg in segments:
        parts["validation" if in_dev(seg.document_id) else "train"].append(seg)
    return parts
