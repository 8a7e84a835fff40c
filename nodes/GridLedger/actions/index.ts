/** The Grid Ledger's operations, in the order the editor lists them. */
import { apply } from './apply';
import { getWorldState } from './world-state';
import { replay, verify } from './replay';
import { setBreaker, setPolicy } from './governance';
import { checkBreaker, waitForBreakerReset } from './breaker';
import { recordLinearDecision } from './decision';
import { initialize } from './initialize';
import type { LedgerOperation } from './common';

export const OPERATIONS: LedgerOperation[] = [
  apply,
  getWorldState,
  replay,
  verify,
  setBreaker,
  setPolicy,
  checkBreaker,
  waitForBreakerReset,
  recordLinearDecision,
  initialize,
];
