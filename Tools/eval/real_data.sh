#!/usr/bin/env bash
# The README's fine-tuning and evaluation numbers on real data, for a pretrained model folder:
# BIG-bench zero-shot and fine-tuned, the learnable task, perplexity, LAMBADA-style passages,
# blank infilling per mask ratio, XSum fine-tuned and its lead-1 baseline.
#
#   Tools/eval/real_data.sh [MODEL [OUT]]      (defaults: runs/default/model, runs/eval)
#
# Writes the passage files it builds from the held-out book and one JSON result per measurement
# into OUT, and fine-tuned runs into OUT/runs. About 20 minutes on 2 cores for the default model.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-runs/default/model}
OUT=${2:-runs/eval}
GLM=${GLM:-.build/release/glm}
[ -x "$GLM" ] || swift build -c release --product glm
mkdir -p "$OUT/runs"
BB=Resources/eval/bigbench
BOOK=Resources/corpus/valid/persuasion.txt
say() { echo "== $*" >&2; }

# Passages of the held-out book: blank-separated paragraphs, whitespace collapsed.
python3 - "$BOOK" "$OUT" <<'PY'
import json, re, sys
book, out = sys.argv[1], sys.argv[2]
text = open(book, encoding="utf-8").read()
open(f"{out}/book-flat.txt", "w").write(" ".join(text.split()) + "\n")
paras = [" ".join(p.split()) for p in text.split("\n\n")]
with open(f"{out}/book.jsonl", "w") as f:            # blank infilling: the first 400 of >= 20 words
    for p in [p for p in paras if len(p.split()) >= 20][:400]:
        f.write(json.dumps({"text": p}) + "\n")
with open(f"{out}/book-lambada.jsonl", "w") as f:    # LAMBADA-style: 20-80 words, no trailing punctuation
    kept = [re.sub(r"[^A-Za-z0-9]+$", "", p) for p in paras]
    for p in [p for p in kept if 20 <= len(p.split()) <= 80][:400]:
        f.write(json.dumps({"text": p}) + "\n")
PY

for t in cause_and_effect/one_sentence presuppositions_as_nli strategyqa; do
  n=$(echo "$t" | tr '/' '_')
  say "BIG-bench $t: zero-shot, then fine-tuned"
  "$GLM" evaluate --model "$MODEL" --task bigbench --data "$BB/$t/split/dev.json" > "$OUT/bb-$n-zeroshot.json"
  rm -rf "$OUT/runs/bb-$n"
  "$GLM" finetune --task bigbench --model "$MODEL" --train "$BB/$t/split/train.json" --dev "$BB/$t/split/dev.json" \
      --epochs 10 --lr 1e-4 --output "$OUT/runs/bb-$n" > "$OUT/bb-$n-finetune.log" 2>&1
  cp "$OUT/runs/bb-$n/best.json" "$OUT/bb-$n-best.json"
done
say "learnable task: zero-shot, then fine-tuned"
L=Resources/eval/learnable
"$GLM" evaluate --model "$MODEL" --task $L/task.json --data $L/dev.jsonl > "$OUT/learnable-zeroshot.json"
rm -rf "$OUT/runs/learnable"
"$GLM" finetune --task $L/task.json --model "$MODEL" --train $L/train.jsonl --dev $L/dev.jsonl \
    --output "$OUT/runs/learnable" > "$OUT/learnable-finetune.log" 2>&1
cp "$OUT/runs/learnable/best.json" "$OUT/learnable-best.json"

say "perplexity"
"$GLM" evaluate --model "$MODEL" --task perplexity --data "$OUT/book-flat.txt" --seq-length 128 --overlap 64 > "$OUT/ppl.json"
say "LAMBADA-style"
"$GLM" evaluate --model "$MODEL" --task lambada --data "$OUT/book-lambada.jsonl" --output "$OUT/lambada-preds.jsonl" > "$OUT/lambada.json"
"$GLM" evaluate --model "$MODEL" --task lambada --data "$OUT/book-lambada.jsonl" --unidirectional \
    --output "$OUT/lambada-uni-preds.jsonl" > "$OUT/lambada-uni.json"
for r in 0.1 0.2 0.3 0.4 0.5; do
  say "blank infilling, mask ratio $r"
  "$GLM" evaluate --model "$MODEL" --task blank-infill --mask-ratio $r --data "$OUT/book.jsonl" --output "$OUT/blank-$r.jsonl" > "$OUT/blank-$r.json"
done
say "XSum: 1 epoch of fine-tuning, evaluation, lead-1 baseline"
rm -rf "$OUT/runs/xsum"
"$GLM" finetune --task seq2seq --seq2seq-task xsum --model "$MODEL" --train $BB/gem_xsum/split/train.json \
    --dev $BB/gem_xsum/split/dev.json --epochs 1 --output "$OUT/runs/xsum" > "$OUT/xsum-finetune.log" 2>&1
"$GLM" evaluate --model "$OUT/runs/xsum/model" --task seq2seq --seq2seq-task xsum --data $BB/gem_xsum/split/dev.json \
    --output "$OUT/xsum-preds.jsonl" > "$OUT/xsum-eval.json"
"$GLM" evaluate --model "$MODEL" --task seq2seq --seq2seq-task xsum --data $BB/gem_xsum/split/dev.json --lead-baseline 1 > "$OUT/xsum-lead.json"
say "done: $OUT"
for f in "$OUT"/*.json; do echo "$(basename "$f"): $(tr -d '\n' < "$f")"; done
