/**
 * Hugging Face BERT checkpoint folders <-> `BertModel`. Reads `config.json` plus
 * `model.safetensors` or `pytorch_model.bin`; accepts keys with or without the `bert.` prefix and the
 * legacy TensorFlow LayerNorm names (`gamma`/`beta`); ignores known heads (MLM/NSP `cls.*`, SimCSE's
 * `mlp.*`, `lm_head.*`, task heads `classifier.*` / `qa_outputs.*`) and buffers (`position_ids`,
 * `token_type_ids`). A missing tensor, a shape mismatch, or any other tensor the config leaves unused
 * (such as a layer beyond `num_hidden_layers`) is an `InputError` naming the key.
 * Saving writes `model.safetensors` + `config.json` that `transformers.BertModel` loads.
 *
 * @example
 * ```ts
 * import { loadBert } from "./bert_checkpoint.ts";
 * const { model } = await loadBert("testdata/bert/tiny-safetensors");
 * console.log(model.config.hiddenSize);
 * model.dispose();
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { InputError } from "../runtime/errors.ts";
import { inputError } from "../runtime/printable.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import { loadStateDictFromFolder, readJsonConfig } from "../checkpoint/hf_folder.ts";
import { writeSafetensors } from "../checkpoint/safetensors.ts";
import { firstNonFinite, type StateDict, toFloat32 } from "../checkpoint/state_dict.ts";
import { bertParamShapes, isLinearKernel } from "./bert.ts";
import { BertModel } from "./bert.ts";
import { type BertConfig, bertConfigFromJson, bertConfigToJson } from "./bert_config.ts";

/** Map a checkpoint key to our `BertModel` name, or null when the key is not part of `BertModel`. */
export function normalizeBertKey(key: string): string | null {
  let k = key;
  if (k.startsWith("bert.")) k = k.slice(5);
  if (/^(cls|mlp|lm_head|classifier|qa_outputs)\./.test(k)) return null;
  if (k.endsWith("position_ids") || k === "embeddings.token_type_ids") return null;
  k = k.replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(/LayerNorm\.beta$/, "LayerNorm.bias");
  return k;
}

function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c];
  }
  return out;
}

/** Build `BertModel` variables from a state dict in HF layout. */
export function bertFromStateDict(config: BertConfig, sd: StateDict, file: string): BertModel {
  const byName = new Map<
    string,
    { key: string; tensor: StateDict extends Map<string, infer T> ? T : never }
  >();
  for (const [key, tensor] of sd) {
    const name = normalizeBertKey(key);
    if (name !== null) byName.set(name, { key, tensor });
  }
  const withPooler = byName.has("pooler.dense.weight");
  const shapes = bertParamShapes(config, withPooler);
  checkAllUsed(byName, new Set(shapes.keys()), /^encoder\.layer\.(\d+)\./, {
    file,
    configKey: "num_hidden_layers",
    layers: config.numHiddenLayers,
  });
  const params = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of shapes) {
      const entry = byName.get(name);
      if (!entry) {
        throw new InputError(
          `missing tensor (expected ${name} or bert.${name}, shape [${shapeHf(name, shape)}])`,
          {
            file,
            key: name,
          },
        );
      }
      const hfShape = shapeHf(name, shape);
      if (entry.tensor.shape.join(",") !== hfShape.join(",")) {
        throw new InputError(
          `shape [${entry.tensor.shape}] does not match the config, which implies [${hfShape}]`,
          { file, key: entry.key },
        );
      }
      let values = toFloat32(entry.tensor);
      checkFinite(values, entry.key, file);
      if (isLinearKernel(name)) values = transpose2d(values, hfShape[0], hfShape[1]);
      const t = tf.tensor(values, shape, "float32");
      params.set(name, tf.variable(t, true));
      t.dispose();
    }
  } catch (e) {
    for (const v of params.values()) v.dispose();
    throw e;
  }
  return new BertModel(config, params);
}

/**
 * Every tensor of the checkpoint must be a parameter of the configured model (or a key the caller's
 * normaliser already set aside as a known head or buffer): tensors of a layer beyond the config's
 * layer count, or of an unknown module, would otherwise be dropped silently and the model would not
 * be the one that was trained. Shared with the GPT-2 loader.
 */
export function checkAllUsed(
  byName: Map<string, { key: string }>,
  used: Set<string>,
  layerPattern: RegExp,
  where: { file: string; configKey: string; layers: number },
): void {
  let top = -1;
  const unused: string[] = [];
  for (const [name, { key }] of byName) {
    if (used.has(name)) continue;
    unused.push(key);
    const layer = layerPattern.exec(name);
    if (layer) top = Math.max(top, Number(layer[1]));
  }
  if (top >= where.layers) {
    throw inputError(
      `the checkpoint has ${top + 1} layers (tensors up to layer ${top}), config.json says ` +
        `${where.configKey} ${where.layers}: the two must agree`,
      { file: where.file, key: where.configKey },
    );
  }
  if (unused.length > 0) {
    throw inputError(
      `unexpected tensor${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ""}: not a parameter ` +
        `of the model config.json describes, nor a known head or buffer`,
      { file: where.file, key: unused[0] },
    );
  }
}

/** A weight that is NaN or infinite would make every embedding NaN: refuse it, naming the tensor. */
export function checkFinite(values: Float32Array, key: string, file: string): void {
  const i = firstNonFinite(values);
  if (i >= 0) {
    throw inputError(`value ${i} of ${values.length} is ${values[i]}: weights must be finite numbers`, {
      file,
      key,
    });
  }
}

/** HF shape of a parameter whose shape here is `shape` (Linear kernels are transposed). */
function shapeHf(name: string, shape: number[]): number[] {
  return isLinearKernel(name) ? [shape[1], shape[0]] : shape;
}

/** Load a BERT checkpoint folder. */
export async function loadBert(dir: string): Promise<{ model: BertModel; file: string }> {
  const configPath = `${dir}/config.json`;
  const config = bertConfigFromJson(await readJsonConfig(configPath), configPath);
  const { stateDict, file } = await loadStateDictFromFolder(dir);
  return { model: bertFromStateDict(config, stateDict, file), file };
}

/**
 * Our variables as an HF `BertModel` state dict (Linear weights back to [out, in]), read asynchronously
 * in one batch (GPU backends allow no synchronous reads).
 */
export async function bertToStateDict(
  model: BertModel,
  extra: Map<string, tf.Tensor> = new Map(),
): Promise<StateDict> {
  const sd: StateDict = new Map();
  const list = [...model.params, ...extra] as [string, tf.Tensor][];
  const read = await Promise.all(list.map(([, t]) => t.data())) as Float32Array[];
  const add = (name: string, t: tf.Tensor, i: number) => {
    let values = read[i];
    let shape = t.shape;
    if (isLinearKernel(name) && shape.length === 2) {
      values = transpose2d(values, shape[0], shape[1]);
      shape = [shape[1], shape[0]];
    }
    sd.set(name, { dtype: "F32", shape, data: Float32Array.from(values) });
  };
  list.forEach(([name, t], i) => add(name, t, i));
  const L = model.config.maxPositionEmbeddings;
  const pos = new BigInt64Array(L);
  for (let i = 0; i < L; i++) pos[i] = BigInt(i);
  sd.set("embeddings.position_ids", { dtype: "I64", shape: [1, L], data: pos });
  return sd;
}

/**
 * Save as a Hugging Face `BertModel` folder: `model.safetensors` + `config.json`. `extra` adds tensors
 * under HF names in our layout (e.g. `pooler.dense.*` from a trained MLP head).
 */
export async function saveBert(
  model: BertModel,
  dir: string,
  opts: { extra?: Map<string, tf.Tensor>; metadata?: Record<string, string> } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(`${dir}/model.safetensors`, await bertToStateDict(model, opts.extra), {
    format: "pt",
    ...opts.metadata,
  });
  await writeFileAtomic(`${dir}/config.json`, JSON.stringify(bertConfigToJson(model.config), null, 2) + "\n");
}
