/**
 * A progress bar on stderr for long work (encoding, training): count, rate, ETA and free-form
 * fields. On a terminal it redraws one line; elsewhere (CI, notebooks, pipes) it prints a line at
 * most every `intervalMs` so logs stay readable. Reaching the total draws the final state and ends
 * the line, so the next message starts on a line of its own even when nobody calls `finish()` (a short
 * job of one or two batches); `finish()` after that prints nothing more.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const bar = new ProgressBar("encode", 100, "sent");
 * bar.update(50);
 * bar.finish();
 * ```
 * @module
 */

/** Where a bar draws: stderr by default. */
export interface ProgressSink {
  write(text: string): void;
  /** Redraw one line (`\r`) rather than print one line per update. */
  tty: boolean;
}

const encoder = new TextEncoder();
const stderrSink = (): ProgressSink => ({
  write: (t) => Deno.stderr.writeSync(encoder.encode(t)),
  tty: Deno.stderr.isTerminal(),
});

export class ProgressBar {
  private readonly start = performance.now();
  private lastDraw = 0;
  private done = 0;
  /** The final state was drawn and its line ended. */
  private ended = false;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    /** NaN or Infinity when unknown (a stream): the bar shows the count and rate only. */
    private readonly total: number,
    private readonly unit = "it",
    private readonly intervalMs = Deno.stderr.isTerminal() ? 100 : 10_000,
    private readonly enabled = true,
    private readonly sink: ProgressSink = stderrSink(),
  ) {
    this.tty = sink.tty;
  }

  /** Seconds since the bar started. */
  get elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** Items per second so far. */
  get rate(): number {
    return this.done / Math.max(this.elapsed, 1e-9);
  }

  /** Set the count done so far (absolute), with optional extra fields such as `loss=0.31`. */
  update(done: number, fields: Record<string, string | number> = {}): void {
    this.done = done;
    if (done >= this.total) {
      if (!this.ended) this.end(fields);
      return;
    }
    this.ended = false;
    const now = performance.now();
    if (now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.draw(fields);
  }

  private draw(fields: Record<string, string | number>): void {
    if (!this.enabled) return;
    const extra = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" ");
    if (!Number.isFinite(this.total)) { // total unknown (a stream): count and rate only
      const line = `${this.label} ${this.done} ${formatRate(this.rate, this.unit)}${
        extra ? ` ${extra}` : ""
      }`;
      this.sink.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
      return;
    }
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const rate = this.rate;
    const eta = rate > 0 ? (this.total - this.done) / rate : Infinity;
    const line = `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
      `${this.done}/${this.total} ${formatRate(rate, this.unit)} ETA ${formatDuration(eta)}` +
      (extra ? ` ${extra}` : "");
    this.sink.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  private end(fields: Record<string, string | number>): void {
    this.ended = true;
    this.lastDraw = performance.now();
    this.draw(fields);
    if (this.tty && this.enabled) this.sink.write("\n");
  }

  /** Draw the final state and end the line (nothing more when reaching the total already did). */
  finish(fields: Record<string, string | number> = {}): void {
    if (!this.ended) this.end(fields);
  }
}

function formatRate(rate: number, unit: string): string {
  if (!(rate > 0)) return `? ${unit}/s`; // nothing done yet
  return rate >= 1 ? `${rate.toFixed(1)} ${unit}/s` : `${(1 / Math.max(rate, 1e-9)).toFixed(2)} s/${unit}`;
}

/** `83` -> "1:23", `3725` -> "1:02:05", Infinity -> "?". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}
