/**
 * The toolkit's one erf: x·P(x²)/Q(x²), a rational float32 fit, used by the fused GELU kernels (JS and
 * C, `native/simcse_kernels.c` has the same coefficients) and by the cpu backend's `Erf` kernel, so
 * `tf.erf` and the fused GELU agree on cpu.
 *
 * @example
 * ```ts
 * import { erf } from "./erf.ts";
 * console.log(erf(0.5).toFixed(7)); // 0.5204999
 * ```
 * @module
 */

/**
 * erf(x) as x·P(x²)/Q(x²) on x clamped to [−4, 4] (the rational float32 erf fit used by Eigen and
 * XLA; beyond ±4, erf is ±1 in float32), evaluated in float64: no `Math.exp`, so GELU runs at a few
 * ns per element. Checked against tabulated values and against tf.erf in the tests.
 */
export function erf(x: number): number {
  const v = x < -4 ? -4 : x > 4 ? 4 : x;
  const z = v * v;
  const p = ((((((-2.72614225801306e-10 * z + 2.77068142495902e-08) * z - 2.10102402082508e-06) * z -
                5.69250639462346e-05) * z - 7.34990630326855e-04) * z - 2.95459980854025e-03) * z -
    1.60960333262415e-02) * v;
  const q = (((-1.45660718464996e-05 * z - 2.13374055278905e-04) * z - 1.68282697438203e-03) * z -
        7.37332916720468e-03) * z - 1.42647390514189e-02;
  return p / q;
}
