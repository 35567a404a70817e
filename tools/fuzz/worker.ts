/**
 * Web Worker of the long fuzz run (`tools/fuzz/main.ts`): runs the cases of one target from a given
 * index and posts one message per case, so the main thread can kill a worker that stops answering
 * (a hang) and restart after the case that hung. Loaded cases whose oracle is deferred have their
 * files written to `deferDir` as `<index>.<suffix>`.
 *
 * Messages in: {@link WorkerRequest}. Messages out: {@link WorkerReply}.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { generateCases, runCase } from "./harness.ts";
import { targetNamed } from "./targets.ts";
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";

/** What the main thread asks for. */
export interface WorkerRequest {
  target: string;
  cases: number;
  seed: number;
  start: number;
  hangMs: number;
  deferDir: string;
}

/** One finished case (or the end of the run). */
export type WorkerReply =
  | { type: "ready"; seeds: string[] }
  | {
    type: "case";
    index: number;
    seed: string;
    outcome: string;
    detail: string;
    ms: number;
    deferred?: string;
    /** The case's ops (JSON) when its verdict is deferred. */
    ops?: string;
  }
  | { type: "done" };

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const req = e.data;
  const target = targetNamed(req.target);
  const seeds = await target.seeds();
  self.postMessage({ type: "ready", seeds: seeds.map((s) => s.name) } satisfies WorkerReply);
  const cases = generateCases(target, seeds, req.cases, req.seed);
  for (let i = req.start; i < cases.length; i++) {
    const c = cases[i];
    const r = await runCase(target, seeds[c.seedIndex], c.ops, req.hangMs);
    if (r.deferred) {
      for (const [suffix, bytes] of Object.entries(r.deferred.files)) {
        await writeFileAtomic(`${req.deferDir}/${String(i).padStart(6, "0")}.${suffix}`, bytes);
      }
    }
    self.postMessage(
      {
        type: "case",
        index: i,
        seed: seeds[c.seedIndex].name,
        outcome: r.outcome,
        detail: r.outcome === "loaded" || r.outcome === "refused"
          ? ""
          : `${r.detail}\n  ops: ${JSON.stringify(c.ops).slice(0, 800)}`,
        ms: r.ms,
        deferred: r.deferred?.summary,
        ops: r.deferred ? JSON.stringify(c.ops).slice(0, 800) : undefined,
      } satisfies WorkerReply,
    );
  }
  await target.cleanup?.();
  self.postMessage({ type: "done" } satisfies WorkerReply);
};
