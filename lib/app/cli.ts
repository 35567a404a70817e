/**
 * Shared command-line plumbing: strict flag parsing (unknown flags and bad values are errors that
 * list what is accepted) and a `main` wrapper that turns `InputError`s into one clean line on
 * stderr and exit code 1, with no stack trace.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../runtime/errors.ts";
import { printable } from "../runtime/printable.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parse `args` strictly; `--help` prints `usage` and exits 0. An argument that is not a flag is an error
 * ("unexpected argument") unless the command takes some (`{ positionals: true }`: names to fetch, notebooks
 * to run): a stray word, such as the second of two values given to one flag, is never silently dropped.
 */
export function parseFlags<T extends Options>(
  args: string[],
  options: T,
  usage: string,
  opts: { positionals?: boolean } = {},
) {
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean" } },
      strict: true,
      allowPositionals: true,
    });
    if ((parsed.values as Record<string, unknown>).help) {
      console.log(usage);
      Deno.exit(0);
    }
    if (!opts.positionals && parsed.positionals.length > 0) {
      throw new InputError(`unexpected argument '${parsed.positionals[0]}'\n${usage}`);
    }
    return parsed;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${flagErrorLine(e as Error & { code?: string }, Object.keys(options))}\n${usage}`);
  }
}

/**
 * One line for `node:util` `parseArgs`'s errors, whose own text is Node's (several lines for a flag
 * followed by another flag, and advice about `--` for an unknown one); falls back to that text.
 */
function flagErrorLine(e: Error & { code?: string }, names: string[]): string {
  const flag = /'(-{1,2}[^'\s<=]+)/.exec(e.message)?.[1];
  if (flag === undefined) return e.message;
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const near = nearestFlag(flag.replace(/^-+/, ""), [...names, "help"]);
    return `unknown flag ${flag}${near ? ` (did you mean --${near}?)` : ""}`;
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/does not take an argument/.test(e.message)) return `${flag} takes no value`;
    if (/ambiguous/.test(e.message)) {
      return `${flag} needs a value, not another flag (write ${flag}=VALUE if the value starts with '-')`;
    }
    return `${flag} needs a value`;
  }
  return e.message;
}

/** The accepted flag name closest to a mistyped one: within two edits, or the only one it begins. */
function nearestFlag(typed: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const d = editDistance(typed, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  if (best !== undefined) return best;
  const extending = names.filter((n) => typed.length >= 2 && n.startsWith(typed));
  return extending.length === 1 ? extending[0] : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** A flag that must be present. */
export function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value === "") throw new InputError(`missing required flag --${flag}\n${usage}`);
  return value;
}

/** A positive integer flag value (decimal digits only: no sign, fraction, exponent or hex). */
export function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new InputError(`--${flag} must be a positive integer, got '${value}'`);
  }
  return n;
}

/** A non-negative integer flag value (0 allowed; decimal digits only). */
export function nonNegativeInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InputError(`--${flag} must be a non-negative integer, got '${value}'`);
  }
  return n;
}

/** A finite number flag value, optionally within [min, max]. */
export function numberFlag(
  value: string | undefined,
  flag: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new InputError(`--${flag} must be a number, got '${value}'`);
  }
  const { min = -Infinity, max = Infinity } = range;
  if (n < min || n > max) {
    const want = min > -Infinity && max < Infinity
      ? `between ${min} and ${max}`
      : min > -Infinity
      ? `>= ${min}`
      : `<= ${max}`;
    throw new InputError(`--${flag} must be ${want}, got '${value}'`);
  }
  return n;
}

/** Run an async entry point: expected failures print one line and exit 1. */
export async function main(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof InputError || (e instanceof Error && e.name === "InputError")) {
      console.error(`error: ${e.message.split("\n").map((l) => printable(l, 1000)).join("\n")}`);
      Deno.exit(1);
    }
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      console.error(`error: ${printable((e as Error).message)}`);
      Deno.exit(1);
    }
    throw e;
  }
}
