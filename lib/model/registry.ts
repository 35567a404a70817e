/**
 * Loading and saving encoders by architecture: `config.json`'s `model_type` picks the entry
 * (`bert`, `gpt2`). One map, so adding an architecture touches one line here.
 *
 * @example
 * ```ts
 * import { loadEncoder } from "./registry.ts";
 * const { encoder, tokenizer } = await loadEncoder("testdata/bert/tiny-safetensors");
 * console.log(encoder.kind, tokenizer.info.padId);
 * encoder.dispose();
 * ```
 * @module
 */
import type { tf } from "../runtime/tf.ts";
import { InputError } from "../runtime/errors.ts";
import { inputError } from "../runtime/printable.ts";
import { readJsonConfig } from "../checkpoint/hf_folder.ts";
import { BertTokenizer } from "../tokenizer/bert_tokenizer.ts";
import { BertModel } from "./bert.ts";
import { loadBert, saveBert } from "./bert_checkpoint.ts";
import { Gpt2Tokenizer } from "../tokenizer/gpt2_tokenizer.ts";
import type { Gpt2Model } from "./gpt2.ts";
import { loadGpt2, saveGpt2 } from "./gpt2_checkpoint.ts";
import type { Encoder, TextTokenizer } from "./encoder.ts";

export interface SaveOptions {
  /** Extra tensors under HF names in our layout (e.g. `pooler.dense.*` from a trained MLP head). */
  extra?: Map<string, tf.Tensor>;
  metadata?: Record<string, string>;
}

export interface Architecture {
  load(dir: string): Promise<{ encoder: Encoder; tokenizer: TextTokenizer }>;
  /** Write an HF checkpoint folder (weights + config; tokenizer files are saved separately). */
  save(encoder: Encoder, dir: string, opts: SaveOptions): Promise<void>;
}

export const ARCHITECTURES: Record<string, Architecture> = {
  bert: {
    async load(dir) {
      const tokenizer = await BertTokenizer.fromFolder(dir);
      const { model } = await loadBert(dir);
      checkTokenIds(tokenizer, model, dir);
      return { encoder: model, tokenizer };
    },
    async save(encoder, dir, opts) {
      const bert = encoder as BertModel;
      // SimCSE trains BERT without its pooler: never write back the untrained pretrained pooler.
      await saveBert(new BertModel(bert.config, bert.trainableParams()), dir, opts);
    },
  },
  gpt2: {
    async load(dir) {
      const tokenizer = await Gpt2Tokenizer.fromFolder(dir);
      const { model } = await loadGpt2(dir);
      checkTokenIds(tokenizer, model, dir);
      return { encoder: model, tokenizer };
    },
    async save(encoder, dir, opts) {
      await saveGpt2(encoder as Gpt2Model, dir, opts);
    },
  },
};

/**
 * Every token id must index a row of the embedding matrix (`vocab_size` rows): a tokenizer whose
 * highest id is beyond it would fail deep inside the embedding lookup at encode time.
 */
function checkTokenIds(tokenizer: TextTokenizer, model: Encoder, dir: string): void {
  const vocabSize = model.config.vocabSize;
  const { token, id } = tokenizer.topToken;
  if (id >= vocabSize) {
    model.dispose();
    throw inputError(
      `token ${JSON.stringify(token)} has id ${id}, beyond the model's vocab_size ${vocabSize} ` +
        `(${dir.replace(/\/+$/, "")}/config.json: ids 0..${vocabSize - 1})`,
      { file: tokenizer.vocabFile },
    );
  }
}

/** The `model_type` of a checkpoint folder (BERT when the field is absent, as in old configs). */
export async function modelType(dir: string): Promise<string> {
  const path = `${dir}/config.json`;
  const t = (await readJsonConfig(path)).model_type ?? "bert";
  if (typeof t !== "string" || !(t in ARCHITECTURES)) {
    throw new InputError(
      `unsupported model_type ${JSON.stringify(t)}; supported: ${Object.keys(ARCHITECTURES).join(", ")}`,
      {
        file: path,
        key: "model_type",
      },
    );
  }
  return t;
}

/** Load any supported checkpoint folder with its tokenizer. */
export async function loadEncoder(dir: string): Promise<{ encoder: Encoder; tokenizer: TextTokenizer }> {
  return await ARCHITECTURES[await modelType(dir)].load(dir);
}

/** Save an encoder as a Hugging Face folder of its architecture. */
export async function saveEncoder(encoder: Encoder, dir: string, opts: SaveOptions = {}): Promise<void> {
  const arch = ARCHITECTURES[encoder.kind];
  if (!arch) throw new Error(`no saver for architecture ${encoder.kind}`);
  await arch.save(encoder, dir, opts);
}
