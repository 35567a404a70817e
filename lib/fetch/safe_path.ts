/**
 * Archive member names made safe to write under a target folder: no absolute paths (`/x`, `C:\x`),
 * no `..` component anywhere, no backslashes or NUL bytes; `./` and empty components are dropped.
 * And link targets checked for escaping the archive root. Everything that fails is an archive
 * error naming the archive and the member.
 *
 * @example
 * ```ts
 * import { safeMemberPath } from "./safe_path.ts";
 * console.log(safeMemberPath("./STS//STS12-en-test/", "senteval.tar")); // "STS/STS12-en-test"
 * safeMemberPath("../etc/passwd", "evil.tar"); // throws FetchError
 * ```
 * @module
 */
import { FetchError } from "./fetch_error.ts";

function unsafe(archive: string, name: string, why: string): never {
  throw new FetchError(
    "archive",
    `unsafe member ${
      JSON.stringify(name)
    }: ${why}; nothing was unpacked (is the download corrupt or tampered with?)`,
    { file: archive },
  );
}

/** The normalised relative path ("a/b"; "" for the root itself), or throw for an unsafe name. */
export function safeMemberPath(name: string, archive: string): string {
  if (name.includes("\0")) unsafe(archive, name, "NUL byte in the name");
  if (name.includes("\\")) unsafe(archive, name, "backslash in the name");
  if (name.startsWith("/")) unsafe(archive, name, "absolute path");
  if (/^[A-Za-z]:/.test(name)) unsafe(archive, name, "drive-letter path");
  const parts: string[] = [];
  for (const c of name.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") unsafe(archive, name, "'..' path component");
    parts.push(c);
  }
  return parts.join("/");
}

/**
 * Does a link escape the archive root? `target` of a symlink is relative to the member's folder; of
 * a hard link, to the archive root. Absolute targets always escape.
 */
export function linkEscapes(memberPath: string, target: string, kind: "symlink" | "hardlink"): boolean {
  if (target.startsWith("/") || /^[A-Za-z]:/.test(target) || target.includes("\\")) return true;
  const base = kind === "symlink" ? memberPath.split("/").slice(0, -1) : [];
  let depth = base.length;
  for (const c of target.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (--depth < 0) return true;
    } else depth++;
  }
  return false;
}
