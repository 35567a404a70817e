/**
 * `--set key=value` overrides for typed configs (nanoGPT's configurator idea, strict): unknown keys
 * and values whose type differs from the default are errors that name the key.
 *
 * @example
 * ```ts
 * import { applyOverrides } from "./overrides.ts";
 * const cfg = applyOverrides({ lr: 3e-5, name: "x", mlm: false }, ["lr=1e-4", "mlm=true"]);
 * console.log(cfg.lr, cfg.mlm); // 0.0001 true
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";

/** Return a copy of `base` with each `key=value` applied, parsed to the type of `base[key]`. */
export function applyOverrides<T extends object>(base: T, sets: string[]): T {
  const out = { ...base } as Record<string, unknown>;
  for (const s of sets) {
    const eq = s.indexOf("=");
    if (eq <= 0) throw new InputError(`--set expects key=value, got '${s}'`);
    const key = s.slice(0, eq), raw = s.slice(eq + 1);
    if (!(key in out)) {
      throw new InputError(`unknown config key '${key}'; known: ${Object.keys(out).join(", ")}`);
    }
    const cur = out[key];
    if (typeof cur === "number" || cur === undefined && /^-?[\d.]/.test(raw)) {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) {
        throw new InputError(`config key '${key}' expects a number, got '${raw}'`);
      }
      out[key] = n;
    } else if (typeof cur === "boolean") {
      if (raw !== "true" && raw !== "false") {
        throw new InputError(`config key '${key}' expects true or false, got '${raw}'`);
      }
      out[key] = raw === "true";
    } else if (typeof cur === "string" || cur === undefined) {
      out[key] = raw;
    } else {
      throw new InputError(`config key '${key}' cannot be set from the command line`);
    }
  }
  return out as T;
}
