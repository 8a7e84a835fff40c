/**
 * The ONE error shape of the artifact economy (gap 23), for everything engine/artifacts answers —
 * sandbox failures, law rejections of the proposal that records a run, storage problems:
 *
 *   { success: false, error_code, message, details: {…}, retry_after: seconds | null }
 *
 * `details` and `retry_after` are always present (null when nothing is known), so a caller never
 * has to test for a missing key. Sandbox codes (sandbox/errors.ts) pass through unchanged; a law
 * rejection is translated to the closest code here and keeps the law's own code in
 * `details.law_code`, so an agent branches on `error_code` and a person can still find the rule.
 */
import { ERROR_CODES, type ErrorResponse } from '../../sandbox/errors';
import type { RejectCode } from '../../validator';
import type { RejectedResult } from '../../db/writer';

export const ARTIFACT_ERROR_CODES = [...ERROR_CODES, 'RATE_LIMITED', 'CIRCUIT_OPEN', 'CONFLICT', 'QUOTA_EXCEEDED', 'JUDICIARY_FAILED'] as const;
export type ArtifactErrorCode = (typeof ARTIFACT_ERROR_CODES)[number];

export interface ArtifactError {
  success: false;
  error_code: ArtifactErrorCode;
  message: string;
  details: Record<string, unknown>;
  retry_after: number | null;
}

export interface ArtifactSuccess<T = unknown> {
  success: true;
  result: T;
}

export type ArtifactResponse<T = unknown> = ArtifactSuccess<T> | ArtifactError;

export function artifactError(code: ArtifactErrorCode, message: string, details: Record<string, unknown> = {}, retryAfter: number | null = null): ArtifactError {
  return { success: false, error_code: code, message, details, retry_after: retryAfter };
}

/** A sandbox ErrorResponse (details / retry_after optional) in the full shape. */
export function fromSandbox(e: ErrorResponse, extra: Record<string, unknown> = {}): ArtifactError {
  return artifactError(e.error_code, e.message, { ...(e.details ?? {}), ...extra }, e.retry_after ?? null);
}

/** Typed by RejectCode: a new law code does not compile until it is mapped here. */
const FROM_LAW: Record<RejectCode, ArtifactErrorCode> = {
  MALFORMED: 'INVALID_ARGS',
  ID_CONFLICT: 'CONFLICT',
  SELF_TRANSFER: 'INVALID_ARGS',
  AMOUNT_NOT_POSITIVE: 'INVALID_ARGS',
  UNKNOWN_ACTOR: 'NOT_FOUND',
  UNKNOWN_RESOURCE: 'NOT_FOUND',
  OFFER_NOT_FOUND: 'NOT_FOUND',
  OFFER_NOT_OPEN: 'CONFLICT',
  OFFER_EXPIRED: 'CONFLICT',
  ARTIFACT_NOT_FOUND: 'NOT_FOUND',
  ARTIFACT_DELETED: 'DELETED',
  ARTIFACT_ID_TAKEN: 'CONFLICT',
  CONTENT_NOT_FOUND: 'NOT_FOUND',
  LISTING_NOT_FOUND: 'NOT_FOUND',
  LISTING_NOT_OPEN: 'CONFLICT',
  STALE_RUN: 'CONFLICT',
  NOT_AUTHORIZED: 'ACCESS_DENIED',
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  RATE_LIMITED: 'RATE_LIMITED',
  POLICY_INVALID: 'INVALID_ARGS',
  EXCEEDS_MAX_TRANSFER: 'INVALID_ARGS',
  INSUFFICIENT_BALANCE: 'INSUFFICIENT_FUNDS',
  BELOW_MIN_BALANCE: 'INSUFFICIENT_FUNDS',
  BALANCE_OVERFLOW: 'INVALID_ARGS',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  JUDICIARY_FAILED: 'JUDICIARY_FAILED',
};

/** A writer rejection as an ArtifactError. */
export function fromLaw(r: RejectedResult, extra: Record<string, unknown> = {}): ArtifactError {
  const law = r.code as RejectCode;
  let code = FROM_LAW[law] ?? 'EXECUTION_ERROR';
  if (code === 'INSUFFICIENT_FUNDS' && r.details?.resource === 'compute') code = 'INSUFFICIENT_COMPUTE';
  const retry = law === 'RATE_LIMITED' ? Math.ceil(Number(r.details?.window_ms ?? 1000) / 1000) : code === 'CONFLICT' && law !== 'ARTIFACT_ID_TAKEN' && law !== 'ID_CONFLICT' ? 0 : null;
  return artifactError(code, r.message, { ...(r.details ?? {}), law_code: law, proposal_id: r.proposal_id, ...extra }, retry);
}
