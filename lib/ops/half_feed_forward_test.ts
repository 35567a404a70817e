import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { assertWithinBf16Ulps, bf16Fixture } from "../../testing/bf16_assert.ts";
import {
  loadOneDnn,
  oneDnnUnavailableReason,
  setGemmBlasDisabled,
  setOneDnnEnabled,
} from "../kernels/onednn.ts";
import { loadNativeKernels, nativeKernelsUnavailableReason } from "../kernels/native_kernels.ts";
import { cpuPoolStats, drainCpuPool } from "../kernels/cpu_pool.ts";
import { bf16Round } from "./bf16.ts";
import { BF16, F16 } from "./bf16_ops.ts";
import { fusedLayerNorm } from "./fused.ts";
import { halfOps } from "./precision.ts";
import { halfFeedForward, setFeedForwardPieceElements } from "./half_feed_forward.ts";
import type { AnyActivation } from "./fused.ts";

const fx = bf16Fixture();
const t = (a: { shape: number[]; data: number[] }) => tf.tensor(a.data, a.shape, "float32");

/** Matmul engines: oneDNN (when present), OpenBLAS on rounded copies, JS loops. */
const ENGINES = ["onednn", "openblas", "js"] as const;
function useEngine(e: (typeof ENGINES)[number]): void {
  setOneDnnEnabled(e === "onednn");
  setGemmBlasDisabled(e === "js");
}

/** The bf16 block with `act`, as a function of its five inputs (for `tf.grads`). */
function bf16Block(act: AnyActivation) {
  return (x: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) =>
    halfFeedForward(
      BF16,
      x as tf.Tensor2D,
      w1 as tf.Tensor2D,
      b1 as tf.Tensor1D,
      act,
      w2 as tf.Tensor2D,
      b2 as tf.Tensor1D,
    );
}

/** Every value is exactly a bf16 value, and within bf16 ulps of the reference. */
function assertBf16Values(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  for (let i = 0; i < actual.length; i++) {
    if (bf16Round(actual[i]) !== actual[i]) {
      throw new Error(`${what}[${i}] = ${actual[i]} is not a bf16 value`);
    }
  }
  assertWithinBf16Ulps(actual, expected, what);
}

// The fixture's hidden layer is [11, 32]: pieces of 64 elements are 2 rows, the last one 1 row; the
// default pieces take it whole.
for (const pieces of [64, undefined]) {
  for (const backend of ["cpu", "wasm"] as const) {
    for (const engine of ENGINES) {
      Deno.test(`\`halfFeedForward()\` in bf16 on ${backend} (${engine} matmuls, ${pieces ? `pieces of ${pieces} hidden elements` : "one piece"}) matches PyTorch's bf16 Linear → act → Linear, values and gradients`, async () => {
        await useBackend(backend);
        useEngine(engine);
        setFeedForwardPieceElements(pieces);
        try {
          for (const c of fx.feedForward) {
            const before = tf.memory().numTensors;
            tf.tidy(() => {
              const f = bf16Block(c.activation);
              const inputs = [t(c.x), t(c.w1), t(c.b1), t(c.w2), t(c.b2)];
              assertBf16Values(
                f(...inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]).dataSync(),
                c.y.data,
                `${c.activation} y (untaped)`,
              );
              const { value, grads } = tf.valueAndGrads(f)(inputs, t(c.dy) as tf.Tensor2D);
              assertBf16Values(value.dataSync(), c.y.data, `${c.activation} y`);
              assertBf16Values(grads[0].dataSync(), c.dx.data, `${c.activation} dx`);
              const names = ["dW1", "db1", "dW2", "db2"];
              for (const [i, want] of [c.dw1, c.db1, c.dw2, c.db2].entries()) {
                assertClose(grads[i + 1].dataSync(), want.data, 1e-5, `${c.activation} ${names[i]}`);
              }
              ok(
                Array.from(grads[2].dataSync()).some((v) => bf16Round(v) !== v),
                "db1 carries more than bf16 precision",
              );
            });
            strictEqual(tf.memory().numTensors, before, "no tensor leaks");
          }
        } finally {
          useEngine("onednn");
          setFeedForwardPieceElements();
        }
      });
    }
  }
}

Deno.test("`halfFeedForward()` fails in one line on shapes that do not chain", async () => {
  await useBackend("cpu");
  const c = fx.feedForward[0];
  tf.tidy(() => {
    let msg = "";
    try {
      halfFeedForward(
        BF16,
        t(c.x) as tf.Tensor2D,
        t(c.w1) as tf.Tensor2D,
        t(c.b1) as tf.Tensor1D,
        "gelu",
        t(c.w1) as tf.Tensor2D,
        t(c.b2) as tf.Tensor1D,
      );
    } catch (e) {
      msg = (e as Error).message;
    }
    ok(
      /^bf16 feed-forward: x \[11,12\], W1 \[12,32\], b1 \[32\], W2 \[12,32\] and b2 \[12\] do not chain$/
        .test(msg),
      msg,
    );
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`\`halfFeedForward()\` training passes on ${backend} give all their pooled storage back (none held or taken out of the pool)`, async () => {
    await useBackend("cpu"); // installs the pool
    await useBackend(backend);
    setFeedForwardPieceElements(4096); // several pieces
    try {
      const [N, H, I] = [64, 48, 256]; // z's codes: 8192 words, pooled
      const inputs = [[N, H], [H, I], [I], [I, H], [H]].map((s, k) =>
        tf.randomNormal(s, 0, 0.2, "float32", k + 1)
      );
      const dy = tf.randomNormal([N, H], 0, 1, "float32", 9);
      const f = bf16Block("gelu");
      const used = () => {
        const s = cpuPoolStats();
        return s.slabBytes - s.freeBytes;
      };
      const pass = () => tf.dispose(tf.grads(f)(inputs, dy));
      pass();
      const after1 = used();
      for (let i = 0; i < 4; i++) pass();
      strictEqual(used(), after1, "pooled bytes in use after 5 passes, as after the first");
      tf.dispose([...inputs, dy]);
    } finally {
      setFeedForwardPieceElements();
    }
  });
}

// The bound holds where the products read 16-bit operands in place (oneDNN) and the C kernels write g₁
// over z; elsewhere the fallbacks widen operands into pooled float32 copies.
const inPlaceSkip = loadOneDnn() === null || loadNativeKernels() === null
  ? `needs oneDNN and a C compiler (apt-get install libdnnl2 libdnnl-dev gcc): ${
    oneDnnUnavailableReason() ?? nativeKernelsUnavailableReason()
  }`
  : null;
if (inPlaceSkip) console.warn(`skipped the halfFeedForward pooled-memory test: ${inPlaceSkip}`);

Deno.test({
  name:
    "`halfFeedForward()` in bf16 needs pooled memory for z's codes, a piece of rows of the hidden layer's codes and float32 values, and three [N, H] float32 arrays (no second [N, I] array in either pass)",
  ignore: inPlaceSkip !== null,
}, async () => {
  await useBackend("cpu");
  useEngine("onednn");
  const [N, H, I] = [512, 32, 256];
  setFeedForwardPieceElements(N * I / 8); // eighths, as the default policy cuts a BERT-base layer
  try {
    const inputs = [[N, H], [H, I], [I], [I, H], [H]].map((s, k) =>
      tf.randomNormal(s, 0, 0.2, "float32", k + 1)
    );
    const dy = tf.randomNormal([N, H], 0, 1, "float32", 9);
    drainCpuPool(); // every slab is made by this pass: their bytes are its pooled peak (and any gaps)
    tf.dispose(tf.grads(bf16Block("gelu"))(inputs, dy));
    // Forward: z's codes kept, y's codes and float32 values one piece at a time (not a second [N, I] array).
    // Backward: y again from z's codes for dW₂ a piece at a time too, then g₁'s codes written over z's.
    const bound = N * I * 2 + (N / 8) * I * (2 + 4) + 3 * (N * H * 4);
    const slabs = cpuPoolStats().slabBytes;
    ok(slabs <= bound, `pooled slabs ${slabs} bytes > ${bound}`);
    tf.dispose([...inputs, dy]);
  } finally {
    setFeedForwardPieceElements();
  }
});

for (const precision of ["bf16", "fp16"] as const) {
  for (const engine of ENGINES) {
    Deno.test(`\`halfFeedForward()\` in ${precision} (${engine} matmuls) on a LayerNorm's output under a tape gives the value it gives on a copy of that output`, async () => {
      await useBackend("cpu");
      useEngine(engine);
      try {
        const fmt = precision === "bf16" ? BF16 : F16, store = halfOps(precision).store;
        const [N, H, I] = [24, 16, 64];
        const [x, w1, b1, w2, b2] = [[N, H], [H, I], [I], [I, H], [H]].map((s, k) =>
          tf.randomNormal(s, 0, k === 0 ? 3 : 0.3, "float32", k + 21)
        );
        const gamma = tf.randomNormal([H], 1, 0.2, "float32", 30),
          beta = tf.randomNormal([H], 0, 0.2, "float32", 31);
        const value = (viaCopy: boolean) =>
          tf.tidy(() => {
            const f = (w: tf.Tensor) => {
              const y = fusedLayerNorm(x, gamma, beta, 1e-12, store) as tf.Tensor2D;
              // on the LayerNorm's output the block saves x̂'s codes and may read x otherwise than from codes
              return halfFeedForward(
                fmt,
                viaCopy ? tf.clone(y) : y,
                w1 as tf.Tensor2D,
                b1 as tf.Tensor1D,
                "gelu",
                w as tf.Tensor2D,
                b2 as tf.Tensor1D,
              );
            };
            return tf.valueAndGrad(f)(w2, tf.ones([N, H])).value.dataSync().slice();
          });
        const onLn = value(false), onCopy = value(true);
        for (let i = 0; i < onLn.length; i++) strictEqual(onLn[i], onCopy[i], `value ${i}`);
        tf.dispose([x, w1, b1, w2, b2, gamma, beta]);
      } finally {
        useEngine("onednn");
      }
    });
  }
}
