import { strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { addSavedCopy, releaseSavedCopies, savedCopy, sharedCopy } from "./saved_inputs.ts";

await tf.setBackend("cpu");

Deno.test("shared copies: made once per tensor and kind; releaseSavedCopies drops the caller's handles only", () => {
  const x = tf.ones([4]);
  let made = 0;
  const make = (t: tf.Tensor) => (made++, tf.mul(t, 2));
  const c = sharedCopy(x, "k", make);
  strictEqual(sharedCopy(x, "k", make), c, "the second op reading x reuses the copy");
  strictEqual(made, 1);
  const clone = tf.clone(c); // what an op saving the copy holds
  const other = tf.zeros([4]);
  addSavedCopy(x, "other", other);
  strictEqual(savedCopy(x, "other"), other);
  const buffers = tf.memory().numDataBuffers;
  releaseSavedCopies(x);
  strictEqual(c.isDisposed && other.isDisposed, true, "the caller's handles are gone");
  strictEqual(
    tf.memory().numDataBuffers,
    buffers - 1,
    "the saved clone keeps its data; the other copy's is freed",
  );
  strictEqual(Array.from(clone.dataSync()).join(), "2,2,2,2");
  strictEqual(savedCopy(x, "k"), undefined);
  strictEqual(sharedCopy(x, "k", make) !== c, true, "a new copy after release");
  releaseSavedCopies(x);
  tf.dispose([x, clone]);
});
