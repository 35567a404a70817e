import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../../runtime/tf.ts";
import { useBackend } from "../backend.ts";
import { skipBackend } from "../../../testing/backends.ts";
import { fusedDropout } from "../../ops/fused.ts";
import { dropoutHash } from "../cpu_fused.ts";

Deno.test({
  name:
    "fused dropout on webgpu keeps exactly the elements the cpu kernel's hash keeps, scaled by 1/(1-p), and so does its gradient",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const n = 3 * 1001, rate = 0.1, seed = 123456789;
    const xv = Float32Array.from({ length: n }, (_, i) => Math.sin(i) + 2); // never 0
    const x = tf.tensor2d(xv, [3, 1001]);
    const [y, dx] = tf.tidy(() => {
      const f = (t: tf.Tensor) => fusedDropout(t, rate, seed)!;
      return [f(x), tf.grad(f)(x, tf.onesLike(x))];
    });
    strictEqual(y.shape.join(), x.shape.join());
    const [yv, dxv] = await Promise.all([y.data(), dx.data()]) as Float32Array[];
    tf.dispose([x, y, dx]);
    // The independent reference: the cpu kernel's hash, evaluated here in JS.
    const threshold = Math.floor(rate * 2 ** 32), inv = 1 / (1 - rate);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const keep = dropoutHash(seed >>> 0, i) >= threshold;
      if (keep) kept++;
      const want = keep ? xv[i] * inv : 0, wantD = keep ? inv : 0;
      ok(Math.abs(yv[i] - want) <= 1e-6 * Math.abs(want), `y[${i}] = ${yv[i]}, want ${want}`);
      ok(Math.abs(dxv[i] - wantD) <= 1e-6, `dx[${i}] = ${dxv[i]}, want ${wantD}`);
    }
    ok(kept > 0.85 * n && kept < 0.95 * n, `kept ${kept} of ${n}`);
  },
});
