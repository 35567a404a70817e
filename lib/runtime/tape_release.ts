/**
 * Early release of intermediate gradients in TF.js's backward pass.
 *
 * TF.js's `engine.gradients` keeps every gradient it computes in one map until the whole backward pass
 * ends: the gradient of an intermediate tensor stays alive after the op that produced the tensor has
 * turned it into its inputs' gradients, and so does every partial gradient that was added into a sum
 * for a tensor with several consumers. On a pre-LayerNorm model (GPT-2: each block's input feeds its
 * LayerNorm and the residual sum) that was about 86 float32 [B·L, H] tensors at the end of the backward
 * pass, 1.1 GB on GPT-2 base at the bench's batch, so the backward pass, not the forward one, set the
 * step's peak memory. PyTorch's autograd frees each gradient once its node has run.
 *
 * With this installed (`installTapeRelease`, done once by `runtime/tf.ts`), once the tape has made an
 * op's input gradients and moves on to the next op, the gradients of the op's outputs, and the partial
 * gradients that were summed into them, are disposed. A tensor is disposed only when
 * no gradient still to be consumed refers to it (a gradient function may pass `dy` on unchanged, or
 * return one tensor for two inputs), never when it is a gradient `engine.gradients` returns or the `dy`
 * its caller passed in. The values of every gradient are unchanged: only lifetimes are.
 *
 * @example
 * ```ts
 * import { tf } from "./tf.ts"; // installs it
 * const x = tf.variable(tf.ones([2, 2]));
 * const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.add(v, v), tf.exp(v))))(x);
 * g.print(); // 2·e + 2·e = 10.873…
 * ```
 * @module
 */
// deno-lint-ignore-file no-explicit-any
import type * as tfTypes from "@tensorflow/tfjs";

type Tensor = tfTypes.Tensor;
type Thunks = Record<string, () => Tensor>;
interface TapeNode {
  inputs: Record<string, Tensor>;
  outputs: Tensor[];
  gradient?: (dys: Tensor[]) => Thunks;
}

/** What one running `engine.gradients` call must keep. */
interface Frame {
  /** Ids of the tensors whose gradients the call returns. */
  results: Set<number>;
  /** The `dy` the caller passed (it is the caller's). */
  dy: Tensor | null;
  /** The node whose gradient ran last: its output gradients go when the next node's gradient runs. */
  pending: { outputs: Tensor[]; dys: Tensor[] } | null;
}

let enabled = true;
const frames: Frame[] = [];
/** Per tensor id: the gradient tensors made for it so far (its partial gradients). */
const partials = new Map<number, Tensor[]>();
/** Per gradient tensor: how many not-yet-consumed tensors' partial-gradient lists hold it. */
const holders = new Map<Tensor, number>();

/** Turn early release on or off (on by default; off gives TF.js's own lifetimes, for comparison). */
export function setTapeRelease(on: boolean): void {
  enabled = on;
}

/** Whether early release is on. */
export function tapeReleaseEnabled(): boolean {
  return enabled;
}

function hold(id: number, t: Tensor): void {
  const list = partials.get(id);
  if (list) list.push(t);
  else partials.set(id, [t]);
  holders.set(t, (holders.get(t) ?? 0) + 1);
}

function protectedTensor(t: Tensor): boolean {
  for (const f of frames) if (f.dy === t || f.results.has(t.id)) return true;
  return false;
}

/** Dispose `t` when nothing still to be consumed holds it. */
function dropIfFree(t: Tensor): void {
  if (t.isDisposed || (holders.get(t) ?? 0) > 0 || protectedTensor(t)) return;
  holders.delete(t);
  t.dispose();
}

/** The op producing `output` has used its gradient `dy`: let `dy` and the partial gradients go. */
function consumed(output: Tensor, dy: Tensor | undefined): void {
  if (frames.some((f) => f.results.has(output.id))) return;
  const list = partials.get(output.id) ?? [];
  partials.delete(output.id);
  for (const t of list) holders.set(t, (holders.get(t) ?? 1) - 1);
  for (const t of list) dropIfFree(t);
  if (dy) dropIfFree(dy);
}

function wrapGradient(node: TapeNode): void {
  const gradient = node.gradient;
  if (!gradient) return;
  node.gradient = (dys: Tensor[]) => {
    const frame = frames[frames.length - 1];
    if (!enabled || !frame) return gradient(dys);
    // The tape runs all of a node's input gradients before it asks the next node for its own, so the
    // previous node's output gradients are used up by now. (The tape may skip inputs that do not lead
    // to a result, so counting the calls below would not tell when the last one has run.)
    settle(frame);
    const thunks = gradient(dys);
    frame.pending = { outputs: node.outputs, dys };
    const wrapped: Thunks = {};
    for (const [name, thunk] of Object.entries(thunks)) {
      wrapped[name] = () => {
        const dx = thunk();
        const input = node.inputs[name];
        if (input) hold(input.id, dx);
        return dx;
      };
    }
    return wrapped;
  };
}

/** Release the output gradients of the node whose input gradients were made last. */
function settle(frame: Frame): void {
  const done = frame.pending;
  frame.pending = null;
  done?.outputs.forEach((o, i) => consumed(o, done.dys[i]));
}

let installed = false;

/** Patch the TF.js engine (once): see the module comment. */
export function installTapeRelease(engine: unknown): void {
  if (installed) return;
  installed = true;
  const eng = engine as any;
  const proto = Object.getPrototypeOf(eng);
  const addTapeNode = proto.addTapeNode;
  proto.addTapeNode = function (this: any, ...args: unknown[]) {
    addTapeNode.apply(this, args);
    const tape = this.state.activeTape as TapeNode[] | null;
    if (tape && tape.length > 0) wrapGradient(tape[tape.length - 1]);
  };
  const gradients = proto.gradients;
  proto.gradients = function (this: any, f: unknown, xs: Tensor[], dy?: Tensor, ...rest: unknown[]) {
    frames.push({ results: new Set(xs.map((x) => x.id)), dy: dy ?? null, pending: null });
    try {
      return gradients.call(this, f, xs, dy, ...rest);
    } finally {
      frames.pop();
      if (frames.length === 0) {
        partials.clear();
        holders.clear();
      }
    }
  };
}
