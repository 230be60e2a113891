"""Small corpora in the official layouts, written by the tests themselves."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from privacy_clauses.labels import (CONTACT, DATA_SECURITY, FIRST_PARTY, INTRODUCTORY, OTHER,
                                    THIRD_PARTY, USER_CHOICE)

# Per policy: segments (sanitized HTML) and annotations (annotator, segment, category, Other Type).
POLICIES = {
    "1_alpha.com": (
        ["Alpha Privacy Policy <br> <br>",
         "We collect your <strong>email address</strong> when you register.",
         "<ul> <li> We share data with advertisers. </li> <li> We share data with analytics partners. </li> </ul>",
         "We use encryption to protect your data."],
        [("a1", 0, OTHER, INTRODUCTORY), ("a2", 0, OTHER, INTRODUCTORY), ("a3", 0, OTHER, CONTACT),
         ("a1", 1, FIRST_PARTY, None), ("a2", 1, FIRST_PARTY, None), ("a3", 1, USER_CHOICE, None),
         ("a1", 2, THIRD_PARTY, None), ("a2", 2, THIRD_PARTY, None), ("a3", 2, THIRD_PARTY, None),
         ("a1", 3, DATA_SECURITY, None)],
    ),
    "2_beta.org": (
        ["Beta collects your location.", "You can opt out of marketing emails.", "Contact us at privacy@beta.org."],
        [("b1", 0, FIRST_PARTY, None), ("b2", 0, FIRST_PARTY, None), ("b3", 0, FIRST_PARTY, None),
         ("b1", 1, USER_CHOICE, None), ("b2", 1, USER_CHOICE, None),
         ("b1", 2, OTHER, CONTACT), ("b2", 2, OTHER, CONTACT), ("b3", 2, OTHER, CONTACT)],
    ),
    "3_gamma.net": (
        ["Gamma shares your purchases with partners.", "We may collect your IP address."],
        [("c1", 0, THIRD_PARTY, None), ("c2", 0, THIRD_PARTY, None), ("c3", 1, FIRST_PARTY, None),
         ("c1", 1, FIRST_PARTY, None)],
    ),
}


def annotation_row(n: int, policy: str, annotator: str, segment: int, category: str, other_type: str | None) -> list:
    attributes = {"Other Type": {"value": other_type, "selectedText": "x"}} if other_type else {}
    return [n, "batch", annotator, policy.split("_")[0], segment, category, json.dumps(attributes), "1/1/15", "http://x"]


def write_opp115(root: Path, policies: dict = POLICIES) -> Path:
    (root / "sanitized_policies").mkdir(parents=True)
    (root / "annotations").mkdir()
    for name, (segments, annotations) in policies.items():
        (root / "sanitized_policies" / f"{name}.html").write_text("|||".join(segments), encoding="utf-8")
        with open(root / "annotations" / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(annotation_row(n, name, *a) for n, a in enumerate(annotations))
    return root


@pytest.fixture
def opp115_root(tmp_path: Path) -> Path:
    return write_opp115(tmp_path / "OPP-115")


@pytest.fixture
def split_file(tmp_path: Path) -> Path:
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["1_alpha.com"], "validation": ["2_beta.org"], "test": ["3_gamma.net"]}))
    return path


@pytest.fixture
def mapp_root(tmp_path: Path) -> Path:
    root = tmp_path / "MAPP"
    header = ["policy id", "segment_id", "category name", "attribute name", "value name",
              "policy_type", "privacy_policy_link", "MAPP_59"]
    texts = {
        "German": "Datenschutzerklärung\n\nWir erheben Ihre E-Mail-Adresse.\n\nWir geben Daten an Partner weiter.\n",
        "English": "Privacy policy\n\nWe collect your email address.\n\nWe share data with partners.\n",
    }
    for lang, text in texts.items():
        (root / f"{lang}_sanitized_policies").mkdir(parents=True)
        (root / f"{lang}_consolidation").mkdir()
        (root / f"{lang}_sanitized_policies" / "7_com.example.txt").write_text(text, encoding="utf-8")
        with open(root / f"{lang}_consolidation" / "7_com.example.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerow([7, 1, "[]", "[]", "[]", "TRAIN", "http://x", True])
            w.writerow([7, 2, "['First Party']", "['Purpose']", "[]", "TRAIN", "http://x", True])
            w.writerow([7, 3, "['Third Party']", "[]", "[]", "TRAIN", "http://x", True])
    return root
