/**
 * The few HTTP mechanics the service needs, on node:http: bounded body reading, JSON answers,
 * the one error shape `{ error: { code, message } }`, and constant-time key comparison.
 * Nothing here knows about the grid.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LIMITS } from '../../validator/limits';

/** An answer decided before the handler's normal path: status, stable code, message for people. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError): void {
  sendJson(res, e.status, { error: { code: e.code, message: e.message } }, e.headers);
}

/**
 * Reads the body up to `max` bytes. Beyond that it rejects with 413 at once and keeps discarding
 * what the client still sends (so the client can read the answer), up to maxDrainBytes; past
 * that, or when Content-Length alone already says so, the connection is cut.
 */
export function readBody(req: IncomingMessage, max: number = LIMITS.http.maxBodyBytes): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, 'BODY_TOO_LARGE', `the request body is larger than ${max} bytes`, { connection: 'close' });
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      if (declared > LIMITS.http.maxDrainBytes) req.on('data', () => req.destroy());
      else req.resume();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (over) {
        if (size > LIMITS.http.maxDrainBytes) req.destroy();
        return;
      }
      if (size > max) {
        over = true;
        chunks.length = 0;
        return reject(tooLarge());
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (e) => reject(new HttpError(400, 'BODY_UNREADABLE', `the request body could not be read: ${e.message}`)));
    req.on('aborted', () => reject(new HttpError(400, 'BODY_UNREADABLE', 'the client aborted the request')));
  });
}

/** JSON body → value; 400 MALFORMED_JSON when it is not JSON at all (the law never sees it). */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new HttpError(400, 'MALFORMED_JSON', 'the request body is empty; send a JSON document');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, 'MALFORMED_JSON', `the request body is not valid JSON: ${(e as Error).message}`.slice(0, 300));
  }
}

/** Constant-time equality of two secrets of any length (both are hashed first). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** The Bearer token of the request, or null when there is none. */
export function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m ? m[1]! : null;
}

/**
 * 401 without credentials, 403 with the wrong ones (or when no key is configured: the feature
 * is off, and no key can turn it on).
 */
export function requireKey(req: IncomingMessage, keys: ReadonlyArray<string | undefined>, what: string): void {
  const configured = keys.filter((k): k is string => typeof k === 'string' && k.length > 0);
  const token = bearer(req);
  if (configured.length === 0) throw new HttpError(403, 'ADMIN_DISABLED', `${what} is disabled: no key is configured on this server (GRID_ADMIN_KEY)`);
  if (token === null) throw new HttpError(401, 'UNAUTHENTICATED', `${what} needs "authorization: Bearer <key>"`, { 'www-authenticate': 'Bearer realm="grid"' });
  // Compare against every configured key (no early exit), so timing does not reveal which matched.
  let ok = false;
  for (const k of configured) ok = safeEqual(token, k) || ok;
  if (!ok) throw new HttpError(403, 'FORBIDDEN', `the key is not valid for ${what}`);
}
