/**
 * streamlit-bridge: the read-only HTTP API, SSE stream and live dashboard over the read views.
 * The CLI calls `startBridge({ db: await openBridgeDb({ url, schema }) })` and prints dashboardUrl.
 */
export { startBridge, openBridgeDb, type Bridge, type BridgeOptions } from './server';
export { BridgeError, type BridgeErrorCode } from './http';
export type { LedgerRow, RejectionRow, AlertRow, BreakerState, ChainHead } from './read-model';
export type { MetricsSnapshot, GiniSample } from './metrics-feed';
export type { ArtifactsSnapshot } from './artifact-feed';
export type { VerificationStatus, VerificationState } from './verification';
