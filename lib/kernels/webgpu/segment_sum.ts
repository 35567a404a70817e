/**
 * `UnsortedSegmentSum`, the gradient of `tf.gather` (so of every embedding table), on the TF.js webgpu
 * backend, without atomics. TF.js's own kernel adds each element of x into its segment with a
 * compare-and-swap loop on the f32 bits; when many rows share a segment (BERT's token-type table: every
 * token in row 0; positions: one row per sequence) the threads fight over the same words. On an H200
 * the three embedding gradients of a BERT-base training step took 0.99 s of a 3.1 s step
 * (docs/GPU.md, "On the H200"). Here it is three dispatches, each thread working alone:
 *
 * 1. **links**: for each row n of x, whether it is the first row of its segment and which row of the
 *    same segment comes next (a scan of the ids: at most N² comparisons for N rows, the batch's tokens);
 * 2. **zeros** over the output;
 * 3. **sums**: one thread per (first row, column) adds the column along its chain of rows, in row order
 *    from zero, and writes the segment's row.
 *
 * The additions are in the order of the cpu backend's row gradient (`lib/ops/row_gradient.ts`), so
 * the result does not change from run to run. float32 and int32 values (TF.js 4.22's own kernel returns
 * the float bits of int32 sums); ids outside [0, numSegments) are dropped, as TF does.
 *
 * @example
 * ```ts
 * import { registerWebgpuSegmentSum } from "./segment_sum.ts";
 * registerWebgpuSegmentSum(); // after the webgpu backend is active; idempotent
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";
import {
  bindingsWgsl,
  dispatchWgsl,
  flatView as flat,
  groupIndexWgsl,
  newOutput,
  sizeOf as size,
} from "./dispatch.ts";

const KERNEL = "UnsortedSegmentSum";
/** Threads per workgroup. */
const WG = 256;

const HEAD = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let i = ${groupIndexWgsl} * ${WG}u + lid;`;

/** Link[2n] = 1 when row n is its segment's first row, Link[2n + 1] = the segment's next row or -1. */
const LINKS = bindingsWgsl(["Link:i32"], ["Seg:i32"], "n : u32,") + /* wgsl */ `
${HEAD}
  if (i >= u.n) { return; }
  let id = Seg[i];
  var first = 1;
  for (var m = 0u; m < i; m++) {
    if (Seg[m] == id) { first = 0; break; }
  }
  var next = -1;
  for (var m = i + 1u; m < u.n; m++) {
    if (Seg[m] == id) { next = i32(m); break; }
  }
  Link[2u * i] = first;
  Link[2u * i + 1u] = next;
}`;

const zeros = (t: string) =>
  bindingsWgsl([`Out${t}`], [], "n : u32,") + /* wgsl */ `
${HEAD}
  if (i < u.n) { Out[i] = ${t ? "0i" : "0.0f"}; }
}`;

/** Out[id, c] = Σ X[m, c] over the chain of rows of segment id, from its first row on. */
const sums = (t: string) =>
  bindingsWgsl([`Out${t}`], [`X${t}`, "Seg:i32", "Link:i32"], "n : u32, cols : u32, segments : u32,") +
  /* wgsl */ `
${HEAD}
  if (i >= u.n) { return; }
  let row = i / u.cols;
  let c = i % u.cols;
  if (Link[2u * row] == 0) { return; }
  let id = Seg[row];
  if (id < 0 || u32(id) >= u.segments) { return; }
  var s = ${t ? "0i" : "0.0f"};
  var m = i32(row);
  loop {
    s = s + X[u32(m) * u.cols + c];
    m = Link[2u * u32(m) + 1u];
    if (m < 0) { break; }
  }
  Out[u32(id) * u.cols + c] = s;
}`;

const u32 = (v: number) => ({ type: "uint32" as const, data: [v] });

/**
 * Σ of x's rows per segment id: x [N, ...inner] (N = segmentIds' size), out [numSegments, ...inner];
 * the dispatches described in the module doc. float32 or int32 x, int32 ids.
 */
export function webgpuSegmentSum(
  x: tf.TensorInfo,
  segmentIds: tf.TensorInfo,
  numSegments: number,
): tf.TensorInfo {
  const rows = size(segmentIds.shape);
  const inner = x.shape.slice(segmentIds.shape.length);
  const cols = size(inner);
  if (x.dtype !== "float32" && x.dtype !== "int32") throw new Error(`${KERNEL}: ${x.dtype} values`);
  if (size(x.shape) !== rows * cols) {
    throw new Error(`${KERNEL}: ids of shape [${segmentIds.shape}] do not lead x of shape [${x.shape}]`);
  }
  const t = x.dtype === "int32" ? ":i32" : "";
  const out = newOutput([numSegments, ...inner], x.dtype === "int32" ? "int32" : "float32");
  const total = numSegments * cols;
  dispatchWgsl({
    key: `simcse_segment_zeros${t}`,
    code: zeros(t),
    outputs: [flat(out)],
    inputs: [],
    uniforms: [u32(total)],
    workgroups: Math.ceil(total / WG),
  });
  if (rows * cols === 0 || total === 0) return out;
  const link = newOutput([2 * rows], "int32");
  dispatchWgsl({
    key: "simcse_segment_links",
    code: LINKS,
    outputs: [link],
    inputs: [flat(segmentIds)],
    uniforms: [u32(rows)],
    workgroups: Math.ceil(rows / WG),
  });
  dispatchWgsl({
    key: `simcse_segment_sums${t}`,
    code: sums(t),
    outputs: [flat(out)],
    inputs: [flat(x), flat(segmentIds), link],
    uniforms: [u32(rows * cols), u32(cols), u32(numSegments)],
    workgroups: Math.ceil((rows * cols) / WG),
  });
  tf.backend().disposeData(link.dataId); // deferred by TF.js until the queue holding the dispatches is submitted
  return out;
}

let stock: tf.KernelConfig | undefined;

/** Put {@link webgpuSegmentSum} in place of TF.js's `UnsortedSegmentSum` on webgpu (idempotent). */
export function registerWebgpuSegmentSum(): void {
  if (stock) return;
  const current = tf.getKernel(KERNEL, "webgpu");
  if (!current) return; // no webgpu backend in this build
  stock = current;
  const stockFn = current.kernelFunc;
  tf.unregisterKernel(KERNEL, "webgpu");
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: "webgpu",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo, ids = args.inputs.segmentIds as tf.TensorInfo;
      if ((x.dtype !== "float32" && x.dtype !== "int32") || ids.dtype !== "int32") return stockFn(args);
      return webgpuSegmentSum(x, ids, (args.attrs as { numSegments: number }).numSegments);
    },
  });
}

/** Put TF.js's own kernel back (tests compare the two). */
export function unregisterWebgpuSegmentSum(): void {
  if (!stock) return;
  tf.unregisterKernel(KERNEL, "webgpu");
  tf.registerKernel(stock);
  stock = undefined;
}
