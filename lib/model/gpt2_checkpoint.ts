/**
 * Hugging Face GPT-2 checkpoint folders <-> `Gpt2Model`. Reads `config.json` plus
 * `model.safetensors` or `pytorch_model.bin` (sharded too); accepts `GPT2Model` keys and
 * `GPT2LMHeadModel` keys (`transformer.` prefix); ignores the legacy attention buffers
 * (`h.N.attn.bias`, `h.N.attn.masked_bias`) and the heads `lm_head.*` / `multiple_choice_head.*`.
 * Conv1D weights are stored [in, out] in HF checkpoints, as here, so nothing is transposed. A missing
 * tensor, a shape mismatch, or any other tensor the config leaves unused (such as a layer beyond
 * `n_layer`) is an `InputError` naming the key. Saving writes `model.safetensors` (GPT2Model keys, parameters only:
 * the causal-mask buffers are constants that transformers rebuilds) + `config.json`.
 *
 * @example
 * ```ts
 * import { loadGpt2 } from "./gpt2_checkpoint.ts";
 * const { model } = await loadGpt2("testdata/gpt2/tiny-safetensors");
 * console.log(model.config.hiddenSize);
 * model.dispose();
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { InputError } from "../runtime/errors.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import { loadStateDictFromFolder, readJsonConfig } from "../checkpoint/hf_folder.ts";
import { writeSafetensors } from "../checkpoint/safetensors.ts";
import { type StateDict, toFloat32 } from "../checkpoint/state_dict.ts";
import { Gpt2Model, gpt2ParamShapes } from "./gpt2.ts";
import { checkAllUsed, checkFinite } from "./bert_checkpoint.ts";
import { type Gpt2Config, gpt2ConfigFromJson, gpt2ConfigToJson } from "./gpt2_config.ts";

/** Map a checkpoint key to our `Gpt2Model` name, or null when the key is not a `GPT2Model` parameter. */
export function normalizeGpt2Key(key: string): string | null {
  let k = key;
  if (k.startsWith("transformer.")) k = k.slice("transformer.".length);
  if (k.startsWith("lm_head.") || k.startsWith("multiple_choice_head.")) return null;
  if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(k)) return null; // causal-mask buffers
  return k;
}

/** Build `Gpt2Model` variables from a state dict in HF layout. */
export function gpt2FromStateDict(config: Gpt2Config, sd: StateDict, file: string): Gpt2Model {
  const byName = new Map<
    string,
    { key: string; tensor: StateDict extends Map<string, infer T> ? T : never }
  >();
  for (const [key, tensor] of sd) {
    const name = normalizeGpt2Key(key);
    if (name !== null) byName.set(name, { key, tensor });
  }
  const shapes = gpt2ParamShapes(config);
  checkAllUsed(byName, new Set(shapes.keys()), /^h\.(\d+)\./, {
    file,
    configKey: "n_layer",
    layers: config.numHiddenLayers,
  });
  const params = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of shapes) {
      const entry = byName.get(name);
      if (!entry) {
        throw new InputError(`missing tensor (expected ${name} or transformer.${name}, shape [${shape}])`, {
          file,
          key: name,
        });
      }
      if (entry.tensor.shape.join(",") !== shape.join(",")) {
        throw new InputError(
          `shape [${entry.tensor.shape}] does not match the config, which implies [${shape}]`,
          { file, key: entry.key },
        );
      }
      const values = toFloat32(entry.tensor);
      checkFinite(values, entry.key, file);
      const t = tf.tensor(values, shape, "float32");
      params.set(name, tf.variable(t, true));
      t.dispose();
    }
  } catch (e) {
    for (const v of params.values()) v.dispose();
    throw e;
  }
  return new Gpt2Model(config, params);
}

/** Load a GPT-2 checkpoint folder. */
export async function loadGpt2(dir: string): Promise<{ model: Gpt2Model; file: string }> {
  const configPath = `${dir}/config.json`;
  const config = gpt2ConfigFromJson(await readJsonConfig(configPath), configPath);
  const { stateDict, file } = await loadStateDictFromFolder(dir);
  return { model: gpt2FromStateDict(config, stateDict, file), file };
}

/** Our variables (plus `extra` tensors) as an HF `GPT2Model` state dict, read asynchronously in one batch. */
export async function gpt2ToStateDict(
  model: Gpt2Model,
  extra: Map<string, tf.Tensor> = new Map(),
): Promise<StateDict> {
  const sd: StateDict = new Map();
  const list = [...model.params, ...extra] as [string, tf.Tensor][];
  const read = await Promise.all(list.map(([, t]) => t.data())) as Float32Array[];
  list.forEach(([name, t], i) =>
    sd.set(name, { dtype: "F32", shape: [...t.shape], data: Float32Array.from(read[i]) })
  );
  return sd;
}

/** Save as a Hugging Face `GPT2Model` folder: `model.safetensors` + `config.json`. */
export async function saveGpt2(
  model: Gpt2Model,
  dir: string,
  opts: { extra?: Map<string, tf.Tensor>; metadata?: Record<string, string> } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(`${dir}/model.safetensors`, await gpt2ToStateDict(model, opts.extra), {
    format: "pt",
    ...opts.metadata,
  });
  await writeFileAtomic(`${dir}/config.json`, JSON.stringify(gpt2ConfigToJson(model.config), null, 2) + "\n");
}
