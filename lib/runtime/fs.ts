/**
 * Small file-system questions asked all over the toolkit, answered once.
 *
 * @example
 * ```ts
 * import { exists, isFile } from "./fs.ts";
 * console.log(await exists("deno.json"), await isFile("lib")); // true false
 * ```
 * @module
 */

/** True when `path` exists (file, folder or anything else); false on any error. */
export async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** True when `path` is a regular file (following links); false on any error. */
export async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}
