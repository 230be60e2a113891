import json

import pyarrow.parquet as pq
import yaml

from privacy_clauses.cli import main
from privacy_clauses.evaluate.predictions import read_predictions
from privacy_clauses.labels import OPP115_10, OPP115_12


def test_verbs_are_listed_and_unknown_verbs_fail(capsys):
    assert main([]) == 0
    assert "data" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2


def test_data_stats_and_export(opp115_root, split_file, tmp_path, capsys):
    corpus = ["--path", str(opp115_root), "--split-file", str(split_file)]
    assert main(["data", "stats", *corpus, "--view", "12"]) == 0
    out = capsys.readouterr().out
    assert all(label in out for label in OPP115_12.labels)
    assert main(["data", "export", *corpus, "-o", str(tmp_path / "out")]) == 0
    table = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    assert len(table) == 3 and len(table[0]["label_vector"]) == len(OPP115_10)


def test_data_stats_of_chosen_languages_of_the_translated_set(capsys):
    assert main(["data", "stats", "--source", "opp115-translated", "--languages", "de", "en"]) == 0
    out = capsys.readouterr().out
    assert "language: de | 2608 | 290 |" in out and "language: en | 2608 | 290 |" in out and "language: fr" not in out


def test_data_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    assert main(["data", "stats", "--path", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err


def test_train_then_evaluate_the_baseline(opp115_root, split_file, tmp_path):
    config = {
        "name": "tiny-baseline",
        "data": {"source": "opp115", "path": str(opp115_root), "split_file": str(split_file)},
        "model": {"type": "tfidf-logreg", "C": 1.0},
        "thresholds": "tuned",
        "output_dir": str(tmp_path / "run"),
    }
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    assert main(["train", str(config_path)]) == 0
    run = tmp_path / "run"
    assert (run / "model" / "model.safetensors").is_file()
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["event"] == "validation"
    assert read_predictions(run / "predictions-validation.jsonl").segments  # validation, never test

    out = tmp_path / "report"
    assert main(["evaluate", "--model", str(run / "model"), "--source", "opp115", "--path", str(opp115_root),
                 "--split-file", str(split_file), "--bootstrap", "50", "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["n_samples"] == 2  # the test policy's two segments
    assert (out / "predictions-test.jsonl").is_file() and (out / "f1.png").is_file()


def test_train_config_errors_name_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "data": {"source": "opp115", "colour": 1},
                                   "model": {"type": "tfidf-logreg"}, "output_dir": str(tmp_path)}))
    assert main(["train", str(bad)]) == 2
    assert "data: unknown key(s) colour" in capsys.readouterr().err
    bad.write_text(yaml.safe_dump({"name": "x", "data": {}, "model": {"type": "svm"}, "output_dir": str(tmp_path)}))
    assert main(["train", str(bad)]) == 2
    assert "model.type" in capsys.readouterr().err
    assert main(["train", "no-such-config"]) == 2
    assert "baseline-policy-split" in capsys.readouterr().err  # lists the shipped configs
