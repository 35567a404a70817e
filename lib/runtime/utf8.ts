/**
 * Strict UTF-8 validation, for every reader that names the byte where a file stops being UTF-8.
 *
 * @example
 * ```ts
 * import { firstInvalidUtf8 } from "./utf8.ts";
 * console.log(firstInvalidUtf8(new Uint8Array([0x61, 0xc0, 0x80]))); // 1 (an overlong form)
 * ```
 * @module
 */

/**
 * Byte offset of the first byte of the first ill-formed UTF-8 sequence (Unicode §3.9 table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequences), or -1.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return i;
      const d = b[i + k];
      if (d < lo || d > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}
