/**
 * Rejection codes, listed in PRECEDENCE ORDER: when a proposal breaks several rules, the first
 * rule in this list that it breaks is the one reported. The order goes from what can be judged
 * from the proposal alone, to the registry, to authority, to governance state, to economics —
 * so the answer never depends on a balance when the proposal was malformed or unauthorized
 * (a proposer cannot probe someone else's balance with a forged proposal).
 *
 * Codes are stable: never renamed, never reused. New codes are appended to their group.
 * (Modelled on TigerBeetle's create_transfers result codes.)
 */
export const REJECT_CODES = [
  // 1. The proposal itself.
  'MALFORMED',
  'ID_CONFLICT',
  'SELF_TRANSFER',
  'AMOUNT_NOT_POSITIVE',
  // 2. The registry.
  'UNKNOWN_ACTOR',
  'UNKNOWN_RESOURCE',
  'OFFER_NOT_FOUND',
  'OFFER_NOT_OPEN',
  'OFFER_EXPIRED',
  'ARTIFACT_NOT_FOUND',
  'ARTIFACT_DELETED',
  'ARTIFACT_ID_TAKEN',
  'CONTENT_NOT_FOUND',
  'LISTING_NOT_FOUND',
  'LISTING_NOT_OPEN',
  'STALE_RUN',
  // 3. Authority.
  'NOT_AUTHORIZED',
  // 4. Governance state.
  'CIRCUIT_OPEN',
  'RATE_LIMITED',
  'POLICY_INVALID',
  // 5. Economics.
  'EXCEEDS_MAX_TRANSFER',
  'INSUFFICIENT_BALANCE',
  'BELOW_MIN_BALANCE',
  'BALANCE_OVERFLOW',
  'QUOTA_EXCEEDED',
  'JUDICIARY_FAILED',
] as const;

export type RejectCode = (typeof REJECT_CODES)[number];

/** What each code means, for people reading a ticket or an alert. */
export const CODE_DESCRIPTIONS: Record<RejectCode, string> = {
  MALFORMED: 'The proposal is not valid JSON of a known kind, or a field breaks its type or size limit.',
  ID_CONFLICT: 'This proposal_id was already decided for a proposal with different content.',
  SELF_TRANSFER: 'The source and destination are the same actor.',
  AMOUNT_NOT_POSITIVE: 'Amounts must be whole numbers greater than zero.',
  UNKNOWN_ACTOR: 'An actor named in the proposal is not registered.',
  UNKNOWN_RESOURCE: 'The resource named in the proposal is not registered.',
  OFFER_NOT_FOUND: 'No offer with that id exists.',
  OFFER_NOT_OPEN: 'The offer was already accepted or cancelled.',
  OFFER_EXPIRED: 'The offer expired before it was accepted.',
  NOT_AUTHORIZED: 'The proposing actor may not make this proposal.',
  CIRCUIT_OPEN: 'The circuit breaker is open: agent trading is halted until a human resets it.',
  RATE_LIMITED: 'The agent used its allowance of actions for the current rolling window.',
  POLICY_INVALID: 'The policy change would leave the policy inconsistent.',
  EXCEEDS_MAX_TRANSFER: 'The amount is above the per-transfer maximum set by policy.',
  INSUFFICIENT_BALANCE: 'The paying actor does not hold enough of the resource (tax included).',
  BELOW_MIN_BALANCE: 'The payment would leave the paying actor below the minimum balance set by policy.',
  BALANCE_OVERFLOW: 'The credit would push a balance past the largest amount the ledger can hold.',
  ARTIFACT_NOT_FOUND: 'No artifact with that id exists (or a test artifact named by a listing is data, not code).',
  ARTIFACT_DELETED: 'The artifact was deleted; its tombstone keeps the id, which is never reused.',
  ARTIFACT_ID_TAKEN: 'The artifact id is already the id of a registered actor.',
  CONTENT_NOT_FOUND: 'No stored content has the sha256 the write names; store the content before proposing the write.',
  LISTING_NOT_FOUND: 'No escrow listing with that id exists.',
  LISTING_NOT_OPEN: 'The escrow listing was already sold or cancelled.',
  STALE_RUN: 'The sandbox run this proposal records was made against an artifact revision, price or owner that has since changed; run it again.',
  QUOTA_EXCEEDED: "The artifact would push its owner past the disk quota, or is larger than an artifact may be.",
  JUDICIARY_FAILED: "The listing's test artifact did not pass against the delivered artifact (or no passing run was recorded), so escrow does not release it.",
};

export function precedenceOf(code: RejectCode): number {
  return REJECT_CODES.indexOf(code);
}

export interface Rejection {
  ok: false;
  code: RejectCode;
  message: string;
  details?: Record<string, unknown>;
}

export function reject(code: RejectCode, message: string, details?: Record<string, unknown>): Rejection {
  return details === undefined ? { ok: false, code, message } : { ok: false, code, message, details };
}
