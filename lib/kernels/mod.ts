/**
 * The public face of the backends: what library code outside `lib/kernels/` may use, the cpu
 * backend's in-place buffer access and pool, the native (C) kernels and oneDNN matmuls, and the WebGPU
 * kernels. Backend selection (`backend.ts`, which loads every backend) is the entry points'
 * own door; everything else in this folder is a backend's internals (docs/ARCHITECTURE.md).
 *
 * @module
 */
export { cpuAcceleration, hasSkylakeXFlags } from "./cpu_accel.ts";
export { blasInfo, loadBlas, setBlasThreads } from "./cpu_blas.ts";
export {
  allocFloat32,
  allocInt32,
  exclusiveFloat32,
  peekFloat32,
  peekInt32,
  releaseFloat32,
  storageWriteEpoch,
} from "./cpu_pool.ts";
export {
  cacheDir,
  cpuFlags,
  halfBatchGemmFor,
  loadNativeKernels,
  type NativeKernels,
  nativeKernels,
  nativeKernelsUnavailableReason,
} from "./native_kernels.ts";
export {
  batchedGemmReadsCodes,
  describeMatmul,
  gemm,
  gemmEngine,
  type GemmOperand,
  type GemmSpec,
  gemmWidensOperands,
  loadOneDnn,
  oneDnnSymbols,
  packHalfFast,
  roundHalfFast,
  setOneDnnEnabled,
  setOneDnnThreads,
  unpackHalfFast,
} from "./onednn.ts";
export { webgpuPackF16, webgpuRoundF16, webgpuUnpackF16 } from "./webgpu/fp16_round.ts";
export {
  type ViewStrides,
  webgpuGemm,
  type WebgpuGemmOperand,
  webgpuGemmPipelines,
  type WebgpuGemmSpec,
  webgpuMatMul,
} from "./webgpu/matmul.ts";
export { setWebgpuF16, webgpuF16Support } from "./webgpu/f16_device.ts";
export { type AdamWScalars, webgpuAdamW } from "./webgpu/adamw.ts";
export { FUSED_KERNELS, type HeadDims, type HeadMatMulAttrs } from "./kernel_names.ts";
