#!/usr/bin/env python3
"""Side-by-side check of `glm cloze` against the OFFICIAL THUDM/GLM cloze encoding.

Runs the official `tasks/superglue/dataset.py` + `tasks/superglue/pvp.py` + `tasks/data_utils.py`
(unchanged, from a THUDM/GLM checkout outside this repository) with the official tokenizer classes
(`data_utils/tokenization.py`) on the hand-written SuperGLUE files in
`Tests/GLMTasksTests/Fixtures/superglue/`, for every task, every pattern id, the training and the
evaluation split, two sequence lengths and two tokenizers (BERT WordPiece, GPT-2 BPE), and writes
what it encodes as the expected outputs `Tests/GLMTasksTests/Fixtures/cloze-parity/<tok>-<task>.jsonl`.

    git clone https://github.com/THUDM/GLM /tmp/glm-official     # or: git archive of a mirror
    python Tools/cloze_parity/run_official.py --official /tmp/glm-official
    python Tools/cloze_parity/run_official.py --official /tmp/glm-official --glm .build/release/glm

With `--glm`, it also runs `glm cloze` on every case and compares its JSON lines with the official
samples field by field (full padded arrays), printing each difference.

Only modules the official code imports but these paths never use are stubbed: `mpu` (model
parallelism, used by the data loader builder), `utils` (the official one pulls in apex/fp16 and
tensorboardX; only `print_rank_0` is used here, stubbed as a no-op), `pandas` (TSV reading for GLUE
tasks), and `boto3`/`botocore`/`requests` (vocabulary download helpers; the vocabulary files are
local). The BERT vocabulary is `Resources/tokenizers/bert-base-uncased/vocab.txt` (the official code
would download bert-large-uncased's, which is the same file), the GPT-2 files are
`Resources/tokenizers/gpt2`.

An example the official code cannot encode (it raises, e.g. a pattern whose fixed text alone is
longer than the sequence) is stored as `{"case", "guid", "error"}`; glm must refuse it too.

Stored format: one JSON object per sample, as `glm cloze` prints it, plus `case`
(`p<pattern>-s<seq>-<train|eval>`) and `length` (per choice, the tokens before padding); the
arrays are cut at `length` (the runner checks that everything after it is exactly the official
padding: eos, position 0/0, target 0, loss 0), so `pad_to` = the sequence length restores them.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from argparse import Namespace

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIX = os.path.join(ROOT, "Tests", "GLMTasksTests", "Fixtures")
DATA = os.path.join(FIX, "superglue")
OUT = os.path.join(ROOT, "Tests", "GLMTasksTests", "Fixtures", "cloze-parity")
RES = os.path.join(ROOT, "Resources", "tokenizers")

TASKS = {  # task -> (data folder, pattern ids, default pattern, default seq length)
    "rte": ("RTE", [0, 1, 2, 3, 4], 0, 256),
    "cb": ("CB", [0, 1, 2, 3, 4], 3, 256),
    "boolq": ("BoolQ", [0, 1, 2, 3, 4, 5], 4, 256),
    "wic": ("WiC", [0, 1, 2], 1, 256),
    "multirc": ("MultiRC", [0, 1, 2, 3, 4], 0, 512),
    "copa": ("COPA", [0, 1, 2], 0, 256),
    "wsc": ("WSC", [0, 1, 2], 2, 128),
    "record": ("ReCoRD", [0], 0, 512),
}
SHORT = 47  # cuts the long hand-written examples (odd: RTE/CB cuts then pass through a tie between the sides)


def install_stubs():
    def stub(name, **attrs):
        m = types.ModuleType(name)
        for k, v in attrs.items():
            setattr(m, k, v)
        sys.modules[name] = m
    stub("mpu")
    stub("utils", print_rank_0=lambda *a, **k: None)
    stub("pandas")
    stub("boto3")
    stub("botocore")
    stub("botocore.exceptions", ClientError=Exception)
    stub("requests")


def load_official(path):
    sys.path.insert(0, path)
    install_stubs()
    import data_utils  # noqa: F401  (the package __init__ imports the tokenizers)
    from data_utils import tokenization, wordpiece
    from tasks.superglue import dataset, pvp
    return tokenization, wordpiece, dataset, pvp


def tokenizers(tokenization, wordpiece):
    # BertWordPieceTokenizer downloads the vocabulary of a model name; point the names at the local
    # copy (bert-base-uncased and bert-large-uncased share this file).
    for name in ("bert-base-uncased", "bert-large-uncased"):
        wordpiece.PRETRAINED_VOCAB_ARCHIVE_MAP[name] = os.path.join(RES, "bert-base-uncased", "vocab.txt")
    bert = tokenization.BertWordPieceTokenizer("bert-base-uncased", add_block_symbols=True)
    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(RES, "gpt2", "encoder.json"), os.path.join(tmp, "vocab.json"))
    shutil.copy(os.path.join(RES, "gpt2", "vocab.bpe"), os.path.join(tmp, "merges.txt"))
    gpt2 = tokenization.GPT2BPETokenizer(tmp, add_block_symbols=True, add_task_mask=False)
    return {"bert": (bert, os.path.join(RES, "bert-base-uncased")), "gpt2": (gpt2, os.path.join(RES, "gpt2"))}


def make_args(task, pattern, seq):
    """The arguments `finetune_glm.py` has for the official recipe (config_tasks/task_*.sh)."""
    return Namespace(
        task=task, pattern_id=pattern, seq_length=seq, cloze_eval=True, multi_token=task in ("copa", "wsc", "record"),
        segment_length=0, fast_decode=False, num_prompt_tokens=0, continuous_prompt=False, prefix_prompt=0,
        task_mask=False, sentinel_token=False, no_block_position=False, masked_lm=False, few_superglue=False,
        loss_func="mix" if task == "wsc" else "cross_entropy", wsc_negative=task == "wsc", adapet=False,
        max_position_embeddings=512, unidirectional=False, pretrained_bert=False)


def official_samples(dataset_mod, pvp_mod, tokenizer, task, folder, pattern, seq, train):
    calls = []
    real_build = pvp_mod.build_input_from_ids

    def spy(*a, **k):  # records what build_input_from_ids returned (single-token samples drop target_ids)
        out = real_build(*a, **k)
        calls.append(out)
        return out

    pvp_mod.build_input_from_ids = spy
    try:
        args = make_args(task, pattern, seq)
        ds = dataset_mod.SuperGlueDataset(args, task, os.path.join(DATA, folder), seq, "train" if train else "dev",
                                          tokenizer)
        out = []
        for i in range(len(ds)):
            calls.clear()
            try:
                s = ds[i]
            except Exception as e:  # the official code cannot encode it: glm must refuse it too
                out.append({"guid": ds.example_list[i].guid, "error": f"{type(e).__name__}: {e}"})
                continue
            out.append(to_json(s, calls, tokenizer, seq))
        return out
    finally:
        pvp_mod.build_input_from_ids = real_build


def to_json(s, calls, tokenizer, seq):
    """An official sample in the `glm cloze` JSON schema (full padded arrays)."""
    import numpy as np
    text = np.asarray(s["text"])
    if text.ndim == 1:  # single-token: one sequence, verbaliser ids in `target`
        assert len(calls) == 1
        ids, _, _, position_ids, sep, target_ids, loss_masks = calls[0]
        assert list(text) == list(ids) and int(s["mask"]) == sep
        return {"guid": s["uid"], "label": int(s["label"]), "kind": "single",
                "input_ids": [list(map(int, text))], "position_ids": [np.asarray(s["position"]).tolist()],
                "sep": [int(s["mask"])], "target_ids": [list(map(int, target_ids))],
                "loss_mask": [np.asarray(s["logit_mask"]).tolist()], "candidate_ids": np.asarray(s["target"]).tolist()}
    pos = np.asarray(s["position"] if "position" in s else s["position_id"])
    return {"guid": s["uid"], "label": int(s["label"]), "kind": "multi",
            "input_ids": text.tolist(), "position_ids": pos.tolist(),
            "sep": np.asarray(s["mask"] if "mask" in s else s["attention_mask"]).reshape(-1).tolist(),
            "target_ids": np.asarray(s["target"]).tolist(),
            "loss_mask": np.asarray(s["logit_mask"] if "logit_mask" in s else s["loss_mask"]).tolist()}


def trimmed(sample, eos):
    """Cuts each choice's arrays after its last loss-mask 1, checking the rest is the official padding."""
    if "error" in sample:
        return sample
    out = dict(sample)
    lengths = []
    for c in range(len(sample["input_ids"])):
        lm = sample["loss_mask"][c]
        n = max(i for i, v in enumerate(lm) if v) + 1
        lengths.append(n)
        assert all(v == eos for v in sample["input_ids"][c][n:])
        assert all(v == 0 for v in sample["position_ids"][c][0][n:] + sample["position_ids"][c][1][n:])
        assert all(v == 0 for v in sample["target_ids"][c][n:] + lm[n:])
    for key in ("input_ids", "target_ids", "loss_mask"):
        out[key] = [row[:n] for row, n in zip(sample[key], lengths)]
    out["position_ids"] = [[p[:n], b[:n]] for (p, b), n in zip(sample["position_ids"], lengths)]
    out["length"] = lengths
    return out


def generic_pvp_class(pvp_mod, definition):
    """A PVP subclass for a task file: the official PVP.encode machinery with the parts a task file's
    pattern stands for (docs/finetune.md): literal text is a fixed part, {field} a shortenable part
    that takes the whitespace ending the literal before it, [MASK] the mask (whitespace before it dropped)."""
    import re as _re
    pieces = _re.split(r"(\{[^{}]+\}|\[MASK\])", definition["pattern"])
    words = list(definition["verbalizer"].values())

    class GenericPVP(pvp_mod.PVP):
        @property
        def is_multi_token(self):
            return definition.get("kind", "single" if all(len(self.tokenizer.EncodeAsIds(w).tokenization) == 1 for w in words) else "multi") == "multi"

        def get_parts(self, example):
            parts, carry = [], ""
            for k, piece in enumerate(pieces):
                if piece == "[MASK]":
                    parts.append([self.mask])
                elif piece.startswith("{") and piece.endswith("}"):
                    parts.append(self.shortenable(carry + example.meta[piece[1:-1]]))
                    carry = ""
                elif piece:
                    if k + 1 < len(pieces) and pieces[k + 1]:
                        stripped = piece.rstrip()
                        if pieces[k + 1].startswith("{"):
                            carry = piece[len(stripped):]
                        piece = stripped
                    if piece:
                        parts.append(piece)
            return parts, []

        def verbalize(self, label):
            return [definition["verbalizer"][label]]

    return GenericPVP


def official_generic(pvp_mod, corpora, tokenizer, definition, data, seq):
    cls = generic_pvp_class(pvp_mod, definition)
    labels = list(definition["verbalizer"].keys())
    pvp = cls(make_args("generic", 0, seq), tokenizer, labels, seq, pattern_id=0, is_multi_token=False, split="dev")
    calls = []
    real_build = pvp_mod.build_input_from_ids

    def spy(*a, **k):
        out = real_build(*a, **k)
        calls.append(out)
        return out

    pvp_mod.build_input_from_ids = spy
    out = []
    try:
        rows = [json.loads(l) for l in open(data) if l.strip()]
        fields = [p[1:-1] for p in __import__("re").findall(r"\{[^{}]+\}", definition["pattern"])]
        for i, row in enumerate(rows):
            meta = {f: corpora.punctuation_standardization(row[f]) for f in fields}
            guid = f"dev-{row[definition['id_field']]}" if "id_field" in definition else f"dev-{i}"
            ex = pvp_mod.InputExample(guid=guid, text_a="", label=row[definition.get("label_field", "label")], meta=meta)
            calls.clear()
            out.append(to_json(pvp.encode(ex), calls, tokenizer, seq))
    finally:
        pvp_mod.build_input_from_ids = real_build
    return out


def official_bigbench(dataset_mod, tokenizer, task_json, seq):
    """MultiChoiceDataset (the official generic multiple-choice path) on a BIG-bench task's examples."""
    examples = json.load(open(task_json))["examples"]
    tmp = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    for e in examples:
        scores = list(e["target_scores"].values())
        tmp.write(json.dumps({"inputs_pretokenized": e["input"], "choices_pretokenized": list(e["target_scores"].keys()),
                              "label": scores.index(max(scores))}) + "\n")
    tmp.close()
    ds = dataset_mod.MultiChoiceDataset(make_args("multichoice", 0, seq), tmp.name, tokenizer, seq)
    return [to_json(ds[i], [], tokenizer, seq) for i in range(len(ds))]


def key(sample, case, task):
    # The official ReCoRD reader numbers a question's answers in Python set order, which changes
    # with string hashing; samples are matched by everything else.
    if task == "record" and case.endswith("train"):
        return (case, sample["guid"].rsplit("-a", 1)[0], json.dumps({k: v for k, v in sample.items() if k != "guid"}))
    return (case, sample["guid"])


def run_glm(glm, task, data, tok_dir, seq, pattern, train):
    cmd = [glm, "cloze", "--task", task, "--data", data, "--tokenizer", tok_dir, "--seq-length", str(seq),
           "--pattern-id", str(pattern)] + (["--train"] if train else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", default="/tmp/glm-official", help="a THUDM/GLM source tree (outside this repo)")
    ap.add_argument("--glm", help="a built glm binary to compare with the official outputs")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite the fixtures")
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.official, "tasks", "superglue", "pvp.py")):
        sys.exit(f"{a.official} is not a THUDM/GLM tree (no tasks/superglue/pvp.py); clone https://github.com/THUDM/GLM there")
    if os.environ.get("PYTHONHASHSEED") != "0":  # fixed string hashing: the same set order on every run
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    tokenization, wordpiece, dataset_mod, pvp_mod = load_official(a.official)
    toks = tokenizers(tokenization, wordpiece)
    os.makedirs(OUT, exist_ok=True)
    differences = compared = 0
    for tok_name, (tok, tok_dir) in toks.items():
        eos = tok.get_command("eos").Id
        for task, (folder, patterns, default_pattern, default_seq) in TASKS.items():
            lines = []
            for pattern in patterns:
                for seq in (SHORT, default_seq):
                    for train in (True, False):
                        case = f"p{pattern}-s{seq}-{'train' if train else 'eval'}"
                        official = official_samples(dataset_mod, pvp_mod, tok, task, folder, pattern, seq, train)
                        for s in official:
                            lines.append(dict(case=case, **trimmed(s, eos)))
                        if a.glm:
                            data = os.path.join(DATA, folder, "train.jsonl" if train else "val.jsonl")
                            if any("error" in s for s in official):
                                compared += 1
                                try:
                                    run_glm(a.glm, task, data, tok_dir, seq, pattern, train)
                                    differences += 1
                                    print(f"{tok_name} {task} {case}: the official code fails on an example, glm cloze did not")
                                except RuntimeError:
                                    pass
                                continue
                            ours = {key(s, case, task): s for s in run_glm(a.glm, task, data, tok_dir, seq, pattern, train)}
                            theirs = {key(s, case, task): s for s in official}
                            if ours.keys() != theirs.keys():
                                differences += 1
                                print(f"{tok_name} {task} {case}: samples differ: only official {sorted(theirs.keys() - ours.keys())}, only glm {sorted(ours.keys() - theirs.keys())}")
                            for k in theirs.keys() & ours.keys():
                                compared += 1
                                for field, v in theirs[k].items():
                                    if field == "guid" and task == "record" and train:
                                        v, mine = v.rsplit("-a", 1)[0], ours[k]["guid"].rsplit("-a", 1)[0]
                                    else:
                                        mine = ours[k].get(field)
                                    if mine != v:
                                        differences += 1
                                        print(f"{tok_name} {task} {case} {k[1]}: {field} differs")
            write(a, tok_name, task, lines)
            print(f"{tok_name} {task}: {len(lines)} samples")
        # BIG-bench (official MultiChoiceDataset) and task files (official PVP machinery).
        from data_utils import corpora
        extra = {
            "bigbench": ("bigbench", os.path.join(FIX, "bigbench", "task.json"),
                         lambda seq: official_bigbench(dataset_mod, tok, os.path.join(FIX, "bigbench", "task.json"), seq)),
            "sentiment": (os.path.join(FIX, "generic", "sentiment.json"), os.path.join(FIX, "generic", "reviews.jsonl"),
                          lambda seq: official_generic(pvp_mod, corpora, tok, json.load(open(os.path.join(FIX, "generic", "sentiment.json"))),
                                                       os.path.join(FIX, "generic", "reviews.jsonl"), seq)),
            "topic": (os.path.join(FIX, "generic", "topic.json"), os.path.join(FIX, "generic", "topics.jsonl"),
                      lambda seq: official_generic(pvp_mod, corpora, tok, json.load(open(os.path.join(FIX, "generic", "topic.json"))),
                                                   os.path.join(FIX, "generic", "topics.jsonl"), seq)),
        }
        for name, (task_arg, data, make) in extra.items():
            lines = []
            for seq in (SHORT, 256):
                case = f"p0-s{seq}-eval"
                official = make(seq)
                lines += [dict(case=case, **trimmed(s, eos)) for s in official]
                if a.glm:
                    ours = {s["guid"]: s for s in run_glm(a.glm, task_arg, data, tok_dir, seq, 0, False)}
                    for s in official:
                        compared += 1
                        mine = ours.get(s["guid"])
                        for field, v in s.items():
                            if mine is None or mine.get(field) != v:
                                differences += 1
                                print(f"{tok_name} {name} {case} {s['guid']}: {field} differs")
            write(a, tok_name, name, lines)
            print(f"{tok_name} {name}: {len(lines)} samples")
    if a.glm:
        print(f"glm cloze vs official: {compared} samples compared, {differences} differences")
        sys.exit(1 if differences else 0)


def write(a, tok_name, task, lines):
    if not a.no_write:
        with open(os.path.join(OUT, f"{tok_name}-{task}.jsonl"), "w") as f:
            for line in lines:
                f.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
