/**
 * Linear webhook authentication, by the rule @linear/sdk/webhooks (LinearWebhookClient.verify)
 * applies, reimplemented here for one reason: the SDK throws the same Error class for a forged
 * signature and a stale timestamp, distinguishable only by message text, and we answer them
 * with distinct, stable codes. The tests check this function against the SDK on the same inputs.
 *
 *   - `linear-signature` = hex(HMAC-SHA256(secret, raw body bytes)), compared in constant time;
 *   - `webhookTimestamp` (ms, a number) INSIDE the signed body within ±60 s of now. The
 *     `linear-timestamp` header is unsigned and therefore ignored, as the SDK does.
 * Signature first: nothing in an unauthenticated body is looked at, not even its timestamp.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LIMITS } from '../../validator/limits';

export type WebhookRejectCode = 'WEBHOOK_SIGNATURE_MISSING' | 'WEBHOOK_SIGNATURE_INVALID' | 'WEBHOOK_TIMESTAMP_INVALID' | 'WEBHOOK_STALE' | 'WEBHOOK_MALFORMED';

export type WebhookVerdict =
  | { ok: true; payload: Record<string, unknown> }
  | { ok: false; code: WebhookRejectCode; message: string };

/** Lower-case only, as Linear sends it and as the SDK compares it (byte-wise on the hex text). */
const HEX64 = /^[0-9a-f]{64}$/;

export function verifyLinearSignature(
  rawBody: Buffer,
  signature: string | undefined,
  secret: string,
  now: number = Date.now(),
  windowMs: number = LIMITS.hitl.webhookWindowMs,
): WebhookVerdict {
  if (!secret) throw new Error('verifyLinearSignature: the webhook secret is empty');
  if (!signature) return { ok: false, code: 'WEBHOOK_SIGNATURE_MISSING', message: 'the linear-signature header is missing' };
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  // Decode the claimed hex to bytes; a malformed value still costs one constant-time compare.
  const claimed = HEX64.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(expected.length);
  const match = timingSafeEqual(expected, claimed) && HEX64.test(signature);
  if (!match) return { ok: false, code: 'WEBHOOK_SIGNATURE_INVALID', message: 'the linear-signature does not match the body (wrong secret or altered body)' };
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return { ok: false, code: 'WEBHOOK_MALFORMED', message: 'the signed body is not JSON' };
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    return { ok: false, code: 'WEBHOOK_MALFORMED', message: 'the signed body is not a JSON object' };
  }
  const ts = (payload as Record<string, unknown>).webhookTimestamp;
  if (typeof ts !== 'number' || !Number.isFinite(ts)) {
    return { ok: false, code: 'WEBHOOK_TIMESTAMP_INVALID', message: 'webhookTimestamp is missing or not a number' };
  }
  if (Math.abs(now - ts) > windowMs) {
    return { ok: false, code: 'WEBHOOK_STALE', message: `webhookTimestamp is ${Math.round((now - ts) / 1000)} s away from now (window ±${windowMs / 1000} s): a replay or a badly delayed delivery` };
  }
  return { ok: true, payload: payload as Record<string, unknown> };
}
