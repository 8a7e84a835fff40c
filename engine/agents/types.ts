/**
 * The one interface every agent policy implements, scripted or LLM-backed.
 *
 * A proposer only PROPOSES: it returns untrusted proposal JSON (an object, or the raw text a
 * model produced) and never decides anything. The engine binds each attempt to the agent it was
 * asked for, sends it through the ledger writer, and the law decides. That is why an attempt is
 * returned even when it is garbage: a malformed model reply must reach the writer and be
 * recorded as a MALFORMED rejection, not be silently dropped or "repaired" on the way.
 */
import type { WorldSnapshot } from '../world-state';

export interface ProposeContext {
  /** The agent (principal) this call speaks for. */
  agent: string;
  world: WorldSnapshot;
  /** 0-based tick of the loop; with the seed it keys every scripted random choice. */
  tick: number;
  /** The decision time the writer will use this tick (simulated ms), for offer expiries. */
  now: number;
  signal?: AbortSignal;
}

/** Token usage of one LLM call, as the API reported it (usageMetadata). */
export interface LlmUsage {
  model: string;
  promptTokens: number;
  outputTokens: number;
  thoughtsTokens: number;
  totalTokens: number;
  /** HTTP attempts this call took (1 = no retry). */
  attempts: number;
  responseId?: string;
}

export interface ProposalAttempt {
  /** The proposal exactly as produced: a JSON-able object, or a string (model text, malformed JSON). */
  raw: unknown;
  /** A short name for what this attempt is (e.g. the adversarial attack), for reports and tests. */
  label?: string;
  /**
   * What the law should answer, when the proposer knows (the adversarial catalogue does). Assumes a
   * closed breaker; a test oracle, never used to decide anything.
   */
  expect?: string;
  /** Present on attempts that cost an LLM call; the engine charges it to the agent's budget. */
  usage?: LlmUsage;
}

export interface Proposer {
  /** 'cooperative' | 'greedy' | 'random' | 'adversarial' | 'gemini' | ... */
  readonly kind: string;
  propose(ctx: ProposeContext): Promise<ProposalAttempt[]>;
  /**
   * True when the agent must not be called this tick (its LLM budget is spent). Proposers that
   * cost nothing to call do not implement it.
   */
  isFrozen?(ctx: ProposeContext): boolean;
}

export type ProposerErrorCode =
  /** The model service kept failing (5xx, network, timeout) through every retry. */
  | 'LLM_UNAVAILABLE'
  /** 429 and the server asked for a longer wait than we allow, or retries ran out on 429. */
  | 'LLM_RATE_LIMITED'
  /** The service refused the request itself (bad key, unknown model, 4xx): retrying cannot help. */
  | 'LLM_REQUEST_REFUSED'
  /** The loop was stopped while the call was in flight. */
  | 'ABORTED'
  /** The proposer was configured wrongly (missing key, unknown policy). */
  | 'PROPOSER_CONFIG';

/** A proposer could not produce any attempt (nothing was proposed, so nothing is recorded). */
export class ProposerError extends Error {
  constructor(
    readonly code: ProposerErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ProposerError';
  }
}
