import assert from "node:assert/strict";
import { openblasCoreHint } from "./cpu_accel.ts";
import type { BlasInfo } from "./cpu_blas.ts";

const info = (corename: string): BlasInfo => ({ path: "libopenblas.so.0", config: "", corename, threads: 2 });
const AVX512 = "flags : fpu sse2 avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl";

Deno.test({
  name:
    "OpenBLAS core advice: only for pre-AVX-512 kernels on an AVX-512 CPU, never when OPENBLAS_CORETYPE is set",
  ignore: Deno.env.get("OPENBLAS_CORETYPE") !== undefined, // the function stays silent then by design
  fn() {
    assert.match(openblasCoreHint(info("Haswell"), AVX512)!, /OPENBLAS_CORETYPE=SkylakeX/);
    assert.match(openblasCoreHint(info("Zen"), AVX512)!, /Zen kernels/);
    assert.equal(openblasCoreHint(info("SkylakeX"), AVX512), null);
    assert.equal(openblasCoreHint(info("Haswell"), "flags : fpu sse2 avx avx2 fma"), null); // an AVX2 CPU
    assert.equal(openblasCoreHint(info(""), AVX512), null); // not OpenBLAS (Accelerate)
  },
});
