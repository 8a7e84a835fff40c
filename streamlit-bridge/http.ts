/**
 * Small HTTP pieces of the bridge: coded errors, JSON answers (bigint-safe), query parsing with
 * bounds. Every error a client can see has a stable UPPER_SNAKE code and a sentence for a person.
 */
import type { ServerResponse } from 'node:http';
import { LIMITS } from '../validator/limits';

export type BridgeErrorCode =
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'BAD_QUERY'
  | 'LIMIT_OUT_OF_RANGE'
  | 'URL_TOO_LONG'
  | 'TOO_MANY_CLIENTS'
  | 'DB_UNAVAILABLE'
  | 'BRIDGE_NOT_READ_ONLY'
  | 'INTERNAL';

export class BridgeError extends Error {
  constructor(
    readonly status: number,
    readonly code: BridgeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

/** JSON with bigint as decimal strings: amounts and ids never pass through a float. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Headers every answer carries: the bridge serves only itself, never frames, never sniffed. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = toJson(body);
  res.writeHead(status, {
    ...BASE_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: BridgeError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, headers);
}

const ID_RE = /^(0|[1-9][0-9]{0,18})$/;
const INT8_MAX = 2n ** 63n - 1n;

/** A non-negative int8 id from the query string, or undefined when absent. */
export function parseId(q: URLSearchParams, name: string): bigint | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!ID_RE.test(v) || BigInt(v) > INT8_MAX) {
    throw new BridgeError(400, 'BAD_QUERY', `${name} must be a non-negative integer id (got ${JSON.stringify(v.slice(0, 40))})`);
  }
  return BigInt(v);
}

export function parseIntParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return dflt;
  if (!/^[0-9]{1,9}$/.test(v)) throw new BridgeError(400, 'BAD_QUERY', `${name} must be a whole number (got ${JSON.stringify(v.slice(0, 40))})`);
  const n = Number(v);
  if (n < min || n > max) throw new BridgeError(400, 'LIMIT_OUT_OF_RANGE', `${name} must be between ${min} and ${max} (got ${n})`);
  return n;
}

export interface PageQuery {
  /** asc: rows with id > after (oldest first); desc: rows with id < before (newest first). */
  order: 'asc' | 'desc';
  after: bigint;
  before: bigint | undefined;
  limit: number;
}

/**
 * Keyset pagination: `?after_id=&limit=` walks forward; `?before_id=&limit=` (or `order=desc`
 * without a cursor, for "the latest N") walks backward. Offsets are never offered: they rescan.
 */
export function parsePage(q: URLSearchParams): PageQuery {
  const limit = parseIntParam(q, 'limit', LIMITS.http.defaultPageSize, 1, LIMITS.http.maxPageSize);
  const after = parseId(q, 'after_id');
  const before = parseId(q, 'before_id');
  const order = q.get('order') ?? (before !== undefined ? 'desc' : 'asc');
  if (order !== 'asc' && order !== 'desc') throw new BridgeError(400, 'BAD_QUERY', `order must be asc or desc (got ${JSON.stringify(order.slice(0, 20))})`);
  if (after !== undefined && before !== undefined) throw new BridgeError(400, 'BAD_QUERY', 'give after_id or before_id, not both');
  if (order === 'asc' && before !== undefined) throw new BridgeError(400, 'BAD_QUERY', 'before_id pages newest-first; use order=desc or omit order');
  if (order === 'desc' && after !== undefined) throw new BridgeError(400, 'BAD_QUERY', 'after_id pages oldest-first; use order=asc or omit order');
  return { order, after: after ?? 0n, before, limit };
}

/** A page answer: rows plus the cursor for the next page (null when there is none yet). */
export function pageBody<T extends { id: string }>(rows: T[], page: PageQuery, hasMore: boolean) {
  const last = rows.length ? rows[rows.length - 1].id : null;
  return {
    rows,
    limit: page.limit,
    order: page.order,
    has_more: hasMore,
    // Forward pages always give a cursor, so a client can poll for rows that do not exist yet.
    next: page.order === 'asc' ? { after_id: last ?? page.after.toString() } : hasMore && last ? { before_id: last } : null,
  };
}
