"""Fetch the OPP-115 release from its official page into the cache (for users who are online).

The corpus is licensed for research and teaching; the project never redistributes it.
"""
from __future__ import annotations

import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from privacy_clauses.paths import cache_dir

OPP115_URL = "https://usableprivacy.org/static/data/OPP-115_v1_0.zip"
OPP115_PAGE = "https://usableprivacy.org/data"


def opp115_cache() -> Path:
    return cache_dir() / "OPP-115"


def download_opp115(dest: str | Path | None = None, url: str = OPP115_URL, timeout: float = 60) -> Path:
    """Download and unpack OPP-115 so that `dest/sanitized_policies` exists; returns `dest`.

    Offline, raises ConnectionError saying where to put the files by hand instead.
    """
    dest = Path(dest) if dest else opp115_cache()
    if (dest / "sanitized_policies").is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        archive = Path(tmp) / "opp115.zip"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(archive, "wb") as f:
                shutil.copyfileobj(response, f)
        except (urllib.error.URLError, OSError) as err:
            raise ConnectionError(
                f"could not download {url} ({err}). Download the OPP-115 release yourself from "
                f"{OPP115_PAGE} and unpack it so that {dest / 'sanitized_policies'} and "
                f"{dest / 'annotations'} exist, or pass its folder with --path / data.path.") from None
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        found = next(Path(tmp).rglob("sanitized_policies"), None)
        if found is None:
            raise ValueError(f"{url}: the archive has no sanitized_policies/ folder")
        shutil.move(str(found.parent), dest)
    return dest
