"""Regenerate the committed test fixtures from the PyTorch reference (glm_ref.py).

    /root/venv-ref/bin/python Tools/reference/make_fixtures.py          # from the repository root

Deterministic: every random draw comes from a seeded torch.Generator, so rerunning rewrites
byte-identical files (modulo torch's zip record names, which are fixed to "archive/").

Precision: weights are drawn in float32 and stored as float32. Every forward/backward that produces
an expected output runs in float64 on those exact f32 weights (upcast), and the results are rounded
to float32 when stored. The stored values are therefore the mathematically exact answer for the f32
weights to ~1e-7 relative, and a float32 port should be compared with a tolerance of its own error
(~1e-5 relative), not of the reference's.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import struct
import sys
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glm_ref import GLMConfig, GLMModel, glm_loss  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GLM_FIX = os.path.join(ROOT, "Tests", "GLMTests", "Fixtures")
NN_FIX = os.path.join(ROOT, "Tests", "GLMNNTests", "Fixtures")

# Command-token ids used by every fixture (a made-up tiny vocabulary; ids >= 10 are "text").
PAD = EOS = 0
CLS = 1
MASK = 2
SOP = 3
EOP = 4
FIRST_TEXT = 10


def make_model(cfg: GLMConfig, seed: int) -> GLMModel:
    """docs/official-glm.md §1.7 init, then perturbed so that bias, LayerNorm and attention-pattern bugs show.

    A freshly initialised GLM has zero biases, identity LayerNorms and near-uniform attention
    (scores ~1e-3), under which a port that drops a bias or ignores the mask could still match.
    So, on top of §1.7: biases ~ N(0, 0.05), LN weight ~ 1 + N(0, 0.1), LN bias ~ N(0, 0.1), the QKV
    weights scaled ×10 (scores O(1)) and the word embeddings ×10 (logits O(1), clear argmaxes).
    """
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = GLMModel(cfg)
    model.init_weights(g)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name:
                if name.endswith("weight"):
                    p.add_(torch.randn(p.shape, generator=g) * 0.1)
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            elif name.endswith("query_key_value.weight") or name == "word_embeddings.weight":
                p.mul_(10.0)
    return model


def f32_state(model: GLMModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().to(torch.float32).contiguous().clone() for k, v in model.state_dict().items()}


def save_model_dir(model: GLMModel, name: str) -> str:
    d = os.path.join(GLM_FIX, f"model-{name}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(model.cfg.to_json())
    save_file(f32_state(model), os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    return d


def f64_copy(model: GLMModel) -> GLMModel:
    m = GLMModel(model.cfg)
    m.load_state_dict(model.state_dict())
    return m.double().eval()


def f32t(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).contiguous()


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------


def block_sample(text: list[int], spans: list[tuple[int, int]], order: list[int]):
    """docs/official-glm.md §1.4: Part A = text with each span collapsed to [MASK]; Part B = spans in `order`,
    each [sop]+span with targets span+[eop], position = the span's [MASK] index, block 1..len+1."""
    spans = sorted(spans)
    part_a, mask_at, i, k = [], {}, 0, 0
    while i < len(text):
        if k < len(spans) and spans[k][0] == i:
            mask_at[k] = len(part_a)
            part_a.append(MASK)
            i += spans[k][1]
            k += 1
        else:
            part_a.append(text[i])
            i += 1
    ids, pos, blk, tgt, lm = list(part_a), list(range(len(part_a))), [0] * len(part_a), list(part_a), [0] * len(part_a)
    for k in order:
        start, n = spans[k]
        span = text[start:start + n]
        ids += [SOP] + span
        tgt += span + [EOP]
        pos += [mask_at[k]] * (n + 1)
        blk += list(range(1, n + 2))
        lm += [1] * (n + 1)
    return dict(ids=ids, pos=pos, blk=blk, tgt=tgt, lm=lm, sep=len(part_a))


def pad_batch(samples, S):
    out = dict(input_ids=[], position_ids=[], targets=[], loss_mask=[], attention_mask=[])
    for smp in samples:
        p = S - len(smp["ids"])
        assert p >= 0
        out["input_ids"].append(smp["ids"] + [PAD] * p)
        out["position_ids"].append([smp["pos"] + [0] * p, smp["blk"] + [0] * p])
        out["targets"].append(smp["tgt"] + [PAD] * p)
        out["loss_mask"].append(smp["lm"] + [0] * p)
        out["attention_mask"].append(smp["sep"])
    return out


def run_case(model: GLMModel, model_name: str, case_name: str, case: dict, description: str):
    """Forward + loss + backward in float64 (eval mode: no dropout); write the case and its expected outputs."""
    m = f64_copy(model)
    ids = torch.tensor(case["input_ids"], dtype=torch.long)
    pos = torch.tensor(case["position_ids"], dtype=torch.long)
    if case["mask_kind"] == "sep":
        mask = torch.tensor(case["attention_mask"], dtype=torch.long)
    else:
        mask = torch.tensor(case["attention_mask"], dtype=torch.float64)
    logits, hidden = m(ids, pos, mask, return_memory=True)
    loss = glm_loss(logits, torch.tensor(case["targets"]), torch.tensor(case["loss_mask"]))
    loss.backward()
    out = {"logits": f32t(logits), "loss": f32t(loss)}
    # Layer-by-layer states (embedding output, then each layer's output before the final LN), so a
    # mismatch can be traced to the first layer that differs.
    for i, h in enumerate(hidden):
        out[f"hidden.{i}"] = f32t(h)
    for k, p in m.named_parameters():
        out[f"grad.{k}"] = f32t(p.grad)
    doc = {"description": description, "model": f"model-{model_name}", **case}
    with open(os.path.join(GLM_FIX, f"case-{case_name}.json"), "w") as f:
        json.dump(doc, f)
    save_file(out, os.path.join(GLM_FIX, f"case-{case_name}.expected.safetensors"))
    print(f"case-{case_name}: loss {loss.item():.6f}, logits {tuple(logits.shape)}")


def rand_text(g, n):
    return [int(x) for x in torch.randint(FIRST_TEXT, 100, (n,), generator=g)]


def blank_case(model, model_name, case_name, seed):
    g = torch.Generator().manual_seed(seed)
    samples = [
        # The §1.4 worked example: [CLS] x1..x6 [eos], spans {x3} and {x5 x6}, Part B = (span2, span1).
        block_sample([CLS] + rand_text(g, 6) + [EOS], [(3, 1), (5, 2)], [1, 0]),
        block_sample([CLS] + rand_text(g, 9) + [EOS], [(2, 3)], [0]),
        block_sample([CLS] + rand_text(g, 8) + [EOS], [(1, 1), (4, 2), (7, 1)], [2, 0, 1]),
    ]
    S = max(len(s["ids"]) for s in samples) + 2  # every sample gets right padding
    case = pad_batch(samples, S)
    case["mask_kind"] = "sep"
    run_case(model, model_name, case_name, case,
             "Blank-infilling batch (docs/official-glm.md §1.4 layout): per-sample sep list, shuffled Part B spans, right "
             "padding (id 0, position 0/0, target 0, loss 0).")


def simple_case(model, model_name, case_name, seed, b, s, sep_of, description):
    g = torch.Generator().manual_seed(seed)
    ids = [rand_text(g, s) for _ in range(b)]
    case = {
        "input_ids": ids,
        "position_ids": [[list(range(s)), [0] * s] for _ in range(b)],
        "attention_mask": [sep_of(s) for _ in range(b)],
        "mask_kind": "sep",
        # Targets = next token (the last predicts EOS); loss on all but the first position.
        "targets": [row[1:] + [EOS] for row in ids],
        "loss_mask": [[0] + [1] * (s - 1) for _ in range(b)],
    }
    run_case(model, model_name, case_name, case, description)


def explicit_case(model, model_name, case_name, seed):
    g = torch.Generator().manual_seed(seed)
    b, s = 2, 10
    ids = [rand_text(g, s) for _ in range(b)]
    M = (torch.rand(b, 1, s, s, generator=g) < 0.5).to(torch.int64)
    M[:, :, torch.arange(s), torch.arange(s)] = 1  # every row sees itself
    case = {
        "input_ids": ids,
        "position_ids": [[list(range(s)), [int(x) for x in torch.randint(0, 4, (s,), generator=g)]] for _ in range(b)],
        "attention_mask": M.tolist(),
        "mask_kind": "explicit",
        "targets": [rand_text(g, s) for _ in range(b)],
        "loss_mask": [[int(x) for x in (torch.rand(s, generator=g) < 0.7)] for _ in range(b)],
    }
    run_case(model, model_name, case_name, case,
             "Explicit [b][1][s][s] 0/1 float mask (random, diagonal 1), random block positions.")


def incremental_case(model, model_name, case_name, seed):
    """Context once with sep = its length (returning mems), then single-token steps with sep 0 at
    position (mask idx, step+1); plus the same sequence recomputed in one pass with an explicit mask."""
    g = torch.Generator().manual_seed(seed)
    m = f64_copy(model)
    ctx = [[CLS] + rand_text(g, 2) + [MASK] + rand_text(g, 2) + [EOS],
           [CLS] + rand_text(g, 4) + [MASK] + [EOS]]
    mask_idx = [row.index(MASK) for row in ctx]
    b, c = len(ctx), len(ctx[0])
    steps_in = [[SOP] + rand_text(g, 3) for _ in range(b)]  # teacher-forced step inputs
    k = len(steps_in[0])
    out = {}
    with torch.no_grad():
        ids = torch.tensor(ctx)
        pos = torch.tensor([[list(range(c)), [0] * c] for _ in range(b)])
        logits, mems = m(ids, pos, torch.tensor([c] * b), return_memory=True)
        out["context.logits"] = f32t(logits)
        for i, mem in enumerate(mems):
            out[f"context.mems.{i}"] = f32t(mem)
        steps, step_logits = [], []
        for t in range(k):
            sid = [[steps_in[j][t]] for j in range(b)]
            spos = [[[mask_idx[j]], [t + 1]] for j in range(b)]
            logits, mems = m(torch.tensor(sid), torch.tensor(spos), torch.tensor([0] * b), mems=mems, return_memory=True)
            out[f"step.{t}.logits"] = f32t(logits)
            step_logits.append(logits)
            steps.append({"input_ids": sid, "position_ids": spos, "attention_mask": [0] * b})
        for i, mem in enumerate(mems):
            out[f"final.mems.{i}"] = f32t(mem)
        T = c + k
        full_ids = [ctx[j] + steps_in[j] for j in range(b)]
        full_pos = [[list(range(c)) + [mask_idx[j]] * k, [0] * c + list(range(1, k + 1))] for j in range(b)]
        M = torch.zeros(b, 1, T, T, dtype=torch.int64)
        M[:, :, :, :c] = 1  # every row sees the whole context ...
        M[:, :, c:, c:] = torch.tril(torch.ones(k, k, dtype=torch.int64))  # ... generated rows are causal
        M[:, :, :c, c:] = 0  # ... and context rows never see generated tokens
        logits, _ = m(torch.tensor(full_ids), torch.tensor(full_pos), M.to(torch.float64))
        out["recompute.logits"] = f32t(logits)
        diff = (logits[:, c:] - torch.cat(step_logits, dim=1)).abs().max()
        assert diff < 1e-9, diff
    doc = {
        "description": "Incremental decoding: `context` once (sep = its length, return_memory), then each of "
                       "`steps` fed alone against all memory (sep 0, position (mask idx, step+1)). Expected: "
                       "context.logits [b,c,V], context.mems.{0..L} [b,c,h], step.{t}.logits [b,1,V], "
                       "final.mems.{0..L} [b,c+k,h], recompute.logits [b,c+k,V] from `recompute` (explicit mask); "
                       "recompute.logits[:, c+t] == step.{t}.logits.",
        "model": f"model-{model_name}",
        "mask_idx": mask_idx,
        "context": {"input_ids": ctx, "position_ids": [[list(range(c)), [0] * c] for _ in range(b)],
                    "attention_mask": [c] * b, "mask_kind": "sep"},
        "steps": [dict(s, mask_kind="sep") for s in steps],
        "recompute": {"input_ids": full_ids, "position_ids": full_pos, "attention_mask": M.tolist(),
                      "mask_kind": "explicit"},
    }
    with open(os.path.join(GLM_FIX, f"case-{case_name}.json"), "w") as f:
        json.dump(doc, f)
    save_file(out, os.path.join(GLM_FIX, f"case-{case_name}.expected.safetensors"))
    print(f"case-{case_name}: c={c} k={k}")


def train_steps_case(model, model_name, case_name, batch_case: str, steps: int = 3):
    """docs/official-glm.md §5 optimizer on one fixed batch (eval mode, no dropout), float64: per step the loss, the
    global gradient norm before clipping, clipping to 1.0, then decoupled AdamW (β 0.9/0.98, ε 1e-6,
    lr 1e-3, weight decay 0.1 except on biases and LayerNorm parameters). Expected: the parameters
    after the last step, `param.<key>`."""
    with open(os.path.join(GLM_FIX, f"case-{batch_case}.json")) as f:
        case = json.load(f)
    m = f64_copy(model)
    hp = {"lr": 1e-3, "betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.1, "clip_grad_norm": 1.0, "steps": steps}
    no_decay = [p for k, p in m.named_parameters() if k.endswith(".bias") or "layernorm" in k]
    decay = [p for k, p in m.named_parameters() if not (k.endswith(".bias") or "layernorm" in k)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=hp["lr"], betas=tuple(hp["betas"]), eps=hp["eps"])
    ids, pos = torch.tensor(case["input_ids"]), torch.tensor(case["position_ids"])
    mask = torch.tensor(case["attention_mask"])
    losses, norms = [], []
    for _ in range(steps):
        logits, _ = m(ids, pos, mask)
        loss = glm_loss(logits, torch.tensor(case["targets"]), torch.tensor(case["loss_mask"]))
        opt.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(m.parameters(), hp["clip_grad_norm"])))
        losses.append(float(loss.detach()))
        opt.step()
    doc = {"description": train_steps_case.__doc__.strip().replace("\n    ", " "), "model": f"model-{model_name}",
           "batch": f"case-{batch_case}.json", "hyperparameters": hp, "no_weight_decay": "keys ending in .bias or containing layernorm",
           "losses": losses, "grad_norms_before_clip": norms}
    with open(os.path.join(GLM_FIX, f"{case_name}.json"), "w") as f:
        json.dump(doc, f, indent=1)
    save_file({f"param.{k}": f32t(p) for k, p in m.named_parameters()}, os.path.join(GLM_FIX, f"{case_name}.expected.safetensors"))
    print(f"{case_name}: losses {[round(x, 5) for x in losses]}, grad norms {[round(x, 4) for x in norms]}")


def train_counting_model(cfg: GLMConfig, seed: int, steps: int = 400) -> GLMModel:
    """A tiny model trained (float32, dropout on, AdamW) to fill blanks in runs of consecutive ids.

    A random model fills every blank with one repeated token, which would make a weak generation
    fixture; this one produces varied tokens and stops at eop, so the greedy fixture exercises the
    position bookkeeping (a wrong (mask idx, step+1) gives a wrong count) and the eop path."""
    g = torch.Generator().manual_seed(seed)
    model = make_model(cfg, seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)

    def sample():
        n = int(torch.randint(8, 13, (1,), generator=g))
        start = int(torch.randint(FIRST_TEXT, cfg.vocab_size - n, (1,), generator=g))
        text = [CLS] + list(range(start, start + n)) + [EOS]
        a = int(torch.randint(1, n - 4, (1,), generator=g))
        la = int(torch.randint(1, 3, (1,), generator=g))
        b0 = int(torch.randint(a + la + 1, n - 1, (1,), generator=g))
        lb = int(torch.randint(1, min(3, n + 1 - b0) + 1, (1,), generator=g))
        order = [0, 1] if bool(torch.randint(0, 2, (1,), generator=g)) else [1, 0]
        return block_sample(text, [(a, la), (b0, lb)], order)

    for _ in range(steps):
        batch = pad_batch([sample() for _ in range(32)], 24)
        logits, _ = model(torch.tensor(batch["input_ids"]), torch.tensor(batch["position_ids"]),
                          torch.tensor(batch["attention_mask"]))
        loss = glm_loss(logits, torch.tensor(batch["targets"]), torch.tensor(batch["loss_mask"]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"trained counting model: final batch loss {loss.item():.4f}")
    return model.eval()


def greedy_case(model, model_name, case_name, seed, max_tokens=6):
    """docs/official-glm.md §7.1 blank filling, greedy: context once bidirectionally, then each [MASK] left to right:
    sop at (mask idx, 1), then greedy tokens at (mask idx, step+1), sep 0 against all memory.
    A fill stops at eop (not included in the fill) or after max_tokens tokens; the token that ends a
    fill is not fed back, the next fill starts with its own sop."""
    g = torch.Generator().manual_seed(seed)
    m = f64_copy(model)
    # A run of consecutive ids with two blanks: [CLS] 40 41 [MASK] 44 45 [MASK] 48 49 [eos]
    # (the blanks hide 42 43 and 46 47; a well-trained model fills them, but the fixture records
    # whatever the reference model generates, right or wrong).
    ctx = [CLS, 40, 41, MASK, 44, 45, MASK, 48, 49, EOS]
    c = len(ctx)
    fills, stops, margins = [], [], []
    with torch.no_grad():
        _, mems = m(torch.tensor([ctx]), torch.tensor([[list(range(c)), [0] * c]]), torch.tensor([c]), return_memory=True)
        for mi in [i for i, t in enumerate(ctx) if t == MASK]:
            tok, step, fill = SOP, 0, []
            while True:
                logits, mems = m(torch.tensor([[tok]]), torch.tensor([[[mi], [step + 1]]]), torch.tensor([0]),
                                 mems=mems, return_memory=True)
                top = torch.topk(logits[0, -1], 2)
                margins.append(float(top.values[0] - top.values[1]))
                tok = int(top.indices[0])
                if tok == EOP:
                    stops.append("eop")
                    break
                fill.append(tok)
                step += 1
                if len(fill) == max_tokens:
                    stops.append("max_tokens")
                    break
            fills.append(fill)
    doc = {
        "description": "Greedy blank filling (docs/official-glm.md §7.1) with the ids below; `fills` are the generated ids per "
                       "[MASK], left to right, eop excluded. `min_margin` is the smallest top-1/top-2 logit gap "
                       "seen, so a float32 port has room to agree.",
        "model": f"model-{model_name}",
        "context": ctx, "mask_id": MASK, "sop_id": SOP, "eop_id": EOP, "max_tokens": max_tokens,
        "fills": fills, "stops": stops, "min_margin": min(margins),
    }
    with open(os.path.join(GLM_FIX, f"case-{case_name}.json"), "w") as f:
        json.dump(doc, f)
    print(f"case-{case_name}: fills {fills}, min margin {min(margins):.4g}")


# ----------------------------------------------------------------------------------------------
# Checkpoint-format fixtures (GLMNNTests)
# ----------------------------------------------------------------------------------------------


def torch_save(obj, path, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, **kw)


def mp_split(sd: dict[str, torch.Tensor], cfg: GLMConfig, world: int) -> list[dict[str, torch.Tensor]]:
    """Inverse of the docs/official-glm.md §8.1 merge rules."""
    h = cfg.hidden_size
    ranks = [{} for _ in range(world)]
    for k, v in sd.items():
        if k == "word_embeddings.weight" or "dense_h_to_4h" in k:
            parts = v.chunk(world, dim=0)
        elif "query_key_value" in k:
            q, kk, vv = v.split(h, dim=0)
            qs, ks, vs = q.chunk(world, 0), kk.chunk(world, 0), vv.chunk(world, 0)
            parts = [torch.cat([qs[r], ks[r], vs[r]], dim=0) for r in range(world)]
        elif k.endswith("attention.dense.weight") or k.endswith("dense_4h_to_h.weight"):
            parts = v.chunk(world, dim=1)
        else:
            parts = [v] * world
        for r in range(world):
            ranks[r][k] = parts[r].contiguous().clone()
    return ranks


def zip_entries(path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(path, entries, compression):
    """A zip with fixed timestamps, so that regenerating gives identical bytes."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compression)


def write_zip64(entries: list[tuple[str, bytes]], path: str):
    """A stored (uncompressed) zip that uses Zip64 for everything, as torch does for > 4 GiB files:
    0xFFFFFFFF sizes/offsets with a Zip64 extra field, a Zip64 end-of-central-directory record and
    its locator. Python's zipfile only does this for files that need it, so it is written by hand."""
    import zlib
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 0x0001, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(nb), len(local_extra)) + nb + local_extra + data
        cextra = struct.pack("<HHQQQ", 0x0001, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + cextra
    cd_offset = len(out)
    out += central
    z64_offset = len(out)
    n = len(entries)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


def checkpoint_fixtures():
    cfg = GLMConfig(num_layers=2, hidden_size=16, num_attention_heads=2, vocab_size=64, max_sequence_length=16)
    model = make_model(cfg, seed=7)
    sd = f32_state(model)
    F = NN_FIX
    if os.path.isdir(F):
        for name in os.listdir(F):
            if name != "README.md":
                p = os.path.join(F, name)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(F, exist_ok=True)
    with open(os.path.join(F, "config.json"), "w") as f:
        f.write(cfg.to_json())
    save_file(sd, os.path.join(F, "model.safetensors"), metadata={"format": "pt"})
    # The HF converter: torch.save(checkpoint['module']) with unprefixed keys.
    torch_save(sd, os.path.join(F, "pytorch_model.bin"))
    # HF in-memory names (base_model_prefix "glm").
    torch_save({f"glm.{k}": v for k, v in sd.items()}, os.path.join(F, "hf-prefixed", "pytorch_model.bin"))
    # Official layout: tracker file + release/mp_rank_00_model_states.pt with extras around `module`.
    extras = {
        "iteration": 1000,
        "checkpoint_name": "release",
        "mp_world_size": 1,
        "lr": 1.25e-4,
        "flags": [True, False, None],
        "shape": (3, 4),
        "client_lr_scheduler": {"num_iters": 1000, "warmup_iter": 100.0, "decay_style": "linear"},
        "random_rng_state": __import__("random").Random(0).getstate(),
        "np_rng_state": np.random.RandomState(0).get_state(),
        "torch_rng_state": torch.Generator().manual_seed(0).get_state(),  # a uint8 tensor
        "step_ids": torch.arange(5, dtype=torch.int64),  # an i64 tensor outside the state dict
    }
    os.makedirs(os.path.join(F, "official"), exist_ok=True)
    with open(os.path.join(F, "official", "latest_checkpointed_iteration.txt"), "w") as f:
        f.write("release")
    torch_save({"module": sd, **extras}, os.path.join(F, "official", "release", "mp_rank_00_model_states.pt"))
    # MP = 2 split per §8.1.
    os.makedirs(os.path.join(F, "official-mp2", "release"), exist_ok=True)
    with open(os.path.join(F, "official-mp2", "latest_checkpointed_iteration.txt"), "w") as f:
        f.write("release\n")
    for r, part in enumerate(mp_split(sd, cfg, 2)):
        torch_save({"module": part, "iteration": 1000, "mp_world_size": 2},
                   os.path.join(F, "official-mp2", "release", f"mp_rank_{r:02d}_model_states.pt"))
    # Reduced precision copies.
    torch_save({k: v.half() for k, v in sd.items()}, os.path.join(F, "fp16", "pytorch_model.bin"))
    os.makedirs(os.path.join(F, "bf16"), exist_ok=True)
    save_file({k: v.bfloat16() for k, v in sd.items()}, os.path.join(F, "bf16", "model.safetensors"))
    # Views and shared storage: offsets, a transposed (non-contiguous) view, the same tensor twice,
    # and a tensor that is a strided slice; expected contiguous values in views.safetensors.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8.0
    with_attribute = torch.tensor([1.5, -2.0])
    with_attribute.note = "hello"
    views = {
        "base": base,
        "rows": base[1:3],            # storage offset 6
        "transposed": base.t(),       # strides (1, 6)
        "same": base,                 # the same storage and view again
        "cols": base[:, 2:5],         # offset 2, strides (6, 1), not contiguous
        "scalar": torch.tensor(3.5),  # 0-d
        "half_view": torch.arange(8, dtype=torch.float16)[::2],  # stride 2
        "parameter": torch.nn.Parameter(torch.arange(3, dtype=torch.float32)),  # _rebuild_parameter
        "with_attribute": with_attribute,  # _rebuild_from_type_v2 (a tensor carrying a Python attribute)
    }
    torch_save(views, os.path.join(F, "views.bin"))
    save_file({k: v.detach().contiguous().clone() for k, v in views.items()}, os.path.join(F, "views.safetensors"))
    # The legacy (pre-1.6, non-zip) torch.save format (its storage keys are memory addresses, so
    # these two files change on every regeneration).
    torch_save(sd, os.path.join(F, "legacy.bin"), _use_new_zipfile_serialization=False)
    torch_save(views, os.path.join(F, "legacy-views.bin"), _use_new_zipfile_serialization=False)
    # The same archive as pytorch_model.bin, rewritten with Zip64 records.
    write_zip64(zip_entries(os.path.join(F, "pytorch_model.bin")), os.path.join(F, "zip64.bin"))
    # The same archive with deflated entries (torch never writes these; the reader must say so).
    write_zip(os.path.join(F, "compressed.bin"), zip_entries(os.path.join(F, "pytorch_model.bin")), zipfile.ZIP_DEFLATED)
    # Malicious pickles, written byte by byte (never by pickling a live object, never executed):
    # PROTO 2, GLOBAL 'os system', BINUNICODE <cmd>, TUPLE1, REDUCE, STOP. Loading either must fail
    # naming os.system, and the marker file must not appear.
    cmd = b"touch /tmp/swift-glm-evil-pickle-ran"
    evil = b"\x80\x02" + b"cos\nsystem\n" + b"X" + struct.pack("<I", len(cmd)) + cmd + b"\x85" + b"R" + b"."
    write_zip(os.path.join(F, "evil.bin"), [("archive/data.pkl", evil), ("archive/version", b"3\n")], zipfile.ZIP_STORED)
    with open(os.path.join(F, "evil-legacy.bin"), "wb") as f:
        f.write(evil)
    # Truncated files.
    raw = open(os.path.join(F, "model.safetensors"), "rb").read()
    open(os.path.join(F, "truncated.safetensors"), "wb").write(raw[: len(raw) // 2])
    open(os.path.join(F, "truncated-header.safetensors"), "wb").write(raw[:40])
    raw = open(os.path.join(F, "pytorch_model.bin"), "rb").read()
    open(os.path.join(F, "truncated.bin"), "wb").write(raw[: len(raw) // 2])
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(F) for fn in fns)
    print(f"GLMNNTests fixtures: {total / 1024:.0f} KiB")


def main():
    torch.set_num_threads(2)
    os.makedirs(GLM_FIX, exist_ok=True)
    for name in os.listdir(GLM_FIX):
        if name != "README.md":
            p = os.path.join(GLM_FIX, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)

    tiny = make_model(GLMConfig(num_layers=2, hidden_size=32, num_attention_heads=4, vocab_size=128,
                                max_sequence_length=32, gelu="tanh"), seed=1)
    erf = make_model(GLMConfig(num_layers=2, hidden_size=48, num_attention_heads=4, vocab_size=200,
                               max_sequence_length=24, gelu="erf"), seed=2)
    save_model_dir(tiny, "tiny")
    save_model_dir(erf, "erf")

    blank_case(tiny, "tiny", "blank-tiny", seed=10)
    blank_case(erf, "erf", "blank-erf", seed=11)
    simple_case(tiny, "tiny", "causal-tiny", 12, 2, 9, lambda s: 0,
                "Pure causal LM: sep 0 for every sample.")
    simple_case(tiny, "tiny", "bidirectional-tiny", 13, 2, 9, lambda s: s,
                "Fully bidirectional: sep = s for every sample.")
    simple_case(erf, "erf", "causal-erf", 14, 1, 12, lambda s: 0,
                "Pure causal LM on the erf-GELU, V=200 model.")
    explicit_case(tiny, "tiny", "explicit-tiny", seed=15)
    train_steps_case(tiny, "tiny", "train-adamw-tiny", "blank-tiny")
    incremental_case(tiny, "tiny", "incremental-tiny", seed=16)
    counting = train_counting_model(GLMConfig(num_layers=2, hidden_size=32, num_attention_heads=4, vocab_size=128,
                                              max_sequence_length=32, gelu="tanh"), seed=3)
    save_model_dir(counting, "counting")
    greedy_case(counting, "counting", "greedy-counting", seed=17)
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(GLM_FIX) for fn in fns)
    print(f"GLMTests fixtures: {total / 1024:.0f} KiB")

    checkpoint_fixtures()


if __name__ == "__main__":
    main()
