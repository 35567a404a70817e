import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { encodeToFile } from "./encode_file.ts";
import { PYTHON, reportSkip, requireTool } from "../../testing/tools.ts";

const numpySkip = await requireTool("numpy");
reportSkip("the numpy reader check of .npy and .safetensors outputs", numpySkip);

/** Deterministic awkward floats: row i of a 3-wide embedding. */
const vec = (s: string) => new Float32Array([s.length / 3, -1e-30 * s.length, 65504.5 + s.length]);

async function encodeAs(dir: string, ext: string, opts: { stopAfter?: number } = {}): Promise<string> {
  const out = `${dir}/out.${ext}`;
  const signal = { stop: false };
  let calls = 0;
  const embed = (s: string[]) => {
    if (opts.stopAfter !== undefined && ++calls >= opts.stopAfter) signal.stop = true;
    return Promise.resolve(s.map(vec));
  };
  const base = { input: `${dir}/in.txt`, output: out, embed, identity: { m: 1 }, windowSize: 2 };
  const r = await encodeToFile({ ...base, signal });
  if (!r.complete) await encodeToFile({ ...base, resume: true });
  return out;
}

Deno.test({
  name:
    "`encode` writes .npy and .safetensors that numpy reads back as the float32 rows (also across a resume)",
  ignore: numpySkip !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const lines = ["a", "bb", "ccc", "dddd", "eeeee"];
    await Deno.writeTextFile(`${dir}/in.txt`, lines.join("\n") + "\n");
    const npy = await encodeAs(dir, "npy", { stopAfter: 1 });
    const st = await encodeAs(dir, "safetensors");
    const script = `
import json, struct, sys, numpy as np
a = np.load(sys.argv[1])
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
t = h["embeddings"]
b = np.frombuffer(raw[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]], dtype="<f4").reshape(t["shape"])
print(json.dumps({"dtype": str(a.dtype), "shape": list(a.shape), "a": a.astype(float).tolist(), "same": bool((a == b).all()), "stdtype": t["dtype"]}))
`;
    const r = await new Deno.Command(PYTHON, {
      args: ["-c", script, npy, st],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    ok(r.success, new TextDecoder().decode(r.stderr));
    const got = JSON.parse(new TextDecoder().decode(r.stdout));
    strictEqual(got.dtype, "float32");
    deepStrictEqual(got.shape, [5, 3]);
    deepStrictEqual(got.a, lines.map((l) => Array.from(vec(l))));
    ok(got.same, "the .safetensors tensor equals the .npy array");
    strictEqual(got.stdtype, "F32");
    await Deno.remove(dir, { recursive: true });
  },
});
