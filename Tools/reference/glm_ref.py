"""A small PyTorch reference of GLM (Du et al., ACL 2022), written from docs/official-glm.md §1.

It is not the THUDM code (none of it is used); it follows those notes line by line so that
the Swift port has an independent oracle. Parameter names are the official state-dict keys
(docs/official-glm.md §1.1), so `model.state_dict()` is a checkpoint the official code and the HF remote code load.

Shapes: b = batch, s = query length, m = memory length, h = hidden, n = heads, d = h / n,
L = layers, V = vocabulary, P = max_sequence_length.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

# Masked attention logits are set to exactly this value (docs/official-glm.md §1.2), not -inf: a fully masked row
# therefore becomes a uniform distribution instead of NaN, and ports must reproduce that.
MASK_VALUE = -65504.0
# Every LayerNorm (apex FusedLayerNorm in the original) uses eps 1e-5 (docs/official-glm.md §1.1).
LN_EPS = 1e-5


@dataclass
class GLMConfig:
    """Hugging Face GLM config field names (docs/official-glm.md §2), plus `gelu` ("tanh" official, "erf" HF)."""

    num_layers: int = 2
    hidden_size: int = 32
    num_attention_heads: int = 4
    vocab_size: int = 128
    max_sequence_length: int = 32
    block_position_encoding: bool = True
    output_predict: bool = True
    embedding_dropout_prob: float = 0.1
    attention_dropout_prob: float = 0.1
    output_dropout_prob: float = 0.1
    attention_scale: float = 1.0
    initializer_range: float = 0.02
    gelu: str = "tanh"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @staticmethod
    def from_json(path: str) -> "GLMConfig":
        with open(path) as f:
            raw = json.load(f)
        known = {k: v for k, v in raw.items() if k in GLMConfig.__dataclass_fields__}
        return GLMConfig(**known)


def gelu(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "tanh":
        # mpu/transformer.py:gelu_impl, the training-time activation.
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    if kind == "erf":
        # transformers.activations.gelu, what the HF remote code uses.
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    raise ValueError(f"unknown gelu kind {kind!r}")


class SelfAttention(nn.Module):
    def __init__(self, cfg: GLMConfig):
        super().__init__()
        h = cfg.hidden_size
        self.n = cfg.num_attention_heads
        self.d = h // self.n
        self.scale = cfg.attention_scale
        # Rows 0..h-1 = Q, h..2h-1 = K, 2h..3h-1 = V; head j = rows j*d..(j+1)*d-1 inside each.
        self.query_key_value = nn.Linear(h, 3 * h)
        self.dense = nn.Linear(h, h)
        self.attention_dropout = nn.Dropout(cfg.attention_dropout_prob)
        self.output_dropout = nn.Dropout(cfg.output_dropout_prob)

    def forward(self, a: torch.Tensor, mask: torch.Tensor, mem_a: torch.Tensor | None) -> torch.Tensor:
        """a: [b, s, h] normalised input; mem_a: [b, m, h] normalised memory or None; mask [b|1, 1, s, m+s]."""
        b, s, h = a.shape
        full = a if mem_a is None else torch.cat([mem_a, a], dim=1)
        qkv = self.query_key_value(full)
        q, k, v = qkv.split(h, dim=-1)
        q = q[:, -s:]

        def heads(t):  # [b, t, h] -> [b, n, t, d]
            return t.view(b, t.shape[1], self.n, self.d).permute(0, 2, 1, 3)

        q, k, v = heads(q), heads(k), heads(v)
        if self.scale == 1.0:
            # 1/sqrt(d) is applied to K before the matmul (docs/official-glm.md §1.2).
            scores = torch.matmul(q, k.transpose(-1, -2) / math.sqrt(self.d))
            scores = scores * mask + MASK_VALUE * (1.0 - mask)
        else:
            # fp16 stability trick (docs/official-glm.md §1.2): same softmax, computed on a shifted, rescaled scale.
            scores = torch.matmul(q / math.sqrt(self.scale), k.transpose(-1, -2) / math.sqrt(self.d * self.scale))
            scores = scores * mask
            scores = (scores - scores.max(dim=-1, keepdim=True)[0]) * self.scale
            scores = scores + MASK_VALUE * (1.0 - mask)
        probs = F.softmax(scores, dim=-1)
        probs = self.attention_dropout(probs)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, s, h)
        return self.output_dropout(self.dense(ctx))


class MLP(nn.Module):
    def __init__(self, cfg: GLMConfig):
        super().__init__()
        h = cfg.hidden_size
        self.kind = cfg.gelu
        self.dense_h_to_4h = nn.Linear(h, 4 * h)
        self.dense_4h_to_h = nn.Linear(4 * h, h)
        self.dropout = nn.Dropout(cfg.output_dropout_prob)

    def forward(self, x):
        return self.dropout(self.dense_4h_to_h(gelu(self.dense_h_to_4h(x), self.kind)))


class TransformerLayer(nn.Module):
    def __init__(self, cfg: GLMConfig):
        super().__init__()
        h = cfg.hidden_size
        self.input_layernorm = nn.LayerNorm(h, eps=LN_EPS)
        self.attention = SelfAttention(cfg)
        self.post_attention_layernorm = nn.LayerNorm(h, eps=LN_EPS)
        self.mlp = MLP(cfg)

    def forward(self, x, mask, mem):
        a = self.input_layernorm(x)
        # Memory holds raw residual-stream states; it is normalised here, with this layer's LN.
        mem_a = None if mem is None else self.input_layernorm(mem)
        x = x + self.attention(a, mask, mem_a)
        return x + self.mlp(self.post_attention_layernorm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: GLMConfig):
        super().__init__()
        h, P = cfg.hidden_size, cfg.max_sequence_length
        rows = P + 1 if cfg.block_position_encoding else P
        self.position_embeddings = nn.Embedding(rows, h)
        self.block_position_embeddings = nn.Embedding(rows, h)
        self.embedding_dropout = nn.Dropout(cfg.embedding_dropout_prob)
        self.layers = nn.ModuleList([TransformerLayer(cfg) for _ in range(cfg.num_layers)])
        self.final_layernorm = nn.LayerNorm(h, eps=LN_EPS)


def build_mask(attention_mask: torch.Tensor, b: int, s: int, m: int, dtype) -> torch.Tensor:
    """The three mask forms of docs/official-glm.md §1.3 → a 0/1 float mask [b|1, 1, s, m+s]."""
    attention_mask = torch.as_tensor(attention_mask)
    if attention_mask.numel() == 1 or (attention_mask.dim() == 1 and attention_mask.numel() == b):
        sep = attention_mask.reshape(-1).to(torch.long)
        i = torch.arange(s).view(s, 1)
        j = torch.arange(s).view(1, s)
        base = (j <= i)  # [s, s], causal
        # M[i, j] = 1 iff j < sep or j <= i (row by row for a per-sample sep).
        M = base.view(1, s, s) | (j.view(1, 1, s) < sep.view(-1, 1, 1))
        M = M.to(dtype)
        if m > 0:
            # New tokens see all of memory; sep indexes only the current chunk.
            M = torch.cat([torch.ones(M.shape[0], s, m, dtype=dtype), M], dim=2)
        return M.unsqueeze(1)
    M = attention_mask.to(dtype)
    return M[..., -(m + s):]


class GLMModel(nn.Module):
    """GLM with tied output head. `forward` returns (logits, mems)."""

    def __init__(self, cfg: GLMConfig):
        super().__init__()
        self.cfg = cfg
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.transformer = Transformer(cfg)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None):
        """docs/official-glm.md §1.7: N(0, σ) everywhere, N(0, σ/√(2L)) for the two output projections, biases 0, LN 1/0."""
        std = self.cfg.initializer_range
        scaled = std / math.sqrt(2.0 * self.cfg.num_layers)
        for name, p in self.named_parameters():
            if "layernorm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                p.zero_()
            elif name.endswith("attention.dense.weight") or name.endswith("dense_4h_to_h.weight"):
                p.normal_(0.0, scaled, generator=generator)
            else:
                p.normal_(0.0, std, generator=generator)

    def forward(self, input_ids, position_ids, attention_mask, mems=None, return_memory=False):
        """input_ids [b,s]; position_ids [b,2,s]; attention_mask: scalar sep, [b] seps, or [b,1,s,m+s].

        mems: None or L+1 tensors [b,m,h]. With return_memory, returns the new mems (old ++ current,
        untruncated): index 0 the embedding output after dropout, index i+1 layer i's output before the
        final LN (docs/official-glm.md §1.5).
        """
        t = self.transformer
        b, s = input_ids.shape
        m = 0 if not mems else mems[0].shape[1]
        x = self.word_embeddings(input_ids)
        x = x + t.position_embeddings(position_ids[:, 0]) + t.block_position_embeddings(position_ids[:, 1])
        x = t.embedding_dropout(x)
        mask = build_mask(attention_mask, b, s, m, x.dtype)
        states = [x]
        for i, layer in enumerate(t.layers):
            x = layer(x, mask, mems[i] if mems else None)
            states.append(x)
        h_out = t.final_layernorm(x)
        out = F.linear(h_out, self.word_embeddings.weight) if self.cfg.output_predict else h_out
        new_mems = None
        if return_memory:
            new_mems = [torch.cat([mems[i], st], dim=1) if mems else st for i, st in enumerate(states)]
        return out, new_mems


def glm_loss(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor,
             label_smoothing: float = 0.0) -> torch.Tensor:
    """Σ CE · loss_mask / Σ loss_mask (pretrain_glm.py:forward_step); targets are pre-aligned.

    With label_smoothing ε > 0, each position's loss is (1 − ε)·CE + ε·mean_v(−log_softmax), as the
    official seq2seq fine-tuning computes it (spec §6.2, tasks/seq2seq/finetune.py:seq2seq_forward_step):
    over every position, then weighted by loss_mask.
    """
    flat = logits.reshape(-1, logits.shape[-1])
    ce = F.cross_entropy(flat, targets.reshape(-1), reduction="none")
    if label_smoothing > 0:
        smooth = -F.log_softmax(flat, dim=-1).mean(dim=-1)
        ce = (1 - label_smoothing) * ce + label_smoothing * smooth
    lm = loss_mask.reshape(-1).to(ce.dtype)
    return (ce * lm).sum() / lm.sum()
