"""Predictions files, reports, comparisons and the `evaluate` command, on small made-up data."""
import json
import subprocess
import sys

import numpy as np
import pytest

from privacy_clauses.data.records import Segment
from privacy_clauses.evaluate import markdown
from privacy_clauses.evaluate.cli import main
from privacy_clauses.evaluate.compare import compare_reports, load_references, write_comparison
from privacy_clauses.evaluate.predictions import Predictions, read_predictions, write_predictions
from privacy_clauses.evaluate.report import (build_report, build_runs_report, load_report,
                                             targets_and_mask, write_report)
from privacy_clauses.labels import (FIRST_PARTY, INTRODUCTORY, OPP115_10, OPP115_12, OTHER,
                                    THIRD_PARTY)

LABELS = OPP115_10.labels
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_segments(n_documents=6, per_document=5, seed=0):
    """Policies in two languages (and one with none), each segment with a random label set."""
    rng = np.random.default_rng(seed)
    languages = ["en", "de", None]
    return [Segment(f"policy-{d}", i, f"clause {d}.{i}", languages[d % 3],
                    frozenset(label for label in LABELS if rng.random() < 0.3))
            for d in range(n_documents) for i in range(per_document)]


def make_scores(segments, seed=0, noise=0.6):
    """Scores that mostly, not always, rank a segment's labels above its other categories."""
    rng = np.random.default_rng(seed)
    truth = np.array([[label in s.labels for label in LABELS] for s in segments], dtype=float)
    return np.clip(0.25 + 0.5 * truth + noise * (rng.random(truth.shape) - 0.5), 0, 1)


@pytest.fixture
def segments():
    return make_segments()


@pytest.fixture
def predictions_file(tmp_path, segments):
    return write_predictions(tmp_path / "run" / "test.jsonl", segments, make_scores(segments), LABELS, 0.5)


# --- predictions files -------------------------------------------------------------------------

def test_predictions_round_trip(tmp_path, segments):
    scores = make_scores(segments)
    thresholds = np.linspace(0.3, 0.7, len(LABELS))
    path = write_predictions(tmp_path / "p.jsonl", segments, scores, LABELS, thresholds)
    read = read_predictions(path)
    assert read.segments == segments
    assert np.array_equal(read.scores, scores)
    assert read.label_names == LABELS
    assert np.array_equal(read.thresholds, thresholds)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert list(first["scores"]) == list(LABELS)
    assert first["predicted"] == [l for l, s, t in zip(LABELS, scores[0], thresholds) if s >= t]
    assert {k: first[k] for k in segments[0].to_dict()} == segments[0].to_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["p.jsonl"]  # no temporary file left behind


def test_failed_write_leaves_no_file(tmp_path, segments):
    broken = segments[:2] + [None] + segments[3:]  # fails while writing the third line
    with pytest.raises(AttributeError):
        write_predictions(tmp_path / "p.jsonl", broken, make_scores(segments), LABELS)
    assert list(tmp_path.iterdir()) == []


def test_read_predictions_without_thresholds(tmp_path, segments):
    row = segments[0].to_dict() | {"scores": {label: 0.5 for label in LABELS}}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(row) + "\n\n", encoding="utf-8")  # blank lines are skipped
    read = read_predictions(path)
    assert read.thresholds is None and read.scores.shape == (1, len(LABELS))


@pytest.mark.parametrize("bad_line, message", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "expected a JSON object"),
    (json.dumps({"segment_index": 0, "text": "t", "scores": {}}), "missing field 'document_id'"),
    (json.dumps({"document_id": "d", "segment_index": 0, "text": "t", "scores": {FIRST_PARTY: 0.5}}),
     "scores are for"),
    (json.dumps({"document_id": "d", "segment_index": 0, "text": "t",
                 "scores": {label: 1.5 for label in LABELS}}), r"within \[0, 1\]"),
])
def test_malformed_line_names_file_and_line(predictions_file, bad_line, message):
    lines = predictions_file.read_text(encoding="utf-8").splitlines()
    lines.insert(2, bad_line)
    predictions_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        read_predictions(predictions_file)
    assert str(err.value).startswith(f"{predictions_file}:3: ")


def test_empty_predictions_file(tmp_path):
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="no predictions"):
        read_predictions(tmp_path / "empty.jsonl")


# --- reports -----------------------------------------------------------------------------------

def test_targets_map_into_the_model_labels():
    segments = [Segment("d", 0, "t", labels=frozenset({INTRODUCTORY})),
                Segment("d", 1, "t", labels=frozenset({FIRST_PARTY}),
                        annotated=frozenset({FIRST_PARTY, THIRD_PARTY}))]
    targets, mask = targets_and_mask(segments, LABELS)
    assert targets[0, LABELS.index(OTHER)] == 1  # a 12-label subtype counts as its 10-label parent
    assert mask[1].sum() == 2 and mask[0].all()
    with pytest.raises(ValueError, match="no counterpart"):
        targets_and_mask([Segment("d", 0, "t", labels=frozenset({OTHER}))], OPP115_12.labels)


def test_build_report_contents(segments):
    scores = make_scores(segments)
    report = build_report(segments, scores, LABELS, thresholds=0.4, name="demo", n_bootstrap=100)
    assert report["kind"] == "report" and report["name"] == "demo"
    assert report["thresholds"] == {label: 0.4 for label in LABELS}
    assert report["counts"] == {"segments": 30, "documents": 6,
                                "languages": {"de": 10, "en": 10, "unknown": 10}}
    assert report["bootstrap"]["micro_f1"]["estimate"] == pytest.approx(report["metrics"]["micro_f1"])
    assert list(report["per_language"]) == ["de", "en", "unknown"]
    assert list(report["cross_lingual_gap"]) == ["de", "unknown"]
    assert json.loads(json.dumps(report)) == report


def test_report_markdown_shows_languages_and_their_gap_to_english(segments, tmp_path):
    report = build_report(segments, make_scores(segments), LABELS, n_bootstrap=0)
    write_report(report, tmp_path)
    text = (tmp_path / "report.md").read_text()
    gap = 100 * (report["per_language"]["de"]["macro_f1"] - report["per_language"]["en"]["macro_f1"])
    assert "Macro-F1 − en" in text and f"{gap:+.1f}" in text
    assert "### F1 per category and language" in text and "| Category | de | en | unknown |" in text


def test_report_gives_the_gap_an_interval_when_languages_share_documents(tmp_path):
    english = make_segments(n_documents=6)
    english = [Segment(s.document_id, s.segment_index, s.text, "en", s.labels) for s in english]
    german = [Segment(s.document_id, s.segment_index, f"Klausel {s.segment_index}", "de", s.labels) for s in english]
    segments = english + german
    report = build_report(segments, make_scores(segments), LABELS, n_bootstrap=200)
    interval = report["bootstrap"]["cross_lingual_gap"]["gaps"]["de"]["macro_f1"]
    assert interval["estimate"] == pytest.approx(report["cross_lingual_gap"]["de"]["macro_f1"])
    write_report(report, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "Micro-F1 − en, 95% interval" in text and "Macro-F1 − en, 95% interval" in text
    assert markdown.point_interval(interval["low"], interval["high"]) in text


def test_build_report_options(segments):
    unlabelled = [Segment(s.document_id, s.segment_index, s.text, None, s.labels) for s in segments]
    report = build_report(unlabelled, make_scores(segments), LABELS, n_bootstrap=0)
    assert report["bootstrap"] is None and report["per_language"] is None
    with pytest.raises(ValueError, match="n_bootstrap"):
        build_report(segments, make_scores(segments), LABELS, n_bootstrap=-1)
    with pytest.raises(ValueError, match="unknown category"):
        build_report(segments, make_scores(segments), ["no such category"] * len(LABELS))


def test_write_report_files(tmp_path, segments):
    report = build_report(segments, make_scores(segments), LABELS, name="demo", n_bootstrap=100)
    paths = write_report(report, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "f1.png"]
    assert load_report(tmp_path / "out" / "report.json") == report
    assert (tmp_path / "out" / "f1.png").read_bytes().startswith(PNG_SIGNATURE)
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    for label in LABELS:
        assert f"| {label} |" in text
    assert "| Category | Precision | Recall | F1 | Support |" in text
    assert "| Micro | " in text and "| Samples | " in text
    assert f"| Micro | {markdown.percent(report['metrics']['micro_precision'])} |" in text
    assert "95% confidence intervals" in text and "## Per language" in text


def test_unannotated_category_is_marked(tmp_path):
    segments = [Segment(f"d{i}", 0, "t", "en", frozenset({FIRST_PARTY}) if i % 2 else frozenset(),
                        annotated=frozenset({FIRST_PARTY, THIRD_PARTY})) for i in range(8)]
    report = build_report(segments, make_scores(segments), LABELS, n_bootstrap=50)
    assert set(report["metrics"]["not_annotated"]) == set(LABELS) - {FIRST_PARTY, THIRD_PARTY}
    write_report(report, tmp_path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"| {OTHER} | – | – | – | not annotated |" in text


def test_percent_formatting():
    assert markdown.percent(0.8214, 0.0042) == "82.1 ± 0.4"
    assert markdown.percent(0.872) == "87.2"
    assert markdown.percent(None) == "–"
    assert markdown.interval(0.80312, 0.84) == "80.3–84.0"
    assert markdown.points(-0.0312) == "-3.1" and markdown.points(-0.0312, 0.008) == "-3.1 ± 0.8"


def test_runs_report(tmp_path, segments):
    runs = [read_predictions(write_predictions(tmp_path / f"seed{k}.jsonl", segments,
                                               make_scores(segments, seed=k), LABELS, 0.5))
            for k in range(3)]
    report = build_runs_report(runs, ["seed0", "seed1", "seed2"], name="three seeds")
    singles = [build_report(r.segments, r.scores, r.label_names, n_bootstrap=0)["metrics"] for r in runs]
    micro = [m["micro_f1"] for m in singles]
    assert report["metrics"]["metrics"]["micro_f1"] == pytest.approx(
        {"mean": np.mean(micro), "std": np.std(micro, ddof=1)})
    assert [run["micro_f1"] for run in report["runs"]] == micro
    german_gaps = [build_report(r.segments, r.scores, r.label_names, n_bootstrap=0)["cross_lingual_gap"]["de"]
                   for r in runs]
    german = report["cross_lingual_gap"]["de"]["macro_f1"]
    assert german == pytest.approx({"mean": np.mean([g["macro_f1"] for g in german_gaps]),
                                    "std": np.std([g["macro_f1"] for g in german_gaps], ddof=1)})
    write_report(report, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    spread = report["metrics"]["metrics"]["macro_f1"]
    assert f"| Macro-F1 | {markdown.percent(spread['mean'], spread['std'])} |" in text
    assert "Macro-F1 − en" in text and markdown.points(german["mean"], german["std"]) in text
    assert " ± " in text and all(f"| {label} |" in text for label in LABELS)
    assert (tmp_path / "out" / "f1.png").read_bytes().startswith(PNG_SIGNATURE)


def test_cross_fitted_report(tmp_path, segments):
    scores = make_scores(segments)
    report = build_report(segments, scores, LABELS, name="cross-fit", n_bootstrap=20, cross_fit_folds=3)
    assert report["thresholds"] is None
    assert report["cross_fit"]["folds"] == 3 and report["cross_fit"]["tuned_on"] == "en"
    assert len(report["cross_fit"]["thresholds"]) == 3 and set(report["cross_fit"]["thresholds"][0]) == set(LABELS)
    assert report["bootstrap"]["cross_lingual_gap"] is not None and "de" in report["cross_lingual_gap"]
    write_report(report, tmp_path / "single")
    assert "cross-fitted thresholds (3 folds of documents, tuned on en segments" in \
        (tmp_path / "single" / "report.md").read_text(encoding="utf-8")
    no_english = [s for s in segments if s.language != "en"]
    report = build_report(no_english, make_scores(no_english), LABELS, n_bootstrap=0, cross_fit_folds=2)
    assert report["cross_fit"]["tuned_on"] == "all segments"
    runs = [Predictions(segments, make_scores(segments, seed=k), LABELS, None) for k in range(2)]
    runs_report = build_runs_report(runs, ["a", "b"], cross_fit_folds=3)
    assert [run["cross_fit"]["folds"] for run in runs_report["runs"]] == [3, 3]
    single = build_report(segments, runs[0].scores, LABELS, n_bootstrap=0, cross_fit_folds=3)
    assert runs_report["runs"][0]["macro_f1"] == single["metrics"]["macro_f1"]
    write_report(runs_report, tmp_path / "runs")
    assert "Cross-fitted thresholds" in (tmp_path / "runs" / "report.md").read_text(encoding="utf-8")


def test_runs_report_needs_the_same_segments(segments):
    scores = make_scores(segments)
    run = Predictions(segments, scores, LABELS, None)
    other = Predictions(segments[1:], scores[1:], LABELS, None)
    with pytest.raises(ValueError, match="do not hold the same segments"):
        build_runs_report([run, other], ["a", "b"])


# --- comparison --------------------------------------------------------------------------------

def test_shipped_reference_holds_only_the_known_row():
    (row,) = load_references("privacyglue_opp115_majority")
    assert (row["micro_f1"], row["macro_f1"], row["threshold"], row["n_labels"]) == (0.872, 0.821, 0.5, 12)
    assert "per_category_f1" not in row


def test_compare_with_reference(tmp_path, segments):
    first = build_report(segments, make_scores(segments, seed=1), LABELS, name="first", n_bootstrap=0)
    runs = [read_predictions(write_predictions(tmp_path / f"s{k}.jsonl", segments,
                                               make_scores(segments, seed=k), LABELS))
            for k in range(2)]
    seeds = build_runs_report(runs, ["s0", "s1"], name="seeds")
    comparison = compare_reports([first, seeds], load_references("privacyglue_opp115_majority"))
    assert [row["kind"] for row in comparison["rows"]] == ["report", "runs", "reference"]
    first_f1 = first["metrics"]["per_category"][LABELS[0]]["f1"]
    assert comparison["rows"][0]["per_category_f1"][LABELS[0]] == first_f1
    paths = write_comparison(comparison, tmp_path / "cmp")
    assert [p.name for p in paths] == ["comparison.json", "comparison.md", "comparison.png"]
    assert paths[2].read_bytes().startswith(PNG_SIGNATURE)
    text = paths[1].read_text(encoding="utf-8")
    reference_line = next(line for line in text.splitlines() if line.startswith("| PrivBERT"))
    assert reference_line == "| PrivBERT (PrivacyGLUE) | 87.2 | 82.1 |" + "  |" * len(LABELS)
    assert " ± " in text and "Shankar et al. (2023)" in text


def test_malformed_reference_file(tmp_path):
    path = tmp_path / "refs.json"
    path.write_text(json.dumps({"rows": [{"name": "x", "citation": "y", "micro_f1": 87.2, "macro_f1": 0.8}]}))
    with pytest.raises(ValueError, match="micro_f1 must be a fraction"):
        load_references(path)
    with pytest.raises(FileNotFoundError, match="privacyglue_opp115_majority"):
        load_references(tmp_path / "missing.json")


# --- command line ------------------------------------------------------------------------------

def test_cli_single_run(tmp_path, predictions_file, capsys):
    out = tmp_path / "report"
    assert main(["--predictions", str(predictions_file), "--bootstrap", "50", "--name", "demo",
                 "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["name"] == "demo" and report["bootstrap"]["n_resamples"] == 50
    assert report["thresholds"] == {label: 0.5 for label in LABELS}  # as recorded in the file
    assert (out / "report.md").is_file() and (out / "f1.png").is_file()
    assert "micro-F1" in capsys.readouterr().out


def test_cli_cross_fit(tmp_path, predictions_file, capsys):
    assert main(["--predictions", str(predictions_file), "--cross-fit", "2", "--bootstrap", "0",
                 "-o", str(tmp_path / "a")]) == 0
    assert load_report(tmp_path / "a" / "report.json")["cross_fit"]["folds"] == 2
    assert main(["--predictions", str(predictions_file), "--cross-fit", "7", "-o", str(tmp_path / "b")]) == 2
    assert "from 2 folds to one per document (6), got 7" in capsys.readouterr().err


def test_cli_thresholds(tmp_path, predictions_file):
    assert main(["--predictions", str(predictions_file), "--thresholds", "0.3", "--bootstrap", "0",
                 "-o", str(tmp_path / "a")]) == 0
    assert set(load_report(tmp_path / "a" / "report.json")["thresholds"].values()) == {0.3}
    per_category = {label: 0.1 * (i + 1) for i, label in enumerate(LABELS)}
    (tmp_path / "t.json").write_text(json.dumps(per_category), encoding="utf-8")
    assert main(["--predictions", str(predictions_file), "--thresholds-file",
                 str(tmp_path / "t.json"), "--bootstrap", "0", "-o", str(tmp_path / "b")]) == 0
    assert load_report(tmp_path / "b" / "report.json")["thresholds"] == pytest.approx(per_category)


def test_cli_several_runs_and_compare(tmp_path, segments, predictions_file):
    second = write_predictions(tmp_path / "run" / "seed1.jsonl", segments,
                               make_scores(segments, seed=1), LABELS)
    assert main(["--predictions", str(predictions_file), str(second), "-o", str(tmp_path / "seeds")]) == 0
    seeds = load_report(tmp_path / "seeds" / "report.json")
    assert seeds["kind"] == "runs" and seeds["n_runs"] == 2 and seeds["name"] == "run"
    assert main(["--predictions", str(predictions_file), "--bootstrap", "0",
                 "-o", str(tmp_path / "one")]) == 0
    assert main(["compare", str(tmp_path / "one" / "report.json"),
                 str(tmp_path / "seeds" / "report.json"),
                 "--references", "privacyglue_opp115_majority", "-o", str(tmp_path / "cmp")]) == 0
    rows = json.loads((tmp_path / "cmp" / "comparison.json").read_text(encoding="utf-8"))["rows"]
    assert [row["kind"] for row in rows] == ["report", "runs", "reference"]


def test_cli_errors_exit_2_with_one_line(tmp_path, predictions_file, capsys):
    with predictions_file.open("a", encoding="utf-8") as f:
        f.write("{broken\n")
    n_lines = len(predictions_file.read_text(encoding="utf-8").splitlines())
    assert main(["--predictions", str(predictions_file), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{predictions_file}:{n_lines}: not valid JSON" in err
    assert not (tmp_path / "out").exists()

    assert main(["--predictions", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.jsonl" in err and "Traceback" not in err

    (tmp_path / "r.json").write_text("{}", encoding="utf-8")
    assert main(["compare", str(tmp_path / "r.json"), "-o", str(tmp_path / "cmp")]) == 2
    assert "not a report.json" in capsys.readouterr().err


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "privacy_clauses.evaluate", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--predictions" in result.stdout and "compare" in result.stdout


def test_privacy_clauses_evaluate_dispatches_here(tmp_path, predictions_file):
    from privacy_clauses.cli import main as privacy_clauses_main

    assert privacy_clauses_main(["evaluate", "--predictions", str(predictions_file), "--bootstrap", "0",
                                 "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.md").is_file()
