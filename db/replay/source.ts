/**
 * Reads the ledger for replay in id order, pages ahead: while the caller verifies page N the
 * server already builds the next ones (on Postgres on other cores).
 *
 * Only `Db.query` is used, so replay also runs inside a caller's REPEATABLE READ transaction
 * (health, verification) and sees one snapshot. (A COPY stream would be faster — measured ≈1 µs a
 * row on the server against ≈1.9 µs for the page text — but needs the driver's connection, which
 * `Db` does not expose; and inside a transaction it would have to be that transaction's.)
 */
import type { Queryable } from '../adapter';
import { LIMITS } from '../../validator/limits';
import { PAGE_SQL, ROWS_SQL, countLines } from './page';

/** Fields of one row as the original row-by-row reader returns them. */
export interface LedgerRow {
  id: bigint;
  proposal_id: string;
  leg: number;
  kind: string;
  agent: string;
  from_actor: string | null;
  to_actor: string | null;
  resource: string | null;
  amount: bigint | null;
  validator_version: string;
  at_ms: bigint;
  proposal_hash: string;
  metadata: string;
  prev_hash: string;
  hash: string;
}

/** A page in the one-line-per-row layout of page.ts, or (when that layout cannot carry it) as row objects. */
export type Page = { after: bigint; last: bigint; n: number } & ({ text: string; rows?: undefined } | { rows: LedgerRow[]; text?: undefined });

interface Fetched {
  /** The range asked for: after < id <= upto. */
  after: bigint;
  upto: bigint;
  /** First id after the range, null when there is none. */
  next: bigint | null;
  page: Page | null;
}

const INT8_MAX = 2n ** 63n - 1n;

/**
 * Pages are id ranges (after, after + rows], so the next range is known before the current one
 * arrives and `depth` of them are in flight at once: on Postgres each runs on its own pooled
 * connection, i.e. on its own core. A range that comes back short (a gap in the ids) is fine; the
 * first id after each range lets the reader jump a long gap and tells it where the ledger ends.
 */
export class PageReader {
  private readonly inflight: Array<Promise<Fetched>> = [];
  /** End of the last range asked for. */
  private scheduled: bigint;
  private rowsPerPage: number = LIMITS.replay.firstPageRows;
  private ended = false;
  /** The highest id any range has seen (a row or a `next`). */
  private furthest: bigint;
  /** Ranges dropped by `restart` that may still be running. */
  private readonly stray: Array<Promise<Fetched>> = [];

  constructor(
    private readonly db: Queryable,
    after: bigint,
    private readonly depth: number,
  ) {
    this.scheduled = after;
    this.furthest = after;
    this.fill();
  }

  private fill() {
    while (this.inflight.length < this.depth && this.scheduled < INT8_MAX) {
      const after = this.scheduled;
      const upto = after + BigInt(this.rowsPerPage) > INT8_MAX ? INT8_MAX : after + BigInt(this.rowsPerPage);
      this.scheduled = upto;
      const f = this.fetch(after, upto);
      // An early exit of the caller must not leave a rejected prefetch unhandled.
      f.catch(() => {});
      this.inflight.push(f);
    }
  }

  /** The next non-empty page in id order, or null at the end of the ledger. */
  async read(): Promise<Page | null> {
    while (!this.ended && this.inflight.length) {
      const f = await this.inflight.shift()!;
      if (f.next === null) {
        // At this range's snapshot nothing follows it. The end — what the original reader's empty
        // page meant — unless an earlier range saw rows further on (ranges in flight run on
        // different connections, so their snapshots differ). Otherwise rows may have been appended
        // since: continue right after what this range returned.
        if (f.page === null && this.furthest <= f.after) {
          this.ended = true;
          return null;
        }
        if (f.page === null) this.furthest = f.after;
        this.restart(f.page ? f.page.last : f.after);
      } else {
        if (f.next > this.furthest) this.furthest = f.next;
        // A gap longer than what is in flight: those ranges are empty; continue after it.
        if (f.next - 1n > this.scheduled) this.restart(f.next - 1n);
      }
      this.fill();
      if (f.page) return f.page;
    }
    return null;
  }

  private restart(from: bigint) {
    this.stray.push(...this.inflight);
    this.inflight.length = 0;
    this.scheduled = from;
  }

  /** Rows (after, upto] read the original way (after the pages in flight: one query at a time on a single connection). */
  async rows(after: bigint, upto: bigint): Promise<LedgerRow[]> {
    await this.drain();
    return this.query(after, upto);
  }

  /** Wait until no page is in flight (their results are kept for `read`), so the caller may query on a single connection. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight, ...this.stray.splice(0)]);
  }

  private async query(after: bigint, upto: bigint): Promise<LedgerRow[]> {
    return (await this.db.query<LedgerRow>(ROWS_SQL, [after, upto])).rows;
  }

  private async fetch(after: bigint, upto: bigint): Promise<Fetched> {
    let r: { n: bigint; last: bigint | null; next: bigint | null; text: string | null };
    try {
      r = (await this.db.query<{ n: bigint; last: bigint | null; next: bigint | null; text: string | null }>(PAGE_SQL, [after, upto])).rows[0];
    } catch (e) {
      // A page too large for one text value (only a tampered ledger has rows that big): read it
      // row by row. (Inside a caller's transaction the error has aborted it, and this rethrows.)
      const rows = await this.query(after, upto);
      const next = (await this.db.query<{ next: bigint | null }>('SELECT min(id) AS next FROM ledger WHERE id > $1', [upto])).rows[0].next;
      const page: Page | null = rows.length ? { after, last: BigInt(rows[rows.length - 1].id), n: rows.length, rows } : null;
      return { after, upto, next: next === null ? null : BigInt(next), page };
    }
    const next = r.next === null ? null : BigInt(r.next);
    const n = Number(r.n);
    if (n === 0 || r.text === null || r.last === null) return { after, upto, next, page: null };
    const last = BigInt(r.last);
    // Keep pages near a fixed size in characters whatever the metadata sizes are.
    const perRow = Math.max(1, r.text.length / n);
    this.rowsPerPage = Math.max(LIMITS.replay.minPageRows, Math.min(LIMITS.ledger.replayPageRows, Math.floor(LIMITS.replay.pageChars / perRow)));
    // A text field holding a newline would add a line: then this page is read row by row.
    if (countLines(r.text) !== n) {
      return { after, upto, next, page: { after, last, n, rows: await this.query(after, last) } };
    }
    return { after, upto, next, page: { after, last, n, text: r.text } };
  }
}
