import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { loadBert } from "./bert_checkpoint.ts";
import { BertModel } from "./bert.ts";
import { bertConfigFromJson } from "./bert_config.ts";
import { seededDropout } from "../ops/dropout.ts";
import {
  type ArrayFixture,
  assertClose,
  hashDropout,
  readFixture,
  TESTDATA,
} from "../../testing/fixtures.ts";

interface ForwardFixture {
  input_ids: ArrayFixture;
  attention_mask: ArrayFixture;
  token_type_ids: ArrayFixture;
  expected: Record<"fp32", { last_hidden_state: ArrayFixture }>;
}

function inputs(f: ForwardFixture) {
  const [B, L] = f.input_ids.shape;
  return {
    inputIds: tf.tensor2d(f.input_ids.data, [B, L], "int32"),
    attentionMask: tf.tensor2d(f.attention_mask.data, [B, L], "int32"),
    tokenTypeIds: tf.tensor2d(f.token_type_ids.data, [B, L], "int32"),
  };
}

Deno.test("`forward()` precision defaults to fp32; in fp16 the forward pass stays within fp16 error of PyTorch's fp32 BERT", async () => {
  await useBackend("wasm");
  const fx = readFixture<ForwardFixture>("bert/forward.json");
  const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
  tf.tidy(() => {
    const byDefault = model.forward(inputs(fx)).lastHiddenState.dataSync();
    strictEqual(
      byDefault.join(),
      model.forward(inputs(fx), { precision: "fp32" }).lastHiddenState.dataSync().join(),
      "the default is fp32",
    );
    const out = model.forward(inputs(fx), { precision: "fp16" });
    const want = fx.expected.fp32.last_hidden_state.data;
    const err = assertClose(out.lastHiddenState.dataSync(), want, 3e-2, "fp16 last_hidden_state", 1);
    ok(err > 1e-5, `fp16 rounding is really applied (max rel diff ${err})`);
  });
  model.dispose();
});

// Tolerances: relative to the larger of |value| and the tensor's max |value| (assertClose, floor 1); bf16
// keeps 8 significant bits, fp16 11 (the loss, a random-signed sum, is 6.2% off in bf16). Seen here on wasm:
// worst 0.004 (fp16) and 0.027 (bf16), with LayerNorm's x̂ and the softmax output saved at 16 bits (0.0040
// and 0.026 with them in float32).
// On cpu the half Linears after a LayerNorm form their weight gradient from the LayerNorm's x̂ codes
// (γ·(x̂ᵀg) + β·Σg); on wasm from a 16-bit copy of their input.
for (const backend of ["wasm", "cpu"] as const) {
  for (const [precision, tol, lossTol] of [["fp16", 3e-2, 2e-2], ["bf16", 8e-2, 1.2e-1]] as const) {
    Deno.test(`${precision} BERT gradients on ${backend} agree with fp32 BERT gradients within ${precision} tolerance (same weights, same dropout masks)`, async () => {
      await useBackend(backend);
      const fx = readFixture<ForwardFixture>("bert/forward.json");
      const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
      const vars = [...model.trainableParams().entries()];
      const grads = (p: "fp32" | "fp16" | "bf16") => {
        return tf.tidy(() => {
          const x = inputs(fx);
          const { value, grads } = tf.variableGrads(() => {
            const out = model.forward(x, { training: true, dropout: hashDropout(), precision: p });
            const w = tf.randomNormal(out.lastHiddenState.shape, 0, 1, "float32", 7);
            return tf.sum(tf.mul(out.lastHiddenState, w)) as tf.Scalar;
          }, vars.map(([, v]) => v));
          return [value, ...vars.map(([, v]) => grads[v.name])];
        });
      };
      const g32 = grads("fp32"), g16 = grads(precision);
      assertClose(g16[0].dataSync(), g32[0].dataSync(), lossTol, "loss"); // Σ h·w: a sum with cancellation
      const maxAbs = (t: tf.Tensor) => Math.max(...Array.from(t.dataSync()).map(Math.abs));
      vars.forEach(([name], i) => {
        if (name.endsWith("attention.self.key.bias")) {
          // Mathematically zero (softmax ignores a per-row constant); rounding leaves small noise.
          const q = vars.findIndex(([n]) => n === name.replace(".key.", ".query."));
          const ratio = maxAbs(g16[i + 1]) / maxAbs(g32[q + 1]);
          ok(ratio < tol * 5 / 3, `${name}: |grad| is ${ratio.toFixed(4)} of the query bias gradient`);
          return;
        }
        assertClose(g16[i + 1].dataSync(), g32[i + 1].dataSync(), tol, name, 1);
      });
      tf.dispose([...g32, ...g16]);
      model.dispose();
    });
  }
}

/** A randomly initialised BERT (L2/H64, 2 heads, FFN 256) and a full batch of 16 × 32 token ids for a training step. */
function tinyTrainingSetup() {
  const [B, L, H] = [16, 32, 64];
  const cfg = bertConfigFromJson({
    vocab_size: 100,
    hidden_size: H,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 256,
    max_position_embeddings: 32,
  }, "test");
  const model = BertModel.init(cfg, 3, false);
  const ids = tf.tensor2d(Array.from({ length: B * L }, (_, i) => (i * 37) % 100), [B, L], "int32");
  const mask = tf.ones([B, L], "int32") as tf.Tensor2D;
  return { model, ids, mask, vars: [...model.params.values()], B, L, H };
}

Deno.test("fp16 keeps the tensors saved for the backward pass at 16 bits: peak memory of a training step drops by a third or more", async () => {
  await useBackend("wasm");
  const { model, ids, mask, vars } = tinyTrainingSetup();
  const peak = async (precision: "fp32" | "fp16") => {
    const start = tf.memory().numBytes;
    const prof = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => {
        const out = model.forward({ inputIds: ids, attentionMask: mask }, {
          training: true,
          dropout: hashDropout(),
          precision,
        });
        return tf.mean(tf.square(out.lastHiddenState)) as tf.Scalar;
      }, vars);
      tf.dispose([value, ...Object.values(grads)]);
    });
    strictEqual(tf.memory().numBytes, start, `${precision}: no leaked bytes`);
    return prof.peakBytes - start;
  };
  const p32 = await peak("fp32"), p16 = await peak("fp16");
  ok(p16 < (2 / 3) * p32, `fp16 peak ${p16} B vs fp32 ${p32} B (ratio ${(p16 / p32).toFixed(3)})`);
  tf.dispose([ids, mask]);
  model.dispose();
});

for (const precision of ["fp16", "bf16"] as const) {
  Deno.test(`in ${precision}, \`firstTokenOnly\` gives [CLS]'s last hidden state within ${precision} error of PyTorch's fp32 BERT, as the full ${precision} forward pass does`, async () => {
    await useBackend("cpu"); // the gemm-kernel path of both formats
    const fx = readFixture<ForwardFixture>("bert/forward.json");
    const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
    const [B, L] = fx.input_ids.shape, want = fx.expected.fp32.last_hidden_state.data;
    const H = want.length / (B * L);
    const clsRows = (x: ArrayLike<number>, stride: number) =>
      Float32Array.from({ length: B * H }, (_, i) => x[Math.floor(i / H) * stride * H + (i % H)]);
    const tol = precision === "fp16" ? 3e-2 : 2e-1; // bf16 keeps 8 significant bits, fp16 11
    tf.tidy(() => {
      const first = model.forward(inputs(fx), { firstTokenOnly: true, precision }).lastHiddenState;
      strictEqual(first.shape.join(), [B, 1, H].join());
      const full = model.forward(inputs(fx), { precision }).lastHiddenState.dataSync();
      const wantCls = clsRows(want, L);
      const errFirst = assertClose(first.dataSync(), wantCls, tol, `${precision} firstTokenOnly [CLS]`, 1);
      const errFull = assertClose(clsRows(full, L), wantCls, tol, `${precision} full [CLS]`, 1);
      ok(errFirst > 1e-5, `${precision} rounding is really applied (max rel diff ${errFirst})`);
      ok(
        errFirst <= 2 * errFull + 1e-3,
        `firstTokenOnly (${errFirst}) is as close as the full pass (${errFull})`,
      );
      // And it reproduces the full pass's roundings: [CLS] agrees with it to well within one unit in
      // the last place of the format (summation order may differ; a skipped rounding shows).
      const a = first.dataSync(), b = clsRows(full, L);
      const maxAbs = Math.max(...Array.from(b, Math.abs)), ulp = precision === "fp16" ? 2 ** -10 : 2 ** -7;
      const gap = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
      ok(
        gap <= (ulp / 4) * maxAbs,
        `firstTokenOnly vs the full ${precision} pass: ${gap} (max |x| ${maxAbs})`,
      );
    });
    model.dispose();
  });
}

// A half-precision training forward passes its float32 intermediates on as soon as the ops that read
// them are done: the half ops keep 16-bit codes of what their gradients need, the dropout keeps only its
// seed and the sums feed LayerNorms that keep x̂. So once the forward pass returns, the one float32
// tensor of [B·L, H] or more made in it that is still alive is its output. (The embedding LayerNorm's
// float32 output, read only by a dropout, stayed alive until the whole step ended.)
for (const precision of ["fp16", "bf16"] as const) {
  Deno.test(`a ${precision} training forward leaves no float32 intermediate alive, only its output`, async () => {
    await useBackend("cpu");
    const { model, ids, mask, vars, B, L, H } = tinyTrainingSetup();
    const engine = tf.engine() as unknown as { trackTensor: (t: tf.Tensor, b: unknown) => unknown };
    const made: tf.Tensor[] = [];
    const track = engine.trackTensor;
    let big: string[] = [];
    const { value, grads } = tf.variableGrads(() => {
      engine.trackTensor = (t, b) => (made.push(t), track.call(engine, t, b));
      let out: tf.Tensor;
      try {
        out = model.forward({ inputIds: ids, attentionMask: mask }, {
          training: true,
          dropout: seededDropout(1, 0, 0),
          precision,
          allHiddenStates: false,
        }).lastHiddenState;
      } finally {
        engine.trackTensor = track;
      }
      const ids0 = new Set<unknown>();
      big = made.filter((t) => {
        const fresh = !t.isDisposed && t.dtype === "float32" && t.size >= B * L * H && !ids0.has(t.dataId);
        ids0.add(t.dataId);
        return fresh && t.dataId !== out.dataId;
      }).map((t) => `[${t.shape}]`);
      return tf.mean(tf.square(out)) as tf.Scalar;
    }, vars);
    tf.dispose([value, ...Object.values(grads)]);
    strictEqual(
      big.join(" "),
      "",
      `${precision}: float32 tensors alive after the forward pass besides its output`,
    );
    tf.dispose([ids, mask]);
    model.dispose();
  });
}
