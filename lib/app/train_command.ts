/**
 * What the three training commands (`reproduce`, `gpt2-wavg`, `chinese`) share: their common flags,
 * the `--set` list with the precision flag applied, the line that says which preset was picked and
 * why, and the exit code of a run's status.
 *
 * @example
 * ```ts
 * import { exitCodeOf, TRAIN_FLAGS } from "./train_command.ts";
 * console.log(Object.keys(TRAIN_FLAGS).includes("precision"), exitCodeOf("interrupted")); // true 130
 * ```
 * @module
 */
import { precisionFlag, precisionSets } from "./precision_flag.ts";

/** Flags every training command takes (`node:util` parseArgs options). */
export const TRAIN_FLAGS: {
  preset: { type: "string" };
  backend: { type: "string"; default: string };
  "data-dir": { type: "string" };
  resume: { type: "boolean"; default: boolean };
  overwrite: { type: "boolean"; default: boolean };
  precision: { type: "string" };
  fp16: { type: "boolean"; default: boolean };
  set: { type: "string"; multiple: true; default: string[] };
} = {
  preset: { type: "string" },
  backend: { type: "string", default: "auto" },
  "data-dir": { type: "string" },
  resume: { type: "boolean", default: false },
  overwrite: { type: "boolean", default: false },
  precision: { type: "string" },
  fp16: { type: "boolean", default: false },
  set: { type: "string", multiple: true, default: [] },
};

/** The usage text of `TRAIN_FLAGS`. */
export const TRAIN_FLAGS_USAGE =
  "[--backend auto|tensorflow|webgpu|wasm|cpu] [--data-dir DIR] [--resume | --overwrite]\n" +
  "       [--precision fp32|fp16|bf16] [--fp16] [--set key=value ...]";

/** The `--set` overrides of parsed `TRAIN_FLAGS` values, with `--precision` / `--fp16` folded in. */
export function trainSets(values: Record<string, unknown>): string[] {
  const flag = precisionFlag(values.precision as string | undefined, values.fp16 === true);
  return precisionSets((values.set ?? []) as string[], flag);
}

/** Say on stderr which preset was chosen without `--preset`, and why. */
export function announcePreset(name: string, why: string): void {
  console.error(`preset: ${name} (${why})`);
}

/** Exit code of a training run's status: 0 completed, 130 interrupted (as Ctrl-C), 1 diverged. */
export function exitCodeOf(status: "completed" | "interrupted" | "diverged"): number {
  return status === "completed" ? 0 : status === "interrupted" ? 130 : 1;
}
