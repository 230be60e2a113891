"""The fine-tuned transformer classifier: the object the rest of the project (and users) load.

`ClauseClassifier` wraps a standard Hugging Face `AutoModelForSequenceClassification` and its
tokenizer, so a saved directory is an ordinary multi-label text-classification model that
`transformers.pipeline("text-classification", model=dir, top_k=None)` also loads. What it adds:

- no silent truncation: a text longer than `max_length` tokens is cut into overlapping windows
  (`stride` tokens shared by neighbours) and a category's probability is its maximum over the
  windows, so a clause is found wherever it sits in a long segment;
- per-category decision `thresholds`, kept in config.json beside `id2label`;
- CPU-friendly inference: windows sorted by length, batched with dynamic padding, run under
  `torch.inference_mode()`, and put back in input order;
- a choice of inference `precision` (fp32, bf16, int8), the fastest one within 0.5 macro-F1
  points of fp32 by default (see `CPU_DEFAULT_PRECISION` and benchmarks/inference_speed.py);
- a compact artifact for shipping (`save_pretrained(dir, compact=True)`): only the parameters
  training changed, in float16, plus the config; the rest (and the tokenizer) comes from the base
  encoder, recognised by its weights fingerprint.
"""
from __future__ import annotations

import copy
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer,
                          PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase)
from transformers.utils import logging as hf_logging

from privacy_clauses.labels import LabelView, get_view, names_of
from privacy_clauses.model.attention import use_matmul_attention
from privacy_clauses.model.encoder import base_weights_fingerprint, resolve_encoder

if TYPE_CHECKING:
    from privacy_clauses.model.classify import DocumentResult

SHIPPED_DIR = Path(__file__).parent / "shipped"
SHIPPED_HINT = "train one with `privacy-clauses train e5-small-policy-split-translated`"
PROBLEM_TYPE = "multi_label_classification"
FULL_WEIGHTS = "model.safetensors"
# A compact artifact's weights get their own name, so that transformers (or a pipeline) never
# mistakes them for a whole model and fills the missing layers with random numbers.
COMPACT_WEIGHTS = "trained_parameters.safetensors"
DEFAULT_MAX_LENGTH = 256
DEFAULT_STRIDE = 64
# On a CPU, batches of 16 windows beat 32 (benchmarks/inference_speed.py): smaller activations stay
# in cache and below glibc's mmap threshold, so they are not page-faulted in afresh every batch.
DEFAULT_BATCH_SIZE = {"cuda": 128, "cpu": 16}
PRECISIONS = ("fp32", "bf16", "int8")
# The fastest precision within 0.5 macro-F1 points of fp32 on the OPP-115 policy-split test, as
# benchmarks/inference_speed.py measured the shipped model on 2 Zen 4 cores: bf16 runs about 2.8x
# fp32 at +0.05 points. int8 is somewhat faster, but its macro-F1 moves by -1.6 to 0 points with
# the batch size (activation scales are per batch), so it is an opt-in.
CPU_DEFAULT_PRECISION = "bf16"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_LOAD_ERRORS = (OSError, ValueError, RuntimeError, KeyError, SafetensorError)


@dataclass(frozen=True)
class Windows:
    """Token windows of a list of texts: window k holds `input_ids[k]` and belongs to `text_index[k]`."""

    input_ids: list[list[int]]
    text_index: np.ndarray


class ClauseClassifier:
    """Multi-label OPP-115 classifier over a Hugging Face sequence-classification model.

    Parameters
    ----------
    model: a sequence-classification model whose config has `problem_type="multi_label_classification"`,
        `id2label`, and optionally `thresholds`, `window_max_length`, `window_stride`, `label_view`.
    tokenizer: the matching fast tokenizer (windowing relies on its overflow support).
    device: "cpu", "cuda", ...; default: a GPU when present, else the CPU.
    batch_size: windows per forward pass; default 128 on a GPU, 16 on a CPU.
    precision: "fp32", "bf16" or "int8" for inference (see `resolve_precision`); default
        (None): `CPU_DEFAULT_PRECISION` on a CPU, bf16 on a GPU that has it. Like the move to
        `device`, this changes the model in place; only an fp32 classifier can be saved.
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 device: str | torch.device | None = None, batch_size: int | None = None,
                 precision: str | None = None) -> None:
        config = model.config
        if getattr(config, "problem_type", None) != PROBLEM_TYPE:
            raise ValueError(f"model: problem_type must be {PROBLEM_TYPE!r}, got {config.problem_type!r}")
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("tokenizer: a fast (Rust `tokenizers`) tokenizer is needed to cut long texts into windows")
        if tokenizer.pad_token_id is None:
            raise ValueError("tokenizer: it has no padding token, which batching needs")
        self.device = torch.device(device) if device is not None else default_device()
        self.batch_size = DEFAULT_BATCH_SIZE.get(self.device.type, 32) if batch_size is None else batch_size
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.precision = resolve_precision(precision, self.device)
        self.model = prepare_model(model.to(self.device), self.precision)
        self.tokenizer = tokenizer
        self.thresholds = getattr(config, "thresholds", None) or [0.5] * len(self.labels)
        self._check_windows()

    # ------------------------------------------------------------------------------ properties
    @property
    def labels(self) -> tuple[str, ...]:
        """Category names in output-column order (the model's id2label)."""
        id2label = self.model.config.id2label
        return tuple(id2label[i] for i in range(len(id2label)))

    @property
    def label_view(self) -> str | None:
        return getattr(self.model.config, "label_view", None)

    @property
    def max_length(self) -> int:
        """Tokens per window, special tokens included."""
        return getattr(self.model.config, "window_max_length", DEFAULT_MAX_LENGTH)

    @property
    def stride(self) -> int:
        """Tokens shared by consecutive windows of a long text."""
        return getattr(self.model.config, "window_stride", DEFAULT_STRIDE)

    @property
    def thresholds(self) -> np.ndarray:
        """Per-category decision thresholds; they live in the model config, so they are saved with it."""
        return np.asarray(self.model.config.thresholds, dtype=np.float64)

    @thresholds.setter
    def thresholds(self, values: Sequence[float] | np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(self.labels),):
            raise ValueError(f"thresholds: expected {len(self.labels)} values (one per category), "
                             f"got shape {values.shape}")
        if not ((values >= 0) & (values <= 1)).all():
            raise ValueError(f"thresholds: each must lie within [0, 1], got {values.tolist()}")
        self.model.config.thresholds = [float(t) for t in values]

    def _check_windows(self) -> None:
        max_length, stride, limit = self.max_length, self.stride, self.model.config.max_position_embeddings
        specials = self.tokenizer.num_special_tokens_to_add()
        if not isinstance(max_length, int) or not specials < max_length <= limit:
            raise ValueError(f"window_max_length: expected an integer in ({specials}, {limit}] "
                             f"(the model has {limit} positions), got {max_length!r}")
        if not isinstance(stride, int) or not 0 <= stride < max_length - specials:
            raise ValueError(f"window_stride: expected an integer in [0, {max_length - specials}) so that "
                             f"windows of {max_length} tokens advance, got {stride!r}")

    # ------------------------------------------------------------------------------ inference
    def windows(self, texts: Sequence[str]) -> Windows:
        """Cut every text into windows of at most `max_length` tokens overlapping by `stride`.

        A short text is one window, tokenized exactly as the model and the pipeline see it.
        """
        texts = _as_texts(texts)
        if not texts:
            return Windows([], np.zeros(0, dtype=np.int64))
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length, stride=self.stride,
                                 return_overflowing_tokens=True, return_attention_mask=False,
                                 return_token_type_ids=False)
        return Windows(encoded["input_ids"], np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text and one column per category in `labels` order.

        A text's probability for a category is the maximum over its windows: a practice stated
        anywhere in the text counts.
        """
        texts = _as_texts(texts)
        windows = self.windows(texts)
        return max_pool(self._window_probabilities(windows.input_ids), windows.text_index, len(texts))

    def classify_document(self, path_or_text: str | Path) -> DocumentResult:
        """Read (or take as text), segment and classify one policy: its segments, probabilities,
        predicted labels and summary. See privacy_clauses.model.classify.classify_document."""
        from privacy_clauses.model.classify import classify_document  # document readers load only when used

        return classify_document(self, path_or_text)

    def predict(self, texts: Sequence[str]) -> list[list[str]]:
        """The categories whose probability reaches their threshold, per text."""
        hits = self.predict_proba(texts) >= self.thresholds
        return names_of(hits, self.labels)

    @torch.inference_mode()
    def _window_probabilities(self, input_ids: list[list[int]]) -> np.ndarray:
        """Sigmoid outputs per window: batches of similar length, padded per batch, put back in order."""
        self.model.eval()  # no dropout, even right after training
        scores = np.zeros((len(input_ids), len(self.labels)), dtype=np.float32)
        for batch in length_sorted_batches([len(ids) for ids in input_ids], self.batch_size):
            ids, attention = pad_batch([input_ids[i] for i in batch], self.tokenizer.pad_token_id)
            logits = self.model(input_ids=ids.to(self.device), attention_mask=attention.to(self.device)).logits
            scores[batch] = torch.sigmoid(logits.float()).cpu().numpy()
        return scores

    # ------------------------------------------------------------------------------ saving
    def save_pretrained(self, directory: str | Path, compact: bool = False) -> Path:
        """Save in Hugging Face format; `compact=True` writes only what training changed.

        Full: config.json, model.safetensors and the tokenizer files, loadable by `pipeline`.
        Compact: config.json and trained_parameters.safetensors, holding in float16 the
        parameters that differ from the base encoder (for the usual run: the top layers, the
        pooler and the classifier); loading it needs the same base, checked by fingerprint.
        """
        self._require_fp32_weights()
        directory = Path(directory)
        other = directory / (FULL_WEIGHTS if compact else COMPACT_WEIGHTS)
        if other.exists():
            kind = "full" if compact else "compact"
            raise ValueError(f"{directory} already holds a {kind} model ({other.name}); save into another directory")
        directory.mkdir(parents=True, exist_ok=True)
        if compact:
            tensors = {name: _to_float16(name, t) for name, t in self.trained_parameters().items()}
            save_file(tensors, str(directory / COMPACT_WEIGHTS), metadata={"format": "pt"})
            self.model.config.architectures = [type(self.model).__name__]
            self.model.config.save_pretrained(directory)
        else:
            with _quiet_transformers():
                self.model.save_pretrained(directory)
            self.tokenizer.save_pretrained(directory)
        # safetensors creates its files private; an artifact is meant to be shipped and shared
        for weights in directory.glob("*.safetensors"):
            weights.chmod(0o644)
        return directory

    def trained_parameters(self) -> dict[str, torch.Tensor]:
        """The parameters that differ from the base encoder's, plus those the base lacks (the head)."""
        self._require_fp32_weights()
        config = copy.deepcopy(self.model.config)
        base, new = _load_model(_checked_base(config, "this model"), config)
        base_parameters = dict(base.named_parameters())
        return {name: p.detach().cpu() for name, p in self.model.named_parameters()
                if name in new or not torch.equal(p.detach().cpu(), base_parameters[name].detach())}

    def _require_fp32_weights(self) -> None:
        if self.precision != "fp32":
            raise ValueError(f"this classifier's weights were rounded to {self.precision} for inference, which "
                             "cannot be undone; load it with precision='fp32' to save it")

    # ------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | Path | None = None, device: str | torch.device | None = None,
                        batch_size: int | None = None, precision: str | None = None) -> "ClauseClassifier":
        """Load a saved classifier (full or compact); with no argument, the project's shipped model.
        `precision` as in the class docstring: by default the fastest that keeps the quality."""
        directory = _model_directory(path_or_hub_id)
        config = _read_config(directory)
        if (directory / COMPACT_WEIGHTS).is_file():
            model, tokenizer = _load_compact(directory, config)
        else:
            model, tokenizer = _load_full(directory, config)
        return cls(model, tokenizer, device=device, batch_size=batch_size, precision=precision)

    @classmethod
    def from_base(cls, base: str | Path, view: LabelView | str, max_length: int = DEFAULT_MAX_LENGTH,
                  stride: int = DEFAULT_STRIDE, device: str | torch.device | None = None,
                  batch_size: int | None = None) -> "ClauseClassifier":
        """A base encoder with a fresh multi-label head for `view`: where training starts, so in fp32.

        `base` is what `resolve_encoder` takes (the embedded e5-small's name, a local directory, a
        Hub id). Its name and, for a local directory, its weights fingerprint go into the config, so
        that a compact artifact can later find the base and refuse any other.
        """
        view = get_view(view)
        base_dir = resolve_encoder(base)
        config = AutoConfig.from_pretrained(base_dir, num_labels=len(view), id2label=view.id2label,
                                            label2id=view.label2id, problem_type=PROBLEM_TYPE)
        config.label_view = view.name
        config.window_max_length, config.window_stride = max_length, stride
        config.thresholds = [0.5] * len(view)
        config.base_model = str(base)
        config.base_weights_fingerprint = base_weights_fingerprint(base_dir) if Path(base_dir).is_dir() else None
        model, _ = _load_model(base_dir, config)
        return cls(model, _load_tokenizer(base_dir), device=device, batch_size=batch_size, precision="fp32")


# ---------------------------------------------------------------------------------- helpers
def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_supported(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively (AVX512-BF16 or AMX on a CPU); elsewhere bf16 is
    emulated and slower than fp32, for no gain. Torch releases without these CPU checks say no."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    checks = (getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return device.type == "cpu" and any(check is not None and check() for check in checks)


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """The precision to run at on `device`. None: `CPU_DEFAULT_PRECISION` on a CPU, bf16 elsewhere.
    bf16 without hardware support falls back to fp32 (the same results, and faster than emulation);
    int8 is CPU-only, as PyTorch's dynamic quantization is."""
    if precision is None:
        precision = CPU_DEFAULT_PRECISION if device.type == "cpu" else "bf16"
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)} (or None for the default), "
                         f"got {precision!r}")
    if precision == "int8" and device.type != "cpu":
        raise ValueError(f"precision: int8 (dynamic quantization) runs on the CPU only, not on {device.type}; "
                         "use bf16 or fp32 there")
    if precision == "bf16" and not bf16_supported(device):
        return "fp32"
    return precision


def prepare_model(model: PreTrainedModel, precision: str) -> PreTrainedModel:
    """`model` in eval mode, ready to run at `precision`.

    bf16 casts the whole model (on the OPP-115 test as accurate as autocast, and faster: no casts
    on every call) and, on a CPU, swaps the fused attention kernel for plain matmuls, which are
    faster there at e5-small's head size (privacy_clauses.model.attention). int8 replaces every Linear layer, in place, by a dynamically quantized one:
    int8 weights with one scale per output channel, activations quantized per batch on the fly;
    per-channel scales follow e5's uneven weight rows more closely than one scale per tensor.
    """
    model.eval()
    if precision == "bf16":
        model = model.to(torch.bfloat16)
        return use_matmul_attention(model) if model.device.type == "cpu" else model
    if precision == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():  # deprecated in favour of torchao, but works in torch 2.13, no extra package
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            model = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                     inplace=True)
    return model


def _as_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string; wrap it in a list: [text]")
    texts = list(texts)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts must be strings, found {type(bad).__name__}: {bad!r}")
    return texts


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices in batches of similar length, longest first, so padding stays small."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token ids to the batch's longest; returns input_ids and attention_mask."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention[row, :len(seq)] = 1
    return ids, attention


def max_pool(window_scores: np.ndarray, text_index: np.ndarray, n_texts: int) -> np.ndarray:
    """Per text, the elementwise maximum over its windows' scores."""
    pooled = np.full((n_texts, window_scores.shape[1]), -np.inf, dtype=window_scores.dtype)
    np.maximum.at(pooled, text_index, window_scores)
    return pooled


def _to_float16(name: str, tensor: torch.Tensor) -> torch.Tensor:
    half = tensor.to(torch.float16).contiguous()
    if not torch.isfinite(half).all():
        raise ValueError(f"parameter {name} has values beyond float16's range; save the full model instead")
    return half


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and load report: missing keys are expected here (a
    fresh head, a compact overlay) and checked by this module instead."""
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load_model(source: str | Path, config: PretrainedConfig) -> tuple[PreTrainedModel, set[str]]:
    """The model from `source`'s safetensors weights; also the names it had to initialise anew."""
    try:
        with _quiet_transformers():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                str(source), config=config, use_safetensors=True, output_loading_info=True)
    except _LOAD_ERRORS as err:
        raise ValueError(f"{source}: cannot load the model weights ({type(err).__name__}: {err})") from err
    return model, set(info["missing_keys"])


def _load_tokenizer(source: str | Path) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(str(source))
    except _LOAD_ERRORS as err:
        raise ValueError(f"{source}: cannot load the tokenizer ({type(err).__name__}: {err})") from err


def _model_directory(path_or_hub_id: str | Path | None) -> Path:
    """A local directory for the argument: the shipped model, a local path, or a Hub download."""
    if path_or_hub_id is None:
        if not (SHIPPED_DIR / "config.json").is_file():
            raise FileNotFoundError(f"no shipped model in {SHIPPED_DIR}; {SHIPPED_HINT}")
        return SHIPPED_DIR
    path = Path(path_or_hub_id).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(f"{path}: not a model directory (it is a file)")
    if _HUB_ID.match(str(path_or_hub_id)):
        return _download(str(path_or_hub_id))
    raise FileNotFoundError(f"{path}: no such model directory")


def _download(hub_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(hub_id, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]))
    except Exception as err:  # offline, unknown repo, no permission: all mean "not loadable from here"
        raise FileNotFoundError(f"{hub_id}: no such local directory, and the Hugging Face Hub did not "
                                f"provide it ({type(err).__name__}: {err})") from err


def _read_config(directory: Path) -> PretrainedConfig:
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory}: no config.json, so not a saved classifier")
    try:
        config = AutoConfig.from_pretrained(str(directory))
    except _LOAD_ERRORS as err:
        raise ValueError(f"{directory / 'config.json'}: not a valid model config ({err})") from err
    if getattr(config, "problem_type", None) != PROBLEM_TYPE:
        raise ValueError(f"{directory}: not a multi-label classifier (problem_type {config.problem_type!r})")
    return config


def _load_full(directory: Path, config: PretrainedConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    if not any(directory.glob("*.safetensors")):
        raise FileNotFoundError(f"{directory}: no {FULL_WEIGHTS} (nor {COMPACT_WEIGHTS}); "
                                "only safetensors weights are loaded, never pickles")
    model, missing = _load_model(directory, config)
    if missing:
        raise ValueError(f"{directory}: the weights lack {len(missing)} parameter(s), e.g. {sorted(missing)[:3]}")
    return model, _load_tokenizer(directory)


def _load_compact(directory: Path, config: PretrainedConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The base encoder (fingerprint checked), overlaid with the artifact's trained parameters."""
    base_dir = _checked_base(config, str(directory))
    model, missing = _load_model(base_dir, config)
    path = directory / COMPACT_WEIGHTS
    try:
        trained = load_file(str(path))
    except _LOAD_ERRORS as err:
        raise ValueError(f"{path}: cannot read the trained parameters ({type(err).__name__}: {err})") from err
    unknown = sorted(set(trained) - set(model.state_dict()))
    if unknown:
        raise ValueError(f"{path}: parameters the model does not have, e.g. {unknown[:3]}")
    uncovered = sorted(missing - set(trained))
    if uncovered:
        raise ValueError(f"{path}: lacks parameters the base does not provide, e.g. {uncovered[:3]}")
    model.load_state_dict(trained, strict=False)
    return model, _load_tokenizer(base_dir)


def _checked_base(config: PretrainedConfig, owner: str) -> str:
    """The local directory of `config.base_model`, after checking its weights are the recorded ones."""
    base, expected = getattr(config, "base_model", None), getattr(config, "base_weights_fingerprint", None)
    if not base or not expected:
        raise ValueError(f"{owner}: the config records no base_model and base_weights_fingerprint, which a "
                         "compact artifact needs (models built by ClauseClassifier.from_base record them)")
    base_dir = resolve_encoder(base)
    if not Path(base_dir).is_dir():
        raise FileNotFoundError(f"{owner}: the base encoder {base} is not available as a local directory "
                                f"(resolved to {base_dir})")
    found = base_weights_fingerprint(base_dir)
    if found != expected:
        raise ValueError(f"{owner}: was trained on base {base} with weights fingerprint {expected}, but "
                         f"{base_dir} has weights fingerprint {found}; a compact artifact only works on "
                         "its own base (set PRIVACY_CLAUSES_USE_HUB as when it was trained, or load the full model)")
    return base_dir
