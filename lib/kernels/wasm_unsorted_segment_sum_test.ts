import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "./backend.ts";

Deno.test("wasm `UnsortedSegmentSum` gives the gather gradient the cpu backend gives", async () => {
  const table = [[1, 2], [3, 4], [5, 6], [7, 8]];
  const ids = [2, 0, 2, 3];
  const run = () => {
    const w = tf.variable(tf.tensor2d(table));
    const weights = tf.tensor2d([[1, -1], [2, 0.5], [3, 3], [-4, 1]]);
    const { grads, value } = tf.variableGrads(() =>
      tf.sum(tf.mul(tf.gather(w, tf.tensor1d(ids, "int32")), weights))
    );
    const g = grads[w.name].arraySync();
    tf.dispose([w, weights, value, ...Object.values(grads)]);
    return g;
  };
  await useBackend("wasm");
  const onWasm = run();
  await useBackend("cpu");
  const onCpu = run();
  // Hand-computed: row 0 gets [2, 0.5]; row 2 gets [1,-1]+[3,3]; row 3 gets [-4,1]; row 1 none.
  assertEquals(onCpu, [[2, 0.5], [0, 0], [4, 2], [-4, 1]]);
  assertEquals(onWasm, onCpu);
});
