import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { claimRunFolder, RUN_LOCK_FILE } from "./run_folder.ts";
import { train } from "./run.ts";
import { BASE_UNSUP, type TrainConfig } from "./train_config.ts";
import { TESTDATA } from "../../testing/fixtures.ts";

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

/** A folder as a previous run leaves it: resume state and best checkpoint. */
async function previousRun(dir: string, withResume = true): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  if (withResume) {
    await Deno.mkdir(`${dir}/resume`);
    await Deno.writeTextFile(`${dir}/resume/state.json`, '{"step":500}');
  }
  await Deno.writeTextFile(`${dir}/config.json`, "{}");
  await Deno.writeTextFile(`${dir}/model.safetensors`, "weights of run A");
}

Deno.test("`claimRunFolder()` lets one run at a time into a folder, and takes over a dead run's lock", async () => {
  const dir = await Deno.makeTempDir();
  const release = await claimRunFolder(`${dir}/run`, {});
  ok(await exists(`${dir}/run/${RUN_LOCK_FILE}`));
  await rejects(
    claimRunFolder(`${dir}/run`, { resume: true }),
    new RegExp(`\\.train\\.pid: another training run \\(pid ${Deno.pid}\\) is working in the run folder`),
  );
  await release();
  ok(!(await exists(`${dir}/run`)), "released, and the folder it created (left empty) removed");
  await Deno.mkdir(`${dir}/run`);

  // A lock held by another live process, then by one that has exited.
  const child = new Deno.Command("sleep", { args: ["60"] }).spawn();
  await Deno.writeTextFile(`${dir}/run/${RUN_LOCK_FILE}`, `${child.pid}\n`);
  await rejects(claimRunFolder(`${dir}/run`, {}), new RegExp(`another training run \\(pid ${child.pid}\\)`));
  child.kill("SIGKILL");
  await child.status;
  const again = await claimRunFolder(`${dir}/run`, {});
  deepStrictEqual((await Deno.readTextFile(`${dir}/run/${RUN_LOCK_FILE}`)).trim(), String(Deno.pid));
  await again();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`claimRunFolder()` refuses a fresh run over another run's state or checkpoint unless --resume or --overwrite", async () => {
  const dir = await Deno.makeTempDir();
  await previousRun(`${dir}/a`);
  await rejects(
    claimRunFolder(`${dir}/a`, {}),
    /\/a: holds another run's resume state \(resume, config\.json, model\.safetensors\); continue that run with --resume, or replace it with --overwrite/,
  );
  ok(!(await exists(`${dir}/a/${RUN_LOCK_FILE}`)), "the lock is released after a refusal");
  await previousRun(`${dir}/b`, false);
  await rejects(claimRunFolder(`${dir}/b`, {}), /holds a checkpoint \(config\.json, model\.safetensors\)/);
  await rejects(claimRunFolder(`${dir}/a`, { resume: true, overwrite: true }), /exclude each other/);
  // --overwrite never deletes the model the run starts from.
  await rejects(
    claimRunFolder(`${dir}/b`, { overwrite: true, modelDir: `${dir}/b/` }),
    /--overwrite would delete it/,
  );

  // --resume keeps everything; --overwrite removes the previous run's state and checkpoint.
  let release = await claimRunFolder(`${dir}/a`, { resume: true });
  deepStrictEqual(await Deno.readTextFile(`${dir}/a/resume/state.json`), '{"step":500}');
  await release();
  await Deno.writeTextFile(`${dir}/a/notes.txt`, "mine");
  release = await claimRunFolder(`${dir}/a`, { overwrite: true });
  deepStrictEqual(
    (await Array.fromAsync(Deno.readDir(`${dir}/a`))).map((e) => e.name).sort(),
    [RUN_LOCK_FILE, "notes.txt"],
  );
  await release();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`train()` into a folder holding another run stops with one line before writing anything", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/train.txt`, "a man .\nthe cat .\n");
  await previousRun(`${dir}/out`);
  const cfg: TrainConfig = {
    ...BASE_UNSUP,
    experiment: "test",
    preset: "tiny",
    modelDir: `${TESTDATA}bert/tiny-safetensors`,
    trainFile: `${dir}/train.txt`,
    outputDir: `${dir}/out`,
    dataDir: `${dir}/no-data`,
    finalEvalTasks: [],
  };
  await rejects(
    train(cfg, { backend: "cpu", resultsDir: `${dir}/results`, progress: false }),
    /out: holds another run's resume state .*--resume.*--overwrite/,
  );
  deepStrictEqual(await Deno.readTextFile(`${dir}/out/model.safetensors`), "weights of run A");
  deepStrictEqual(await Deno.readTextFile(`${dir}/out/resume/state.json`), '{"step":500}');
  ok(!(await exists(`${dir}/results`)), "no run record");
  await Deno.remove(dir, { recursive: true });
});
