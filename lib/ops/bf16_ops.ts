/**
 * bf16 mixed-precision Linear layer and attention matmuls with hand-written backward passes
 * (`tf.customGrad`), the bfloat16 counterparts of `fp16_linear.ts` and `fp16_matmul.ts`
 * (docs/PRECISION.md). The matmuls run through `lib/kernels/onednn.ts`: oneDNN's bf16 kernels (AMX or
 * `avx512_core_bf16`) where present, which round float32 operands to bf16 inside the kernel, else
 * OpenBLAS sgemm on bf16-rounded copies, else JS loops; the results agree within f32 summation order.
 *
 * Semantics (those of `torch.autocast("cpu", dtype=torch.bfloat16)`, whose bf16 matmuls return bf16
 * tensors; `reference/make_bf16_fixtures.py` checks them against autocast):
 *
 * - `bf16Linear(x, W, b)`: x, W and b rounded to bf16; z = bf16(x16 @ W16 + b16) with one rounding of
 *   the f32 accumulator (so the output IS rounded to bf16, as autocast's); with `activation`,
 *   y = bf16(act(z)). Backward: g = bf16(dy) (fused: g = bf16(g · act'(z))); grad_x = bf16(g @ W16ᵀ);
 *   grad_W = x16ᵀ @ g and grad_b = Σ g accumulated and returned in f32. Autocast would hand the f32
 *   master weights bf16-rounded gradients (the gradient of its cast); keeping them in f32 loses nothing
 *   and costs nothing, as in the fp16 ops.
 * - `bf16AttentionScores(q, k, shape, scale)`: bf16(bf16(Q Kᵀ)·scale) per head for Q, K as [B·L, H]
 *   rows (HF BERT divides the bf16 scores by √d, a second rounding); heads are addressed with strides
 *   inside the matmul, nothing is transposed.
 * - `bf16AttentionContext(probs, v, shape)`: bf16(P16 · V16) written straight into [B·L, H].
 *
 * No loss scaling is needed: bf16 has float32's exponent range. Master weights stay f32. What the
 * backward pass needs is saved at 16 bits (bf16 codes packed in int32 tensors), and these codes go to
 * the bf16 kernels as they are. The ops work on every backend whose tensors can be read synchronously
 * (cpu, wasm, tensorflow); on cpu they read the backend's storage without a copy.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { bf16Linear } from "./bf16_ops.ts";
 * bf16Linear(tf.fill([2, 3], 0.1) as tf.Tensor2D, tf.ones([3, 4]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D)
 *   .print(); // 0.30078125 everywhere: 3 × bf16(0.1) = 0.300292…, rounded to bf16
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import {
  allocFloat32,
  batchedGemmReadsCodes,
  gemm,
  gemmEngine,
  type GemmOperand,
  gemmWidensOperands,
  nativeKernels,
  packHalfFast,
  peekFloat32,
  releaseFloat32,
  roundHalfFast,
  unpackHalfFast,
} from "../kernels/mod.ts";
import { releasing } from "./grad_release.ts";
import { halfCodeWords, packHalfTensor } from "./half_codes.ts";
import { isBf16Valued, markBf16, packedBf16Bits } from "./bf16.ts";
import { isF16Valued, markF16 } from "./fp16.ts";
import type { AnyActivation as Fp16Activation } from "./fused.ts";
import { addSavedCopy, recordingGradients, savedCopy, sharedCopy, sharedPackedF16 } from "./saved_inputs.ts";
import { activationInputGrad, activationValue, attentionSoftmax, layerNormSource } from "./fused.ts";
import type { HeadDims as HeadShape } from "./fused.ts";
import { checkColumns, type WeightColumns } from "./linear.ts";
import { evalWeightCodes } from "./weight_codes.ts";
import { doneWidened, expectWidening, widenedFor } from "./widened_codes.ts";

/** Activation fused into the bf16 Linear op (HF names; "none" = plain Linear). */
export type Bf16Activation = Fp16Activation;

export interface Bf16LinearOptions {
  /** Apply this activation on the rounded pre-activation, rounding its output to bf16 (default "none"). */
  activation?: Bf16Activation;
  /** W is these columns of a wider weight, which the op saves instead of W (`linear.ts`). */
  columnsOf?: WeightColumns;
}

/** A tensor's float32 values for synchronous reading (the cpu backend's own array, else a copy). */
export function f32(t: tf.Tensor): Float32Array {
  return peekFloat32(t) ?? (t.dataSync() as Float32Array);
}

/**
 * A 16-bit packed copy of `x`, made once per tensor while a gradient tape is recording and shared by
 * the ops that read `x` (Q, K and V of a layer); each op saves a clone for its backward pass.
 */
export function sharedPackedBf16(x: tf.Tensor): tf.Tensor {
  return sharedCopy(x, "bf16", (t) => packHalfTensor("bf16", t));
}

/**
 * `x` rounded to the format, as float32 values on pooled storage, made once per tensor while a gradient
 * tape is recording and shared by the ops that read `x` (an operand for matmuls that widen 16-bit codes
 * into float32 values at every call, where nothing saves x's codes).
 */
export function sharedRounded(fmt: HalfFormat, x: tf.Tensor): tf.Tensor {
  return sharedCopy(
    x,
    `${fmt.type} values`,
    (t) => halfTensor(fmt, fmt.round(f32(t), allocFloat32(t.size)), t.shape),
  );
}

/** The 16-bit codes inside a packed tensor (a view of its data). */
export function packedBits(packed: tf.Tensor): Uint16Array {
  return packedBf16Bits(packed); // the same int32-pairs layout for both formats
}

/**
 * A 16-bit floating-point format for the ops below: bf16 here, binary16 for the kernel path of the
 * fp16 ops (`fp16Linear` etc. on the cpu backend), whose packed copies and "is 16-bit valued" marks are
 * those of `fp16.ts` / `fp16_linear.ts`, so both paths share them.
 */
export interface HalfFormat {
  type: "bf16" | "f16";
  /** Every element rounded to the format, as float32 (into `out` when given; may be `src`). */
  round(src: Float32Array, out?: Float32Array): Float32Array;
  unpack(bits: Uint16Array, n: number): Float32Array;
  mark<T extends tf.Tensor>(t: T): T;
  isValued(t: tf.Tensor): boolean;
  /** Packed copy of an op input, shared while a tape records. */
  sharedPacked(t: tf.Tensor): tf.Tensor;
  pack(t: tf.Tensor): tf.Tensor1D;
}

export const BF16: HalfFormat = {
  type: "bf16",
  round: (src, out) => roundHalfFast("bf16", src, out),
  unpack: (bits, n) => unpackHalfFast("bf16", bits, n),
  mark: markBf16,
  isValued: isBf16Valued,
  sharedPacked: sharedPackedBf16,
  pack: (t) => packHalfTensor("bf16", t),
};

export const F16: HalfFormat = {
  type: "f16",
  round: (src, out) => roundHalfFast("f16", src, out),
  unpack: (bits, n) => unpackHalfFast("f16", bits, n),
  mark: markF16,
  isValued: isF16Valued,
  sharedPacked: sharedPackedF16,
  pack: (t) => packHalfTensor("f16", t),
};

/** A float32 tensor of `shape` from `values`, marked as holding values of the format. */
export function halfTensor<T extends tf.Tensor>(fmt: HalfFormat, values: Float32Array, shape: number[]): T {
  return fmt.mark(tf.tensor(values, shape, "float32") as T);
}

/** Scratch 16-bit codes for one op, on pooled storage: give them back with `releaseFloat32(buf)`. */
export function scratchCodes(n: number): { codes: Uint16Array; buf: Int32Array } {
  const buf = halfCodeWords(n);
  return { codes: new Uint16Array(buf.buffer, buf.byteOffset, n), buf };
}

/**
 * Where a Linear's bias b16 goes: with the C kernels, into the epilogue (`linearOut`, `bias` given), so
 * the product is taken into an unfilled C (returns beta 0); without them, into C's `rows` rows before the
 * product accumulates onto them (returns beta 1). Either way one float32 add per element.
 */
export function biasBeta(c: Float32Array, b16: Float32Array, rows: number): 0 | 1 {
  if (nativeKernels()) return 0;
  for (let r = 0; r < rows; r++) c.set(b16, r * b16.length);
  return 1;
}

/**
 * The Linear's output from `out` = x16·W16 (+ b16 when {@link biasBeta} filled it) in f32 (consumed):
 * z = half(out + bias), then y = half(act(z)) with an activation, and z's codes into `zCodes` when given
 * (for the backward pass). One C pass when the kernels are loaded, which adds `bias` first.
 */
export function linearOut(
  fmt: HalfFormat,
  act: Bf16Activation,
  out: Float32Array,
  shape: [number, number],
  zCodes: Uint16Array | null,
  yCodes: Uint16Array | null,
  bias: Float32Array,
): tf.Tensor2D {
  const k = nativeKernels();
  if (k) {
    k.halfLinearOutBias(fmt.type, act, out, bias, zCodes, yCodes, shape[0], shape[1]);
    return halfTensor(fmt, out, shape);
  }
  const z = halfTensor<tf.Tensor2D>(fmt, fmt.round(out, out), shape);
  if (act === "none") return z;
  if (zCodes) packHalfFast(fmt.type, out, zCodes);
  const value = tf.tidy(() => {
    const t = activationValue(act, z);
    return halfTensor<tf.Tensor2D>(fmt, fmt.round(f32(t)), shape);
  });
  if (yCodes) packHalfFast(fmt.type, f32(value), yCodes);
  z.dispose();
  return value;
}

/**
 * y = half(act(z)) again from z's codes, bit-identical with the forward pass, as 16-bit codes on pooled
 * storage (`buf`, to give back): the matmul kernels take codes without a conversion pass.
 */
export function recomputedActivation(
  fmt: HalfFormat,
  act: Bf16Activation,
  zp: tf.Tensor,
  shape: [number, number],
): { g: Uint16Array; buf: Int32Array } {
  const n = shape[0] * shape[1];
  const bits = packedBits(zp).subarray(0, n);
  const k = nativeKernels();
  if (k) {
    const { codes, buf } = scratchCodes(n);
    k.halfActCodes(fmt.type, act, bits, codes, n);
    return { g: codes, buf };
  }
  const y = tf.tidy(() => {
    const z = tf.tensor(fmt.unpack(bits, n), shape, "float32");
    return fmt.round(f32(activationValue(act, z)), allocFloat32(n));
  });
  const codes = halfCodes(fmt, y);
  releaseFloat32(y);
  return codes;
}

/** What `savedCopy(y, ACTIVATION_SOURCE)` holds: the codes of z, for y = half(act(z)). */
const ACTIVATION_SOURCE = "z of half(act(z))";
const activationOf = new WeakMap<tf.Tensor, Bf16Activation>();

/**
 * The gradient entering the Linear's matmuls, g = half(half(dy)·act'(z)) (or half(dy)), and
 * db = Σ_rows g accumulated in double. With the C kernels g comes as 16-bit codes, or as float32 values
 * in the format (on pooled storage, `scratch`) where the matmuls widen 16-bit operands: those products
 * take the values as they are, and no pass widens the codes. Without the kernels, float32 values.
 */
export function linearGradIn(
  fmt: HalfFormat,
  act: Bf16Activation,
  dy: tf.Tensor,
  zp: tf.Tensor | undefined,
  rows: number,
  cols: number,
): { g: Float32Array | Uint16Array; db: Float32Array; scratch?: Float32Array | Int32Array } {
  const k = nativeKernels();
  const n = rows * cols;
  const acc = new Float64Array(cols);
  if (k && gemmWidensOperands(fmt.type)) {
    const g = allocFloat32(n);
    k.halfLinearGradValues(fmt.type, act, f32(dy), zp ? packedBits(zp) : null, g, acc, rows, cols);
    return { g, db: Float32Array.from(acc), scratch: g };
  }
  if (k) {
    const { codes: g, buf } = scratchCodes(n);
    k.halfLinearGradIn(fmt.type, act, f32(dy), zp ? packedBits(zp) : null, g, acc, rows, cols);
    return { g, db: Float32Array.from(acc), scratch: buf };
  }
  let g = fmt.isValued(dy) ? f32(dy) : fmt.round(f32(dy), allocFloat32(n)); // half(dy), f32 storage
  if (zp) g = activationGradJs(fmt, act, g, packedBits(zp), rows, cols);
  addColumnSums(acc, g, rows, cols);
  return { g, db: Float32Array.from(acc) };
}

/**
 * `linearGradIn` on `rows` rows of a float32 gradient `d` (consumed): g into `gOut`, as codes or (a
 * Float32Array, which may be `d`) as float32 values in the format, and Σ_rows g added into `acc`, so that
 * pieces of rows give what one call gives. The C kernels round `d` as they read it (so the product that
 * makes it need not round its output); without them `d` must be rounded already.
 */
export function linearGradInRows(
  fmt: HalfFormat,
  act: Bf16Activation,
  d: Float32Array,
  z16: Uint16Array,
  gOut: Uint16Array | Float32Array,
  acc: Float64Array,
  rows: number,
  cols: number,
): void {
  const k = nativeKernels();
  if (k && gOut instanceof Float32Array) {
    return k.halfLinearGradValues(fmt.type, act, d, z16, gOut, acc, rows, cols);
  }
  if (k) return k.halfLinearGradIn(fmt.type, act, d, z16, gOut as Uint16Array, acc, rows, cols);
  const g = activationGradJs(fmt, act, d, z16, rows, cols);
  addColumnSums(acc, g, rows, cols);
  if (gOut instanceof Float32Array) gOut.set(g.subarray(0, rows * cols));
  else packHalfFast(fmt.type, g, gOut);
}

/** half(g·act'(z)) for half-valued g and z's codes, with tf ops (the path without the C kernels). */
function activationGradJs(
  fmt: HalfFormat,
  act: Bf16Activation,
  g: Float32Array,
  z16: Uint16Array,
  rows: number,
  cols: number,
): Float32Array {
  const n = rows * cols;
  return tf.tidy(() => {
    const z = tf.tensor(fmt.unpack(z16.subarray(0, n), n), [rows, cols]);
    // a copy: a view of pooled storage handed to a tensor would take that storage out of the pool
    const dz = activationInputGrad(act, tf.tensor(g.slice(0, n), [rows, cols], "float32"), z);
    return fmt.round(f32(dz), new Float32Array(n));
  });
}

/** acc[j] += Σ_r g[r, j], in row order. */
function addColumnSums(acc: Float64Array, g: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0, o = r * cols; j < cols; j++) acc[j] += g[o + j];
  }
}

/**
 * dW = γ·(x̂ᵀg) + β·Σg in place, row i of dW (input feature i) from x̂ᵀg's row: the weight gradient for
 * x = x̂·γ + β. Each element is γ_i·dw + β_i·db_j with both products exact in double and one rounding of
 * their sum to float, in one C pass across the threads when the kernels are loaded, else here.
 */
export function layerNormWeightGrad(
  dw: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  db: Float32Array,
  nIn: number,
  nOut: number,
): void {
  const k = nativeKernels();
  if (k) return k.lnWeightGrad(dw, gamma, beta, db, nIn, nOut);
  for (let i = 0; i < nIn; i++) {
    const gi = gamma[i], bi = beta[i], o = i * nOut;
    for (let j = 0; j < nOut; j++) dw[o + j] = gi * dw[o + j] + bi * db[j];
  }
}

/** x [N, in] @ W [in, out] + b [out] in bf16 mixed precision, optionally with a fused bf16 activation. */
export function bf16Linear(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  opts: Bf16LinearOptions = {},
): tf.Tensor2D {
  return halfLinear(BF16, x, w, b, opts);
}

/** `bf16Linear` in the 16-bit format `fmt` (the fp16 ops' kernel path uses it with {@link F16}). */
export function halfLinear(
  fmt: HalfFormat,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  opts: Bf16LinearOptions = {},
): tf.Tensor2D {
  if (
    x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0] || b.rank !== 1 || b.shape[0] !== w.shape[1]
  ) {
    throw new Error(
      `${
        fmt.type === "bf16" ? "bf16" : "fp16"
      }Linear: x [${x.shape}], W [${w.shape}] and b [${b.shape}] do not chain`,
    );
  }
  const act = opts.activation ?? "none";
  const cols = opts.columnsOf;
  if (cols) checkColumns(w, cols);
  const taping = recordingGradients();
  const [N, nIn] = x.shape, nOut = w.shape[1];
  // x = half(act(z)) from a half Linear of this tape: keep that Linear's z codes, not a copy of x, and
  // recompute x in the backward pass (as the fp32 `activationLinear` does): one [N, 4H] copy fewer.
  const xSource = taping ? savedCopy(x, ACTIVATION_SOURCE) : undefined;
  const xAct = xSource && activationOf.get(xSource);
  const evalCodes = !taping && codesAtEvaluation(fmt);
  // A plain Linear's output codes, written by its epilogue: the ops reading Q, K and V save those codes
  // (sharedPacked) instead of packing them in a pass of their own; at evaluation they read them.
  const outCodes = act === "none" && (taping ? epilogueWritesCodes() : evalCodes);
  // x = x̂·γ + β from a LayerNorm of this tape that kept x̂'s codes in this format: save those, not x's
  // codes (which serve the forward product only), and form xᵀg as γ·(x̂ᵀg) + β·Σg in the backward pass.
  const ln = taping && !xAct ? layerNormSource(x) : undefined;
  const xLn = ln && ln.type === fmt.type && ln.xhat.size === Math.ceil(N * nIn / 2) ? ln : undefined;
  // Where the matmuls widen 16-bit operands, such an x is rounded once into float32 values shared by the
  // Linears reading it (Q, K and V), rather than packed and then widened by each product.
  const xRounded = xLn && gemmWidensOperands(fmt.type) && !fmt.isValued(x)
    ? sharedRounded(fmt, x)
    : undefined;

  // (At evaluation not for a variable: an optimizer may rewrite its storage while the copy lives on.)
  const xPacked = !xRounded && ((taping && !xAct) || (evalCodes && !(x instanceof tf.Variable)))
    ? fmt.sharedPacked(x)
    : undefined;
  // x = half(P·V) from an attention context op of this tape: save its P and V codes (which it keeps
  // anyway), not x's, and recompute x's codes in the backward pass (a batched product of B·nh small
  // matrices): one [N, H] code array fewer per layer at the memory peak (BERT-mini: 2 MB).
  const xCtx = taping && !xAct && !xLn && act === "none" ? contextSource(fmt, x) : undefined;
  // The codes the weight gradient's product reads (x̂'s, or x's packed copy), where the matmuls widen them:
  // widened once for all the Linears that read them (Q, K and V), not once per product.
  const xWidened = taping && !xAct && !xCtx && gemmWidensOperands(fmt.type)
    ? xLn?.xhat ?? xPacked
    : undefined;
  if (xWidened) expectWidening(xWidened);
  // z's codes live in the caller's scope, so the Linear reading this op's output can save them too
  // (on cpu, where the op can fill the tensor's own storage).
  const keepZ = taping && act !== "none";
  const zOuter = keepZ && tf.getBackend() === "cpu"
    ? tf.tensor1d(halfCodeWords(N * nOut), "int32")
    : undefined;
  // And the output's codes, for the next Linear's product (a 16-bit copy of y; nothing saves it), or a
  // plain Linear's (above).
  const yOuter = (zOuter || outCodes) && tf.tensor1d(halfCodeWords(N * nOut), "int32");
  const type = fmt.type;
  // Evaluation: W's codes kept across forward passes (c_attn's, for a block of its columns).
  const wKept = evalWeightCodes(type, cols ? cols.full : w);
  const op = tf.customGrad(
    ((xs: tf.Tensor2D, ws: tf.Tensor2D, bs: tf.Tensor1D, save: tf.GradSaveFunc) => {
      const out = allocFloat32(N * nOut);
      const b16 = fmt.round(f32(bs));
      const beta = biasBeta(out, b16, N);
      // x = half(act(z)) kept as z's codes: x's codes for this product, from the Linear that made x
      // (or x's own values where the matmul would widen those codes: halfOperand).
      const xWide = gemmWidensOperands(type) && fmt.isValued(x);
      const xCopy = xAct && !xWide ? savedCopy(x, fmt.type) : undefined;
      const xCodes = xAct && !xWide && !xCopy ? halfCodes(fmt, f32(xs)) : undefined;
      gemm({ // x16 @ W16 (+ b16 here or in linearOut), f32 (rounded below)
        type,
        m: N,
        n: nOut,
        k: nIn,
        a: {
          ...(xCodes
            ? { data: xCodes.g }
            : xRounded
            ? { data: f32(xRounded), rounded: true }
            : halfOperand(fmt, x, xs, xPacked ?? xCopy)),
          ld: nIn,
        },
        b: wKept
          ? { data: wKept, offset: cols?.col, ld: cols ? cols.full.shape[1] : nOut }
          : { data: f32(ws), ld: nOut },
        c: { data: out, ld: nOut },
        beta,
      });
      if (xCodes) releaseFloat32(xCodes.buf);
      const zWords = keepZ && !zOuter ? halfCodeWords(N * nOut) : undefined;
      const zCodes = zOuter
        ? packedBits(zOuter)
        : zWords
        ? new Uint16Array(zWords.buffer, zWords.byteOffset, N * nOut)
        : null;
      const yCodes = yOuter ? packedBits(yOuter) : null;
      const value = zOuter || act !== "none"
        ? linearOut(fmt, act, out, [N, nOut], zCodes, yCodes, b16)
        : linearOut(fmt, act, out, [N, nOut], yCodes, null, b16); // z is y: its codes are y's
      const zPacked = zOuter ?? (zWords && tf.tensor1d(zWords, "int32"));
      const xSaved = xAct ? xSource! : xLn ? xLn.xhat : xCtx ? xCtx.p : xPacked!;
      const wSaved = cols ? cols.full : ws;
      if (taping) {
        save(zPacked ? [xSaved, wSaved, zPacked] : xCtx ? [xSaved, wSaved, xCtx.v] : [xSaved, wSaved]);
      }
      return {
        value,
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [xp, wMaster, zp] = saved;
            const { g: gIn, db, scratch } = linearGradIn(fmt, act, dy, xCtx ? undefined : zp, N, nOut);
            const g = widenedOnce(fmt, gIn); // for both products
            const xRe = xAct
              ? recomputedActivation(fmt, xAct, xp, [N, nIn])
              : xCtx
              ? recomputedContext(fmt, { p: xp, v: zp, shape: xCtx.shape }, N, nIn, gemmWidensOperands(type))
              : undefined;
            const x16 = xRe ? xRe.g : packedBits(xp);
            const xWide = xWidened ? widenedFor(type, xp, N * nIn) : undefined;
            const dx = allocFloat32(N * nIn), dw = allocFloat32(nIn * nOut);
            gemm({ // dx = half(g W16ᵀ)
              type,
              transB: true,
              m: N,
              n: nIn,
              k: nOut,
              a: { ...g, ld: nOut },
              b: cols
                ? { data: f32(wMaster).subarray(cols.col), ld: cols.full.shape[1] }
                : { data: f32(wMaster), ld: nOut },
              c: { data: dx, ld: nIn },
              roundOut: true,
            });
            gemm({ // dW = x16ᵀ g, f32 (x̂16ᵀ g for a LayerNorm's output)
              type,
              transA: true,
              m: nIn,
              n: nOut,
              k: N,
              a: xWide
                ? { data: xWide, rounded: true, ld: nIn }
                : { data: x16, rounded: x16 instanceof Float32Array, ld: nIn },
              b: { ...g, ld: nOut },
              c: { data: dw, ld: nOut },
            });
            if (xWide) doneWidened(xp);
            if (xLn) layerNormWeightGrad(dw, f32(xLn.gamma), f32(xLn.beta), db, nIn, nOut);
            if (scratch) releaseFloat32(scratch);
            if (g.buf) releaseFloat32(g.buf);
            if (xRe) releaseFloat32(xRe.buf);
            return [
              halfTensor(fmt, dx, [N, nIn]),
              tf.tensor(dw, [nIn, nOut], "float32"),
              tf.tensor(db, [nOut], "float32"),
            ];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const y = op(x, w, b) as tf.Tensor2D;
  if (zOuter) {
    activationOf.set(zOuter, act);
    addSavedCopy(y, ACTIVATION_SOURCE, zOuter);
  }
  if (yOuter) addSavedCopy(y, fmt.type, yOuter); // y's packed copy, for any op that reads y (sharedPacked)
  return y;
}

/**
 * Whether the ops pass 16-bit codes between them at evaluation too: on the cpu backend with the C
 * kernels (which write a Linear's codes in its epilogue pass) where the matmuls read codes (bf16 on
 * oneDNN). A Linear then packs its input once for every Linear that reads it (Q, K and V of a layer),
 * and the attention products read Q, K and V as codes, instead of each product rounding float32
 * operands in the oneDNN shim. The values are the same: codes of values already in the format.
 */
function codesAtEvaluation(fmt: HalfFormat): boolean {
  return epilogueWritesCodes() && !gemmWidensOperands(fmt.type);
}

/** Whether a half Linear's epilogue can write its output's codes as it rounds: the C kernels on cpu. */
function epilogueWritesCodes(): boolean {
  return tf.getBackend() === "cpu" && nativeKernels() !== null;
}

/** At evaluation, the codes a Linear of this forward pass wrote of `t` (see {@link codesAtEvaluation}). */
function evaluationCodes(fmt: HalfFormat, t: tf.Tensor): tf.Tensor | undefined {
  return codesAtEvaluation(fmt) ? savedCopy(t, fmt.type) : undefined;
}

/**
 * half(half(x)·scale): 16-bit codes on pooled storage (`buf`, to give back) with the C kernels, else
 * float32 values.
 */
function scaledGrad(
  fmt: HalfFormat,
  x: Float32Array,
  scale: number,
): { g: Float32Array | Uint16Array; buf?: Int32Array } {
  const k = nativeKernels();
  if (k) {
    const { codes, buf } = scratchCodes(x.length);
    k.halfScaledCodes(fmt.type, x, codes, x.length, scale);
    return { g: codes, buf };
  }
  const g = fmt.round(x, new Float32Array(x.length));
  for (let i = 0; i < g.length; i++) g[i] *= scale;
  return { g: fmt.round(g, g) };
}

/**
 * A half op's input as a matmul operand. Where the matmuls widen 16-bit operands at every call
 * (binary16 on an f32 kernel: `gemmWidensOperands`), a tensor already in the format (a half op's
 * output) goes in as its float32 values, taken as they are: its codes would be widened into a float32
 * copy of those same values. Elsewhere (and for the attention products of `batchedGemmReadsCodes`,
 * `widens` false) its packed copy's codes when there is one, else its float32 values (rounded in the
 * kernel).
 */
function halfOperand(
  fmt: HalfFormat,
  t: tf.Tensor,
  values: tf.Tensor,
  packed: tf.Tensor | undefined,
  widens = gemmWidensOperands(fmt.type),
): Pick<GemmOperand, "data" | "rounded"> {
  if (widens && fmt.isValued(t)) return { data: f32(values), rounded: true };
  if (packed) return { data: packedBits(packed) };
  return { data: f32(values), rounded: fmt.isValued(t) };
}

/**
 * Whether the matmuls of attention products (m, n, k ≤ max(L, dh)) widen 16-bit operands at every call:
 * not where they run on the C kernels' small-matrix kernel, which reads codes in place and rounds float32
 * operands as it loads them (`batchedGemmReadsCodes`).
 */
function attentionWidens(fmt: HalfFormat, s: HeadShape, dh: number): boolean {
  return gemmWidensOperands(fmt.type) && !batchedGemmReadsCodes(fmt.type, Math.max(s.seqLen, dh));
}

/** An operand for two products, on pooled storage `buf` to give back when there is one. */
export type HalfTwice = Pick<GemmOperand, "data" | "rounded"> & { buf?: Float32Array | Int32Array };

/**
 * half(dy) for two attention products: dy's float32 values as they are where those products round them
 * as they load them (`batchedGemmReadsCodes`); where the matmuls widen 16-bit operands at every call,
 * rounded once into pooled float32 storage (or dy's own values when it is in the format already);
 * elsewhere its codes.
 */
function halfOnce(fmt: HalfFormat, dy: tf.Tensor, widens: boolean): HalfTwice {
  if (gemmWidensOperands(fmt.type) && !widens) return { data: f32(dy), rounded: fmt.isValued(dy) };
  if (!widens) {
    const { g, buf } = halfCodes(fmt, f32(dy));
    return { data: g, buf };
  }
  if (fmt.isValued(dy)) return { data: f32(dy), rounded: true };
  const buf = allocFloat32(dy.size);
  return { data: fmt.round(f32(dy), buf), rounded: true, buf };
}

/**
 * 16-bit codes (or rounded float32 values, without the C kernels) that feed two products. Where the
 * matmuls widen 16-bit operands at every call, they are widened once here into pooled float32 storage
 * (`buf`, to give back with `releaseFloat32`) and go to both products as they are; elsewhere the
 * codes go as they are.
 */
export function widenedOnce(
  fmt: HalfFormat,
  g: Float32Array | Uint16Array,
): HalfTwice {
  if (g instanceof Float32Array) return { data: g, rounded: true };
  if (!gemmWidensOperands(fmt.type)) return { data: g };
  const buf = unpackHalfFast(fmt.type, g, g.length, allocFloat32(g.length));
  return { data: buf, rounded: true, buf };
}

/** The 16-bit codes of `x` in the format, on pooled storage (`buf`, to give back). */
export function halfCodes(fmt: HalfFormat, x: Float32Array): { g: Uint16Array; buf: Int32Array } {
  const { codes, buf } = scratchCodes(x.length);
  return { g: packHalfFast(fmt.type, x, codes), buf };
}

function checkRows(x: tf.Tensor, s: HeadShape, what: string): void {
  if (x.rank !== 2 || x.shape[0] !== s.batch * s.seqLen || x.shape[1]! % s.heads !== 0) {
    throw new Error(`${what} [${x.shape}] is not [${s.batch}·${s.seqLen}, heads·dh] with ${s.heads} heads`);
  }
}

type OperandData = Float32Array | Uint16Array | Pick<GemmOperand, "data" | "rounded">;
const picked = (d: OperandData) => ArrayBuffer.isView(d) ? { data: d } : { data: d.data, rounded: d.rounded };

/** Operand in [B·L, H] layout seen as [B, nh] matrices [L, dh]: row stride H, batch strides L·H and dh. */
function rowsOperand(data: OperandData, s: HeadShape, H: number) {
  return { ...picked(data), ld: H, strides: [s.seqLen * H, H / s.heads] as [number, number] };
}

/** Operand in [B, nh, L, L] layout. */
function probsOperand(data: OperandData, s: HeadShape) {
  const L = s.seqLen;
  return { ...picked(data), ld: L, strides: [s.heads * L * L, L * L] as [number, number] };
}

/**
 * Attention scores bf16(bf16(Q Kᵀ)·scale) per head: q, k [B·L, H] -> [B, nh, L, L]. The caller adds
 * the mask and takes the softmax in f32.
 */
export function bf16AttentionScores(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  shape: HeadShape,
  scale: number,
): tf.Tensor4D {
  return halfAttentionScores(BF16, q, k, shape, scale);
}

/** `bf16AttentionScores` in the 16-bit format `fmt`. */
export function halfAttentionScores(
  fmt: HalfFormat,
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  shape: HeadShape,
  scale: number,
): tf.Tensor4D {
  const name = `${fmt.type === "bf16" ? "bf16" : "fp16"}AttentionScores`;
  checkRows(q, shape, `${name}: q`);
  checkRows(k, shape, `${name}: k`);
  if (q.shape[1] !== k.shape[1]) throw new Error(`${name}: q [${q.shape}] and k [${k.shape}] differ`);
  const taping = recordingGradients();
  const qPacked = taping ? fmt.sharedPacked(q) : evaluationCodes(fmt, q);
  const kPacked = taping ? fmt.sharedPacked(k) : evaluationCodes(fmt, k);
  const { batch: B, seqLen: L, heads: nh } = shape;
  const H = q.shape[1], dh = H / nh;
  const widens = attentionWidens(fmt, shape, dh);
  const op = tf.customGrad(
    ((qs: tf.Tensor2D, ks: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const out = allocFloat32(B * nh * L * L);
      gemm({
        type: fmt.type,
        transB: true,
        m: L,
        n: L,
        k: dh,
        batch: [B, nh],
        a: rowsOperand(halfOperand(fmt, q, qs, qPacked, widens), shape, H),
        b: rowsOperand(halfOperand(fmt, k, ks, kPacked, widens), shape, H),
        c: { ...probsOperand(out, shape), data: out },
        roundOut: true,
        postScale: scale,
      });
      if (taping) save([qPacked!, kPacked!]);
      return {
        value: halfTensor(fmt, out, [B, nh, L, L]),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => {
          const scaled = scaledGrad(fmt, f32(dy), scale); // half(half(dy)·scale)
          const g = widens ? widenedOnce(fmt, scaled.g) : { data: scaled.g }; // for both products
          const q16 = packedBits(saved[0]), k16 = packedBits(saved[1]);
          const dq = allocFloat32(B * L * H), dk = allocFloat32(B * L * H);
          const common = { type: fmt.type, m: L, n: dh, k: L, batch: [B, nh] as [number, number] };
          gemm({ // dQ = g K
            ...common,
            a: probsOperand(g, shape),
            b: rowsOperand(k16, shape, H),
            c: { ...rowsOperand(dq, shape, H), data: dq },
            roundOut: true,
          });
          gemm({ // dK = gᵀ Q
            ...common,
            transA: true,
            a: probsOperand(g, shape),
            b: rowsOperand(q16, shape, H),
            c: { ...rowsOperand(dk, shape, H), data: dk },
            roundOut: true,
          });
          if (scaled.buf) releaseFloat32(scaled.buf);
          if ("buf" in g && g.buf) releaseFloat32(g.buf);
          return [halfTensor(fmt, dq, [B * L, H]), halfTensor(fmt, dk, [B * L, H])];
        }),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(q, k) as tf.Tensor4D;
}

/** Attention context bf16(probs · V): probs [B, nh, L, L], v [B·L, H] -> [B·L, H] (heads merged). */
export function bf16AttentionContext(probs: tf.Tensor4D, v: tf.Tensor2D, shape: HeadShape): tf.Tensor2D {
  return halfAttentionContext(BF16, probs, v, shape);
}

/** `bf16AttentionContext` in the 16-bit format `fmt`. */
export function halfAttentionContext(
  fmt: HalfFormat,
  probs: tf.Tensor4D,
  v: tf.Tensor2D,
  shape: HeadShape,
): tf.Tensor2D {
  const name = `${fmt.type === "bf16" ? "bf16" : "fp16"}AttentionContext`;
  checkRows(v, shape, `${name}: v`);
  const { batch: B, seqLen: L, heads: nh } = shape;
  if (probs.shape.join() !== [B, nh, L, L].join()) {
    throw new Error(`${name}: probs [${probs.shape}] is not [${[B, nh, L, L]}]`);
  }
  const taping = recordingGradients();
  const pPacked = taping ? fmt.sharedPacked(probs) : undefined;
  const vPacked = taping ? fmt.sharedPacked(v) : evaluationCodes(fmt, v);
  const H = v.shape[1], dh = H / nh;
  const widens = attentionWidens(fmt, shape, dh);
  const op = tf.customGrad(
    ((ps: tf.Tensor4D, vs: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const out = allocFloat32(B * L * H);
      contextProduct(
        fmt,
        shape,
        H,
        halfOperand(fmt, probs, ps, pPacked, widens),
        halfOperand(fmt, v, vs, vPacked, widens),
        out,
      );
      if (taping) save([pPacked!, vPacked!]);
      return {
        value: halfTensor(fmt, out, [B * L, H]),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => {
          const g = halfOnce(fmt, dy, widens); // dy rounded once for both products
          const p16 = packedBits(saved[0]), v16 = packedBits(saved[1]);
          const dp = allocFloat32(B * nh * L * L), dv = allocFloat32(B * L * H);
          gemm({ // dP = g Vᵀ
            type: fmt.type,
            transB: true,
            m: L,
            n: L,
            k: dh,
            batch: [B, nh],
            a: rowsOperand(g, shape, H),
            b: rowsOperand(v16, shape, H),
            c: { ...probsOperand(dp, shape), data: dp },
            roundOut: true,
          });
          gemm({ // dV = Pᵀ g
            type: fmt.type,
            transA: true,
            m: L,
            n: dh,
            k: L,
            batch: [B, nh],
            a: probsOperand(p16, shape),
            b: rowsOperand(g, shape, H),
            c: { ...rowsOperand(dv, shape, H), data: dv },
            roundOut: true,
          });
          if (g.buf) releaseFloat32(g.buf);
          return [halfTensor(fmt, dp, [B, nh, L, L]), halfTensor(fmt, dv, [B * L, H])];
        }),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const ctx = op(probs, v) as tf.Tensor2D;
  // For a half Linear reading the context (the attention's output projection), where the products read
  // 16-bit codes in place: on kernels that widen them, the recomputation would widen P and V once more,
  // and fp16 trades no speed for memory (docs/PRECISION.md).
  if (taping && !gemmWidensOperands(fmt.type)) {
    addSavedCopy(ctx, CONTEXT_SOURCE_P, tf.clone(pPacked!));
    addSavedCopy(ctx, CONTEXT_SOURCE_V, tf.clone(vPacked!));
    contextShapes.set(ctx, shape);
  }
  return ctx;
}

/** half(P·V) per head into `out` [B·L, H] (heads merged): the context op's product and its recomputation. */
function contextProduct(
  fmt: HalfFormat,
  shape: HeadShape,
  H: number,
  p: Pick<GemmOperand, "data" | "rounded">,
  v: Pick<GemmOperand, "data" | "rounded">,
  out: Float32Array,
): void {
  const { batch: B, seqLen: L, heads: nh } = shape;
  gemm({
    type: fmt.type,
    m: L,
    n: H / nh,
    k: L,
    batch: [B, nh],
    a: probsOperand(p, shape),
    b: rowsOperand(v, shape, H),
    c: { ...rowsOperand(out, shape, H), data: out },
    roundOut: true,
  });
}

/** What `savedCopy(ctx, CONTEXT_SOURCE_P / _V)` hold: the codes of P and V, for ctx = half(P·V). */
const CONTEXT_SOURCE_P = "P of half(P·V)";
const CONTEXT_SOURCE_V = "V of half(P·V)";
const contextShapes = new WeakMap<tf.Tensor, HeadShape>();

/**
 * For `x` made by {@link halfAttentionContext} while a tape records, in format `fmt`: the codes of P and
 * V that op saved, and the head shape, from which a Linear reading x recomputes x's codes in its backward
 * pass instead of keeping a copy of them.
 */
function contextSource(
  fmt: HalfFormat,
  x: tf.Tensor,
): { p: tf.Tensor; v: tf.Tensor; shape: HeadShape } | undefined {
  const p = savedCopy(x, CONTEXT_SOURCE_P), v = savedCopy(x, CONTEXT_SOURCE_V), shape = contextShapes.get(x);
  if (!p || !v || !shape || !fmt.isValued(x)) return undefined;
  return { p, v, shape };
}

/**
 * x = half(P·V)'s codes again from P's and V's (the same product as the forward pass, so the same bits),
 * on pooled storage (`buf`, to give back); with `values`, its float32 values (for a product that would
 * widen the codes).
 */
function recomputedContext(
  fmt: HalfFormat,
  src: { p: tf.Tensor; v: tf.Tensor; shape: HeadShape },
  N: number,
  H: number,
  values: boolean,
): { g: Uint16Array | Float32Array; buf: Int32Array | Float32Array } {
  const out = allocFloat32(N * H);
  contextProduct(fmt, src.shape, H, { data: packedBits(src.p) }, { data: packedBits(src.v) }, out);
  if (values) return { g: out, buf: out };
  const codes = halfCodes(fmt, out);
  releaseFloat32(out);
  return codes;
}

/**
 * Whether {@link halfFirstTokenAttention} runs here: on the cpu backend with a gemm kernel (oneDNN or
 * OpenBLAS) for `fmt`. Elsewhere the encoders take the same roundings in TF.js ops.
 */
export function firstTokenAttentionRuns(fmt: HalfFormat): boolean {
  return tf.getBackend() === "cpu" && gemmEngine(fmt.type) !== "js";
}

/**
 * Evaluation only: attention for one query row per sequence (the [CLS] row of an encoder's last layer
 * when the pooler reads nothing else): q [B, H], k and v [B·L, H], `mask` the additive key mask
 * [B, 1, 1, L] → context [B, H]. Per head, p = softmax(half(half(q·kᵀ)·scale) + mask) in float32, then
 * half(half(p)·v): the roundings of {@link halfAttentionScores} and {@link halfAttentionContext} for
 * these rows, as two batched products over [B, nh] reading K and V in place (row stride H, head
 * offset dh), with no [B, nh, L, dh] copies of them.
 */
export function halfFirstTokenAttention(
  fmt: HalfFormat,
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  mask: tf.Tensor,
  shape: HeadShape,
  scale: number,
): tf.Tensor2D {
  const name = `${fmt.type === "bf16" ? "bf16" : "fp16"}FirstTokenAttention`;
  checkRows(k, shape, `${name}: k`);
  checkRows(v, shape, `${name}: v`);
  const { batch: B, seqLen: L, heads: nh } = shape;
  const H = k.shape[1], dh = H / nh;
  const widens = attentionWidens(fmt, shape, dh);
  if (q.rank !== 2 || q.shape[0] !== B || q.shape[1] !== H || v.shape[1] !== H) {
    throw new Error(`${name}: q [${q.shape}] is not one [${H}] row for each of ${B} sequences`);
  }
  return tf.tidy(() => {
    const scores = allocFloat32(B * nh * L);
    gemm({ // half(half(q·kᵀ)·scale) per head: [B, nh, 1, L]
      type: fmt.type,
      transB: true,
      m: 1,
      n: L,
      k: dh,
      batch: [B, nh],
      a: { ...halfOperand(fmt, q, q, evaluationCodes(fmt, q), widens), ld: H, strides: [H, dh] },
      b: rowsOperand(halfOperand(fmt, k, k, evaluationCodes(fmt, k), widens), shape, H),
      c: { data: scores, ld: L, strides: [nh * L, L] },
      roundOut: true,
      postScale: scale,
    });
    const p = attentionSoftmax(halfTensor(fmt, scores, [B, nh, 1, L]), mask, 1); // float32
    const out = allocFloat32(B * H);
    gemm({ // half(half(p)·v) per head, heads merged: [B, H]
      type: fmt.type,
      m: 1,
      n: dh,
      k: L,
      batch: [B, nh],
      a: { data: f32(p), ld: L, strides: [nh * L, L] }, // rounded in the kernel
      b: rowsOperand(halfOperand(fmt, v, v, evaluationCodes(fmt, v), widens), shape, H),
      c: { data: out, ld: H, strides: [H, dh] },
      roundOut: true,
    });
    return halfTensor<tf.Tensor2D>(fmt, out, [B, H]);
  });
}
