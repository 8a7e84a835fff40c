/**
 * Server-Sent Events hub: at most LIMITS.http.maxSseClients streams, each bounded in unsent bytes
 * (a stalled client is dropped, it reconnects and resyncs), a comment heartbeat so idle streams
 * stay open, and a ring of recent ledger rows so an EventSource reconnect (Last-Event-ID) gets
 * exactly the rows it missed — or a `resync` event when they are no longer in the ring.
 *
 * Only ledger events carry an SSE `id:` (the ledger id): the browser's Last-Event-ID is then
 * always "the last ledger row I saw", whatever other events arrived after it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LIMITS } from '../validator/limits';
import { BASE_HEADERS } from './http';

interface Client {
  res: ServerResponse;
  id: number;
}

export interface SseOptions {
  maxClients?: number;
  heartbeatMs?: number;
  maxBufferedBytes?: number;
  replayRows?: number;
}

export class SseHub {
  private readonly clients = new Map<number, Client>();
  private nextClient = 1;
  /** Recent ledger frames: [id, frame text], ascending, at most replayRows. */
  private readonly ring: Array<[bigint, string]> = [];
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxClients: number;
  private readonly maxBuffered: number;
  private readonly replayRows: number;
  dropped = 0;
  sent = 0;

  constructor(opts: SseOptions = {}) {
    this.maxClients = opts.maxClients ?? LIMITS.http.maxSseClients;
    this.maxBuffered = opts.maxBufferedBytes ?? LIMITS.bridge.sseMaxBufferedBytes;
    this.replayRows = opts.replayRows ?? LIMITS.bridge.sseReplayRows;
    this.heartbeat = setInterval(() => this.writeAll(': ping\n\n'), opts.heartbeatMs ?? LIMITS.bridge.sseHeartbeatMs);
    this.heartbeat.unref?.();
  }

  get size(): number {
    return this.clients.size;
  }

  get max(): number {
    return this.maxClients;
  }

  get full(): boolean {
    return this.clients.size >= this.maxClients;
  }

  /**
   * Takes over the response as an event stream. `hello` is the first event; `lastEventId` (from
   * the Last-Event-ID header or ?last_event_id=) replays missed ledger rows from the ring.
   */
  accept(req: IncomingMessage, res: ServerResponse, hello: Record<string, unknown>, lastEventId: bigint | undefined, extraHeaders: Record<string, string> = {}): void {
    const id = this.nextClient++;
    res.writeHead(200, {
      ...BASE_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      ...extraHeaders,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    const client: Client = { res, id };
    this.clients.set(id, client);
    const done = () => this.clients.delete(id);
    res.on('close', done);
    res.on('error', done);
    // retry: how long the browser waits before reconnecting after a drop.
    this.write(client, `retry: 1000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`);
    if (lastEventId !== undefined) this.replay(client, lastEventId);
  }

  private replay(c: Client, lastId: bigint): void {
    const newest = this.ring.length ? this.ring[this.ring.length - 1][0] : null;
    if (newest === null || lastId >= newest) return;
    const oldest = this.ring[0][0];
    if (lastId + 1n < oldest) {
      this.write(c, `event: resync\ndata: ${JSON.stringify({ reason: 'REPLAY_TOO_OLD', after_id: lastId.toString() })}\n\n`);
      return;
    }
    for (const [id, frame] of this.ring) if (id > lastId) this.write(c, frame);
  }

  /** A ledger row: framed with its id, remembered for reconnects, sent to everyone. */
  ledger(id: bigint, data: unknown): void {
    const frame = `id: ${id}\nevent: ledger\ndata: ${JSON.stringify(data)}\n\n`;
    this.ring.push([id, frame]);
    if (this.ring.length > this.replayRows) this.ring.splice(0, this.ring.length - this.replayRows);
    this.writeAll(frame);
  }

  /**
   * Too many rows at once to stream one by one (catch-up, a large batch): remembered for
   * reconnects, but clients get one `resync` and reload the latest page themselves.
   */
  ledgerBurst(rows: Array<{ id: bigint; data: unknown }>, info: Record<string, unknown>): void {
    // Only the newest replayRows can stay in the ring: frame just those (catch-up can be 10^5 rows).
    for (const r of rows.slice(-this.replayRows)) this.ring.push([r.id, `id: ${r.id}\nevent: ledger\ndata: ${JSON.stringify(r.data)}\n\n`]);
    if (this.ring.length > this.replayRows) this.ring.splice(0, this.ring.length - this.replayRows);
    const last = rows[rows.length - 1];
    this.writeAll(`${last ? `id: ${last.id}\n` : ''}event: resync\ndata: ${JSON.stringify(info)}\n\n`);
  }

  /** Any other event (rejection, alert, breaker, verification, notice). */
  send(event: string, data: unknown): void {
    this.writeAll(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private writeAll(frame: string): void {
    for (const c of this.clients.values()) this.write(c, frame);
  }

  private write(c: Client, frame: string): void {
    if (c.res.writableEnded || c.res.destroyed) {
      this.clients.delete(c.id);
      return;
    }
    c.res.write(frame);
    this.sent++;
    if (c.res.writableLength > this.maxBuffered) {
      // The client is not reading: drop it rather than buffer without bound. Its EventSource
      // reconnects with Last-Event-ID and gets the ring or a resync.
      this.dropped++;
      this.clients.delete(c.id);
      c.res.destroy();
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const c of this.clients.values()) c.res.end();
    this.clients.clear();
  }
}
