"""Batch classification: the Python API, `privacy-clauses classify`, its outputs, resume, HTML reports.

Two models: the tiny random ClauseClassifier of tiny_models (saved to a folder, loaded by the
command) and TriggerModel, a stand-in whose probabilities follow the trigger words, so that
summaries and reports can be checked exactly and a 20 MB document classified in no time.
"""
from __future__ import annotations

import csv
import io
import json
import runpy
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tiny_models import TRIGGERS, write_tiny_base

import privacy_clauses.model.classifier as classifier_module
import privacy_clauses.model.classify as classify_module
import privacy_clauses.model.cli as classify_cli
from privacy_clauses.cli import main
from privacy_clauses.data.documents import DocumentError
from privacy_clauses.evaluate.predictions import read_predictions
from privacy_clauses.labels import OPP115_10
from privacy_clauses.model.classifier import ClauseClassifier
from privacy_clauses.model.classify import DocumentFailure, DocumentResult, classify_document, classify_paths
from privacy_clauses.model.html_report import render_report, report_name, write_report
from privacy_clauses.model.outputs import flat_columns

POLICY_MD = """# Privacy policy

Welcome to our service. This policy explains what we do with your data.

## Data we collect

We collect your name and e-mail address when you register.

We may share your data with partners:

- payment providers, who encrypt your card data
- analytics services

## Your choices

You can optout of marketing e-mails, and you can delete your account at any time.
"""
GERMAN = ("Datenschutzerklärung\n\nWir erheben Ihre E-Mail-Adresse, wenn Sie sich registrieren. Sie "
          "können der Verarbeitung Ihrer Daten jederzeit widersprechen (optout). Wir geben Ihre Daten "
          "nicht an Dritte weiter, außer wenn wir gesetzlich dazu verpflichtet sind.\n")
NESTED_PAGE = """<!DOCTYPE html><html><head><title>Acme privacy</title>
<script>var tracker = 1;</script></head><body><nav><a href="/">Home</a></nav>%s
<h1>Privacy Policy</h1>
<p>We collect your IP address and browser type when you visit our website.</p>
<h2>Sharing</h2>
<p>We share data with analytics providers, and we retain it for twelve months at most.</p>
%s<footer><p>Copyright 2024 Acme.</p></footer></body></html>""" % ("<div>" * 500, "</div>" * 500)
# name: (content, part of the reason it is skipped for)
BAD_FILES = {
    "corrupt.pdf": (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\ngarbage" + bytes(range(256)),
                    "corrupt or unreadable PDF"),
    "binary.txt": (bytes(range(256)) * 40, "binary content"),
    "empty.txt": (b"", "empty file"),
    "rules.txt": (b"--------\n* * * *\n", "no clauses found"),
    "notes.json": (b'{"a": 1}', "unknown type"),
}
GOOD_FILES = {"latin1.txt": GERMAN.encode("latin-1"), "nested.html": NESTED_PAGE.encode("utf-8"),
              "policy.md": POLICY_MD.encode("utf-8")}


class TriggerModel:
    """Probability 0.5 + 0.1 per occurrence of a category's trigger word (up to 0.9), else 0.1."""

    labels = OPP115_10.labels
    thresholds = np.full(len(OPP115_10), 0.5)

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        scores = np.full((len(texts), len(self.labels)), 0.1, dtype=np.float32)
        for i, text in enumerate(texts):
            words = text.lower().replace(",", " ").replace(".", " ").split()
            for j, trigger in enumerate(TRIGGERS):
                if trigger in words:
                    scores[i, j] = min(0.9, 0.5 + 0.1 * words.count(trigger))
        return scores


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ClauseClassifier, thresholds at its median probabilities: some clauses labelled, some not."""
    root = tmp_path_factory.mktemp("tiny")
    classifier = ClauseClassifier.from_base(write_tiny_base(root / "base"), OPP115_10, max_length=16, stride=4,
                                            device="cpu")
    texts = [line for line in POLICY_MD.splitlines() if line.strip()]
    classifier.thresholds = np.median(classifier.predict_proba(texts), axis=0)
    return classifier.save_pretrained(root / "model")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Good and bad documents, some in a subfolder."""
    root = tmp_path / "policies"
    (root / "bad").mkdir(parents=True)
    for name, (data, _) in BAD_FILES.items():
        (root / "bad" / name).write_bytes(data)
    for name, data in GOOD_FILES.items():
        (root / name).write_bytes(data)
    return root


def classify(*args: object) -> int:
    return main(["classify", *map(str, args), "--quiet"])


def expected_order(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


def good(folder: Path) -> list[str]:
    return [str(folder / name) for name in sorted(GOOD_FILES)]


# ------------------------------------------------------------------------------ Python API
def test_classify_document_on_a_text_string(model_dir: Path) -> None:
    classifier = ClauseClassifier.from_pretrained(model_dir, device="cpu")
    result = classifier.classify_document(POLICY_MD)
    assert isinstance(result, DocumentResult) and result.document_id == classify_module.TEXT_DOCUMENT_ID
    assert [s.segment_index for s in result.segments] == list(range(len(result.segments))) and result.segments
    assert result.probabilities.shape == (len(result.segments), len(OPP115_10))
    np.testing.assert_allclose(result.probabilities, classifier.predict_proba([s.model_input for s in result.segments]),
                               atol=1e-6)
    assert [list(p) for p in result.predicted] == classifier.predict([s.model_input for s in result.segments])
    assert result.summary.clauses == len(result.segments)
    assert ("payment providers, who encrypt your card data", "We may share your data with partners:") in \
        [(s.text, s.context) for s in result.segments]


def test_classify_document_reads_files_and_reports_bad_ones(folder: Path) -> None:
    result = classify_document(TriggerModel(), folder / "policy.md")
    assert result.document_id == str(folder / "policy.md") and result.document.format == "markdown"
    assert classify_document(TriggerModel(), str(folder / "policy.md")).summary == result.summary
    with pytest.raises(DocumentError, match="no such file"):
        classify_document(TriggerModel(), folder / "missing.md")
    with pytest.raises(TypeError, match="str or a path"):
        classify_document(TriggerModel(), b"We collect data.")


def test_document_summary_counts_categories_evidence_and_languages() -> None:
    text = ("# Your data\n\nWe collect your name and e-mail address when you register for the service.\n\n"
            "We collect collect your location and share it with our advertising partners.\n\n"
            "Please read this privacy policy of our website and our mobile applications carefully.\n")
    summary = classify_document(TriggerModel(), text, document_id="doc").summary
    collect, share = OPP115_10.labels[TRIGGERS.index("collect")], OPP115_10.labels[TRIGGERS.index("share")]
    assert (summary.document_id, summary.format, summary.clauses) == ("doc", "text", 3)
    assert list(summary.categories) == [collect, share]
    assert summary.categories[collect].clauses == 2
    evidence = summary.categories[collect].evidence
    assert (evidence.segment_index, evidence.probability) == (1, pytest.approx(0.7))
    assert evidence.text.startswith("We collect collect")
    assert summary.categories[share].clauses == 1
    assert summary.languages == {"en": 3}
    assert json.loads(json.dumps(summary.to_dict()))["categories"][collect]["evidence"]["segment_index"] == 1


def test_classify_paths_yields_every_document_in_order_with_failures_and_reasons(folder: Path) -> None:
    model = TriggerModel()
    items = list(classify_paths([folder], model))
    assert [item.document_id for item in items] == expected_order(folder)
    failures = {Path(i.document_id).name: i.reason for i in items if isinstance(i, DocumentFailure)}
    assert sorted(failures) == sorted(BAD_FILES)
    assert all(BAD_FILES[name][1] in reason for name, reason in failures.items())
    results = [i for i in items if isinstance(i, DocumentResult)]
    assert [r.document_id for r in results] == good(folder)
    assert model.calls == [len(r.segments) for r in results]  # one call per document, never mixed
    languages = {Path(r.document_id).name: r.summary.languages for r in results}
    assert next(iter(languages["latin1.txt"])) == "de" and next(iter(languages["nested.html"])) == "en"
    assert any("twelve months" in s.text for s in results[1].segments)  # text 500 levels deep


def test_long_documents_are_classified_in_chunks_of_their_own(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long.txt"
    path.write_text("\n\n".join(f"We collect item {i} and share it." for i in range(5)), encoding="utf-8")
    whole = classify_document(TriggerModel(), path)
    monkeypatch.setattr(classify_module, "CHUNK_SEGMENTS", 2)
    model, steps = TriggerModel(), []
    [chunked] = classify_paths([path], model, progress=steps.append)
    assert model.calls == steps == [2, 2, 1]
    np.testing.assert_array_equal(chunked.probabilities, whole.probabilities)


# ------------------------------------------------------------------------------ the command
def test_folder_of_good_and_bad_files(model_dir: Path, folder: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out" / "labels.jsonl"
    assert classify(folder, "-o", out, "--model", model_dir) == 1
    err = capsys.readouterr().err
    for name, (_, reason) in BAD_FILES.items():
        assert f"skipped {folder / 'bad' / name}: " in err and reason in err
    assert "Traceback" not in err and "%|" not in err  # no progress bars when stderr is not a terminal

    predictions = read_predictions(out)
    ids = [s.document_id for s in predictions.segments]
    assert list(dict.fromkeys(ids)) == good(folder)
    assert predictions.label_names == OPP115_10.labels
    classifier = ClauseClassifier.from_pretrained(model_dir, device="cpu")
    np.testing.assert_allclose(predictions.thresholds, classifier.thresholds)
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) >= {"document_id", "segment_index", "span", "text", "language", "scores", "thresholds",
                          "predicted"}
    assert first["predicted"] == [name for name in OPP115_10.labels
                                  if first["scores"][name] >= first["thresholds"][name]]

    documents = [json.loads(line) for line in out.with_suffix(".documents.jsonl").read_text().splitlines()]
    assert [d["document_id"] for d in documents] == good(folder)
    assert [d["clauses"] for d in documents] == [ids.count(path) for path in good(folder)]
    run = json.loads(out.with_suffix(".run.json").read_text())
    assert (run["documents_read"], run["documents_skipped"], run["clauses"]) == (3, len(BAD_FILES), len(ids))
    assert {Path(s["document_id"]).name for s in run["skipped"]} == set(BAD_FILES)
    assert run["seconds"] > 0 and run["clauses_per_second"] > 0 and run["documents_per_minute"] > 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["labels.documents.jsonl", "labels.jsonl", "labels.run.json"]


def test_csv_and_parquet_hold_the_same_rows_flattened(model_dir: Path, folder: Path, tmp_path: Path) -> None:
    assert classify(folder / "policy.md", "-o", tmp_path / "r.jsonl", "--model", model_dir) == 0
    assert classify(folder / "policy.md", "-o", tmp_path / "r.csv", "--model", model_dir) == 0
    assert classify(folder / "policy.md", "-o", tmp_path / "r.data", "--format", "parquet", "--model", model_dir) == 0
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as f:
        csv_rows = list(csv.DictReader(f))
    parquet = pq.read_table(tmp_path / "r.data")
    columns = flat_columns(OPP115_10.labels)
    probability_columns = [c for c in columns if c.startswith("p_")]
    assert len(set(probability_columns)) == len(OPP115_10) and parquet.column_names == columns
    assert list(csv_rows[0]) == columns and len(csv_rows) == parquet.num_rows == len(records)
    for record, row, prow in zip(records, csv_rows, parquet.to_pylist()):
        assert (prow["span_start"], prow["span_end"]) == tuple(record["span"])
        assert row["headings"] == prow["headings"] == " > ".join(record.get("headings", []))
        assert row["predicted"] == prow["predicted"] == ";".join(record["predicted"])
        assert row["text"] == prow["text"] == record["text"]
        assert [prow[c] for c in probability_columns] == [record["scores"][name] for name in OPP115_10.labels]
        assert [float(row[c]) for c in probability_columns] == [record["scores"][name] for name in OPP115_10.labels]
    assert any(" > " in row["headings"] for row in csv_rows)


def test_records_to_stdout_and_the_run_summary_to_stderr(model_dir: Path, folder: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    assert classify(folder / "policy.md", folder / "latin1.txt", "--model", model_dir) == 0
    captured = capsys.readouterr()
    ids = [json.loads(line)["document_id"] for line in captured.out.splitlines()]
    assert list(dict.fromkeys(ids)) == [str(folder / "policy.md"), str(folder / "latin1.txt")]  # as named
    assert f"2 documents classified, 0 skipped, {len(ids)} clauses" in captured.err
    assert classify(folder / "policy.md", "--format", "csv", "--model", model_dir) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == ids.count(str(folder / "policy.md"))


def test_progress_bars_on_a_terminal_unless_quiet(model_dir: Path, folder: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True
    for extra, shown in (([], True), (["--quiet"], False)):
        monkeypatch.setattr(sys, "stderr", Terminal())
        assert main(["classify", str(folder / "policy.md"), "--model", str(model_dir), *extra]) == 0
        assert ("documents: 100%" in sys.stderr.getvalue()) == shown


def test_a_twenty_megabyte_document_is_read_segmented_and_counted(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    paragraph = (("We collect your name, e-mail address and IP address when you register. We use "
                  "them to provide the service and never share them with third parties. ") * 9).strip()
    big = tmp_path / "big.txt"
    big.write_text("\n\n".join(["1. Data we collect", paragraph] * 15_200), encoding="utf-8")
    assert big.stat().st_size > 20_000_000
    model = TriggerModel()
    monkeypatch.setattr(classify_cli, "load_classifier", lambda name: model)
    out = tmp_path / "big.jsonl"
    assert classify(big, "-o", out) == 0
    assert sum(model.calls) == 15_200 and max(model.calls) == classify_module.CHUNK_SEGMENTS
    run = json.loads(out.with_suffix(".run.json").read_text())
    assert (run["documents_read"], run["clauses"]) == (1, 15_200)
    summary = json.loads(out.with_suffix(".documents.jsonl").read_text())
    assert summary["clauses"] == 15_200 and summary["languages"] == {"en": 15_200}
    with open(out, "rb") as f:
        assert sum(1 for _ in f) == 15_200


# ------------------------------------------------------------------------------ atomic writes and resume
def crash_on_call(monkeypatch: pytest.MonkeyPatch, n: int | None) -> list[int]:
    """Make ClauseClassifier.predict_proba raise on its n-th call (never for None); returns the
    sizes of its calls."""
    calls: list[int] = []
    predict = ClauseClassifier.predict_proba

    def crashing(self: ClauseClassifier, texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        if len(calls) == n:
            raise RuntimeError("simulated crash")
        return predict(self, texts)
    monkeypatch.setattr(ClauseClassifier, "predict_proba", crashing)
    return calls


def test_a_crash_leaves_no_output_and_resume_completes_it_exactly(model_dir: Path, folder: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    reference = tmp_path / "reference.jsonl"
    assert classify(folder, "-o", reference, "--model", model_dir) == 1
    out = tmp_path / "out.jsonl"
    crash_on_call(monkeypatch, 2)  # the second good document
    with pytest.raises(RuntimeError, match="simulated crash"):
        classify(folder, "-o", out, "--model", model_dir)
    assert not out.exists() and not out.with_suffix(".documents.jsonl").exists()
    assert not out.with_suffix(".run.json").exists()
    partial = tmp_path / "out.jsonl.partial"
    first_document = [line for line in reference.read_text().splitlines(keepends=True)
                      if json.loads(line)["document_id"] == good(folder)[0]]
    assert partial.read_text() == "".join(first_document)

    # as if it had stopped while writing the next document: whole lines, then one cut short
    second_document = [line for line in reference.read_text().splitlines(keepends=True)
                       if json.loads(line)["document_id"] == good(folder)[1]]
    with open(partial, "a", encoding="utf-8") as f:
        f.write(second_document[0] + second_document[1][:25])
    with open(tmp_path / "out.jsonl.progress", "a", encoding="utf-8") as f:
        f.write('{"document_id": "' + good(folder)[1][:5])
    monkeypatch.undo()
    calls = crash_on_call(monkeypatch, None)
    capsys.readouterr()
    assert classify(folder, "-o", out, "--model", model_dir, "--resume") == 1
    assert len(calls) == 2  # the documents not finished before
    assert out.read_bytes() == reference.read_bytes()
    assert out.with_suffix(".documents.jsonl").read_bytes() == reference.with_suffix(".documents.jsonl").read_bytes()
    run, reference_run = (json.loads(p.with_suffix(".run.json").read_text()) for p in (out, reference))
    assert run["skipped"] == reference_run["skipped"] and run["clauses"] == reference_run["clauses"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == \
        ["out.documents.jsonl", "out.jsonl", "out.run.json"]

    (tmp_path / "out.jsonl.progress").write_text("{}\n")  # as if stopped just before removing it
    assert classify(folder, "-o", out, "--model", model_dir, "--resume") == 0
    assert "already complete" in capsys.readouterr().err and out.read_bytes() == reference.read_bytes()
    assert not (tmp_path / "out.jsonl.progress").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_other_formats_resume_from_the_json_lines_journal(fmt: str, model_dir: Path, folder: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    reference, out = tmp_path / f"reference.{fmt}", tmp_path / f"out.{fmt}"
    assert classify(folder, "-o", reference, "--model", model_dir) == 1
    crash_on_call(monkeypatch, 3)
    with pytest.raises(RuntimeError):
        classify(folder, "-o", out, "--model", model_dir)
    assert not out.exists() and (tmp_path / f"out.{fmt}.partial").read_text().count("\n") > 0
    monkeypatch.undo()
    assert classify(folder, "-o", out, "--model", model_dir, "--resume") == 1
    if fmt == "csv":
        assert out.read_bytes() == reference.read_bytes()
    else:
        assert pq.read_table(out).equals(pq.read_table(reference))


def test_resume_refuses_other_inputs_and_a_fresh_run_discards_the_journals(model_dir: Path, folder: Path,
                                                                            tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.jsonl"
    crash_on_call(monkeypatch, 2)
    with pytest.raises(RuntimeError):
        classify(folder, "-o", out, "--model", model_dir)
    monkeypatch.undo()
    capsys.readouterr()
    assert classify(folder / "policy.md", "-o", out, "--model", model_dir, "--resume") == 2
    assert "read other documents" in capsys.readouterr().err
    other_model = Path(shutil.copytree(model_dir, tmp_path / "other-model"))
    config = json.loads((other_model / "config.json").read_text())
    (other_model / "config.json").write_text(json.dumps(config | {"thresholds": [0.5] * len(OPP115_10)}))
    assert classify(folder, "-o", out, "--model", other_model, "--resume") == 2
    assert "other labels or thresholds" in capsys.readouterr().err
    assert classify(folder / "policy.md", "-o", out, "--model", model_dir) == 0
    assert "discarding the unfinished run" in capsys.readouterr().err
    assert {s.document_id for s in read_predictions(out).segments} == {str(folder / "policy.md")}
    assert not (tmp_path / "out.jsonl.partial").exists() and not (tmp_path / "out.jsonl.progress").exists()


# ------------------------------------------------------------------------------ models and usage errors
def test_the_shipped_model_is_the_default(model_dir: Path, folder: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(classifier_module, "SHIPPED_DIR", tmp_path / "shipped")
    assert classify(folder / "policy.md") == 2
    err = capsys.readouterr().err
    assert "no shipped model" in err and len(err.strip().splitlines()) == 1
    shutil.copytree(model_dir, tmp_path / "shipped")
    assert classify(folder / "policy.md", "-o", tmp_path / "out.jsonl") == 0
    assert json.loads((tmp_path / "out.run.json").read_text())["model"] == "shipped"


@pytest.mark.parametrize("args, message", [
    (["--model", "{tmp}/nowhere"], "no such model directory"),
    (["--resume"], "--resume needs -o"),
    (["--format", "parquet"], "parquet needs a file"),
    (["-o", "{tmp}/out.txt"], "cannot tell the format"),
    (["-o", "{tmp}/out.csv", "--format", "jsonl"], "contradicts"),
    (["-o", "{tmp}", "--format", "jsonl"], "is a folder"),
    (["--html", "{tmp}/out.csv"], "is a file"),
])
def test_usage_errors_are_one_line_with_exit_status_2(args: list[str], message: str, model_dir: Path,
                                                      folder: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    (tmp_path / "out.csv").touch()
    model = [] if "--model" in args else ["--model", str(model_dir)]
    assert classify(folder / "policy.md", *model, *args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_no_files_and_unknown_options_are_usage_errors(model_dir: Path, folder: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    assert classify(tmp_path / "empty", "--model", model_dir) == 2
    assert "no files in" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        classify(folder, "--frobnicate")
    assert exited.value.code == 2


def test_python_dash_m_is_the_classify_command(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m privacy_clauses.model", "--help"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("privacy_clauses.model", run_name="__main__")
    assert exited.value.code == 0 and "--resume" in capsys.readouterr().out
    assert main(["--help"]) == 0 and "classify" in capsys.readouterr().out


# ------------------------------------------------------------------------------ HTML reports
REPORT_TEXT = """# Privacy policy

Welcome to our service.

## Data & sharing

We collect your name and share it with partners.

Note: <script>alert("x")</script> & other "markup" stays text.

We collect collect your location:

- we encrypt it
- we retain it for a year
"""


class ReportParser(HTMLParser):
    """Tags, clause texts and classes, headings, and anything that would load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.clauses: list[dict[str, str]] = []
        self.texts: list[str] = []
        self.headings: list[str] = []
        self.links: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        self.links += [v for k, v in attrs if k in ("href", "src") and v]
        if tag == "p" and "clause" in (attributes.get("class") or "").split():
            self.clauses.append(attributes)
        if tag == "span" and attributes.get("class") == "text":
            self._in = "text"
            self.texts.append("")
        if tag in ("h2", "h3") and attributes.get("class") == "heading":
            self._in = "heading"
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("span", "h2", "h3"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "text":
            self.texts[-1] += data
        elif self._in == "heading":
            self.headings[-1] += data


def test_html_report_shows_every_clause_once_escaped_and_highlighted(tmp_path: Path) -> None:
    result = classify_document(TriggerModel(), REPORT_TEXT, document_id="policies/acme.md")
    page = render_report(result)
    parser = ReportParser()
    parser.feed(page)
    assert parser.texts == [s.text for s in result.segments]
    assert any("<script>" in text for text in parser.texts) and "<script>" not in page
    assert not {"script", "link", "img", "iframe"} & set(parser.tags)
    assert all(link.startswith("#clause-") for link in parser.links)  # nothing to fetch
    assert parser.headings == ["Privacy policy", "Data & sharing"]
    for segment, predicted, row, attributes in zip(result.segments, result.predicted, result.probabilities,
                                                   parser.clauses):
        classes = attributes["class"].split()
        if predicted:
            top = max(predicted, key=lambda label: row[OPP115_10.labels.index(label)])
            assert f"c{OPP115_10.labels.index(top)}" in classes
        else:
            assert not any(c.startswith("c") and c[1:].isdigit() for c in classes)
        assert all(f"{label}: {p:.3f}" in attributes["title"] for label, p in zip(OPP115_10.labels, row))
        assert ("item" in classes) == (segment.context is not None)
    assert any(not predicted for predicted in result.predicted) and any(result.predicted)
    assert all(label in page for label in OPP115_10.labels)  # the legend
    assert all(f'href="#clause-{c.evidence.segment_index}"' in page for c in result.summary.categories.values())

    path = write_report(result, tmp_path / "reports")
    assert path.read_text(encoding="utf-8") == page and path.name == report_name("policies/acme.md")
    assert report_name("a/acme.md") != report_name("b/acme.md")


def test_html_reports_from_the_command(model_dir: Path, folder: Path, tmp_path: Path) -> None:
    assert classify(folder, "-o", tmp_path / "out.jsonl", "--html", tmp_path / "reports", "--model", model_dir) == 1
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == sorted(report_name(p) for p in good(folder))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    path = write_report(classify_document(TriggerModel(), REPORT_TEXT), tmp_path)
    png = tmp_path / "report.png"
    subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1000,1200",
                    path.as_uri()], check=True, capture_output=True, timeout=120)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
