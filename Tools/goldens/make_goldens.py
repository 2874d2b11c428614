#!/usr/bin/env python3
"""Golden ids for GLMTokenizersTests, made with the Hugging Face `tokenizers` package (Rust).

Usage (from the repo root, with a venv that has `tokenizers` and `sentencepiece`):
    python Tools/goldens/make_goldens.py [--corpus Resources/corpus]

Writes Tests/GLMTokenizersTests/Goldens/{bert-base-uncased,gpt2}.jsonl: one JSON object per line,
{"text": str, "ids": [int], "decoded": str}. `ids` carry no special tokens; `decoded` is
`tokenizer.decode(ids, skip_special_tokens=False)`, the Python tokenizer's round trip.
The lines are a deterministic sample of the bundled corpora plus the adversarial strings below.
"""
import argparse, json, os, sys
from tokenizers import Tokenizer, normalizers, pre_tokenizers, decoders
from tokenizers.models import BPE, WordPiece

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RES = os.path.join(ROOT, "Resources", "tokenizers")
OUT = os.path.join(ROOT, "Tests", "GLMTokenizersTests", "Goldens")
CORPUS = os.path.join(ROOT, "Resources", "corpus")

ADVERSARIAL = [
    "", " ", "   ", "\t", "\n", "a  b   c    d", "  leading and trailing  ", "tab\there\tand\r\nCRLF",
    "Hello, world! It's a test: (x+y)=z; 3.14 $5 #tag @me 50% a&b ~tilde^ `q` |p| <a> {b} [c] \\d/",
    "I'm you're we've they'll he'd she's it'S don't 'tis 'twas ''quoted'' '''",
    "emoji 😀🥰👍🏽 👨‍👩‍👧‍👦 🇫🇷 flags 🏳️‍🌈 and ⭐ stars",
    "combining: e\u0301 a\u0308 n\u0303 o\u0302\u0323 Z\u0335\u0321\u0322a\u0336l\u0337g\u0338o",
    "precomposed: café naïve résumé Ångström façade jalapeño Straße Œuvre ǅ ﬁ ﬂ ½ ² ℌ",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060wj\u00adsoft-hyphen",
    "controls:\x00nul\x01soh\x07bel\x08bs\x0bvt\x0cff\x1bESC\x1cfs\x1fus\x7fdel\x85nel",
    "unicode spaces:\u00a0nbsp\u2000en\u2003em\u2009thin\u202fnnbsp\u3000ideo\u2028ls\u2029ps\u1680og",
    "中文字符测试，包括标点。还有数字123和English混合",
    "日本語のテキスト：ひらがな、カタカナ、漢字。ｶﾀｶﾅ全角ＡＢＣ１２３",
    "한국어 텍스트입니다. 안녕하세요!",
    "Ελληνικά: Καλημέρα κόσμε ΣΑΣ ς σ",
    "Русский текст: Съешь же ещё этих мягких французских булок.",
    "العربية: مرحبا بالعالم ١٢٣",
    "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया",
    "ไทย: สวัสดีชาวโลก",
    "Tiếng Việt: Xin chào thế giới",
    "İstanbul ıi İI ǰ ŉ ẞ",
    "math: ∑ ∫ √ ∞ ≤ ≥ ≠ ± × ÷ → ⇒ ∀ ∃ ∈ ∅",
    "CJK ext: \U00020000 \U0002A700 \U0002B740 \U0002B820 \U0002B920 \U0002F800 \uF900 \u3400",
    "private use \ue000 \U000F0000 and tag \U000E0041 and replacement \ufffd char",
    "supercalifragilisticexpialidocious" * 4,
    "a" * 99, "b" * 100, "c" * 101, "d" * 250 + " short " + "é" * 120,
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "x" * 1000,
    "numbers 0123456789 1,000,000.50 ٣٤٥ ⅠⅡⅢ ① ²³ 1st 2nd 3rd",
    "urls https://example.com/a/b?c=d&e=f#g and email user@example.org",
    "code: def f(x): return x**2 // 3 != y -> {'a': [1, 2]}",
    "runs of spaces:" + " " * 17 + "end", "newlines\n\n\nmany", " \t \n \r mixed ws \u00a0\u2003 ",
    "trailing space ", " leading space", "  double lead", "end with tab\t",
    "...!!!???---___***", "'''\"\"\"```", "a'b'c' 'd", "'s's's", "'re'RE're",
    "Mixed ScRiPt СМЕСЬ mixte 混合 ミックス",
    "[MASK] [CLS] [SEP] [UNK] [PAD] <|endoftext|> <s> </s>",
    "ǅungla Ǉ ǈ ǉ ﬀ ﬃ ℡ ™ ㎏ ㍿",
    "arrows ← ↑ → ↓ and box ┌─┐ │ └─┘ and braille ⠁⠃⠉",
    "\u0300leading combining", "only marks \u0301\u0302\u0303",
    "surrogate-ish \U0001F9D1\u200d\U0001F4BB and keycap 1\ufe0f\u20e3",
]


def corpus_lines(corpus, per_file):
    """`per_file` evenly spaced lines of every corpus text file, in the order of the files' paths in the
    flat layout the goldens were made from (Resources/corpus splits it into train/ and valid/, and
    its held-out novel is one of the Austen books): the same lines, so reruns give the same goldens."""
    held_out = {"valid/persuasion.txt": "austen/persuasion.txt"}
    files = []
    for dirpath, _, names in os.walk(corpus):
        for n in names:
            if n.endswith(".txt") and "COPYING" not in n:
                path = os.path.join(dirpath, n)
                key = os.path.relpath(path, corpus).replace(os.sep, "/")
                key = held_out.get(key, key[len("train/"):] if key.startswith("train/") else key)
                files.append((key, path))
    files.sort()
    out = []
    for _, f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
        step = max(1, len(lines) // per_file)
        out.extend(lines[i] for i in range(0, len(lines), step)[:per_file])
    return out


def write(name, tok, lines):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as fh:
        for line in lines:
            ids = tok.encode(line, add_special_tokens=False).ids
            dec = tok.decode(ids, skip_special_tokens=False)
            fh.write(json.dumps({"text": line, "ids": ids, "decoded": dec}, ensure_ascii=False) + "\n")
    print(f"wrote {path}: {len(lines)} lines", file=sys.stderr)


def python_bert(vocab):
    """The BertTokenizer of `pytorch_pretrained_bert` 0.6.2, which the original GLM code used
    (pip install --no-deps pytorch-pretrained-bert==0.6.2). Its package __init__ imports boto3 and
    requests for model downloads; empty stand-ins satisfy those imports, tokenization uses neither."""
    import types
    for m in ["boto3", "botocore", "botocore.exceptions", "requests"]:
        try:
            __import__(m)
        except ImportError:
            sys.modules[m] = types.ModuleType(m)
    if not hasattr(sys.modules["botocore.exceptions"], "ClientError"):
        sys.modules["botocore.exceptions"].ClientError = Exception
    from pytorch_pretrained_bert.tokenization import BertTokenizer
    return BertTokenizer(vocab, do_lower_case=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=CORPUS)
    ap.add_argument("--per-file", type=int, default=60)
    a = ap.parse_args()
    lines = corpus_lines(a.corpus, a.per_file) + ADVERSARIAL
    # The text tokenizer alone: no added special tokens, so "[MASK]" in text is not split out here
    # (the GLM layer does that, and has its own tests).
    bert = Tokenizer(WordPiece.from_file(os.path.join(RES, "bert-base-uncased", "vocab.txt"), unk_token="[UNK]"))
    bert.normalizer = normalizers.BertNormalizer(lowercase=True)
    bert.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    bert.decoder = decoders.WordPiece()
    write("bert-base-uncased.jsonl", bert, lines)
    gpt2 = Tokenizer(BPE.from_file(os.path.join(RES, "gpt2", "encoder.json"), os.path.join(RES, "gpt2", "vocab.bpe")))
    gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    gpt2.decoder = decoders.ByteLevel()
    write("gpt2.jsonl", gpt2, lines)
    import unicodedata
    py = python_bert(os.path.join(RES, "bert-base-uncased", "vocab.txt"))
    path = os.path.join(OUT, "bert-base-uncased-python.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps({"text": line, "ids": py.convert_tokens_to_ids(py.tokenize(line))}, ensure_ascii=False) + "\n")
    print(f"wrote {path}: {len(lines)} lines (Python unicodedata {unicodedata.unidata_version})", file=sys.stderr)


if __name__ == "__main__":
    main()
