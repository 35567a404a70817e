/**
 * One WGSL compute dispatch with several outputs on the TF.js webgpu backend's own device and command
 * stream. TF.js's program runner (`runWebGPUProgram`) binds exactly one writable buffer, so a kernel
 * that returns LayerNorm's three outputs, or updates a parameter and both AdamW moments in place,
 * could only be written there as several dispatches. This helper records the dispatch the way the
 * runner does: it uploads inputs, binds the tensors' GPU buffers (outputs first, as
 * `read_write`; inputs after them, as `read`; the uniforms last), marks every bound tensor as owned by
 * the pending command queue (so disposing one before the queue is submitted is deferred, as TF.js does
 * for its own programs), and submits after TF.js's `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE` dispatches.
 * Nothing is read back. Inside `tf.profile` or `tf.time` a dispatch gets a pass of its own with
 * timestamp writes and is reported under its `key`, as TF.js times its own programs.
 *
 * It relies on internals of `@tensorflow/tfjs-backend-webgpu` 4.22 (the version `deno.json` pins):
 * `tensorMap`, `uploadToGPU`, `makeUniforms`, the command/compute-pass encoders and
 * `commandQueueOwnedIds` (see docs/GPU.md). A tensor written in place has its CPU copy (cached by an
 * earlier read) dropped, so the next read sees the new values.
 *
 * @example
 * ```ts
 * import { tf } from "../../runtime/tf.ts";
 * import { useBackend } from "../backend.ts";
 * import { bindingsWgsl, dispatchWgsl, newOutput } from "./dispatch.ts";
 * await useBackend("webgpu");
 * const x = tf.tensor1d([1, 2, 3]);
 * const y = newOutput([3]);
 * dispatchWgsl({
 *   key: "twice",
 *   code: bindingsWgsl(["Y"], ["X"], "n : u32,") + `
 *     @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g : vec3<u32>) {
 *       if (g.x < u.n) { Y[g.x] = 2.0 * X[g.x]; }
 *     }`,
 *   outputs: [y],
 *   inputs: [x],
 *   uniforms: [{ type: "uint32", data: [3] }],
 *   workgroups: 1,
 * });
 * console.log(await tf.engine().makeTensorFromTensorInfo(y).data()); // [2, 4, 6]
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";

/** A uniform scalar, as TF.js's `makeUniforms` takes it. */
export interface Uniform {
  type: "int32" | "uint32" | "float32";
  data: number[];
}

interface TensorData {
  resource: GPUBuffer | null;
  values: unknown;
  refCount: number;
}

/** The members of tfjs-backend-webgpu's `WebGPUBackend` this module uses. */
interface WebgpuInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: unknown): TensorData };
  uploadToGPU(dataId: unknown): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  makeUniforms(u: Uniform[]): GPUBufferBinding;
  commandQueueOwnedIds: WeakSet<object>;
  ensureCommandEncoderReady(): void;
  commandEncoder: GPUCommandEncoder;
  computePassEncoder: GPUComputePassEncoder | null;
  endComputePassEncoder(): void;
  dispatchCountInPass: number;
  submitQueue(): void;
  activeTimers: { name: string; query: Promise<number> }[] | null;
  supportTimestampQuery: boolean;
  querySet: GPUQuerySet | null;
  querySetCount: number;
  getQueryTime(): Promise<number>;
}

function internals(): WebgpuInternals {
  if (tf.getBackend() !== "webgpu") throw new Error("a WGSL dispatch needs the webgpu backend");
  return tf.backend() as unknown as WebgpuInternals;
}

/** The number of elements of a tensor of `shape`. */
export const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** The 1-D view of a tensor's data (the kernels index flat arrays). */
export const flatView = (t: tf.TensorInfo): tf.TensorInfo => ({
  dataId: t.dataId,
  shape: [sizeOf(t.shape)],
  dtype: t.dtype,
});

/** The largest number of workgroups along one dispatch dimension (WebGPU's default limit). */
export const MAX_GROUPS_PER_DIM = 65535;

/**
 * WGSL declarations of a dispatch's bindings: `outputs` as `read_write` f32 arrays at bindings 0…,
 * `inputs` as `read` f32 arrays after them, and the uniform struct `u` (fields `uniforms`, e.g.
 * `"n : u32, eps : f32,"`, then `_groupsX : u32`, the dispatch's x size, which {@link dispatchWgsl}
 * appends) last. {@link groupIndexWgsl} reads `_groupsX`. A name ending in `:i32` (`"Ids:i32"`)
 * declares an `array<i32>`, for an int32 tensor.
 */
export function bindingsWgsl(outputs: string[], inputs: string[], uniforms: string): string {
  let b = 0;
  const decl = (name: string, access: string) => {
    const [n, type] = name.endsWith(":i32") ? [name.slice(0, -4), "i32"] : [name, "f32"];
    return `@group(0) @binding(${b++}) var<storage, ${access}> ${n} : array<${type}>;`;
  };
  return [
    ...outputs.map((n) => decl(n, "read_write")),
    ...inputs.map((n) => decl(n, "read")),
    `struct Uniforms { ${uniforms} _groupsX : u32, };`,
    `@group(0) @binding(${b}) var<uniform> u : Uniforms;`,
  ].join("\n");
}

/** WGSL: the flat index of a workgroup in a 2-D grid of `_groupsX` columns (uniform per workgroup). */
export const groupIndexWgsl = "(wid.y * u._groupsX + wid.x)";

/** A fresh output of `shape` (float32 unless `dtype` says int32; its GPU buffer is acquired at dispatch). */
export function newOutput(shape: number[], dtype: "float32" | "int32" = "float32"): tf.TensorInfo {
  return internals().makeTensorInfo(shape, dtype);
}

/** True when `t`'s buffer belongs to no other tensor, so a kernel may write it in place. */
export function exclusiveOnDevice(t: tf.TensorInfo): boolean {
  return internals().tensorMap.get(t.dataId).refCount === 1;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipeline(device: GPUDevice, key: string, code: string): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, cache = new Map());
  let p = cache.get(key);
  if (!p) {
    const module = device.createShaderModule({ code, label: key });
    p = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: key });
    cache.set(key, p);
  }
  return p;
}

/** One dispatch: see the module doc. */
export interface WgslDispatch {
  /** Pipeline cache key: must change whenever `code` does. */
  key: string;
  /** The whole WGSL module, bindings from {@link bindingsWgsl}, entry point `main`. */
  code: string;
  /** float32 (or int32) tensors written (fresh from {@link newOutput}, or existing ones updated in place). */
  outputs: tf.TensorInfo[];
  /** float32 (or int32) tensors read. */
  inputs: tf.TensorInfo[];
  /** Values of the uniform fields, in declaration order (`_groupsX` is appended here). */
  uniforms: Uniform[];
  /** Number of workgroups, laid out as a 2-D grid when it exceeds {@link MAX_GROUPS_PER_DIM}. */
  workgroups: number;
}

/** Record one dispatch on the webgpu backend's command stream (see the module doc). */
export function dispatchWgsl(d: WgslDispatch): void {
  const be = internals();
  for (const t of [...d.outputs, ...d.inputs]) {
    if (t.dtype !== "float32" && t.dtype !== "int32") {
      throw new Error(`${d.key}: a ${t.dtype} tensor where float32 or int32 is expected`);
    }
  }
  if (d.workgroups <= 0) {
    for (const o of d.outputs) { // nothing to compute: empty outputs read as empty arrays
      const data = be.tensorMap.get(o.dataId);
      if (!data.resource) data.values = o.dtype === "int32" ? new Int32Array(0) : new Float32Array(0);
    }
    return;
  }
  const gx = Math.min(d.workgroups, MAX_GROUPS_PER_DIM), gy = Math.ceil(d.workgroups / gx);
  if (gy > MAX_GROUPS_PER_DIM) throw new Error(`${d.key}: ${d.workgroups} workgroups are too many`);
  for (const t of [...d.outputs, ...d.inputs]) be.uploadToGPU(t.dataId);
  const p = pipeline(be.device, d.key, d.code);
  const uniforms = [...d.uniforms, { type: "uint32" as const, data: [gx] }];
  while (uniforms.length % 4) uniforms.push({ type: "uint32", data: [0] }); // 16-byte struct size
  const buffers = [...d.outputs, ...d.inputs].map((t) => ({ buffer: be.tensorMap.get(t.dataId).resource! }));
  const bindGroup = be.device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: [...buffers, be.makeUniforms(uniforms)].map((resource, binding) => ({ binding, resource })),
  });
  for (const t of [...d.outputs, ...d.inputs]) be.commandQueueOwnedIds.add(t.dataId as object);
  be.ensureCommandEncoderReady();
  const timed = be.activeTimers != null && be.supportTimestampQuery; // inside tf.profile / tf.time
  if (timed) { // a pass of its own with timestamps, as TF.js times its programs (recordAndSubmit)
    be.endComputePassEncoder();
    be.querySet ??= be.device.createQuerySet({ type: "timestamp", count: be.querySetCount });
    be.computePassEncoder = be.commandEncoder.beginComputePass({
      timestampWrites: { querySet: be.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
  } else if (!be.computePassEncoder) be.computePassEncoder = be.commandEncoder.beginComputePass({});
  be.computePassEncoder.setPipeline(p);
  be.computePassEncoder.setBindGroup(0, bindGroup);
  be.computePassEncoder.dispatchWorkgroups(gx, gy, 1);
  be.dispatchCountInPass++;
  for (const o of d.outputs) be.tensorMap.get(o.dataId).values = null; // written on the device
  if (be.activeTimers != null) {
    be.endComputePassEncoder(); // TF.js's timed programs open their own passes
    if (timed) be.activeTimers.push({ name: d.key, query: be.getQueryTime() });
  } else if ((tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number) <= be.dispatchCountInPass) {
    be.endComputePassEncoder();
    be.submitQueue();
  }
}
