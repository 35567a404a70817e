/**
 * The long fuzz run: `deno run -A tools/fuzz/main.ts [--cases N] [--seed S] [--targets a,b] [--hang-ms MS]`
 * (as a task: `deno task fuzz`). Default 10,000 cases per parser. `--targets` matches parts of the
 * target names (case-insensitive). `--replay I` re-runs case I of the selected targets in this
 * process, prints its ops and outcome, and writes the mutated input to a temporary file.
 *
 * Each target runs in a Web Worker (`tools/fuzz/worker.ts`) that reports every case; a worker silent
 * for longer than the hang limit is killed, the case counted as a hang, and a new worker resumes
 * after it. Loaded cases whose oracle is PyTorch or Python (`reference/torch_fuzz_oracle.py`,
 * `reference/text_fuzz_oracle.py`) are written to a temporary folder and checked in one batch per
 * target with `/usr/bin/python3`; without it they are reported as unverified.
 *
 * Prints one line per parser (cases, refused, loaded, crashes, hangs, silent mismatches, loads the
 * batch oracle verified) and the first findings of each kind; exits 1 when any crash, hang or
 * mismatch was found.
 *
 * @module
 */

import { main, nonNegativeInt, parseFlags, positiveInt } from "../../lib/app/cli.ts";
import { InputError } from "../../lib/runtime/errors.ts";
import { torchVerdict } from "./checkpoint_targets.ts";
import { emptySummary, generateCases, type Outcome, record, runCase, type Summary } from "./harness.ts";
import { applyOps } from "./mutations.ts";
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import { TARGETS } from "./targets.ts";
import type { WorkerReply, WorkerRequest } from "./worker.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const PYTHON = "/usr/bin/python3";

const USAGE = `usage: deno task fuzz [--cases N] [--seed S] [--targets a,b] [--hang-ms MS] [--replay I]
  --cases N     cases per parser (default 10000)
  --seed S      seed of the case generator (default 20240611)
  --targets a,b only the parsers whose names contain one of these (case-insensitive); the parsers:
                ${TARGETS.map((t) => t.name).join("; ")}
  --hang-ms MS  a case silent this long counts as a hang (default 10000)
  --replay I    re-run case I of the selected parsers in this process and print it`;

let CASES = 0, SEED = 0, HANG_MS = 0;
let REPLAY: number | undefined;
let targets = TARGETS;
await main(() => {
  const { values } = parseFlags(Deno.args, {
    cases: { type: "string" },
    seed: { type: "string" },
    targets: { type: "string" },
    "hang-ms": { type: "string" },
    replay: { type: "string" },
  }, USAGE);
  CASES = positiveInt(values.cases as string | undefined, "cases", 10_000);
  SEED = nonNegativeInt(values.seed as string | undefined, "seed", 20240611);
  HANG_MS = positiveInt(values["hang-ms"] as string | undefined, "hang-ms", 10_000);
  REPLAY = values.replay === undefined ? undefined : nonNegativeInt(values.replay as string, "replay", 0);
  const wanted = (values.targets as string | undefined)?.split(",").map((s) => s.trim().toLowerCase());
  if (wanted?.some((w) => w === "")) throw new InputError(`--targets has an empty name\n${USAGE}`);
  targets = TARGETS.filter((t) => !wanted || wanted.some((w) => t.name.toLowerCase().includes(w)));
  if (targets.length === 0) throw new InputError(`--targets '${values.targets}' matches no parser\n${USAGE}`);
  return Promise.resolve();
});

interface Row {
  summary: Summary;
  verified: number;
  unverified: number;
}

/** A loaded case waiting for the batch oracle. */
interface Deferred {
  summary: string;
  ops: string;
  seed: string;
}

/** Run every case of one target in workers, restarting after a hang. */
async function fuzzTarget(
  name: string,
  deferDir: string,
): Promise<{ summary: Summary; deferred: Map<number, Deferred> }> {
  const summary = emptySummary(name);
  const deferred = new Map<number, Deferred>();
  const t0 = performance.now();
  let next = 0;
  while (next < CASES) {
    next = await new Promise<number>((resolve) => {
      const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
      let last = next - 1;
      let ready = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          worker.terminate();
          const index = last + 1;
          if (ready && index < CASES) {
            record(summary, { outcome: "hang", detail: `no answer for ${ms} ms`, ms }, index, "?", [], 5);
          }
          resolve(ready ? index + 1 : CASES);
          if (!ready) console.error(`${name}: worker did not start`);
        }, ms);
      };
      worker.onmessage = (e: MessageEvent<WorkerReply>) => {
        const m = e.data;
        if (m.type === "ready") ready = true;
        else if (m.type === "case") {
          last = m.index;
          record(
            summary,
            { outcome: m.outcome as Outcome, detail: m.detail, ms: m.ms },
            m.index,
            m.seed,
            [],
            5,
          );
          if (m.deferred) deferred.set(m.index, { summary: m.deferred, ops: m.ops ?? "", seed: m.seed });
          if (m.index % 1000 === 999 && Deno.stderr.isTerminal()) {
            Deno.stderr.writeSync(new TextEncoder().encode(`  ${name}: ${m.index + 1}/${CASES}\r`));
          }
        } else {
          clearTimeout(timer);
          worker.terminate();
          resolve(CASES);
          return;
        }
        arm(HANG_MS);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        clearTimeout(timer);
        worker.terminate();
        const index = last + 1;
        record(summary, { outcome: "crash", detail: `worker died: ${e.message}`, ms: 0 }, index, "?", [], 5);
        resolve(index + 1);
      };
      arm(HANG_MS + 60_000); // seeds and case generation come first
      worker.postMessage(
        {
          target: name,
          cases: CASES,
          seed: SEED,
          start: next,
          hangMs: HANG_MS,
          deferDir,
        } satisfies WorkerRequest,
      );
    });
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return { summary, deferred };
}

/** Check deferred loads with the Python oracle; mismatches are recorded into `summary`. */
async function verify(kind: string, deferDir: string, deferred: Map<number, Deferred>, summary: Summary) {
  if (deferred.size === 0) return { verified: 0, unverified: 0 };
  const script = kind === "torch" ? "reference/torch_fuzz_oracle.py" : "reference/text_fuzz_oracle.py";
  const args = kind === "torch" ? [`${ROOT}${script}`, deferDir] : [`${ROOT}${script}`, kind, deferDir];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(PYTHON, { args, stdout: "piped", stderr: "piped" }).output();
  } catch {
    return { verified: 0, unverified: deferred.size };
  }
  if (!out.success) {
    console.error(`${script} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    return { verified: 0, unverified: deferred.size };
  }
  let verified = 0;
  for (const line of new TextDecoder().decode(out.stdout).trim().split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line) as { name: string; ok?: string; error?: string };
    const index = Number(r.name);
    const d = deferred.get(index);
    if (d === undefined) continue;
    const ours = d.summary;
    verified++;
    const verdict = kind === "torch"
      ? torchVerdict(ours, r)
      : r.ok === ours
      ? null
      : r.ok !== undefined
      ? "loaded a different result than the Python reference"
      : `loaded what the Python reference refuses (${r.error})`;
    if (verdict) {
      summary.loaded--;
      const detail = `${verdict} (batch oracle)\n  ops: ${d.ops}`;
      record(summary, { outcome: "mismatch", detail, ms: 0 }, index, d.seed, [], 5);
      summary.cases--; // record() counted the case again
    }
  }
  return { verified, unverified: deferred.size - verified };
}

if (REPLAY !== undefined) {
  const index = REPLAY;
  for (const target of targets) {
    const seeds = await target.seeds();
    const c = generateCases(target, seeds, Math.max(CASES, index + 1), SEED)[index];
    const r = await runCase(target, seeds[c.seedIndex], c.ops, HANG_MS);
    const path = await Deno.makeTempFile({ prefix: `fuzz_case_${index}_`, suffix: ".bin" });
    await writeFileAtomic(path, applyOps(seeds[c.seedIndex].bytes, c.ops, target.separator));
    console.log(`${target.name} case ${index} (seed ${seeds[c.seedIndex].name}): ${r.outcome} ${r.detail}`);
    console.log(
      `  ops: ${JSON.stringify(c.ops)}\n  input: ${path}${
        r.deferred ? `\n  summary: ${r.deferred.summary}` : ""
      }`,
    );
    await target.cleanup?.();
  }
  Deno.exit(0);
}

const rows: Row[] = [];
console.log(`fuzz: ${CASES} cases per parser, seed ${SEED}, hang limit ${HANG_MS} ms`);
for (const target of targets) {
  const deferDir = await Deno.makeTempDir({ prefix: "fuzz_deferred_" });
  const { summary, deferred } = await fuzzTarget(target.name, deferDir);
  const { verified, unverified } = target.deferredOracle
    ? await verify(target.deferredOracle, deferDir, deferred, summary)
    : { verified: 0, unverified: 0 };
  await Deno.remove(deferDir, { recursive: true });
  rows.push({ summary, verified, unverified });
  const s = summary;
  console.log(
    `${s.target.padEnd(28)} cases ${String(s.cases).padStart(6)}  refused ${
      String(s.refused).padStart(6)
    }  ` +
      `loaded ${
        String(s.loaded).padStart(6)
      }  crashes ${s.crashes}  hangs ${s.hangs}  mismatches ${s.mismatches}  ` +
      `oracle-checked ${target.deferredOracle ? verified : s.loaded}${
        unverified ? ` (unverified ${unverified})` : ""
      }` +
      `  ${s.seconds.toFixed(0)} s`,
  );
}

const findings = rows.flatMap((r) => r.summary.findings.map((f) => ({ target: r.summary.target, ...f })));
if (findings.length) {
  console.log("\nfindings:");
  for (const f of findings) {
    console.log(`- ${f.target} case ${f.index} (${f.outcome}, seed ${f.seed}): ${f.detail}`);
  }
}
const bad = rows.reduce((n, r) => n + r.summary.crashes + r.summary.hangs + r.summary.mismatches, 0);
const total = rows.reduce((n, r) => n + r.summary.cases, 0);
console.log(`\n${total} cases, ${bad} crashes + hangs + mismatches`);
Deno.exit(bad ? 1 : 0);
