"""Independent Python port of Hugging Face's slow `BertTokenizer` (BasicTokenizer + WordpieceTokenizer).

Dev-only reference for `lib/tokenizer/`: `make_tokenizer_fixtures.py` uses it to freeze expected
tokens/ids into `testdata/tokenizer/cases.json`. Written from the documented semantics of
`transformers.models.bert.tokenization_bert` (and Google's original `tokenization.py`); it imports
nothing but the standard library, so it does not share code with the TypeScript side.

Pipeline for one text (special tokens such as `[CLS]` typed in the text are kept whole first):
  1. clean: drop U+0000, U+FFFD and every "C*" (control/format/unassigned/private/surrogate)
     character except tab/CR/LF; map tab/CR/LF and every Zs character to a space;
  2. pad every CJK ideograph (the BERT code-point ranges) with spaces;
  3. split on whitespace (`str.split()`);
  4. per word: lower-case (if `do_lower_case`), then strip accents (NFD, drop Mn) when
     `strip_accents` is True, or when it is None and `do_lower_case` is True;
  5. split off every punctuation character (Unicode P* plus the ASCII symbol ranges);
  6. WordPiece: greedy longest-match-first with a `##` continuation prefix; a word longer than
     100 characters, or with no full cover by the vocabulary, becomes one `[UNK]`.

Where the slow and fast (Rust) HF tokenizers disagree, this port follows the fast tokenizer and
Google's original code, which is what the released models were trained with:
  * no NFC step (transformers >= 4.31 slow BasicTokenizer runs NFC before step 3; with
    lower-casing the later NFD makes that a no-op, it only matters for cased vocabularies);
  * lower-casing is Python's `str.lower()` (context-aware final sigma, like the slow tokenizer;
    the Rust tokenizer lower-cases char by char and gives `σ` instead of `ς`).

Unicode tables are those of this Python (`unicodedata.unidata_version`); characters assigned after
that version (e.g. new emoji) may be treated differently by a newer JS engine.
"""

import unicodedata

MAX_INPUT_CHARS_PER_WORD = 100
DEFAULT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def load_vocab(path):
    """Read vocab.txt: one token per line, id = 0-based line index, split on '\\n' only."""
    with open(path, "rb") as f:
        data = f.read().decode("utf-8")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    vocab = {}
    for i, tok in enumerate(lines):
        if tok.endswith("\r"):
            tok = tok[:-1]
        if tok in vocab:
            raise ValueError(f"{path}:{i + 1}: duplicate token {tok!r}")
        vocab[tok] = i
    return vocab


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class BasicTokenizer:
    def __init__(self, do_lower_case=True, tokenize_chinese_chars=True, strip_accents=None):
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents

    def clean(self, text):
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or is_control(ch):
                continue
            out.append(" " if is_whitespace(ch) else ch)
        return "".join(out)

    def pad_cjk(self, text):
        out = []
        for ch in text:
            if is_cjk(ord(ch)):
                out.extend((" ", ch, " "))
            else:
                out.append(ch)
        return "".join(out)

    @staticmethod
    def strip_accents_of(word):
        return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")

    @staticmethod
    def split_punctuation(word):
        pieces = []
        current = []
        for ch in word:
            if is_punctuation(ch):
                if current:
                    pieces.append("".join(current))
                    current = []
                pieces.append(ch)
            else:
                current.append(ch)
        if current:
            pieces.append("".join(current))
        return pieces

    def tokenize(self, text):
        text = self.clean(text)
        if self.tokenize_chinese_chars:
            text = self.pad_cjk(text)
        words = []
        for word in text.split():
            if self.do_lower_case:
                word = word.lower()
                if self.strip_accents is not False:
                    word = self.strip_accents_of(word)
            elif self.strip_accents:
                word = self.strip_accents_of(word)
            words.extend(self.split_punctuation(word))
        # Re-split: accent stripping can leave an empty word, lower() cannot add spaces, but be safe.
        return " ".join(words).split()


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token="[UNK]", max_chars=MAX_INPUT_CHARS_PER_WORD):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_chars = max_chars

    def tokenize_word(self, word):
        chars = list(word)
        if len(chars) > self.max_chars:
            return [self.unk_token]
        pieces = []
        start = 0
        while start < len(chars):
            end = len(chars)
            found = None
            while start < end:
                sub = "".join(chars[start:end])
                if start > 0:
                    sub = "##" + sub
                if sub in self.vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                return [self.unk_token]
            pieces.append(found)
            start = end
        return pieces


class BertTokenizerReference:
    """`tokenize(text)` -> word pieces; `encode(text)` -> ids with [CLS] ... [SEP]."""

    def __init__(self, vocab, do_lower_case=True, tokenize_chinese_chars=True, strip_accents=None,
                 special_tokens=DEFAULT_SPECIAL_TOKENS):
        self.vocab = vocab
        self.basic = BasicTokenizer(do_lower_case, tokenize_chinese_chars, strip_accents)
        self.wordpiece = WordpieceTokenizer(vocab)
        self.special_tokens = [t for t in special_tokens if t in vocab]

    def split_special(self, text):
        """Split `text` around verbatim special tokens (leftmost, longest match), like HF's added-token trie."""
        parts = []
        start = 0
        i = 0
        while i < len(text):
            match = None
            for tok in self.special_tokens:
                if text.startswith(tok, i) and (match is None or len(tok) > len(match)):
                    match = tok
            if match is None:
                i += 1
                continue
            if i > start:
                parts.append((False, text[start:i]))
            parts.append((True, match))
            i += len(match)
            start = i
        if start < len(text):
            parts.append((False, text[start:]))
        return parts

    def tokenize(self, text):
        out = []
        for is_special, part in self.split_special(text):
            if is_special:
                out.append(part)
                continue
            for word in self.basic.tokenize(part):
                out.extend(self.wordpiece.tokenize_word(word))
        return out

    def convert_tokens_to_ids(self, tokens):
        return [self.vocab[t] for t in tokens]

    def encode(self, text, max_length=None):
        ids = self.convert_tokens_to_ids(self.tokenize(text))
        if max_length is not None:
            ids = ids[: max(0, max_length - 2)]
        return [self.vocab["[CLS]"]] + ids + [self.vocab["[SEP]"]]
