"""File writing shared by every stage: a file appears complete or not at all."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file's path beside `path`, for writers that open files themselves (e.g.
    Parquet); it is renamed over `path` only if the block succeeds, and removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@contextmanager
def atomic_write(path: str | Path, newline: str | None = None) -> Iterator[IO[str]]:
    """Open a temporary text file beside `path`; rename it over `path` only if the block succeeds,
    so a crash or an error never leaves half-written output."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline=newline) as f:
        yield f
