import csv
import json

import numpy as np
import pytest

from privacy_clauses.data.corpora import DEFAULT_SPLIT_FILE, DataConfig, load_splits
from privacy_clauses.data.mapp import read_mapp, split_mapp
from privacy_clauses.data.opp115 import (html_to_text, read_majority_csv, read_opp115, read_policy_split,
                                         split_by_policy)
from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.data.userfiles import read_annotated, write_annotated
from privacy_clauses.labels import (CONTACT, DATA_SECURITY, FIRST_PARTY, INTRODUCTORY, OPP115_10, OPP115_12,
                                    OTHER, THIRD_PARTY, USER_CHOICE, canonical, to_view)


def by_key(segments):
    return {(s.document_id, s.segment_index): s for s in segments}


def test_html_to_text_keeps_list_items_on_their_own_lines():
    html = "Intro <br> <ul> <li> first item </li> <li> second <b>item</b> </li> </ul>"
    lines = html_to_text(html).splitlines()
    assert lines[0] == "Intro"
    assert [l.lstrip("* ") for l in lines[1:]] == ["first item", "second item"]


def test_opp115_majority_rule_keeps_labels_two_of_three_gave(opp115_root):
    segs = by_key(read_opp115(opp115_root, "opp115-10", "majority"))
    assert segs["1_alpha.com", 0].labels == {OTHER}
    assert segs["1_alpha.com", 1].labels == {FIRST_PARTY}  # User Choice from one annotator only
    assert segs["1_alpha.com", 3].labels == frozenset()    # Data Security from one annotator only
    assert segs["2_beta.org", 1].labels == {USER_CHOICE}
    assert segs["1_alpha.com", 1].text == "We collect your email address when you register."
    assert segs["1_alpha.com", 1].language == "en"


def test_opp115_union_rule_keeps_any_annotators_label(opp115_root):
    segs = by_key(read_opp115(opp115_root, "opp115-10", "union"))
    assert segs["1_alpha.com", 1].labels == {FIRST_PARTY, USER_CHOICE}
    assert segs["1_alpha.com", 3].labels == {DATA_SECURITY}


def test_opp115_twelve_label_view_splits_other_by_other_type(opp115_root):
    majority = by_key(read_opp115(opp115_root, "opp115-12", "majority"))
    assert majority["1_alpha.com", 0].labels == {INTRODUCTORY}  # 2 of 3 said Introductory/Generic
    assert majority["2_beta.org", 2].labels == {CONTACT}
    union = by_key(read_opp115(opp115_root, "opp115-12", "union"))
    assert union["1_alpha.com", 0].labels == {INTRODUCTORY, CONTACT}
    assert to_view(union["1_alpha.com", 0].labels, OPP115_10) == {OTHER}


def test_policy_split_assigns_whole_policies(opp115_root, split_file):
    parts = split_by_policy(read_opp115(opp115_root), read_policy_split(split_file))
    assert {s.document_id for s in parts["train"]} == {"1_alpha.com"}
    assert {s.document_id for s in parts["test"]} == {"3_gamma.net"}


def test_policy_split_rejects_unknown_and_repeated_policies(opp115_root, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": ["1_alpha.com", "9_nowhere"], "validation": [], "test": []}))
    with pytest.raises(ValueError, match="9_nowhere"):
        split_by_policy(read_opp115(opp115_root), read_policy_split(bad))
    bad.write_text(json.dumps({"train": ["1_alpha.com"], "validation": ["1_alpha.com"], "test": []}))
    with pytest.raises(ValueError, match="both train and validation"):
        read_policy_split(bad)


def test_load_splits_drops_unlabelled_segments_unless_asked(opp115_root, split_file):
    config = DataConfig(path=str(opp115_root), split_file=str(split_file))
    assert len(load_splits(config)["train"]) == 3  # segment 3 of alpha has no majority label
    config.keep_unlabeled = True
    assert len(load_splits(config)["train"]) == 4


def test_majority_csv_groups_rows_by_text(tmp_path):
    path = tmp_path / "train.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["We collect and share.", FIRST_PARTY], ["We collect and share.", THIRD_PARTY],
                                 ["Contact us.", CONTACT]])
    segs = read_majority_csv(path)
    assert [s.labels for s in segs] == [{FIRST_PARTY, THIRD_PARTY}, {CONTACT}]
    targets, mask = label_matrix(segs, OPP115_12)
    assert targets.sum() == 3 and mask.all()


def test_mapp_reader_uses_kth_non_empty_line_and_marks_partial_labels(mapp_root):
    segs = by_key(read_mapp(mapp_root))
    german = segs["mapp-de/7_com.example", 2]
    assert german.text == "Wir erheben Ihre E-Mail-Adresse." and german.language == "de"
    assert german.labels == {FIRST_PARTY}
    assert segs["mapp-en/7_com.example", 3].labels == {THIRD_PARTY}
    targets, mask = label_matrix([german], OPP115_10)
    assert mask[0].tolist() == [1.0, 1.0] + [0.0] * 8  # only first and third party annotated
    parts = split_mapp(list(segs.values()))
    sides = {s.document_id: name for name, part in parts.items() for s in part}
    assert sides["mapp-de/7_com.example"] == sides["mapp-en/7_com.example"]  # one app, one side


def test_mapp_reader_leaves_out_unannotated_parts_in_other_languages(mapp_root):
    """A German policy page that also carries its French version: only the German was annotated."""
    text = mapp_root / "German_sanitized_policies" / "7_com.example.txt"
    french = "Nous collectons votre adresse e-mail et la partageons avec nos partenaires publicitaires."
    text.write_text(text.read_text(encoding="utf-8") + french + "\n", encoding="utf-8")
    with open(mapp_root / "German_consolidation" / "7_com.example.csv", "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow([7, 4, "[]", "[]", "[]", "TRAIN", "http://x", True])
    german = read_mapp(mapp_root, ("de",))
    assert [s.segment_index for s in german] == [1, 2, 3]
    assert all(french not in s.text for s in german)


def test_mapp_languages_option_keeps_the_app_split(mapp_root):
    both = load_splits(DataConfig(source="mapp", path=str(mapp_root)))
    english = load_splits(DataConfig(source="mapp", path=str(mapp_root), languages=["en"]))
    for part, segments in english.items():
        assert {s.language for s in segments} <= {"en"}
        assert segments == [s for s in both[part] if s.language == "en"]


@pytest.mark.parametrize("part, n_segments", [("train", 2608), ("validation", 290)])
def test_translated_set_ships_with_the_package(part, n_segments):
    """The same segments, with the same labels and line structure, in English and six translations."""
    segments = load_splits(DataConfig(source="opp115-translated"))[part]
    by_language = {}
    for s in segments:
        by_language.setdefault(s.language, []).append(s)
    assert sorted(by_language) == ["de", "en", "es", "fr", "it", "ru", "zh"]
    english = [(s.document_id, s.segment_index, s.labels) for s in by_language["en"]]
    assert len(english) == n_segments and {label for *_, labels in english for label in labels} == set(OPP115_10.labels)
    for language, translated in by_language.items():
        assert [(s.document_id, s.segment_index, s.labels) for s in translated] == english, language
        if language != "en":
            assert all(s.text != e.text for s, e in zip(translated, by_language["en"]))
            assert all(s.text.count("\n") == e.text.count("\n") for s, e in zip(translated, by_language["en"]))
    german = load_splits(DataConfig(source="opp115-translated", languages=("de",)))[part]
    assert german == by_language["de"]


def test_translated_parts_come_from_different_policies():
    """Training on the train part never sees a policy of the validation part (or of the test)."""
    parts = load_splits(DataConfig(source="opp115-translated"))
    split = read_policy_split(DEFAULT_SPLIT_FILE)
    for part, segments in parts.items():
        assert {s.document_id for s in segments} <= set(split[part]), part


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".jsonl.gz", ".csv.gz"])
def test_user_files_round_trip(tmp_path, suffix):
    segments = [Segment("doc", 0, "We sell nothing.", "en", {THIRD_PARTY}),
                Segment("doc", 1, "Wir speichern nichts.", "de", {FIRST_PARTY}, {FIRST_PARTY, THIRD_PARTY})]
    write_annotated(segments, tmp_path / f"mine{suffix}")
    assert read_annotated(tmp_path / f"mine{suffix}") == segments


def test_user_files_accept_aliases_and_label_strings(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("text,labels\nWe collect and share.,first party; third party\n")
    assert read_annotated(path)[0].labels == {FIRST_PARTY, THIRD_PARTY}
    assert canonical("  USER choice ") == USER_CHOICE


# --- malformed inputs: each error names the file and the line or field -----------------------

def test_bad_json_in_attribute_column(opp115_root):
    path = opp115_root / "annotations" / "2_beta.org.csv"
    rows = list(csv.reader(open(path)))
    rows[2][6] = "{not json"
    csv.writer(open(path, "w", newline="")).writerows(rows)
    with pytest.raises(ValueError, match=r"2_beta.org.csv:3: attributes: not valid JSON"):
        read_opp115(opp115_root)


def test_unknown_category_name(opp115_root):
    path = opp115_root / "annotations" / "3_gamma.net.csv"
    rows = list(csv.reader(open(path)))
    rows[0][5] = "Marketing Stuff"
    csv.writer(open(path, "w", newline="")).writerows(rows)
    with pytest.raises(ValueError, match=r"3_gamma.net.csv:1: category_name: unknown category 'Marketing Stuff'"):
        read_opp115(opp115_root)


def test_missing_columns_and_segment_out_of_range(opp115_root, mapp_root):
    path = opp115_root / "annotations" / "3_gamma.net.csv"
    path.write_text("1,batch,c1,3\n")
    with pytest.raises(ValueError, match=r"3_gamma.net.csv:1: expected at least 7 columns"):
        read_opp115(opp115_root)
    path.write_text('1,batch,c1,3,99,First Party Collection/Use,{}\n')
    with pytest.raises(ValueError, match=r"3_gamma.net.csv:1: segment_id 99 outside"):
        read_opp115(opp115_root)
    mapp_csv = mapp_root / "German_consolidation" / "7_com.example.csv"
    mapp_csv.write_text("policy id,segment\n7,1\n")
    with pytest.raises(ValueError, match=r"7_com.example.csv:1: missing column\(s\): segment_id, category name"):
        read_mapp(mapp_root)


def test_empty_files(opp115_root, tmp_path):
    (opp115_root / "annotations" / "3_gamma.net.csv").write_text("")
    with pytest.raises(ValueError, match=r"3_gamma.net.csv: no annotations \(empty file\)"):
        read_opp115(opp115_root)
    for name in ("empty.jsonl", "empty.csv", "test.csv"):
        (tmp_path / name).write_text("")
    with pytest.raises(ValueError, match="empty.jsonl: no rows"):
        read_annotated(tmp_path / "empty.jsonl")
    with pytest.raises(ValueError, match=r"empty.csv:1: missing column\(s\): text, labels"):
        read_annotated(tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="test.csv: no rows"):
        read_majority_csv(tmp_path / "test.csv")
    with pytest.raises(FileNotFoundError, match="no OPP-115 policies"):
        read_opp115(tmp_path / "nowhere")


def test_user_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"text": "ok", "labels": []}\n{"text": "x", "labels": [\n')
    with pytest.raises(ValueError, match=r"mine.jsonl:2: not valid JSON"):
        read_annotated(path)
    path.write_text('{"text": "ok", "labels": ["Cookies"]}\n')
    with pytest.raises(ValueError, match=r"mine.jsonl:1: unknown category 'Cookies'"):
        read_annotated(path)
    path.write_text('{"labels": []}\n')
    with pytest.raises(ValueError, match=r"mine.jsonl:1: text: missing or empty"):
        read_annotated(path)
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text("text,labels\nfine,Data Retention\nbad,Nonsense\n")
    with pytest.raises(ValueError, match=r"mine.csv:3: unknown category 'Nonsense'"):
        read_annotated(csv_path)
    gz_path = tmp_path / "mine.jsonl.gz"
    gz_path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"mine.jsonl.gz: not a readable gzip file"):
        read_annotated(gz_path)
    with pytest.raises(ValueError, match=r"mine.txt.gz: unknown format '.txt'"):
        read_annotated(tmp_path / "mine.txt.gz")


def test_label_matrix_follows_view_order():
    seg = Segment("d", 0, "t", labels={THIRD_PARTY, INTRODUCTORY})
    targets, _ = label_matrix([seg], OPP115_12)
    assert np.flatnonzero(targets[0]).tolist() == [OPP115_12.index(THIRD_PARTY), OPP115_12.index(INTRODUCTORY)]
    targets10, _ = label_matrix([seg], OPP115_10)
    assert targets10[0, OPP115_10.index(OTHER)] == 1
