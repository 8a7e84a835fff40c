/**
 * `COPY … TO STDOUT` for the pg driver, handing each CopyData message's payload to a callback as
 * a range of the socket's own buffer.
 *
 * Why not pg-copy-streams' `to()` (which the project uses for COPY FROM): it is a Readable that
 * moves every message through a buffer list, ≈0.45 µs a message of client CPU — measured on a
 * million-row ledger, a third of replay's whole per-row budget. The backend sends one CopyData
 * message per row, so here the framing is read in place and each payload goes straight to the
 * consumer; replay (db/replay/copy-rows.ts) reads the row's fields from the same bytes.
 *
 * It plugs into pg the way pg-copy-streams does: as a Submittable, it takes over the
 * connection's socket from pg's parser while the COPY runs and gives it back (with the bytes
 * after CopyDone, or from an ErrorResponse on) so that pg handles the end of the query and any
 * error as usual: pg then calls handleError / handleReadyForQuery below. The consumer runs inside
 * the socket's data handler, so a slow consumer holds the socket back (TCP flow control) and the
 * server waits: no unbounded buffering.
 */
import type { Submittable, Connection } from 'pg';

const CopyOutResponse = 0x48; // H
const CopyData = 0x64; // d
const CopyDone = 0x63; // c
const ErrorResponse = 0x45; // E

function readLength(b: Buffer, p: number): number {
  return ((b[p + 1] << 24) | (b[p + 2] << 16) | (b[p + 3] << 8) | b[p + 4]) >>> 0;
}

export class CopyOut implements Submittable {
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (e: unknown) => void;
  private connection: Connection | null = null;
  private pgHandler: ((b: Buffer) => void) | null = null;
  private carry: Buffer | null = null;
  private consumerError: { e: unknown } | null = null;
  private settled = false;

  constructor(
    private readonly text: string,
    /** One CopyData payload: b[start, end). May throw: the rest of the output is then read and dropped, and the error rethrown. */
    private readonly onData: (b: Buffer, start: number, end: number) => void,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => {}); // observed by the caller; never an unhandled rejection here
  }

  submit(connection: Connection): void {
    this.connection = connection;
    const stream = (connection as any).stream as NodeJS.EventEmitter;
    const listeners = stream.listeners('data');
    if (listeners.length !== 1) throw new Error(`CopyOut: expected pg's one data listener on the socket, found ${listeners.length}`);
    this.pgHandler = listeners[0] as (b: Buffer) => void;
    stream.removeListener('data', this.pgHandler);
    stream.on('data', this.onSocket);
    (connection as any).query(this.text);
  }

  private readonly onSocket = (chunk: Buffer): void => {
    let p = 0;
    if (this.carry) {
      // Complete the message cut by the last chunk from the head of this one (copying only that
      // message, not the whole chunk), handle it alone, then go on in this chunk.
      const c = this.carry;
      const head = c.length >= 5 ? c : Buffer.concat([c, chunk.subarray(0, 5 - c.length)]);
      if (head.length < 5) {
        this.carry = head;
        return;
      }
      const size = 1 + readLength(head, 0);
      const take = size - c.length;
      if (take > chunk.length) {
        this.carry = Buffer.concat([c, chunk]);
        return;
      }
      this.carry = null;
      if (this.frames(Buffer.concat([c, chunk.subarray(0, take)])) === 'detached') return;
      p = take;
    }
    if (p < chunk.length) this.frames(p === 0 ? chunk : chunk.subarray(p));
  };

  /** Handle the messages in `b`; a cut last one is kept for the next chunk. */
  private frames(b: Buffer): 'detached' | 'more' {
    let p = 0;
    const n = b.length;
    while (p + 5 <= n) {
      const type = b[p];
      const len = readLength(b, p); // includes itself, not the type byte
      if (type === ErrorResponse || (type !== CopyData && type !== CopyOutResponse && type !== CopyDone && type !== 0x4e && type !== 0x53 && type !== 0x41)) {
        // An error, or the end of copy-out mode (CommandComplete, …): pg's parser takes over from here.
        this.detach(b.subarray(p));
        return 'detached';
      }
      if (p + 1 + len > n) break; // the rest of this message is in the next chunk
      if (type === CopyData && !this.consumerError) {
        try {
          this.onData(b, p + 5, p + 1 + len);
        } catch (e) {
          this.consumerError = { e };
        }
      }
      p += 1 + len;
      if (type === CopyDone) {
        this.detach(b.subarray(p));
        return 'detached';
      }
    }
    if (p < n) this.carry = Buffer.from(b.subarray(p));
    return 'more';
  }

  private detach(rest: Buffer): void {
    const stream = (this.connection as any).stream as NodeJS.EventEmitter;
    stream.removeListener('data', this.onSocket);
    stream.on('data', this.pgHandler!);
    if (rest.length) this.pgHandler!(rest);
  }

  // pg calls these once the socket is its own again.
  handleError(err: unknown): void {
    this.settle(err);
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.settle(this.consumerError ? this.consumerError.e : null);
  }

  private settle(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (err) this.reject(err);
    else this.resolve();
  }
}
