"""Inference precision of ClauseClassifier on a tiny random BERT: fp32, bf16 and int8 agree, bad
values are refused, bf16 falls back to fp32 where the hardware lacks it. Speed is measured by
benchmarks/inference_speed.py, never asserted here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import tiny_segments, write_tiny_base

import privacy_clauses.model.classifier as classifier_module
from privacy_clauses.labels import OPP115_10
from privacy_clauses.model.attention import NAME as ATTENTION_NAME
from privacy_clauses.model.attention import matmul_attention
from privacy_clauses.model.classifier import PRECISIONS, ClauseClassifier, resolve_precision

TEXTS = [s.text for s in tiny_segments(12, seed=5)]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = write_tiny_base(tmp_path_factory.mktemp("base"))
    classifier = ClauseClassifier.from_base(base, OPP115_10, max_length=16, stride=4, device="cpu")
    return classifier.save_pretrained(tmp_path_factory.mktemp("model") / "model")


def load(model_dir: Path, precision: str | None) -> ClauseClassifier:
    return ClauseClassifier.from_pretrained(model_dir, device="cpu", batch_size=4, precision=precision)


@pytest.mark.parametrize(("precision", "tolerance"), [("bf16", 0.02), ("int8", 0.06)])
def test_reduced_precisions_stay_close_to_fp32(model_dir: Path, precision: str, tolerance: float) -> None:
    """Loose bounds: bf16 keeps 8 significant bits; int8 rounds weights per channel and activations
    per batch (so a text's scores also shift a little with the batch it lands in)."""
    expected = load(model_dir, "fp32").predict_proba(TEXTS)
    classifier = load(model_dir, precision)
    assert classifier.precision in (precision, "fp32")  # bf16 may fall back on this CPU
    np.testing.assert_allclose(classifier.predict_proba(TEXTS), expected, atol=tolerance)


def test_bf16_falls_back_to_fp32_without_hardware_support(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_module, "bf16_supported", lambda device: False)
    classifier = load(model_dir, "bf16")
    assert classifier.precision == "fp32"
    np.testing.assert_array_equal(classifier.predict_proba(TEXTS), load(model_dir, "fp32").predict_proba(TEXTS))


def test_bf16_is_kept_where_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_module, "bf16_supported", lambda device: True)
    assert resolve_precision("bf16", CPU) == "bf16"


def test_default_is_the_measured_one(model_dir: Path) -> None:
    assert classifier_module.CPU_DEFAULT_PRECISION in PRECISIONS
    assert load(model_dir, None).precision == resolve_precision(classifier_module.CPU_DEFAULT_PRECISION, CPU)


@pytest.mark.parametrize("bad", ["fp16", "INT8", "", 8])
def test_unknown_precisions_are_refused(model_dir: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="precision: expected one of fp32, bf16, int8"):
        load(model_dir, bad)


def test_int8_is_cpu_only() -> None:
    with pytest.raises(ValueError, match="int8 .* CPU only"):
        resolve_precision("int8", torch.device("cuda"))


def test_training_starts_in_fp32(tmp_path: Path) -> None:
    base = write_tiny_base(tmp_path / "base")
    assert ClauseClassifier.from_base(base, OPP115_10, max_length=16, stride=4).precision == "fp32"


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_only_fp32_classifiers_can_be_saved(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            precision: str) -> None:
    monkeypatch.setattr(classifier_module, "bf16_supported", lambda device: True)  # no fall-back to fp32
    with pytest.raises(ValueError, match=f"rounded to {precision} .* precision='fp32'"):
        load(model_dir, precision).save_pretrained(tmp_path / "again")
    assert not (tmp_path / "again").exists()


# ------------------------------------------------------------------------------ CPU attention
def attention_inputs(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Queries, keys, values (batch 3, heads 2, length 7, head size 4) and an additive padding mask
    under which the last three positions of the first text are padding."""
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(3, 2, 7, 4, generator=generator) for _ in range(3))
    mask = torch.zeros(3, 1, 7, 7)
    mask[0, ..., 4:] = torch.finfo(torch.float32).min
    return q, k, v, mask


def test_matmul_attention_matches_torch_attention() -> None:
    q, k, v, mask = attention_inputs()
    module = torch.nn.Module().eval()
    output, weights = matmul_attention(module, q, k, v, mask, scaling=0.5)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.5)
    assert weights is None and output.shape == (3, 7, 2, 4)  # (batch, length, heads, head size), as transformers expects
    torch.testing.assert_close(output, expected.transpose(1, 2))


def test_matmul_attention_ignores_padded_keys() -> None:
    q, k, v, mask = attention_inputs()
    module = torch.nn.Module().eval()
    output = matmul_attention(module, q, k, v, mask)[0]
    k[0, :, 4:], v[0, :, 4:] = 100.0, -100.0  # whatever sits under the padding
    torch.testing.assert_close(matmul_attention(module, q, k, v, mask)[0][0, :4], output[0, :4])


def test_matmul_attention_refuses_training() -> None:
    q, k, v, mask = attention_inputs()
    with pytest.raises(RuntimeError, match="inference"):
        matmul_attention(torch.nn.Module().train(), q, k, v, mask)


def test_bf16_on_cpu_uses_matmul_attention_and_masks_padding(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A text's scores do not depend on the longer texts it is batched (and padded) with."""
    monkeypatch.setattr(classifier_module, "bf16_supported", lambda device: True)
    classifier = load(model_dir, "bf16")
    assert classifier.model.config._attn_implementation == ATTENTION_NAME
    short, long = "we collect data", " ".join(TEXTS)
    alone = classifier.predict_proba([short])
    classifier.batch_size = 2
    np.testing.assert_allclose(classifier.predict_proba([long, short])[1:], alone, atol=1e-2)
    assert load(model_dir, "fp32").model.config._attn_implementation != ATTENTION_NAME
