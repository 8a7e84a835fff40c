/**
 * The artifact economy over the ledger: stored artifacts run in the QuickJS sandbox, their
 * payments, prices and compute applied through the law as one proposal per run; escrow with a
 * judiciary; genesis artifacts; the one error schema.
 */
export * from './errors';
export { invokeArtifact, runWithSnapshot, artifactRuntime, systemActor, setSandboxLimits, type InvokeOptions, type InvokeResponse, type InvokeSuccess } from './invoke';
export { writeArtifact, deleteArtifact, type WriteOptions, type WriteResult } from './write';
export { depositArtifact, purchaseArtifact, cancelListing, defaultEscrow, type DepositOptions, type PurchaseOptions } from './escrow';
export { runJudiciary, auditJudiciary, judiciarySeed, type JudiciaryRecord, type AuditResult } from './judiciary';
export { genesisInterface } from './genesis';
export { LedgerHost, DATA_INTERFACE } from './host';
export { HostSnapshot, ContentCache } from './snapshot';
