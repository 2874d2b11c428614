#!/usr/bin/env bash
# Training and decoding throughput, swift-glm against the PyTorch reference (Tools/reference), same
# model, batch and sequence shapes, same 2 threads, one after the other in one run.
# Usage: Benchmarks/train_vs_pytorch.sh [PYTHON] [MODEL] [BATCH] [SEQ]
#   PYTHON: an interpreter with torch (default /root/venv-ref/bin/python; see Tools/reference/README.md)
#   MODEL:  glm-base (default; the issues' GLM-Base shape) or glm-small (the embedded `glm pretrain` model)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-/root/venv-ref/bin/python}
MODEL=${2:-glm-base}
BATCH=${3:-4}
SEQ=${4:-512}
swift build -c release --product glm >/dev/null
echo "== swift-glm ($MODEL, batch $BATCH × seq $SEQ)"
.build/release/glm bench --only train,decode --model "$MODEL" --batch "$BATCH" --seq "$SEQ" --repeats 3 | tee /tmp/glm-bench.txt
echo "== PyTorch reference (torch eager, same shapes)"
"$PY" Tools/reference/bench_reference.py --model "$MODEL" --batch "$BATCH" --seq "$SEQ" --steps 3 | tee /tmp/torch-bench.txt
