/**
 * Patches for two gaps in `@huggingface/tokenizers` 0.2.0's `BertNormalizer`, applied to the raw
 * text before the library sees it, so that its output matches Hugging Face's Python/Rust BERT
 * tokenizers (checked with a randomized comparison against `reference/wordpiece_reference.py`):
 *
 * 1. **CJK ideographs outside the BMP** (Extensions B–E, U+20000–U+2CEAF, and the compatibility
 *    supplement U+2F800–U+2FA1F) are not split into words of their own: the library walks the
 *    text by UTF-16 code unit, so it never sees their code points. We put the spaces around them.
 * 2. **Unassigned code points** (category Cn) are not removed by `clean_text`: HF drops every
 *    `C*` character, the library only Cc/Cf/Co/Cs. We replace each with U+0000, which the
 *    library's `clean_text` then drops. (Replacing rather than deleting keeps special-token
 *    matching exact: HF looks for `[CLS]` etc. in the text before cleaning it.)
 *
 * Both are no-ops for text without such characters, and both respect the normalizer's flags.
 *
 * @example
 * ```ts
 * import { preNormalize } from "./bert_pre_normalizer.ts";
 * console.log(JSON.stringify(preNormalize("a\u{20000}b", { cleanText: true, handleChineseChars: true })));
 * // "a \u{20000} b" (printed as the character)
 * ```
 * @module
 */

/** Which of the two patches apply (the `BertNormalizer` flags of tokenizer.json). */
export interface PreNormalizeFlags {
  /** `clean_text`: drop unassigned (Cn) code points. */
  cleanText: boolean;
  /** `handle_chinese_chars`: pad supplementary-plane CJK ideographs with spaces. */
  handleChineseChars: boolean;
}

// The supplementary-plane part of BERT's `_is_chinese_char` ranges (the BMP ones the library handles).
const ASTRAL_CJK =
  /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;
const UNASSIGNED = /\p{Cn}/gu;
const NON_ASCII = /[\u0080-\u{10FFFF}]/u;

/** Apply the patches described in the module doc to `text`. */
export function preNormalize(text: string, flags: PreNormalizeFlags): string {
  if (!NON_ASCII.test(text)) return text;
  if (flags.cleanText) text = text.replace(UNASSIGNED, "\0");
  if (flags.handleChineseChars) text = text.replace(ASTRAL_CJK, " $& ");
  return text;
}
