import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { kernelEnv, NOTEBOOK_OPENBLAS_CORETYPE } from "./execute.ts";

const ZEN4 = "flags : fpu sse avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16";
const AVX2 = "flags : fpu sse avx avx2 fma";

Deno.test("kernelEnv pins OpenBLAS's AVX-512 kernels on an AVX-512 CPU", () => {
  strictEqual(NOTEBOOK_OPENBLAS_CORETYPE, "SkylakeX");
  const pinned = { NO_COLOR: "1", OPENBLAS_CORETYPE: "SkylakeX" };
  deepStrictEqual(kernelEnv({ flags: ZEN4, coretype: null }), { env: pinned, info: null, note: null });
  deepStrictEqual(kernelEnv({ flags: ZEN4, coretype: "SkylakeX" }), { env: pinned, info: null, note: null });
});

Deno.test("kernelEnv replaces a caller's other OPENBLAS_CORETYPE and says so", () => {
  const { env, info, note } = kernelEnv({ flags: ZEN4, coretype: "Haswell" });
  deepStrictEqual(env, { NO_COLOR: "1", OPENBLAS_CORETYPE: "SkylakeX" });
  match(info ?? "", /OPENBLAS_CORETYPE=SkylakeX.* not this environment's Haswell$/);
  strictEqual(note, null);
});

Deno.test("kernelEnv pins nothing on a CPU without AVX-512 and says why scores may differ", () => {
  const { env, note } = kernelEnv({ flags: AVX2, coretype: null });
  deepStrictEqual(env, { NO_COLOR: "1" });
  match(note ?? "", /lacks AVX-512/);
  // one flag missing is enough: OpenBLAS's SkylakeX kernels need all five
  match(kernelEnv({ flags: ZEN4.replace(" avx512vl", ""), coretype: null }).note ?? "", /lacks AVX-512/);
});
