/**
 * startBridge: the read-only HTTP API, the SSE stream and the live dashboard, on node:http.
 *
 * Read-only three ways: (1) every method other than GET/HEAD/OPTIONS answers 405 before any
 * routing; (2) handlers only SELECT from read views; (3) on Postgres the Db must be opened as
 * grid_reader (`openBridgeDb` does it), and startBridge refuses a connection whose role could
 * INSERT/UPDATE/DELETE/TRUNCATE any table of the schema (BRIDGE_NOT_READ_ONLY) unless told
 * otherwise. PGlite is one embedded user with no roles; there (2) and (1) are the guarantee.
 *
 * CORS is off: no Access-Control-* header is ever sent unless `corsOrigin` names one origin.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openDb, type Db } from '../db/adapter';
import { LIMITS } from '../validator/limits';
import { BASE_HEADERS, BridgeError, sendError } from './http';
import { readActors, readBreaker, readRole } from './read-model';
import { FeedTail } from './tail';
import { MetricsFeed } from './metrics-feed';
import { ArtifactFeed } from './artifact-feed';
import { Verifier } from './verification';
import { SseHub } from './sse';
import { StaticFiles } from './static';
import { ROUTES, type BridgeContext } from './routes';

export interface BridgeOptions {
  db: Db;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the bridge is local unless someone decides otherwise. */
  host?: string;
  /** The one origin allowed to read the API from a browser on another origin (default: none). */
  corsOrigin?: string;
  /** Refuse a Postgres role that can write (default true). */
  requireReadOnly?: boolean;
  pollMs?: number;
  bucketMs?: number;
  maxBuckets?: number;
  /** Lindy age bucket of /api/artifacts (default LIMITS.telemetry.defaultBucketMs). */
  lindyBucketMs?: number;
  verifyMinIntervalMs?: number;
  /** Serve the dashboard (default true). */
  dashboard?: boolean;
  /** Event streams served at once (default and ceiling: LIMITS.http.maxSseClients). */
  maxSseClients?: number;
}

export interface Bridge {
  url: string;
  /** Where a person points a browser. */
  dashboardUrl: string;
  port: number;
  close(): Promise<void>;
  /** For tests and the CLI: the parts, read-only. */
  context: BridgeContext;
}

/** Opens the Db the way the bridge should: as grid_reader on Postgres. */
export function openBridgeDb(opts: { url?: string; schema?: string; dataDir?: string }): Promise<Db> {
  return openDb({ ...opts, role: opts.url ? 'grid_reader' : undefined, poolSize: 4 });
}

const READ_METHODS = new Set(['GET', 'HEAD']);

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const { db } = opts;
  const role = await readRole(db);
  if (db.kind === 'postgres' && role.can_write && (opts.requireReadOnly ?? true)) {
    throw new BridgeError(500, 'BRIDGE_NOT_READ_ONLY',
      `the bridge is connected as "${role.role}", which can write to schema ${db.schema}; open the Db with role grid_reader (openBridgeDb does)`);
  }
  if (opts.corsOrigin !== undefined && !/^https?:\/\/[a-z0-9.-]+(:[0-9]{1,5})?$/i.test(opts.corsOrigin)) {
    throw new BridgeError(500, 'BAD_QUERY', `corsOrigin must be one origin like http://localhost:8501 (got ${JSON.stringify(opts.corsOrigin)})`);
  }
  const statics = opts.dashboard === false ? null : new StaticFiles();
  const tail = new FeedTail(db, { pollMs: opts.pollMs });
  const metrics = new MetricsFeed({ bucketMs: opts.bucketMs, maxBuckets: opts.maxBuckets });
  const verifier = new Verifier(db, { minIntervalMs: opts.verifyMinIntervalMs });
  const sse = new SseHub({ maxClients: Math.min(opts.maxSseClients ?? LIMITS.http.maxSseClients, LIMITS.http.maxSseClients) });
  metrics.setRegistry(await readActors(db));

  let caughtUp = false;
  let registryRefresh: Promise<void> | null = null;
  let lastRegistryRefresh = 0;
  const refreshRegistry = () => {
    if (registryRefresh || Date.now() - lastRegistryRefresh < 1000) return;
    lastRegistryRefresh = Date.now();
    registryRefresh = readActors(db)
      .then((a) => metrics.setRegistry(a))
      .catch(() => {})
      .finally(() => (registryRefresh = null));
  };

  tail.on({
    ledger(rows) {
      if (metrics.namesUnknownActor(rows)) refreshRegistry();
      metrics.foldLedger(rows);
      if (rows.length > LIMITS.bridge.sseMaxRowsPerPush) {
        sse.ledgerBurst(rows.map((r) => ({ id: BigInt(r.id), data: r })), { reason: 'BURST', from_id: rows[0].id, to_id: rows[rows.length - 1].id, count: rows.length });
      } else {
        for (const r of rows) sse.ledger(BigInt(r.id), r);
      }
      if (rows.some((r) => r.kind === 'breaker_set')) void readBreaker(db).then((b) => sse.send('breaker', b), () => {});
      // Not during the initial catch-up: a replay would compete with it for the database.
      if (caughtUp) verifier.maybeRun(BigInt(rows[rows.length - 1].id));
    },
    rejections(rows) {
      metrics.foldRejections(rows);
      for (const r of rows.slice(-LIMITS.bridge.sseMaxRowsPerPush)) sse.send('rejection', r);
    },
    alerts(rows) {
      for (const a of rows.slice(-LIMITS.bridge.sseMaxRowsPerPush)) sse.send('alert', a);
    },
    notice(n) {
      sse.send('notice', n);
    },
  });
  verifier.onChange((s) => sse.send('verification', s));

  await tail.start();
  caughtUp = true;
  const artifacts = new ArtifactFeed({ bucketMs: opts.lindyBucketMs });
  const ctx: BridgeContext = { db, tail, metrics, artifacts, verifier, sse, role, startedAt: Date.now(), cors: {} };
  void verifier.run().catch(() => {});

  const server = createServer({ requestTimeout: LIMITS.http.requestTimeoutMs, headersTimeout: LIMITS.http.headersTimeoutMs }, (req, res) => {
    void handle(ctx, statics, opts.corsOrigin, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  let closed: Promise<void> | null = null;
  return {
    url,
    dashboardUrl: `${url}/`,
    port: addr.port,
    context: ctx,
    close() {
      closed ??= (async () => {
        sse.close();
        await tail.stop();
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

async function handle(ctx: BridgeContext, statics: StaticFiles | null, corsOrigin: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  const cors: Record<string, string> = corsOrigin && origin === corsOrigin ? { 'Access-Control-Allow-Origin': corsOrigin, Vary: 'Origin' } : {};
  try {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      const pre = Object.keys(cors).length ? { ...cors, 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': 'Last-Event-ID', 'Access-Control-Max-Age': '600' } : {};
      res.writeHead(204, { ...BASE_HEADERS, Allow: 'GET, HEAD, OPTIONS', ...pre });
      res.end();
      return;
    }
    if (!READ_METHODS.has(method)) {
      // The bridge never writes; say so before looking at the path or the body.
      return sendError(res, new BridgeError(405, 'METHOD_NOT_ALLOWED', `${method.slice(0, 20)} is not allowed: the bridge is read-only (GET, HEAD)`), {
        ...cors, Allow: 'GET, HEAD, OPTIONS', Connection: 'close',
      });
    }
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > LIMITS.bridge.maxUrlChars) throw new BridgeError(414, 'URL_TOO_LONG', `URLs are limited to ${LIMITS.bridge.maxUrlChars} characters`);
    const u = new URL(rawUrl, 'http://bridge.local');
    const route = ROUTES[u.pathname];
    if (route) {
      await route[0]({ ...ctx, cors }, u.searchParams, req, res);
      return;
    }
    if (statics?.has(u.pathname)) return statics.serve(req, res, u.pathname);
    throw new BridgeError(404, 'NOT_FOUND', `no such endpoint: ${u.pathname.slice(0, 200)} (GET /api lists them)`);
  } catch (e: any) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof BridgeError) return sendError(res, e, cors);
    const dbDown = typeof e?.code === 'string' && /^(08|57P|53|ECONN)/.test(e.code);
    sendError(res, dbDown
      ? new BridgeError(503, 'DB_UNAVAILABLE', 'the database is not answering; try again shortly')
      : new BridgeError(500, 'INTERNAL', `the bridge failed to answer: ${String(e?.message ?? e).slice(0, 300)}`), cors);
  }
}
