"""Where the project looks for corpora and keeps its cache.

Corpora are never bundled: they are read from a path the user gives, or from the data root,
`$PRIVACY_CLAUSES_DATA` if set, else `../shared/data` beside the working directory (the
layout of the project's own checkouts). Downloads and the materialized base encoder live in
the cache, `$PRIVACY_CLAUSES_CACHE` if set, else `~/.cache/privacy-clauses`.
"""
from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    return Path(os.environ.get("PRIVACY_CLAUSES_DATA", Path("..") / "shared" / "data"))


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "privacy-clauses"
    return Path(os.environ.get("PRIVACY_CLAUSES_CACHE", default))
