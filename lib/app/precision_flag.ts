/**
 * The `--precision fp32|fp16|bf16` flag of the training, evaluation and encoding commands, with
 * SimCSE-Jittor's `--fp16` kept as its alias (and `--set fp16=true` as `--set precision=fp16`).
 *
 * @example
 * ```ts
 * import { precisionFlag, precisionSets } from "./precision_flag.ts";
 * console.log(precisionFlag(undefined, true)); // "fp16"
 * console.log(precisionSets(["fp16=true", "lr=1"], "bf16")); // ["precision=bf16", "lr=1"]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { parsePrecision, type Precision } from "../ops/precision.ts";

/** The precision asked for by `--precision P` and/or `--fp16` (they must agree); fp32 by default. */
export function precisionFlag(value: string | undefined, fp16: boolean): Precision {
  const p = value === undefined ? undefined : parsePrecision(value);
  if (fp16 && p !== undefined && p !== "fp16") {
    throw new InputError(`--fp16 contradicts --precision ${p}; give one of them`);
  }
  return p ?? (fp16 ? "fp16" : "fp32");
}

/**
 * `--set` overrides with the precision flag applied: `fp16=true|false` becomes `precision=fp16|fp32`,
 * and a `--precision` flag (when not fp32 by default) goes first so an explicit `--set precision=` wins.
 */
export function precisionSets(sets: readonly string[], flag: Precision | undefined): string[] {
  const out = sets.map((s) => {
    if (s === "fp16=true") return "precision=fp16";
    if (s === "fp16=false") return "precision=fp32";
    if (s.startsWith("fp16=")) {
      throw new InputError(`config key 'fp16' expects true or false, got '${s.slice(5)}'`);
    }
    if (s.startsWith("precision=")) return `precision=${parsePrecision(s.slice(10))}`;
    return s;
  });
  return flag === undefined || flag === "fp32" ? out : [`precision=${flag}`, ...out];
}
