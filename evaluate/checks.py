"""Argument checks shared by the evaluation modules, so every entry point fails the same clear way."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def as_matrix(name: str, values: Any) -> np.ndarray:
    """`values` as a 2-D array (n_segments, n_categories)."""
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_segments, n_categories), got shape {array.shape}")
    return array


def as_binary(name: str, values: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """`values` as a 0/1 integer matrix, of `shape` when given."""
    array = as_matrix(name, values)
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return array.astype(np.int64)


def as_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The annotation mask as a 0/1 matrix; None means every entry was annotated."""
    return np.ones(shape, dtype=np.int64) if mask is None else as_binary("mask", mask, shape)


def as_scores(scores: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Scores as a float matrix of probabilities (finite, within [0, 1])."""
    array = as_matrix("scores", scores).astype(np.float64)
    if shape is not None and array.shape != shape:
        raise ValueError(f"scores has shape {array.shape}, expected {shape}")
    if not (np.isfinite(array).all() and (array >= 0).all() and (array <= 1).all()):
        raise ValueError("scores must be probabilities within [0, 1]")
    return array


def as_label_names(label_names: Sequence[str], n_categories: int) -> list[str]:
    """The label names as a list, one per category and unique."""
    names = list(label_names)
    if len(names) != n_categories:
        raise ValueError(f"{len(names)} label names for {n_categories} categories")
    if len(set(names)) != len(names):
        raise ValueError(f"label names are not unique: {names}")
    return names


def as_thresholds(thresholds: float | Sequence[float] | np.ndarray, n_categories: int) -> np.ndarray:
    """One threshold per category, from a single float or a sequence; each within [0, 1]."""
    array = np.asarray(thresholds, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(n_categories, float(array))
    if array.shape != (n_categories,):
        raise ValueError(f"thresholds must be one float or one per category ({n_categories}), "
                         f"got shape {array.shape}")
    if not (np.isfinite(array).all() and (array >= 0).all() and (array <= 1).all()):
        raise ValueError(f"thresholds must lie within [0, 1], got {array.tolist()}")
    return array
