#!/usr/bin/python3
"""Python as the oracle for fuzzed text inputs (run with /usr/bin/python3; standard library only).

Each reader's documented rules, written with Python's own string primitives (bytes.decode,
str.splitlines, str.split, str.strip, float, the csv module) and the SentEval / SimCSE-jittor
loading code they follow. The TypeScript fuzz harness (tools/fuzz/main.ts) writes every case its reader
loaded into a folder; this script re-reads them and prints, per case, the SHA-256 of the result in
the canonical form of tools/fuzz/canonical.ts `rowsHash` (fields joined by U+001F, each row ended by
U+001E, UTF-8; scores as the hex of their little-endian float64), or the reason it refuses.

Usage:  /usr/bin/python3 reference/text_fuzz_oracle.py KIND DIR
KIND:   vocab | sts | stsb | sick | zh | train_text | train_csv | train_tsv | train_senteval_cn
Files:  DIR/<case>.bin (sts: DIR/<case>.input and DIR/<case>.gold). One JSON line per case:
        {"name": "<case>", "ok": "<sha256>"} or {"name": "<case>", "error": "<reason>"}
"""

import csv
import hashlib
import io
import json
import os
import re
import struct
import sys

DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


class Refused(Exception):
    pass


def rows_hash(rows):
    h = hashlib.sha256()
    for row in rows:
        h.update(("\x1f".join(row) + "\x1e").encode("utf-8"))
    return h.hexdigest()


def f64(x):
    return struct.pack("<d", x).hex()


def decode_data(b):
    """io.open(..., encoding="utf8") text (universal newlines), leading BOM removed."""
    t = b.decode("utf-8")
    if t.startswith("\ufeff"):
        t = t[1:]
    return t.replace("\r\n", "\n").replace("\r", "\n")


def file_lines(text):
    """Lines as iterating a text file yields them (ends removed)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def score(field):
    s = field.strip()
    if not DECIMAL.fullmatch(s):
        raise Refused("score is not a plain decimal: %r" % field)
    x = float(s)
    if x in (float("inf"), float("-inf")):
        raise Refused("score overflows")
    return x


def pairs(rows):
    return rows_hash([(a, b, f64(g)) for a, b, g in rows])


def sts(inp, gold):
    """SentEval sts.py: STS.input / STS.gs, empty gold lines skipped, sorted by (len1, len2, gold)."""
    input_lines = decode_data(inp).splitlines()
    gold_lines = decode_data(gold).splitlines()
    rows = [l.split("\t") for l in input_lines]
    if any(len(r) != 2 for r in rows):
        raise Refused("input line without exactly 2 fields")
    if len(rows) != len(gold_lines):
        raise Refused("line counts differ")
    kept = [(r[0].split(), r[1].split(), score(g)) for r, g in zip(rows, gold_lines) if g != ""]
    kept.sort(key=lambda z: (len(z[0]), len(z[1]), z[2]))
    return pairs([(" ".join(a), " ".join(b), g) for a, b, g in kept])


def tabbed(b, skip_header, c_score, c1, c2, need):
    """SentEval's loadFile for STS-B and SICK: line.strip().split("\t"), file order."""
    text = decode_data(b)
    lines = file_lines(text)
    if skip_header:
        if text == "":
            raise Refused("empty file")
        lines = lines[1:]
    out = []
    for line in lines:
        t = line.strip().split("\t")
        if len(t) < need:
            raise Refused("too few fields")
        out.append((" ".join(t[c1].split()), " ".join(t[c2].split()), score(t[c_score])))
    return pairs(out)


def zh(b):
    """SimCSE-jittor chn.py: splitlines, 3 fields, raw sentences, sorted by (len1, len2, label)."""
    rows = []
    for l in decode_data(b).splitlines():
        f = l.split("\t")
        if len(f) != 3:
            raise Refused("not 3 fields")
        rows.append((f[0], f[1], score(f[2])))
    rows.sort(key=lambda z: (len(z[0]), len(z[1]), z[2]))
    return pairs(rows)


def vocab(b):
    """lib/tokenizer/vocab_file.ts rules; HF's load_vocab for the rest."""
    t = b.decode("utf-8")
    if t.startswith("\ufeff"):
        t = t[1:]
    if t == "":
        raise Refused("empty")
    if t.endswith("\n"):
        t = t[:-1]
    tokens = [l[:-1] if l.endswith("\r") else l for l in t.split("\n")]
    if any(tok == "" or "\r" in tok for tok in tokens) or len(set(tokens)) != len(tokens):
        raise Refused("empty line, stray CR or duplicate")
    if not {"[PAD]", "[UNK]", "[CLS]", "[SEP]"} <= set(tokens):
        raise Refused("missing special token")
    return rows_hash([(tok,) for tok in tokens])


def train_text(b):
    """HF datasets "text" loader: universal newlines, one row per line, empty lines kept."""
    if not b:
        raise Refused("empty")
    t = b.decode("utf-8")
    if t.startswith("\ufeff"):
        t = t[1:]
    if t == "":
        raise Refused("only a BOM")
    lines = t.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return rows_hash([("text",)] + [(l,) for l in lines])


def train_csv(b, delimiter):
    """CSV with a header of 1-3 columns; blank lines skipped; every row as wide as the header."""
    if not b:
        raise Refused("empty")
    t = b.decode("utf-8")
    if t.startswith("\ufeff"):
        t = t[1:]
    if t == "":
        raise Refused("only a BOM")
    try:
        rows = [r for r in csv.reader(io.StringIO(t, newline=""), delimiter=delimiter, quotechar="\"", strict=True) if r]
    except csv.Error as e:
        raise Refused("csv: %s" % e)
    if not rows or len(rows[0]) not in (1, 2, 3) or len(rows) < 2:
        raise Refused("header")
    if any(len(r) != len(rows[0]) for r in rows):
        raise Refused("row width")
    return rows_hash(rows)


def train_senteval_cn(b):
    if not b:
        raise Refused("empty")
    t = b.decode("utf-8")
    if t.startswith("\ufeff"):
        t = t[1:]
    if t == "":
        raise Refused("only a BOM")
    # LF, CRLF or a lone CR end a line (universal newlines, as the .txt reader; issue 19: CR-only
    # files must not merge rows).
    lines = re.split(r"\r\n|\r|\n", t)
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    rows = []
    for l in lines:
        f = l.split("\t")
        if len(f) != 3:
            raise Refused("not 3 fields")
        rows.append((f[0],))
    return rows_hash([("s1",)] + rows)


KINDS = {
    "vocab": vocab,
    "stsb": lambda b: tabbed(b, False, 4, 5, 6, 7),
    "sick": lambda b: tabbed(b, True, 3, 1, 2, 4),
    "zh": zh,
    "train_text": train_text,
    "train_csv": lambda b: train_csv(b, ","),
    "train_tsv": lambda b: train_csv(b, "\t"),
    "train_senteval_cn": train_senteval_cn,
}


def main():
    kind, folder = sys.argv[1], sys.argv[2]
    csv.field_size_limit(1 << 30)
    names = sorted({f.rsplit(".", 1)[0] for f in os.listdir(folder)})
    for name in names:
        def read(suffix):
            with open(os.path.join(folder, "%s.%s" % (name, suffix)), "rb") as f:
                return f.read()

        try:
            h = sts(read("input"), read("gold")) if kind == "sts" else KINDS[kind](read("bin"))
            out = {"name": name, "ok": h}
        except (Refused, UnicodeDecodeError, ValueError) as e:
            out = {"name": name, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
