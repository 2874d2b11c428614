#!/usr/bin/env python3
"""Goldens for the bundled Chinese tokenizer (GLM-Large-Chinese / GLM-10B-Chinese, cog-pretrain.model).

Two references, both run outside this repository:

1. The text layer: the Python `sentencepiece` package (0.2.x) loading
   `Resources/tokenizers/glm-large-chinese/cog-pretrain.model` — exactly what the official
   `data_utils/sp_tokenizer.py:Encoder_SP` does (`EncodeAsIds`, `DecodeIds`).
2. The GLM command-token layer: the OFFICIAL `data_utils/tokenization.py:ChineseSPTokenizer` of
   THUDM/GLM (docs/official-glm.md §3.4–3.5), imported from an extracted official tree with the
   modules it does not need for tokenising stubbed (`utils.print_rank_0`, `data_utils.file_utils`),
   built with and without `--fix-command-token` (GLM-Large-Chinese and GLM-10B-Chinese layouts).

Get the official tree (commit 4f61ed7) e.g. with
    git clone https://github.com/THUDM/GLM /tmp/glm-official && git -C /tmp/glm-official checkout 4f61ed7
Then, from the repo root (needs sentencepiece, regex, nltk, torch — the imports of tokenization.py):
    python Tools/goldens/make_chinese_goldens.py --official /tmp/glm-official

Writes Tests/GLMTokenizersTests/Goldens/:
- cog-pretrain.jsonl: {"text", "ids", "decoded"} per line (sentencepiece EncodeAsIds / DecodeIds);
- glm-cog-fixed.jsonl, glm-cog-10b.jsonl: {"text", "ids"} per line, ids = the official
  ChineseSPTokenizer's EncodeAsIds(text).tokenization, command tokens inserted in the text;
- glm-cog-layouts.json: each layout's command tokens [name, token, id, lstrip] and num_tokens.
"""
import argparse, hashlib, importlib.util, json, os, random, sys, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_goldens import ADVERSARIAL, ROOT, OUT, RES

MODEL = os.path.join(RES, "glm-large-chinese", "cog-pretrain.model")
MODEL_SHA256 = "6ea6f4164152bc58d23e24e48f7bf4187aad72a32e97ec4b3acc832fe183cbc2"

# Public-domain classical texts (Tang poems, the Analects, the Daodejing, 千字文) and sentences
# written for these tests; together with mixed-script lines and the shared adversarial strings.
CHINESE = [
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。",
    "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？人不知而不愠，不亦君子乎？",
    "道可道，非常道。名可名，非常名。无名天地之始；有名万物之母。",
    "天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。",
    "千里之行，始于足下。",
    "清华大学位于北京市海淀区，是中国著名的高等学府之一。",
    "自然语言处理是人工智能领域中的一个重要方向。",
    "今天天气很好，我们一起去公园散步吧！",
    "这个模型有三亿三千五百万个参数，在悟道语料上预训练。",
    "请问，从这里到火车站怎么走？大约需要二十分钟。",
    "他说：“我明天再来。”然后就离开了。",
    "《红楼梦》是中国古典四大名著之一；作者是曹雪芹。",
    "价格是￥128.50元，折扣后只要99元（限时优惠）。",
    "2023年3月14日，星期二，上午9点30分开会。",
    "第一章……第二章……第三章",
    "中文与English混合的句子，包含numbers 123 和符号#@%。",
    "GLM-10B-Chinese是一个中文预训练语言模型，支持[MASK]填空。",
    "机器学习（Machine Learning）和深度学习（Deep Learning）的区别是什么？",
    "Python 3.11 的新特性：更快的运行速度、更好的错误提示。",
    "北京、上海、广州、深圳是中国的一线城市。",
    "全角字符：ＡＢＣａｂｃ１２３！？（）【】",
    "半角片假名ｶﾀｶﾅ和全角カタカナ混在一起。",
    "繁體中文：臺灣的夜市非常熱鬧，小吃種類繁多。",
    "① ② ③ ㈱ ㍿ ℃ № ㎏ ™ ½ ¼",
    "换行符\n在中间\n\n还有两个",
    "制表符\t和  多个   空格",
    "“引号”‘单引号’「直角引号」『双直角引号』",
    "表情符号😀👍🇨🇳和汉字混合",
    "生僻字：𠀀 𪜀 𫝀 𫠠 鿿 㐀 龘 靐 齉",
    "数学公式：E=mc²，∑x²，√2≈1.414",
    "<n>是用户定义的符号，<s>和</s>是控制符号，<unk>也是。",
    "一二三四五六七八九十百千万亿",
    "了着过的地得么呢吗吧啊哦嗯",
    "　全角空格开头和结尾　",
    "中文句子。English sentence. 中文又来了！Mixed? 好的。",
    "网址https://www.example.cn/路径?参数=值 和邮箱user@example.com",
    "代码：def 函数(参数): return 参数 * 2",
]


def texts():
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor()
    sp.Load(MODEL)
    rng = random.Random(20240501)
    out = list(CHINESE)
    # Lines made of random pieces of the model's own vocabulary: broad coverage of the 50000 pieces
    # and of BPE merges across piece boundaries.
    n = sp.GetPieceSize()
    seps = ["", "", "", " ", "，", "。", "a", "1", "\n"]
    for _ in range(600):
        k = rng.randint(1, 14)
        parts = []
        for _ in range(k):
            p = sp.IdToPiece(rng.randrange(4, n))
            parts.append(p.replace("\u2581", " ") + rng.choice(seps))
        out.append("".join(parts))
    # Mixed-script lines: a Chinese line with an adversarial string spliced in.
    for i, adv in enumerate(ADVERSARIAL):
        base = CHINESE[i % len(CHINESE)]
        cut = rng.randint(0, len(base))
        out.append(base[:cut] + adv + base[cut:])
    out += ADVERSARIAL
    return out


def glm_texts(lines):
    """Lines with command tokens inserted (and edge cases) for the command-token layer."""
    rng = random.Random(1234)
    cmds = ["[MASK]", "[gMASK]", "[sMASK]", "<|endoftext|>", "[CLS]", "[SEP]", "[UNK]",
            "<|startofpiece|>", "<|endofpiece|>"]
    spaces = ["", " ", "  ", "\t", " \n ", "\u3000"]
    out = []
    for line in lines[:len(CHINESE)] + lines[len(CHINESE)::4]:
        chars = list(line)
        for _ in range(rng.randint(0, 3)):
            k = rng.randint(0, len(chars))
            chars.insert(k, rng.choice(spaces) + rng.choice(cmds) + rng.choice(spaces))
        out.append("".join(chars))
    out += [
        "北京是中国的[MASK]。", "清华大学位于[gMASK]", "这是一个[sMASK]的例子", "[MASK][MASK]", "[MASK",
        "[mask]", "中文 [MASK] 测试", "中文\t[gMASK]  结尾", "一<|endoftext|>二", "<|startofpiece|>填空<|endofpiece|>",
        "   [MASK]   ", "[gMASK]", "\u3000[MASK]\u3000", "[[MASK]]", "<|endoftext|><|endoftext|>", "  ", "",
        "[CLS]问题[SEP]答案[MASK]", "Beijing is located in [MASK].", "英文和中文mixed [sMASK] text",
    ]
    return out


def official_chinese_tokenizer(official):
    """Imports the official data_utils/tokenization.py without data_utils/__init__.py (which pulls in the
    training data pipeline) and returns the ChineseSPTokenizer class. Only `utils.print_rank_0` and
    `data_utils.file_utils` (download helpers) are stubbed; `sp_tokenizer` loads the model through
    the relative PRETRAINED_MODEL_FILE path, so this runs with the official tree as working directory."""
    utils = types.ModuleType("utils")
    utils.print_rank_0 = lambda *a, **k: None
    sys.modules["utils"] = utils
    pkg = types.ModuleType("data_utils")
    pkg.__path__ = [os.path.join(official, "data_utils")]
    sys.modules["data_utils"] = pkg
    fu = types.ModuleType("data_utils.file_utils")
    fu.cached_path = lambda p, *a, **k: p
    sys.modules["data_utils.file_utils"] = fu
    mods = {}
    for name in ["wordpiece", "tokenization_gpt2", "sp_tokenizer", "tokenization"]:
        s = importlib.util.spec_from_file_location("data_utils." + name, os.path.join(official, "data_utils", name + ".py"))
        m = importlib.util.module_from_spec(s)
        sys.modules["data_utils." + name] = m
        s.loader.exec_module(m)
        mods[name] = m
    return mods["tokenization"].ChineseSPTokenizer, mods["sp_tokenizer"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="an extracted THUDM/GLM tree (commit 4f61ed7)")
    a = ap.parse_args()
    official = os.path.abspath(a.official)
    with open(MODEL, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == MODEL_SHA256, "the bundled model is not cog-pretrain.model"
    with open(os.path.join(official, "chinese_sentencepiece", "cog-pretrain.model"), "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == MODEL_SHA256, "the official tree's model differs"

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor()
    sp.Load(MODEL)
    lines = texts()
    with open(os.path.join(OUT, "cog-pretrain.jsonl"), "w", encoding="utf-8") as fh:
        for line in lines:
            ids = sp.EncodeAsIds(line)
            fh.write(json.dumps({"text": line, "ids": ids, "decoded": sp.DecodeIds(ids)}, ensure_ascii=False) + "\n")
    print(f"cog-pretrain: {len(lines)} lines (sentencepiece {spm.__version__})", file=sys.stderr)

    cwd = os.getcwd()
    os.chdir(official)
    try:
        ChineseSPTokenizer, sp_mod = official_chinese_tokenizer(official)
        assert sp_mod.PRETRAINED_MODEL_FILE == "chinese_sentencepiece/cog-pretrain.model"
        # The released models are fine-tuned/used without [dBLOCK] (no block masking): no add_decoder_mask.
        toks = {
            "fixed": ChineseSPTokenizer(add_block_symbols=True, add_task_mask=True, fix_command_token=True),
            "10b": ChineseSPTokenizer(add_block_symbols=True, add_task_mask=True, fix_command_token=False),
        }
        glm_lines = glm_texts(lines)
        layouts = {}
        for name, t in toks.items():
            layouts[name] = {"num_tokens": t.num_tokens,
                             "commands": [[c.name, c.token, c.Id, bool(c.lstrip)] for c in t._command_tokens],
                             "id_to_token": {str(i): t.IdToToken(i) for i in sorted(t.command_id_map)}}
            rows = [{"text": line, "ids": list(t.EncodeAsIds(line).tokenization)} for line in glm_lines]
            os.chdir(cwd)
            with open(os.path.join(OUT, f"glm-cog-{name}.jsonl"), "w", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            os.chdir(official)
            print(f"glm-cog-{name}: {len(glm_lines)} lines, num_tokens {t.num_tokens}", file=sys.stderr)
    finally:
        os.chdir(cwd)
    with open(os.path.join(OUT, "glm-cog-layouts.json"), "w", encoding="utf-8") as fh:
        json.dump(layouts, fh, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
