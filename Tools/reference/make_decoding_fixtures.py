"""Decoding fixtures for the seq2seq and blank-infilling evaluation (Tests/GLMTasksTests/Fixtures/decoding.json).

    /root/venv-ref/bin/python Tools/reference/make_decoding_fixtures.py      # from the repository root, ~2 s

The reference model (glm_ref.py, float64, eval mode, hidden-state mems as the official code keeps them)
decodes with transcriptions of the official evaluators (docs/official-glm.md §6.2, §6.3):

- `seq2seq` cases: `tasks/seq2seq/evaluate.py:DecoderEvaluater.evaluate` on a batch of sources padded
  inside Part A (tokens = source + [sop], sep = source length), with `generation_utils.py`'s
  `BeamSearchScorer` / `BeamHypotheses` (`do_early_stopping=False`), `MinLengthLogitsProcessor` and
  `NoRepeatNGramLogitsProcessor` on the generated tokens, `--select-topk` (top 2·beams of the summed
  log-probabilities), eop the only end token (pad and eos are ordinary tokens). Expected: each
  example's best hypothesis (without eop), its score, and the official prediction ids (eop and pad
  dropped).
- `blank` cases: `BlankLMEvaluater.evaluate`: greedy, the blanks of a context as one stream (eop
  becomes sop and moves to the next mask, the processors see the whole stream, `tgt_seq_length`
  bounds it), and the official output assembly (`output_tokens`: masks replaced by their blanks, pads
  dropped, the final sop cut). Expected: the stream and the output ids.

`min_gap` is the smallest difference between consecutive candidate scores that decided a rank (top
2·beams + 1 per step, or the greedy top 2), so a float32 port has room to agree. Models are the
committed Tests/GLMTests/Fixtures/model-counting and model-tiny (ids: pad = eos = 0, [CLS] 1,
[MASK] 2, sop 3, eop 4).
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_case import load_model  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "GLMTasksTests", "Fixtures", "decoding.json")
MODELS = os.path.join(ROOT, "Tests", "GLMTests", "Fixtures")

PAD = EOS = 0
CLS = 1
MASK = 2
SOP = 3
EOP = 4


# --- generation_utils.py, transcribed ---------------------------------------------------------

class BeamHypotheses:
    def __init__(self, num_beams, length_penalty):
        self.length_penalty = length_penalty
        self.num_beams = num_beams
        self.beams = []
        self.worst_score = 1e9

    def add(self, hyp, sum_logprobs):
        score = sum_logprobs / (max(len(hyp), 1) ** self.length_penalty)
        if len(self.beams) < self.num_beams or score > self.worst_score:
            self.beams.append((score, list(hyp)))
            if len(self.beams) > self.num_beams:
                ranked = sorted([(s, idx) for idx, (s, _) in enumerate(self.beams)])
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs, cur_len):
        if len(self.beams) < self.num_beams:
            return False
        return self.worst_score >= best_sum_logprobs / cur_len ** self.length_penalty


def min_length(tokens_row, scores_row, n):
    if len(tokens_row) < n:
        scores_row[EOP] = -float("inf")


def no_repeat_ngram(tokens_row, scores_row, n):
    cur_len = len(tokens_row)
    if n <= 0 or cur_len + 1 < n:
        return
    seen = {}
    for ngram in zip(*[tokens_row[i:] for i in range(n)]):
        seen.setdefault(tuple(ngram[:-1]), []).append(ngram[-1])
    for t in seen.get(tuple(tokens_row[cur_len + 1 - n:cur_len]), []):
        scores_row[t] = -float("inf")


def process(tokens, scores, min_len, ngram):
    for i in range(scores.shape[0]):
        if min_len > 0:
            min_length(tokens[i], scores[i], min_len)
        if ngram > 0:
            no_repeat_ngram(tokens[i], scores[i], ngram)
    return scores


# --- DecoderEvaluater.evaluate, transcribed ---------------------------------------------------

@torch.no_grad()
def seq2seq_beam(m, sources, beams, length_penalty, min_len, ngram, max_len):
    b = len(sources)
    src_len = len(sources[0])
    tokens = torch.tensor([s + [SOP] for s in sources])
    position_ids = torch.tensor([[list(range(src_len)) + [s.index(MASK)], [0] * src_len + [1]] for s in sources])
    sep = torch.tensor([src_len] * b)
    hyps = [BeamHypotheses(beams, length_penalty) for _ in range(b)]
    done = [False] * b
    beam_scores = torch.zeros(b, beams, dtype=torch.float64)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    gen = [[] for _ in range(b * beams)]
    gaps = []
    counter = 0
    while counter < max_len:
        if counter == 0:
            logits, mems = m(tokens, position_ids, sep, return_memory=True)
            logits = logits[:, -1].repeat_interleave(beams, dim=0)
            mems = [mem.repeat_interleave(beams, dim=0) for mem in mems]
            pos = torch.ones(b * beams, 2, 1, dtype=torch.long)
            for i, s in enumerate(sources):
                pos[i * beams:(i + 1) * beams, 0] = s.index(MASK)
        else:
            pos[:, 1] = counter + 1
            last = torch.tensor([[g[-1]] for g in gen])
            logits, mems = m(last, pos, torch.zeros(b * beams, dtype=torch.long), mems=mems, return_memory=True)
            logits = logits[:, -1]
        scores = F.log_softmax(logits, dim=-1)
        scores = process(gen, scores, min_len, ngram)
        scores = scores + beam_scores[:, None]
        V = scores.shape[-1]
        flat = scores.view(b, beams * V)
        top = torch.sort(flat, dim=1, descending=True)
        next_scores = top.values[:, :2 * beams]
        next_ids = top.indices[:, :2 * beams]
        for i in range(b):
            if not done[i]:
                vals = top.values[i, :2 * beams + 1].tolist()
                gaps += [vals[k] - vals[k + 1] for k in range(len(vals) - 1) if vals[k + 1] > -1e8]
        new_scores, new_tokens, new_src = [], [], []
        for i in range(b):
            if done[i]:
                new_scores += [0.0] * beams
                new_tokens += [PAD] * beams
                new_src += [i * beams] * beams
                continue
            kept = 0
            for rank in range(2 * beams):
                tok = int(next_ids[i, rank]) % V
                src = i * beams + int(next_ids[i, rank]) // V
                sc = float(next_scores[i, rank])
                if tok == EOP:
                    if rank >= beams:
                        continue
                    hyps[i].add(gen[src], sc)
                else:
                    new_scores.append(sc)
                    new_tokens.append(tok)
                    new_src.append(src)
                    kept += 1
                if kept == beams:
                    break
            done[i] = done[i] or hyps[i].is_done(float(next_scores[i].max()), len(gen[0]))
        beam_scores = torch.tensor(new_scores, dtype=torch.float64)
        gen = [gen[s] + [t] for s, t in zip(new_src, new_tokens)]
        mems = [mem[torch.tensor(new_src)] for mem in mems]
        if all(done):
            break
        counter += 1
    out = []
    for i in range(b):
        if not done[i]:
            for k in range(beams):
                hyps[i].add(gen[i * beams + k], float(beam_scores[i * beams + k]))
        score, best = sorted(hyps[i].beams, key=lambda x: x[0]).pop()
        out.append({"tokens": best, "score": score, "prediction_ids": [t for t in best if t not in (EOP, PAD)]})
    return out, min(gaps)


# --- BlankLMEvaluater.evaluate, transcribed ---------------------------------------------------

@torch.no_grad()
def blank_greedy(m, sources, min_len, ngram, max_len):
    b = len(sources)
    src_len = len(sources[0])
    src_tokens = [s + [SOP] for s in sources]
    tokens = torch.tensor(src_tokens)
    mask_positions = [[i for i, x in enumerate(t) if x == MASK] for t in src_tokens]
    current = [0] * b
    position_ids = torch.tensor([[list(range(src_len)) + [mp[0]], [0] * src_len + [1]] for mp in mask_positions])
    sep = torch.tensor([src_len] * b)
    gen = [[] for _ in range(b)]
    done = [False] * b
    gaps = []
    counter = 0
    while counter < max_len:
        if counter == 0:
            logits, mems = m(tokens, position_ids, sep, return_memory=True)
            logits = logits[:, -1]
            pos = torch.ones(b, 2, 1, dtype=torch.long)
            for i in range(b):
                pos[i, 0] = mask_positions[i][current[i]]
        else:
            pos[:, 1] = pos[:, 1] + 1
            last = torch.tensor([[g[-1]] for g in gen])
            logits, mems = m(last, pos, torch.zeros(b, dtype=torch.long), mems=mems, return_memory=True)
            logits = logits[:, -1]
        scores = F.log_softmax(logits, dim=-1)
        scores = process(gen, scores, min_len, ngram)
        nxt = scores.max(dim=-1)[1].tolist()
        for i in range(b):
            if not done[i]:
                top = torch.topk(scores[i], 2).values.tolist()
                gaps.append(top[0] - top[1])
        for i in range(b):
            if nxt[i] == EOP:
                if current[i] + 1 < len(mask_positions[i]):
                    current[i] += 1
                    nxt[i] = SOP
                    pos[i, 0] = mask_positions[i][current[i]]
                    pos[i, 1] = 0
                else:
                    done[i] = True
            if done[i]:
                nxt[i] = PAD
        if all(done):
            break
        for i in range(b):
            gen[i].append(nxt[i])
        counter += 1
    out = []
    for i in range(b):
        text = [t for t in gen[i] if t not in (EOP, PAD)]
        blanks = [[]]
        for t in text:
            if t == SOP:
                blanks.append([])
            else:
                blanks[-1].append(t)
        output, k = [], 0
        for t in src_tokens[i]:
            if t == MASK:
                if k < len(blanks):
                    output += blanks[k]
                k += 1
            elif t != PAD:
                output.append(t)
        out.append({"stream": gen[i], "output_ids": output[:-1]})
    return out, min(gaps)


def padded(ids, n):
    return ids + [PAD] * (n - len(ids))


def main():
    counting = load_model(os.path.join(MODELS, "model-counting"), torch.float64).eval()
    tiny = load_model(os.path.join(MODELS, "model-tiny"), torch.float64).eval()
    models = {"model-counting": counting, "model-tiny": tiny}
    seq2seq = [
        # Summary-style sources ([CLS] [MASK] text, pads inside Part A) on the counting model.
        ("model-counting", [padded([CLS, MASK, 40, 41, 42, 43, 44, 45], 16), padded([CLS, MASK, 60, 61, 62], 16),
                            padded([CLS, MASK, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29], 16)],
         dict(beams=4, length_penalty=0.7, min_len=2, ngram=3, max_len=6)),
        # Question-generation-style (the mask inside the text), a length penalty above 1.
        ("model-counting", [padded([CLS, 30, 31, 32, MASK, 36, 37], 12), padded([CLS, 50, 51, MASK, 55, 56, 57], 12)],
         dict(beams=3, length_penalty=1.5, min_len=0, ngram=0, max_len=5)),
        # A random model repeats tokens: the n-gram ban and the minimum length decide.
        ("model-tiny", [padded([CLS, MASK, 17, 30, 11, 12], 10), padded([CLS, MASK, 90, 91], 10)],
         dict(beams=4, length_penalty=1.0, min_len=3, ngram=2, max_len=7)),
        ("model-tiny", [padded([CLS, 25, 26, MASK, 27, 28, 29], 9)],
         dict(beams=2, length_penalty=0.6, min_len=0, ngram=3, max_len=8)),
    ]
    blank = [
        # Three blanks; the budget is enough, cuts the third fill, or is spent by the sop before it.
        ("model-counting", [padded([CLS, 40, 41, MASK, 44, 45, MASK, 48, 49, MASK, 52], 14),
                            padded([CLS, 20, MASK, 23, 24, MASK, 27], 14)],
         dict(min_len=0, ngram=3, max_len=20)),
        ("model-counting", [padded([CLS, 40, 41, MASK, 44, 45, MASK, 48, 49, MASK, 52], 14)],
         dict(min_len=0, ngram=3, max_len=5)),
        ("model-counting", [padded([CLS, 40, 41, MASK, 44, 45, MASK, 48, 49, MASK, 52], 14)],
         dict(min_len=0, ngram=3, max_len=4)),
        ("model-tiny", [padded([CLS, 17, MASK, 30, MASK, 11, 12, MASK], 12), padded([MASK, 50, 51, MASK], 12)],
         dict(min_len=2, ngram=2, max_len=9)),
    ]
    doc = {"description": __doc__.strip(), "seq2seq": [], "blank": []}
    for name, sources, cfg in seq2seq:
        out, gap = seq2seq_beam(models[name], sources, **cfg)
        doc["seq2seq"].append({"model": name, "sources": sources, **cfg, "expected": out, "min_gap": gap})
        print(f"seq2seq {name} {cfg}: {[o['tokens'] for o in out]} (min gap {gap:.3g})")
    for name, sources, cfg in blank:
        out, gap = blank_greedy(models[name], sources, **cfg)
        doc["blank"].append({"model": name, "sources": sources, **cfg, "expected": out, "min_gap": gap})
        print(f"blank {name} {cfg}: {[o['stream'] for o in out]} (min gap {gap:.3g})")
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
