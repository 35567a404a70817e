/**
 * The WebGPU device behind the TF.js webgpu backend, requested with the `shader-f16` feature where the
 * adapter has it, and whether the hand-written fp16 kernels (`matmul.ts`) may use real WGSL `f16` on
 * it. TF.js's own registration asks for no `shader-f16`; `lib/kernels/backend.ts` registers the webgpu
 * backend with the device made here instead (see docs/GPU.md).
 *
 * `shader-f16` alone is not enough: WGSL lets an implementation flush subnormal f16 values to zero, and
 * binary16 gradients are often subnormal (below 2^-14). At device creation a one-dispatch probe converts
 * f16 subnormals, the largest finite half and ±Inf to f32 through f16 storage and workgroup memory, and
 * through `unpack2x16float` and back to f16; the f16 kernels are used only when all come back exact. Otherwise the fp16 kernels emulate binary16 with
 * f32 math plus integer rounding (as on cpu), and {@link announceF16Fallback} says so once.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { webgpuF16Support } from "./f16_device.ts";
 * await useBackend("webgpu");
 * console.log(webgpuF16Support()); // { f16: true } on lavapipe
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";

/** Whether the fp16 kernels run real WGSL f16 on the current webgpu device, and why not. */
export interface F16Support {
  f16: boolean;
  reason?: string;
}

// deno-lint-ignore no-explicit-any
type Gpu = any;

const support = new WeakMap<object, F16Support>();
let forcedOff = false;
let announced = false;

/** f16 bit patterns the probe converts, and their exact f32 values. */
const PROBE: [number, number][] = [
  [0x0001, 2 ** -24],
  [0x8001, -(2 ** -24)],
  [0x03ff, 1023 * 2 ** -24],
  [0x0200, 2 ** -15],
  [0x7bff, 65504],
  [0x3c01, 1 + 2 ** -10],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
];

const PROBE_WGSL = /* wgsl */ `enable f16;
@group(0) @binding(0) var<storage, read> src : array<f16>;
@group(0) @binding(1) var<storage, read_write> dst : array<f32>;
@group(0) @binding(2) var<storage, read> words : array<u32>;
var<workgroup> tile : array<f16, ${PROBE.length}>;
@compute @workgroup_size(${PROBE.length})
fn main(@builtin(local_invocation_index) i : u32) {
  tile[i] = src[i];
  workgroupBarrier();
  let j = ${PROBE.length - 1}u - i;
  dst[i] = f32(tile[j]);
  // The same half through unpack2x16float, and back to f16 (exact for a binary16 value).
  dst[${PROBE.length}u + i] = f32(f16(unpack2x16float(words[j / 2u])[j % 2u]));
}`;

/** The first non-empty line of a (WGSL compiler) message, for a one-line notice. */
function firstLine(message: string): string {
  return message.split("\n").map((l) => l.trim()).find((l) => l) ?? "no message";
}

/** Run the subnormal probe on `device`; a reason string when it fails. */
async function probe(device: Gpu): Promise<string | undefined> {
  const n = PROBE.length;
  const G = (globalThis as Gpu).GPUBufferUsage, M = (globalThis as Gpu).GPUMapMode;
  const src = device.createBuffer({ size: n * 2, usage: G.STORAGE | G.COPY_DST });
  const dst = device.createBuffer({ size: n * 8, usage: G.STORAGE | G.COPY_SRC });
  const read = device.createBuffer({ size: n * 8, usage: G.MAP_READ | G.COPY_DST });
  try {
    device.queue.writeBuffer(src, 0, new Uint16Array(PROBE.map(([h]) => h)));
    device.pushErrorScope("validation");
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code: PROBE_WGSL }), entryPoint: "main" },
    });
    const bind = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: src } },
        { binding: 1, resource: { buffer: dst } },
        { binding: 2, resource: { buffer: src } },
      ],
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(dst, 0, read, 0, n * 8);
    device.queue.submit([enc.finish()]);
    const err = await device.popErrorScope();
    if (err) return `the f16 probe kernel did not compile (${firstLine(err.message)})`;
    await read.mapAsync(M.READ);
    const got = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    for (let i = 0; i < 2 * n; i++) {
      const [h, want] = PROBE[n - 1 - (i % n)];
      if (got[i] !== want) return `f16 0x${h.toString(16)} reads as ${got[i]}, not ${want}`;
    }
    return undefined;
  } finally {
    src.destroy();
    dst.destroy();
    read.destroy();
  }
}

/**
 * A device for the TF.js webgpu backend from `adapter`: the limits and features TF.js's registration
 * asks for, plus `shader-f16` when the adapter has it; records whether the f16 kernels may use it.
 */
export async function requestWebgpuDevice(adapter: Gpu): Promise<Gpu> {
  const features: string[] = [];
  if (adapter.features.has("timestamp-query")) features.push("timestamp-query");
  const hasF16 = adapter.features.has("shader-f16");
  if (hasF16) features.push("shader-f16");
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  let reason: string | undefined = hasF16 ? undefined : "the adapter has no shader-f16";
  if (!reason) {
    try {
      reason = await probe(device);
    } catch (e) {
      reason = `the f16 probe failed (${firstLine((e as Error).message)})`;
    }
  }
  support.set(device, reason ? { f16: false, reason } : { f16: true });
  return device;
}

/** The current webgpu backend's device (undefined on other backends). */
export function webgpuDevice(): Gpu | undefined {
  if (tf.getBackend() !== "webgpu") return undefined;
  return (tf.backend() as unknown as { device: Gpu }).device;
}

/** Whether the fp16 kernels use WGSL f16 on the current webgpu device. */
export function webgpuF16Support(): F16Support {
  const device = webgpuDevice();
  if (!device) return { f16: false, reason: "the webgpu backend is not active" };
  if (forcedOff) return { f16: false, reason: "switched off (setWebgpuF16)" };
  return support.get(device) ??
    { f16: false, reason: "the webgpu backend was registered without the toolkit's device" };
}

/** Switch the f16 kernels off (tests and benches compare them with the f32 emulation). */
export function setWebgpuF16(on: boolean): void {
  forcedOff = !on;
}

/** Say once per process, on first use, that the fp16 kernels emulate binary16 in f32 and why. */
export function announceF16Fallback(): void {
  if (announced || forcedOff) return;
  announced = true;
  console.warn(
    `webgpu: fp16 kernels emulate binary16 with f32 math and rounding (${webgpuF16Support().reason})`,
  );
}
