"""fit_transformer on a tiny random BERT: the cached path, the masked loss, resuming, and the run end to end."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny_models import tiny_segments, tiny_train_config, write_tiny_base

import privacy_clauses.train.transformer as transformer
from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.labels import OPP115_10
from privacy_clauses.model.classifier import ClauseClassifier, pad_batch
from privacy_clauses.train.batches import encode_segments, length_grouped_batches
from privacy_clauses.train.config import CONFIG_DIR, load_config
from privacy_clauses.train.run import train
from privacy_clauses.train.settings import ModelSettings, TrainingSettings
from privacy_clauses.train.transformer import (Forward, Progress, cache_frozen_states, fit_transformer, freeze,
                                               frozen_hidden, frozen_layer_count, masked_bce, positive_weights,
                                               top_logits, uses_cache)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_base(tmp_path_factory.mktemp("base"), layers=4)


@pytest.fixture
def classifier(base: Path) -> ClauseClassifier:
    return ClauseClassifier.from_base(base, OPP115_10, max_length=16, stride=4, device="cpu", batch_size=4)


def trainable_names(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


# ------------------------------------------------------------------------------ settings
def test_settings_defaults_and_validation() -> None:
    assert ModelSettings.from_dict({"type": "transformer"}).train_top_layers == 4
    assert TrainingSettings.from_dict(None).bf16 == "auto"
    with pytest.raises(ValueError, match="training: unknown key.s. epoch;"):
        TrainingSettings.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="training.learning_rate: .*write 1.0e-4"):
        TrainingSettings.from_dict({"learning_rate": "1e-4"})
    with pytest.raises(ValueError, match="training.bf16"):
        TrainingSettings.from_dict({"bf16": "yes"})
    with pytest.raises(ValueError, match="training.average_epochs: expected a positive integer"):
        TrainingSettings.from_dict({"average_epochs": 0})
    with pytest.raises(ValueError, match="model.train_top_layers"):
        ModelSettings.from_dict({"train_top_layers": 0})
    with pytest.raises(ValueError, match="model.stride"):
        ModelSettings.from_dict({"max_length": 16, "stride": 16})
    with pytest.raises(ValueError, match="model: unknown key.s. pooling"):
        ModelSettings.from_dict({"pooling": "mean"})


def test_shipped_configs_validate() -> None:
    names = sorted(p.stem for p in CONFIG_DIR.glob("e5-small-*.yaml"))
    assert "e5-small-policy-split-multilingual" in names  # the shipped model's recipe
    for name in names:
        config = load_config(name)
        model = ModelSettings.from_dict(config.model)
        TrainingSettings.from_dict(config.training)
        assert model.train_top_layers == 4 and model.freeze_embeddings
        assert config.data.source in ("opp115", "opp115-majority")
        assert all(extra.source in ("mapp", "opp115-translated") for extra in config.extra_train)
        assert all("en" not in extra.languages for extra in config.extra_train if extra.source == "opp115-translated")
    assert load_config("e5-small-policy-split-translated").thresholds == "tuned"
    assert load_config("e5-small-majority").thresholds == "fixed"


# ------------------------------------------------------------------------------ freezing and caching
def test_only_the_top_layers_pooler_and_head_train(classifier: ClauseClassifier) -> None:
    model = classifier.model
    settings = ModelSettings(train_top_layers=2)
    n_frozen = frozen_layer_count(model, settings)
    freeze(model, n_frozen, settings.freeze_embeddings)
    assert n_frozen == 2
    assert trainable_names(model) == {name for name, _ in model.named_parameters()
                                      if name.startswith(("bert.encoder.layer.2.", "bert.encoder.layer.3.",
                                                          "bert.pooler.", "classifier."))}
    assert uses_cache(settings, TrainingSettings(), n_frozen)
    assert not uses_cache(settings, TrainingSettings(cache_frozen=False), n_frozen)
    with pytest.raises(ValueError, match="train_top_layers: 5, but the base has 4 layers"):
        frozen_layer_count(model, ModelSettings(train_top_layers=5))


def test_all_layers_train_without_cache(classifier: ClauseClassifier) -> None:
    model, settings = classifier.model, ModelSettings(train_top_layers="all")
    n_frozen = frozen_layer_count(model, settings)
    freeze(model, n_frozen, settings.freeze_embeddings)
    assert n_frozen == 0 and not uses_cache(settings, TrainingSettings(), n_frozen)
    assert trainable_names(model) == {name for name, _ in model.named_parameters()
                                      if not name.startswith("bert.embeddings.")}


def test_cached_path_logits_equal_full_model_logits(classifier: ClauseClassifier) -> None:
    model, pad_id = classifier.model.eval(), classifier.tokenizer.pad_token_id
    data = encode_segments(classifier, tiny_segments(12, seed=4), OPP115_10)
    assert len(set(data.lengths)) > 3  # padding is exercised
    batch = np.arange(len(data))
    ids, attention = pad_batch(data.input_ids, pad_id)
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=attention).logits
        direct = top_logits(model, frozen_hidden(model, ids, attention, 2), attention, 2)
        data.hidden = cache_frozen_states(model, data, 2, pad_id, batch_size=5, device=torch.device("cpu"))
        cached = Forward(model, 2, pad_id, torch.device("cpu"), bf16=False)(data, batch)
    torch.testing.assert_close(direct, full, rtol=0, atol=1e-5)
    torch.testing.assert_close(cached, full, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------ objective and data
def test_masked_loss_ignores_unannotated_entries() -> None:
    logits = torch.randn(4, 3, requires_grad=True)
    targets = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    mask = torch.tensor([[1.0, 1, 0], [1, 1, 1], [0, 1, 1], [1, 0, 0]])
    loss = masked_bce(logits, targets, mask)
    loss.backward()
    assert (logits.grad[mask == 0] == 0).all() and (logits.grad[mask == 1] != 0).all()
    flipped = torch.where(mask == 0, 1 - targets, targets)
    torch.testing.assert_close(masked_bce(logits, flipped, mask), loss)
    annotated = mask == 1
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[annotated], targets[annotated])
    torch.testing.assert_close(loss, expected)


def test_positive_weights_count_annotated_entries_only() -> None:
    targets = torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]])
    mask = torch.tensor([[1.0, 1, 1], [1, 0, 1], [1, 1, 1], [1, 0, 1]])
    # column 0: 1 positive, 3 negatives; column 1: 1 positive, 1 annotated negative; column 2: none
    torch.testing.assert_close(positive_weights(targets, mask, cap=10.0), torch.tensor([3.0, 1.0, 4.0]))
    assert positive_weights(targets, mask, cap=2.0).max() == 2.0


def test_long_segments_become_windows_with_the_segment_labels(classifier: ClauseClassifier) -> None:
    segments = tiny_segments(6, seed=5, long_every=3)
    data = encode_segments(classifier, segments, OPP115_10)
    targets, mask = label_matrix(segments, OPP115_10)
    counts = np.bincount(data.segment_index, minlength=len(segments))
    assert counts[0] > 1 and counts[3] > 1 and counts[1] == 1
    np.testing.assert_array_equal(data.targets.numpy(), targets[data.segment_index])
    np.testing.assert_array_equal(data.mask.numpy(), mask[data.segment_index])


def test_training_reads_the_list_lead_in(classifier: ClauseClassifier) -> None:
    item = Segment("doc", 0, "your data", labels=frozenset({OPP115_10.labels[0]}), context="we collect")
    data = encode_segments(classifier, [item], OPP115_10)
    assert data.input_ids == [classifier.tokenizer("we collect\nyour data")["input_ids"]]


def test_length_grouped_batches_cover_every_window_once() -> None:
    lengths = np.random.default_rng(0).integers(3, 200, size=1000)
    batches = length_grouped_batches(lengths, 8, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < np.ptp(lengths) / 4  # neighbours in a batch have similar lengths
    again = length_grouped_batches(lengths, 8, np.random.default_rng(1))
    other = length_grouped_batches(lengths, 8, np.random.default_rng(2))
    assert all((a == b).all() for a, b in zip(batches, again))
    assert any(len(a) != len(b) or (a != b).any() for a, b in zip(batches, other))


def test_progress_keeps_the_best_epoch_and_stops_after_patience() -> None:
    progress = Progress()
    assert progress.end_epoch(0.5, patience=2, out_of_budget=False)
    assert not progress.end_epoch(0.4, patience=2, out_of_budget=False) and not progress.finished
    assert not progress.end_epoch(0.5, patience=2, out_of_budget=False) and progress.finished
    assert (progress.epoch, progress.best_epoch, progress.best_score) == (3, 1, 0.5)
    no_validation = Progress()
    assert no_validation.end_epoch(None, patience=1, out_of_budget=False)
    assert no_validation.end_epoch(None, patience=1, out_of_budget=True) and no_validation.finished


# ------------------------------------------------------------------------------ runs
def test_train_end_to_end(tmp_path: Path, base: Path) -> None:
    config = tiny_train_config(tmp_path, base)
    model_dir = train(config)
    out = Path(config.output_dir)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert {"step", "train_loss", "validation_macro_f1", "validation_micro_f1", "seconds"} <= set(epochs[0])
    assert epochs[0]["validation_thresholds"] == "tuned"  # epochs compared as the saved model is used
    assert records[-1]["event"] == "validation"
    assert (out / "checkpoint" / "state.pt").is_file() and (out / "predictions-validation.jsonl").is_file()

    model = ClauseClassifier.from_pretrained(model_dir, precision="fp32")  # fp32, to be saved again
    assert model.labels == OPP115_10.labels and (model.max_length, model.stride) == (16, 4)
    texts = [s.text for s in tiny_segments(5, seed=9)]
    assert model.predict_proba(texts).shape == (5, len(OPP115_10))
    compact = model.save_pretrained(tmp_path / "compact", compact=True)
    np.testing.assert_allclose(ClauseClassifier.from_pretrained(compact, precision="fp32").predict_proba(texts),
                               model.predict_proba(texts), atol=2e-3)


def fit(tmp_path: Path, base: Path, name: str, resume: bool = False, **kwargs) -> ClauseClassifier:
    """fit_transformer on the tiny corpus, in tmp_path/name (resume: with the config written there)."""
    path = tmp_path / name
    config = load_config(path / "tiny.yaml") if resume else tiny_train_config(path, base, **kwargs)
    return fit_transformer(config, tiny_segments(24, seed=1), tiny_segments(10, seed=2), config.output_dir,
                           resume=resume)


def epoch_losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["train_loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_cached_and_uncached_training_agree(tmp_path: Path, base: Path) -> None:
    """Same batches, same dropout draws: the cache changes the speed, not the run. (Weights are
    compared through outputs: Adam turns float noise in near-zero gradients into lr-sized steps.)"""
    cached = fit(tmp_path, base, "cached")
    uncached = fit(tmp_path, base, "uncached", training={"cache_frozen": False})
    np.testing.assert_allclose(epoch_losses(tmp_path / "cached" / "run"),
                               epoch_losses(tmp_path / "uncached" / "run"), rtol=1e-5)
    texts = [s.text for s in tiny_segments(10, seed=7)]
    np.testing.assert_allclose(cached.predict_proba(texts), uncached.predict_proba(texts), atol=2e-3)


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path: Path, base: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    training = {"epochs": 3, "patience": 3, "average_epochs": 2}  # the epochs kept for averaging resume too
    uninterrupted = fit(tmp_path, base, "whole", training=training).model.state_dict()

    original = transformer.save_checkpoint

    def save_then_crash(*args, **kwargs) -> None:
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(transformer, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path, base, "interrupted", training=training)
    monkeypatch.setattr(transformer, "save_checkpoint", original)
    resumed = fit(tmp_path, base, "interrupted", resume=True).model.state_dict()

    for name in uninterrupted:
        torch.testing.assert_close(resumed[name], uninterrupted[name], rtol=0, atol=0)
    log = (tmp_path / "interrupted" / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2, 3]


def test_average_epochs_returns_the_mean_of_the_last_epochs(tmp_path: Path, base: Path) -> None:
    model = fit(tmp_path, base, "averaged", training={"epochs": 3, "patience": 3, "average_epochs": 2}).model
    checkpoint = tmp_path / "averaged" / "run" / "checkpoint"
    recent = load_file(str(checkpoint / "recent.safetensors"))
    last = load_file(str(checkpoint / "last.safetensors"))
    assert set(recent) == {f"{i}.{name}" for i in (0, 1) for name in last}  # two epochs kept, not three
    state = model.state_dict()
    for name in last:
        torch.testing.assert_close(recent[f"1.{name}"], last[name], rtol=0, atol=0)
        torch.testing.assert_close(state[name], (recent[f"0.{name}"] + recent[f"1.{name}"]) / 2)
    assert not all(torch.equal(state[name], last[name]) for name in last)  # not merely the last epoch


def test_resume_needs_a_checkpoint_of_the_same_config(tmp_path: Path, base: Path) -> None:
    config = tiny_train_config(tmp_path, base, training={"epochs": 1})
    segments = tiny_segments(24, seed=1)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        fit_transformer(config, segments, [], config.output_dir, resume=True)
    fit_transformer(config, segments, [], config.output_dir)
    changed = tiny_train_config(tmp_path, base, training={"epochs": 1, "learning_rate": 0.5})
    with pytest.raises(ValueError, match="different config"):
        fit_transformer(changed, segments, [], changed.output_dir, resume=True)


def test_max_steps_caps_training_and_partial_labels_train(tmp_path: Path, base: Path) -> None:
    config = tiny_train_config(tmp_path, base, training={"max_steps": 3, "epochs": 5})
    segments = tiny_segments(24, seed=1) + [Segment("mapp", 0, "we share data", "de",
                                                    frozenset({OPP115_10.labels[1]}),
                                                    frozenset(OPP115_10.labels[:2]))]
    fit_transformer(config, segments, [], config.output_dir)
    records = [json.loads(line) for line in (Path(config.output_dir) / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["step"]) for r in records] == [(1, 3)]
    assert records[0]["validation_macro_f1"] is None


def test_bf16_autocast_trains_on_cpu(tmp_path: Path, base: Path) -> None:
    config = tiny_train_config(tmp_path, base, training={"bf16": True, "max_steps": 2})
    fit_transformer(config, tiny_segments(24, seed=1), tiny_segments(10, seed=2), config.output_dir)
    record = json.loads((Path(config.output_dir) / "metrics.jsonl").read_text())
    assert np.isfinite(record["train_loss"]) and record["step"] == 2
