/**
 * Record Linear Decision: a Linear webhook delivery (from the Grid Linear Trigger) becomes a
 * recorded human decision through engine/hitl — a breaker ticket moved to Done resets the breaker
 * with a `breaker_set` proposal by the human actor; other decisions go to admin_audit. The
 * signature is verified again here with the Linear credential's signing secret, so a forged item
 * cannot act; idempotent per `linear-delivery` id.
 *
 * Timestamp window: Linear signs a `webhookTimestamp` that must be within ±60 s of "now". Here
 * "now" is the moment the trigger received the delivery (`receivedAt`, bounded to the last
 * LIMITS.n8n.maxWebhookItemAgeSeconds), so "Retry execution" an hour later still records the
 * decision, while a replayed or stale delivery is still refused (WEBHOOK_STALE).
 */
import { NodeOperationError } from 'n8n-workflow';
import { LinearHitl } from '../../../engine/hitl';
import { LIMITS } from '../../../validator/limits';
import { linearSettings } from '../../shared/credentials';
import { perItem } from '../../shared/items';
import { forOperation, type LedgerOperation } from './common';

export const recordLinearDecision: LedgerOperation = {
  option: {
    name: 'Record Linear Decision',
    value: 'recordLinearDecision',
    action: 'Record a human decision from a Linear ticket',
    description: 'Turn a signed Linear webhook (ticket moved to Done or Canceled) into a recorded human decision',
  },
  properties: forOperation('recordLinearDecision', [
    { displayName: 'Human Actor', name: 'humanActor', type: 'string', default: 'council', required: true, description: 'Registered human actor the decision is recorded for' },
    { displayName: 'Raw Body', name: 'rawBody', type: 'string', default: '={{ $json.rawBody }}', description: 'The webhook body exactly as received (the signature covers these bytes)' },
    { displayName: 'Signature', name: 'signature', type: 'string', default: '={{ $json.headers?.["linear-signature"] }}' },
    { displayName: 'Delivery ID', name: 'deliveryId', type: 'string', default: '={{ $json.headers?.["linear-delivery"] }}' },
    { displayName: 'Received At', name: 'receivedAt', type: 'string', default: '={{ $json.receivedAt }}', description: 'When the trigger received the delivery (ISO time or ms); empty: now' },
  ]),
  async execute(ctx, grid) {
    const { webhookSecret } = await linearSettings(ctx);
    if (!webhookSecret) {
      throw new NodeOperationError(ctx.getNode(), 'GRID_LINEAR_SECRET_MISSING: the Grid Linear API credential has no webhook signing secret');
    }
    return perItem(ctx, async (i) => {
      const rawBody = String(ctx.getNodeParameter('rawBody', i, '') ?? '');
      if (!rawBody) {
        return { ok: false, status: 400, error: { code: 'HITL_NO_PAYLOAD', message: 'the item carries no Linear webhook body (rawBody); connect the Grid Linear Trigger' } };
      }
      const received = receivedAtMs(ctx.getNodeParameter('receivedAt', i, '') as unknown);
      const { db, writer } = await grid();
      const hitl = new LinearHitl({ db, writer, secret: webhookSecret, humanActor: ctx.getNodeParameter('humanActor', i) as string, clock: () => received });
      const headers: Record<string, string> = {};
      const sig = String(ctx.getNodeParameter('signature', i, '') ?? '');
      const delivery = String(ctx.getNodeParameter('deliveryId', i, '') ?? '');
      if (sig) headers['linear-signature'] = sig;
      if (delivery) headers['linear-delivery'] = delivery;
      const res = await hitl.handle(Buffer.from(rawBody, 'utf8'), headers);
      // 5xx: the grid is misconfigured (e.g. the human actor is not registered) — a failure to fix,
      // unlike 4xx answers about the delivery itself, which are output for the workflow to see.
      if (res.status >= 500) {
        const e = (res.body.error ?? {}) as { code?: string; message?: string };
        throw Object.assign(new Error(e.message ?? 'the decision could not be recorded'), { code: e.code ?? 'HITL_FAILED' });
      }
      const outcome = res.body.outcome as { proposal_id?: unknown } | undefined;
      // alert_key: lets a Grid Alert after this node report (or send) the reset's breaker alert.
      return { ok: res.status < 400, status: res.status, ...res.body, alert_key: typeof outcome?.proposal_id === 'string' ? outcome.proposal_id : null };
    });
  },
};

function receivedAtMs(v: unknown): number {
  const now = Date.now();
  const ms = typeof v === 'number' ? v : typeof v === 'string' && v.trim() ? (/^\d+$/.test(v.trim()) ? Number(v) : Date.parse(v)) : NaN;
  if (!Number.isFinite(ms)) return now;
  // Never in the future, never older than the bound: an item cannot move the window arbitrarily.
  return Math.min(now, Math.max(ms, now - LIMITS.n8n.maxWebhookItemAgeSeconds * 1000));
}
