#!/usr/bin/env python3
"""Small SentencePiece models and their goldens, made with the `sentencepiece` package (0.2.x).

Usage (repo root): python Tools/goldens/make_sp_goldens.py [--corpus Resources/corpus]

Trains three models on a slice of the bundled corpus plus a few lines in other scripts, each small
(a few hundred KB, mostly nmt_nfkc's precompiled character map):
  sp-bpe.model      BPE, nmt_nfkc, byte fallback, user-defined pieces <n> and [X]  (like cog-pretrain.model)
  sp-unigram.model  unigram, nmt_nfkc, byte fallback, user-defined piece <n>
  sp-unigram-nobf.model  unigram, identity normaliser, no byte fallback (unknown runs become one <unk>)
and writes sp-*.jsonl goldens: {"text", "ids", "decoded"} with decoded = sp.decode(ids).
"""
import argparse, io, json, os, sys
import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import ADVERSARIAL, corpus_lines, CORPUS, ROOT, OUT

EXTRA = [
    "中文字符测试，包括标点。还有数字123和English混合", "日本語のテキスト：ひらがな、カタカナ、漢字。",
    "Ελληνικά: Καλημέρα κόσμε", "Русский текст: Съешь же ещё этих мягких французских булок.",
    "ｶﾀｶﾅ全角ＡＢＣ１２３ ① ½ ﬁ", "café naïve résumé",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=CORPUS)
    a = ap.parse_args()
    train = [l for l in corpus_lines(a.corpus, 400) if l.strip()] + EXTRA * 20
    specs = {
        "sp-bpe": dict(model_type="bpe", vocab_size=1500, byte_fallback=True, user_defined_symbols=["<n>", "[X]"]),
        "sp-unigram": dict(model_type="unigram", vocab_size=1500, byte_fallback=True, user_defined_symbols=["<n>"]),
        "sp-unigram-nobf": dict(model_type="unigram", vocab_size=800, normalization_rule_name="identity"),
    }
    test = corpus_lines(a.corpus, 20) + ADVERSARIAL + EXTRA + ["<n>a<n> [X]y [X]", "  <n>  "]
    for name, kw in specs.items():
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_writer=model, character_coverage=0.9995,
                                       hard_vocab_limit=False, minloglevel=2, num_threads=1, **kw)
        path = os.path.join(OUT, name + ".model")
        with open(path, "wb") as fh:
            fh.write(model.getvalue())
        sp = spm.SentencePieceProcessor(model_file=path)
        with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8") as fh:
            for line in test:
                ids = sp.encode(line)
                fh.write(json.dumps({"text": line, "ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False) + "\n")
        print(f"{name}: {sp.get_piece_size()} pieces, {os.path.getsize(path)} bytes, {len(test)} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
