"""Fine-tune a transformer encoder into a `ClauseClassifier`, fast enough for a laptop CPU.

The key design choice: only the top `train_top_layers` encoder layers, the pooler and the
classifier are trained; the embeddings and lower layers stay frozen. Frozen and in eval mode
(no dropout), the lower part is a fixed function of the input, so its output, the hidden states
entering the first trainable layer, is computed ONCE per training and validation window and
cached; every epoch then runs only the top layers forward and backward. Logits from the cache
equal those of the whole model (the tests hold them to 1e-5).

The rest is the usual recipe: multi-label BCE with logits masked by the annotation mask (an
unannotated category is unknown, not negative), optional positive weights, AdamW without decay on
biases and LayerNorms, linear warm-up then decay, length-grouped batches with dynamic padding,
early stopping on validation macro-F1 scored the way the model will be used (with thresholds
tuned on validation when the config tunes them, else at 0.5), the best epoch's weights kept, or
with `average_epochs: K` the mean of the last K epochs' weights, and a checkpoint after every epoch
that `resume=True` continues from with the same result as an uninterrupted run.
"""
from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers import PreTrainedModel, get_linear_schedule_with_warmup
from transformers.masking_utils import create_bidirectional_mask

from privacy_clauses.data.records import Segment, label_matrix
from privacy_clauses.evaluate.metrics import binarize, classification_metrics, tune_thresholds
from privacy_clauses.model.classifier import ClauseClassifier, length_sorted_batches, max_pool, pad_batch
from privacy_clauses.train.batches import WindowData, encode_segments, length_grouped_batches, pad_hidden
from privacy_clauses.train.config import TrainConfig
from privacy_clauses.train.settings import ModelSettings, TrainingSettings

POS_WEIGHT_CAP = 10.0
MAX_GRAD_NORM = 1.0
VALIDATION_THRESHOLD = 0.5
CHECKPOINT_DIR = "checkpoint"


# ---------------------------------------------------------------------------------- freezing
def frozen_layer_count(model: PreTrainedModel, settings: ModelSettings) -> int:
    """How many encoder layers, from the bottom, stay frozen."""
    n_layers = len(model.base_model.encoder.layer)
    if settings.train_top_layers == "all":
        return 0
    if settings.train_top_layers > n_layers:
        raise ValueError(f"model.train_top_layers: {settings.train_top_layers}, but the base has {n_layers} layers")
    if model.config.model_type != "bert":
        raise ValueError(f"model.train_top_layers: training only the top layers is implemented for BERT encoders "
                         f"(such as e5); this base is {model.config.model_type!r}: use train_top_layers: all")
    return n_layers - settings.train_top_layers


def freeze(model: PreTrainedModel, n_frozen: int, freeze_embeddings: bool) -> list[torch.nn.Module]:
    """Stop gradients to the embeddings (if asked) and the lowest `n_frozen` layers; returns those modules."""
    encoder = model.base_model
    frozen = ([encoder.embeddings] if freeze_embeddings else []) + list(encoder.encoder.layer[:n_frozen])
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def uses_cache(model_settings: ModelSettings, settings: TrainingSettings, n_frozen: int) -> bool:
    """Caching needs everything below the first trainable layer frozen, embeddings included."""
    return settings.cache_frozen and model_settings.freeze_embeddings and n_frozen > 0


def set_train_mode(model: PreTrainedModel, frozen: Sequence[torch.nn.Module]) -> None:
    """Train mode for what trains; eval mode (no dropout) for the frozen part, which keeps it the
    deterministic function the cache stands for, whether or not the cache is used."""
    model.train()
    for module in frozen:
        module.eval()


# ---------------------------------------------------------------------------------- forward paths
def _attention_bias(model: PreTrainedModel, hidden: torch.Tensor, attention_mask: torch.Tensor):
    """The attention mask in the form the model's layers take, built as BertModel builds it."""
    return create_bidirectional_mask(config=model.base_model.config, inputs_embeds=hidden,
                                     attention_mask=attention_mask)


def frozen_hidden(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  n_frozen: int) -> torch.Tensor:
    """Hidden states entering layer `n_frozen`: embeddings, then the frozen layers."""
    encoder = model.base_model
    hidden = encoder.embeddings(input_ids=input_ids)
    bias = _attention_bias(model, hidden, attention_mask)
    for layer in encoder.encoder.layer[:n_frozen]:
        hidden = layer(hidden, bias)
    return hidden


def top_logits(model: PreTrainedModel, hidden: torch.Tensor, attention_mask: torch.Tensor,
               n_frozen: int) -> torch.Tensor:
    """Logits from the hidden states entering layer `n_frozen`: the remaining layers, then
    BertForSequenceClassification's head (pooler on the first token, dropout, classifier)."""
    encoder = model.base_model
    bias = _attention_bias(model, hidden, attention_mask)
    for layer in encoder.encoder.layer[n_frozen:]:
        hidden = layer(hidden, bias)
    return model.classifier(model.dropout(encoder.pooler(hidden)))


@torch.no_grad()
def cache_frozen_states(model: PreTrainedModel, data: WindowData, n_frozen: int, pad_id: int,
                        batch_size: int, device: torch.device) -> list[torch.Tensor]:
    """Every window's frozen-part output, unpadded, in float32 (no_grad, not inference_mode:
    the cached tensors feed training)."""
    model.eval()
    states: list[torch.Tensor] = [torch.empty(0)] * len(data)
    batches = length_sorted_batches(data.lengths, batch_size)
    for batch in tqdm(batches, desc=f"running the {n_frozen} frozen layers once", unit="batch", leave=False):
        ids, attention = pad_batch([data.input_ids[i] for i in batch], pad_id)
        hidden = frozen_hidden(model, ids.to(device), attention.to(device), n_frozen)
        for row, i in enumerate(batch):
            states[i] = hidden[row, :len(data.input_ids[i])].float().clone()
    return states


@dataclass
class Forward:
    """Logits for a batch of windows: from cached frozen states when the data has them, else
    through the whole model; under bf16 autocast when asked."""

    model: PreTrainedModel
    n_frozen: int
    pad_id: int
    device: torch.device
    bf16: bool

    def __call__(self, data: WindowData, batch: np.ndarray) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            if data.hidden is not None:
                hidden, attention = pad_hidden([data.hidden[i] for i in batch])
                logits = top_logits(self.model, hidden.to(self.device), attention.to(self.device), self.n_frozen)
            else:
                ids, attention = pad_batch([data.input_ids[i] for i in batch], self.pad_id)
                logits = self.model(input_ids=ids.to(self.device), attention_mask=attention.to(self.device)).logits
        return logits.float()


def use_bf16(setting: bool | str, device: torch.device) -> bool:
    """"auto": bf16 on a GPU that supports it; on a CPU it is off unless asked for explicitly."""
    if setting == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return bool(setting)


# ---------------------------------------------------------------------------------- objective
def masked_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
               pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy averaged over annotated entries only: an entry with mask 0 adds
    nothing and gets no gradient, rather than being taught as a negative."""
    losses = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp(min=1)


def positive_weights(targets: torch.Tensor, mask: torch.Tensor, cap: float = POS_WEIGHT_CAP) -> torch.Tensor:
    """Per category, negatives / positives among annotated entries, within [1, cap]: rare
    categories' positives count more, none count less; a category without positives gets the cap."""
    positives = (targets * mask).sum(0)
    negatives = ((1 - targets) * mask).sum(0)
    return (negatives / positives.clamp(min=1)).clamp(1.0, cap)


def build_optimizer(model: PreTrainedModel, settings: TrainingSettings) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; no weight decay on biases and LayerNorm weights (1-D)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": settings.weight_decay},
              {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=settings.learning_rate)


def trainable_state(model: PreTrainedModel) -> dict[str, torch.Tensor]:
    """A CPU copy of the trainable parameters: all that training changes."""
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def average_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of parameter sets of one model (checkpoint averaging: the mean of
    late epochs sits in a flatter region than any one of them, which makes zero-shot and
    cross-lingual transfer steadier; Schmidt et al., ACL Findings 2023)."""
    return {name: torch.stack([state[name] for state in states]).mean(0) for name in states[0]}


# ---------------------------------------------------------------------------------- epochs
@dataclass
class Progress:
    """Where training stands after `epoch` completed epochs; saved in every checkpoint."""

    epoch: int = 0
    step: int = 0
    best_score: float | None = None
    best_epoch: int = 0
    stale_epochs: int = 0
    finished: bool = False

    def end_epoch(self, score: float | None, patience: int, out_of_budget: bool) -> bool:
        """Record an epoch's validation score; True if it is the best so far (without validation
        data every epoch is, so the last one is kept). Training ends after `patience` epochs without
        improvement or when the epoch/step budget is spent."""
        self.epoch += 1
        improved = score is None or self.best_score is None or score > self.best_score
        if improved:
            self.best_score, self.best_epoch, self.stale_epochs = score, self.epoch, 0
        else:
            self.stale_epochs += 1
        self.finished = out_of_budget or self.stale_epochs >= patience
        return improved


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of an epoch's randomness (batch order, dropout). Derived from (seed, epoch) alone,
    so a resumed run replays exactly what an uninterrupted one would have done."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_epoch(forward: Forward, data: WindowData, batches: list[np.ndarray], optimizer: torch.optim.Optimizer,
                scheduler, pos_weight: torch.Tensor | None, progress: Progress, total_steps: int, bar: tqdm) -> float:
    """One pass over the batches (stopping at `total_steps`); returns the mean training loss."""
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    losses = []
    for batch in batches:
        if progress.step >= total_steps:
            break
        logits = forward(data, batch)
        loss = masked_bce(logits, data.targets[batch].to(forward.device), data.mask[batch].to(forward.device),
                          pos_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, MAX_GRAD_NORM)
        optimizer.step()
        scheduler.step()
        progress.step += 1
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def window_probabilities(forward: Forward, data: WindowData, batch_size: int) -> np.ndarray:
    """Sigmoid outputs per window, the whole model in eval mode."""
    forward.model.eval()
    scores = np.zeros((len(data), data.targets.shape[1]), dtype=np.float32)
    for batch in length_sorted_batches(data.lengths, batch_size):
        scores[batch] = torch.sigmoid(forward(data, batch)).cpu().numpy()
    return scores


def validation_f1(forward: Forward, data: WindowData, segments: Sequence[Segment], labels: Sequence[str],
                  view: str, batch_size: int, tuned: bool) -> tuple[float, float]:
    """Macro- and micro-F1 of segments (max over windows), at thresholds tuned on these segments
    if `tuned` (as `train.run` will tune them for the saved model), else at 0.5. Epochs are
    compared as they would be used: an epoch whose scores need other thresholds is not penalised."""
    scores = max_pool(window_probabilities(forward, data, batch_size), data.segment_index, data.n_segments)
    targets, mask = label_matrix(segments, view)
    thresholds = tune_thresholds(targets, scores, mask) if tuned else VALIDATION_THRESHOLD
    metrics = classification_metrics(targets, binarize(scores, thresholds), list(labels), mask)
    return metrics["macro_f1"], metrics["micro_f1"]


# ---------------------------------------------------------------------------------- checkpoints
def config_fingerprint(config: TrainConfig) -> str:
    """What a checkpoint must agree with to be resumed: everything that shapes the run but where it is written."""
    shaping = {"data": asdict(config.data), "extra_train": [asdict(d) for d in config.extra_train],
               "model": config.model, "training": config.training, "seed": config.seed}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()


def save_checkpoint(directory: Path, model: PreTrainedModel, best: dict[str, torch.Tensor],
                    recent: Sequence[dict[str, torch.Tensor]], optimizer: torch.optim.Optimizer, scheduler,
                    progress: Progress, fingerprint: str) -> None:
    """Write the checkpoint beside the previous one, then swap it in, so that a crash while writing
    leaves the previous one whole. Parameters (the last epoch's, the best epoch's and the recent
    epochs' kept for averaging) go to safetensors; the optimizer and scheduler state (plain tensors
    and numbers) to torch.save, read back with weights_only=True."""
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_file(trainable_state(model), str(partial / "last.safetensors"))
    save_file(best, str(partial / "best.safetensors"))
    save_file({f"{i}.{name}": tensor for i, state in enumerate(recent) for name, tensor in state.items()},
              str(partial / "recent.safetensors"))
    torch.save({"progress": asdict(progress), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "config_fingerprint": fingerprint}, partial / "state.pt")
    previous = directory.with_name(directory.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if directory.exists():
        directory.rename(previous)
    partial.rename(directory)
    shutil.rmtree(previous, ignore_errors=True)


def load_checkpoint(directory: Path, model: PreTrainedModel, optimizer: torch.optim.Optimizer, scheduler,
                    fingerprint: str) -> tuple[Progress, dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Restore the last completed epoch; returns the progress, the best epoch's parameters and
    the recent epochs' parameters kept for averaging (oldest first)."""
    if not (directory / "state.pt").is_file():
        raise FileNotFoundError(f"{directory}: no checkpoint to resume from; run without --resume to start afresh")
    state = torch.load(directory / "state.pt", map_location="cpu", weights_only=True)
    if state["config_fingerprint"] != fingerprint:
        raise ValueError(f"{directory}: the checkpoint was written with a different config (data, model, "
                         "training or seed); resume with the same config, or use another output_dir")
    last = load_file(str(directory / "last.safetensors"))
    if set(last) != {name for name, p in model.named_parameters() if p.requires_grad}:
        raise ValueError(f"{directory}: the checkpoint's parameters do not match the model's trainable ones")
    model.load_state_dict(last, strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    recent: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in load_file(str(directory / "recent.safetensors")).items():
        index, name = key.split(".", 1)
        recent.setdefault(int(index), {})[name] = tensor
    return (Progress(**state["progress"]), load_file(str(directory / "best.safetensors")),
            [recent[i] for i in sorted(recent)])


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------------------------- the run
def fit_transformer(config: TrainConfig, train: Sequence[Segment], validation: Sequence[Segment],
                    out_dir: str | Path, resume: bool = False) -> ClauseClassifier:
    """Fine-tune `config.model.base` on `train`, stop early on `validation`; returns the best epoch's
    model, or with `training.average_epochs: K` above 1 the mean of the last K epochs' weights.

    Writes `out_dir/checkpoint/` after every epoch and appends one JSON line per epoch to
    `out_dir/metrics.jsonl`. With `resume`, continues after the checkpoint's last epoch.
    """
    model_settings = ModelSettings.from_dict(config.model)
    settings = TrainingSettings.from_dict(config.training)
    if not train:
        raise ValueError("no training segments")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)

    # the model, its frozen part, and the data as windows (cached past the frozen part if possible)
    classifier = ClauseClassifier.from_base(model_settings.base, config.data.view, model_settings.max_length,
                                            model_settings.stride)
    model, device, pad_id = classifier.model, classifier.device, classifier.tokenizer.pad_token_id
    n_frozen = frozen_layer_count(model, model_settings)
    frozen = freeze(model, n_frozen, model_settings.freeze_embeddings)
    train_data = encode_segments(classifier, train, config.data.view)
    validation_data = encode_segments(classifier, validation, config.data.view) if validation else None
    if uses_cache(model_settings, settings, n_frozen):
        for data in filter(None, (train_data, validation_data)):
            data.hidden = cache_frozen_states(model, data, n_frozen, pad_id, classifier.batch_size, device)
    forward = Forward(model, n_frozen, pad_id, device, use_bf16(settings.bf16, device))

    # optimisation (the number of batches per epoch does not depend on the shuffle)
    steps_per_epoch = len(length_grouped_batches(train_data.lengths, settings.batch_size, np.random.default_rng(0)))
    total_steps = settings.epochs * steps_per_epoch
    total_steps = min(total_steps, settings.max_steps) if settings.max_steps else total_steps
    optimizer = build_optimizer(model, settings)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * total_steps), total_steps)
    pos_weight = positive_weights(train_data.targets, train_data.mask).to(device) if settings.pos_weight else None

    checkpoint, fingerprint = out_dir / CHECKPOINT_DIR, config_fingerprint(config)
    progress, best, recent = Progress(), trainable_state(model), []
    if resume:
        progress, best, recent = load_checkpoint(checkpoint, model, optimizer, scheduler, fingerprint)
    tuned = config.thresholds == "tuned"

    bar = tqdm(total=total_steps, initial=progress.step, desc=f"training {config.name}", unit="step")
    while not progress.finished:
        start = time.perf_counter()
        seed = epoch_seed(config.seed, progress.epoch + 1)
        torch.manual_seed(seed)
        batches = length_grouped_batches(train_data.lengths, settings.batch_size, np.random.default_rng(seed))
        set_train_mode(model, frozen)
        train_loss = train_epoch(forward, train_data, batches, optimizer, scheduler, pos_weight, progress,
                                 total_steps, bar)
        macro, micro = (validation_f1(forward, validation_data, validation, classifier.labels, config.data.view,
                                      classifier.batch_size, tuned) if validation_data else (None, None))
        out_of_budget = progress.epoch + 1 >= settings.epochs or progress.step >= total_steps
        if progress.end_epoch(macro, settings.patience, out_of_budget):
            best = trainable_state(model)
        if settings.average_epochs > 1:
            recent = [*recent, trainable_state(model)][-settings.average_epochs:]
        append_jsonl(out_dir / "metrics.jsonl", {
            "event": "epoch", "epoch": progress.epoch, "step": progress.step, "train_loss": train_loss,
            "validation_macro_f1": macro, "validation_micro_f1": micro,
            "validation_thresholds": "tuned" if tuned else VALIDATION_THRESHOLD, "best_epoch": progress.best_epoch,
            "seconds": round(time.perf_counter() - start, 2)})
        save_checkpoint(checkpoint, model, best, recent, optimizer, scheduler, progress, fingerprint)
    bar.close()

    model.load_state_dict(average_states(recent) if settings.average_epochs > 1 else best, strict=False)
    model.eval()
    return classifier
