"""Expected ROUGE / BLEU numbers for the Swift metrics (Sources/GLMTasks/Metrics), from the Python
packages the official GLM evaluation uses.

    /root/venv-ref/bin/python Tools/metrics/make_rouge_bleu_fixtures.py            # from the repository root
    /root/venv-ref/bin/python Tools/metrics/make_rouge_bleu_fixtures.py --xsum PATH/task.json   # rebuild the pairs

Packages (pinned by what the venv holds; the script records their versions in the output):
  rouge-score 0.1.2 (Google's `rouge_score`, with nltk's PorterStemmer), sacrebleu 2.6.0.

Inputs: `Tests/GLMTasksTests/Fixtures/metrics/pairs.jsonl` (committed). With `--xsum`, the pairs are
first rebuilt from BIG-bench's `gem/xsum/task.json` (PyPI `bigbench==1.0.0`, Apache-2.0): for each of
its 1001 examples the first 1, 2 or 3 lines of the article (newline-separated, so ROUGE-Lsum sees
several sentences) against the one-sentence summary, plus hand-written adversarial strings.

Outputs (`Tests/GLMTasksTests/Fixtures/metrics/expected.json`):
  - `rouge`: per pair precision/recall/F of rouge1, rouge2, rougeL, rougeLsum with `use_stemmer=True`
    (as the official `tasks/seq2seq/evaluate.py:rouge_metric`), and rouge1/rougeL without the stemmer;
    the mean F of each type over all pairs.
  - `stems`: nltk PorterStemmer (NLTK_EXTENSIONS) of every distinct token the ROUGE tokenizer makes.
  - `bleu`: sacrebleu `corpus_bleu` (13a, exp smoothing) over all pairs and over chunks of 97 pairs,
    with its statistics; `sentence_bleu` per pair (its defaults: effective order); 13a tokenisation of
    every prediction; one multi-reference corpus.
  - `official_rouge`: the official `rouge_metric` post-processing (fix_tokenization, sentences of at
    most 4 words dropped, near-duplicate sentences removed) with its three `dataset` modes, on
    BERT-style tokenised predictions with [SEP] between sentences (first 300 pairs + hand-written).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import string

import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer, tokenize

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIX = os.path.join(ROOT, "Tests", "GLMTasksTests", "Fixtures", "metrics")
PAIRS = os.path.join(FIX, "pairs.jsonl")
EXPECTED = os.path.join(FIX, "expected.json")

# Strings that stress tokenisers: unicode case mappings that land in ASCII (İ, Kelvin sign), accents,
# CJK, emoji, Python whitespace that is not " " (\x1c, NBSP, ideographic space), empty and
# punctuation-only text, HTML entities and `<skipped>` (13a), digits with separators, hyphens at line
# ends, repeated words, stemmer corner cases.
ADVERSARIAL = [
    ("", ""),
    ("", "The cat sat on the mat."),
    ("The cat sat on the mat.", ""),
    ("   ", "\n\n"),
    ("\n", "a\n\nb"),
    ("İstanbul KELVIN \u212aelvin", "istanbul kelvin kelvin"),
    ("Café naïve façade résumé", "cafe naive facade resume"),
    ("東京は日本の首都です。", "東京 日本 首都"),
    ("I ❤ emoji 🎉🎉 party", "emoji party 🎉"),
    ("a\x1cb\x1dc\x1ed\x1fe", "a b c d e"),
    ("non\u00a0breaking\u3000space\u2009thin", "non breaking space thin"),
    ("!!! ... ??? ,,, ;;;", "..."),
    ("3.14 1,000 2000-2001 $5.00 5-4", "3.14 1,000 2000 - 2001 $ 5.00 5 - 4"),
    ("the the the the the", "the the"),
    ("running runs ran runner generously generalization", "run running generous general"),
    ("skies dying lying tying news innings outings cannings howe proceed exceed succeed",
     "sky die lie tie news inning outing canning howe proceed exceed succeed"),
    ("happy happiness sky skies", "happi happy"),
    ("&quot;quoted&quot; &amp; &lt;tag&gt; <skipped> end", "\"quoted\" & <tag> end"),
    ("line broken with hy-\nphen and\nnewline", "line broken with hyphen and newline"),
    ("trailing spaces   \t ", "trailing spaces"),
    ("U.S. e.g. i.e. Mr. Smith's", "U.S. e.g. Mr Smith 's"),
    ("don't won't can't it's", "do n't wo n't ca n't it 's"),
    ("{braces} [brackets] (parens) <angles> `ticks` ~tilde ^caret", "braces brackets parens"),
    ("e\u0301t\u00e9 \u00e9t\u00e9", "ete ete"),
    ("שלום עולם مرحبا", "hello world"),
    ("a" * 60 + " " + "b" * 3, "a" * 60),
    ("x", "x"),
    ("x y", "y x"),
    ("The quick brown fox jumps over the lazy dog\nThe dog sleeps",
     "The quick brown dog jumps on the log.\nA fox ran"),
    ("one two three\nfour five six\nseven eight", "seven eight\none two three"),
    ("repeated sentence here\nrepeated sentence here", "repeated sentence here"),
    ("yyyy syzygy yayy eyyy", "yyy syzygi"),
    ("conditional rational generalizations hopefulness goodness formality sensitivity",
     "condition ration general hope good formal sensit"),
    ("agreed feed bled sized hopping filing failing", "agre fe ble size hop file fail"),
]


def punct_standardize(s: str) -> str:
    # official data_utils/corpora.py:punctuation_standardization, so the pairs look like GLM's inputs
    for k, v in {"\u201c": "\"", "\u201d": "\"", "\u2019": "'", "\u2018": "'", "\u2013": "-"}.items():
        s = s.replace(k, v)
    return s


def build_pairs(xsum_path: str):
    with open(xsum_path, encoding="utf-8") as f:
        task = json.load(f)
    pairs = []
    for i, ex in enumerate(task["examples"]):
        lines = [x for x in ex["input"].split("\n") if x.strip()]
        k = i % 3 + 1
        pairs.append({"prediction": "\n".join(lines[:k]), "reference": ex["target"]})
    pairs += [{"prediction": p, "reference": r} for p, r in ADVERSARIAL]
    with open(PAIRS, "w", encoding="utf-8") as f:
        f.write(json.dumps({"canary": task["canary"],
                            "source": "BIG-bench gem/xsum task.json (PyPI bigbench==1.0.0, Apache-2.0): "
                                      "lead 1-3 article lines vs the summary; then adversarial strings"}) + "\n")
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")


def read_pairs():
    with open(PAIRS, encoding="utf-8") as f:
        lines = [json.loads(x) for x in f]
    assert "canary" in lines[0]
    return lines[1:]


def score_dict(s):
    return [s.precision, s.recall, s.fmeasure]


# ---- official tasks/seq2seq/evaluate.py post-processing (THUDM/GLM, MIT), copied verbatim ----------

def _is_digit(w):
    for ch in w:
        if not (ch.isdigit() or ch == ','):
            return False
    return True


def fix_tokenization(text, dataset):
    if dataset == 'cnn_dm_org':
        return text
    if dataset == 'gigaword':
        text = text.replace('[UNK]', 'UNK')
        return text
    input_tokens = text.split()
    output_tokens = []
    has_left_quote = False
    has_left_single_quote = False

    i = 0
    prev_dash = False
    while i < len(input_tokens):
        tok = input_tokens[i]
        flag_prev_dash = False
        if tok == "\"":
            if has_left_quote:
                output_tokens.append("''")
            else:
                output_tokens.append("``")
            has_left_quote = not has_left_quote
            i += 1
        elif tok == "'" and len(output_tokens) > 0 and output_tokens[-1].endswith("n") and i < len(input_tokens) - 1 and \
                input_tokens[i + 1] == "t":
            output_tokens[-1] = output_tokens[-1][:-1]
            output_tokens.append("n't")
            i += 2
        elif tok == "'" and i < len(input_tokens) - 1 and input_tokens[i + 1] in ("s", "d", "ll"):
            output_tokens.append("'" + input_tokens[i + 1])
            i += 2
        elif tok == "'":
            if has_left_single_quote:
                output_tokens.append("'")
            else:
                output_tokens.append("`")
            has_left_single_quote = not has_left_single_quote
            i += 1
        elif tok == "." and i < len(input_tokens) - 2 and input_tokens[i + 1] == "." and input_tokens[i + 2] == ".":
            output_tokens.append("...")
            i += 3
        elif tok == "," and len(output_tokens) > 0 and _is_digit(output_tokens[-1]) and i < len(
                input_tokens) - 1 and _is_digit(input_tokens[i + 1]):
            # $ 3 , 000 -> $ 3,000
            output_tokens[-1] += ',' + input_tokens[i + 1]
            i += 2
        elif tok == "." and len(output_tokens) > 0 and output_tokens[-1].isdigit() and i < len(input_tokens) - 1 and \
                input_tokens[i + 1].isdigit():
            # 3 . 03 -> $ 3.03
            output_tokens[-1] += '.' + input_tokens[i + 1]
            i += 2
        elif tok == "." and len(output_tokens) > 0 and len(output_tokens[-1]) == 1 and output_tokens[
            -1].isalpha() and i < len(input_tokens) - 2 and len(input_tokens[i + 1]) == 1 and input_tokens[
            i + 1].isalpha() and input_tokens[i + 2] == '.':
            # U . N . -> U.N.
            k = i + 3
            while k + 2 < len(input_tokens):
                if len(input_tokens[k + 1]) == 1 and input_tokens[k + 1].isalpha() and input_tokens[k + 2] == '.':
                    k += 2
                else:
                    break
            output_tokens[-1] += ''.join(input_tokens[i:k])
            i = k
        elif tok == "-":
            if i < len(input_tokens) - 1 and input_tokens[i + 1] == "-":
                output_tokens.append("--")
                i += 2
            elif i == len(input_tokens) - 1 or i == 0:
                output_tokens.append("-")
                i += 1
            elif output_tokens[-1] not in string.punctuation and input_tokens[i + 1][0] not in string.punctuation:
                output_tokens[-1] += "-"
                i += 1
                flag_prev_dash = True
            else:
                output_tokens.append("-")
                i += 1
        elif prev_dash and len(output_tokens) > 0 and tok[0] not in string.punctuation:
            output_tokens[-1] += tok
            i += 1
        else:
            output_tokens.append(tok)
            i += 1
        prev_dash = flag_prev_dash
    return " ".join(output_tokens)


def count_tokens(tokens):
    counter = {}
    for t in tokens:
        if t in counter.keys():
            counter[t] += 1
        else:
            counter[t] = 1
    return counter


def get_f1(text_a, text_b):
    tokens_a = text_a.lower().split()
    tokens_b = text_b.lower().split()
    if len(tokens_a) == 0 or len(tokens_b) == 0:
        return 1 if len(tokens_a) == len(tokens_b) else 0
    set_a = count_tokens(tokens_a)
    set_b = count_tokens(tokens_b)
    match = 0
    for token in set_a.keys():
        if token in set_b.keys():
            match += min(set_a[token], set_b[token])
    p = match / len(tokens_a)
    r = match / len(tokens_b)
    return 2.0 * p * r / (p + r + 1e-5)


def remove_duplicate(l_list, duplicate_rate):
    tk_list = [l.lower().split() for l in l_list]
    r_list = []
    history_set = set()
    for i, w_list in enumerate(tk_list):
        w_set = set(w_list)
        if len(w_set & history_set) / len(w_set) <= duplicate_rate:
            r_list.append(l_list[i])
        history_set |= w_set
    return r_list


def rouge_metric(predictions, refs, metric="rouge-1", duplicate_rate=0.7, dataset='cnn_dm'):
    # official rouge_metric with `examples` replaced by the refs and the results.json side file removed
    metric_dict = {"rouge-1": "rouge1", "rouge-2": "rouge2", "rouge-l": "rougeLsum"}
    ref_list = []
    for ref in refs:
        ref = ref.strip().split('[SEP]')
        ref = [fix_tokenization(sentence, dataset=dataset) for sentence in ref]
        ref = "\n".join(ref)
        ref_list.append(ref)
    pred_list = []
    for prediction in predictions:
        buf = []
        for sentence in prediction.strip().split("[SEP]"):
            sentence = fix_tokenization(sentence, dataset=dataset)
            if any(get_f1(sentence, s) > 1.0 for s in buf):
                continue
            s_len = len(sentence.split())
            if s_len <= 4:
                continue
            buf.append(sentence)
        if duplicate_rate and duplicate_rate < 1:
            buf = remove_duplicate(buf, duplicate_rate)
        line = "\n".join(buf)
        pred_list.append(line)
    scorer = rouge_scorer.RougeScorer([metric_dict[metric]], use_stemmer=True)
    scores = [scorer.score(pred, ref) for pred, ref in zip(pred_list, ref_list)]
    scores = [score[metric_dict[metric]].fmeasure for score in scores]
    scores = sum(scores) / len(scores)
    return scores, pred_list, ref_list

# ------------------------------------------------------------------------------------------------------


def bert_style(text: str) -> str:
    """Lowercased words and punctuation split by spaces, like a BERT-decoded GLM prediction."""
    return " ".join(re.findall(r"\w+|[^\w\s]", text.lower()))


def official_inputs(pairs):
    """[SEP]-joined BERT-style predictions and references from the first 300 xsum pairs, plus
    cases that exercise every branch of fix_tokenization and the filters."""
    preds, refs = [], []
    for i, p in enumerate(pairs[:300]):
        sents = [bert_style(s) for s in p["prediction"].split("\n")]
        if i % 5 == 0 and sents:
            sents.append(sents[0])          # exact duplicate sentence: dropped by get_f1 / remove_duplicate
        if i % 7 == 0:
            sents.append("too short here")  # <= 4 words: dropped
        preds.append(" [SEP] ".join(sents))
        refs.append(bert_style(p["reference"]))
    extra = [
        ('he said " it is n\'t over " , and \' she \' s fine \' today', 'he said " it is n\'t over "'),
        ("the u . n . and u . s . a . agreed on $ 3 , 000 and 3 . 03 percent", "u . n . agreed 3 , 000"),
        ("a well - known long - term plan - - with a dash - at the end -", "well - known plan"),
        ("wait . . . what happened there in the end ?", "wait . . . what"),
        ("- leading dash starts this sentence here", "leading dash"),
        ("[UNK] tokens remain [UNK] in the output here", "unk tokens"),
        ("", "empty prediction"),
        ("one two three four [SEP] one two three four five", "one two three four five"),
    ]
    for p, r in extra:
        preds.append(p)
        refs.append(r)
    return preds, refs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xsum", help="BIG-bench gem/xsum/task.json: rebuild pairs.jsonl from it first")
    args = ap.parse_args()
    os.makedirs(FIX, exist_ok=True)
    if args.xsum:
        build_pairs(args.xsum)
    pairs = read_pairs()
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    stem_scorer = rouge_scorer.RougeScorer(types, use_stemmer=True)
    plain_scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    per_pair, means = [], {t: 0.0 for t in types}
    for i, p in enumerate(pairs):
        s = stem_scorer.score(p["reference"], p["prediction"])
        u = plain_scorer.score(p["reference"], p["prediction"])
        # [precision, recall, F] for the first 100 pairs and the adversarial ones, F alone elsewhere
        # (keeps the file small; F depends on both).
        full = i < 100 or i >= 1001
        keep = score_dict if full else (lambda x: [x.fmeasure])
        per_pair.append({**{t: keep(s[t]) for t in types},
                         "rouge1_nostem": keep(u["rouge1"]), "rougeL_nostem": keep(u["rougeL"])})
    for t in types:
        means[t] = sum(x[t][-1] for x in per_pair) / len(per_pair)

    words = set()
    for p in pairs:
        for text in (p["prediction"], p["reference"]):
            words.update(tokenize.tokenize(text, None))
    stemmer = porter.PorterStemmer()
    stems = {w: stemmer.stem(w) for w in sorted(words)}

    hyps = [p["prediction"] for p in pairs]
    refs = [p["reference"] for p in pairs]

    def corpus(h, r):
        b = sacrebleu.corpus_bleu(h, r)
        return {"score": b.score, "counts": b.counts, "totals": b.totals, "sys_len": b.sys_len, "ref_len": b.ref_len,
                "bp": b.bp, "precisions": b.precisions}

    tok13a = sacrebleu.BLEU().tokenizer
    chunks = []
    for start in range(0, len(pairs), 97):
        chunks.append({"start": start, "end": min(start + 97, len(pairs)),
                       **corpus(hyps[start:start + 97], [refs[start:start + 97]])})
    # Multi-reference: the summary and the prediction of the next pair as a second reference.
    multi_refs = [refs[:200], hyps[1:201]]
    bleu = {
        "corpus": corpus(hyps, [refs]),
        "chunks": chunks,
        "multi_reference": corpus(hyps[:200], multi_refs),
        "sentence": [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs)],
        # 13a output of the first 50 predictions and of the adversarial ones (index: string)
        "tokenized_13a": {str(i): tok13a(h.rstrip()) for i, h in enumerate(hyps) if i < 50 or i >= 1001},
    }

    o_preds, o_refs = official_inputs(pairs)
    official = {"predictions": o_preds, "references": o_refs, "datasets": {}}
    for ds in ["cnn_dm", "cnn_dm_org", "gigaword"]:
        res = {}
        for m in ["rouge-1", "rouge-2", "rouge-l"]:
            score, pl, rl = rouge_metric(o_preds, o_refs, metric=m, dataset=ds)
            res[m] = score
        # the post-processed texts ROUGE saw (the other modes change only [UNK])
        if ds == "cnn_dm":
            res["processed_predictions"] = pl
            res["processed_references"] = rl
        official["datasets"][ds] = res

    out = {
        "versions": {k: importlib.metadata.version(k) for k in ["rouge-score", "sacrebleu", "nltk"]},
        "pairs": len(pairs),
        "rouge": {"per_pair": per_pair, "mean_f": means},
        "stems": stems,
        "bleu": bleu,
        "official_rouge": official,
    }
    with open(EXPECTED, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(pairs)} pairs; mean F: " + ", ".join(f"{t} {means[t]:.6f}" for t in types)
          + f"; corpus BLEU {bleu['corpus']['score']:.4f}; {len(stems)} stems")


if __name__ == "__main__":
    main()
