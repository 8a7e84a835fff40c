/**
 * `grid serve`: the HTTP API on node:http (a routing table of seven routes needs no framework).
 *
 *   GET  /health                   200 ok | 503 drift / chain broken / database down
 *   GET  /world-state              the world snapshot (readWorldState)
 *   POST /execute                  a proposal → 200 applied (or already applied), 422 rejected,
 *                                  409 ID_CONFLICT; the law's answer verbatim
 *   POST /admin/balance-override   ┐
 *   POST /admin/credit-reset       ├ Bearer GRID_ADMIN_KEY; audited proposals (see admin.ts)
 *   POST /admin/breaker            ┘
 *   POST /webhooks/linear          signed Linear webhooks → human decisions (engine/hitl)
 *
 * Who may speak for whom: the law trusts a proposal's `agent`. Anyone who can reach /execute may
 * propose as an `agent`-kind actor (unless GRID_EXECUTE_KEY is set); proposals whose principal is a
 * human, system, governor or any other non-agent actor need the admin key — otherwise a caller
 * could simply ask, as `system`, for a mint.
 *
 * Errors are `{ error: { code, message } }` with a stable code; stack traces go to the log only.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../../db/adapter';
import { GridError } from '../../db/errors';
import { LedgerWriter, type ApplyResult } from '../../db/writer';
import { LIMITS } from '../../validator/limits';
import { readWorldState } from '../world-state';
import { LinearHitl } from '../hitl/receiver';
import type { AlertDispatcher } from '../alerts/dispatcher';
import { balanceOverride, creditReset, requireHuman, setBreaker, type AdminAnswer, type AdminContext } from './admin';
import { HealthChecker } from './health';
import { HttpError, parseJson, readBody, requireKey, sendError, sendJson } from './http';

export interface ServiceOptions {
  db: Db;
  writer?: LedgerWriter;
  /** Default 0 (an ephemeral port); the CLI passes GRID_PORT. */
  port?: number;
  /** Default 127.0.0.1: the API is local unless an operator decides otherwise. */
  host?: string;
  /** GRID_ADMIN_KEY: enables /admin/* and non-agent proposals on /execute. */
  adminKey?: string;
  /** GRID_EXECUTE_KEY: when set, /execute needs it (or the admin key). */
  executeKey?: string;
  /** GRID_HUMAN_ACTOR (default council): the human admin requests and Linear decisions act for. */
  humanActor?: string;
  /** LINEAR_WEBHOOK_SECRET: enables /webhooks/linear. */
  linearWebhookSecret?: string;
  /** When given, /health also reports alert delivery counts per channel. */
  dispatcher?: AlertDispatcher;
  healthCacheMs?: number;
  requestTimeoutMs?: number;
  /** Server-side log (5xx causes); default console.error. */
  log?: (line: string) => void;
  /** Clock for webhook timestamp checks (tests). */
  clock?: () => number;
}

export interface RunningService {
  url: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

export function serviceOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<ServiceOptions, 'db'> {
  const port = env.GRID_PORT ? Number(env.GRID_PORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`GRID_PORT must be a port number, not ${env.GRID_PORT}`);
  return {
    port,
    host: env.GRID_HOST || undefined,
    adminKey: env.GRID_ADMIN_KEY || undefined,
    executeKey: env.GRID_EXECUTE_KEY || undefined,
    humanActor: env.GRID_HUMAN_ACTOR || undefined,
    linearWebhookSecret: env.LINEAR_WEBHOOK_SECRET || undefined,
  };
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
type Handler = (req: IncomingMessage) => Promise<Answer>;

/** The law's answer as an HTTP status: rejections are 422, except reused ids (409). */
export function applyStatus(r: ApplyResult): number {
  return r.status === 'applied' ? 200 : r.code === 'ID_CONFLICT' ? 409 : 422;
}

export async function startService(opts: ServiceOptions): Promise<RunningService> {
  const { db } = opts;
  const writer = opts.writer ?? new LedgerWriter(db);
  const humanActor = opts.humanActor ?? 'council';
  const log = opts.log ?? ((l: string) => console.error(l));
  const timeoutMs = opts.requestTimeoutMs ?? LIMITS.http.requestTimeoutMs;
  const dispatcher = opts.dispatcher;
  const health = new HealthChecker(db, {
    cacheMs: opts.healthCacheMs,
    extras: dispatcher ? async () => ({ alerts: await dispatcher.stats() }) : undefined,
  });
  const hitl = opts.linearWebhookSecret ? new LinearHitl({ db, writer, secret: opts.linearWebhookSecret, humanActor, clock: opts.clock }) : null;

  const admin = (fn: (ctx: AdminContext, body: unknown) => Promise<AdminAnswer>): Handler => async (req) => {
    requireKey(req, [opts.adminKey], 'the admin API');
    const h = req.headers['x-grid-actor'];
    const human = (Array.isArray(h) ? h[0] : h) || humanActor;
    await requireHuman(db, human);
    const body = parseJson(await readBody(req));
    return fn({ db, writer, human }, body);
  };

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/health': {
      GET: async () => {
        const r = await health.check();
        return { status: r.status, body: r.body };
      },
    },
    '/world-state': { GET: async () => ({ status: 200, body: await readWorldState(db) }) },
    '/execute': {
      POST: async (req) => {
        if (opts.executeKey) requireKey(req, [opts.executeKey, opts.adminKey], '/execute');
        const raw = await readBody(req);
        const value = parseJson(raw);
        const agent = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>).agent : undefined;
        if (typeof agent === 'string') {
          const kind = (await db.query<{ kind: string }>('SELECT kind FROM actors WHERE id = $1', [agent])).rows[0]?.kind;
          if (kind !== undefined && kind !== 'agent') requireKey(req, [opts.adminKey], `proposals by ${kind} actors`);
        }
        // The raw text goes to the writer, so what is recorded is exactly what was received.
        const res = await writer.apply(raw.toString('utf8'));
        return { status: applyStatus(res), body: res };
      },
    },
    '/admin/balance-override': { POST: admin(balanceOverride) },
    '/admin/credit-reset': { POST: admin(creditReset) },
    '/admin/breaker': { POST: admin(setBreaker) },
    '/webhooks/linear': {
      POST: async (req) => {
        if (!hitl) throw new HttpError(503, 'WEBHOOK_DISABLED', 'the Linear webhook receiver is off: set LINEAR_WEBHOOK_SECRET');
        const r = await hitl.handle(await readBody(req), req.headers);
        return { status: r.status, body: r.body };
      },
    },
  };

  const inflight = new Set<Promise<void>>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      return sendError(res, new HttpError(400, 'BAD_URL', 'the request URL cannot be parsed'));
    }
    const route = routes[path.length > 1 ? path.replace(/\/+$/, '') : path];
    if (!route) return sendError(res, new HttpError(404, 'NOT_FOUND', `no route ${path}; see GET /health, GET /world-state, POST /execute`));
    const handler = route[req.method ?? ''];
    if (!handler) {
      const allow = Object.keys(route).join(', ');
      return sendError(res, new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; use ${allow}`, { allow }));
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HttpError(503, 'TIMEOUT', `the request did not complete within ${timeoutMs} ms; retrying with the same proposal_id is safe`)), timeoutMs);
    });
    try {
      const a = await Promise.race([handler(req), deadline]);
      sendJson(res, a.status, a.body, a.headers);
    } catch (e) {
      sendError(res, toHttpError(e, log));
    } finally {
      clearTimeout(timer);
    }
  };

  const server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    const p = handle(req, res).catch((e) => {
      log(`[serve] unhandled: ${(e as Error)?.stack ?? e}`);
      sendError(res, new HttpError(500, 'INTERNAL', 'internal error'));
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });
  server.requestTimeout = timeoutMs;
  server.headersTimeout = Math.min(LIMITS.http.headersTimeoutMs, timeoutMs);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    server,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // In-flight requests finish (bounded: a client stalled mid-body must not hold shutdown).
      await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, 2_000).unref())]);
      server.closeAllConnections();
      await closed;
    },
  };
}

function toHttpError(e: unknown, log: (l: string) => void): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof GridError) {
    const retry = e.code === 'QUEUE_FULL' || e.code === 'LEDGER_UNAVAILABLE' ? { 'retry-after': '1' } : undefined;
    return new HttpError(503, e.code, e.message, retry);
  }
  log(`[serve] internal error: ${(e as Error)?.stack ?? e}`);
  return new HttpError(500, 'INTERNAL', 'internal error; the server log has the details');
}
