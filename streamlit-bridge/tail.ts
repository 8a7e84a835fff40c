/**
 * FeedTail: follows the ledger, the rejections and the alerts by id, polling every
 * LIMITS.bridge.pollIntervalMs. Polling works the same on PGlite and Postgres (PGlite has no
 * LISTEN across processes); each poll is three indexed range reads that return nothing when idle.
 *
 * Ordering, and why the two cursors differ:
 *  - ledger ids are gap-free and assigned under the chain-head lock, so they become visible in id
 *    order. The tail hands out only a contiguous run (last+1, last+2, ...): a missing id means a
 *    commit not yet visible, and everything after it waits (the telemetry fold depends on order).
 *    If the hole stays longer than ledgerGapAlertMs, a LEDGER_GAP alert is raised (once).
 *  - rejection and alert ids come from sequences: a transaction that took id 10 may commit after
 *    the one that took 11, and a rolled-back one leaves 10 missing forever. So skipped ids are
 *    remembered as holes and looked for again (by id) until holeTtlMs; then given up.
 */
import type { Queryable } from '../db/adapter';
import { LIMITS } from '../validator/limits';
import { ledgerAfter, rejectionsSince, alertsSince, type LedgerRow, type RejectionRow, type AlertRow } from './read-model';

export interface TailListener {
  ledger?(rows: LedgerRow[]): void;
  rejections?(rows: RejectionRow[]): void;
  alerts?(rows: AlertRow[]): void;
  /** Something the bridge itself noticed (a ledger gap); shaped like an alert row's essentials. */
  notice?(n: { code: string; message: string; at_ms: number }): void;
}

/** A cursor over a sequence-numbered feed that remembers skipped ids for a while. */
export class HoleCursor {
  last: bigint;
  private readonly holes = new Map<bigint, number>();
  constructor(
    start: bigint,
    private readonly ttlMs: number = LIMITS.bridge.holeTtlMs,
    private readonly maxHoles: number = LIMITS.bridge.maxHoles,
  ) {
    this.last = start;
  }

  pending(now: number): bigint[] {
    for (const [id, exp] of this.holes) if (exp <= now) this.holes.delete(id);
    return [...this.holes.keys()];
  }

  /** Filters rows to those not seen yet, advancing the cursor and recording new holes. */
  accept<T extends { id: string }>(rows: T[], now: number): T[] {
    const out: T[] = [];
    for (const r of rows) {
      const id = BigInt(r.id);
      if (this.holes.delete(id)) {
        out.push(r);
        continue;
      }
      if (id <= this.last) continue;
      // Only the ids nearest `id` are worth remembering when a sequence jumped far.
      const from = id - this.last - 1n > BigInt(this.maxHoles) ? id - BigInt(this.maxHoles) : this.last + 1n;
      for (let k = from; k < id; k++) this.holes.set(k, now + this.ttlMs);
      while (this.holes.size > this.maxHoles) this.holes.delete(this.holes.keys().next().value as bigint);
      this.last = id;
      out.push(r);
    }
    return out;
  }

  get holeCount(): number {
    return this.holes.size;
  }
}

export interface TailOptions {
  pollMs?: number;
  batchRows?: number;
  /** Start the alert cursor at the current newest alert (default) or at 0 (replay all). */
  alertsFromStart?: boolean;
  now?: () => number;
}

export class FeedTail {
  readonly pollMs: number;
  readonly batchRows: number;
  lastLedgerId = 0n;
  readonly rejections = new HoleCursor(0n);
  readonly alerts = new HoleCursor(0n);
  lastError: { code: string; message: string; at: string } | null = null;
  polls = 0;
  private gapSince: number | null = null;
  private gapAlerted = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  private readonly listeners: TailListener[] = [];
  private readonly now: () => number;

  constructor(
    private readonly db: Queryable,
    private readonly opts: TailOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? LIMITS.bridge.pollIntervalMs;
    this.batchRows = opts.batchRows ?? LIMITS.bridge.tailBatchRows;
    this.now = opts.now ?? Date.now;
  }

  on(l: TailListener): void {
    this.listeners.push(l);
  }

  /** Catches up with everything already recorded, then polls until stop(). */
  async start(): Promise<void> {
    if (!this.opts.alertsFromStart) {
      const r = await this.db.query<{ id: bigint | null }>('SELECT max(id) AS id FROM alert_feed');
      this.alerts.last = BigInt(r.rows[0]?.id ?? 0);
    }
    await this.pollOnce();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    // setTimeout after each poll (never setInterval): a slow poll can never overlap the next.
    this.timer = setTimeout(() => {
      this.running = this.pollOnce()
        .catch(() => {})
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.pollMs);
    this.timer.unref?.();
  }

  /** One round over the three feeds; a full page is followed at once by the next (catch-up). */
  async pollOnce(): Promise<void> {
    try {
      for (;;) {
        const full = await this.pollLedger();
        if (!full || this.stopped) break;
      }
      for (;;) {
        const now = this.now();
        const page = await rejectionsSince(this.db, this.rejections.last, this.rejections.pending(now), this.batchRows);
        const rej = this.rejections.accept(page, now);
        if (rej.length) this.emit((l) => l.rejections?.(rej));
        if (page.length < this.batchRows || this.stopped) break;
      }
      for (;;) {
        const now = this.now();
        const page = await alertsSince(this.db, this.alerts.last, this.alerts.pending(now), this.batchRows);
        const al = this.alerts.accept(page, now);
        if (al.length) this.emit((l) => l.alerts?.(al));
        if (page.length < this.batchRows || this.stopped) break;
      }
      this.lastError = null;
      this.polls++;
    } catch (e: any) {
      this.lastError = { code: 'DB_UNAVAILABLE', message: String(e?.message ?? e).slice(0, 500), at: new Date(this.now()).toISOString() };
      throw e;
    }
  }

  /** Returns true when the page was full and contiguous (more rows are probably waiting). */
  private async pollLedger(): Promise<boolean> {
    const rows = await ledgerAfter(this.db, this.lastLedgerId, this.batchRows);
    let n = 0;
    while (n < rows.length && BigInt(rows[n].id) === this.lastLedgerId + BigInt(n) + 1n) n++;
    if (n < rows.length) this.noteGap(rows[n].id);
    else this.gapSince = null;
    if (n === 0) return false;
    const run = n === rows.length ? rows : rows.slice(0, n);
    this.lastLedgerId = BigInt(run[run.length - 1].id);
    if (n === rows.length) this.gapAlerted = false;
    this.emit((l) => l.ledger?.(run));
    return rows.length === this.batchRows && n === rows.length;
  }

  private noteGap(seenId: string): void {
    const now = this.now();
    this.gapSince ??= now;
    if (!this.gapAlerted && now - this.gapSince >= LIMITS.bridge.ledgerGapAlertMs) {
      this.gapAlerted = true;
      const message = `ledger entry ${this.lastLedgerId + 1n} has not appeared for ${now - this.gapSince} ms although entry ${seenId} exists; the ledger must be gap-free — run grid verify`;
      this.emit((l) => l.notice?.({ code: 'LEDGER_GAP', message, at_ms: now }));
    }
  }

  private emit(f: (l: TailListener) => void): void {
    for (const l of this.listeners) {
      try {
        f(l);
      } catch {
        // A listener's failure (e.g. one SSE client) must not stop the tail for everyone else.
      }
    }
  }
}
