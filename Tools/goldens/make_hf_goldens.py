#!/usr/bin/env python3
"""Small `tokenizer.json` files and their goldens, made with Hugging Face `tokenizers` and
`transformers` (for the SentencePiece → Unigram conversion).

Usage (repo root, after make_sp_goldens.py): python Tools/goldens/make_hf_goldens.py [--corpus DIR]

Writes Tests/GLMTokenizersTests/Goldens/hf-<name>/tokenizer.json and hf-<name>.jsonl for:
  wordpiece-uncased  BertWordPieceTokenizer trained to 2000 pieces (BertNormalizer lowercase, BertPreTokenizer)
  wordpiece-cased    the same, lowercase=False and strip_accents=False
  bytelevel-bpe      ByteLevelBPETokenizer trained to 1500 pieces, add_prefix_space=True
  unigram            transformers' SpmConverter of sp-unigram.model (Precompiled + Strip + Replace, Metaspace)
Goldens: {"text", "ids", "decoded"} with ids = encode(text, add_special_tokens=False).ids (added tokens
such as [MASK] or <n> inside text are split out, as `tokenizers` does) and decoded = decode(ids,
skip_special_tokens=False).
"""
import argparse, json, os, sys
from tokenizers import Tokenizer, BertWordPieceTokenizer, ByteLevelBPETokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import ADVERSARIAL, corpus_lines, CORPUS, ROOT, OUT
from make_sp_goldens import EXTRA


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=CORPUS)
    a = ap.parse_args()
    train = [l for l in corpus_lines(a.corpus, 400) if l.strip()] + EXTRA * 20
    test = corpus_lines(a.corpus, 16) + ADVERSARIAL + EXTRA + ["<n>a<n> [MASK]y [CLS] x<|endoftext|>"]
    toks = {}
    w = BertWordPieceTokenizer(lowercase=True)
    w.train_from_iterator(train, vocab_size=2000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    toks["wordpiece-uncased"] = w
    c = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    c.train_from_iterator(train, vocab_size=2000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    toks["wordpiece-cased"] = c
    b = ByteLevelBPETokenizer(add_prefix_space=True)
    b.train_from_iterator(train, vocab_size=1500, special_tokens=["<|endoftext|>"])
    toks["bytelevel-bpe"] = b
    from transformers.convert_slow_tokenizer import SpmConverter

    class Orig:
        vocab_file = os.path.join(OUT, "sp-unigram.model")
        legacy = True
        add_prefix_space = True
    toks["unigram"] = SpmConverter(Orig()).converted()
    for name, t in toks.items():
        d = os.path.join(OUT, "hf-" + name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "tokenizer.json")
        t.save(path)
        t = Tokenizer.from_file(path)  # exactly what the file says
        with open(os.path.join(OUT, f"hf-{name}.jsonl"), "w", encoding="utf-8") as fh:
            for line in test:
                ids = t.encode(line, add_special_tokens=False).ids
                fh.write(json.dumps({"text": line, "ids": ids, "decoded": t.decode(ids, skip_special_tokens=False)}, ensure_ascii=False) + "\n")
        print(f"hf-{name}: {t.get_vocab_size()} tokens, {os.path.getsize(path)} bytes, {len(test)} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
