/**
 * Human-in-the-loop through Linear: a ticket the grid opened (a dispute or a breaker trip) that a
 * person moves to Done or Canceled becomes a recorded human decision.
 *
 *   breaker ticket → Done      a `breaker_set { open: false }` proposal by the human actor
 *                              (GRID_HUMAN_ACTOR), through the writer like any other proposal —
 *                              only if the breaker is still open for THAT trip (an old ticket
 *                              closed late must not reset a newer trip);
 *   breaker ticket → Canceled  recorded in admin_audit (the human keeps the breaker open);
 *   dispute ticket → Done/Canceled  recorded in admin_audit as resolved / dismissed. The law has
 *                              no ledger kind for "a human reviewed a rejection" (asked the lead).
 *
 * Tickets are recognised by the delivery record (outbox_deliveries.remote_id), never by title
 * alone: a hand-made ticket titled "Circuit breaker opened" cannot reset anything.
 *
 * Idempotent per delivery (`linear-delivery` header): acted-upon deliveries are recorded in
 * hitl_deliveries; the breaker reset's proposal_id is derived from the delivery id, so a crash
 * between the ledger write and that record is healed by the ledger's own idempotency.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Db } from '../../db/adapter';
import type { LedgerWriter } from '../../db/writer';
import { deterministicId } from '../scenario';
import { verifyLinearSignature } from './verify';

export interface HitlOptions {
  db: Db;
  writer: LedgerWriter;
  /** Linear webhook signing secret (LINEAR_WEBHOOK_SECRET). */
  secret: string;
  /** The registered human actor decisions are recorded for (GRID_HUMAN_ACTOR, default council). */
  humanActor?: string;
  clock?: () => number;
}

export interface HitlResponse {
  status: number;
  body: Record<string, unknown>;
}

interface Ticket {
  id: string;
  identifier: string;
  title: string;
  url: string | null;
  state: { name: string; type: string };
}

const err = (status: number, code: string, message: string): HitlResponse => ({ status, body: { error: { code, message } } });
const str = (v: unknown, max = 200): string => (typeof v === 'string' ? v.slice(0, max) : '');

export class LinearHitl {
  readonly humanActor: string;
  private readonly clock: () => number;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: HitlOptions) {
    if (!opts.secret) throw new Error('LinearHitl needs the webhook signing secret (LINEAR_WEBHOOK_SECRET)');
    this.humanActor = opts.humanActor ?? 'council';
    this.clock = opts.clock ?? Date.now;
  }

  /** Authenticates and acts on one webhook delivery. Never throws for client errors. */
  async handle(rawBody: Buffer, headers: IncomingHttpHeaders): Promise<HitlResponse> {
    const sig = headers['linear-signature'];
    const v = verifyLinearSignature(rawBody, Array.isArray(sig) ? sig[0] : sig, this.opts.secret, this.clock());
    if (!v.ok) return err(v.code === 'WEBHOOK_MALFORMED' ? 400 : 401, v.code, v.message);
    const hdr = headers['linear-delivery'];
    const delivery = str(Array.isArray(hdr) ? hdr[0] : hdr, 200) || `body:${createHash('sha256').update(rawBody).digest('hex')}`;
    // One delivery at a time per process: two deliveries about the same ticket must not both see
    // the breaker open and both reset it.
    const run = this.chain.then(() => this.process(delivery, v.payload));
    this.chain = run.catch(() => {});
    return run;
  }

  private async process(delivery: string, p: Record<string, any>): Promise<HitlResponse> {
    const db = this.opts.db;
    const seen = await db.query<{ outcome: unknown }>('SELECT outcome FROM hitl_deliveries WHERE delivery_id = $1', [delivery]);
    if (seen.rows.length) return { status: 200, body: { ok: true, delivery_id: delivery, duplicate: true, outcome: seen.rows[0]!.outcome } };

    const ignored = (reason: string): HitlResponse => ({ status: 200, body: { ok: true, delivery_id: delivery, duplicate: false, outcome: { action: 'ignored', reason } } });
    if (p.type !== 'Issue' || p.action !== 'update') return ignored(`not an issue update (${str(p.type, 40)} ${str(p.action, 40)})`);
    if (!p.updatedFrom || typeof p.updatedFrom !== 'object' || !('stateId' in p.updatedFrom)) return ignored('the workflow state did not change');
    const d = p.data ?? {};
    const ticket: Ticket = { id: str(d.id), identifier: str(d.identifier, 40), title: str(d.title, 300), url: str(d.url, 500) || null, state: { name: str(d.state?.name, 80), type: str(d.state?.type, 40) } };
    if (ticket.state.type !== 'completed' && ticket.state.type !== 'canceled') return ignored(`state ${ticket.state.name || '?'} is not a decision`);
    const origin = await db.query<{ topic: string; key: string; payload: any }>(
      `SELECT o.topic, o.key, o.payload FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id
       WHERE d.channel = 'linear' AND d.remote_id = $1 LIMIT 1`,
      [ticket.id],
    );
    const alert = origin.rows[0];
    if (!alert) return ignored('not a ticket the grid opened');

    const human = (await db.query<{ kind: string }>('SELECT kind FROM actors WHERE id = $1', [this.humanActor])).rows[0];
    if (human?.kind !== 'human') {
      // A configuration error: answer 503 so Linear redelivers once it is fixed.
      return err(503, 'HITL_ACTOR_INVALID', `GRID_HUMAN_ACTOR ${this.humanActor} is not a registered human actor`);
    }
    const linearActor = { id: str(p.actor?.id, 100) || null, name: str(p.actor?.name, 100) || 'unknown', type: str(p.actor?.type, 40) || null };
    const common = { delivery_id: delivery, ticket, linear_actor: linearActor, alert: { topic: alert.topic, key: alert.key } };

    let outcome: Record<string, unknown>;
    if (alert.topic === 'breaker' && ticket.state.type === 'completed') {
      outcome = await this.resetBreaker(delivery, alert.payload, ticket, linearActor.name);
    } else if (alert.topic === 'breaker') {
      outcome = { action: 'breaker_reset_declined', entry_id: alert.payload?.entry_id ?? null };
    } else {
      outcome = { action: ticket.state.type === 'completed' ? 'dispute_resolved' : 'dispute_dismissed', proposal_id: alert.key, code: alert.payload?.code ?? null };
    }
    const recorded = await db.transaction(async (tx) => {
      const ins = await tx.query(
        `INSERT INTO hitl_deliveries (delivery_id, webhook_id, event, issue_id, outcome) VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id`,
        [delivery, str(p.webhookId, 100) || null, `Issue.update:${ticket.state.type}`, ticket.id, JSON.stringify(outcome)],
      );
      if (!ins.rows.length) return false; // another process recorded it first
      await tx.query(`INSERT INTO admin_audit (actor, action, details) VALUES ($1, $2, $3::jsonb)`, [this.humanActor, `hitl.${outcome.action}`, JSON.stringify({ ...common, outcome })]);
      return true;
    });
    if (!recorded) {
      const again = await db.query<{ outcome: unknown }>('SELECT outcome FROM hitl_deliveries WHERE delivery_id = $1', [delivery]);
      return { status: 200, body: { ok: true, delivery_id: delivery, duplicate: true, outcome: again.rows[0]?.outcome ?? outcome } };
    }
    return { status: 200, body: { ok: true, delivery_id: delivery, duplicate: false, outcome } };
  }

  private async resetBreaker(delivery: string, trip: any, ticket: Ticket, actorName: string): Promise<Record<string, unknown>> {
    const db = this.opts.db;
    const proposalId = deterministicId('hitl', 'breaker-reset', delivery);
    const already = await db.query('SELECT 1 FROM ledger WHERE proposal_id = $1 LIMIT 1', [proposalId]);
    const br = (await db.query<{ open: boolean; entry_id: bigint | null }>('SELECT open, entry_id FROM breaker')).rows[0];
    const sameTrip = br?.open === true && br.entry_id !== null && String(br.entry_id) === String(trip?.entry_id ?? '');
    if (!already.rows.length && !sameTrip) {
      return { action: 'breaker_reset_not_needed', reason: br?.open ? 'the breaker is open for a later trip' : 'the breaker is already closed', entry_id: trip?.entry_id ?? null };
    }
    // Only fields of the ticket and the Linear actor: a redelivery builds the identical proposal
    // (same id, same content), which the writer answers as a duplicate.
    const res = await this.opts.writer.apply({
      kind: 'breaker_set',
      proposal_id: proposalId,
      agent: this.humanActor,
      open: false,
      reason: `reset by a human via Linear ${ticket.identifier} (${ticket.state.name})`,
      reasoning: `Linear ticket ${ticket.identifier} (${ticket.id}) moved to ${ticket.state.name} by ${actorName}; breaker trip entry ${trip?.entry_id ?? '?'}; webhook delivery ${delivery}`.slice(0, 2000),
    });
    if (res.status === 'applied') return { action: 'breaker_reset', proposal_id: proposalId, entry_id: res.entries[0]?.id ?? null, duplicate: res.duplicate };
    return { action: 'breaker_reset_rejected', proposal_id: proposalId, code: res.code, message: res.message };
  }
}
