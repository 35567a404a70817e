/**
 * `deno task encode --model DIR --pooler NAME --input FILE --output FILE.jsonl [--batch-size N]
 *   [--backend B] [--normalize]`
 *
 * One sentence per input line; one JSON array of floats per output line, in input order. A
 * progress bar with sentences/s goes to stderr.
 *
 * @module
 */
import { main, parseFlags, positiveInt, required } from "./_cli.ts";
import { parseBackend, useBackend } from "../lib/backend.ts";
import { parsePooler } from "../lib/pooling.ts";
import { InputError } from "../lib/errors.ts";
import { SentenceEncoder } from "../lib/sentence_encoder.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { checkModelFolder } from "../lib/model/model_folder.ts";
import { readInputText } from "../lib/checkpoint/read_input.ts";

const USAGE = `usage: deno task encode --model DIR --pooler NAME --input FILE --output FILE.jsonl
       [--batch-size N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--normalize]`;

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      model: { type: "string" },
      pooler: { type: "string" },
      input: { type: "string" },
      output: { type: "string" },
      "batch-size": { type: "string" },
      backend: { type: "string", default: "auto" },
      normalize: { type: "boolean", default: false },
    }, USAGE);
    const modelDir = required(values.model as string | undefined, "model", USAGE);
    const pooler = parsePooler(required(values.pooler as string | undefined, "pooler", USAGE));
    const input = required(values.input as string | undefined, "input", USAGE);
    const output = required(values.output as string | undefined, "output", USAGE);
    const batchSize = positiveInt(values["batch-size"] as string | undefined, "batch-size", 128);
    await checkModelFolder(modelDir);
    let text = await readInputText(input);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    if (lines.length === 0) throw new InputError("no sentences (the file is empty)", { file: input });
    await useBackend(parseBackend(values.backend as string));
    const encoder = await SentenceEncoder.load(modelDir, { pooler });
    const vecs = await encoder.encode(lines, {
      batchSize,
      normalize: values.normalize as boolean,
      progress: true,
    });
    encoder.dispose();
    const out = vecs.map((v) => JSON.stringify(Array.from(v))).join("\n") + "\n";
    await writeFileAtomic(output, out);
    console.error(`wrote ${vecs.length} embeddings of size ${vecs[0].length} to ${output}`);
  });
}
