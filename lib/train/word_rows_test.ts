import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { useBackend } from "../kernels/backend.ts";
import { loadBert } from "../model/bert_checkpoint.ts";
import { loadGpt2 } from "../model/gpt2_checkpoint.ts";
import { hashDropout, TESTDATA } from "../../testing/fixtures.ts";
import { SimcseModel } from "../simcse/simcse_model.ts";
import type { Precision } from "../ops/precision.ts";
import { AdamW } from "./adamw.ts";
import { LossScaler } from "./loss_scaler.ts";
import { trainStep } from "./loop.ts";

/** Three steps of a tiny model; the weights after them, and each step's loss, norm and skip flag. */
async function run(kind: "bert" | "gpt2", precision: Precision, wordRows: boolean) {
  const { model } = kind === "bert"
    ? await loadBert(`${TESTDATA}bert/tiny-safetensors`)
    : await loadGpt2(`${TESTDATA}gpt2/tiny-safetensors`);
  const sm = new SimcseModel(model, { poolerType: "avg", mlpOnlyTrain: false, temp: 0.05, precision });
  const vars = sm.namedVariables();
  const opt = new AdamW({ weightDecay: 0.01 });
  const scaler = precision === "fp16" ? new LossScaler({ initScale: 2 ** 10 }) : undefined;
  const rows = 8, seqLen = 9, V = model.config.vocabSize;
  const logs: number[][] = [];
  for (let s = 0; s < 3; s++) {
    // Repeated ids (within and across rows), the pad id 0 in padded tails, a different batch each step.
    const ids = Int32Array.from(
      { length: rows * seqLen },
      (_, i) => i % seqLen > 6 ? 0 : 1 + (i * 7 + s * 13) % 23,
    );
    // The last position is masked; the one before is an unmasked pad, whose row the gradient must skip.
    const mask = Int32Array.from(ids, (_, i) => i % seqLen === seqLen - 1 ? 0 : 1);
    const r = await trainStep(
      sm,
      vars,
      opt,
      {
        inputIds: ids,
        attentionMask: mask,
        tokenTypeIds: new Int32Array(ids.length),
        rows,
        seqLen,
        numSent: 2,
        batchSize: rows / 2,
      },
      undefined,
      {
        lr: 1e-2,
        maxGradNorm: 0.5,
        dropoutAt: (off) => hashDropout(off),
        padId: kind === "bert" ? 0 : null,
        scaler,
        skipNonFinite: precision === "bf16",
        wordRows,
      },
    );
    ok(!r.skipped);
    logs.push([r.lossValue, r.norm]);
  }
  ok(V > 23);
  const weights = new Map([...vars].map(([n, v]) => [n, Float32Array.from(v.dataSync() as Float32Array)]));
  sm.dispose();
  return { weights, logs };
}

for (const kind of ["bert", "gpt2"] as const) {
  for (const precision of ["fp32", "bf16", "fp16"] as const) {
    Deno.test(`${kind} ${precision} on cpu: three steps with the word embeddings' gradient as rows give the dense steps' weights bit for bit`, async () => {
      await useBackend("cpu");
      const dense = await run(kind, precision, false);
      const rows = await run(kind, precision, true);
      for (const [n, w] of dense.weights) deepStrictEqual(rows.weights.get(n), w, n);
      rows.logs.forEach(([loss, norm], s) => {
        strictEqual(loss, dense.logs[s][0], `loss, step ${s}`);
        // The same double sum of squares, grouped alike by the C loop's vector lanes only when the
        // hidden size is a multiple of their count (it is 32 here): equal to 1e-15.
        ok(
          Math.abs(norm - dense.logs[s][1]) <= 1e-15 * norm,
          `norm, step ${s}: ${norm} vs ${dense.logs[s][1]}`,
        );
      });
    });
  }
}
