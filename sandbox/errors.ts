/**
 * The ONE response shape of the sandbox (architecture gap 23): every artifact call, every host
 * API failure seen by guest code and every genesis call answers with either
 *
 *   { success: true,  result }                                   or
 *   { success: false, error_code, message, details?, retry_after? }
 *
 * Why one shape: callers (agents, the engine, other artifacts through `invoke`) branch on
 * `error_code` — a closed UPPER_SNAKE set — never on message text, and `message` is written for a
 * person. `details` carries JSON-safe context (amounts as decimal strings, never bigint);
 * `retry_after` is seconds until a retry might succeed, present only when that is knowable.
 */
import { z } from 'zod/v4';

export const ERROR_CODES = [
  'NOT_FOUND',
  'ACCESS_DENIED',
  'INSUFFICIENT_FUNDS',
  'INSUFFICIENT_COMPUTE',
  'INVALID_ARGS',
  'EXECUTION_ERROR',
  'TIMEOUT',
  'MEMORY_LIMIT',
  'STACK_OVERFLOW',
  'OUTPUT_TOO_LARGE',
  'DEPTH_EXCEEDED',
  'DELETED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What each code means, for people reading logs, tickets and agent prompts. */
export const ERROR_MEANINGS: Readonly<Record<ErrorCode, string>> = {
  NOT_FOUND: 'The artifact does not exist.',
  ACCESS_DENIED: "The artifact's access contract rejected the caller.",
  INSUFFICIENT_FUNDS: 'The payer does not hold enough of the resource.',
  INSUFFICIENT_COMPUTE: "The caller's compute budget ran out before the call finished.",
  INVALID_ARGS: "The method or its arguments do not match the artifact's interface.",
  EXECUTION_ERROR: 'The artifact code threw, or the artifact itself is malformed.',
  TIMEOUT: 'The call exceeded the sandbox CPU deadline.',
  MEMORY_LIMIT: 'The call exceeded the sandbox memory limit.',
  STACK_OVERFLOW: 'The call recursed deeper than the sandbox stack allows.',
  OUTPUT_TOO_LARGE: 'The JSON-serialized result exceeds the sandbox output limit.',
  DEPTH_EXCEEDED: 'Nested invoke() calls went deeper than the sandbox allows.',
  DELETED: 'The artifact was deleted (a tombstone remains).',
};

export interface ErrorResponse {
  success: false;
  error_code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  retry_after?: number;
}

export interface SuccessResponse<T = unknown> {
  success: true;
  result: T;
}

/** Named ApiResponse (not Response) so it never shadows the fetch API type. */
export type ApiResponse<T = unknown> = SuccessResponse<T> | ErrorResponse;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Build a failure. Omits `details` / `retry_after` when absent so the JSON stays minimal. */
export function fail(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  retryAfterSeconds?: number,
): ErrorResponse {
  const out: ErrorResponse = { success: false, error_code: code, message };
  if (details !== undefined) out.details = details;
  if (retryAfterSeconds !== undefined) out.retry_after = retryAfterSeconds;
  return out;
}

export function ok<T>(result: T): SuccessResponse<T> {
  return { success: true, result };
}

/**
 * zod schemas of the same shapes, used where a response crosses a trust boundary we do not
 * control at compile time (genesis implementations written later, JSON read back from disk).
 */
export const errorResponseSchema = z.strictObject({
  success: z.literal(false),
  error_code: z.enum(ERROR_CODES),
  message: z.string().min(1),
  details: z.record(z.string(), z.unknown()).optional(),
  retry_after: z.number().nonnegative().optional(),
});

export const successResponseSchema = z.object({
  success: z.literal(true),
  result: z.unknown(),
});

export const responseSchema = z.union([successResponseSchema, errorResponseSchema]);
