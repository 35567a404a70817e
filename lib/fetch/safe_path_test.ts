import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { linkEscapes, safeMemberPath } from "./safe_path.ts";
import { FetchError } from "./fetch_error.ts";

Deno.test("`safeMemberPath()` normalises harmless names", () => {
  const cases: [string, string][] = [
    ["STS/STS12-en-test/STS.gs.MSRvid.txt", "STS/STS12-en-test/STS.gs.MSRvid.txt"],
    ["./STS//x/", "STS/x"],
    ["./", ""],
    ["a/./b", "a/b"],
    ["..foo/bar..", "..foo/bar.."],
  ];
  for (const [name, want] of cases) strictEqual(safeMemberPath(name, "t.tar"), want, name);
});

Deno.test("`safeMemberPath()` rejects absolute paths, '..', backslashes and NUL, naming the archive", () => {
  for (const name of ["/etc/passwd", "../x", "a/../../x", "a/..", "C:/x", "c:x", "a\\..\\b", "a\0b"]) {
    throws(() => safeMemberPath(name, "evil.tar"), (e) => {
      ok(e instanceof FetchError && e.kind === "archive", String(e));
      ok(e.message.startsWith("evil.tar: unsafe member"), e.message);
      return true;
    }, name);
  }
});

Deno.test("`linkEscapes()` resolves symlinks from the member's folder and hard links from the root", () => {
  const cases: [string, string, "symlink" | "hardlink", boolean][] = [
    ["SICK/readme_link", "readme.txt", "symlink", false],
    ["SICK/a", "../STS/x", "symlink", false],
    ["SICK/a", "../../x", "symlink", true],
    ["a", "/etc/passwd", "symlink", true],
    ["a/b/c", "x/../../../y", "symlink", false],
    ["a/b/c", "x/../../../../y", "symlink", true],
    ["STS/h", "/etc/passwd", "hardlink", true],
    ["STS/h", "STS/other", "hardlink", false],
    ["STS/h", "../other", "hardlink", true],
  ];
  deepStrictEqual(cases.map(([m, t, k]) => linkEscapes(m, t, k)), cases.map((c) => c[3]));
});
