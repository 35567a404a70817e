/**
 * `deno task encode --model DIR|HUB_ID [--pooler NAME] --input FILE --output FILE.jsonl|.npy|.safetensors
 *   [--batch-size N] [--backend B] [--precision fp32|fp16|bf16] [--fp16] [--normalize] [--resume]`
 *
 * `--precision fp16|bf16` (`--fp16` is `--precision fp16`) runs the encoder's Linear layers and attention
 * matmuls in that mixed precision, as `eval` does (docs/PRECISION.md); the embeddings are float32 either way.
 *
 * One sentence per input line (`\n`, `\r\n` or `\r`; `--input -` or `/dev/stdin` reads a pipe);
 * the output format goes by extension: `.jsonl` one JSON array of floats per line, `.npy` a float32
 * [rows, dim] NumPy array, `.safetensors` one F32 tensor `embeddings` (`lib/runtime/embedding_formats.ts`),
 * rows in input order. The input is read and the output
 * written as the work goes, in windows of 16 batches, so memory stays bounded whatever the corpus
 * size. The output is built in `FILE.jsonl.partial` and renamed into place when complete; after an
 * interruption (Ctrl-C or a crash) `--resume` continues from the last window written. A progress bar
 * with sentences/s goes to stderr.
 *
 * @module
 */
import { main, parseFlags, positiveInt, required } from "../lib/app/cli.ts";
import { parseBackend, useBackend } from "../lib/kernels/backend.ts";
import { modelAndPooler } from "../lib/app/model_flags.ts";
import { resolveDataDir } from "../lib/eval/sts_data.ts";
import { SentenceEncoder } from "../lib/simcse/sentence_encoder.ts";
import { checkModelFolder } from "../lib/model/model_folder.ts";
import { encodeToFile, partialPaths } from "../lib/runtime/encode_file.ts";
import { checkOutputPath } from "../lib/runtime/output_path.ts";
import { dropUnusedPermissions } from "../lib/app/permissions.ts";
import { precisionFlag } from "../lib/app/precision_flag.ts";

const USAGE =
  `usage: deno task encode --model DIR|HUB_ID [--pooler NAME] --input FILE --output FILE.jsonl|.npy|.safetensors
       [--batch-size N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--precision fp32|fp16|bf16] [--fp16]
       [--normalize] [--resume]`;

/** Batches per window written and flushed together. */
const BATCHES_PER_WINDOW = 16;

/** What identifies a model folder's contents cheaply: each file's name, size and modification time. */
async function folderFingerprint(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const info = await Deno.stat(`${dir}/${e.name}`).catch(() => null);
    if (info?.isFile) out.push(`${e.name}:${info.size}:${info.mtime?.getTime() ?? 0}`);
  }
  return out.sort();
}

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      model: { type: "string" },
      pooler: { type: "string" },
      input: { type: "string" },
      output: { type: "string" },
      "batch-size": { type: "string" },
      backend: { type: "string", default: "auto" },
      precision: { type: "string" },
      fp16: { type: "boolean", default: false },
      normalize: { type: "boolean", default: false },
      resume: { type: "boolean", default: false },
    }, USAGE);
    const input = required(values.input as string | undefined, "input", USAGE);
    const output = required(values.output as string | undefined, "output", USAGE);
    const batchSize = positiveInt(values["batch-size"] as string | undefined, "batch-size", 128);
    const normalize = values.normalize as boolean;
    const precision = precisionFlag(values.precision as string | undefined, values.fp16 as boolean);
    const backendChoice = parseBackend(values.backend as string);
    const { modelDir, pooler } = await modelAndPooler(
      values.model as string | undefined,
      values.pooler as string | undefined,
      resolveDataDir(undefined),
      USAGE,
    );
    await checkModelFolder(modelDir);
    await checkOutputPath(output, {
      flag: "output",
      inputs: [input === "-" ? "/dev/stdin" : input, modelDir],
    });
    const backend = await useBackend(backendChoice);
    await dropUnusedPermissions(backend); // FFI and subprocesses serve the cpu backend only
    const encoder = await SentenceEncoder.load(modelDir, { pooler, precision });
    const signal = { stop: false };
    const onInterrupt = () => {
      if (signal.stop) Deno.exit(130);
      signal.stop = true;
      console.error("\ninterrupted: finishing the current window (Ctrl-C again to quit at once)");
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      const r = await encodeToFile({
        input,
        output,
        inputs: [modelDir],
        embed: (sentences) => encoder.encodeRows(sentences, { batchSize, normalize, progress: false }),
        identity: {
          model: await folderFingerprint(modelDir),
          pooler,
          normalize,
          batchSize,
          backend,
          // (fp32 not named: a partial file from before the flag resumes as it did)
          ...(precision === "fp32" ? {} : { precision }),
        },
        windowSize: batchSize * BATCHES_PER_WINDOW,
        resume: values.resume as boolean,
        progress: true,
      });
      if (!r.complete) {
        console.error(
          `stopped after ${r.lines} lines, kept in ${partialPaths(output).data}; ` +
            "run the same command with --resume to continue",
        );
        Deno.exit(130);
      }
      console.error(`wrote ${r.lines} embeddings of size ${r.dim} to ${output}`);
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      encoder.dispose();
    }
  });
}
