import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { loadBert } from "./bert_checkpoint.ts";
import { pool, type PoolerType } from "../simcse/pooling.ts";
import { type ArrayFixture, assertClose, readFixture, TESTDATA } from "../../testing/fixtures.ts";
import { InputError } from "../runtime/errors.ts";
import { rejects } from "node:assert/strict";
import { skipBackend, TEST_BACKENDS } from "../../testing/backends.ts";

interface ForwardFixture {
  input_ids: ArrayFixture;
  attention_mask: ArrayFixture;
  token_type_ids: ArrayFixture;
  ids: number[][];
  expected: Record<"fp32" | "fp16", {
    last_hidden_state: ArrayFixture;
    hidden_states?: ArrayFixture[];
    pooler_output: ArrayFixture;
    pooled: Record<string, ArrayFixture>;
    cos_cls_before_pooler: ArrayFixture;
    single: Record<string, ArrayFixture>;
  }>;
}

const fx = readFixture<ForwardFixture>("bert/forward.json");
const TOL = 1e-4;
const CHECKPOINTS: [string, "fp32" | "fp16"][] = [
  ["tiny-safetensors", "fp32"],
  ["tiny-torchbin-pretraining", "fp32"],
  ["tiny-fp16-torchbin", "fp16"],
];
const POOLERS: PoolerType[] = ["cls", "cls_before_pooler", "avg", "avg_top2", "avg_first_last"];

function inputs(f: ForwardFixture) {
  const [B, L] = f.input_ids.shape;
  return {
    inputIds: tf.tensor2d(f.input_ids.data, [B, L], "int32"),
    attentionMask: tf.tensor2d(f.attention_mask.data, [B, L], "int32"),
    tokenTypeIds: tf.tensor2d(f.token_type_ids.data, [B, L], "int32"),
  };
}

for (const backend of TEST_BACKENDS) {
  for (const [dir, kind] of CHECKPOINTS) {
    Deno.test({
      name:
        `\`BertModel.forward()\` on ${backend} matches PyTorch for ${dir} (hidden states, pooler, SimCSE poolers)`,
      ignore: skipBackend(backend),
      fn: async () => {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const { model } = await loadBert(`${TESTDATA}bert/${dir}`);
        const exp = fx.expected[kind];
        // Compute everything first, then read asynchronously (webgpu has no synchronous reads).
        const checks: [tf.Tensor, number[], string][] = [];
        tf.tidy(() => {
          const out = model.forward(inputs(fx));
          checks.push([out.lastHiddenState, exp.last_hidden_state.data, "last_hidden_state"]);
          // (the fp16 fixture stores the final outputs only)
          exp.hidden_states?.forEach((h, i) =>
            checks.push([out.hiddenStates[i], h.data, `hidden_states[${i}]`])
          );
          checks.push([out.pooledOutput!, exp.pooler_output.data, "pooler_output"]);
          for (const p of POOLERS) checks.push([pool(p, out), exp.pooled[p].data, `pooler ${p}`]);
          // [CLS] pooling at evaluation: the last layer runs for position 0 only, same values.
          const first = model.forward(inputs(fx), { firstTokenOnly: true });
          const [B, , H] = out.lastHiddenState.shape;
          if (first.lastHiddenState.shape.join() !== [B, 1, H].join()) {
            throw new Error(
              `firstTokenOnly: lastHiddenState is [${first.lastHiddenState.shape}], not [${B}, 1, ${H}]`,
            );
          }
          for (const p of ["cls", "cls_before_pooler"] as const) {
            checks.push([pool(p, first), exp.pooled[p].data, `firstTokenOnly pooler ${p}`]);
          }
          // Without the layers' outputs: the last one only, same values.
          const lastOnly = model.forward(inputs(fx), { allHiddenStates: false });
          if (lastOnly.hiddenStates.length !== 1) {
            throw new Error(`allHiddenStates false: ${lastOnly.hiddenStates.length} hidden states, not 1`);
          }
          checks.push([lastOnly.hiddenStates[0], exp.last_hidden_state.data, "allHiddenStates false"]);
          for (const p of ["cls", "avg"] as const) {
            checks.push([pool(p, lastOnly), exp.pooled[p].data, `allHiddenStates false pooler ${p}`]);
          }
          checks.forEach(([t]) => tf.keep(t));
        });
        const got = await Promise.all(checks.map(([t]) => t.data()));
        tf.dispose(checks.map(([t]) => t));
        checks.forEach(([, want, what], i) => assertClose(got[i], want, TOL, what));
        model.dispose();
        if (tf.memory().numTensors !== before) {
          throw new Error(`leaked ${tf.memory().numTensors - before} tensors`);
        }
      },
    });
  }
}

Deno.test("`avg` and `cls_before_pooler` do not depend on padding (each sentence alone = in the padded batch)", async () => {
  await useBackend("cpu");
  const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
  const H = fx.expected.fp32.single.avg.shape[1];
  fx.ids.forEach((ids, i) => {
    tf.tidy(() => {
      const out = model.forward({
        inputIds: tf.tensor2d([ids], [1, ids.length], "int32"),
        attentionMask: tf.ones([1, ids.length], "int32") as tf.Tensor2D,
      });
      for (const p of ["avg", "cls_before_pooler"] as const) {
        const want = fx.expected.fp32.single[p].data.slice(i * H, (i + 1) * H);
        assertClose(pool(p, out).dataSync(), want, TOL, `${p} sentence ${i}`);
      }
    });
  });
  model.dispose();
});

Deno.test("`loadBert()` names the key of a missing tensor and of a shape mismatch", async () => {
  const dir = await Deno.makeTempDir();
  const src = `${TESTDATA}bert/tiny-safetensors`;
  for (const f of ["model.safetensors", "vocab.txt"]) await Deno.copyFile(`${src}/${f}`, `${dir}/${f}`);
  const cfg = JSON.parse(await Deno.readTextFile(`${src}/config.json`));
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ ...cfg, num_hidden_layers: cfg.num_hidden_layers + 1 }),
  );
  await rejects(
    loadBert(dir),
    (e: Error) =>
      e instanceof InputError && /encoder\.layer\.3\.attention\.self\.query\.weight/.test(e.message),
  );
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...cfg, intermediate_size: 65 }));
  await rejects(
    loadBert(dir),
    (e: Error) =>
      e instanceof InputError && /intermediate\.dense\.weight/.test(e.message) && /shape/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
