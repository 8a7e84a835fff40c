/**
 * Apply: the authoritative write. Every input item's proposal goes to the ledger writer, which
 * validates it against the live state and appends it (or records the rejection and its alert) in
 * one transaction. All items of one execution are sent as ONE batch (one transaction, decided in
 * item order), so a 100-item run costs one commit, not 100.
 *
 * The proposal is passed exactly as received — an object or the raw text a model produced — so a
 * malformed proposal reaches the writer and is recorded as MALFORMED instead of failing the node.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';
import { bindPrincipal } from '../../../engine/principal';
import { failed, out, toNodeError } from '../../shared/items';
import { forOperation, type LedgerOperation } from './common';

export const apply: LedgerOperation = {
  option: {
    name: 'Apply Proposal',
    value: 'apply',
    action: 'Apply a proposal to the ledger',
    description: 'Validate a proposal against the live ledger and append it, or record its rejection (authoritative)',
  },
  properties: forOperation('apply', [
    {
      displayName: 'Proposal',
      name: 'proposal',
      type: 'json',
      default: '={{ $json.proposal }}',
      required: true,
      description: 'The proposal (TradeJSON) as an object or as JSON text. Invalid input is recorded as a MALFORMED rejection.',
    },
    {
      displayName: 'Options',
      name: 'options',
      type: 'collection',
      placeholder: 'Add option',
      default: {},
      options: [
        {
          displayName: 'Principal',
          name: 'principal',
          type: 'string',
          default: '',
          description:
            'Actor this proposal is sent on behalf of. When set, the proposal\'s "agent" is overwritten with it (an agent cannot speak as someone else). Empty: as proposed.',
        },
        {
          displayName: 'Include Input',
          name: 'includeInput',
          type: 'boolean',
          default: false,
          description: 'Whether to keep the input item under "input" next to the result',
        },
      ],
    },
  ]),

  async execute(ctx, grid) {
    const items = ctx.getInputData();
    const prepared: Array<{ index: number; input: unknown; keep?: IDataObject }> = [];
    const results: Array<INodeExecutionData | undefined> = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      try {
        const raw = ctx.getNodeParameter('proposal', i) as unknown;
        const opts = ctx.getNodeParameter('options', i, {}) as { principal?: string; includeInput?: boolean };
        const input = opts.principal ? bindPrincipal(raw, opts.principal).input : raw;
        prepared.push({ index: i, input, keep: opts.includeInput ? items[i]!.json : undefined });
      } catch (e) {
        if (!ctx.continueOnFail()) throw toNodeError(ctx, e, i);
        results[i] = failed(ctx, e, i);
      }
    }
    if (prepared.length) {
      try {
        const { writer } = await grid();
        const decided = await writer.applyBatch(prepared.map((p) => p.input));
        prepared.forEach((p, k) => (results[p.index] = out(p.keep ? { ...decided[k], input: p.keep } : decided[k], p.index)));
      } catch (e) {
        // A storage error (QUEUE_FULL, LEDGER_UNAVAILABLE, ...): nothing was decided, retrying is safe.
        if (!ctx.continueOnFail()) throw toNodeError(ctx, e, prepared[0]!.index);
        for (const p of prepared) results[p.index] = failed(ctx, e, p.index);
      }
    }
    return results.filter((r): r is INodeExecutionData => r !== undefined);
  },
};

