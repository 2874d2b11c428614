"""Fixtures for the cloze heads and losses (GLMTasksTests), from the PyTorch reference.

    /root/venv-ref/bin/python Tools/reference/make_cloze_fixtures.py      # from the repository root, ~3 s

Writes Tests/GLMTasksTests/Fixtures/heads/: a copy of the reference's `model-tiny` (L=2, h=32, V=128,
P=32, made by make_fixtures.py) and, per case, `case-<name>.json` (the batch as `glm cloze` samples,
the head settings and labels) with `case-<name>.expected.safetensors`: `loss` [1], `scores` [B, C]
and `grad.<official key>` for every parameter, computed in float64 (eval mode) on the f32 weights
and stored as f32. Token ids are made up: pad = eos = 0, [CLS] = 1, [MASK] = 2, sop = 3, eop = 4,
text ids >= 10.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glm_ref import GLMConfig, GLMModel  # noqa: E402
from cloze_ref import cloze_loss, multi_token_scores, single_token_scores  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SRC = os.path.join(ROOT, "Tests", "GLMTests", "Fixtures", "model-tiny")
OUT = os.path.join(ROOT, "Tests", "GLMTasksTests", "Fixtures", "heads")
EOS, CLS, MASK, SOP, EOP = 0, 1, 2, 3, 4


def sequence(part_a, answer, seq):
    """tasks/data_utils.py:build_input_from_ids(add_cls, add_piece, add_eos) for made-up ids."""
    ids = [CLS] + part_a + [EOS]
    sep = len(ids)
    mask_pos = len(ids) - 1 - ids[::-1].index(MASK)
    pos, blk, tgt, lm = list(range(sep)), [0] * sep, [0] * sep, [0] * sep
    ids.append(SOP)
    pos.append(mask_pos)
    blk.append(1)
    if answer is None:
        tgt.append(0)
        lm.append(1)
    else:
        ids += answer[:-1]
        pos += [mask_pos] * (len(answer) - 1)
        blk += list(range(2, len(answer) + 1))
        tgt += answer
        lm += [1] * len(answer)
    pad = seq - len(ids)
    assert pad >= 0
    return dict(input_ids=ids + [EOS] * pad, position_ids=[pos + [0] * pad, blk + [0] * pad], sep=sep,
                target_ids=tgt + [0] * pad, loss_mask=lm + [0] * pad)


def sample(guid, label, seqs, candidates=None):
    s = {"guid": guid, "label": label, "kind": "single" if candidates is not None else "multi",
         "input_ids": [q["input_ids"] for q in seqs], "position_ids": [q["position_ids"] for q in seqs],
         "sep": [q["sep"] for q in seqs], "target_ids": [q["target_ids"] for q in seqs],
         "loss_mask": [q["loss_mask"] for q in seqs]}
    if candidates is not None:
        s["candidate_ids"] = candidates
    return s


def text(g, n):
    return [int(x) for x in torch.randint(10, 120, (n,), generator=g)]


def load_model():
    cfg = GLMConfig.from_json(os.path.join(SRC, "config.json"))
    m = GLMModel(cfg)
    m.load_state_dict(load_file(os.path.join(SRC, "model.safetensors")))
    return m.double().eval()


def run(name, description, samples, length_penalty=0.0, loss_func="cross_entropy"):
    model = load_model()
    kind = samples[0]["kind"]
    if kind == "single":
        scores = single_token_scores(model, samples)
    else:
        scores = multi_token_scores(model, samples, length_penalty)
    loss = cloze_loss(scores, [s["label"] for s in samples], loss_func)
    loss.backward()
    out = {"loss": loss.detach().float().reshape(1), "scores": scores.detach().float().contiguous()}
    for k, p in model.named_parameters():
        out[f"grad.{k}"] = p.grad.detach().float().contiguous()
    doc = {"description": description, "model": "model-tiny", "length_penalty": length_penalty, "loss": loss_func,
           "samples": samples}
    with open(os.path.join(OUT, f"case-{name}.json"), "w") as f:
        json.dump(doc, f)
    save_file(out, os.path.join(OUT, f"case-{name}.expected.safetensors"))
    print(f"case-{name}: loss {loss.item():.6f}, scores {scores.detach().numpy().round(4).tolist()}")


def main():
    torch.set_num_threads(2)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    shutil.copytree(SRC, os.path.join(OUT, "model-tiny"))
    g = torch.Generator().manual_seed(20)
    S = 20
    # Single-token: 3 samples, masks at different places, 3 verbalisers.
    single = [
        sample("s0", 0, [sequence(text(g, 3) + [MASK] + text(g, 5), None, S)], [50, 60, 70]),
        sample("s1", 2, [sequence(text(g, 9) + [MASK], None, S)], [50, 60, 70]),
        sample("s2", 1, [sequence([MASK] + text(g, 12), None, S)], [50, 60, 70]),
    ]
    run("single", "Single-token cloze: raw logits at sop over the verbalisers [50, 60, 70], cross-entropy.", single)
    # Multi-token, variable choice counts (2, 3, 1), answers of 1..4 tokens + eop.
    def multi(guid, label, a, answers):
        return sample(guid, label, [sequence(a, ans + [EOP], S) for ans in answers])
    a0, a1, a2 = text(g, 4) + [MASK] + text(g, 3), [MASK] + text(g, 6), text(g, 8) + [MASK]
    variable = [
        multi("m0", 1, a0, [text(g, 2), text(g, 3)]),
        multi("m1", 2, a1, [text(g, 1), text(g, 4), text(g, 2)]),
        multi("m2", 0, a2, [text(g, 3)]),
    ]
    run("multi", "Multi-token cloze, 2/3/1 choices (padded choices masked to -10000), no length penalty, cross-entropy.",
        variable)
    wsc = [
        multi("w0", 0, text(g, 5) + [MASK] + text(g, 2), [text(g, 2), text(g, 1), text(g, 3)]),
        multi("w1", 0, [MASK] + text(g, 7), [text(g, 3)]),
    ]
    run("wsc", "WSC recipe: length penalty 1 (mean log-prob), loss mix (-score of label + CE), 3/1 choices.",
        wsc, length_penalty=1.0, loss_func="mix")
    copa = [
        multi("c0", 0, text(g, 6) + [MASK] + text(g, 1), [text(g, 4), text(g, 2)]),
        multi("c1", 1, text(g, 3) + [MASK], [text(g, 1), text(g, 5)]),
    ]
    run("penalty", "Two choices each (no masking), length penalty 0.5, cross-entropy.", copa, length_penalty=0.5)


if __name__ == "__main__":
    main()
