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

`wikitext-detok.json`: the official `wikitext_detokenizer` (copied verbatim) on WikiText-style strings.

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


# ---- official tasks/data_utils.py and tasks/language_model/dataset.py (THUDM/GLM, MIT), on id lists ----

def num_special_tokens_to_add(text_a_ids, text_b_ids, answer_ids, add_cls, add_sep, add_piece, add_eos=True):
    num_tokens = 0
    if add_cls:
        num_tokens += 1
    if text_b_ids and add_sep:
        num_tokens += 1
    if add_eos:
        num_tokens += 1
    if not answer_ids and add_piece:
        num_tokens += 1
    return num_tokens


def build_input_from_ids(text_a_ids, answer_ids, max_seq_length, add_eos=True, mask_id=MASK):
    """build_input_from_ids with text_b None, add_cls, no add_sep, add_piece; no sentinel, block positions on."""
    ids = [CLS] + list(text_a_ids)
    eos_length = 1 if add_eos else 0
    if len(ids) >= max_seq_length - eos_length:
        ids = ids[0:max_seq_length - 1]
    if add_eos:
        ids.append(EOS)
    sep = len(ids)
    target_ids = [0] * len(ids)
    loss_masks = [0] * len(ids)
    position_ids = list(range(len(ids)))
    block_position_ids = [0] * len(ids)
    assert mask_id in ids
    mask_position = len(ids) - ids[-1::-1].index(mask_id) - 1
    ids.append(SOP)
    position_ids.append(mask_position)
    block_position_ids.append(1)
    if answer_ids is not None:
        len_answer = len(answer_ids)
        ids.extend(answer_ids[:-1])
        position_ids.extend([mask_position] * (len_answer - 1))
        block_position_ids.extend(range(2, len(answer_ids) + 1))
        target_ids.extend(answer_ids)
        loss_masks.extend([1] * len(answer_ids))
    else:
        target_ids.append(0)
        loss_masks.append(1)
    padding_length = max_seq_length - len(ids)
    if padding_length > 0:
        ids.extend([EOS] * padding_length)
        position_ids.extend([0] * padding_length)
        block_position_ids.extend([0] * padding_length)
        target_ids.extend([0] * padding_length)
        loss_masks.extend([0] * padding_length)
    return ids, [position_ids, block_position_ids], sep, target_ids, loss_masks


def lambada_item(tokens, answer, max_seq_length, unidirectional):
    """LambadaDataset.__getitem__ (block_lm)."""
    if unidirectional:
        tokens, answer_tokens = tokens[:1], tokens[1:] + answer
    else:
        answer_tokens = answer
    tokens = tokens + [MASK]
    num_special_tokens = num_special_tokens_to_add(tokens, None, answer_tokens, add_cls=True, add_sep=False, add_piece=True)
    left_shift = len(tokens) + len(answer_tokens) + num_special_tokens - max_seq_length
    if left_shift > 0:
        tokens = tokens[left_shift:]
    ids, pos, sep, target_ids, loss_masks = build_input_from_ids(tokens, answer_tokens, max_seq_length)
    if unidirectional:
        last_index = len(loss_masks)
        while loss_masks[last_index - 1] == 0:
            last_index -= 1
        for i in range(last_index - len(answer)):
            loss_masks[i] = 0
    return dict(input_ids=ids, position_ids=pos, sep=sep, target_ids=target_ids, loss_mask=loss_masks)


def lm_windows(doc, seq_length, overlap, unidirectional):
    """LMDataset (block_lm) for one document: every window, in order."""
    max_seq_len = seq_length - 1
    overlap = max(1, overlap)
    target = max(len(doc) - max_seq_len, 0)
    n = max(math.ceil(target / overlap) + 1, 1)
    out = []
    for idx in range(n):
        start_idx = idx * overlap
        tokens = doc[start_idx:start_idx + max_seq_len]
        if idx == 0 or unidirectional:
            prompt, text = tokens[:1], tokens[1:]
        else:
            prompt_length = max_seq_len - overlap
            prompt, text = tokens[:prompt_length], tokens[prompt_length:]
        prompt = prompt + [MASK]
        num_special_tokens = num_special_tokens_to_add(prompt, None, text, add_cls=True, add_sep=False, add_piece=True,
                                                       add_eos=False)
        ids, pos, sep, target_ids, loss_masks = build_input_from_ids(prompt, text, max_seq_len + num_special_tokens + 1,
                                                                     add_eos=False)
        if idx != 0 and unidirectional:
            loss_masks[:-overlap] = [0] * len(loss_masks[:-overlap])
        out.append(dict(input_ids=ids, position_ids=pos, sep=sep, target_ids=target_ids, loss_mask=loss_masks))
    return out

# ------------------------------------------------------------------------------------------------------


def score_samples(m, samples):
    """lm_forward_step on each sample alone: Σ CE·loss_mask, all-argmax correctness, the smallest
    top-1/top-2 logit margin over the loss rows, and the argmax of each loss row."""
    out = []
    for smp in samples:
        ids = torch.tensor([smp["input_ids"]])
        pos = torch.tensor([smp["position_ids"]])
        with torch.no_grad():
            logits, _ = m(ids, pos, torch.tensor([smp["sep"]]))
        logits = logits[0]
        lm = torch.tensor(smp["loss_mask"], dtype=torch.float64)
        tg = torch.tensor(smp["target_ids"])
        ce = torch.nn.functional.cross_entropy(logits, tg, reduction="none")
        rows = [i for i, v in enumerate(smp["loss_mask"]) if v]
        top = torch.topk(logits[rows], 2, dim=-1).values
        arg = logits.argmax(-1)
        out.append(dict(loss_sum=float((ce * lm).sum()), tokens=len(rows),
                        all_correct=bool(all(int(arg[i]) == smp["target_ids"][i] for i in rows)),
                        argmax=[int(arg[i]) for i in rows], min_margin=float((top[:, 0] - top[:, 1]).min())))
    return out


def greedy_answer(m, context, n, seq_length, unidirectional):
    """The answer the model itself predicts, token by token (so that scoring finds it all correct)."""
    answer = [10] * n
    for k in range(n):
        smp = lambada_item(context, answer, seq_length, unidirectional)
        rows = [i for i, v in enumerate(smp["loss_mask"]) if v]
        with torch.no_grad():
            logits, _ = m(torch.tensor([smp["input_ids"]]), torch.tensor([smp["position_ids"]]), torch.tensor([smp["sep"]]))
        answer[k] = int(logits[0, rows[k]].argmax())
    return answer


def lm_scores():
    m = load_model(MODEL, torch.float64)
    g = torch.Generator().manual_seed(77)

    def text(n):
        return [int(x) for x in torch.randint(10, 128, (n,), generator=g)]

    lambada = []
    ctx = text(9)
    cases = [
        ("bidirectional", ctx, text(2), 20, False),
        ("bidirectional, left-truncated", text(14), text(3), 12, False),
        ("unidirectional", ctx, text(2), 20, True),
        ("unidirectional, first token cut", text(8), text(2), 12, True),
        ("bidirectional, the model's own continuation", ctx, greedy_answer(m, ctx, 2, 20, False), 20, False),
        ("unidirectional, the model's own continuation", ctx, greedy_answer(m, ctx, 3, 20, True), 20, True),
        ("one-token answer, empty context", [], text(1), 20, False),
    ]
    for name, c, a, L, uni in cases:
        smp = lambada_item(c, a, L, uni)
        lambada.append(dict(name=name, context=c, target=a, seq_length=L, unidirectional=uni, sample=smp,
                            **score_samples(m, [smp])[0]))
    ppl = []
    doc = text(40)
    # (seq_length, overlap): overlapping windows both ways, overlap = window (no shared context),
    # overlap 1 (every window all context but one token), a document shorter than one window.
    for L, k, uni, d in [(10, 3, False, doc), (10, 3, True, doc), (10, 9, False, doc), (8, 7, True, doc),
                         (12, 1, False, doc), (30, 29, False, doc[:20])]:
        ws = lm_windows(d, L, k, uni)
        sc = score_samples(m, ws)
        ppl.append(dict(seq_length=L, overlap=k, unidirectional=uni, document=d,
                        windows=ws, window_loss_sums=[x["loss_sum"] for x in sc], window_tokens=[x["tokens"] for x in sc],
                        loss_sum=sum(x["loss_sum"] for x in sc)))
    with open(os.path.join(OUT, "lm-scores-tiny.json"), "w") as f:
        json.dump({"description": "LAMBADA samples and perplexity windows (official layouts on id lists) scored by "
                                  "the PyTorch reference on model-tiny in float64",
                   "model": "model-tiny", "lambada": lambada, "perplexity": ppl}, f)
    print("lm-scores-tiny: " + ", ".join(f"{x['name']}: correct={x['all_correct']} margin={x['min_margin']:.3f}" for x in lambada))


def wikitext_detokenizer(string):
    """tasks/language_model/detokenizer.py:wikitext_detokenizer (THUDM/GLM, MIT), verbatim."""
    import re
    # contractions
    string = string.replace("s '", "s'")
    string = re.sub(r"/' [0-9]/", r"/'[0-9]/", string)
    # number separators
    string = string.replace(" @-@ ", "-")
    string = string.replace(" @,@ ", ",")
    string = string.replace(" @.@ ", ".")
    # punctuation
    string = string.replace(" : ", ": ")
    string = string.replace(" ; ", "; ")
    string = string.replace(" . ", ". ")
    string = string.replace(" ! ", "! ")
    string = string.replace(" ? ", "? ")
    string = string.replace(" , ", ", ")
    # double brackets
    string = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string)
    string = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", string)
    string = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", string)
    string = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', string)
    string = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", string)
    # miscellaneous
    string = string.replace("= = = =", "====")
    string = string.replace("= = =", "===")
    string = string.replace("= =", "==")
    string = string.replace(" " + chr(176) + " ", chr(176))
    string = string.replace(" \n", "\n")
    string = string.replace("\n ", "\n")
    string = string.replace(" N ", " 1 ")
    string = string.replace(" 's", "'s")
    return string


def detok_cases():
    cases = [
        " = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 : Unrecorded Chronicles ( Japanese : 戦場のヴァルキュリア3 , lit . "
        "Valkyria of the Battlefield 3 ) , commonly referred to as Valkyria Chronicles III outside Japan , is a tactical "
        "role @-@ playing video game developed by Sega and Media.Vision for the PlayStation Portable . \n",
        " = = Gameplay = = \n \n The game 's 1 @,@ 000 units cost $ 2 @.@ 5 million ; \" it was great \" , he said ! "
        "Really ? The players ' scores [ 12 ] were { 3 } and ' quoted text ' at 30 ° N .\n",
        "( unclosed paren and \" unclosed quote and [ bracket\n/' 5/ and s ' and = = = = heading = = = =\n",
        "tabs\t( \t inside \u00a0)  and ( nested ( parens ) here )  and ' a ' b ' c '\n",
        "",
    ]
    with open(os.path.join(OUT, "wikitext-detok.json"), "w", encoding="utf-8") as f:
        json.dump([{"input": c, "output": wikitext_detokenizer(c)} for c in cases], f, ensure_ascii=False)
    print(f"wikitext-detok: {len(cases)} cases")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    seq2seq_case()
    blank_masks()
    lm_scores()
    detok_cases()


if __name__ == "__main__":
    main()
