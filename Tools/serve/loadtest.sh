#!/usr/bin/env bash
# The load test of docs/serve.md ("Measurements"): 1, 4 and 16 concurrent clients for 60 s each
# against `glm serve` on loopback, with the default model (runs/default/model, what `glm pretrain`
# writes) in its own process, its resident memory read before and after each run. Without that
# model: a randomly initialised model of the glm-small shape with the bundled BERT vocabulary,
# served in the load-testing process. Run it on a quiet machine; the numbers are wall-clock.
#
#   Tools/serve/loadtest.sh [glm loadtest flags…]     e.g. --seconds 10 for a quick look
#
# Prints the Markdown table for docs/serve.md and writes the JSON lines to runs/serve-loadtest.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product glm >&2
glm=.build/release/glm
model=${MODEL:-runs/default/model}
mkdir -p runs
out=runs/serve-loadtest.jsonl
if [ -f "$model/config.json" ]; then
  log=$(mktemp)
  "$glm" serve --model "$model" --port 0 --max-queue 64 >"$log" 2>&1 &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
  for _ in $(seq 600); do grep -q "^glm serve: .* on http" "$log" && break; sleep 0.1; done
  port=$(sed -n 's/^glm serve: .* on http:\/\/127.0.0.1:\([0-9]*\) .*/\1/p' "$log")
  [ -n "$port" ] || { cat "$log" >&2; echo "loadtest: the server did not start" >&2; exit 1; }
  echo "loadtest: $model served by pid $pid on port $port" >&2
  "$glm" loadtest --url "http://127.0.0.1:$port" --server-pid "$pid" --clients 1,4,16 --seconds 60 --json "$@" | tee "$out"
else
  echo "loadtest: no $model; a random glm-small model instead (in-process)" >&2
  "$glm" loadtest --random glm-small --clients 1,4,16 --seconds 60 --json "$@" | tee "$out"
fi
# The table, from the JSON lines.
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| clients | requests | errors | p50 latency (ms) | p99 latency (ms) | generated tokens/s | RSS before → after (MiB) |")
print("|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    rss = "–" if r.get("rss_before_mib") is None else f"{r['rss_before_mib']:.0f} → {r.get('rss_after_mib') or 0:.0f}"
    print(f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['tokens_per_s']:.1f} | {rss} |")
PY
