// Common base for the local fake servers (Gemini, Linear, Discord).
//
// WHY a real node:http server and not nock/msw: discord.js ships its own undici and the other two
// SDKs use the global fetch, so request interception sees only some of them. A real socket on
// 127.0.0.1 is seen by all three, and it exercises the SDKs' actual HTTP code paths (status
// handling, headers, retries, connection errors) the way production does.
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/** A fake must never be an unbounded sink: anything bigger than this is answered with 413. */
export const FAKE_MAX_BODY_BYTES = 1024 * 1024;

/** One request as the fake received it, kept for assertions. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1beta/models/gemini-2.5-flash:generateContent`. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body, or `undefined` when the body is empty or not JSON. */
  body: unknown;
  /** Wall clock at arrival (ms since epoch). */
  receivedAt: number;
  /** Monotonic clock at arrival (performance.now(), ms): use this to measure gaps between requests. */
  monotonicMs: number;
}

export interface FakeServer {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** Every request received, in arrival order (including rejected ones). */
  requests: RecordedRequest[];
  /** Exceptions thrown by the fake's own handler: a test can assert this stays empty. */
  handlerErrors: Error[];
  close(): Promise<void>;
}

export type FakeHandler = (req: RecordedRequest, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** Ends the TCP connection without any HTTP response: what a client sees when the server dies mid-request. */
export function crashConnection(res: ServerResponse): void {
  res.socket?.destroy();
}

/** Returns the first value of a header, or undefined. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(raw: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    raw.on('data', (c: Buffer) => {
      size += c.length;
      if (size > FAKE_MAX_BODY_BYTES) tooBig = true;
      else chunks.push(c);
    });
    raw.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks).toString('utf8')));
    raw.on('error', reject);
  });
}

/** Starts `handler` on 127.0.0.1 with an ephemeral port (0), so parallel test files never collide. */
export async function startHttpFake(handler: FakeHandler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const handlerErrors: Error[] = [];
  const server = http.createServer((raw, res) => {
    void (async () => {
      const monotonicMs = performance.now();
      const receivedAt = Date.now();
      const rawBody = await readBody(raw);
      const u = new URL(raw.url ?? '/', 'http://127.0.0.1');
      let body: unknown;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch {
        body = undefined;
      }
      const rec: RecordedRequest = {
        method: raw.method ?? 'GET',
        path: decodeURIComponent(u.pathname),
        query: Object.fromEntries(u.searchParams),
        headers: raw.headers,
        rawBody: rawBody ?? '',
        body,
        receivedAt,
        monotonicMs,
      };
      requests.push(rec);
      if (rawBody === null) return sendText(res, 413, 'Payload Too Large');
      await handler(rec, res, raw);
    })().catch((err: unknown) => {
      handlerErrors.push(err instanceof Error ? err : new Error(String(err)));
      if (!res.headersSent) sendText(res, 599, `fake handler error: ${String(err)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    handlerErrors,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Keep-alive sockets from undici would otherwise hold close() open until they time out.
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
