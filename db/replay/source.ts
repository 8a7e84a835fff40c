/**
 * Reads the ledger for replay in id order, one page ahead: while the caller verifies page N the
 * server already builds page N+1 (on Postgres another core does that work; keyset paging over
 * `max(id)` of the page just read needs no extra round trip).
 *
 * Only `Db.query` is used, so replay also runs inside a caller's REPEATABLE READ transaction
 * (health, verification) and sees one snapshot. (A COPY stream would need a connection of its
 * own, outside that snapshot.)
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

export class PageReader {
  private next: Promise<Page | null>;
  private rowsPerPage: number = LIMITS.replay.firstPageRows;
  /** Pages the fast layout could not carry (read row by row instead). */
  rowPages = 0;

  constructor(
    private readonly db: Queryable,
    after: bigint,
  ) {
    this.next = this.fetch(after);
  }

  /** The next page (and starts fetching the one after it), or null at the end. */
  async read(): Promise<Page | null> {
    const page = await this.next;
    if (page === null) return null;
    // An early exit of the caller must not leave a rejected prefetch unhandled.
    this.next = this.fetch(page.last);
    this.next.catch(() => {});
    return page;
  }

  /** Rows (after, upto] read the original way. */
  async rows(after: bigint, upto: bigint): Promise<LedgerRow[]> {
    return (await this.db.query<LedgerRow>(ROWS_SQL, [after, upto])).rows;
  }

  private async fetch(after: bigint): Promise<Page | null> {
    const limit = this.rowsPerPage;
    let r: { n: bigint; last: bigint | null; text: string | null };
    try {
      r = (await this.db.query<{ n: bigint; last: bigint | null; text: string | null }>(PAGE_SQL, [after, limit])).rows[0];
    } catch (e) {
      // A page too large for one text value (only a tampered ledger has rows that big): read it
      // row by row. (Inside a caller's transaction the error has aborted it, and this rethrows.)
      const rows = (await this.db.query<LedgerRow>(`${ROWS_SQL.replace('AND id <= $2', '')} LIMIT $2`, [after, Math.min(limit, 1000)])).rows;
      this.rowPages++;
      return rows.length ? { after, last: BigInt(rows[rows.length - 1].id), n: rows.length, rows } : null;
    }
    const n = Number(r.n);
    if (n === 0 || r.text === null || r.last === null) return null;
    const last = BigInt(r.last);
    // Keep pages near a fixed size in characters whatever the metadata sizes are.
    const perRow = Math.max(1, r.text.length / n);
    this.rowsPerPage = Math.max(LIMITS.replay.minPageRows, Math.min(LIMITS.ledger.replayPageRows, Math.floor(LIMITS.replay.pageChars / perRow)));
    // A text field holding a newline would add a line: then this page is read row by row.
    if (countLines(r.text) !== n) {
      this.rowPages++;
      return { after, last, n, rows: await this.rows(after, last) };
    }
    return { after, last, n, text: r.text };
  }
}
