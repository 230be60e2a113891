"""The `model:` and `training:` sections of a transformer training config, validated.

Every field is checked on its own with an error that names it (`training.learning_rate: ...`),
and an unknown key is an error, since a misspelt option silently left at its default would be
the worst kind of bug in a training run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from privacy_clauses.model.encoder import EMBEDDED_E5_SMALL


@dataclass(frozen=True)
class ModelSettings:
    """`model:` of a transformer config. `stride`: tokens shared by consecutive windows."""

    type: str = "transformer"
    base: str = EMBEDDED_E5_SMALL
    max_length: int = 256
    stride: int = 64
    train_top_layers: int | str = 4
    freeze_embeddings: bool = True

    def __post_init__(self) -> None:
        if self.type != "transformer":
            _fail("model.type", "'transformer'", self.type)
        if not isinstance(self.base, str) or not self.base:
            _fail("model.base", "a Hugging Face model name or a local directory", self.base)
        if not _is_int(self.max_length) or self.max_length < 4:
            _fail("model.max_length", "an integer of at least 4 (tokens per window)", self.max_length)
        if not _is_int(self.stride) or not 0 <= self.stride < self.max_length:
            _fail("model.stride", f"an integer in [0, max_length={self.max_length})", self.stride)
        if self.train_top_layers != "all" and (not _is_int(self.train_top_layers) or self.train_top_layers < 1):
            _fail("model.train_top_layers", "a positive integer or 'all'", self.train_top_layers)
        if not isinstance(self.freeze_embeddings, bool):
            _fail("model.freeze_embeddings", "true or false", self.freeze_embeddings)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "ModelSettings":
        return _from_dict(cls, values, "model")


@dataclass(frozen=True)
class TrainingSettings:
    """`training:` of a transformer config; `max_steps` caps optimizer steps (for smoke tests);
    `average_epochs`: above 1, the model returned is the mean of the last that many epochs' weights
    rather than the best epoch's (early stopping still decides when training ends)."""

    epochs: int = 8
    batch_size: int = 16
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 2
    pos_weight: bool = True
    max_steps: int | None = None
    cache_frozen: bool = True
    bf16: bool | str = "auto"
    average_epochs: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "average_epochs"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                _fail(f"training.{name}", "a positive integer", getattr(self, name))
        if not _is_real(self.learning_rate) or self.learning_rate <= 0:
            _fail("training.learning_rate", "a positive number", self.learning_rate)
        if not _is_real(self.weight_decay) or self.weight_decay < 0:
            _fail("training.weight_decay", "a number of at least 0", self.weight_decay)
        if not _is_real(self.warmup_ratio) or not 0 <= self.warmup_ratio < 1:
            _fail("training.warmup_ratio", "a number in [0, 1)", self.warmup_ratio)
        for name in ("pos_weight", "cache_frozen"):
            if not isinstance(getattr(self, name), bool):
                _fail(f"training.{name}", "true or false", getattr(self, name))
        if self.max_steps is not None and (not _is_int(self.max_steps) or self.max_steps < 1):
            _fail("training.max_steps", "a positive integer or null", self.max_steps)
        if not (isinstance(self.bf16, bool) or self.bf16 == "auto"):
            _fail("training.bf16", "true, false or 'auto'", self.bf16)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "TrainingSettings":
        return _from_dict(cls, values, "training")


def _fail(where: str, expected: str, value: Any) -> None:
    hint = " (YAML reads 1e-4 as a string; write 1.0e-4)" if isinstance(value, str) and _is_number(value) else ""
    raise ValueError(f"{where}: expected {expected}, got {value!r}{hint}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _from_dict(cls, values: dict[str, Any] | None, where: str):
    """Build a settings dataclass, refusing keys it does not know (a typo must not pass silently)."""
    values = values or {}
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(known)}")
    return cls(**values)
