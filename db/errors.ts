/**
 * Errors of the writer and the storage layer that are not decisions of the law: the proposal
 * was not decided at all, so nothing was recorded and the caller may retry with the same id.
 */
export type StorageCode = 'QUEUE_FULL' | 'LEDGER_UNAVAILABLE' | 'CHAIN_BROKEN' | 'NOT_INITIALIZED' | 'SCENARIO_INVALID';

export class GridError extends Error {
  constructor(
    readonly code: StorageCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'GridError';
  }
}
