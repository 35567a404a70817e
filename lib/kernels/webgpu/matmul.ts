/**
 * A tiled matmul as a hand-written WGSL compute kernel on the TF.js webgpu backend, for the fp16 Linear
 * layer and the fp16 attention matmuls (`lib/ops/fp16_linear.ts`, `lib/ops/fp16_matmul.ts`), and
 * usable in f32 (checked against `tf.matMul`).
 *
 * C[b] = op(A[b]) · op(B[b]) (+ bias), op = identity or transpose, for row-major A and B. Each
 * workgroup of 8×8 threads computes a 32×32 tile of C and each thread a 4×4 block of it (vec4
 * accumulators); the K axis is walked in steps of 16 through workgroup-memory tiles of A (32×16) and
 * B (16×32) that the 64 threads load cooperatively. Accumulation is in f32.
 *
 * An operand may be given as float32 or as binary16 storage: the int32 tensor of packed pairs that
 * `packF16Tensor` makes (two halves per 32-bit word, decoded exactly in the kernel), so the kernel reads
 * 16 bits per element. The output is float32; with `roundF16` the kernel rounds it to binary16 values
 * (bit-exact round to nearest even, as `roundF16`), after adding the bias and again after an optional
 * `postScale` — the roundings of the fp16 ops. Products of binary16 values are exact in f32, so f32
 * arithmetic on binary16 operands gives what f16 multiplies with f32 accumulation give. The kernel
 * runs through TF.js's program runner, which prepends its own WGSL prelude, so `enable f16;` cannot be
 * written there (and TF.js's device does not request `shader-f16`); see docs/GPU.md.
 *
 * @example
 * ```ts
 * import { tf } from "../../runtime/tf.ts";
 * import { useBackend } from "../backend.ts";
 * import { webgpuMatMul } from "./matmul.ts";
 * await useBackend("webgpu");
 * const c = webgpuMatMul(tf.ones([2, 3]), tf.ones([3, 4])); // [2, 4] of 3s
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";
import { HALF_WGSL } from "./fp16_round.ts";

/** An operand: a float32 tensor, or packed binary16 storage with the logical shape of the operand. */
export type MatmulOperand = tf.Tensor | { packed: tf.Tensor; shape: number[] };

export interface WebgpuMatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /** [N] float32, added to every row before rounding. */
  bias?: tf.Tensor;
  /** Round the result to binary16 values (after the bias). */
  roundF16?: boolean;
  /** Multiply by this after the first rounding, then round again (fp16 attention scores). */
  postScale?: number;
}

interface WebgpuBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    programDefinedUniform?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

const TILE = 32, TK = 16;

function fetchFn(name: string, packed: boolean): string {
  return packed
    ? `fn fetch${name}(i : i32) -> f32 {
        let w = bitcast<u32>(${name}[i >> 1u]);
        return halfBitsToF32(select(w >> 16u, w & 0xffffu, (i & 1) == 0));
      }`
    : `fn fetch${name}(i : i32) -> f32 { return f32(${name}[i]); }`;
}

function userCode(o: {
  transA: boolean;
  transB: boolean;
  packedA: boolean;
  packedB: boolean;
  bias: boolean;
  round: boolean;
  scale: boolean;
}): string {
  // op(A)[r, c] (r < M, c < K) and op(B)[r, c] (r < K, c < N), batch b; 0 outside.
  const aIdx = o.transA ? "b * M * K + c * M + r" : "b * M * K + r * K + c";
  const bIdx = o.transB ? "b * K * N + c * K + r" : "b * K * N + r * N + c";
  let finish = "var v = acc[i][j];";
  if (o.bias) finish += " v = v + f32(Bias[col]);";
  if (o.round) finish += " v = halfBitsToF32(f32ToHalfBits(v));";
  if (o.scale) finish += " v = halfBitsToF32(f32ToHalfBits(v * uniforms.scale));";
  return `${HALF_WGSL}
    ${fetchFn("A", o.packedA)}
    ${fetchFn("B", o.packedB)}
    var<workgroup> tileA : array<array<f32, ${TK}>, ${TILE}>;
    var<workgroup> tileB : array<array<f32, ${TILE}>, ${TK}>;

    fn loadA(b : i32, r : i32, c : i32) -> f32 {
      let M = uniforms.M; let K = uniforms.K;
      if (r >= M || c >= K) { return 0.0; }
      return fetchA(${aIdx});
    }
    fn loadB(b : i32, r : i32, c : i32) -> f32 {
      let N = uniforms.N; let K = uniforms.K;
      if (r >= K || c >= N) { return 0.0; }
      return fetchB(${bIdx});
    }

    fn main() {
      let M = uniforms.M; let N = uniforms.N; let K = uniforms.K;
      let b = i32(workgroupId.z);
      let row0 = i32(workgroupId.y) * ${TILE};
      let col0 = i32(workgroupId.x) * ${TILE};
      let tr = i32(localId.y) * 4;
      let tc = i32(localId.x) * 4;
      let li = i32(localIndex);
      var acc : array<vec4<f32>, 4>;
      for (var i = 0; i < 4; i++) { acc[i] = vec4<f32>(0.0); }
      for (var k0 = 0; k0 < K; k0 = k0 + ${TK}) {
        for (var s = 0; s < ${(TILE * TK) / 64}; s++) {
          let e = li + s * 64;
          tileA[e / ${TK}][e % ${TK}] = loadA(b, row0 + e / ${TK}, k0 + e % ${TK});
          tileB[e / ${TILE}][e % ${TILE}] = loadB(b, k0 + e / ${TILE}, col0 + e % ${TILE});
        }
        workgroupBarrier();
        for (var k = 0; k < ${TK}; k++) {
          let bv = vec4<f32>(tileB[k][tc], tileB[k][tc + 1], tileB[k][tc + 2], tileB[k][tc + 3]);
          for (var i = 0; i < 4; i++) { acc[i] = acc[i] + tileA[tr + i][k] * bv; }
        }
        workgroupBarrier();
      }
      for (var i = 0; i < 4; i++) {
        let row = row0 + tr + i;
        if (row < M) {
          for (var j = 0; j < 4; j++) {
            let col = col0 + tc + j;
            if (col < N) {
              ${finish}
              result[b * M * N + row * N + col] = v;
            }
          }
        }
      }
    }`;
}

function info(o: MatmulOperand): { t: tf.Tensor; shape: number[]; packed: boolean } {
  if (o instanceof tf.Tensor) {
    if (o.dtype !== "float32") throw new Error(`webgpuMatMul: ${o.dtype} operand`);
    return { t: o, shape: o.shape, packed: false };
  }
  if (o.packed.dtype !== "int32") throw new Error("webgpuMatMul: packed binary16 operands are int32 tensors");
  return { t: o.packed, shape: o.shape, packed: true };
}

/**
 * op(A) · op(B) for 2-D operands or 3-D ones with the same batch size, on the webgpu backend; see the
 * module doc for the options. Returns a float32 tensor [M, N] or [batch, M, N].
 */
export function webgpuMatMul(a: MatmulOperand, b: MatmulOperand, opts: WebgpuMatMulOptions = {}): tf.Tensor {
  if (tf.getBackend() !== "webgpu") throw new Error("webgpuMatMul needs the webgpu backend");
  const A = info(a), B = info(b);
  const rank = A.shape.length;
  if ((rank !== 2 && rank !== 3) || B.shape.length !== rank) {
    throw new Error(`webgpuMatMul: shapes [${A.shape}] and [${B.shape}] must both be 2-D or 3-D`);
  }
  const batch = rank === 3 ? A.shape[0] : 1;
  if (rank === 3 && B.shape[0] !== batch) {
    throw new Error(`webgpuMatMul: batch sizes of [${A.shape}] and [${B.shape}] differ`);
  }
  const ta = !!opts.transposeA, tb = !!opts.transposeB;
  const [ar, ac] = A.shape.slice(-2), [br, bc] = B.shape.slice(-2);
  const M = ta ? ac : ar, K = ta ? ar : ac, K2 = tb ? bc : br, N = tb ? br : bc;
  if (K !== K2) throw new Error(`webgpuMatMul: inner dimensions of [${A.shape}] and [${B.shape}] differ`);
  if (opts.bias && (opts.bias.size !== N || opts.bias.dtype !== "float32")) {
    throw new Error(`webgpuMatMul: bias of ${opts.bias.size} values for ${N} columns`);
  }
  const flags = {
    transA: ta,
    transB: tb,
    packedA: A.packed,
    packedB: B.packed,
    bias: !!opts.bias,
    round: !!opts.roundF16,
    scale: opts.postScale !== undefined,
  };
  const outShape = rank === 3 ? [batch, M, N] : [M, N];
  const program = {
    variableNames: opts.bias ? ["A", "B", "Bias"] : ["A", "B"],
    outputShape: [batch * M * N],
    shaderKey: `simcse_matmul_${Object.entries(flags).map(([k, v]) => v ? k : "").join("_")}`,
    workgroupSize: [8, 8, 1] as [number, number, number],
    dispatchLayout: { x: [0], y: [0], z: [0] },
    dispatch: [Math.ceil(N / TILE), Math.ceil(M / TILE), batch] as [number, number, number],
    uniforms: "M : i32, N : i32, K : i32, scale : f32,",
    getUserCode: () => userCode(flags),
  };
  const flat = (t: tf.Tensor) => ({ dataId: t.dataId, shape: [t.size], dtype: t.dtype });
  const inputs = [flat(A.t), flat(B.t), ...(opts.bias ? [flat(opts.bias)] : [])];
  const backend = tf.backend() as unknown as WebgpuBackendLike;
  const out = backend.runWebGPUProgram(program, inputs, "float32", [
    { type: "int32", data: [M] },
    { type: "int32", data: [N] },
    { type: "int32", data: [K] },
    { type: "float32", data: [opts.postScale ?? 1] },
  ]);
  const t = tf.engine().makeTensorFromTensorInfo(out);
  const shaped = tf.reshape(t, outShape);
  t.dispose();
  return shaped;
}
