/**
 * The outbox dispatcher: delivers alerts the writer recorded in `outbox`, per channel, with
 * bounded retries and exponential backoff, never touching the ledger's transaction.
 *
 * One round (`runOnce`):
 *   1. enqueue — a `outbox_deliveries` row per (new outbox row, configured channel);
 *   2. claim — per channel, due pending rows, `FOR UPDATE SKIP LOCKED` so concurrent dispatchers
 *      never claim the same row; the claim increments `attempts`, sets a fencing token and moves
 *      `next_attempt_at` forward by the lease (a crashed dispatcher's claim simply runs out);
 *   3. deliver — outside any transaction (a slow Linear must not hold database locks);
 *   4. mark — delivered / rescheduled / failed, only if the row still carries our token.
 * A crash anywhere leaves the row pending-with-a-lease; the next claim after the lease retries
 * it, and channels are idempotent per alert (Linear looks its ticket up before creating one).
 *
 * Time comes from an injectable clock (ms), passed to SQL as a parameter, so tests move time
 * instead of sleeping and both backends agree on it.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/adapter';
import { LIMITS } from '../../validator/limits';
import { toAlert, DeliveryError, type Alert, type AlertChannel, type OutboxRow } from './types';

const L = LIMITS.alerts;

export interface DispatcherOptions {
  channels: AlertChannel[];
  clock?: () => number;
  maxAttempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  leaseMs?: number;
  /** 0..1 → jitter fraction; injected for deterministic tests (default Math.random). */
  random?: () => number;
  /** Problems of the dispatcher itself (a channel failing is recorded on the row instead). */
  log?: (line: string) => void;
}

export interface ClaimedDelivery {
  outboxId: string;
  channel: string;
  attempts: number;
  token: string;
  /** null: a topic this build does not know. */
  alert: Alert | null;
}

export interface RoundReport {
  enqueued: number;
  claimed: number;
  delivered: number;
  adopted: number;
  skipped: number;
  retried: number;
  failed: number;
  released: number;
}

export interface ChannelStats {
  pending: number;
  delivered: number;
  failed: number;
  skipped: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

interface Mark {
  c: ClaimedDelivery;
  status: 'delivered' | 'skipped';
  d: { remoteId?: string; remoteUrl?: string };
}

export class AlertDispatcher {
  readonly channels: ReadonlyMap<string, AlertChannel>;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly leaseMs: number;
  private loop: { stop: boolean; done: Promise<void>; wake: () => void } | null = null;

  constructor(
    private readonly db: Db,
    private readonly opts: DispatcherOptions,
  ) {
    const names = opts.channels.map((c) => c.name);
    if (new Set(names).size !== names.length) throw new Error(`alert channel names must be unique: ${names.join(', ')}`);
    this.channels = new Map(opts.channels.map((c) => [c.name, c]));
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.leaseMs = opts.leaseMs ?? L.leaseMs;
  }

  /** Creates the delivery rows for outbox rows not yet enqueued on each channel. */
  async enqueue(): Promise<number> {
    if (this.channels.size === 0) return 0;
    // Outbox ids are assigned under the writer's chain-head lock, so they commit in order; the
    // lookback still catches a row that committed after a higher id was already enqueued.
    const r = await this.db.query(
      `INSERT INTO outbox_deliveries (outbox_id, channel, next_attempt_at)
       SELECT o.id, c.channel, $3::timestamptz
       FROM unnest($1::text[]) AS c(channel)
       CROSS JOIN LATERAL (
         SELECT o.id FROM outbox o
         WHERE o.id > COALESCE((SELECT max(d.outbox_id) FROM outbox_deliveries d WHERE d.channel = c.channel), 0) - $2
           AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.outbox_id = o.id AND d.channel = c.channel)
         ORDER BY o.id
         LIMIT $4
       ) o
       ON CONFLICT (outbox_id, channel) DO NOTHING`,
      [[...this.channels.keys()], L.enqueueLookback, iso(this.clock()), L.enqueueBatch],
    );
    return r.rowCount;
  }

  /** Claims up to `limit` due deliveries of one channel (leased, fenced by a token). */
  async claim(channel: string, limit: number): Promise<ClaimedDelivery[]> {
    const now = this.clock();
    const token = randomUUID();
    const r = await this.db.query<OutboxRow & { attempts: number; channel: string }>(
      `WITH due AS (
         SELECT outbox_id, channel FROM outbox_deliveries
         WHERE channel = $1 AND status = 'pending' AND next_attempt_at <= $2::timestamptz
         ORDER BY next_attempt_at, outbox_id
         LIMIT $3
         FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE outbox_deliveries d
         SET attempts = d.attempts + 1, lease_token = $4::uuid, next_attempt_at = $5::timestamptz
         FROM due WHERE d.outbox_id = due.outbox_id AND d.channel = due.channel
         RETURNING d.outbox_id, d.channel, d.attempts
       )
       SELECT c.outbox_id AS id, c.channel, c.attempts, o.topic, o.key, o.payload, o.created_at
       FROM claimed c JOIN outbox o ON o.id = c.outbox_id
       ORDER BY c.outbox_id`,
      [channel, iso(now), limit, token, iso(now + this.leaseMs)],
    );
    return r.rows.map((row) => ({ outboxId: String(row.id), channel: row.channel, attempts: Number(row.attempts), token, alert: toAlert(row) }));
  }

  /** One round over every channel (channels run concurrently, each one in outbox order). */
  async runOnce(): Promise<RoundReport> {
    const report: RoundReport = { enqueued: await this.enqueue(), claimed: 0, delivered: 0, adopted: 0, skipped: 0, retried: 0, failed: 0, released: 0 };
    await Promise.all([...this.channels.values()].map((ch) => this.runChannel(ch, report)));
    return report;
  }

  private async runChannel(ch: AlertChannel, report: RoundReport): Promise<void> {
    const claimed = await this.claim(ch.name, ch.batchSize ?? L.outboxBatch);
    report.claimed += claimed.length;
    const started = this.clock();
    // Remote channels mark each delivery at once (the window for a repeat after a crash stays one
    // alert wide); batchMarks channels (the console) mark the round in one statement.
    const marks: Mark[] = [];
    const mark = async (m: Mark) => {
      marks.push(m);
      if (!ch.batchMarks) await this.flush(marks);
    };
    try {
      for (let i = 0; i < claimed.length; i++) {
        const c = claimed[i]!;
        // Never work on a claim past half its lease: give the rest back rather than risk a second
        // dispatcher claiming a row this one is still sending.
        if (this.clock() - started > this.leaseMs / 2) {
          report.released += await this.release(claimed.slice(i));
          return;
        }
        if (!c.alert) {
          await this.reschedule(c, new DeliveryError('MISCONFIGURED', 'unknown outbox topic for this build', true));
          report.retried++;
        } else if (!ch.accepts(c.alert)) {
          await mark({ c, status: 'skipped', d: {} });
          report.skipped++;
        } else {
          try {
            const d = await ch.deliver(c.alert);
            await mark({ c, status: 'delivered', d });
            report.delivered++;
            if (d.adopted) report.adopted++;
          } catch (e) {
            const err = e instanceof DeliveryError ? e : new DeliveryError('NETWORK', String((e as Error)?.message ?? e), true);
            if (await this.reschedule(c, err)) report.retried++;
            else report.failed++;
          }
        }
      }
    } finally {
      await this.flush(marks);
    }
  }

  /** Exponential backoff with ±20 % jitter, capped; never shorter than a Retry-After. */
  backoffMs(attempts: number, retryAfterMs?: number): number {
    const base = this.opts.baseBackoffMs ?? L.baseBackoffMs;
    const cap = this.opts.maxBackoffMs ?? L.maxBackoffMs;
    const exp = Math.min(cap, base * 2 ** Math.min(30, Math.max(0, attempts - 1)));
    const jittered = Math.round(exp * (0.8 + 0.4 * this.random()));
    return Math.max(jittered, retryAfterMs ?? 0);
  }

  /** Writes (and empties) the given marks in one statement, each fenced by its claim token. */
  private async flush(marks: Mark[]): Promise<void> {
    if (!marks.length) return;
    const ms = marks.splice(0, marks.length);
    await this.db.query(
      `UPDATE outbox_deliveries d SET status = m.status, delivered_at = $1::timestamptz, remote_id = m.remote_id, remote_url = m.remote_url,
              last_error = NULL, lease_token = NULL
       FROM unnest($2::bigint[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[]) AS m(outbox_id, channel, token, status, remote_id, remote_url)
       WHERE d.outbox_id = m.outbox_id AND d.channel = m.channel AND d.lease_token = m.token`,
      [
        iso(this.clock()),
        ms.map((m) => m.c.outboxId),
        ms.map((m) => m.c.channel),
        ms.map((m) => m.c.token),
        ms.map((m) => m.status),
        ms.map((m) => m.d.remoteId ?? null),
        ms.map((m) => m.d.remoteUrl ?? null),
      ],
    );
  }

  /** Returns true when the delivery will be retried, false when it is now failed. */
  private async reschedule(c: ClaimedDelivery, err: DeliveryError): Promise<boolean> {
    const max = this.opts.maxAttempts ?? L.maxAttempts;
    const retry = err.retryable && c.attempts < max;
    const next = this.clock() + (retry ? this.backoffMs(c.attempts, err.retryAfterMs) : 0);
    await this.db.query(
      `UPDATE outbox_deliveries SET status = $4, next_attempt_at = $5::timestamptz, last_error = $6, lease_token = NULL
       WHERE outbox_id = $1 AND channel = $2 AND lease_token = $3::uuid`,
      [c.outboxId, c.channel, c.token, retry ? 'pending' : 'failed', iso(next), `${err.code}: ${err.message}`.slice(0, 1000)],
    );
    if (!retry) this.opts.log?.(`[alerts] ${c.channel} gave up on outbox ${c.outboxId} after ${c.attempts} attempt(s): ${err.code}: ${err.message}`);
    return retry;
  }

  /** Hands unprocessed claims back, due now, without counting the attempt. */
  private async release(cs: ClaimedDelivery[]): Promise<number> {
    if (!cs.length) return 0;
    const r = await this.db.query(
      `UPDATE outbox_deliveries SET attempts = attempts - 1, next_attempt_at = $4::timestamptz, lease_token = NULL
       WHERE channel = $1 AND lease_token = $2::uuid AND outbox_id = ANY($3::bigint[])`,
      [cs[0]!.channel, cs[0]!.token, cs.map((c) => c.outboxId), iso(this.clock())],
    );
    return r.rowCount;
  }

  /** Puts failed deliveries back in the queue (after fixing a key, say). */
  async requeueFailed(channel?: string): Promise<number> {
    const r = await this.db.query(
      `UPDATE outbox_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2::timestamptz, lease_token = NULL
       WHERE status = 'failed' AND ($1::text IS NULL OR channel = $1)`,
      [channel ?? null, iso(this.clock())],
    );
    return r.rowCount;
  }

  /** Rounds until nothing is due now (or `maxRounds`): for tests and for a final flush at exit. */
  async drain(maxRounds = 100): Promise<RoundReport> {
    const total: RoundReport = { enqueued: 0, claimed: 0, delivered: 0, adopted: 0, skipped: 0, retried: 0, failed: 0, released: 0 };
    for (let i = 0; i < maxRounds; i++) {
      const r = await this.runOnce();
      for (const k of Object.keys(total) as Array<keyof RoundReport>) total[k] += r[k];
      if (r.claimed === 0) break;
    }
    return total;
  }

  async stats(): Promise<Record<string, ChannelStats>> {
    const r = await this.db.query<{ channel: string; status: keyof ChannelStats; n: bigint }>(
      `SELECT channel, status, count(*)::bigint AS n FROM outbox_deliveries GROUP BY channel, status`,
    );
    const out: Record<string, ChannelStats> = {};
    for (const name of this.channels.keys()) out[name] = { pending: 0, delivered: 0, failed: 0, skipped: 0 };
    for (const row of r.rows) (out[row.channel] ??= { pending: 0, delivered: 0, failed: 0, skipped: 0 })[row.status] = Number(row.n);
    return out;
  }

  /** Runs rounds every `intervalMs` until stop(); errors (database down) are logged and retried. */
  start(intervalMs: number = L.pollIntervalMs): void {
    if (this.loop) return;
    let wake = () => {};
    const state = { stop: false, done: Promise.resolve(), wake: () => wake() };
    state.done = (async () => {
      while (!state.stop) {
        let busy = false;
        try {
          busy = (await this.runOnce()).claimed > 0;
        } catch (e) {
          this.opts.log?.(`[alerts] dispatcher round failed: ${(e as Error)?.message ?? e}`);
        }
        if (state.stop) break;
        if (!busy) await new Promise<void>((r) => {
          const t = setTimeout(r, intervalMs);
          wake = () => (clearTimeout(t), r());
        });
      }
    })();
    this.loop = state;
  }

  /** Stops the loop after the current round; closes the channels. */
  async stop(): Promise<void> {
    const l = this.loop;
    this.loop = null;
    if (l) {
      l.stop = true;
      l.wake();
      await l.done;
    }
    for (const ch of this.channels.values()) await ch.close?.();
  }
}
