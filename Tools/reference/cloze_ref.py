"""The cloze heads and losses of GLM fine-tuning (docs/official-glm.md §6.1), on the PyTorch reference
model (glm_ref.py), written from the spec and the official `model/downstream.py` /
`finetune_glm.py:finetune_forward_step` semantics, independently of the Swift port:

- single-token (`GLMForSingleTokenCloze`, take_softmax=False): the raw logits at index sep (the
  sop position) of each sample, gathered at the label verbalisers' ids → [B, L];
- multi-token (`GLMForMultiTokenCloze`, take_softmax=True): every choice is a full padded sequence;
  log_softmax over the vocabulary at every position, gathered at the targets, times the loss mask,
  summed over the sequence, divided by (Σ loss mask)^p when p > 0 → [B, C];
- variable choice counts (`tasks/data_utils.py:my_collate`): a sample's choice list is padded by
  repeating its first choice, and the padded scores are replaced by `s * m - 10000 * (1 - m)`;
- loss: `CrossEntropyLoss` (batch mean) of the scores against the labels; `mix` (WSC) adds
  `-scores[range(B), labels].mean()`.

Batches are lists of samples in the `glm cloze` JSON format (per choice `input_ids`,
`position_ids`, `sep`, `target_ids`, `loss_mask`; single-token samples also `candidate_ids`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_choices(samples):
    """my_collate: repeat the first choice up to the widest sample; the 0/1 choice mask."""
    width = max(len(s["input_ids"]) for s in samples)
    out, mask = [], []
    for s in samples:
        n = len(s["input_ids"])
        padded = {k: (v + [v[0]] * (width - n) if k in ("input_ids", "position_ids", "sep", "target_ids", "loss_mask") else v)
                  for k, v in s.items()}
        out.append(padded)
        mask.append([1] * n + [0] * (width - n))
    return out, torch.tensor(mask, dtype=torch.float64), width


def single_token_scores(model, samples):
    ids = torch.tensor([s["input_ids"][0] for s in samples])
    pos = torch.tensor([s["position_ids"][0] for s in samples])
    sep = torch.tensor([s["sep"][0] for s in samples])
    logits, _ = model(ids, pos, sep)
    rows = logits[torch.arange(len(samples)), sep]  # [B, V] at the sop position
    cand = torch.tensor([s["candidate_ids"] for s in samples])
    return rows.gather(1, cand)


def multi_token_scores(model, samples, length_penalty=0.0):
    padded, mask, width = pad_choices(samples)
    b = len(samples)
    ids = torch.tensor([q for s in padded for q in s["input_ids"]])
    pos = torch.tensor([q for s in padded for q in s["position_ids"]])
    sep = torch.tensor([q for s in padded for q in s["sep"]])
    target = torch.tensor([q for s in padded for q in s["target_ids"]])
    lmask = torch.tensor([q for s in padded for q in s["loss_mask"]], dtype=torch.float64)
    logits, _ = model(ids, pos, sep)
    logp = F.log_softmax(logits, dim=-1).gather(2, target.unsqueeze(2)).squeeze(2)
    scores = (logp * lmask).sum(dim=1)
    if length_penalty > 0.0:
        scores = scores / lmask.sum(dim=1) ** length_penalty
    scores = scores.view(b, width)
    variable = len({len(s["input_ids"]) for s in samples}) > 1
    if variable:
        scores = scores * mask - 10000.0 * (1.0 - mask)
    return scores


def cloze_loss(scores, labels, loss_func="cross_entropy"):
    labels = torch.tensor(labels)
    loss = F.cross_entropy(scores, labels)
    if loss_func == "mix":
        loss = loss - scores[torch.arange(scores.shape[0]), labels].mean()
    return loss
