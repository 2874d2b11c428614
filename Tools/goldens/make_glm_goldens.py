#!/usr/bin/env python3
"""GLM-layer goldens: command tokens split out of text (docs/official-glm.md §3.5), from the GLM tokenizer classes
of SwissArmyTransformer (`pip install --no-deps SwissArmyTransformer==0.4.12`), THUDM's packaged copy of
GLM's `data_utils/tokenization.py`. Used for BERT (GLM-Base/Large layout, Python BasicTokenizer), GPT-2 (glm-2b/10b
layout) and the Chinese SentencePiece families (fixed layout, and the glm-10b-chinese layout where [gMASK] shares eop's id), with
`Resources/tokenizers/gpt2` and the small `sp-bpe.model` standing in for cog-pretrain.model.

Usage (repo root, after make_sp_goldens.py): python Tools/goldens/make_glm_goldens.py [--corpus DIR]
Writes Tests/GLMTokenizersTests/Goldens/glm-{bert,gpt2,chinese-fixed,chinese-10b}.jsonl, one
{"text", "ids"} per line (ids = EncodeAsIds(text).tokenization), and glm-layouts.json (the
command tokens [name, token, id, lstrip] and num_tokens of each).
"""
import argparse, importlib.util, json, os, random, shutil, sys, tempfile, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import ADVERSARIAL, corpus_lines, CORPUS, ROOT, OUT, RES


def glm_module():
    """Imports sat/tokenization/glm as a standalone package: the `sat` package itself imports
    download helpers (requests) that tokenization does not use; nltk is only used for training."""
    spec = importlib.util.find_spec("sat")
    root = os.path.join(list(spec.submodule_search_locations)[0], "tokenization", "glm")
    if "nltk" not in sys.modules:
        try:
            import nltk  # noqa
        except ImportError:
            nltk = types.ModuleType("nltk")
            nltk.tokenize = types.ModuleType("nltk.tokenize")
            sys.modules["nltk"] = nltk
            sys.modules["nltk.tokenize"] = nltk.tokenize
    pkg = types.ModuleType("glmtok")
    pkg.__path__ = [root]
    sys.modules["glmtok"] = pkg
    mods = {}
    for name in ["tokenization_gpt2", "tokenization_wordpiece", "sp_tokenizer", "tokenization"]:
        s = importlib.util.spec_from_file_location("glmtok." + name, os.path.join(root, name + ".py"))
        m = importlib.util.module_from_spec(s)
        sys.modules["glmtok." + name] = m
        s.loader.exec_module(m)
        mods[name] = m
    return mods


def texts(corpus):
    rng = random.Random(1234)
    cmds = ["[MASK]", "[gMASK]", "[sMASK]", "<|endoftext|>", "[CLS]", "[SEP]", "[UNK]", "<|startofpiece|>", "<|endofpiece|>"]
    spaces = ["", " ", "  ", "\t", " \n "]
    out = []
    for line in corpus_lines(corpus, 8):
        words = line.split(" ")
        for _ in range(rng.randint(0, 3)):
            k = rng.randint(0, len(words))
            words.insert(k, rng.choice(spaces) + rng.choice(cmds) + rng.choice(spaces))
        out.append(" ".join(words))
    out += ADVERSARIAL + [
        "Beijing is located in [MASK].", "a \t [gMASK] b", "x [sMASK]", "[MASK][MASK]", "[MASK", "[mask]",
        "a [CLS] b [SEP]", "one<|endoftext|>two", "<|startofpiece|>x<|endofpiece|>", "   [MASK]   ", "[gMASK]",
        "  ", "\u3000[MASK]", "中文[MASK]测试[gMASK]", "[[MASK]]", "<|endoftext|><|endoftext|>", "[MASK]\u2028x",
    ]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=CORPUS)
    a = ap.parse_args()
    mods = glm_module()
    tk = mods["tokenization"]
    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(RES, "gpt2", "encoder.json"), os.path.join(tmp, "vocab.json"))
    shutil.copy(os.path.join(RES, "gpt2", "vocab.bpe"), os.path.join(tmp, "merges.txt"))
    sp_model = os.path.join(OUT, "sp-bpe.model")
    mods["sp_tokenizer"].PRETRAINED_MODEL_FILE = sp_model  # what 'glm-10b' loads
    toks = {
        "bert": tk.BertWordPieceTokenizer(os.path.join(RES, "bert-base-uncased"), add_block_symbols=True),
        "gpt2": tk.GPT2BPETokenizer(tmp, add_block_symbols=True, add_task_mask=True),
        "chinese-fixed": tk.ChineseSPTokenizer(sp_model, add_block_symbols=True, add_task_mask=True),
        "chinese-10b": tk.ChineseSPTokenizer("glm-10b", add_block_symbols=True, add_task_mask=True),
    }
    lines = texts(a.corpus)
    layouts = {}
    for name, t in toks.items():
        layouts[name] = {"num_tokens": t.num_tokens,
                         "commands": [[c.name, c.token, c.Id, bool(c.lstrip)] for c in t._command_tokens]}
        with open(os.path.join(OUT, f"glm-{name}.jsonl"), "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps({"text": line, "ids": list(t.EncodeAsIds(line).tokenization)}, ensure_ascii=False) + "\n")
        print(f"glm-{name}: {len(lines)} lines, num_tokens {t.num_tokens}", file=sys.stderr)
    with open(os.path.join(OUT, "glm-layouts.json"), "w") as fh:
        json.dump(layouts, fh, indent=1)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
