import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { InputError } from "../runtime/errors.ts";
import { pool, type PoolerType } from "../simcse/pooling.ts";
import { readSafetensors } from "../checkpoint/safetensors.ts";
import {
  type ArrayFixture,
  assertClose,
  hashDropout,
  readFixture,
  TESTDATA,
} from "../../testing/fixtures.ts";
import { SimcseModel, type TrainBatch } from "../simcse/simcse_model.ts";
import { lossAndGrads } from "../train/loop.ts";
import { loadEncoder, saveEncoder } from "./registry.ts";
import { Gpt2Model } from "./gpt2.ts";
import { loadGpt2, normalizeGpt2Key } from "./gpt2_checkpoint.ts";
import { gpt2ConfigFromJson } from "./gpt2_config.ts";
import { skipBackend, TEST_BACKENDS } from "../../testing/backends.ts";

interface ForwardFixture {
  ids: number[][];
  input_ids: ArrayFixture;
  attention_mask: ArrayFixture;
  expected: {
    last_hidden_state: ArrayFixture;
    hidden_states: ArrayFixture[];
    pooled: Record<string, ArrayFixture>;
    alone: Record<string, ArrayFixture>;
    alone_padded_2x: Record<string, ArrayFixture>;
  };
}
interface StepFixture {
  input_ids: ArrayFixture;
  attention_mask: ArrayFixture;
  temp: number;
  poolers: Record<string, { loss: number; grads: Record<string, ArrayFixture> }>;
}

const FORMAT = "simcse-gpt2-fixture";
const fx = readFixture<ForwardFixture>("gpt2/forward.json", FORMAT);
const TOL = 1e-4;
const CHECKPOINTS = ["tiny-safetensors", "tiny-lmhead-torchbin"];
const POOLERS: PoolerType[] = ["avg", "wavg", "wavg_jittor"];
const EOT = 456; // <|endoftext|> of the tiny vocabulary

function batchInputs(ids: ArrayFixture, mask: ArrayFixture) {
  const [B, L] = ids.shape;
  return {
    inputIds: tf.tensor2d(ids.data, [B, L], "int32"),
    attentionMask: tf.tensor2d(mask.data, [B, L], "int32"),
  };
}

/** One sentence as a batch of one, right-padded with <|endoftext|> to `length`. */
function single(ids: number[], length = ids.length) {
  const padded = [...ids, ...new Array(length - ids.length).fill(EOT)];
  const mask = padded.map((_, i) => (i < ids.length ? 1 : 0));
  return {
    inputIds: tf.tensor2d([padded], [1, length], "int32"),
    attentionMask: tf.tensor2d([mask], [1, length], "int32"),
  };
}

function row(a: ArrayFixture, i: number): number[] {
  const H = a.shape[1];
  return a.data.slice(i * H, (i + 1) * H);
}

for (const backend of TEST_BACKENDS) {
  for (const dir of CHECKPOINTS) {
    Deno.test({
      name:
        `\`Gpt2Model.forward()\` on ${backend} matches PyTorch GPT2Model for ${dir} (hidden states, avg, wavg, wavg_jittor)`,
      ignore: skipBackend(backend),
      fn: async () => {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const { model } = await loadGpt2(`${TESTDATA}gpt2/${dir}`);
        const checks: [tf.Tensor, number[], string][] = [];
        tf.tidy(() => {
          const out = model.forward(batchInputs(fx.input_ids, fx.attention_mask));
          equal(out.hiddenStates.length, fx.expected.hidden_states.length);
          checks.push([out.lastHiddenState, fx.expected.last_hidden_state.data, "last_hidden_state"]);
          fx.expected.hidden_states.forEach((h, i) =>
            checks.push([out.hiddenStates[i], h.data, `hidden_states[${i}]`])
          );
          for (const p of POOLERS) checks.push([pool(p, out), fx.expected.pooled[p].data, p]);
          const lastOnly = model.forward(batchInputs(fx.input_ids, fx.attention_mask), {
            allHiddenStates: false,
          });
          equal(lastOnly.hiddenStates.length, 1, "allHiddenStates false: the last state only");
          checks.push([
            lastOnly.hiddenStates[0],
            fx.expected.last_hidden_state.data,
            "allHiddenStates false",
          ]);
          checks.forEach(([t]) => tf.keep(t));
        });
        const got = await Promise.all(checks.map(([t]) => t.data())); // async: webgpu reads no other way
        tf.dispose(checks.map(([t]) => t));
        checks.forEach(([, want, what], i) => assertClose(got[i], want, TOL, what, 1));
        model.dispose();
        equal(tf.memory().numTensors, before, "tensors leaked");
      },
    });
  }
}

Deno.test("`wavg` and `avg` give the same embedding for a sentence alone and inside a batch padded to twice its length; `wavg_jittor` does not", async () => {
  await useBackend("cpu");
  const { model } = await loadGpt2(`${TESTDATA}gpt2/tiny-safetensors`);
  fx.ids.forEach((ids, i) => {
    tf.tidy(() => {
      const alone = model.forward(single(ids));
      const padded = model.forward(single(ids, 2 * ids.length));
      for (const p of POOLERS) {
        const a = pool(p, alone).dataSync(), b = pool(p, padded).dataSync();
        // both against PyTorch
        assertClose(a, row(fx.expected.alone[p], i), TOL, `${p} alone, sentence ${i}`, 1);
        assertClose(b, row(fx.expected.alone_padded_2x[p], i), TOL, `${p} padded 2x, sentence ${i}`, 1);
        let maxDiff = 0;
        for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
        if (p === "wavg_jittor") ok(maxDiff > 1e-2, `wavg_jittor should depend on padding (diff ${maxDiff})`);
        else ok(maxDiff < 1e-5, `${p} depends on padding: max diff ${maxDiff}`);
      }
    });
  });
  model.dispose();
});

for (const backend of TEST_BACKENDS) {
  for (
    const [pooler, checkpointLayers] of [["avg", false], ["wavg", false], ["wavg", true]] as const
  ) {
    const how = checkpointLayers ? " with activation checkpointing" : "";
    Deno.test({
      name:
        `SimCSE on GPT-2 (${pooler}, no MLP head) on ${backend}${how}: loss and gradients match PyTorch within 1e-4`,
      ignore: skipBackend(backend),
      fn: async () => {
        await useBackend(backend);
        const step = readFixture<StepFixture>("gpt2/train_step.json", FORMAT);
        const { model } = await loadGpt2(`${TESTDATA}gpt2/tiny-safetensors`);
        const sm = new SimcseModel(model, {
          poolerType: pooler,
          mlpOnlyTrain: false,
          temp: step.temp,
          checkpointLayers,
        });
        const batch: TrainBatch = { ...batchInputs(step.input_ids, step.attention_mask), numSent: 2 };
        const vars = sm.namedVariables();
        deepEqual([...vars.keys()].sort(), [...model.params.keys()].sort()); // no head, every parameter trained
        const { loss, grads } = lossAndGrads(sm, vars, batch, () => hashDropout(), model.paddingIdx);
        const want = step.poolers[pooler];
        assertClose([(await loss.data())[0]], [want.loss], 1e-5, "loss");
        for (const [name, g] of Object.entries(want.grads)) {
          ok(grads.has(name), `no gradient for ${name}`);
          assertClose(await grads.get(name)!.data(), g.data, TOL, `grad ${name}`, 1);
        }
        tf.dispose([loss, ...grads.values(), batch.inputIds, batch.attentionMask]);
        sm.dispose();
      },
    });
  }
}

Deno.test("`loadGpt2()` reads GPT2LMHeadModel keys (transformer. prefix, attn buffers, tied lm_head) like GPT2Model keys", async () => {
  await useBackend("cpu");
  const a = (await loadGpt2(`${TESTDATA}gpt2/tiny-safetensors`)).model;
  const b = (await loadGpt2(`${TESTDATA}gpt2/tiny-lmhead-torchbin`)).model;
  deepEqual([...a.params.keys()], [...b.params.keys()]);
  for (const [n, v] of a.params) deepEqual(v.dataSync(), b.p(n).dataSync(), n);
  equal(normalizeGpt2Key("transformer.h.3.attn.c_attn.bias"), "h.3.attn.c_attn.bias");
  equal(normalizeGpt2Key("h.3.attn.bias"), null);
  equal(normalizeGpt2Key("transformer.h.3.attn.masked_bias"), null);
  equal(normalizeGpt2Key("lm_head.weight"), null);
  a.dispose();
  b.dispose();
});

Deno.test("`saveEncoder()` writes a GPT2Model folder that loads back to the same weights, ids and embeddings", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const { encoder, tokenizer } = await loadEncoder(`${TESTDATA}gpt2/tiny-lmhead-torchbin`);
  equal(encoder.kind, "gpt2");
  await saveEncoder(encoder, dir, { metadata: { simcse_pooler: "wavg" } });
  await tokenizer.saveTo(dir);
  const sd = await readSafetensors(`${dir}/model.safetensors`);
  deepEqual([...sd.keys()].sort(), [...encoder.params.keys()].sort()); // GPT2Model keys, no buffers
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  equal(cfg.model_type, "gpt2");
  equal(cfg.n_inner, 64);
  const back = await loadEncoder(dir);
  for (const [n, v] of encoder.params) deepEqual(v.dataSync(), back.encoder.p(n).dataSync(), n);
  deepEqual(back.tokenizer.encode("naïve café 😀"), fx.ids[3]);
  encoder.dispose();
  back.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`loadGpt2()` names the key of a missing tensor and of a shape mismatch", async () => {
  const dir = await Deno.makeTempDir();
  const src = `${TESTDATA}gpt2/tiny-safetensors`;
  for (const f of ["model.safetensors", "vocab.json", "merges.txt"]) {
    await Deno.copyFile(`${src}/${f}`, `${dir}/${f}`);
  }
  const cfg = JSON.parse(await Deno.readTextFile(`${src}/config.json`));
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...cfg, n_layer: cfg.n_layer + 1 }));
  await rejects(loadGpt2(dir), (e) => e instanceof InputError && /h\.2\.ln_1\.weight/.test(e.message));
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...cfg, n_inner: 65 }));
  await rejects(
    loadGpt2(dir),
    (e) => e instanceof InputError && /h\.0\.mlp\.c_fc\.weight/.test(e.message) && /shape/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`gpt2ConfigFromJson()` applies GPT-2's defaults and rejects what HF 4.2.1 GPT-2 cannot be", () => {
  const base = { model_type: "gpt2", vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12 };
  const c = gpt2ConfigFromJson(base, "config.json");
  equal(c.intermediateSize, 3072);
  equal(c.nInner, null);
  equal(c.maxPositionEmbeddings, 1024);
  equal(c.layerNormEps, 1e-5);
  equal(c.activationFunction, "gelu_new");
  deepEqual([c.residPdrop, c.embdPdrop, c.attnPdrop], [0.1, 0.1, 0.1]);
  equal(gpt2ConfigFromJson({ ...base, n_positions: 512, n_ctx: 256 }, "c").maxPositionEmbeddings, 256);
  const bad: [Record<string, unknown>, string][] = [
    [{ ...base, model_type: "bert" }, "model_type"],
    [{ ...base, n_head: 7 }, "n_head"],
    [{ ...base, activation_function: "swish" }, "activation_function"],
    [{ ...base, scale_attn_weights: false }, "scale_attn_weights"],
    [{ ...base, resid_pdrop: 1 }, "resid_pdrop"],
    [{ ...base, n_embd: undefined }, "n_embd"],
  ];
  for (const [json, key] of bad) {
    throws(
      () => gpt2ConfigFromJson(json, "config.json"),
      (e) => e instanceof InputError && e.message.includes(`[${key}]`),
    );
  }
});

Deno.test("`Gpt2Model.init()` follows HF init and `setDropout()` sets every pdrop", () => {
  const cfg = gpt2ConfigFromJson({
    model_type: "gpt2",
    vocab_size: 50,
    n_embd: 8,
    n_layer: 1,
    n_head: 2,
    n_positions: 8,
  }, "c");
  const m = Gpt2Model.init(cfg, 3);
  deepEqual(Array.from(m.p("h.0.ln_1.weight").dataSync()), new Array(8).fill(1));
  deepEqual(Array.from(m.p("ln_f.bias").dataSync()), new Array(8).fill(0));
  deepEqual(Array.from(m.p("h.0.mlp.c_fc.bias").dataSync()), new Array(32).fill(0));
  const w = Array.from(m.p("wte.weight").dataSync());
  const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  ok(std > 0.015 && std < 0.025, `wte std ${std}`);
  m.setDropout(0.2);
  deepEqual([cfg.residPdrop, cfg.embdPdrop, cfg.attnPdrop], [0.2, 0.2, 0.2]);
  equal(m.paddingIdx, null);
  equal(m.hasPooler, false);
  m.dispose();
});
