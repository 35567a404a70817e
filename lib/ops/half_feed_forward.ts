/**
 * A transformer's feed-forward block, y = Linear₂(act(Linear₁(x))), as ONE half-precision op with a
 * hand-written backward pass: the same values, bit for bit, as `halfLinear(x, W₁, b₁, {activation})`
 * followed by `halfLinear(·, W₂, b₂)` (`bf16_ops.ts`; docs/PRECISION.md), with the [N, I] hidden layer
 * never held in float32 (I = 4H in BERT and GPT-2).
 *
 * Two Linear ops hand each other the hidden layer as a float32 tensor, and in the backward pass its
 * float32 gradient, half(g₂ W₂ᵀ), lives beside the codes of z and of the gradient entering Linear₁:
 * 12 bytes per hidden element at the start of the backward pass, where the memory peak is (GPT-2 base:
 * 150 MB per step). This op keeps the hidden layer as 16-bit codes only and walks its float32 values in
 * pieces of rows (an eighth of the rows, at least 1 M and at most about 2 M elements, 4–8 MB; one piece
 * where the matmuls widen 16-bit operands at every call, which would widen the weight once per piece):
 *
 * - forward: per piece, z = half(x16 W₁16 + b₁16) and y = half(act(z)) as codes (z's are saved, y's
 *   only for the piece), and that piece's rows of out = half(y16 W₂16 + b₂16) (where the matmuls widen
 *   16-bit operands, from y's float32 values, which the one piece holds after its epilogue, and no codes
 *   of y are made); at evaluation, which saves nothing, y's codes whole and one second product;
 * - backward: g₂ = half(dy) as codes, after which an incoming dy the op owns is freed; dW₂ = y16ᵀ g₂ with
 *   y recomputed from z's codes, per piece with the C kernels where dW₂ is no larger than a piece's codes
 *   (each piece's product added onto dW₂; where the matmuls widen 16-bit operands, as float32 values);
 *   per piece, g₁ = half(half(g₂ W₂16ᵀ)·act'(z)) into codes written over z's (each element reads its own
 *   z only), Σ g₁ in double for db₁; then dW₁ = x16ᵀ g₁ and dx = half(g₁ W₁16ᵀ) as in `halfLinear`.
 *
 * So the pooled memory of a pass peaks at z's codes and a piece of rows of the hidden layer (and, where
 * dW₂ is larger than a piece, y's codes for it), with no whole [N, I] array of y in the forward pass nor
 * of g₁ beside z (BERT-mini bf16: a step's pooled peak
 * 118.7 → 111.3 MB with g₁ over z and the residual freed before BERT's LayerNorm, and → 100.7 MB with the
 * context recomputed and dW₂ in pieces, after which the peak is at the end of the forward pass;
 * `half_feed_forward_test.ts`).
 *
 * dW₂ in pieces sums the same N terms per element in other groups (a float32 sum per piece, then the
 * pieces added in order), so it may differ from one whole product in the last bits, as two BLAS
 * libraries do; the PyTorch comparisons hold it to the same tolerance. Every other product of a piece
 * sums the same k terms as the whole product: before dW₂ was split, oneDNN's bf16 kernels gave results
 * bit-identical with the two Linears (4 training steps of the BERT and GPT-2 bench models). OpenBLAS
 * sgemm may order a sum differently for fewer rows (within f32 summation order), but it gets the layer in
 * one piece (`piecesOf`), so fp16 is bit-identical with the two Linears.
 * `half_feed_forward_test.ts` checks values and gradients against PyTorch, in pieces and whole. x from a
 * LayerNorm that kept x̂ is saved as x̂'s codes, as `halfLinear` does.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { BF16 } from "./bf16_ops.ts";
 * import { halfFeedForward } from "./half_feed_forward.ts";
 * const x = tf.fill([2, 3], 0.1) as tf.Tensor2D;
 * const w1 = tf.ones([3, 8]) as tf.Tensor2D, w2 = tf.ones([8, 3]) as tf.Tensor2D;
 * halfFeedForward(BF16, x, w1, tf.zeros([8]) as tf.Tensor1D, "relu", w2, tf.zeros([3]) as tf.Tensor1D)
 *   .print(); // 2.40625 everywhere: 8 × bf16(0.30078125), rounded to bf16
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import {
  allocFloat32,
  gemm,
  gemmWidensOperands,
  nativeKernels,
  packHalfFast,
  releaseFloat32,
} from "../kernels/mod.ts";
import { releaseIncoming, releasing } from "./grad_release.ts";
import { halfCodeWords } from "./half_codes.ts";
import { recordingGradients } from "./saved_inputs.ts";
import { evalWeightCodes } from "./weight_codes.ts";
import { activationValue, type AnyActivation, layerNormSource } from "./fused.ts";
import {
  biasBeta,
  f32,
  halfCodes,
  type HalfFormat,
  halfTensor,
  layerNormWeightGrad,
  linearGradIn,
  linearGradInRows,
  linearOut,
  packedBits,
  recomputedActivation,
  scratchCodes,
  sharedRounded,
  widenedOnce,
} from "./bf16_ops.ts";

/** Float32 elements of the hidden layer held at once: a piece of rows of at most about this many. */
const PIECE_ELEMENTS = 1 << 21;
/**
 * And at most this share of the rows: a piece's float32 values take twice the bytes of the same rows'
 * codes, so a layer in two pieces would hold as much float32 as the whole layer's codes (BERT-mini's
 * [4096, 1024]: 8 MB more at the backward pass's peak than in eighths).
 */
const PIECE_SHARE = 8;
/**
 * But at least this many elements (4 MB of float32) where the layer has them: smaller pieces cost more in
 * calls than they save in memory. BERT-mini's [4096, 1024] layer goes in quarters, not eighths: its bf16
 * step 2% faster (13 alternating rounds, docs/CPU-PERF.md), with the same peak RSS, as the peak is at the
 * end of the forward pass; BERT-base's and GPT-2's eighths (1.6 M elements) are unchanged.
 */
const PIECE_MIN_ELEMENTS = 1 << 20;
/** But no fewer rows than this in a piece (a short batch is one piece). */
const PIECE_MIN_ROWS = 64;
let pieceElements: number | undefined;

/**
 * Tests: pieces of about `n` elements on every matmul engine, so that small inputs take several
 * (default: the policy of {@link piecesOf}).
 */
export function setFeedForwardPieceElements(n?: number): void {
  pieceElements = n;
}

/**
 * Row ranges [r0, r1) of the [N, width] hidden layer, equal but the last: pieces of an eighth of the rows
 * (at least 64 rows and 1 M elements) and at most about 2 M elements, or the whole layer where the
 * matmuls widen their 16-bit operands at every call (binary16 on OpenBLAS, the fallbacks), which would
 * widen the weight once per piece (GPT-2 base fp16: 0.2–0.3 s per step).
 */
function piecesOf(type: HalfFormat["type"], N: number, width: number): Array<[number, number]> {
  const share = Math.max(Math.ceil(N * width / PIECE_SHARE), PIECE_MIN_ROWS * width, PIECE_MIN_ELEMENTS);
  const size = pieceElements ?? (gemmWidensOperands(type) ? Infinity : Math.min(PIECE_ELEMENTS, share));
  const rows = Math.max(1, Math.ceil(N / Math.max(1, Math.ceil(N * width / size))));
  const out: Array<[number, number]> = [];
  for (let r = 0; r < N; r += rows) out.push([r, Math.min(N, r + rows)]);
  return out;
}

/**
 * From a piece's f32 product `c` ([rows, cols], consumed; + bias when `biasBeta` filled it): z =
 * half(c + bias)'s codes into `z16` (when given) and half(act(z))'s codes into `y16`, as `halfLinear`'s
 * output and saved codes.
 */
function hiddenPiece(
  fmt: HalfFormat,
  act: AnyActivation,
  c: Float32Array,
  bias: Float32Array,
  rows: number,
  z16: Uint16Array | null,
  y16: Uint16Array | null,
): void {
  const k = nativeKernels();
  const n = rows * bias.length;
  if (k) return k.halfLinearOutBias(fmt.type, act, c, bias, z16, y16, rows, bias.length);
  const z = fmt.round(c.subarray(0, n), c.subarray(0, n));
  if (z16) packHalfFast(fmt.type, z, z16);
  const y = tf.tidy(() => fmt.round(f32(activationValue(act, tf.tensor(z.slice(), [n], "float32")))));
  if (y16) packHalfFast(fmt.type, y, y16);
}

/**
 * x [N, H] → act(x W₁ + b₁) W₂ + b₂ [N, O] in the half format `fmt` (W₁ [H, I], W₂ [I, O]): the values
 * of `halfLinear` twice, the hidden layer kept at 16 bits (see the module doc).
 */
export function halfFeedForward(
  fmt: HalfFormat,
  x: tf.Tensor2D,
  w1: tf.Tensor2D,
  b1: tf.Tensor1D,
  act: AnyActivation,
  w2: tf.Tensor2D,
  b2: tf.Tensor1D,
): tf.Tensor2D {
  if (
    x.rank !== 2 || w1.rank !== 2 || w2.rank !== 2 || b1.rank !== 1 || b2.rank !== 1 ||
    x.shape[1] !== w1.shape[0] || b1.shape[0] !== w1.shape[1] || w2.shape[0] !== w1.shape[1] ||
    b2.shape[0] !== w2.shape[1]
  ) {
    throw new Error(
      `${
        fmt.type === "bf16" ? "bf16" : "fp16"
      } feed-forward: x [${x.shape}], W1 [${w1.shape}], b1 [${b1.shape}], ` +
        `W2 [${w2.shape}] and b2 [${b2.shape}] do not chain`,
    );
  }
  const taping = recordingGradients();
  const [N, H] = x.shape, I = w1.shape[1], O = w2.shape[1];
  const type = fmt.type;
  const ln = taping ? layerNormSource(x) : undefined;
  const xLn = ln && ln.type === type && ln.xhat.size === Math.ceil(N * H / 2) ? ln : undefined;
  // x's codes serve the first product only when x̂'s are saved: where the matmuls widen 16-bit operands,
  // x rounded once into float32 values instead (`halfLinear`)
  const xRounded = xLn && gemmWidensOperands(type) && !fmt.isValued(x) ? sharedRounded(fmt, x) : undefined;
  const xPacked = taping && !xRounded ? fmt.sharedPacked(x) : undefined;
  const pieces = piecesOf(type, N, I);
  const pieceRows = pieces.length ? pieces[0][1] - pieces[0][0] : 0;
  // Evaluation: the weights' codes kept across forward passes (checked outside the op, where a tape shows)
  const w1Kept = evalWeightCodes(type, w1), w2Kept = evalWeightCodes(type, w2);
  const op = tf.customGrad(
    ((
      xs: tf.Tensor2D,
      w1s: tf.Tensor2D,
      b1s: tf.Tensor1D,
      w2s: tf.Tensor2D,
      b2s: tf.Tensor1D,
      save: tf.GradSaveFunc,
    ) => {
      // z's codes, filled before they become a tensor (the backend may copy them: wasm)
      const zWords = taping ? halfCodeWords(N * I) : undefined;
      const z16 = zWords ? new Uint16Array(zWords.buffer, zWords.byteOffset, N * I) : null;
      // Where the matmuls widen 16-bit operands, the layer is one piece, and the C kernels leave
      // y = half(act(z)) in the piece's float32 values: the second product takes those as they are, and
      // y's codes (which it would widen into the same values) are not made.
      const yWide = pieces.length === 1 && gemmWidensOperands(type) && nativeKernels() !== null;
      // Training: y's codes one piece at a time, each piece's rows of the second product taken at once
      // (the forward pass's memory peak). Evaluation saves nothing, so its peak is lower: y's codes whole
      // and one second product, as a product in eighths ran slower (BERT-mini bf16 encode: 36.6 → 40.1 ms).
      const yWhole = !taping && !yWide;
      const y = yWide ? undefined : scratchCodes((yWhole ? N : pieceRows) * I);
      // the weights' codes once for every piece
      const w1c = !w1Kept && pieces.length > 1 ? halfCodes(fmt, f32(w1s)) : undefined;
      // and, at evaluation, x's codes once for every piece: a kernel reading codes would otherwise round
      // each piece's float32 rows into codes of its own, a parallel pass per piece (BERT-mini bf16 encode:
      // the first product's pieces 0.26 → 0.23 ms each, 24 of them per batch)
      const xc = !xPacked && !xRounded && pieces.length > 1 && !gemmWidensOperands(type)
        ? halfCodes(fmt, f32(xs))
        : undefined;
      const w2c = !w2Kept && pieces.length > 1 ? halfCodes(fmt, f32(w2s)) : undefined;
      const piece = allocFloat32(pieceRows * I);
      const bias1 = fmt.round(f32(b1s));
      const out = allocFloat32(N * O);
      const bias2 = fmt.round(f32(b2s));
      const beta2 = biasBeta(out, bias2, N);
      for (const [r0, r1] of pieces) {
        const rows = r1 - r0;
        const beta = biasBeta(piece, bias1, rows);
        gemm({ // z = x16 @ W₁16 (+ b₁16 here or in hiddenPiece) for rows r0..r1, f32 (rounded there)
          type,
          m: rows,
          n: I,
          k: H,
          a: xRounded
            ? { data: f32(xRounded), rounded: true, offset: r0 * H, ld: H }
            : { data: xPacked ? packedBits(xPacked) : xc ? xc.g : f32(xs), offset: r0 * H, ld: H },
          b: { data: w1Kept ?? (w1c ? w1c.g : f32(w1s)), ld: I },
          c: { data: piece, ld: I },
          beta,
        });
        const y16 = y ? y.codes.subarray(yWhole ? r0 * I : 0) : null;
        hiddenPiece(fmt, act, piece, bias1, rows, z16 && z16.subarray(r0 * I), y16);
        if (!yWhole) {
          gemm({ // out = y16 @ W₂16 (+ b₂16 here or in linearOut) for the same rows, f32
            type,
            m: rows,
            n: O,
            k: I,
            a: y ? { data: y.codes, ld: I } : { data: piece, rounded: true, ld: I },
            b: { data: w2Kept ?? (w2c ? w2c.g : f32(w2s)), ld: O },
            c: { data: out, offset: r0 * O, ld: O },
            beta: beta2,
          });
        }
      }
      if (yWhole) {
        gemm({ // out = y16 @ W₂16 (+ b₂16 here or in linearOut), f32
          type,
          m: N,
          n: O,
          k: I,
          a: { data: y!.codes, ld: I },
          b: { data: w2Kept ?? (w2c ? w2c.g : f32(w2s)), ld: O },
          c: { data: out, ld: O },
          beta: beta2,
        });
      }
      releaseFloat32(piece);
      if (y) releaseFloat32(y.buf);
      if (w1c) releaseFloat32(w1c.buf);
      if (xc) releaseFloat32(xc.buf);
      if (w2c) releaseFloat32(w2c.buf);
      const value = linearOut(fmt, "none", out, [N, O], null, null, bias2);
      if (zWords) save([xLn ? xLn.xhat : xPacked!, w1s, tf.tensor1d(zWords, "int32"), w2s]);
      return {
        value,
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [xp, w1m, zp, w2m] = saved;
            const zBits = packedBits(zp);
            const g2 = linearGradIn(fmt, "none", dy, undefined, N, O); // half(dy), Σ rows
            if (nativeKernels()) releaseIncoming(dy); // g₂ holds it, as codes or values of its own (without the C kernels, g₂ may be dy's own values)
            const g2w = widenedOnce(fmt, g2.g); // for both products
            // dW₂ = y16ᵀ g₂, y = half(act(z)) again from z's codes (as float32 values, a piece's codes at a
            // time, or whole: below)
            const dw2 = allocFloat32(I * O);
            const k = nativeKernels();
            // Where the matmuls widen 16-bit operands (the layer in one piece), y's float32 values straight
            // from z's codes: the product would widen y's codes into the same values (a pass fewer).
            const yValues = k && gemmWidensOperands(type) ? allocFloat32(pieceRows * I) : undefined;
            // y's codes a piece at a time where adding each piece's product onto dW₂, which re-reads and
            // re-writes dW₂ once per piece, moves no more bytes than the piece's codes (BERT-mini's
            // [1024, 256] dW₂: 7 MB off its bf16 backward pass's peak), not for BERT-base's and GPT-2's
            // [3072, 768]; else y's codes whole
            const split = !yValues && k !== null && pieces.length > 1 && I * O * 4 <= pieceRows * I * 2;
            const yPiece = split ? scratchCodes(pieceRows * I) : undefined;
            const yAll = yValues || yPiece ? undefined : recomputedActivation(fmt, act, zp, [N, I]);
            for (const [r0, r1] of yValues || yPiece ? pieces : [[0, N]]) {
              const zr = zBits.subarray(r0 * I, r1 * I), n = (r1 - r0) * I;
              if (yValues) k!.halfActValues(type, act, zr, yValues, n);
              if (yPiece) k!.halfActCodes(type, act, zr, yPiece.codes, n);
              gemm({
                type,
                transA: true,
                m: I,
                n: O,
                k: r1 - r0,
                a: yValues
                  ? { data: yValues, rounded: true, ld: I }
                  : { data: yPiece?.codes ?? yAll!.g, ld: I },
                b: { ...g2w, offset: r0 * O, ld: O },
                c: { data: dw2, ld: O },
                beta: r0 === 0 ? 0 : 1,
              });
            }
            releaseFloat32(yValues ?? yPiece?.buf ?? yAll!.buf);
            // g₁ = half(half(g₂ W₂16ᵀ)·act'(z)) piece by piece, as codes over z's (each element of g₁ reads
            // its own z only, and nothing reads z after this): the backward pass's peak holds one [N, I]
            // code array fewer (BERT-mini: 8 MB); Σ g₁ in double. Where the matmuls widen 16-bit operands
            // (the layer in one piece), as float32 values over the product's own (which the products below
            // would otherwise widen g₁'s codes into): no array more, and no widening pass.
            const g1Values = k !== null && gemmWidensOperands(type) && pieces.length === 1;
            const acc = new Float64Array(I);
            const w2c = pieces.length > 1 ? halfCodes(fmt, f32(w2m)) : undefined;
            const piece = allocFloat32(pieceRows * I);
            const g1 = g1Values ? piece : zBits;
            for (const [r0, r1] of pieces) {
              gemm({
                type,
                transB: true,
                m: r1 - r0,
                n: I,
                k: O,
                a: { ...g2w, offset: r0 * O, ld: O },
                b: { data: w2c ? w2c.g : f32(w2m), ld: O },
                c: { data: piece, ld: I },
                roundOut: !nativeKernels(), // the C kernels round what they read
              });
              linearGradInRows(
                fmt,
                act,
                piece,
                zBits.subarray(r0 * I),
                g1.subarray(r0 * I),
                acc,
                r1 - r0,
                I,
              );
            }
            if (!g1Values) releaseFloat32(piece);
            if (w2c) releaseFloat32(w2c.buf);
            if (g2.scratch) releaseFloat32(g2.scratch);
            if (g2w.buf) releaseFloat32(g2w.buf);
            const g1w = widenedOnce(fmt, g1); // for both products (g₁'s values as they are)
            const db1 = Float32Array.from(acc);
            const dx = allocFloat32(N * H), dw1 = allocFloat32(H * I);
            gemm({ // dx = half(g₁ W₁16ᵀ)
              type,
              transB: true,
              m: N,
              n: H,
              k: I,
              a: { ...g1w, ld: I },
              b: { data: f32(w1m), ld: I },
              c: { data: dx, ld: H },
              roundOut: true,
            });
            gemm({ // dW₁ = x16ᵀ g₁ (x̂16ᵀ g₁ for a LayerNorm's output)
              type,
              transA: true,
              m: H,
              n: I,
              k: N,
              a: { data: packedBits(xp), ld: H },
              b: { ...g1w, ld: I },
              c: { data: dw1, ld: I },
            });
            if (xLn) layerNormWeightGrad(dw1, f32(xLn.gamma), f32(xLn.beta), db1, H, I);
            if (g1w.buf) releaseFloat32(g1w.buf);
            if (g1Values) releaseFloat32(piece);
            return [
              halfTensor(fmt, dx, [N, H]),
              tf.tensor(dw1, [H, I], "float32"),
              tf.tensor(db1, [I], "float32"),
              tf.tensor(dw2, [I, O], "float32"),
              tf.tensor(g2.db, [O], "float32"),
            ];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(x, w1, b1, w2, b2) as tf.Tensor2D;
}
