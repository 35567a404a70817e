import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { loadStateDictFromFolder, readJsonConfig } from "./hf_folder.ts";
import { assertInputError, assertTensorMatches, fixturePath, loadExpected } from "./test_fixtures.ts";

const expected = await loadExpected();

async function rejects(p: Promise<unknown>, file: string, fragment: string): Promise<void> {
  await p.then(
    () => assert(false, `expected an InputError (${fragment})`),
    (e) => assertInputError(e, file, fragment),
  );
}

async function folderWith(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hf_folder_test" });
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(`${dir}/${name}`, content);
    else await Deno.writeFile(`${dir}/${name}`, content);
  }
  return dir;
}

Deno.test("`loadStateDictFromFolder()` prefers model.safetensors over pytorch_model.bin", async () => {
  const dir = await folderWith({
    "model.safetensors": await Deno.readFile(fixturePath("hand_written.safetensors")),
    "pytorch_model.bin": await Deno.readFile(fixturePath("state_dict.bin")),
  });
  const { stateDict, file } = await loadStateDictFromFolder(dir + "/");
  assertEquals(file, `${dir}/model.safetensors`);
  for (const [k, e] of Object.entries(expected.safetensors)) assertTensorMatches(stateDict.get(k), e, k);
  await Deno.remove(`${dir}/model.safetensors`);
  const bin = await loadStateDictFromFolder(dir);
  assertEquals(bin.file, `${dir}/pytorch_model.bin`);
  for (const [k, e] of Object.entries(expected.torch)) assertTensorMatches(bin.stateDict.get(k), e, k);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`loadStateDictFromFolder()` merges sharded safetensors and torch.save shards", async () => {
  for (
    const [folder, index] of [["sharded", "model.safetensors.index.json"], [
      "sharded_bin",
      "pytorch_model.bin.index.json",
    ]]
  ) {
    const { stateDict, file } = await loadStateDictFromFolder(fixturePath(folder));
    assertEquals(file, fixturePath(`${folder}/${index}`));
    assertEquals([...stateDict.keys()].sort(), Object.keys(expected.sharded).sort());
    for (const [k, e] of Object.entries(expected.sharded)) assertTensorMatches(stateDict.get(k), e, k);
  }
});

Deno.test("`loadStateDictFromFolder()` names the folder and both weight files when none exists", async () => {
  const dir = await folderWith({ "config.json": "{}" });
  await rejects(loadStateDictFromFolder(dir), dir, "expected model.safetensors or pytorch_model.bin");
  await rejects(loadStateDictFromFolder(`${dir}/missing`), `${dir}/missing`, "model folder not found");
  await rejects(loadStateDictFromFolder(`${dir}/config.json`), `${dir}/config.json`, "found a file");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`loadStateDictFromFolder()` refuses inconsistent or escaping shard indexes", async () => {
  const shard1 = await Deno.readFile(fixturePath("sharded/model-00001-of-00002.safetensors"));
  const s1 = "model-00001-of-00002.safetensors";
  const cases: [unknown, string][] = [
    [{ weight_map: { "a.weight": "../model.safetensors" } }, "is not a file name in this folder"],
    [{ weight_map: { "a.weight": 3 } }, "shard of type number"],
    [{ metadata: {} }, "weight_map is missing"],
    [{ weight_map: { "a.weight": s1 } }, `[a.bias]: tensor is in shard ${s1} but`],
    [{ weight_map: { "a.weight": s1, "a.bias": s1, "x": s1 } }, "[x]: the index maps this tensor to"],
    [{ weight_map: { "a.weight": "gone.safetensors" } }, "gone.safetensors: file not found"],
    [[1, 2], "expected a JSON object, found an array"],
  ];
  for (const [index, fragment] of cases) {
    const dir = await folderWith({ [s1]: shard1, "model.safetensors.index.json": JSON.stringify(index) });
    await rejects(loadStateDictFromFolder(dir), dir, fragment);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`readJsonConfig()` reads an object and reports missing files, bad JSON (with line) and non-objects", async () => {
  const dir = await folderWith({
    "ok.json": '{"hidden_size": 768, "architectures": ["BertModel"]}',
    "bad.json": '{\n  "a": 1,\n  "b": 2,,\n}',
    "array.json": "[]",
    "null.json": "null",
    "latin1.json": new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]),
  });
  assertEquals(await readJsonConfig(`${dir}/ok.json`), { hidden_size: 768, architectures: ["BertModel"] });
  await rejects(readJsonConfig(`${dir}/bad.json`), `${dir}/bad.json:3: invalid JSON`, "position 21");
  await rejects(readJsonConfig(`${dir}/array.json`), `${dir}/array.json`, "found an array");
  await rejects(readJsonConfig(`${dir}/null.json`), `${dir}/null.json`, "found null");
  await rejects(readJsonConfig(`${dir}/latin1.json`), `${dir}/latin1.json`, "not valid UTF-8");
  await rejects(readJsonConfig(`${dir}/none.json`), `${dir}/none.json`, "file not found");
  await rejects(readJsonConfig(dir), dir, "is a directory");
  await Deno.remove(dir, { recursive: true });
});
