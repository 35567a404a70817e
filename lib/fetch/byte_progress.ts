/**
 * A download progress bar on stderr: bytes done of the total, rate and ETA, e.g.
 * `model.safetensors [##########..............] 180.2/420.0 MiB 11.3 MiB/s ETA 0:21`.
 * A resumed download starts at its offset; the rate counts only this session's bytes. On a
 * terminal it redraws one line; elsewhere it prints a line at most every 10 s (see `ProgressBar`).
 *
 * @example
 * ```ts
 * import { ByteProgress } from "./byte_progress.ts";
 * const bar = new ByteProgress("blob.bin", 2048, 0, { write: () => {} });
 * bar.update(1024);
 * bar.finish();
 * ```
 * @module
 */
import { formatDuration } from "../runtime/progress.ts";

/** Where the bar is drawn; defaults to stderr. */
export interface ProgressSink {
  write(text: string): void;
  /** Redraw in place (a terminal) rather than one line per draw. */
  tty?: boolean;
}

/** `1536` -> "1.5 KiB", `0` -> "0 B". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function stderrSink(): ProgressSink {
  const enc = new TextEncoder();
  return { write: (t) => Deno.stderr.writeSync(enc.encode(t)), tty: Deno.stderr.isTerminal() };
}

export class ByteProgress {
  private readonly start = performance.now();
  private lastDraw = -Infinity;
  private done: number;
  private readonly sink: ProgressSink;
  private readonly intervalMs: number;

  /**
   * @param label what is downloading (a file name)
   * @param total expected size in bytes, or undefined when the server does not say
   * @param offset bytes already on disk when this session started (a resume)
   */
  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly offset = 0,
    sink?: ProgressSink,
  ) {
    this.sink = sink ?? stderrSink();
    this.intervalMs = this.sink.tty ? 100 : 10_000;
    this.done = offset;
  }

  /** Bytes per second in this session. */
  get rate(): number {
    const s = (performance.now() - this.start) / 1000;
    return (this.done - this.offset) / Math.max(s, 1e-9);
  }

  /** The current line (without control characters). */
  line(): string {
    const rate = this.rate;
    if (this.total === undefined) {
      return `${this.label} ${formatBytes(this.done)} ${formatBytes(rate)}/s`;
    }
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24, filled = Math.round(frac * width);
    const eta = rate > 0 ? (this.total - this.done) / rate : Infinity;
    return `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
      `${formatBytes(this.done)}/${formatBytes(this.total)} ${formatBytes(rate)}/s ETA ${
        formatDuration(eta)
      }`;
  }

  /** Set the byte count (absolute, including the resume offset). */
  update(done: number): void {
    this.done = done;
    const now = performance.now();
    if (now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.draw();
  }

  private draw(): void {
    const line = this.line();
    this.sink.write(this.sink.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  /** Draw the final state (with a note such as "done" or "interrupted") and end the line. */
  finish(note = ""): void {
    const line = this.line() + (note ? ` ${note}` : "");
    this.sink.write(this.sink.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  }
}
