/**
 * The breaker's automation for workflows. Check: trip on critical levels (low reserves, a
 * rejection rate above policy, optionally drift found by verify) — engine/breaker.ts decides and
 * trips through the writer with an id keyed by the chain head, so a retried check never trips
 * twice. Wait: hold the execution until a human closes the breaker (decision "resumed") or the
 * timeout passes (decision "halted"), polling the breaker row; stops at once when the execution
 * is cancelled.
 */
import { checkBreaker as check } from '../../../engine/breaker';
import { LIMITS } from '../../../validator/limits';
import { perItem } from '../../shared/items';
import { forOperation, type LedgerOperation } from './common';

const N = LIMITS.n8n;

export const checkBreaker: LedgerOperation = {
  option: {
    name: 'Check Circuit Breaker',
    value: 'checkBreaker',
    action: 'Check critical levels and trip the breaker',
    description: 'Trip the breaker (as the system actor) when reserves, the rejection rate or verification are critical',
  },
  properties: forOperation('checkBreaker', [
    {
      displayName: 'Options',
      name: 'options',
      type: 'collection',
      placeholder: 'Add option',
      default: {},
      options: [
        { displayName: 'Actor', name: 'actor', type: 'string', default: '', description: 'Who trips the breaker; empty: the first registered system actor' },
        { displayName: 'Verify Ledger', name: 'verify', type: 'boolean', default: false, description: 'Whether to also run a verify (replay dry run from the latest checkpoint) and trip on drift' },
      ],
    },
  ]),
  async execute(ctx, grid) {
    return perItem(ctx, async (i) => {
      const o = ctx.getNodeParameter('options', i, {}) as { actor?: string; verify?: boolean };
      const { db, writer } = await grid();
      const r = await check(db, writer, { actor: o.actor?.trim() || undefined, verify: o.verify ?? false });
      // `proposal_id` lets the Grid Alert node find the trip's alert (outbox key).
      return { ...r, proposal_id: r.result?.proposal_id ?? null };
    });
  },
};

interface BreakerRow {
  open: boolean;
  reason: string;
  set_by: string | null;
  entry_id: bigint | null;
  proposal_id: string | null;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * not_waited: the item said not to wait. not_open: the breaker was never tripped. resumed: a human
 * closed it (during the wait, or already before it began — e.g. right after this execution's
 * trip). halted: still open when the wait ended (timeout or cancellation).
 */
function decide(wait: boolean, wasOpen: boolean, open: boolean, entryId: bigint | null): string {
  if (!wait) return 'not_waited';
  if (open) return 'halted';
  return wasOpen || entryId !== null ? 'resumed' : 'not_open';
}

export const waitForBreakerReset: LedgerOperation = {
  option: {
    name: 'Wait for Breaker Reset',
    value: 'waitForBreakerReset',
    action: 'Wait for a human to reset the breaker',
    description: 'Hold the execution until the breaker is closed by a human, or give up after a timeout (stays halted)',
  },
  properties: forOperation('waitForBreakerReset', [
    {
      displayName: 'Wait',
      name: 'waitIf',
      type: 'boolean',
      default: true,
      // eslint-disable-next-line n8n-nodes-base/node-param-description-miscased-json -- `.json` is n8n's expression syntax in the example, not the word JSON
      description:
        "Whether to wait at all for this item, e.g. <code>{{ $('Check Levels').item.json.tripped }}</code> to wait only after a trip made by this execution (not on every run while the breaker stays open)",
    },
    { displayName: 'Timeout (Seconds)', name: 'timeoutSeconds', type: 'number', default: 300, typeOptions: { minValue: 0, maxValue: N.maxWaitSeconds } },
    {
      displayName: 'Poll Every (Seconds)',
      name: 'pollSeconds',
      type: 'number',
      default: 5,
      typeOptions: { minValue: N.minPollSeconds, maxValue: N.maxPollSeconds, numberPrecision: 2 },
    },
  ]),
  async execute(ctx, grid) {
    return perItem(ctx, async (i) => {
      const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Number.isFinite(v) ? v : lo));
      const timeoutMs = clamp(ctx.getNodeParameter('timeoutSeconds', i) as number, 0, N.maxWaitSeconds) * 1000;
      const pollMs = clamp(ctx.getNodeParameter('pollSeconds', i) as number, N.minPollSeconds, N.maxPollSeconds) * 1000;
      const { db } = await grid();
      const signal = ctx.getExecutionCancelSignal();
      const started = Date.now();
      const read = async () =>
        (await db.query<BreakerRow>('SELECT b.open, b.reason, b.set_by, b.entry_id, l.proposal_id FROM breaker b LEFT JOIN ledger l ON l.id = b.entry_id')).rows[0];
      const wait = ctx.getNodeParameter('waitIf', i, true) === true;
      let row = await read();
      const wasOpen = Boolean(row?.open);
      while (wait && row?.open && Date.now() - started < timeoutMs && !signal?.aborted) {
        await sleep(Math.min(pollMs, timeoutMs - (Date.now() - started)), signal);
        row = await read();
      }
      const open = Boolean(row?.open);
      return {
        decision: decide(wait, wasOpen, open, row?.entry_id ?? null),
        open,
        reason: row?.reason ?? null,
        by: row?.set_by ?? null,
        entry_id: row?.entry_id ?? null,
        // The entry that last set the breaker (the human's reset when resumed): its alert's key.
        proposal_id: row?.proposal_id ?? null,
        waited_ms: Date.now() - started,
        cancelled: Boolean(signal?.aborted),
      };
    });
  },
};
