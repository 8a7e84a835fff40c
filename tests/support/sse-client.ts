/**
 * A minimal Server-Sent Events reader for tests (node:http; Node 20 has no EventSource): parses
 * `id:`, `event:` and `data:` lines into events and lets a test wait for one matching a predicate.
 */
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id: string | null;
  event: string;
  data: any;
}

export interface SseConnection {
  status: number;
  headers: IncomingMessage['headers'];
  events: SseEvent[];
  /** Body text when the answer was not an event stream (e.g. a 503 JSON error). */
  body: string;
  waitFor(pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const waiters: Array<{ pred: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = [];
      let buf = '';
      let body = '';
      const isStream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!isStream) {
          body += chunk;
          conn.body = body;
          return;
        }
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id: string | null = null;
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue;
            const c = line.indexOf(':');
            const k = c < 0 ? line : line.slice(0, c);
            const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (k === 'id') id = v;
            else if (k === 'event') event = v;
            else if (k === 'data') data.push(v);
          }
          if (!data.length) continue;
          const e: SseEvent = { id, event, data: JSON.parse(data.join('\n')) };
          events.push(e);
          for (const w of [...waiters]) {
            if (w.pred(e)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(e);
            }
          }
        }
      });
      res.on('error', () => {});
      const conn: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        body,
        waitFor(pred, timeoutMs = 3_000) {
          const seen = events.find(pred);
          if (seen) return Promise.resolve(seen);
          return new Promise((ok, fail) => {
            const t = setTimeout(() => fail(new Error(`no matching SSE event within ${timeoutMs} ms; got ${events.map((x) => x.event).join(',')}`)), timeoutMs);
            waiters.push({ pred, resolve: (e) => (clearTimeout(t), ok(e)) });
          });
        },
        close() {
          req.destroy();
        },
      };
      if (isStream) resolve(conn);
      else res.on('end', () => resolve(conn));
    });
    req.on('error', reject);
    req.end();
  });
}
