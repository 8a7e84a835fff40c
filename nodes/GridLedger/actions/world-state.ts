/**
 * Get World State: the snapshot agents and the Validator node reason about — balances (decimal
 * strings), policy, breaker, open offers and the chain head it was read at. Read once per
 * execution and emitted once per input item.
 */
import { readWorldState } from '../../../engine/world-state';
import { perItem } from '../../shared/items';
import type { LedgerOperation } from './common';

export const getWorldState: LedgerOperation = {
  option: {
    name: 'Get World State',
    value: 'getWorldState',
    action: 'Get the world state',
    description: 'Read balances, policy, breaker and open offers as one JSON snapshot',
  },
  properties: [],
  async execute(ctx, grid) {
    let snapshot: Promise<unknown> | undefined;
    return perItem(ctx, async () => (snapshot ??= grid().then(({ db }) => readWorldState(db))));
  },
};
