"""ClauseClassifier on a tiny random BERT: windows, batching, thresholds, saving and loading."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from tiny_models import FILLER, TRIGGERS, tiny_segments, write_tiny_base
from transformers import pipeline

import privacy_clauses.model.classifier as classifier_module
from privacy_clauses.labels import OPP115_10, OPP115_12
from privacy_clauses.model import load_model
from privacy_clauses.model.classifier import COMPACT_WEIGHTS, FULL_WEIGHTS, ClauseClassifier
from privacy_clauses.model.encoder import base_weights_fingerprint

TEXTS = [s.text for s in tiny_segments(12, seed=3)] + ["", "data", "WE collect Your data"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_base(tmp_path_factory.mktemp("base"))


@pytest.fixture
def classifier(base: Path) -> ClauseClassifier:
    return ClauseClassifier.from_base(base, OPP115_10, max_length=16, stride=4, device="cpu", batch_size=4)


def direct_probabilities(classifier: ClauseClassifier, input_ids: list[int]) -> np.ndarray:
    """The model on one window of token ids, without any of the classifier's batching code."""
    with torch.no_grad():
        logits = classifier.model(input_ids=torch.tensor([input_ids])).logits
    return torch.sigmoid(logits)[0].numpy()


def simulate_training(classifier: ClauseClassifier) -> None:
    """Change what training with train_top_layers=1 changes: the top layer, pooler and classifier."""
    top = len(classifier.model.bert.encoder.layer) - 1
    with torch.no_grad():
        for name, p in classifier.model.named_parameters():
            if name.startswith((f"bert.encoder.layer.{top}.", "bert.pooler.", "classifier.")):
                p.add_(0.05 * torch.randn_like(p))


# ------------------------------------------------------------------------------ inference
def test_labels_and_probability_shape(classifier: ClauseClassifier) -> None:
    scores = classifier.predict_proba(TEXTS)
    assert classifier.labels == OPP115_10.labels
    assert classifier.label_view == OPP115_10.name
    assert scores.shape == (len(TEXTS), len(OPP115_10))
    assert ((scores > 0) & (scores < 1)).all()
    assert classifier.predict_proba([]).shape == (0, len(OPP115_10))


def test_short_text_probabilities_are_the_plain_model_output(classifier: ClauseClassifier) -> None:
    text = "we collect your data"
    ids = classifier.tokenizer(text)["input_ids"]
    assert len(classifier.windows([text]).input_ids) == 1
    np.testing.assert_allclose(classifier.predict_proba([text])[0], direct_probabilities(classifier, ids), atol=1e-6)


def test_sorted_batches_are_returned_in_input_order(classifier: ClauseClassifier) -> None:
    together = classifier.predict_proba(TEXTS)
    one_by_one = np.vstack([classifier.predict_proba([t]) for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-6)


def test_predictions_never_use_dropout(classifier: ClauseClassifier) -> None:
    expected = classifier.predict_proba(TEXTS)
    classifier.model.train()  # as a model is right after a training step
    np.testing.assert_array_equal(classifier.predict_proba(TEXTS), expected)


def test_long_text_is_split_into_overlapping_windows(classifier: ClauseClassifier) -> None:
    words = [FILLER[i % len(FILLER)] for i in range(40)]
    windows = classifier.windows([" ".join(words), "data"])
    assert windows.text_index.tolist() == [0, 0, 0, 0, 1]
    assert all(len(ids) <= classifier.max_length for ids in windows.input_ids)
    first, second = windows.input_ids[0][1:-1], windows.input_ids[1][1:-1]
    assert first[-classifier.stride:] == second[:classifier.stride]


def test_trigger_past_the_first_window_is_detected(classifier: ClauseClassifier) -> None:
    text = " ".join(["we"] * 40 + [TRIGGERS[5]])
    windows = classifier.windows([text])
    trigger_id = classifier.tokenizer.convert_tokens_to_ids(TRIGGERS[5])
    assert trigger_id not in windows.input_ids[0] and trigger_id in windows.input_ids[-1]
    per_window = np.vstack([direct_probabilities(classifier, ids) for ids in windows.input_ids])
    np.testing.assert_allclose(classifier.predict_proba([text])[0], per_window.max(axis=0), atol=1e-6)

    first_window_text = " ".join(["we"] * (classifier.max_length - 2))
    first, last = classifier.predict_proba([first_window_text])[0], per_window[-1]
    j = int(np.argmax(last - first))
    assert last[j] > first[j]
    thresholds = np.ones(len(classifier.labels))
    thresholds[j] = (first[j] + last[j]) / 2
    classifier.thresholds = thresholds
    assert classifier.predict([text, first_window_text]) == [[classifier.labels[j]], []]


def test_predict_applies_per_category_thresholds(classifier: ClauseClassifier) -> None:
    scores = classifier.predict_proba(TEXTS)
    classifier.thresholds = np.median(scores, axis=0)
    predicted = classifier.predict(TEXTS)
    for row, labels in zip(scores >= classifier.thresholds, predicted):
        assert labels == [l for l, hit in zip(classifier.labels, row) if hit]
    classifier.thresholds = np.zeros(len(classifier.labels))
    assert all(labels == list(classifier.labels) for labels in classifier.predict(TEXTS))


def test_invalid_arguments_are_refused(classifier: ClauseClassifier, base: Path) -> None:
    with pytest.raises(TypeError, match="wrap it in a list"):
        classifier.predict_proba("one text")
    with pytest.raises(ValueError, match="thresholds: expected 10 values"):
        classifier.thresholds = [0.5, 0.5]
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        classifier.thresholds = np.full(len(classifier.labels), 1.5)
    with pytest.raises(ValueError, match="window_stride"):
        ClauseClassifier.from_base(base, OPP115_10, max_length=16, stride=14)
    with pytest.raises(ValueError, match="window_max_length"):
        ClauseClassifier.from_base(base, OPP115_10, max_length=65)
    with pytest.raises(ValueError, match="batch_size"):
        ClauseClassifier.from_base(base, OPP115_10, batch_size=0)


# ------------------------------------------------------------------------------ full artifacts
def test_full_round_trip_keeps_predictions_and_thresholds(classifier: ClauseClassifier, tmp_path: Path) -> None:
    simulate_training(classifier)
    classifier.thresholds = np.linspace(0.3, 0.7, len(classifier.labels))
    classifier.save_pretrained(tmp_path / "model")
    loaded = ClauseClassifier.from_pretrained(tmp_path / "model", device="cpu", precision="fp32")
    np.testing.assert_array_equal(loaded.thresholds, classifier.thresholds)
    # same weights; memory alignment of the loaded tensors may change float rounding in the last bit
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), classifier.predict_proba(TEXTS), rtol=0, atol=1e-6)
    assert loaded.predict(TEXTS) == classifier.predict(TEXTS)
    assert (loaded.max_length, loaded.stride, loaded.labels) == (16, 4, OPP115_10.labels)
    assert isinstance(load_model(tmp_path / "model"), ClauseClassifier)


def test_saved_directory_is_a_standard_hugging_face_model(classifier: ClauseClassifier, tmp_path: Path) -> None:
    classifier.save_pretrained(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["id2label"] == {str(i): label for i, label in enumerate(OPP115_10.labels)}
    assert config["label2id"] == OPP115_10.label2id
    assert config["thresholds"] == [0.5] * len(OPP115_10)
    assert (config["window_max_length"], config["window_stride"], config["label_view"]) == (16, 4, OPP115_10.name)
    assert {FULL_WEIGHTS, "tokenizer.json"} <= {p.name for p in (tmp_path / "model").iterdir()}

    classify = pipeline("text-classification", model=str(tmp_path / "model"), top_k=None, device="cpu")
    texts = ["we collect your data", "share data with the service"]
    for row, answer in zip(classifier.predict_proba(texts), classify(texts)):
        scores = {item["label"]: item["score"] for item in answer}
        np.testing.assert_allclose([scores[label] for label in classifier.labels], row, atol=1e-5)


def test_other_views_are_kept(base: Path, tmp_path: Path) -> None:
    classifier = ClauseClassifier.from_base(base, OPP115_12, max_length=16, stride=4)
    classifier.save_pretrained(tmp_path / "model")
    loaded = ClauseClassifier.from_pretrained(tmp_path / "model")
    assert (loaded.labels, loaded.label_view) == (OPP115_12.labels, OPP115_12.name)


# ------------------------------------------------------------------------------ compact artifacts
def test_compact_artifact_holds_only_trained_parameters(classifier: ClauseClassifier, tmp_path: Path,
                                                        base: Path) -> None:
    simulate_training(classifier)
    classifier.thresholds = np.full(len(classifier.labels), 0.4)
    directory = classifier.save_pretrained(tmp_path / "compact", compact=True)
    assert {p.name for p in directory.iterdir()} == {"config.json", COMPACT_WEIGHTS}
    with safe_open(str(directory / COMPACT_WEIGHTS), "pt") as f:
        names = set(f.keys())
        assert {f.get_tensor(name).dtype for name in names} == {torch.float16}
    top = len(classifier.model.bert.encoder.layer) - 1
    assert names and all(n.startswith((f"bert.encoder.layer.{top}.", "bert.pooler.", "classifier.")) for n in names)
    assert {"classifier.weight", "classifier.bias"} <= names
    config = json.loads((directory / "config.json").read_text())
    assert config["base_model"] == str(base)
    assert config["base_weights_fingerprint"] == base_weights_fingerprint(base)

    loaded = ClauseClassifier.from_pretrained(directory, precision="fp32")  # storage, not quantization, on trial
    np.testing.assert_array_equal(loaded.thresholds, classifier.thresholds)
    assert loaded.labels == classifier.labels
    # float16 storage: close to, not equal to, the float32 model
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), classifier.predict_proba(TEXTS), atol=2e-3)
    again = loaded.save_pretrained(tmp_path / "again", compact=True)
    np.testing.assert_allclose(ClauseClassifier.from_pretrained(again, precision="fp32").predict_proba(TEXTS),
                               loaded.predict_proba(TEXTS), rtol=0, atol=1e-6)


def test_compact_artifact_refuses_a_different_base(tmp_path: Path) -> None:
    base = write_tiny_base(tmp_path / "base", seed=0)
    classifier = ClauseClassifier.from_base(base, OPP115_10, max_length=16, stride=4)
    simulate_training(classifier)
    directory = classifier.save_pretrained(tmp_path / "compact", compact=True)
    trained_on = base_weights_fingerprint(base)
    shutil.rmtree(base)
    write_tiny_base(base, seed=1)
    other = base_weights_fingerprint(base)
    with pytest.raises(ValueError, match=f"{trained_on}.*{other}"):
        ClauseClassifier.from_pretrained(directory)


def test_compact_and_full_do_not_share_a_directory(classifier: ClauseClassifier, tmp_path: Path) -> None:
    classifier.save_pretrained(tmp_path / "model")
    with pytest.raises(ValueError, match="already holds a full model"):
        classifier.save_pretrained(tmp_path / "model", compact=True)


# ------------------------------------------------------------------------------ loading errors
def test_missing_or_incomplete_directories_are_named(classifier: ClauseClassifier, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        ClauseClassifier.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'empty'}: no config.json"):
        ClauseClassifier.from_pretrained(tmp_path / "empty")
    classifier.save_pretrained(tmp_path / "model")
    (tmp_path / "model" / FULL_WEIGHTS).unlink()
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'model'}: no {FULL_WEIGHTS}"):
        ClauseClassifier.from_pretrained(tmp_path / "model")


@pytest.mark.parametrize("compact", [False, True])
def test_corrupt_weights_are_named(classifier: ClauseClassifier, tmp_path: Path, compact: bool) -> None:
    directory = classifier.save_pretrained(tmp_path / "model", compact=compact)
    weights = directory / (COMPACT_WEIGHTS if compact else FULL_WEIGHTS)
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=str(directory)):
        ClauseClassifier.from_pretrained(directory)


def test_shipped_model_is_the_default(classifier: ClauseClassifier, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_module, "SHIPPED_DIR", tmp_path / "shipped")
    with pytest.raises(FileNotFoundError, match="no shipped model in .*privacy-clauses train e5-small-policy-split"):
        ClauseClassifier.from_pretrained()
    classifier.save_pretrained(tmp_path / "shipped", compact=True)
    np.testing.assert_allclose(ClauseClassifier.from_pretrained(precision="fp32").predict_proba(TEXTS),
                               classifier.predict_proba(TEXTS), atol=2e-3)
