/**
 * Least privilege after start: a task is granted FFI and subprocesses for the cpu backend (BLAS,
 * oneDNN and the C kernels, compiled once per machine); once another backend is chosen, neither is
 * needed, and both are revoked for the rest of the run.
 *
 * @module
 */

/** Revoke FFI and subprocesses when `backend` (the one in use) is not cpu; returns what was revoked. */
export async function dropUnusedPermissions(backend: string): Promise<string[]> {
  if (backend === "cpu") return [];
  const dropped: string[] = [];
  for (const name of ["ffi", "run"] as const) {
    const s = await Deno.permissions.query({ name });
    if (s.state === "granted") {
      await Deno.permissions.revoke({ name });
      dropped.push(name);
    }
  }
  return dropped;
}
