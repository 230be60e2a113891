"""Training configs: YAML files, validated into dataclasses with errors that name the field."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from privacy_clauses.data.corpora import DataConfig

CONFIG_DIR = Path(__file__).parent / "configs"
MODEL_TYPES = ("tfidf-logreg", "transformer")
THRESHOLD_MODES = ("tuned", "fixed")


@dataclass
class TrainConfig:
    """One training run. `data` gives train/validation; `extra_train` adds more training data."""

    name: str
    data: DataConfig
    model: dict[str, Any]
    output_dir: str
    seed: int = 0
    extra_train: list[DataConfig] = field(default_factory=list)
    thresholds: str = "tuned"
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model.get("type") not in MODEL_TYPES:
            raise ValueError(f"model.type: expected one of {', '.join(MODEL_TYPES)}, got {self.model.get('type')!r}")
        if self.thresholds not in THRESHOLD_MODES:
            raise ValueError(f"thresholds: expected one of {', '.join(THRESHOLD_MODES)}, got {self.thresholds!r}")


def find_config(name_or_path: str | Path) -> Path:
    """A config file path, or the name of one shipped in train/configs (with or without .yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{path.stem}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise FileNotFoundError(f"{name_or_path}: no such config file, nor a shipped config (shipped: {names})")


def load_config(name_or_path: str | Path, **overrides: Any) -> TrainConfig:
    """Read and validate a YAML config; `overrides` replace top-level keys (e.g. seed, output_dir)."""
    path = find_config(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    missing = [k for k in ("name", "data", "model", "output_dir") if k not in raw]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
    try:
        raw["data"] = DataConfig.from_dict(raw["data"], "data")
        raw["extra_train"] = [DataConfig.from_dict(d, f"extra_train[{i}]")
                              for i, d in enumerate(raw.get("extra_train") or [])]
        return TrainConfig(**raw)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None
