/**
 * Hugging Face hub URLs: which endpoint to use (`--base-url`, else `$HF_ENDPOINT`, else
 * `https://huggingface.co`) and the `resolve` URL of one file at one revision, in the layout the hub
 * and its mirrors (e.g. hf-mirror.com) serve: `<endpoint>[/datasets]/<repo>/resolve/<revision>/<path>`.
 *
 * @example
 * ```ts
 * import { hubEndpoint, resolveUrl } from "./hf_urls.ts";
 * const endpoint = hubEndpoint(undefined, {}); // "https://huggingface.co"
 * console.log(resolveUrl(endpoint, { repo: "google-bert/bert-base-uncased", revision: "main", path: "config.json" }));
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";

/** The default hub. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** One file in a hub repository. */
export interface HubFileRef {
  /** `owner/name`. */
  repo: string;
  /** `model` (default) or `dataset`. */
  repoType?: "model" | "dataset";
  /** A commit hash, tag or branch. */
  revision: string;
  /** Path inside the repository. */
  path: string;
}

/** Check that `url` is an absolute http(s) URL and return it without trailing slashes. */
export function normalizeBaseUrl(url: string, what = "--base-url"): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${what} must be an absolute http(s) URL, got '${url}'`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InputError(`${what} must be an http(s) URL, got '${url}'`);
  }
  return url.replace(/\/+$/, "");
}

/** The hub endpoint: an explicit base URL wins, then `HF_ENDPOINT`, then huggingface.co. */
export function hubEndpoint(
  baseUrl: string | undefined,
  env: { HF_ENDPOINT?: string } = { HF_ENDPOINT: Deno.env.get("HF_ENDPOINT") },
): string {
  if (baseUrl) return normalizeBaseUrl(baseUrl);
  if (env.HF_ENDPOINT) return normalizeBaseUrl(env.HF_ENDPOINT, "HF_ENDPOINT");
  return DEFAULT_ENDPOINT;
}

/** The `resolve` URL of one file (revision and path components are percent-encoded). */
export function resolveUrl(endpoint: string, ref: HubFileRef): string {
  const prefix = ref.repoType === "dataset" ? "datasets/" : "";
  const path = ref.path.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${prefix}${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${path}`;
}
