#!/usr/bin/env bash
# WordPiece and byte-level BPE throughput, swift-glm against Hugging Face `tokenizers` (Rust), one
# thread each, same lines, one run. Usage: Benchmarks/tokenizers.sh [PYTHON] [CORPUS_DIR]
#   PYTHON: an interpreter with `tokenizers` installed (default: python3)
#   CORPUS_DIR: text files to tokenize (default: Resources/corpus, the bundled corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
CORPUS=${2:-Resources/corpus}
mapfile -t FILES < <(find "$CORPUS" -name '*.txt' ! -name 'COPYING*' | sort)
swift build -c release --product glm >/dev/null
echo "corpus: ${#FILES[@]} files under $CORPUS; best of 3 passes each; one thread"
for t in bert-base-uncased gpt2; do
  .build/release/glm tokenize --tokenizer "Resources/tokenizers/$t" --bench "${FILES[@]}"
done
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$PY" Benchmarks/tokenizers_ref.py Resources/tokenizers "${FILES[@]}"
