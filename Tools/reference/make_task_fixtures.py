"""Fixtures for the GLMTasks target (fine-tuning and zero-shot task heads) from the PyTorch reference.

    /root/venv-ref/bin/python Tools/reference/make_task_fixtures.py      # from the repository root

Writes into Tests/GLMTasksTests/Fixtures/ (only the files named below; the metric fixtures there are
Tools/metrics' business). The model is the committed `Tests/GLMTests/Fixtures/model-tiny` (L=2, h=32,
V=128, P=32; written by make_fixtures.py), run in float64 in eval mode.

Token ids (the made-up vocabulary of make_fixtures.py): pad = eos = 0, [CLS] = 1, [MASK] = 2,
sop = 3, eop = 4, text ids >= 10.

`seq2seq-loss-tiny.json` + `.expected.safetensors`: three summarisation training samples built by a
transcription of the official `Seq2SeqDataset.__getitem__` (train split) on id lists — a source cut to
fit, a short source padded inside Part A, a target cut before its eop — and the official loss with
label smoothing 0.1 (`seq2seq_forward_step`). Expected: `loss` (ε = 0.1), `loss_plain` (ε = 0) and
`grad.<key>` of the smoothed loss for every parameter.

`blank-masks.json`: the official `BlankLMDataset.mask_text` (transcribed below) with `random.Random(1234)`
(the official default `--seed`) applied in turn to 25 paragraphs of Resources/corpus/valid/persuasion.txt
(public domain) and a few edge texts, for each ratio 0.1 … 0.5: the masked sources and targets.

`lm-scores-tiny.json`: per-window summed cross-entropy and per-example all-argmax correctness for
LAMBADA-style and perplexity-window samples built by transcriptions of the official
`LambadaDataset.__getitem__` and `LMDataset.__getitem__` (block_lm) on id lists, scored as the
official `lm_forward_step` does (`eval_metric` "loss": Σ CE·loss_mask; "accuracy": every masked
position's argmax equals its target).
"""

from __future__ import annotations

import json
import math
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glm_ref import glm_loss  # noqa: E402
from run_case import load_model  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "GLMTasksTests", "Fixtures")
MODEL = os.path.join(ROOT, "Tests", "GLMTests", "Fixtures", "model-tiny")

PAD = EOS = 0
CLS = 1
MASK = 2
SOP = 3
EOP = 4


def seq2seq_train_sample(source_ids, target_ids, content_ids, src_len, tgt_len):
    """tasks/seq2seq/dataset.py:Seq2SeqDataset.__getitem__, summarisation tasks, split 'train'."""
    source_tokens = list(source_ids)
    prompt = [CLS, MASK] + content_ids
    if len(source_tokens) > src_len - len(prompt):
        source_tokens = source_tokens[:src_len - len(prompt)]
    source_tokens = prompt + source_tokens
    if len(source_tokens) < src_len:
        source_tokens = source_tokens + [PAD] * (src_len - len(source_tokens))
    sep = len(source_tokens)
    position_ids = list(range(len(source_tokens)))
    block_position_ids = [0] * len(source_tokens)
    mask_pos = source_tokens.index(MASK)
    target_tokens = list(target_ids) + [EOP]
    if len(target_tokens) > tgt_len:
        target_tokens = target_tokens[:tgt_len]
    loss_mask = [1] * len(target_tokens)
    if len(target_tokens) < tgt_len:
        loss_mask += [0] * (tgt_len - len(target_tokens))
        target_tokens += [PAD] * (tgt_len - len(target_tokens))
    tokens = source_tokens + [SOP] + target_tokens[:-1]
    loss_mask = [0] * len(source_tokens) + loss_mask
    target_ids_out = [0] * len(source_tokens) + target_tokens
    position_ids += [mask_pos] * len(target_tokens)
    block_position_ids += list(range(1, len(target_tokens) + 1))
    return dict(ids=tokens, targets=target_ids_out, loss=loss_mask, pos=[position_ids, block_position_ids], sep=sep)


def seq2seq_case():
    g = torch.Generator().manual_seed(2024)

    def text(n):
        return [int(x) for x in torch.randint(10, 128, (n,), generator=g)]

    src_len, tgt_len = 12, 6
    content = [11, 12]
    raw = [
        (text(20), text(3)),   # source cut to 8 tokens; target + eop padded to 6
        (text(3), text(7)),    # source padded inside Part A; target cut to 6 (no eop)
        (text(8), text(5)),    # source fills Part A exactly; target + eop exactly 6
    ]
    samples = [seq2seq_train_sample(s, t, content, src_len, tgt_len) for s, t in raw]
    m = load_model(MODEL, torch.float64)
    ids = torch.tensor([x["ids"] for x in samples])
    pos = torch.tensor([x["pos"] for x in samples])
    seps = torch.tensor([x["sep"] for x in samples])
    targets = torch.tensor([x["targets"] for x in samples])
    lm = torch.tensor([x["loss"] for x in samples])
    logits, _ = m(ids, pos, seps)
    plain = glm_loss(logits, targets, lm)
    loss = glm_loss(logits, targets, lm, label_smoothing=0.1)
    loss.backward()
    out = {"loss": loss.detach().float(), "loss_plain": plain.detach().float()}
    for k, p in m.named_parameters():
        out[f"grad.{k}"] = p.grad.detach().float().contiguous()
    doc = {
        "description": "Official Seq2SeqDataset summarisation training layout on id lists (src 12, tgt 6) "
                       "and the seq2seq loss with label smoothing 0.1, model-tiny, float64.",
        "model": "model-tiny",
        "source_length": src_len, "target_length": tgt_len, "label_smoothing": 0.1,
        "content_ids": content,
        "sources": [s for s, _ in raw], "target_texts": [t for _, t in raw],
        "input_ids": [x["ids"] for x in samples], "position_ids": [x["pos"] for x in samples],
        "attention_mask": [x["sep"] for x in samples], "targets": [x["targets"] for x in samples],
        "loss_mask": [x["loss"] for x in samples],
    }
    with open(os.path.join(OUT, "seq2seq-loss-tiny.json"), "w") as f:
        json.dump(doc, f)
    save_file(out, os.path.join(OUT, "seq2seq-loss-tiny.expected.safetensors"))
    print(f"seq2seq-loss-tiny: loss {loss.item():.6f} (plain {plain.item():.6f})")


def mask_text(text, mask_ratio, rng):
    """tasks/seq2seq/dataset.py:BlankLMDataset.mask_text (self.random → rng)."""
    tokens = text.split()
    n = len(tokens)
    indices = sorted(rng.sample(range(n), int(n * mask_ratio)))
    masked_src, masked_tgt = "", []
    for i, idx in enumerate(indices):
        if i == 0 or idx != indices[i - 1] + 1:
            masked_tgt.append("")
        masked_tgt[-1] += " " + tokens[idx]
        tokens[idx] = "[MASK]"
    for i, token in enumerate(tokens):
        if i != 0 and token == "[MASK]" and tokens[i - 1] == "[MASK]":
            continue
        masked_src += " " + token
    return masked_src, masked_tgt


def blank_masks():
    import random
    with open(os.path.join(ROOT, "Resources", "corpus", "valid", "persuasion.txt"), encoding="utf-8") as f:
        paras = [" ".join(p.split()) for p in f.read().split("\n\n")]
    paras = [p for p in paras if len(p.split()) >= 3]
    # Short and long paragraphs: both branches of random.sample (pool swap and rejection set).
    texts = paras[20:45] + ["", "one", "two words", "a [MASK] already here", "tab\tand\u3000ideographic space words here now"]
    out = {"seed": 1234, "texts": texts, "ratios": {}}
    for r in [0.1, 0.2, 0.3, 0.4, 0.5]:
        rng = random.Random(1234)
        res = [mask_text(t, r, rng) for t in texts]
        out["ratios"][f"{r:.1f}"] = {"sources": [x[0] for x in res], "targets": [x[1] for x in res]}
    with open(os.path.join(OUT, "blank-masks.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"blank-masks: {len(texts)} texts, lengths {min(len(t.split()) for t in texts)}..{max(len(t.split()) for t in texts)} words")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    seq2seq_case()
    blank_masks()


if __name__ == "__main__":
    main()
