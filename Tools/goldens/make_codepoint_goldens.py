#!/usr/bin/env python3
"""Every-code-point goldens for BERT WordPiece and GPT-2 BPE, stored as block hashes.

For each scalar U+0001…U+2FFFF (no surrogates, no \\n or \\r) the line
    "x " + c + "b a" + c + "1 " + c + c + " é" + c
is encoded with `tokenizers` (Rust); the ids of 4096 consecutive lines are hashed with 64-bit FNV-1a
over the text "id,id,…\\n" per line. The test rebuilds the same lines and compares block hashes, so
a difference in any character class (whitespace, control, punctuation, marks, CJK, letters,
numbers, Unicode-version quirks) shows up, and the golden stays a few KB.

Usage (repo root): python Tools/goldens/make_codepoint_goldens.py
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordPiece

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RES = os.path.join(ROOT, "Resources", "tokenizers")
OUT = os.path.join(ROOT, "Tests", "GLMTokenizersTests", "Goldens", "codepoints.json")
BLOCK = 4096


def fnv(data: bytes, h: int) -> int:
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    cps = [cp for cp in list(range(0x1, 0xD800)) + list(range(0xE000, 0x30000)) if cp not in (0x0A, 0x0D)]
    lines = [("x " + c + "b a" + c + "1 " + c + c + " é" + c) for c in map(chr, cps)]
    b = Tokenizer(WordPiece.from_file(os.path.join(RES, "bert-base-uncased", "vocab.txt"), unk_token="[UNK]"))
    b.normalizer = normalizers.BertNormalizer(lowercase=True)
    b.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    g = Tokenizer(BPE.from_file(os.path.join(RES, "gpt2", "encoder.json"), os.path.join(RES, "gpt2", "vocab.bpe")))
    g.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    import unicodedata
    from make_goldens import python_bert
    py = python_bert(os.path.join(RES, "bert-base-uncased", "vocab.txt"))
    out = {"lines": len(lines), "block": BLOCK, "template": "x {c}b a{c}1 {c}{c} é{c}",
           "python_unicode": unicodedata.unidata_version}
    results = {name: [e.ids for e in t.encode_batch(lines, add_special_tokens=False)] for name, t in (("bert-base-uncased", b), ("gpt2", g))}
    results["bert-base-uncased-python"] = [py.convert_tokens_to_ids(py.tokenize(l)) for l in lines]
    for name, encs in results.items():
        hashes = []
        for s in range(0, len(lines), BLOCK):
            h = 0xCBF29CE484222325
            for ids in encs[s:s + BLOCK]:
                h = fnv((",".join(map(str, ids)) + "\n").encode(), h)
            hashes.append("%016x" % h)
        out[name] = hashes
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=0)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
