"""Which frozen features of the embedded e5-small carry the OPP-115 categories better: the first
token's or the mean over tokens?

The shipped classifier keeps the standard BERT head (a pooler on the first token) so that a saved
model stays a plain `BertForSequenceClassification` that `transformers.pipeline` loads. E5, though,
was trained with mean pooling. This probe measures the gap before anyone builds another head: one
logistic regression per category on frozen last-layer features of a few hundred OPP-115
policy-split segments, scored by validation macro-F1 at threshold 0.5. A clear gap in favour of
mean pooling would argue for a mean-pooling head; no gap, for the standard one.

    python benchmarks/probe_pooling.py [--train 400] [--validation 200] [--max-length 256]
                                       [--prefix "query: "] [--seed 0]

Reads the corpus from the data root (see privacy_clauses.paths) and builds the embedded encoder on
first use. Features cover each segment's first window only (`--max-length` tokens): enough for a
comparison of poolings, not a score of the classifier.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from transformers import AutoModel, AutoTokenizer

from privacy_clauses.data.corpora import DataConfig, load_splits
from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.evaluate.metrics import binarize, classification_metrics
from privacy_clauses.labels import get_view
from privacy_clauses.model.encoder import EMBEDDED_E5_SMALL, resolve_encoder

BATCH_SIZE = 32


def sample(segments: list[Segment], n: int, rng: np.random.Generator) -> list[Segment]:
    picked = rng.choice(len(segments), size=min(n, len(segments)), replace=False)
    return [segments[i] for i in sorted(picked)]


@torch.inference_mode()
def features(texts: list[str], model, tokenizer, max_length: int) -> dict[str, np.ndarray]:
    """First-token and attention-masked mean of the last hidden layer, one row per text."""
    first = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    mean = np.zeros_like(first)
    order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
    for start in range(0, len(texts), BATCH_SIZE):
        rows = order[start:start + BATCH_SIZE]
        batch = tokenizer([texts[i] for i in rows], truncation=True, max_length=max_length,
                          padding=True, return_tensors="pt")
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        weights = batch["attention_mask"].unsqueeze(-1).float()
        first[rows] = hidden[:, 0].numpy()
        mean[rows] = ((hidden * weights).sum(1) / weights.sum(1)).numpy()
    return {"first-token": first, "mean": mean}


def probe(train_x: np.ndarray, train_y: np.ndarray, train_mask: np.ndarray, test_x: np.ndarray,
          seed: int) -> np.ndarray:
    """Per category, a balanced logistic regression on the annotated training rows; test probabilities."""
    scaler = StandardScaler().fit(train_x)
    train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    scores = np.zeros((len(test_x), train_y.shape[1]))
    for j in range(train_y.shape[1]):
        rows = train_mask[:, j] > 0
        y = train_y[rows, j]
        if len(np.unique(y)) < 2:  # nothing to learn: predict the one class seen (or negative)
            scores[:, j] = float(y[0]) if y.size else 0.0
            continue
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
        scores[:, j] = clf.fit(train_x[rows], y).predict_proba(test_x)[:, 1]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=400, help="training segments to sample")
    parser.add_argument("--validation", type=int, default=200, help="validation segments to sample")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per segment (first window)")
    parser.add_argument("--prefix", default="", help='text prefix, e.g. "query: " as E5 suggests for classification')
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = DataConfig()  # OPP-115, policy split, opp115-10, majority rule
    splits = load_splits(data)
    rng = np.random.default_rng(args.seed)
    train, validation = sample(splits["train"], args.train, rng), sample(splits["validation"], args.validation, rng)
    train_y, train_mask = label_matrix(train, data.view)
    val_y, val_mask = label_matrix(validation, data.view)

    source = resolve_encoder(EMBEDDED_E5_SMALL)
    tokenizer, model = AutoTokenizer.from_pretrained(source), AutoModel.from_pretrained(source).eval()
    start = time.perf_counter()
    train_features = features([args.prefix + s.model_input for s in train], model, tokenizer, args.max_length)
    val_features = features([args.prefix + s.model_input for s in validation], model, tokenizer, args.max_length)
    print(f"{len(train)} train / {len(validation)} validation segments, features in "
          f"{time.perf_counter() - start:.0f} s, prefix {args.prefix!r}")

    labels = list(get_view(data.view).labels)
    print(f"{'pooling':<12} {'macro-F1':>9} {'micro-F1':>9}")
    for pooling in train_features:
        scores = probe(train_features[pooling], train_y, train_mask, val_features[pooling], args.seed)
        metrics = classification_metrics(val_y, binarize(scores, 0.5), labels, val_mask)
        print(f"{pooling:<12} {metrics['macro_f1']:>9.3f} {metrics['micro_f1']:>9.3f}")


if __name__ == "__main__":
    main()
