"""Tiny, randomly initialised BERT encoders, tokenizers and corpora, built offline by the tests.

A "base" is what a real base encoder is on disk: a directory with a BertModel in
model.safetensors and a fast tokenizer. Words of the vocabulary trigger categories in the tiny
corpus; category names come from the label views, never spelled here.
"""
from __future__ import annotations

import random
from pathlib import Path

import torch
import yaml
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from privacy_clauses.data.records import Segment
from privacy_clauses.data.userfiles import write_annotated
from privacy_clauses.labels import OPP115_10
from privacy_clauses.train.config import TrainConfig, load_config

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
# One trigger word per category of the 10-label view, in view order, then filler words.
TRIGGERS = ["collect", "share", "optout", "delete", "retain", "encrypt", "change", "dnt", "children", "welcome"]
FILLER = ["we", "you", "your", "the", "data", "may", "and", "our", "service", "information",
          "with", "to", "of", "when", "use", "site", "users", "policy", "this", "it"]
VOCAB = SPECIALS + TRIGGERS + FILLER


def tiny_tokenizer(model_max_length: int = 64) -> PreTrainedTokenizerFast:
    """Lower-cased whitespace words, [CLS] text [SEP], unknown words to [UNK]."""
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    cls, sep = VOCAB.index("[CLS]"), VOCAB.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]", model_max_length=model_max_length)


def write_tiny_base(directory: Path, seed: int = 0, layers: int = 4, hidden: int = 32) -> Path:
    """Save a random BertModel (2 heads, 64 positions) and the tiny tokenizer as a base encoder."""
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=64,
                        initializer_range=0.2)  # wider than BERT's 0.02, so outputs differ visibly between texts
    BertModel(config).save_pretrained(directory)
    tiny_tokenizer().save_pretrained(directory)
    return directory


def tiny_segments(n: int, seed: int = 0, long_every: int = 5, partial_every: int = 4) -> list[Segment]:
    """Segments of filler words with one or two trigger words; every `long_every`-th is long
    (beyond a 16-token window) with its trigger near the end, and every `partial_every`-th (from
    the second on) is annotated for its own categories and the first one only, as MAPP is."""
    rng = random.Random(seed)
    segments = []
    for i in range(n):
        picked = rng.sample(range(len(TRIGGERS)), rng.choice([1, 1, 2]))
        length = 30 if long_every and i % long_every == 0 else rng.randint(3, 8)
        words = [rng.choice(FILLER) for _ in range(length)]
        for j in picked:
            words.insert(len(words) - rng.randint(0, 2), TRIGGERS[j])
        labels = frozenset(OPP115_10.labels[j] for j in picked)
        annotated = labels | {OPP115_10.labels[0]} if partial_every and i % partial_every == 1 else None
        segments.append(Segment("tiny", i, " ".join(words), "en", labels, annotated))
    return segments


def write_tiny_config(tmp_path: Path, base: Path, model: dict | None = None, training: dict | None = None,
                      **top: object) -> Path:
    """A transformer training config over a tiny corpus written as user JSONL files."""
    train_file, validation_file = tmp_path / "train.jsonl", tmp_path / "validation.jsonl"
    write_annotated(tiny_segments(24, seed=1), train_file)
    write_annotated(tiny_segments(10, seed=2), validation_file)
    config = {
        "name": "tiny",
        "seed": 0,
        "data": {"source": "files", "view": OPP115_10.name,
                 "files": {"train": str(train_file), "validation": str(validation_file)}},
        "model": {"type": "transformer", "base": str(base), "max_length": 16, "stride": 4,
                  "train_top_layers": 2, "freeze_embeddings": True} | (model or {}),
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1.0e-3, "weight_decay": 0.01,
                     "warmup_ratio": 0.1, "patience": 5, "pos_weight": True, "cache_frozen": True,
                     "bf16": False} | (training or {}),
        "thresholds": "tuned",
        "output_dir": str(tmp_path / "run"),
    } | top
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def tiny_train_config(tmp_path: Path, base: Path, **kwargs: object) -> TrainConfig:
    return load_config(write_tiny_config(tmp_path, base, **kwargs))
