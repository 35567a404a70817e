/**
 * The resume state of a training run, in `<outputDir>/resume/`: every trained variable
 * (`weights.safetensors`, our internal layout), the AdamW moments (`optimizer.safetensors`) and
 * `trainer_state.json` (step, best metric, config). The folder is written under a temporary name and
 * swapped in, so an interruption at any instant leaves the previous complete state.
 *
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { InputError } from "../runtime/errors.ts";
import { readSafetensors, writeSafetensors } from "../checkpoint/safetensors.ts";
import { type StateDict, toFloat32 } from "../checkpoint/state_dict.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import { readJsonConfig } from "../checkpoint/hf_folder.ts";
import type { AdamW } from "./adamw.ts";
import { exists } from "../runtime/fs.ts";

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  bestMetric: number | null;
  bestStep: number | null;
  runId: string;
  /** JSON of the resolved config, to refuse resuming with a different one. */
  configHash: string;
}

/** Save variables, optimizer and trainer state into `<outputDir>/resume/` atomically (folder swap). */
export async function saveTrainState(
  outputDir: string,
  vars: Map<string, tf.Variable>,
  opt: AdamW,
  state: TrainerState,
): Promise<void> {
  const tmp = `${outputDir}/resume.tmp`;
  const dst = `${outputDir}/resume`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  const weights: StateDict = new Map();
  const list = [...vars];
  const read = await Promise.all(list.map(([, v]) => v.data())) as Float32Array[]; // one async batch
  list.forEach(([n, v], i) =>
    weights.set(n, { dtype: "F32", shape: v.shape, data: Float32Array.from(read[i]) })
  );
  await writeSafetensors(`${tmp}/weights.safetensors`, weights, {
    layout: "simcse-deno internal (Linear kernels [in, out])",
  });
  const os = await opt.stateAsync(); // moments may live on the device (webgpu)
  const moments: StateDict = new Map();
  for (const [n, m] of Object.entries(os.m)) {
    moments.set(`m.${n}`, { dtype: "F32", shape: [m.length], data: m });
  }
  for (const [n, v] of Object.entries(os.v)) {
    moments.set(`v.${n}`, { dtype: "F32", shape: [v.length], data: v });
  }
  await writeSafetensors(`${tmp}/optimizer.safetensors`, moments, { adamw_step: String(os.step) });
  await writeFileAtomic(`${tmp}/trainer_state.json`, JSON.stringify(state, null, 2) + "\n");
  const old = `${outputDir}/resume.old`;
  await Deno.remove(old, { recursive: true }).catch(() => {});
  if (await exists(dst)) await Deno.rename(dst, old);
  await Deno.rename(tmp, dst);
  await Deno.remove(old, { recursive: true }).catch(() => {});
}

/** Path of the newest complete resume state, or null. (`resume.old` survives a crash mid-swap.) */
export async function findTrainState(outputDir: string): Promise<string | null> {
  for (const d of [`${outputDir}/resume`, `${outputDir}/resume.old`]) {
    if (await exists(`${d}/trainer_state.json`)) return d;
  }
  return null;
}

/** Load a resume state into existing variables and optimizer; returns the trainer state. */
export async function loadTrainState(
  dir: string,
  vars: Map<string, tf.Variable>,
  opt: AdamW,
): Promise<TrainerState> {
  const state = (await readJsonConfig(`${dir}/trainer_state.json`)) as unknown as TrainerState;
  const weights = await readSafetensors(`${dir}/weights.safetensors`);
  for (const [n, v] of vars) {
    const t = weights.get(n);
    if (!t) {
      throw new InputError("missing variable in resume state", {
        file: `${dir}/weights.safetensors`,
        key: n,
      });
    }
    if (t.shape.join(",") !== v.shape.join(",")) {
      throw new InputError(`shape [${t.shape}] != [${v.shape}]`, {
        file: `${dir}/weights.safetensors`,
        key: n,
      });
    }
    const x = tf.tensor(toFloat32(t), v.shape, "float32");
    v.assign(x);
    x.dispose();
  }
  const moments = await readSafetensors(`${dir}/optimizer.safetensors`);
  const m: Record<string, Float32Array> = {}, vv: Record<string, Float32Array> = {};
  for (const [k, t] of moments) {
    if (k.startsWith("m.")) m[k.slice(2)] = toFloat32(t);
    else if (k.startsWith("v.")) vv[k.slice(2)] = toFloat32(t);
  }
  opt.load({ step: state.step, m, v: vv });
  return state;
}
