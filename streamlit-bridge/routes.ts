/**
 * The bridge's read endpoints. Each handler only reads (views, the in-memory metrics window, the
 * cached verification); the server answers every non-read method with 405 before routing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Db } from '../db/adapter';
import { LIMITS } from '../validator/limits';
import { BridgeError, pageBody, parseIntParam, parsePage, sendJson } from './http';
import { alertPage, ledgerPage, readBalances, readBreaker, readHead, readWorld, rejectionPage } from './read-model';
import type { FeedTail } from './tail';
import type { MetricsFeed } from './metrics-feed';
import type { ArtifactFeed } from './artifact-feed';
import type { Verifier } from './verification';
import type { SseHub } from './sse';

export interface BridgeContext {
  db: Db;
  tail: FeedTail;
  metrics: MetricsFeed;
  artifacts: ArtifactFeed;
  verifier: Verifier;
  sse: SseHub;
  role: { role: string; can_write: boolean };
  startedAt: number;
  cors: Record<string, string>;
}

type Handler = (ctx: BridgeContext, q: URLSearchParams, req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

const CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Path → [handler, one-line description] (the description is served at /api). */
export const ROUTES: Record<string, [Handler, string]> = {
  '/api': [(ctx, _q, _r, res) => sendJson(res, 200, { endpoints: Object.fromEntries(Object.entries(ROUTES).map(([p, [, d]]) => [p, d])) }, ctx.cors), 'this list'],
  '/api/health': [
    async (ctx, _q, _r, res) => {
      const head = await readHead(ctx.db);
      sendJson(res, 200, {
        ok: ctx.tail.lastError === null,
        backend: ctx.db.kind,
        role: ctx.role.role,
        read_only: !ctx.role.can_write,
        head,
        tail: {
          ledger_id: ctx.tail.lastLedgerId.toString(),
          lag: (BigInt(head.last_id) - ctx.tail.lastLedgerId).toString(),
          rejection_id: ctx.tail.rejections.last.toString(),
          alert_id: ctx.tail.alerts.last.toString(),
          polls: ctx.tail.polls,
          poll_ms: ctx.tail.pollMs,
          error: ctx.tail.lastError,
        },
        sse: { clients: ctx.sse.size, max_clients: ctx.sse.max, frames_sent: ctx.sse.sent, dropped: ctx.sse.dropped },
        uptime_ms: Date.now() - ctx.startedAt,
      }, ctx.cors);
    },
    'liveness, role, tail position and SSE clients',
  ],
  '/api/world': [async (ctx, _q, _r, res) => sendJson(res, 200, await readWorld(ctx.db), ctx.cors), 'the world snapshot: actors, resources, balances, policy, breaker, open offers'],
  '/api/balances': [async (ctx, _q, _r, res) => sendJson(res, 200, { rows: await readBalances(ctx.db) }, ctx.cors), 'non-zero balances as rows (actor, actor_kind, resource, amount)'],
  '/api/ledger': [
    async (ctx, q, _r, res) => {
      const p = parsePage(q);
      const { rows, hasMore } = await ledgerPage(ctx.db, p);
      sendJson(res, 200, pageBody(rows, p, hasMore), ctx.cors);
    },
    `ledger entries, keyset-paged: ?after_id=&limit= (oldest first) or ?before_id= / ?order=desc (newest first); limit ≤ ${LIMITS.http.maxPageSize}`,
  ],
  '/api/rejections': [
    async (ctx, q, _r, res) => {
      const p = parsePage(q);
      const code = q.get('code') ?? undefined;
      if (code !== undefined && !CODE_RE.test(code)) throw new BridgeError(400, 'BAD_QUERY', 'code must be an UPPER_SNAKE rejection code');
      const { rows, hasMore } = await rejectionPage(ctx.db, p, code);
      sendJson(res, 200, pageBody(rows, p, hasMore), ctx.cors);
    },
    'rejected proposals with their codes, paged like /api/ledger; ?code= filters',
  ],
  '/api/alerts': [
    async (ctx, q, _r, res) => {
      const p = parsePage(q);
      const { rows, hasMore } = await alertPage(ctx.db, p);
      sendJson(res, 200, pageBody(rows, p, hasMore), ctx.cors);
    },
    'alerts (outbox) with delivery status per channel, paged like /api/ledger',
  ],
  '/api/metrics': [
    (ctx, q, _r, res) => {
      const n = parseIntParam(q, 'buckets', ctx.metrics.window.maxBuckets, 1, ctx.metrics.window.maxBuckets);
      sendJson(res, 200, ctx.metrics.snapshot(n), ctx.cors);
    },
    'telemetry time series (volume, velocity, minted/burned, rejection rate by code, Gini series); ?buckets=N newest',
  ],
  '/api/artifacts': [
    async (ctx, _q, _r, res) => sendJson(res, 200, await ctx.artifacts.snapshot(ctx.db, ctx.tail.lastLedgerId), ctx.cors),
    'artifact economy (engine/telemetry analyzeArtifacts over recorded calls): dependency depth and longest chain, cycles, top 10 Lindy scores (age buckets × distinct invokers), control entropy (owner vs autonomous calls)',
  ],
  '/api/breaker': [async (ctx, _q, _r, res) => sendJson(res, 200, await readBreaker(ctx.db), ctx.cors), 'circuit breaker: open, reason, set_by, entry_id, set_at'],
  '/api/verification': [
    (ctx, _q, _r, res) => {
      ctx.verifier.maybeRun(ctx.tail.lastLedgerId);
      sendJson(res, 200, ctx.verifier.current(), ctx.cors);
    },
    `ledger verification (replay dry run), cached; re-run at most every ${LIMITS.bridge.verifyMinIntervalMs} ms when the head moved`,
  ],
  '/events': [
    async (ctx, q, req, res) => {
      if (ctx.sse.full) throw new BridgeError(503, 'TOO_MANY_CLIENTS', `the bridge serves at most ${ctx.sse.max} event streams; close one or try later`);
      const header = req.headers['last-event-id'];
      const raw = typeof header === 'string' && header !== '' ? header : q.get('last_event_id');
      const lastId = raw !== null && /^(0|[1-9][0-9]{0,18})$/.test(raw) ? BigInt(raw) : undefined;
      const head = await readHead(ctx.db);
      ctx.sse.accept(req, res, { head, ledger_id: ctx.tail.lastLedgerId.toString(), server_time: new Date().toISOString() }, lastId, ctx.cors);
    },
    'Server-Sent Events: hello, ledger (id = ledger id), rejection, alert, breaker, verification, notice, resync',
  ],
};
