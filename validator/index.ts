/**
 * The law. Pure TypeScript: no I/O, no clock, nothing of ours imported. Everything that decides
 * whether a state change is allowed lives under this folder, and its source hash is part of
 * LAW_VERSION, stamped on every ledger row it approves.
 */
export * from './codes';
export * from './schemas';
export * from './policy';
export * from './world';
export * from './rules';
export * from './canonical';
export { fastTransfer, fastTransferCanonical } from './fast-transfer';
export * from './types';
export * from './artifacts';
export * from './artifact-state';
export { LIMITS } from './limits';
export { LAW_VERSION, LAW_HASH, LAW_COMMIT } from './law-version';
