/**
 * Replay and Verify: rebuild (or only check) every cache from the hash-chained ledger.
 * Replay writes the rebuilt balances over the cache unless "Dry Run"; it never writes when the
 * chain is broken (a cache rebuilt from a broken ledger would launder the break). Verify is the
 * dry run plus a verdict: chain intact, head matches, every resource conserved, cache == ledger.
 * A full scan runs once per execution, whatever the number of input items.
 */
import { NodeOperationError } from 'n8n-workflow';
import { replay as replayLedger, type ReplayReport } from '../../../db/replay';
import { perItem } from '../../shared/items';
import { forOperation, type LedgerOperation } from './common';

const MAX_BAD_ROWS = 100;

function scanOptions(operation: string, dryRunDefault: boolean) {
  return forOperation(operation, [
    {
      displayName: 'Options',
      name: 'options',
      type: 'collection',
      placeholder: 'Add option',
      default: {},
      options: [
        ...(operation === 'replay'
          ? [{ displayName: 'Dry Run', name: 'dryRun', type: 'boolean' as const, default: dryRunDefault, description: 'Whether to only report, leaving the caches as they are' }]
          : []),
        { displayName: 'From Checkpoint', name: 'fromCheckpoint', type: 'boolean', default: false, description: 'Whether to start from the latest checkpoint instead of the first entry' },
        ...(operation === 'verify'
          ? [
              {
                displayName: 'On Failure',
                name: 'onFailure',
                type: 'options' as const,
                default: 'fail',
                options: [
                  { name: 'Fail the Item', value: 'fail', description: 'Raise LEDGER_NOT_VERIFIED (or the error output with continue-on-fail)' },
                  { name: 'Output Ok: False', value: 'output', description: 'Emit the report with ok: false and let the workflow decide' },
                ],
              },
            ]
          : []),
      ],
    },
  ]);
}

export function verdict(r: ReplayReport): boolean {
  return r.chainOk && r.cacheMatches && r.headMatches && Object.values(r.conservation).every((c) => c.ok);
}

function summary(r: ReplayReport): string {
  const parts: string[] = [];
  if (!r.chainOk) parts.push(`chain broken (${r.badRows.slice(0, 3).map((b) => `${b.problem} at ${b.id}`).join(', ')})`);
  if (!r.headMatches) parts.push('chain head cache differs');
  if (!r.cacheMatches) parts.push(`${r.diffs.length} balance(s) differ from the ledger`);
  const broken = Object.entries(r.conservation).filter(([, c]) => !c.ok).map(([res]) => res);
  if (broken.length) parts.push(`not conserved: ${broken.join(', ')}`);
  return parts.join('; ');
}

export const replay: LedgerOperation = {
  option: {
    name: 'Replay Ledger',
    value: 'replay',
    action: 'Replay the ledger and rebuild caches',
    description: 'Re-fold every ledger entry, verify the hash chain and rewrite the balance cache from it',
  },
  properties: scanOptions('replay', false),
  async execute(ctx, grid) {
    let report: Promise<ReplayReport> | undefined;
    return perItem(ctx, async (i) => {
      const o = ctx.getNodeParameter('options', i, {}) as { dryRun?: boolean; fromCheckpoint?: boolean };
      report ??= grid().then(({ db }) => replayLedger(db, { dryRun: o.dryRun ?? false, fromCheckpoint: o.fromCheckpoint ?? false, maxBadRows: MAX_BAD_ROWS }));
      const r = await report;
      return { ok: verdict(r), ...r };
    });
  },
};

export const verify: LedgerOperation = {
  option: {
    name: 'Verify Ledger',
    value: 'verify',
    action: 'Verify the ledger',
    description: 'Dry-run replay: is the chain intact and does the cache equal the ledger?',
  },
  properties: scanOptions('verify', true),
  async execute(ctx, grid) {
    let report: Promise<ReplayReport> | undefined;
    return perItem(ctx, async (i) => {
      const o = ctx.getNodeParameter('options', i, {}) as { fromCheckpoint?: boolean; onFailure?: string };
      report ??= grid().then(({ db }) => replayLedger(db, { dryRun: true, fromCheckpoint: o.fromCheckpoint ?? false, maxBadRows: MAX_BAD_ROWS }));
      const r = await report;
      const ok = verdict(r);
      if (!ok && (o.onFailure ?? 'fail') === 'fail') {
        throw new NodeOperationError(ctx.getNode(), `LEDGER_NOT_VERIFIED: ${summary(r)}`, { itemIndex: i, description: JSON.stringify({ badRows: r.badRows.slice(0, 10), diffs: r.diffs.slice(0, 10) }) });
      }
      return { ok, ...r };
    });
  },
};
