/**
 * The fuzz harness: a {@link FuzzTarget} names a parser, its valid seed files, how to mutate them
 * (a `fast-check` arbitrary of {@link Op} lists) and an oracle for inputs that still load. Every
 * case ends as exactly one of:
 *
 * - `refused`: a clean {@link InputError} whose message names the file (the wanted failure);
 * - `loaded`: the parser returned, and the oracle agrees with what it returned;
 * - `mismatch`: it returned, but the oracle disagrees (a silent wrong number);
 * - `crash`: any other exception (a TypeError, a RangeError, an InputError that does not name
 *   the file, a message of several lines);
 * - `hang`: the case took longer than the time limit (the long run also kills a worker that
 *   stops answering, see `tools/fuzz/main.ts`).
 *
 * Oracles that need PyTorch run afterwards in one batch (`reference/torch_fuzz_oracle.py`): a case
 * may return a `deferred` summary that the batch compares.
 *
 * @example
 * ```ts
 * import { runCases } from "./harness.ts";
 * import { TARGETS } from "./targets.ts";
 * const s = await runCases(TARGETS.find((t) => t.name === "vocab.txt")!, { cases: 50, seed: 1 });
 * console.log(s.crashes, s.mismatches);
 * ```
 * @module
 */

import fc from "fast-check";
import { InputError } from "../../lib/runtime/errors.ts";
import { applyOps, type Op } from "./mutations.ts";

/** A valid input file that mutations start from. */
export interface Seed {
  name: string;
  bytes: Uint8Array;
  /** Target-specific facts computed once (parsed reference result, byte ranges, ...). */
  // deno-lint-ignore no-explicit-any
  info?: any;
}

/** What the oracle says about a loaded case: null = fine, a string = the mismatch. */
export type Verdict = string | null;

/** One parser under fuzz. */
export interface FuzzTarget {
  name: string;
  /** File name the parser is given (every InputError must name it). */
  file: string;
  /** Valid inputs (loaded once). */
  seeds(): Promise<Seed[]>;
  /** Mutations of one seed. */
  mutations(seed: Seed): fc.Arbitrary<Op[]>;
  /** Field separator for line ops (default TAB). */
  separator?: number;
  /**
   * Parse `bytes` (named `file`) and judge the result against the seed. Throws what the parser
   * throws; returns the oracle's verdict, and optionally a summary for a deferred (batch) oracle.
   */
  run(bytes: Uint8Array, seed: Seed, ops: Op[]): Promise<RunResult>;
  /**
   * The batch oracle for deferred summaries: `torch` (`reference/torch_fuzz_oracle.py`) or a kind
   * of `reference/text_fuzz_oracle.py`.
   */
  deferredOracle?: string;
  /** Remove what `seeds()` created (temporary folders). */
  cleanup?(): Promise<void>;
}

/** What {@link FuzzTarget.run} returns for an input that loaded. */
export interface RunResult {
  verdict: Verdict;
  /** Summary (canonical hash) for the batch oracle to compare. */
  deferred?: string;
  /** Files the batch oracle reads, by suffix (default: the mutated bytes as "bin"). */
  files?: Record<string, Uint8Array>;
}

/** How one case ended. */
export type Outcome = "refused" | "loaded" | "mismatch" | "crash" | "hang";

/** A case that went wrong, for the report. */
export interface Finding {
  outcome: Outcome;
  index: number;
  seed: string;
  ops: Op[];
  detail: string;
}

/** Per-target totals. */
export interface Summary {
  target: string;
  cases: number;
  refused: number;
  loaded: number;
  crashes: number;
  hangs: number;
  mismatches: number;
  /** Loaded cases whose verdict waits for the batch oracle. */
  deferred: number;
  findings: Finding[];
  seconds: number;
}

/** One generated case. */
export interface Case {
  seedIndex: number;
  ops: Op[];
}

/** The deterministic list of `count` cases of `target` for `seed`. */
export function generateCases(target: FuzzTarget, seeds: Seed[], count: number, seed: number): Case[] {
  const arb = fc.nat(seeds.length - 1).chain((i) =>
    target.mutations(seeds[i]).map((ops) => ({ seedIndex: i, ops }))
  );
  return fc.sample(arb, { numRuns: count, seed });
}

/** Result of running one case. */
export interface CaseResult {
  outcome: Outcome;
  detail: string;
  ms: number;
  /** Files and summary when the verdict is deferred to a batch oracle. */
  deferred?: { files: Record<string, Uint8Array>; summary: string };
}

/** Run one case and classify it (see the module doc). */
export async function runCase(
  target: FuzzTarget,
  seed: Seed,
  ops: Op[],
  hangMs: number,
): Promise<CaseResult> {
  const bytes = applyOps(seed.bytes, ops, target.separator);
  const t0 = performance.now();
  let outcome: Outcome, detail = "";
  let deferred: CaseResult["deferred"];
  try {
    const r = await target.run(bytes, seed, ops);
    if (r.verdict !== null) {
      outcome = "mismatch";
      detail = r.verdict;
    } else {
      outcome = "loaded";
      if (r.deferred !== undefined) deferred = { files: r.files ?? { bin: bytes }, summary: r.deferred };
    }
  } catch (e) {
    const problem = classifyError(e, target.file);
    outcome = problem === null ? "refused" : "crash";
    detail = problem ?? (e as Error).message;
  }
  const ms = performance.now() - t0;
  if (ms > hangMs) {
    outcome = "hang";
    detail = `took ${ms.toFixed(0)} ms (limit ${hangMs} ms)`;
  }
  return { outcome, detail, ms, deferred };
}

/** null when `e` is a clean one-line InputError naming `file`; else what is wrong with it. */
export function classifyError(e: unknown, file: string): string | null {
  if (!(e instanceof InputError)) {
    const err = e as Error;
    return `${err?.name ?? typeof e}: ${err?.message ?? String(e)}\n${
      err?.stack?.split("\n").slice(1, 4).join("\n") ?? ""
    }`;
  }
  if (!e.message.includes(file)) return `InputError does not name ${file}: ${e.message}`;
  // deno-lint-ignore no-control-regex -- a clean message has none of these
  if (/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/.test(e.message)) {
    return `InputError message is not one printable line: ${JSON.stringify(e.message)}`;
  }
  return null;
}

/** Options of {@link runCases}. */
export interface RunOptions {
  cases: number;
  seed: number;
  /** A case slower than this is a hang (default 5000 ms). */
  hangMs?: number;
  /** Findings kept per outcome (default 5). */
  keep?: number;
}

/** Run `cases` cases of `target` in this process (the short run of `deno task test`). */
export async function runCases(target: FuzzTarget, opts: RunOptions): Promise<Summary> {
  const t0 = performance.now();
  const seeds = await target.seeds();
  const cases = generateCases(target, seeds, opts.cases, opts.seed);
  const summary = emptySummary(target.name);
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    const r = await runCase(target, seeds[c.seedIndex], c.ops, opts.hangMs ?? 5000);
    record(summary, r, i, seeds[c.seedIndex].name, c.ops, opts.keep ?? 5);
  }
  await target.cleanup?.();
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

/** A summary with zero counts. */
export function emptySummary(target: string): Summary {
  return {
    target,
    cases: 0,
    refused: 0,
    loaded: 0,
    crashes: 0,
    hangs: 0,
    mismatches: 0,
    deferred: 0,
    findings: [],
    seconds: 0,
  };
}

/** Count one case into `summary`, keeping the first `keep` findings of each bad outcome. */
export function record(
  summary: Summary,
  r: CaseResult,
  index: number,
  seed: string,
  ops: Op[],
  keep: number,
): void {
  summary.cases++;
  if (r.outcome === "refused") summary.refused++;
  else if (r.outcome === "loaded") {
    summary.loaded++;
    if (r.deferred) summary.deferred++;
  } else {
    if (r.outcome === "crash") summary.crashes++;
    if (r.outcome === "hang") summary.hangs++;
    if (r.outcome === "mismatch") summary.mismatches++;
    if (summary.findings.filter((f) => f.outcome === r.outcome).length < keep) {
      summary.findings.push({ outcome: r.outcome, index, seed, ops, detail: r.detail.slice(0, 2000) });
    }
  }
}

/** A readable report of the findings (empty string when there are none). */
export function describeFindings(s: Summary): string {
  return s.findings.map((f) =>
    `${s.target} case ${f.index} (${f.outcome}, seed ${f.seed}): ${f.detail}\n  ops: ${
      JSON.stringify(f.ops).slice(0, 600)
    }`
  ).join("\n");
}
