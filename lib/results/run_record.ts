/**
 * Run records: every training run writes `results/<experiment>/<runId>/` with `config.json`
 * (resolved config, git commit, backend), `metrics.jsonl` (one JSON object per logged step or
 * evaluation) and `summary.json` (final table, wall time, steps/s, peak memory, status). Result
 * tables are generated from these files, never typed by hand. Every write is atomic.
 *
 * @example
 * ```ts
 * import { RunRecord } from "./run_record.ts";
 * const dir = await Deno.makeTempDir();
 * const rec = await RunRecord.create(dir, "demo", { lr: 3e-5 }, "cpu");
 * rec.log({ step: 1, loss: 0.5 });
 * await rec.finish({ status: "completed" });
 * ```
 * @module
 */
import { writeFileAtomic } from "../runtime/atomic_write.ts";

/** The current git commit of the toolkit (with "-dirty" when the tree has changes), or "unknown". */
export async function gitCommit(): Promise<string> {
  try {
    const cwd = new URL("../..", import.meta.url).pathname;
    const run = async (args: string[]) =>
      new TextDecoder().decode(
        (await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" }).output()).stdout,
      ).trim();
    const head = await run(["rev-parse", "HEAD"]);
    if (!head) return "unknown";
    const dirty = await run(["status", "--porcelain", "--untracked-files=no"]);
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

/** A UTC timestamp id such as `20261127-081530`. */
export function newRunId(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

export class RunRecord {
  private readonly lines: string[] = [];
  private dirty = false;

  private constructor(readonly dir: string, readonly runId: string) {}

  /** Create `<resultsDir>/<runId>/` and write `config.json`. Re-opening an existing run (resume) keeps its metrics. */
  static async create(
    resultsDir: string,
    runId: string,
    config: Record<string, unknown>,
    backend: string,
  ): Promise<RunRecord> {
    const dir = `${resultsDir}/${runId}`;
    const rec = new RunRecord(dir, runId);
    try {
      const old = await Deno.readTextFile(`${dir}/metrics.jsonl`);
      rec.lines.push(...old.split("\n").filter((l) => l.trim()));
    } catch { /* new run */ }
    await writeFileAtomic(
      `${dir}/config.json`,
      JSON.stringify(
        { runId, config, backend, gitCommit: await gitCommit(), deno: Deno.version.deno },
        null,
        2,
      ) + "\n",
    );
    return rec;
  }

  /** Drop metrics recorded after `step` (a resumed run replays from its last saved step). */
  truncateAfter(step: number): void {
    const keep = this.lines.filter((l) => (JSON.parse(l).step ?? 0) <= step);
    this.lines.length = 0;
    this.lines.push(...keep);
    this.dirty = true;
  }

  /** Append one metrics object (buffered; `flush` writes). */
  log(entry: Record<string, unknown>): void {
    this.lines.push(JSON.stringify(entry));
    this.dirty = true;
  }

  /** All logged entries. */
  entries(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l));
  }

  async flush(): Promise<void> {
    if (!this.dirty) return;
    await writeFileAtomic(`${this.dir}/metrics.jsonl`, this.lines.join("\n") + "\n");
    this.dirty = false;
  }

  /** Flush metrics and write `summary.json`. */
  async finish(summary: Record<string, unknown>): Promise<void> {
    await this.flush();
    await writeFileAtomic(
      `${this.dir}/summary.json`,
      JSON.stringify({ runId: this.runId, ...summary }, null, 2) + "\n",
    );
  }
}
