#!/usr/bin/env bash
# Measures data-parallel training on this machine and prints the numbers docs/distributed.md
# quotes, as a Markdown report:
#   1. tokens/s of 1 process × 2 threads against 2 ranks × 1 thread (mpirun on loopback), the
#      embedded `small` model on the bundled corpus, the same global batch;
#   2. the time per step spent in collectives (metrics.jsonl's comm_s) and its share of the step;
#   3. one GLM-Base and one GLM-Large training step here (glm bench, b4 × s512, f32);
#   4. from those, the expected efficiency at 8 and 64 hosts over 10 and 100 Gbit/s links:
#      ring all-reduce moves 2(N−1)/N · 4·P bytes per host and step (ZeRO-1's reduce-scatter +
#      all-gather move the same), plus 2(N−1) latencies per bucket.
#
#   Tools/distributed/scaling.sh [steps]        (default 60 steps per run)
#
# Timing needs a quiet machine: run it when `uptime` shows a load below 0.5. It uses the MPI
# build (.build/release/glm after `swift build -c release --traits MPI` or `./run test-mpi`, or
# GLM=<path to an MPI-built glm>).
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-60}"
glm="${GLM:-.build/release/glm}"
if [ ! -x "$glm" ] || ! ldd "$glm" | grep -q libmpi; then
  echo "scaling: $glm is missing or built without MPI; build it with swift build -c release --traits MPI" >&2; exit 1
fi
load=$(cut -d' ' -f1 /proc/loadavg)
work="${WORK:-$(mktemp -d /tmp/glm-scaling-XXXX)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "scaling: load average $load (numbers are only meaningful below 0.5); work folder $work" >&2

if [ ! -f "$work/shards/manifest.json" ]; then
  "$glm" prepare --input Resources/corpus/train --tokenizer Resources/tokenizers/bert-base-uncased \
    --output "$work/shards" --split blank-line --quiet >&2
fi
common=(pretrain --preset small --data "$work/shards" --steps "$steps" --save-every 100000)

rm -rf "$work/one" "$work/two"
GLM_NUM_THREADS=2 OMP_NUM_THREADS=2 "$glm" "${common[@]}" --output "$work/one" > "$work/one.log" 2>&1
mpirun -np 2 -x GLM_NUM_THREADS=1 -x OMP_NUM_THREADS=1 "$glm" "${common[@]}" --output "$work/two" > "$work/two.log" 2>&1
"$glm" bench --only train --model glm-base --batch 4 --seq 512 --repeats 3 --json > "$work/base.json"
"$glm" bench --only train --model glm-large --batch 4 --seq 512 --repeats 2 --json > "$work/large.json"

python3 - "$work" "$load" <<'EOF'
import json, sys, re
work, load = sys.argv[1], sys.argv[2]

def run(name):
    rows = [json.loads(l) for l in open(f"{work}/{name}/metrics.jsonl") if '"loss"' in l]
    a, b = rows[min(5, len(rows) - 2)], rows[-1]           # skip the first steps (warm-up)
    steps = b["step"] - a["step"]
    secs = b["elapsed_s"] - a["elapsed_s"]
    comm = [r["comm_s"] for r in rows[rows.index(a) + 1:] if "comm_s" in r]
    log = open(f"{work}/{name}.log").read()
    params = int(re.search(r"\((\d+) parameters\)", log).group(1))
    return dict(tps=(b["tokens"] - a["tokens"]) / secs, step=secs / steps, comm=sum(comm) / len(comm) if comm else 0.0,
                params=params)

one, two = run("one"), run("two")

def bench(name, key):
    return json.load(open(f"{work}/{name}.json"))[key]
base_tps = bench("base", "train_glm_base_f32_tokens_per_s")
large_tps = bench("large", "train_glm_large_f32_tokens_per_s")

def params(layers, h, vocab=30592, seq=512):
    # word embeddings, position and block-position embeddings, layers (QKV, dense, MLP, 2 LayerNorms), final LayerNorm
    return vocab * h + 2 * seq * h + layers * (12 * h * h + 13 * h) + 2 * h
models = {"GLM-Base": (params(12, 768), base_tps), "GLM-Large": (params(24, 1024), large_tps)}

print(f"## Data-parallel scaling on this machine (load average {load} at the start)\n")
print(f"`small` model ({one['params']:,} parameters), global batch 16 × 128, {len(open(f'{work}/one/metrics.jsonl').readlines())} steps:\n")
print("| run | tokens/s | step time | collectives per step |")
print("|---|---|---|---|")
print(f"| 1 process × 2 threads | {one['tps']:,.0f} | {one['step']*1000:.0f} ms | – |")
print(f"| 2 ranks × 1 thread (mpirun, loopback) | {two['tps']:,.0f} | {two['step']*1000:.0f} ms | {two['comm']*1000:.1f} ms ({100*two['comm']/two['step']:.1f} %) |")
print(f"\nRatio 2 ranks / 1 process: {two['tps']/one['tps']:.2f}.\n")

print("### Expected efficiency on N hosts (each host like this one, 16 × 512 tokens per host and step)\n")
print("Per-step compute from `glm bench` here (b4 × s512, f32): "
      f"GLM-Base {base_tps:,.0f} tokens/s, GLM-Large {large_tps:,.0f} tokens/s. Communication: ring all-reduce of the f32 "
      "gradients, 2(N−1)/N · 4P bytes per host, plus 2(N−1) link latencies (50 µs) per 25 MB bucket; no overlap with backward.\n")
print("| model | parameters | compute / step | hosts | 10 Gbit/s: comm, efficiency | 100 Gbit/s: comm, efficiency |")
print("|---|---|---|---|---|---|")
for name, (p, tps) in models.items():
    compute = 16 * 512 / tps
    for n in (8, 64):
        cells = []
        for gbit in (10, 100):
            bytes_ = 2 * (n - 1) / n * 4 * p
            buckets = -(-4 * p // (25 * 2**20))
            t = bytes_ / (gbit * 1e9 / 8) + buckets * 2 * (n - 1) * 50e-6
            cells.append(f"{t:.2f} s, {100 * compute / (compute + t):.1f} %")
        print(f"| {name} | {p/1e6:.0f} M | {compute:.1f} s | {n} | {cells[0]} | {cells[1]} |")
EOF
