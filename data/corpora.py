"""From a data config to named splits of segments: the one entry point training, evaluation
and `privacy-clauses data` share.

Sources:
  opp115           the official release; policy-level split from a split file
  opp115-majority  the Majority benchmark CSVs (random segment-level split, 12 labels)
  mapp             MAPP German/English, split by app into train/validation
  opp115-translated  OPP-115 segments in English and six human translations (ships with the
                   package): "train", all 2,608 segments of the policy split's train part, and
                   "validation", all 290 of its validation part; see data/translated/README.md
  files            the user's own JSONL/CSV files, one per split
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from privacy_clauses.data.download import opp115_cache
from privacy_clauses.data.mapp import LANGUAGES as MAPP_LANGUAGES
from privacy_clauses.data.mapp import read_mapp, split_mapp
from privacy_clauses.data.opp115 import (RULES, read_majority_split, read_opp115, read_policy_split,
                                         split_by_policy)
from privacy_clauses.data.records import Segment
from privacy_clauses.data.userfiles import read_annotated
from privacy_clauses.labels import OPP115_10, OPP115_12, get_view
from privacy_clauses.paths import data_root

SOURCES = ("opp115", "opp115-majority", "mapp", "opp115-translated", "files")
DEFAULT_PATHS = {
    "opp115": "OPP-115",
    "opp115-majority": "benchmarks/opp115_majority",
    "mapp": "MAPP",
}
# The policy split is a list of policy names (no corpus text); it ships with the package so
# the honest benchmark is the same for everyone.
DEFAULT_SPLIT_FILE = Path(__file__).parent / "splits" / "opp115_policy_split.json"
# Small enough to ship: OPP-115 segments translated by hand, one file per part of the policy split.
TRANSLATED_DIR = Path(__file__).parent / "translated"
TRANSLATED_FILES = {"train": "opp115_train_translated.jsonl.gz", "validation": "opp115_validation_translated.jsonl"}


@dataclass
class DataConfig:
    """Which corpus, where, in which label view and aggregation rule.

    `path` defaults to the corpus's folder under the data root (see privacy_clauses.paths);
    `view` to opp115-12 for the Majority benchmark and opp115-10 otherwise. `languages` keeps
    only segments in those languages (MAPP, the translated set); None keeps all.
    Segments of fully annotated corpora that received no label are dropped unless
    `keep_unlabeled` (the usual practice for OPP-115 classification).
    """

    source: str = "opp115"
    path: str | None = None
    view: str | None = None
    rule: str = "majority"
    split_file: str | None = None
    languages: tuple[str, ...] | None = None
    mapp_dev_fraction: float = 0.2
    files: dict[str, str] = field(default_factory=dict)
    keep_unlabeled: bool = False

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"data.source: unknown {self.source!r}; expected one of {', '.join(SOURCES)}")
        if self.rule not in RULES:
            raise ValueError(f"data.rule: unknown {self.rule!r}; expected one of {', '.join(RULES)}")
        if self.view is None:
            self.view = OPP115_12.name if self.source == "opp115-majority" else OPP115_10.name
        self.view = get_view(self.view).name
        if self.languages is not None:
            self.languages = tuple(self.languages)
        if self.source == "opp115-majority" and self.view != OPP115_12.name:
            raise ValueError("data.view: the Majority benchmark is labelled in the opp115-12 view")
        if self.source == "files" and not self.files:
            raise ValueError("data.files: give at least one split, e.g. {train: my_data.jsonl}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "data") -> "DataConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
        return cls(**values)

    def corpus_path(self) -> Path | None:
        """The given path; else the data root's copy (for OPP-115, else a downloaded one; for the
        translated set, the package's folder). None for `files`, whose splits each name a file."""
        if self.path:
            return Path(self.path)
        if self.source == "files":
            return None
        if self.source == "opp115-translated":
            return TRANSLATED_DIR
        default = data_root() / DEFAULT_PATHS[self.source]
        if self.source == "opp115" and not default.exists() and opp115_cache().exists():
            return opp115_cache()
        return default


def load_splits(config: DataConfig) -> dict[str, list[Segment]]:
    """Read the configured corpus and return its parts (train/validation/test where defined)."""
    if config.source == "opp115":
        segments = read_opp115(config.corpus_path(), config.view, config.rule)
        split_file = Path(config.split_file) if config.split_file else DEFAULT_SPLIT_FILE
        splits = split_by_policy(segments, read_policy_split(split_file))
    elif config.source == "opp115-majority":
        splits = read_majority_split(config.corpus_path())
    elif config.source == "mapp":
        splits = split_mapp(read_mapp(config.corpus_path(), config.languages or tuple(MAPP_LANGUAGES)),
                            config.mapp_dev_fraction)
    elif config.source == "opp115-translated":
        splits = {part: [s for s in read_annotated(config.corpus_path() / name)
                         if not config.languages or s.language in config.languages]
                  for part, name in TRANSLATED_FILES.items()}
    else:
        splits = {name: read_annotated(path) for name, path in config.files.items()}
    if config.keep_unlabeled:
        return splits
    return {name: [s for s in segs if s.labels or s.annotated is not None] for name, segs in splits.items()}
