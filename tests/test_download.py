import shutil

import pytest

from privacy_clauses.data.download import download_opp115
from privacy_clauses.data.opp115 import read_opp115


def test_download_unpacks_the_release_into_the_destination(opp115_root, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "OPP-115_v1_0"), "zip", opp115_root.parent, opp115_root.name)
    dest = download_opp115(tmp_path / "cache" / "OPP-115", url=f"file://{archive}")
    assert len(read_opp115(dest)) == len(read_opp115(opp115_root))
    assert download_opp115(dest, url="http://127.0.0.1:9/never-fetched.zip") == dest  # already there


def test_offline_download_says_where_to_put_the_files(tmp_path):
    with pytest.raises(ConnectionError, match=r"unpack it so that .*sanitized_policies"):
        download_opp115(tmp_path / "OPP-115", url="http://127.0.0.1:9/OPP-115_v1_0.zip", timeout=5)
    assert not (tmp_path / "OPP-115").exists()
