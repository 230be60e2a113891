"""Self-attention for bf16 inference on a CPU: three plain operations instead of the fused kernel.

PyTorch's fused CPU attention (`scaled_dot_product_attention`) is built for wide heads and long
sequences. e5-small has 32-wide heads and OPP-115 clauses average about 95 tokens; there, in bf16,
scores = QKᵀ, softmax and ×V as three batched operations run 1.5-2.5x faster than the fused
kernel at every length up to the 256-token window, which makes the whole classifier about 10%
faster on 2 Zen 4 cores (benchmarks/inference_speed.py compares both). The results agree with the
fused kernel's to bf16 rounding.

It plugs into transformers' own extension point (`AttentionInterface`, with the additive padding
mask of its eager attention), so the model's layers are untouched; it is switched on for inference
only and never saved in a config.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import AttentionMaskInterface, eager_mask

NAME = "privacy_clauses_matmul"


def matmul_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                     **kwargs) -> tuple[torch.Tensor, None]:
    """softmax(QKᵀ·scaling + mask)·V for (batch, heads, length, head size) inputs; inference only."""
    if module.training:
        raise RuntimeError(f"{NAME} attention is for inference; it has no dropout, so it cannot train")
    scores = torch.matmul(query, key.transpose(2, 3)).mul_(query.size(-1) ** -0.5 if scaling is None else scaling)
    if attention_mask is not None:
        scores.add_(attention_mask)  # 0 where a token may be attended, the dtype's minimum where not
    return torch.matmul(scores.softmax(-1), value).transpose(1, 2), None


def use_matmul_attention(model: PreTrainedModel) -> PreTrainedModel:
    """Switch `model`'s self-attention to `matmul_attention`, in place."""
    AttentionInterface.register(NAME, matmul_attention)
    AttentionMaskInterface.register(NAME, eager_mask)
    model.set_attn_implementation(NAME)
    return model
