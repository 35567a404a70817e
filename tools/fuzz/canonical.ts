/**
 * Canonical SHA-256 summaries of parsed inputs: of a state dict, computed exactly as `reference/torch_fuzz_oracle.py`
 * computes it from what `torch.load` returns, so the fuzz suite can compare a loaded state dict
 * with PyTorch's without shipping the tensors across:
 *
 *     for each (key, tensor) in order: key (UTF-8), NUL, dtype name, NUL, shape joined by ",",
 *     NUL, the row-major little-endian element bytes
 *
 * @example
 * ```ts
 * import { stateDictHash } from "./canonical.ts";
 * const sd = new Map([["w", { dtype: "F32" as const, shape: [1], data: new Float32Array([1]) }]]);
 * console.log(stateDictHash(sd).length); // 64
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { bytesOf, type StateDict } from "../../lib/checkpoint/state_dict.ts";

const enc = new TextEncoder();

/** Hex SHA-256 of the canonical form of `sd`. */
export function stateDictHash(sd: StateDict): string {
  const h = createHash("sha256");
  for (const [key, t] of sd) {
    h.update(enc.encode(key));
    h.update(enc.encode(`\0${t.dtype}\0${t.shape.join(",")}\0`));
    h.update(bytesOf(t.data));
  }
  return h.digest("hex");
}

/**
 * Hex SHA-256 of rows of text fields (fields joined by U+001F, each row ended by U+001E, UTF-8), as
 * `reference/text_fuzz_oracle.py` computes it. Numbers go in as {@link float64Hex}.
 */
export function rowsHash(rows: readonly (readonly string[])[]): string {
  const h = createHash("sha256");
  for (const row of rows) h.update(enc.encode(row.join("\u001f") + "\u001e"));
  return h.digest("hex");
}

/** The 16 hex digits of a float64's little-endian bytes (Python: `struct.pack("<d", x).hex()`). */
export function float64Hex(x: number): string {
  const b = new Uint8Array(new Float64Array([x]).buffer);
  return Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
}
