/**
 * Test helper (not a test): a local HTTP server on 127.0.0.1 (port 0, never another address) that
 * serves byte routes the way the Hugging Face hub does (`Range`, `X-Linked-Size`/`X-Linked-Etag`,
 * `X-Repo-Commit`, redirects) and misbehaves on request: cut the connection after N bytes, ignore
 * Range, publish a wrong checksum, answer 404 or an HTML page, stall. It records every request.
 *
 * @example
 * ```ts
 * import { startTestServer } from "./test_server.ts";
 * const srv = startTestServer({ "/a.txt": { body: new TextEncoder().encode("hello") } });
 * console.log(await (await fetch(`${srv.url}/a.txt`)).text()); // "hello"
 * await srv.close();
 * ```
 * @module
 */

/** How one path is served. */
export interface Route {
  body?: Uint8Array;
  /** Extra headers on HEAD and GET answers (e.g. X-Linked-Etag). */
  headers?: Record<string, string>;
  /** Answer GET with 200 and the whole body even when asked for a Range. */
  ignoreRange?: boolean;
  /** Close the connection after this many body bytes, for the first `cutTimes` GETs (default 1). */
  cutAfter?: number;
  cutTimes?: number;
  /** Answer every request with this status (e.g. 404, 500) and no body. */
  status?: number;
  /** 302 to this path or URL; the `headers` go on the redirect (as the hub does for LFS files). */
  redirectTo?: string;
  /** Send the headers, then no body bytes at all (the client's stall timeout must fire). */
  stall?: boolean;
  /** Content-Type (default application/octet-stream). */
  contentType?: string;
  /** Answer HEAD with 405 (a server without HEAD support). */
  noHead?: boolean;
  /** Declare no size: no Content-Length on HEAD or GET (the body is sent chunked), no Range support. */
  noLength?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  routes: Record<string, Route>;
  requests: RecordedRequest[];
  /** GETs of one path so far. */
  gets(path: string): RecordedRequest[];
  close(): Promise<void>;
}

/** Start the server; routes may be added or changed afterwards through `server.routes`. */
export function startTestServer(routes: Record<string, Route>): TestServer {
  const requests: RecordedRequest[] = [];
  const getCounts = new Map<string, number>();
  const stalls: ReadableStreamDefaultController<Uint8Array>[] = [];
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      requests.push({ method: req.method, path, range: req.headers.get("range") });
      const route = state.routes[path];
      if (!route) return new Response(null, { status: 404, statusText: "Not Found" });
      const headers = new Headers(route.headers ?? {});
      if (route.status) return new Response(null, { status: route.status, headers });
      if (route.redirectTo) {
        headers.set("location", route.redirectTo);
        return new Response(null, { status: 302, headers });
      }
      const body = route.body ?? new Uint8Array(0);
      headers.set("content-type", route.contentType ?? "application/octet-stream");
      headers.set("accept-ranges", "bytes");
      if (req.method === "HEAD") {
        if (route.noHead) return new Response(null, { status: 405 });
        if (route.noLength) {
          // An empty body would be answered with "Content-Length: 0": an (empty) stream declares nothing.
          return new Response(new ReadableStream({ start: (c) => c.close() }), { status: 200, headers });
        }
        headers.set("content-length", String(body.length));
        return new Response(null, { status: 200, headers });
      }
      if (route.noLength) {
        // A stream of unknown length: Deno sends it chunked, without Content-Length.
        const stream = new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < body.length; i += 1 << 20) c.enqueue(body.slice(i, i + (1 << 20)));
            c.close();
          },
        });
        headers.delete("accept-ranges");
        return new Response(stream, { status: 200, headers });
      }
      const n = (getCounts.get(path) ?? 0) + 1;
      getCounts.set(path, n);
      let start = 0, status = 200;
      const range = req.headers.get("range")?.match(/^bytes=(\d+)-$/);
      if (range && !route.ignoreRange) {
        start = Number(range[1]);
        if (start >= body.length) {
          headers.set("content-range", `bytes */${body.length}`);
          return new Response(null, { status: 416, headers });
        }
        status = 206;
        headers.set("content-range", `bytes ${start}-${body.length - 1}/${body.length}`);
      }
      const slice = body.subarray(start);
      headers.set("content-length", String(slice.length));
      if (route.stall) {
        return new Response(new ReadableStream({ start: (c) => void stalls.push(c) }), { status, headers });
      }
      const cut = route.cutAfter !== undefined && n <= (route.cutTimes ?? 1);
      if (!cut) return new Response(slice.slice(), { status, headers });
      const part = slice.subarray(0, Math.max(0, route.cutAfter! - start));
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          if (part.length > 0) c.enqueue(part);
          c.close(); // fewer bytes than Content-Length: the connection is dropped mid-body
        },
      });
      return new Response(stream, { status, headers });
    },
  );
  const state: TestServer = {
    url: `http://127.0.0.1:${server.addr.port}`,
    routes,
    requests,
    gets: (p) => requests.filter((r) => r.method === "GET" && r.path === p),
    async close() {
      for (const c of stalls) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      ac.abort();
      await server.finished;
    },
  };
  return state;
}

/** A URL on 127.0.0.1 where nothing listens (a server is started and stopped to find a free port). */
export async function deadUrl(): Promise<string> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await new Promise((r) => setTimeout(r, 10));
  return `http://127.0.0.1:${port}`;
}
