import assert from "node:assert/strict";
import { openblasCoreHint } from "./cpu_accel.ts";
import type { BlasInfo } from "./cpu_blas.ts";

const info = (corename: string): BlasInfo => ({ path: "libopenblas.so.0", config: "", corename, threads: 2 });
const AVX512 = "flags : fpu sse2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl";
const unset = { cpuFlags: AVX512, coretypeEnv: null };

Deno.test("OpenBLAS core advice: only for pre-AVX-512 kernels on an AVX-512 CPU, never when OPENBLAS_CORETYPE is set", () => {
  assert.match(openblasCoreHint(info("Haswell"), unset)!, /OPENBLAS_CORETYPE=SkylakeX/);
  assert.match(openblasCoreHint(info("Zen"), unset)!, /Zen kernels/);
  assert.equal(openblasCoreHint(info("SkylakeX"), unset), null);
  assert.equal(
    openblasCoreHint(info("Haswell"), { cpuFlags: "flags : fpu sse2 avx avx2 fma", coretypeEnv: null }),
    null,
  );
  assert.equal(openblasCoreHint(info(""), unset), null); // not OpenBLAS (Accelerate)
  assert.equal(openblasCoreHint(info("Haswell"), { cpuFlags: AVX512, coretypeEnv: "Haswell" }), null); // a choice was made
});
