"""Models: the TF-IDF baseline and the fine-tuned transformer (`ClauseClassifier`).

Both offer `labels`, `thresholds`, `predict_proba`, `predict`, `save_pretrained` and
`from_pretrained`; `load_model` picks the right class from a saved directory.
"""
from __future__ import annotations

import json
from pathlib import Path


def load_model(path: str | Path | None = None):
    """Load a saved baseline or transformer classifier from `path` (a directory, or for a
    transformer a Hub id); with no path, the shipped model."""
    from privacy_clauses.model.baseline import MODEL_TYPE, TfidfBaseline

    config_path = None if path is None else Path(path).expanduser() / "config.json"
    if config_path is not None and config_path.is_file():
        try:
            model_type = json.loads(config_path.read_text(encoding="utf-8")).get("model_type")
        except json.JSONDecodeError as err:
            raise ValueError(f"{config_path}: not valid JSON ({err.msg})") from None
        if model_type == MODEL_TYPE:
            return TfidfBaseline.from_pretrained(config_path.parent)
    from privacy_clauses.model.classifier import ClauseClassifier  # imports torch

    return ClauseClassifier.from_pretrained(path)
