#!/usr/bin/env python3
"""Reference side of Benchmarks/tokenizers.sh: Hugging Face `tokenizers` (Rust) on one thread,
over the same lines `glm tokenize --bench` reads (split on \\n, one trailing \\r dropped, invalid
UTF-8 replaced). Prints one line per tokenizer in the same format as the Swift side."""
import os, sys, time
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordPiece

res, files = sys.argv[1], sys.argv[2:]
lines, nbytes = [], 0
for f in files:
    data = open(f, "rb").read()
    nbytes += len(data)
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    lines += [p[:-1].decode("utf-8", "replace") if p.endswith(b"\r") else p.decode("utf-8", "replace") for p in parts]

bert = Tokenizer(WordPiece.from_file(os.path.join(res, "bert-base-uncased", "vocab.txt"), unk_token="[UNK]"))
bert.normalizer = normalizers.BertNormalizer(lowercase=True)
bert.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
gpt2 = Tokenizer(BPE.from_file(os.path.join(res, "gpt2", "encoder.json"), os.path.join(res, "gpt2", "vocab.bpe")))
gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)

for name, tok in [("bertWordPiece", bert), ("gpt2", gpt2)]:
    best, count = float("inf"), 0
    for _ in range(3):
        t0 = time.perf_counter()
        enc = tok.encode_batch(lines, add_special_tokens=False)
        best = min(best, time.perf_counter() - t0)
        count = sum(len(e.ids) for e in enc)
    print(f"python tokenizers {name}: {len(lines)} lines, {nbytes} bytes, {count} tokens, {best:.3f} s, {count / best:.0f} tokens/s")
