#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/Sources (with AddressSanitizer) and runs each for a bounded
# time, one after the other, printing executions and crashes per target. Exit status 1 if any
# target crashed (the crashing input is kept under the work folder's crashes/<target>/).
#
#   Fuzz/run.sh [seconds per target, default 60] [target ...]
#
# Seeds are written by the targets themselves (GLM_FUZZ_SEEDS, see Fuzz/Sources/FuzzSupport), so
# no input file is committed; the corpus each run grows is kept in the work folder for the next.
# Environment: GLM_FUZZ_BUILD (build folder, default .build-fuzz), GLM_FUZZ_WORK (corpus, seeds,
# crashes, logs; default <build>/work). One process at a time, so the machine stays usable.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
ALL=(FuzzSafeTensors FuzzTorchFile FuzzPickle FuzzVocabTxt FuzzBPE FuzzSentencePiece FuzzTokenizerJSON FuzzShards FuzzConfig FuzzLogitsCase)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
BUILD=${GLM_FUZZ_BUILD:-.build-fuzz}
WORK=${GLM_FUZZ_WORK:-$BUILD/work}
mkdir -p "$BUILD" "$WORK/logs"

# Offline machines: reuse the package checkouts of the normal build.
if [ ! -d "$BUILD/checkouts" ] && [ -d .build/checkouts ]; then
  cp -a .build/checkouts .build/repositories "$BUILD/" 2>/dev/null || true
  cp -a .build/workspace-state.json "$BUILD/" 2>/dev/null || true
fi

export GLM_FUZZ=1
FLAGS=(-c release --build-path "$BUILD" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
BIN=$(swift build "${FLAGS[@]}" --show-bin-path)

for t in "${TARGETS[@]}"; do
  echo "building $t" >&2
  # SwiftPM links executables with `--defsym main=<target>_main`, which a libFuzzer target has
  # no use for (libFuzzer brings main); the link step fails, and the objects are linked here.
  swift build "${FLAGS[@]}" --product "$t" >"$WORK/logs/$t.build.log" 2>&1 || true
  if grep -E "error:" "$WORK/logs/$t.build.log" | grep -vE "link command failed|undefined symbol '${t}_main'|linker command failed" | grep -q .; then
    cat "$WORK/logs/$t.build.log" >&2
    echo "build of $t failed" >&2
    exit 2
  fi
  swiftc -L "$BIN" -o "$BIN/$t" -module-name "$t" -emit-executable -Xlinker --gc-sections \
    @"$BIN/$t.product/Objects.LinkFileList" -sanitize=fuzzer,address -parse-as-library 2>&1 \
    | grep -v "Cannot export local symbol" >&2 || true
  [ -x "$BIN/$t" ] || { echo "link of $t failed" >&2; exit 2; }
done

printf "%-20s %12s %8s %8s  %s\n" target executions crashes seconds corpus
status=0
for t in "${TARGETS[@]}"; do
  seeds="$WORK/seeds/$t" corpus="$WORK/corpus/$t" crashes="$WORK/crashes/$t"
  rm -rf "$seeds"
  mkdir -p "$corpus" "$crashes"
  GLM_FUZZ_SEEDS="$seeds" "$BIN/$t" >"$WORK/logs/$t.seeds.log" 2>&1
  before=$(ls "$crashes" | wc -l)
  start=$(date +%s)
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$BIN/$t" "$corpus" "$seeds" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=3072 -malloc_limit_mb=2048 \
    -artifact_prefix="$crashes/" -print_final_stats=1 >"$WORK/logs/$t.log" 2>&1 || true
  elapsed=$(( $(date +%s) - start ))
  runs=$(grep -h "stat::number_of_executed_units" "$WORK/logs/$t.log" 2>/dev/null | awk '{s += $2} END {print s + 0}')
  found=$(( $(ls "$crashes" | wc -l) - before ))
  printf "%-20s %12s %8s %8s  %s\n" "$t" "$runs" "$found" "$elapsed" "$(ls "$corpus" | wc -l) inputs"
  if [ "$found" -gt 0 ]; then
    status=1
    grep -m 3 -E "ERROR|SUMMARY|Fatal error|panic" "$WORK/logs/$t.log" >&2 || true
  fi
done
exit $status
