import { ok, rejects } from "node:assert/strict";
import { checkModelFolder } from "./model_folder.ts";
import { InputError } from "../runtime/errors.ts";

function says(...fragments: string[]) {
  return (e: unknown) => {
    ok(e instanceof InputError, String(e));
    for (const f of fragments) ok(e.message.includes(f), `${JSON.stringify(f)} not in: ${e.message}`);
    return true;
  };
}

Deno.test("`checkModelFolder()` names the missing files and the exact fetch command with --data-dir", async () => {
  const data = await Deno.makeTempDir();
  try {
    await rejects(
      checkModelFolder(`${data}/models/bert-base-uncased`),
      says(
        "missing the folder itself",
        `\`deno task fetch bert-base-uncased --data-dir ${data}\``,
        "by hand",
      ),
    );
    const dir = `${data}/models/unsup-simcse-bert-base-uncased`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/config.json`, "{}");
    await rejects(
      checkModelFolder(dir),
      says(
        "missing model.safetensors (or pytorch_model.bin), tokenizer.json (or vocab.txt",
        `\`deno task fetch princeton-nlp/unsup-simcse-bert-base-uncased --data-dir ${data}\``,
      ),
    );
    // Placed by hand: passes, no network involved.
    await Deno.writeTextFile(`${dir}/vocab.txt`, "[PAD]\n");
    await Deno.writeFile(`${dir}/pytorch_model.bin`, new Uint8Array(4));
    await checkModelFolder(dir);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`checkModelFolder()` on a folder that is not in the catalog points to --list, not a wrong command", async () => {
  const data = await Deno.makeTempDir();
  try {
    await rejects(checkModelFolder(`${data}/my-model`), (e) => {
      says("Place a Hugging Face checkpoint folder", "`deno task fetch --list`")(e);
      ok(!/deno task fetch my-model/.test((e as Error).message));
      return true;
    });
    await rejects(
      checkModelFolder(`${data}/models/princeton-nlp/unsup-simcse-bert-base-uncased`),
      says(
        "`deno task fetch princeton-nlp/unsup-simcse-bert-base-uncased --data-dir",
        `it downloads into ${data}/models/unsup-simcse-bert-base-uncased`,
      ),
    );
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});
