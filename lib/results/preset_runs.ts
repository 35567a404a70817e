/**
 * Which run records are results of a preset as published. A run's `config.json` records the
 * `--set key=value` overrides it was started with (`config.overrides`, written by the experiments'
 * `run.ts`); records written before that field existed are compared with the current preset instead,
 * key by key. Result tables list a run as "ours" only when it has no override and completed; any
 * other run is listed apart, with its overrides (or status) next to it.
 *
 * @example
 * ```ts
 * import { configDifferences } from "./preset_runs.ts";
 * console.log(configDifferences({ lr: 1e-4, steps: 12 }, { lr: 1e-4, steps: 1000 })); // ["steps=12"]
 * ```
 * @module
 */

/**
 * Stable JSON (sorted keys, undefined fields dropped) for comparing config values. A path (a string
 * with a `/`) counts by its last segment: where data, models and caches live differs between
 * machines (`data/models/x` and `~/.cache/simcse-ts/models/x` are the same model folder `x`).
 */
function canonical(v: unknown): string {
  if (typeof v === "string" && v.includes("/")) return JSON.stringify(v.replace(/\/+$/, "").split("/").pop());
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "undefined";
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${
    Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) =>
      `${JSON.stringify(k)}:${canonical(o[k])}`
    )
      .join(",")
  }}`;
}

/**
 * Keys whose recorded value differs from the preset's, as `key=value` (strings bare, other values as
 * JSON). A key the record lacks is no difference (config fields added later keep their defaults), nor
 * is a switched-off flag the config no longer has (`fp16: false` from before `precision`).
 */
export function configDifferences(recorded: Record<string, unknown>, preset: object): string[] {
  const p = JSON.parse(JSON.stringify(preset)) as Record<string, unknown>;
  const out: string[] = [];
  for (const k of Object.keys(recorded).sort()) {
    if (k === "overrides" || recorded[k] === undefined) continue;
    if (!(k in p) && (recorded[k] === false || recorded[k] === null)) continue;
    const a = canonical(recorded[k]), b = canonical(p[k]);
    if (a !== b) out.push(`${k}=${typeof recorded[k] === "string" ? recorded[k] : a}`);
  }
  return out;
}

/**
 * The overrides of a run: `["not a known preset"]` when its preset name stands for no preset
 * (`presets` is empty), else `config.overrides` when recorded, else its differences from the closest
 * of `presets`.
 */
export function runOverrides(config: Record<string, unknown>, presets: object[]): string[] {
  if (presets.length === 0) return ["not a known preset"];
  if (Array.isArray(config.overrides)) return config.overrides.map(String);
  return presets.map((p) => configDifferences(config, p)).sort((a, b) => a.length - b.length)[0];
}

/** The note shown next to a run that is not a published result of its preset, or null for one that is. */
export function unpublishedReason(overrides: string[], status: string): string | null {
  const parts: string[] = [];
  if (overrides.length > 0) parts.push(`modified preset: ${overrides.map((o) => `\`${o}\``).join(", ")}`);
  if (status !== "completed") parts.push(status);
  return parts.length > 0 ? parts.join("; ") : null;
}
