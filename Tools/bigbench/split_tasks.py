"""Splits the bundled BIG-bench tasks (multiple choice, and GEM XSum's generation) into train and dev files (BIG-bench's own
task.json format), deterministically: a seeded shuffle, 70 % train, 30 % dev. BIG-bench ships no
train split; fine-tuning needs one.

    python3 Tools/bigbench/split_tasks.py      # from the repository root; rewrites */split/*.json
"""
import json
import os
import random

ROOT = "Resources/eval/bigbench"
TASKS = ["cause_and_effect/one_sentence", "presuppositions_as_nli", "strategyqa", "gem_xsum"]

for task in TASKS:
    path = os.path.join(ROOT, task, "task.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    examples = [e for e in data["examples"] if "target_scores" in e or "target" in e]
    order = list(range(len(examples)))
    random.Random(1234).shuffle(order)
    cut = round(0.7 * len(order))
    out = os.path.join(ROOT, task, "split")
    os.makedirs(out, exist_ok=True)
    for name, idx in (("train", order[:cut]), ("dev", order[cut:])):
        part = {k: v for k, v in data.items() if k != "examples"}
        part["examples"] = [examples[i] for i in sorted(idx)]
        with open(os.path.join(out, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(part, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(task, len(examples), "→", cut, "train,", len(examples) - cut, "dev")
