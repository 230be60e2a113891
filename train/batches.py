"""Training examples as token windows, and the batches an epoch walks through.

A segment longer than the model's window is cut into the same overlapping windows that inference
uses (`ClauseClassifier.windows`), and each window becomes one training example carrying its
whole segment's targets and annotation mask. Inference takes a category's maximum over windows,
so a window is trained to say what its segment says; a window that lacks the sentence behind a
label is then a noisy positive, which beats never showing the model the end of long segments.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.labels import LabelView
from privacy_clauses.model.classifier import ClauseClassifier

# Batches are formed inside chunks of this many batches: long enough for similar lengths to
# meet, short enough that batch contents still change from epoch to epoch.
BUCKET_BATCHES = 50


@dataclass
class WindowData:
    """One example per window: token ids, owning segment, the segment's targets and mask.

    `hidden` holds, once computed, each window's hidden states as they enter the first trainable
    layer (unpadded, one (length, hidden_size) tensor per window); None while not cached.
    """

    input_ids: list[list[int]]
    segment_index: np.ndarray
    targets: torch.Tensor
    mask: torch.Tensor
    n_segments: int
    hidden: list[torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(ids) for ids in self.input_ids], dtype=np.int64)


def encode_segments(classifier: ClauseClassifier, segments: Sequence[Segment], view: LabelView | str) -> WindowData:
    """Windows of every segment's model input (the clause after its list lead-in, if any), each
    with its segment's targets and annotation mask."""
    windows = classifier.windows([s.model_input for s in segments])
    targets, mask = label_matrix(segments, view)
    rows = windows.text_index
    return WindowData(windows.input_ids, rows, torch.from_numpy(targets[rows]), torch.from_numpy(mask[rows]),
                      len(segments))


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar-length windows, so dynamic padding wastes little.

    The windows are shuffled, sorted by length within chunks of BUCKET_BATCHES batches, cut into
    batches, and the batches shuffled: every window once per epoch, in an order set by `rng`.
    """
    order = rng.permutation(len(lengths))
    chunk = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def pad_hidden(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad cached hidden states with zeros; returns them and the attention mask.

    The padded positions are masked out of attention, so their values never reach a real token.
    """
    hidden = torch.nn.utils.rnn.pad_sequence(list(states), batch_first=True)
    lengths = torch.tensor([len(s) for s in states], device=hidden.device)
    attention = (torch.arange(hidden.shape[1], device=hidden.device)[None, :] < lengths[:, None]).long()
    return hidden, attention
