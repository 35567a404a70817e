/**
 * `bench/ffi_profile.ts` (the native-call profile of `deno task bench --profile`; `deno task test` does not
 * walk bench/, so its check lives here): the wrapped functions compute what they did, each call is counted
 * once under its own name, and stopping puts the original functions back.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { reportSkip, requireTool } from "./tools.ts";
import { loadBlas, loadNativeKernels } from "../lib/kernels/mod.ts";
import { startFfiProfile, stopFfiProfile } from "../bench/ffi_profile.ts";

const ccSkip = await requireTool("cc");
reportSkip("the native-call profile test", ccSkip);
const kernels = ccSkip === null ? loadNativeKernels() : null;

Deno.test({
  name: "the native-call profile counts each wrapped call once, keeps its result and restores the functions",
  ignore: kernels === null,
  fn() {
    const k = kernels!;
    const add = k.add, blas = loadBlas(), sgemm = blas?.sgemm;
    const wrapped = startFfiProfile();
    ok(wrapped > 10, `${wrapped} functions wrapped`);
    strictEqual(startFfiProfile(), wrapped, "a second start wraps nothing more");
    ok(k.add !== add, "the kernels' add is wrapped");
    const a = new Float32Array([1, 2, 3]), b = new Float32Array([10, 20, 30]), out = new Float32Array(3);
    k.add(a, b, out, 3);
    k.add(b, b, out, 3);
    deepStrictEqual([...out], [20, 40, 60]); // the last call's sums, by hand
    if (blas) {
      const c = new Float32Array(1);
      blas.sgemm(false, false, 1, 1, 3, 1, a, 3, b, 1, 0, c, 1); // 1·10 + 2·20 + 3·30
      strictEqual(c[0], 140);
    }
    const profile = stopFfiProfile();
    strictEqual(k.add, add, "add restored");
    if (blas) strictEqual(blas.sgemm, sgemm, "sgemm restored");
    const byName = new Map(profile.map((p) => [p.fn, p]));
    strictEqual(byName.get("C add")?.calls, 2);
    ok(byName.get("C add")!.ms >= 0 && Number.isFinite(byName.get("C add")!.cpuMs));
    if (blas) strictEqual(byName.get("sgemm")?.calls, 1);
    deepStrictEqual(
      profile.map((p) => p.ms),
      profile.map((p) => p.ms).sort((x, y) => y - x),
      "slowest first",
    );
    deepStrictEqual(stopFfiProfile(), profile, "stopping again changes nothing");
  },
});
