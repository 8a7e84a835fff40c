/**
 * Human governance through the ledger: set the circuit breaker, set the policy. Both are ordinary
 * proposals judged by the law — only humans may close the breaker or change the policy, and the
 * node does not second-guess that: a non-human actor gets NOT_AUTHORIZED back from the writer, as
 * recorded as any other rejection. Outputs the writer's ApplyResult.
 */
import { setBreaker as setBreakerProposal } from '../../../engine/breaker';
import { deterministicId } from '../../../engine/scenario';
import { jsonParam, perItem, runKey } from '../../shared/items';
import { actorProperty, forOperation, proposalIdOption, type LedgerOperation } from './common';

function proposalId(ctx: Parameters<LedgerOperation['execute']>[0], i: number, op: string): string {
  const o = ctx.getNodeParameter('options', i, {}) as { proposalId?: string };
  return o.proposalId?.trim() || deterministicId('n8n', op, ...runKey(ctx, i));
}

export const setBreaker: LedgerOperation = {
  option: {
    name: 'Set Circuit Breaker',
    value: 'setBreaker',
    action: 'Open or close the circuit breaker',
    description: 'Halt agent trading (open) or resume it (close: humans only), recorded in the ledger',
  },
  properties: [
    actorProperty('setBreaker', 'council', 'Registered actor who decides. Opening: human, governor or system; closing: humans only (the law enforces it).'),
    ...forOperation('setBreaker', [
      {
        displayName: 'State',
        name: 'state',
        type: 'options',
        default: 'open',
        options: [
          { name: 'Closed (Resume Trading)', value: 'closed' },
          { name: 'Open (Halt Agent Trading)', value: 'open' },
        ],
      },
      { displayName: 'Reason', name: 'reason', type: 'string', default: '', required: true, description: 'Why; stored in the ledger entry and the alert' },
    ]),
    proposalIdOption('setBreaker'),
  ],
  async execute(ctx, grid) {
    return perItem(ctx, async (i) => {
      const { writer } = await grid();
      return setBreakerProposal(writer, {
        actor: ctx.getNodeParameter('actor', i) as string,
        open: ctx.getNodeParameter('state', i) === 'open',
        reason: ctx.getNodeParameter('reason', i) as string,
        proposalId: proposalId(ctx, i, 'breaker'),
      });
    });
  },
};

export const setPolicy: LedgerOperation = {
  option: {
    name: 'Set Policy',
    value: 'setPolicy',
    action: 'Change the policy',
    description: 'Patch limits, taxes, interest, rate limits or breaker thresholds (humans only)',
  },
  properties: [
    actorProperty('setPolicy', 'council', 'Registered human actor signing the change (the law refuses anyone else)'),
    ...forOperation('setPolicy', [
      {
        displayName: 'Patch',
        name: 'patch',
        type: 'json',
        default: '{\n  "rate_limit": { "max_actions": 30 }\n}',
        required: true,
        description: 'Partial policy merged onto the current one (resources, carbon_tax, interest, rate_limit, breaker)',
      },
      { displayName: 'Reasoning', name: 'reasoning', type: 'string', default: '', description: 'Why; stored in the ledger entry' },
    ]),
    proposalIdOption('setPolicy'),
  ],
  async execute(ctx, grid) {
    return perItem(ctx, async (i) => {
      const { writer } = await grid();
      const reasoning = (ctx.getNodeParameter('reasoning', i, '') as string).trim();
      return writer.apply({
        kind: 'policy_set',
        proposal_id: proposalId(ctx, i, 'policy'),
        agent: ctx.getNodeParameter('actor', i) as string,
        patch: jsonParam(ctx, 'patch', i, 'Patch'),
        ...(reasoning ? { reasoning } : {}),
      });
    });
  },
};
