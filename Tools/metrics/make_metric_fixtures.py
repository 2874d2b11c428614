#!/usr/bin/env python3
"""Expected metric values for GLMTasksTests/MetricTests, from existing implementations.

    PYTHONPATH=/tmp/pydeps /root/venv-ref/bin/python Tools/metrics/make_metric_fixtures.py [--official /tmp/glm-official]

(`pip install --target /tmp/pydeps unidecode` first; scikit-learn comes with the reference venv.)

Writes Tests/GLMTasksTests/Fixtures/metrics.json from made-up predictions:
- accuracy, macro-F1 (CB) and binary F1 (MultiRC F1a) from scikit-learn's `accuracy_score` and
  `f1_score` (zero_division=0, its default behaviour apart from the warning);
- MultiRC exact match per question, the official `multirc_em` logic (questions grouped by id);
- ReCoRD EM/F1: the SQuAD v1.1 evaluation script's `normalize_answer`, `f1_score`,
  `exact_match_score` and max over gold answers, with the `unidecode` step the official
  `tasks/superglue/evaluate.py` adds, averaged over questions (a question without gold answers counts 0).

All values are in percent (the Swift metrics report percent). With `--official`, the official
`tasks/superglue/evaluate.py` functions are run on the same inputs and must agree.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import string
import sys
from collections import Counter, defaultdict

from sklearn.metrics import accuracy_score, f1_score
from unidecode import unidecode

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "GLMTasksTests", "Fixtures", "metrics.json")


# --- The SQuAD v1.1 script (with ReCoRD's unidecode) ---------------------------------------------
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return unidecode(text.lower())

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad_f1(prediction, ground_truth):
    p, g = normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def squad_em(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def qa_score(predictions, golds, metric):
    total = sum(max(metric(p, g) for g in gs) for p, gs in zip(predictions, golds) if gs)
    return 100.0 * total / len(predictions)


def multirc_em(predictions, labels, questions):
    by_q_label, by_q_pred = defaultdict(list), defaultdict(list)
    for q, l, p in zip(questions, labels, predictions):
        by_q_label[q].append(l)
        by_q_pred[q].append(p)
    return 100.0 * sum(by_q_label[q] == by_q_pred[q] for q in by_q_label) / len(by_q_label)


NORMALIZE = [
    "The Eiffel Tower", "an apple a day", "A.B.C. News", "Zoë Saldaña", "Café  au   lait!", "Straße", "Æsir and Œuvre",
    "Søren Kierkegaard", "Łódź", "“Quoted” – dash — em", "Theatre of the Absurd", "the", "  ", "$1,000.50 (approx.)",
    "ﬁnal ﬂow", "naïve façade", "Ångström", "PEOPLE'S Republic", "x×y ÷ z", "½ price", "São Paulo's", "ŁUKASZ",
    "the_the a-an", "İstanbul", "résumé-writing", "Hello, World!", "10,000", "anthem", "thea", "Mr. Smith's",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", help="a THUDM/GLM tree: also check the official evaluate.py functions")
    a = ap.parse_args()
    rng = random.Random(7)
    out = {"classification": [], "multirc": [], "record": [], "normalize": []}
    cases = []
    for n, k in [(20, 3), (50, 3), (7, 2), (30, 2), (1, 2)]:
        labels = [rng.randrange(k) for _ in range(n)]
        preds = [rng.randrange(k) for _ in range(n)]
        cases.append((preds, labels))
    cases.append(([2, 2, 2, 2], [0, 1, 0, 1]))  # a predicted class that never occurs in the labels
    cases.append(([0, 0, 0], [0, 0, 0]))        # no positive class at all: binary F1 = 0
    cases.append(([1, 0, 1, 1], [1, 1, 0, 1]))
    for preds, labels in cases:
        binary = set(preds + labels) <= {0, 1}
        out["classification"].append({
            "predictions": preds, "labels": labels,
            "accuracy": 100.0 * accuracy_score(labels, preds),
            "f1_macro": 100.0 * f1_score(labels, preds, average="macro", zero_division=0),
            "f1_binary": 100.0 * f1_score(labels, preds, zero_division=0) if binary else None,
        })
    for n_q in (4, 12):
        questions, labels, preds = [], [], []
        for q in range(n_q):
            for _ in range(rng.randint(1, 5)):
                questions.append(str(q * 3))
                labels.append(rng.randrange(2))
                preds.append(labels[-1] if rng.random() < 0.7 else 1 - labels[-1])
        order = list(range(len(questions)))
        rng.shuffle(order)  # answers of a question need not be adjacent
        questions, labels, preds = [questions[i] for i in order], [labels[i] for i in order], [preds[i] for i in order]
        out["multirc"].append({"predictions": preds, "labels": labels, "questions": questions,
                               "em": multirc_em(preds, labels, questions),
                               "f1a": 100.0 * f1_score(labels, preds, zero_division=0),
                               "acc": 100.0 * accuracy_score(labels, preds)})
    record_preds = ["Barack Obama", "the United States", "Obama", "Paris", "Zoë", "New York Times", "Theresa May", "Kabul"]
    record_golds = [["Barack Obama", "Obama"], ["United States"], ["Barack Obama"], [], ["Zoe"], ["The New York Times", "NYT"],
                    ["May"], ["Badam Bagh"]]
    for p, gs in zip(record_preds, record_golds):
        out["record"].append({"prediction": p, "golds": gs,
                              "em": max((float(squad_em(p, g)) for g in gs), default=0.0),
                              "f1": max((float(squad_f1(p, g)) for g in gs), default=0.0)})
    out["record_total"] = {"predictions": record_preds, "golds": record_golds,
                           "EM": qa_score(record_preds, record_golds, squad_em),
                           "F1": qa_score(record_preds, record_golds, squad_f1)}
    out["normalize"] = [{"text": t, "normalized": normalize_answer(t)} for t in NORMALIZE]
    if a.official:
        sys.path.insert(0, a.official)
        import types
        for name in ("mpu",):
            sys.modules[name] = types.ModuleType(name)
        from tasks.superglue import evaluate as official
        for item in out["normalize"]:
            assert official.normalize_answer(item["text"]) == item["normalized"], item
        for item in out["record"]:
            for g in item["golds"]:
                assert official.f1_score(item["prediction"], g) == squad_f1(item["prediction"], g)

        class Ex:
            def __init__(self, q=None, answers=None, candidates=None):
                self.meta = {"question_idx": q, "answers": answers, "candidates": candidates}
        for m in out["multirc"]:
            em = official.multirc_em(m["predictions"], m["labels"], [Ex(q) for q in m["questions"]])
            assert abs(100.0 * em - m["em"]) < 1e-9
        t = out["record_total"]
        exs = [Ex(answers=g, candidates=[p]) for p, g in zip(t["predictions"], t["golds"])]
        assert abs(official.qa_exact_match([0] * len(exs), None, exs) - t["EM"]) < 1e-9
        assert abs(official.qa_f1([0] * len(exs), None, exs) - t["F1"]) < 1e-9
        print("the official evaluate.py functions agree")
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
