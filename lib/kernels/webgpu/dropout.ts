/**
 * The fused dropout kernel of `lib/ops/fused.ts` (`SimcseDropout`) on the TF.js webgpu backend, as one
 * WGSL compute kernel. The mask is the cpu kernel's: element i is kept when
 * fmix32((i · 0x9e3779b1) ^ seed) ≥ rate · 2^32 (`dropoutHash` of `kernels/cpu_fused.ts`), so a seeded
 * run draws the same masks on cpu and webgpu, and no random numbers are made on the host (TF.js's
 * `tf.dropout` fills its random tensor in JavaScript). Nothing is saved for the gradient: it is the
 * same kernel on dy, which draws the same mask again.
 *
 * @example
 * ```ts
 * import { registerWebgpuDropout } from "./dropout.ts";
 * registerWebgpuDropout(); // after the webgpu backend is active; idempotent
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";
import { FUSED_KERNELS } from "../kernel_names.ts";
import { flatView as flat } from "./dispatch.ts";

interface WebgpuBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    programDefinedUniform?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

const WORKGROUP = 64;

function program(key: string, names: string[], size: number, body: string, uniforms: string) {
  const groups = Math.ceil(size / WORKGROUP);
  return {
    variableNames: names,
    outputShape: [size],
    shaderKey: key,
    size: true,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    dispatchLayout: { x: [0] },
    dispatch: [Math.min(groups, 65535), Math.ceil(groups / 65535), 1] as [number, number, number],
    uniforms,
    getUserCode: () => `
      fn fmix32(x : u32) -> u32 {
        var h = x;
        h = h ^ (h >> 16u);
        h = h * 0x85ebca6bu;
        h = h ^ (h >> 13u);
        h = h * 0xc2b2ae35u;
        h = h ^ (h >> 16u);
        return h;
      }
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/** The same data under another shape (as TF.js's own Reshape kernel returns it). */
function reshaped(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

let registered = false;

/** Register the webgpu dropout kernel (once). */
export function registerWebgpuDropout(): void {
  if (registered || tf.getKernel(FUSED_KERNELS.dropout, "webgpu")) return;
  registered = true;
  tf.registerKernel({
    kernelName: FUSED_KERNELS.dropout,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WebgpuBackendLike;
      const x = (inputs as { x: tf.TensorInfo }).x;
      const { rate, seed } = attrs as unknown as { rate: number; seed: number };
      const n = x.shape.reduce((a, c) => a * c, 1);
      const threshold = Math.min(2 ** 32 - 1, Math.floor(rate * 2 ** 32));
      const y = b.runWebGPUProgram(
        program(
          "simcse_dropout",
          ["X"],
          n,
          `let h = fmix32((u32(index) * 0x9e3779b1u) ^ uniforms.seed);
          result[index] = select(0.0, X[index] * uniforms.inv, h >= uniforms.threshold);`,
          "seed : u32, threshold : u32, inv : f32,",
        ),
        [flat(x)],
        "float32",
        [
          { type: "uint32", data: [seed >>> 0] },
          { type: "uint32", data: [threshold >>> 0] },
          { type: "float32", data: [1 / (1 - rate)] },
        ],
      );
      return reshaped(y, x.shape);
    },
  });
}
