"""PyTorch reference timings on the shapes the issues quote, for side-by-side runs with `glm bench`.

    /root/venv-ref/bin/python Tools/reference/bench_reference.py --json
    /root/venv-ref/bin/python Tools/reference/bench_reference.py --only decode --steps 3

Configs (GLM-Base shape: L=12, h=768, n=12, V=30592, P=512):
  train-fp32 / train-bf16: one full step = forward, loss, backward, AdamW; batch 4 × seq 512,
      dropout 0.1 on; bf16 = torch.autocast("cpu", dtype=torch.bfloat16) around forward+loss.
      tokens/s = batch·seq / median step time, after warmup.
  decode-mems-fp32 / -bf16: the same, decoded as the official generator does (hidden-state mems,
      re-projected at every step).
  decode-fp32 / decode-bf16: batch 1, 128-token context (one bidirectional pass, sep = 128), then 64
      greedy tokens one at a time with a per-layer K/V cache (docs/official-glm.md §1.5: caching K/V is equivalent to
      caching hidden states). tokens/s = 64 / median time of the 64-token loop (context pass excluded).
  finetune-copa: COPA-shaped fine-tuning steps (glm bench key finetune_copa_glm_base_f32_examples_per_s):
      16 examples × 2 choices × sequence 256 (Part A 247 tokens + eos, sop + 8 answer tokens), the
      multi-token cloze head of cloze_ref.py as the official GLMForMultiTokenCloze computes it (log-softmax
      over the vocabulary at every position), cross-entropy over the choices, backward, AdamW; dropout on.
      finetune-copa-rows: the same, but the vocabulary projection only on the scored rows (what the
      Swift head does). examples/s = 16 / median step time.
  seq2seq-eval-fp32: the seq2seq evaluation decode of `glm bench`'s seq2seq_eval_<model>_examples_per_s:
      8 random sources of 256 tokens ([CLS] [MASK] text), 4 at a time: one bidirectional pass over the
      4 sources (sep = 256), their K/V repeated for 4 beams each, then beam search as the official
      DecoderEvaluater (docs/official-glm.md §6.2: log-softmax + beam sums, top 2·beams per source,
      caches reordered by index_select), eop banned for 32 tokens so every beam generates exactly 32
      (sop and 31 tokens fed; the last chosen token is not). examples/s = 8 / median wall time of the
      whole decode (context passes included).
Threads: torch.set_num_threads(2) (the project's CI machine has 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glm_ref import GLMConfig, GLMModel, glm_loss, gelu, MASK_VALUE  # noqa: E402

SHAPES = {
    "glm-base": dict(num_layers=12, hidden_size=768, num_attention_heads=12, vocab_size=30592, max_sequence_length=512),
    "glm-small": dict(num_layers=4, hidden_size=256, num_attention_heads=4, vocab_size=30592, max_sequence_length=256),
}
BASE = dict(SHAPES["glm-base"])


def timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def bench_train(bf16: bool, batch: int, seq: int, warmup: int, steps: int):
    torch.manual_seed(0)
    cfg = GLMConfig(**BASE)
    model = GLMModel(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
    pos = torch.stack([torch.arange(seq).expand(batch, seq), torch.zeros(batch, seq, dtype=torch.long)], dim=1)
    sep = torch.full((batch,), seq // 2)
    targets = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
    loss_mask = (torch.arange(seq) >= seq // 2).long().expand(batch, seq)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, _ = model(ids, pos, sep)
            loss = glm_loss(logits.float(), targets, loss_mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    med, times = timed(step, warmup, steps)
    return {"tokens_per_s": batch * seq / med, "step_s": med, "times_s": times, "batch": batch, "seq": seq}


@torch.no_grad()
def bench_decode(bf16: bool, context: int, new: int, warmup: int, steps: int):
    torch.manual_seed(0)
    cfg = GLMConfig(**BASE)
    model = GLMModel(cfg).eval()
    if bf16:
        model = model.to(torch.bfloat16)
    t = model.transformer
    n, d = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    ctx = torch.randint(0, cfg.vocab_size, (1, context), generator=torch.Generator().manual_seed(0))
    mask_idx = context - 2

    def attn_kv(layer, x, cache, sep_all: bool):
        """One layer on x [1, s, h] appending K/V to cache; new rows see all cached rows (+ causal among new,
        or everything when sep_all, for the bidirectional context pass)."""
        a = layer.input_layernorm(x)
        s = x.shape[1]
        qkv = layer.attention.query_key_value(a).view(1, s, 3, n, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if cache:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        cache[:] = [k, v]
        scores = torch.matmul(q, k.transpose(-1, -2) / math.sqrt(d))
        if not sep_all and s > 1:
            m = k.shape[2] - s
            M = torch.ones(s, m + s, dtype=scores.dtype).tril(m)
            scores = scores * M + MASK_VALUE * (1 - M)
        ctxv = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(1, s, -1)
        x = x + layer.attention.dense(ctxv)
        return x + layer.mlp.dense_4h_to_h(gelu(layer.mlp.dense_h_to_4h(layer.post_attention_layernorm(x)), cfg.gelu))

    def forward(ids, pos, blk, caches, sep_all):
        x = model.word_embeddings(ids) + t.position_embeddings(pos) + t.block_position_embeddings(blk)
        for layer, cache in zip(t.layers, caches):
            x = attn_kv(layer, x, cache, sep_all)
        return F.linear(t.final_layernorm(x[:, -1:]), model.word_embeddings.weight)

    state = {}

    def prefill():
        caches = [[] for _ in t.layers]
        forward(ctx, torch.arange(context).view(1, -1), torch.zeros(1, context, dtype=torch.long), caches, True)
        state["caches"] = caches

    def loop():
        caches = [[k.clone(), v.clone()] for k, v in state["caches"]]
        tok = torch.tensor([[1]])
        for step in range(new):
            logits = forward(tok, torch.tensor([[mask_idx]]), torch.tensor([[step + 1]]), caches, False)
            tok = logits[0, -1].argmax().view(1, 1)

    t0 = time.perf_counter()
    prefill()
    prefill_s = time.perf_counter() - t0
    med, times = timed(loop, warmup, steps)
    return {"tokens_per_s": new / med, "loop_s": med, "times_s": times, "prefill_s": prefill_s,
            "context": context, "new_tokens": new}


@torch.no_grad()
def bench_decode_mems(bf16: bool, context: int, new: int, warmup: int, steps: int):
    """Decoding as the official `generate_samples.py` does it: the memory holds hidden states (mems,
    docs/official-glm.md §1.5) and every step re-normalises and re-projects all of them in every layer."""
    torch.manual_seed(0)
    cfg = GLMConfig(**BASE)
    model = GLMModel(cfg).eval()
    if bf16:
        model = model.to(torch.bfloat16)
    ctx = torch.randint(0, cfg.vocab_size, (1, context), generator=torch.Generator().manual_seed(0))
    pos = torch.stack([torch.arange(context), torch.zeros(context, dtype=torch.long)]).unsqueeze(0)
    mask_idx = context - 2
    _, mems0 = model(ctx, pos, torch.tensor([context]), return_memory=True)

    def loop():
        mems = mems0
        tok = torch.tensor([[1]])
        for step in range(new):
            p = torch.tensor([[[mask_idx], [step + 1]]])
            logits, mems = model(tok, p, torch.tensor([0]), mems=mems, return_memory=True)
            tok = logits[0, -1].argmax().view(1, 1)

    med, times = timed(loop, warmup, steps)
    return {"tokens_per_s": new / med, "loop_s": med, "times_s": times, "context": context, "new_tokens": new}


def bench_finetune_copa(rows_only: bool, warmup: int, steps: int, batch: int = 16, seq: int = 256, answer: int = 8):
    from cloze_ref import cloze_loss
    torch.manual_seed(0)
    cfg = GLMConfig(**BASE)
    model = GLMModel(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    n = batch * 2
    sep = seq - answer - 1                       # Part A (with [CLS] … eos), then sop + answer[:-1] + padding
    ids = torch.randint(1000, 30000, (n, seq), generator=g)
    mask_pos = sep - 3
    pos = torch.stack([torch.cat([torch.arange(sep), torch.full((seq - sep,), mask_pos)]).expand(n, seq),
                       torch.cat([torch.zeros(sep, dtype=torch.long), torch.arange(1, seq - sep + 1)]).expand(n, seq)], dim=1)
    target = torch.randint(1000, 30000, (n, seq), generator=g)
    lmask = torch.zeros(n, seq)
    lmask[:, sep:sep + answer] = 1
    seps = torch.full((n,), sep)
    labels = [i % 2 for i in range(batch)]

    def step():
        opt.zero_grad(set_to_none=True)
        logits, _ = model(ids, pos, seps)
        logp = F.log_softmax(logits.float(), dim=-1).gather(2, target.unsqueeze(2)).squeeze(2)
        scores = (logp * lmask).sum(dim=1).view(batch, 2)
        loss = cloze_loss(scores, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def step_rows():
        opt.zero_grad(set_to_none=True)
        model.cfg.output_predict = False                                  # the model returns h_out [n, s, h]
        hidden, _ = model(ids, pos, seps)
        model.cfg.output_predict = True
        rows = hidden[:, sep:sep + answer]                                # the scored positions only
        logits = rows @ model.word_embeddings.weight.t()
        logp = F.log_softmax(logits, dim=-1).gather(2, target[:, sep:sep + answer].unsqueeze(2)).squeeze(2)
        scores = logp.sum(dim=1).view(batch, 2)
        loss = cloze_loss(scores, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    t, _ = timed(step_rows if rows_only else step, warmup, steps)
    return {"examples_per_s": batch / t, "step_s": t}


@torch.no_grad()
def bench_seq2seq(source: int, new: int, beams: int, examples: int, batch: int, warmup: int, steps: int):
    torch.manual_seed(0)
    cfg = GLMConfig(**BASE)
    model = GLMModel(cfg).eval()
    t = model.transformer
    n, d, V = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads, cfg.vocab_size
    g = torch.Generator().manual_seed(0)
    SOP, EOP, MASK_POS = 3, 4, 1
    srcs = torch.randint(10, min(V, 30000), (examples, source), generator=g)
    srcs[:, 0], srcs[:, 1] = 1, 2  # [CLS] [MASK]

    def layer_kv(layer, x, cache):
        """One layer on x [B, s, h]; cache [k, v] of [B, n, m, d] is extended. s > 1 only for the
        bidirectional context pass (no mask); s == 1 decoding sees everything cached."""
        B, s, _ = x.shape
        a = layer.input_layernorm(x)
        qkv = layer.attention.query_key_value(a).view(B, s, 3, n, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if cache:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        cache[:] = [k, v]
        scores = torch.matmul(q, k.transpose(-1, -2) / math.sqrt(d))
        ctxv = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).reshape(B, s, -1)
        x = x + layer.attention.dense(ctxv)
        return x + layer.mlp.dense_4h_to_h(gelu(layer.mlp.dense_h_to_4h(layer.post_attention_layernorm(x)), cfg.gelu))

    def forward(ids, pos, blk, caches, last_only):
        x = model.word_embeddings(ids) + t.position_embeddings(pos) + t.block_position_embeddings(blk)
        for layer, cache in zip(t.layers, caches):
            x = layer_kv(layer, x, cache)
        if last_only:
            x = x[:, -1]
        return F.linear(t.final_layernorm(x), model.word_embeddings.weight)

    def decode_batch(src):
        b = src.shape[0]
        caches = [[] for _ in t.layers]
        forward(src, torch.arange(source).expand(b, source), torch.zeros(b, source, dtype=torch.long), caches, False)
        caches = [[k.repeat_interleave(beams, 0), v.repeat_interleave(beams, 0)] for k, v in caches]
        scores = torch.zeros(b, beams, dtype=torch.float32)
        scores[:, 1:] = -1e9
        scores = scores.view(-1)
        tok = torch.full((b * beams, 1), SOP)
        gen = torch.zeros(b * beams, 0, dtype=torch.long)
        for step in range(new):
            logits = forward(tok, torch.full((b * beams, 1), MASK_POS), torch.full((b * beams, 1), step + 1), caches, True)
            lp = F.log_softmax(logits.float(), dim=-1)
            lp[:, EOP] = -float("inf")  # MinLengthLogitsProcessor: eop banned below `new` tokens
            flat = (lp + scores[:, None]).view(b, beams * V)
            top_scores, top_ids = torch.topk(flat, 2 * beams, dim=1)
            # No eop can be chosen, so the best `beams` candidates continue.
            top_scores, top_ids = top_scores[:, :beams], top_ids[:, :beams]
            src_rows = (top_ids // V + torch.arange(b)[:, None] * beams).view(-1)
            scores = top_scores.reshape(-1)
            gen = torch.cat([gen[src_rows], (top_ids % V).view(-1, 1)], dim=1)
            if step == new - 1:
                break  # the last chosen token is not fed
            caches = [[k.index_select(0, src_rows), v.index_select(0, src_rows)] for k, v in caches]
            tok = gen[:, -1:]
        assert gen.shape[1] == new
        return gen

    def run():
        for start in range(0, examples, batch):
            decode_batch(srcs[start:start + batch])

    med, times = timed(run, warmup, steps)
    return {"examples_per_s": examples / med, "run_s": med, "times_s": times, "source": source, "new_tokens": new,
            "beams": beams, "examples": examples, "batch": batch}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--only", choices=["train", "decode", "decode-mems", "seq2seq", "finetune"], help="run only these configs")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per config (median reported)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", choices=sorted(SHAPES), default="glm-base",
                    help="model shape (glm-small is the embedded `glm pretrain` default)")
    args = ap.parse_args()
    BASE.clear()
    BASE.update(SHAPES[args.model])
    torch.set_num_threads(args.threads)
    results = {"torch": torch.__version__, "threads": args.threads, "model": BASE}
    if args.only in (None, "train"):
        for bf16 in (False, True):
            results["train-bf16" if bf16 else "train-fp32"] = bench_train(bf16, args.batch, args.seq, args.warmup, args.steps)
            if not args.json:
                r = results["train-bf16" if bf16 else "train-fp32"]
                print(f"train {'bf16' if bf16 else 'fp32'}: {r['tokens_per_s']:.1f} tokens/s ({r['step_s']:.2f} s/step)", flush=True)
    if args.only in (None, "decode"):
        for bf16 in (False, True):
            key = "decode-bf16" if bf16 else "decode-fp32"
            results[key] = bench_decode(bf16, 128, 64, args.warmup, args.steps)
            if not args.json:
                print(f"decode {'bf16' if bf16 else 'fp32'}: {results[key]['tokens_per_s']:.1f} tokens/s", flush=True)
    if args.only in (None, "decode", "decode-mems"):
        for bf16 in (False, True):
            key = "decode-mems-bf16" if bf16 else "decode-mems-fp32"
            results[key] = bench_decode_mems(bf16, 128, 64, args.warmup, args.steps)
            if not args.json:
                print(f"decode {'bf16' if bf16 else 'fp32'}, official-style mems: {results[key]['tokens_per_s']:.1f} tokens/s", flush=True)
    if args.only in (None, "seq2seq"):
        results["seq2seq-eval-fp32"] = bench_seq2seq(256, 32, 4, 8, 4, args.warmup, args.steps)
        if not args.json:
            print(f"seq2seq eval fp32 (src 256, 32 new, beam 4, 8 examples 4 at a time): "
                  f"{results['seq2seq-eval-fp32']['examples_per_s']:.3f} examples/s", flush=True)
    if args.only in (None, "finetune"):
        for rows in (False, True):
            key = "finetune-copa-rows" if rows else "finetune-copa"
            results[key] = bench_finetune_copa(rows, args.warmup, args.steps)
            if not args.json:
                print(f"{key}: {results[key]['examples_per_s']:.2f} examples/s ({results[key]['step_s']:.2f} s/step)", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
