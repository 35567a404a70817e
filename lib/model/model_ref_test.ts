import { rejects, strictEqual } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { resolveModelRef } from "./model_ref.ts";

Deno.test("`resolveModelRef()` keeps a folder, maps a fetched hub id or alias to <data>/models/<repo name>, and names the fetch command otherwise", async () => {
  const data = await Deno.makeTempDir();
  strictEqual(
    await resolveModelRef("testdata/bert/tiny-safetensors", data),
    "testdata/bert/tiny-safetensors",
  );
  const dir = `${data}/models/unsup-simcse-bert-base-uncased`;
  await rejects(
    () => resolveModelRef("princeton-nlp/unsup-simcse-bert-base-uncased", data),
    (e) =>
      e instanceof InputError &&
      e.message.includes(`looked in ${dir}`) &&
      e.message.includes("deno task fetch princeton-nlp/unsup-simcse-bert-base-uncased --data-dir"),
  );
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, "{}");
  strictEqual(await resolveModelRef("princeton-nlp/unsup-simcse-bert-base-uncased", data), dir);
  const tiny = `${data}/models/bert_uncased_L-2_H-128_A-2`;
  await Deno.mkdir(tiny, { recursive: true });
  await Deno.writeTextFile(`${tiny}/config.json`, "{}");
  strictEqual(await resolveModelRef("bert-tiny", data), tiny);
  strictEqual(
    await resolveModelRef("no/such-model", data),
    "no/such-model",
    "unknown ids are left to the folder check",
  );
  await Deno.remove(data, { recursive: true });
});
