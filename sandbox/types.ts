/**
 * The contract between the sandbox executor and whoever hosts it (later: the ledger).
 *
 * Why an injected interface: the executor must not know about Postgres, caches or the engine. It
 * reads artifacts, balances and the world through `HostApi`, and it never moves value itself —
 * payments are collected in an in-memory journal and handed back on success so the ledger can
 * apply them atomically (a failed call tree leaves nothing behind).
 */
import type { ApiResponse, ErrorCode, ErrorResponse } from './errors';

/** One MCP-style tool: the method name, what it does, and a JSON Schema for its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** MCP-style interface an executable artifact must carry (architecture gap 14). */
export interface ArtifactInterface {
  tools: ToolSpec[];
}

export interface ArtifactRecord {
  id: string;
  /** Principal who receives `invokePrice` for every successful call of this artifact. */
  owner: string;
  /** JS source; see sandbox/executor.ts for the convention (`var methods = { … }`). */
  content: string;
  /** Validated on every call; typed `unknown` because it comes from storage. */
  interface: unknown;
  /** Paid by the invoker to `owner` when the call succeeds; 0n for free artifacts. */
  invokePrice: bigint;
}

/** What `loadArtifact` returns for a deleted artifact, so callers get DELETED, not NOT_FOUND. */
export interface ArtifactTombstone {
  id: string;
  deleted: true;
}

/** A proposed movement of value, produced by guest `pay`, invoke prices and genesis calls. */
export interface Payment {
  from: string;
  to: string;
  resource: string;
  amount: bigint;
  /** pay: guest code called pay(); invoke_price: price of a successful invoke; genesis: a genesis call moved value. */
  kind: 'pay' | 'invoke_price' | 'genesis';
  /** Call (see InvokeEvent.callId) whose code or completion produced the payment. */
  callId: number;
  depth: number;
}

/** Parent → child edge of the invoke graph. The top-level call's parent is its invoker. */
export interface InvokeEdge {
  callId: number;
  parentCallId: number | null;
  /** Principal that invoked: the agent for the top-level call, else the calling artifact. */
  from: string;
  to: string;
  method: string;
  depth: number;
}

export type InvokeEventType = 'INVOKE_SUCCESS' | 'INVOKE_FAILURE';

/**
 * One call that ran (or was refused). Carries what engine/telemetry/artifacts.ts needs
 * (parent_artifact = parentArtifactId, child_artifact = artifactId, owner_of_child = owner,
 * at, success = type === 'INVOKE_SUCCESS').
 */
export interface InvokeEvent {
  type: InvokeEventType;
  callId: number;
  parentCallId: number | null;
  /** The calling artifact; null for the top-level call (made by `invoker`, an agent). */
  parentArtifactId: string | null;
  artifactId: string;
  /** Owner of the artifact; null when it was not loaded (genesis, NOT_FOUND, DELETED, …). */
  owner: string | null;
  method: string;
  invoker: string;
  depth: number;
  /** The call tree's logical clock (ms since the epoch). */
  at: number;
  error_code?: ErrorCode;
  message?: string;
  /** Wall time of this call including what it invoked, µs (CPU is measured per tree, see CallMetrics). */
  wallMicros: number;
  peakMemoryBytes: number;
}

/** Resource use of a top-level call, inclusive of everything it invoked: what the caller is charged. */
export interface CallMetrics {
  /** process.cpuUsage() delta (user + system) across the whole tree, microseconds. */
  cpuMicros: number;
  /** performance.now() delta, microseconds. */
  wallMicros: number;
  /**
   * Peak QuickJS heap of the call tree, bytes: per runtime the max of QuickJS's own accounting
   * sampled at every invoke() and at the end (the full limit if it ran out of memory); a nested
   * runtime adds to what its ancestors held at the time of the invoke. Best effort: QuickJS
   * does not count rope strings (results of concatenation) in this figure.
   */
  peakMemoryBytes: number;
  /** Calls executed in the tree, the top-level one included. */
  calls: number;
}

/** Effects a successful call tree asks the ledger to apply, in order. Empty on failure. */
export interface Effects {
  payments: Payment[];
  edges: InvokeEdge[];
}

export type ExecutionOutcome = ApiResponse<unknown> & {
  effects: Effects;
  /** Observations of every call that ran (also on failure; they move no value). */
  events: InvokeEvent[];
  metrics: CallMetrics;
};

/** What a genesis implementation is told about the call. */
export interface GenesisCall {
  id: string;
  method: string;
  args: Record<string, unknown>;
  /** Principal calling: the agent at top level, else the calling artifact. */
  invoker: string;
  depth: number;
  /** Balance as this call tree sees it: stored balance plus the tree's journaled payments. */
  balance(actor: string, resource: string): bigint;
  /** The read-only world snapshot of this call tree. */
  world(): unknown;
}

/**
 * Genesis answer. Movements are proposals: the executor checks funds against the journal and
 * journals them (kind 'genesis'); the genesis code never applies anything itself. A movement's
 * `from` must be the invoker or the genesis artifact itself (e.g. escrow releasing held funds).
 */
export type GenesisOutcome =
  | { success: true; result: unknown; payments?: Array<{ from: string; to: string; resource: string; amount: bigint }> }
  | ErrorResponse;

export interface HostApi {
  /** null: never existed (NOT_FOUND); tombstone: deleted (DELETED). Non-genesis ids only. */
  loadArtifact(id: string): ArtifactRecord | ArtifactTombstone | null;
  /** Stored balance (the executor adds the tree's journal on top). */
  balance(actor: string, resource: string): bigint;
  /** Read-only world-state snapshot, JSON-serializable. Called at most once per call tree. */
  world(): unknown;
  /** Genesis/system artifacts (`genesis:*` ids), invoked as first-class targets (gap 15). */
  genesis(call: GenesisCall): GenesisOutcome;
  /** Optional access contract; a refusal becomes ACCESS_DENIED. */
  checkAccess?(invoker: string, artifact: ArtifactRecord, method: string): { ok: true } | { ok: false; message: string };
  /**
   * Optional veto on a proposed payment (recipient exists, resource transferable, …). Funds are
   * checked by the executor; this must NOT apply anything — the journal is applied later.
   */
  validatePayment?(payment: Payment): { ok: true } | { ok: false; code: ErrorCode; message: string };
}

export interface CallRequest {
  artifactId: string;
  method: string;
  args?: unknown;
  /** Principal making the top-level call; pays the invoke price. */
  invoker: string;
  /**
   * Compute budget the invoker can pay for, ms. The tree deadline is min(cpuDeadlineMs, this);
   * running out of a budget smaller than the deadline is INSUFFICIENT_COMPUTE, not TIMEOUT.
   */
  cpuBudgetMs?: number;
  /** Logical clock seen by guest Date (default: host Date.now() at call start). */
  now?: number;
  /** Seed of guest Math.random (default: derived from the request). */
  seed?: number;
}

export function isTombstone(x: ArtifactRecord | ArtifactTombstone): x is ArtifactTombstone {
  return (x as ArtifactTombstone).deleted === true;
}
