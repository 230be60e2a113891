"""Run one training config end to end: read data, fit, pick thresholds on validation, save.

The test split is never read here; scoring on test is `privacy-clauses evaluate`'s job.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import yaml

from privacy_clauses.data.corpora import load_splits
from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.evaluate.metrics import binarize, classification_metrics, tune_thresholds
from privacy_clauses.evaluate.predictions import write_predictions
from privacy_clauses.model.baseline import TfidfBaseline
from privacy_clauses.train.config import TrainConfig


def training_data(config: TrainConfig) -> tuple[list[Segment], list[Segment]]:
    """Train and validation segments: the main corpus's parts plus any extra training corpora."""
    splits = load_splits(config.data)
    if "train" not in splits:
        raise ValueError(f"data: the {config.data.source} corpus has no train split")
    train = list(splits["train"])
    for extra in config.extra_train:
        train += load_splits(extra)["train"]
    return train, list(splits.get("validation", []))


def fit_baseline(config: TrainConfig, train: list[Segment]) -> TfidfBaseline:
    params = {k: v for k, v in config.model.items() if k != "type"}
    try:
        model = TfidfBaseline(config.data.view, **params)
    except TypeError as err:
        raise ValueError(f"model: {err}") from None
    targets, mask = label_matrix(train, model.view)
    return model.fit([s.model_input for s in train], targets, mask)


def log(path: Path, **record) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train as configured; returns the saved model's directory (`<output_dir>/model`)."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(asdict(config), sort_keys=False), encoding="utf-8")
    np.random.seed(config.seed)
    train_segments, validation = training_data(config)
    start = time.perf_counter()
    if config.model["type"] == "tfidf-logreg":
        model = fit_baseline(config, train_segments)
    else:
        from privacy_clauses.train.transformer import fit_transformer  # torch only when needed
        model = fit_transformer(config, train_segments, validation, out, resume=resume)
    seconds = time.perf_counter() - start
    if validation:
        targets, mask = label_matrix(validation, config.data.view)
        scores = model.predict_proba([s.model_input for s in validation])
        if config.thresholds == "tuned":
            model.thresholds = tune_thresholds(targets, scores, mask)
        metrics = classification_metrics(targets, binarize(scores, model.thresholds), list(model.labels), mask)
        write_predictions(out / "predictions-validation.jsonl", validation, scores, list(model.labels), model.thresholds)
        log(out / "metrics.jsonl", event="validation", micro_f1=metrics["micro_f1"],
            macro_f1=metrics["macro_f1"], train_seconds=round(seconds, 1))
    model.save_pretrained(out / "model")
    return out / "model"
