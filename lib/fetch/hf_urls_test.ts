import { strictEqual, throws } from "node:assert/strict";
import { DEFAULT_ENDPOINT, hubEndpoint, resolveUrl } from "./hf_urls.ts";
import { InputError } from "../runtime/errors.ts";

Deno.test("`resolveUrl()` builds the hub's resolve URLs for models and datasets", () => {
  strictEqual(
    resolveUrl("https://huggingface.co", {
      repo: "google-bert/bert-base-uncased",
      revision: "abc",
      path: "config.json",
    }),
    "https://huggingface.co/google-bert/bert-base-uncased/resolve/abc/config.json",
  );
  strictEqual(
    resolveUrl("https://hf-mirror.com", {
      repo: "princeton-nlp/datasets-for-simcse",
      repoType: "dataset",
      revision: "main",
      path: "senteval.tar",
    }),
    "https://hf-mirror.com/datasets/princeton-nlp/datasets-for-simcse/resolve/main/senteval.tar",
  );
  // Branch names with a slash and odd characters in paths are percent-encoded per component.
  strictEqual(
    resolveUrl("http://127.0.0.1:1", { repo: "o/r", revision: "refs/pr/1", path: "a b/c#d.txt" }),
    "http://127.0.0.1:1/o/r/resolve/refs%2Fpr%2F1/a%20b/c%23d.txt",
  );
});

Deno.test("`hubEndpoint()`: --base-url wins over HF_ENDPOINT, which wins over huggingface.co", () => {
  strictEqual(
    hubEndpoint("http://127.0.0.1:9/", { HF_ENDPOINT: "https://hf-mirror.com" }),
    "http://127.0.0.1:9",
  );
  strictEqual(hubEndpoint(undefined, { HF_ENDPOINT: "https://hf-mirror.com//" }), "https://hf-mirror.com");
  strictEqual(hubEndpoint(undefined, {}), DEFAULT_ENDPOINT);
  throws(
    () => hubEndpoint("hf-mirror.com", {}),
    (e) => e instanceof InputError && /--base-url/.test(e.message),
  );
  throws(
    () => hubEndpoint(undefined, { HF_ENDPOINT: "ftp://x" }),
    (e) => e instanceof InputError && /HF_ENDPOINT/.test(e.message),
  );
});
