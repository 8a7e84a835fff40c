// `grid serve` over real HTTP against both backends: every status code the API promises.
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import type { Db } from '../db/adapter';
import { startService, type RunningService, type ServiceOptions } from '../engine/service';
import { LIMITS } from '../validator/limits';

const ADMIN = 'test-admin-key-0123456789';

interface Res {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function call(svc: RunningService, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const r = await fetch(svc.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: r.status, headers: r.headers, body: parsed, text };
}

const transfer = (amount: number, extra: Record<string, unknown> = {}) => ({ kind: 'transfer', proposal_id: randomUUID(), agent: 'alice', from: 'alice', to: 'bob', resource: 'credits', amount, ...extra });
const admin = { authorization: `Bearer ${ADMIN}` };
const count = async (db: Db, sql: string) => Number((await db.query<{ n: bigint }>(sql)).rows[0]!.n);

forEachBackend('service: HTTP API', (b) => {
  let svc: RunningService | null = null;
  const logs: string[] = [];
  afterEach(async () => {
    await svc?.close();
    svc = null;
  });
  const start = async (extra: Partial<ServiceOptions> = {}) => {
    const db = await b.fresh({ init: true });
    svc = await startService({ db, adminKey: ADMIN, healthCacheMs: 0, log: (l) => logs.push(l), ...extra });
    return { db, svc };
  };

  it('GIVEN an intact grid WHEN GET /health THEN 200 with database, chain, cache and breaker state', async () => {
    const { svc } = await start();
    const r = await call(svc, 'GET', '/health');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'ok');
    assert.deepEqual([r.body.database.ok, r.body.ledger.chain_ok, r.body.cache.matches, r.body.breaker.open], [true, true, true, false]);
    assert.ok(Number(r.body.ledger.last_id) > 0);
  });

  it('GIVEN a balance altered in the cache behind the ledger WHEN GET /health THEN 503 naming the drift', async () => {
    const { db, svc } = await start();
    await db.query(`UPDATE balances SET amount = amount + 7 WHERE actor = 'alice' AND resource = 'credits'`);
    const r = await call(svc, 'GET', '/health');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.status, 'drift');
    assert.equal(r.body.ledger.chain_ok, true);
    assert.deepEqual(r.body.cache.diffs, [{ actor: 'alice', resource: 'credits', cache: '1007', ledger: '1000' }]);
  });

  it('GIVEN a valid proposal WHEN POST /execute twice THEN 200 applied, then 200 already applied, one ledger entry', async () => {
    const { db, svc } = await start();
    const p = transfer(30);
    const first = await call(svc, 'POST', '/execute', p);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual([first.body.status, first.body.duplicate, first.body.entries.length], ['applied', false, 1]);
    const rows = await count(db, 'SELECT count(*)::bigint AS n FROM ledger');
    const again = await call(svc, 'POST', '/execute', p);
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.status, again.body.duplicate, again.body.entries[0].id], ['applied', true, first.body.entries[0].id]);
    assert.equal(await count(db, 'SELECT count(*)::bigint AS n FROM ledger'), rows);
  });

  it('GIVEN an overdraw WHEN POST /execute THEN 422 with code, message and details, recorded with its alert', async () => {
    const { db, svc } = await start();
    const p = transfer(5000);
    const r = await call(svc, 'POST', '/execute', p);
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.code, 'EXCEEDS_MAX_TRANSFER');
    assert.match(r.body.message, /\S/);
    assert.equal(typeof r.body.details, 'object');
    assert.equal(await count(db, `SELECT count(*)::bigint AS n FROM outbox WHERE topic = 'rejection'`), 1);
  });

  it('GIVEN a proposal_id already used WHEN other content is sent under it THEN 409 ID_CONFLICT', async () => {
    const { svc } = await start();
    const p = transfer(10);
    assert.equal((await call(svc, 'POST', '/execute', p)).status, 200);
    const r = await call(svc, 'POST', '/execute', { ...p, amount: 11 });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.code, 'ID_CONFLICT');
  });

  it('GIVEN a proposal by the system actor WHEN POST /execute without, with a wrong, with the admin key THEN 401, 403, 200', async () => {
    const { svc } = await start();
    const mint = { kind: 'mint', proposal_id: randomUUID(), agent: 'system', to: 'alice', resource: 'credits', amount: 1_000_000 };
    const none = await call(svc, 'POST', '/execute', mint);
    assert.deepEqual([none.status, none.body.error.code, none.headers.get('www-authenticate')], [401, 'UNAUTHENTICATED', 'Bearer realm="grid"']);
    const wrong = await call(svc, 'POST', '/execute', mint, { authorization: 'Bearer nope' });
    assert.deepEqual([wrong.status, wrong.body.error.code], [403, 'FORBIDDEN']);
    const ok = await call(svc, 'POST', '/execute', mint, admin);
    assert.equal(ok.status, 200, ok.text);
  });

  it('GIVEN GRID_EXECUTE_KEY is set WHEN an agent proposal comes without it, with it, or with the admin key THEN 401, 200, 200', async () => {
    const { svc } = await start({ executeKey: 'exec-key' });
    assert.equal((await call(svc, 'POST', '/execute', transfer(1))).status, 401);
    assert.equal((await call(svc, 'POST', '/execute', transfer(1), { authorization: 'Bearer exec-key' })).status, 200);
    assert.equal((await call(svc, 'POST', '/execute', transfer(1), admin)).status, 200);
  });

  it('GIVEN the admin API WHEN called without a key, with a wrong key, or on a server with no key THEN 401, 403, 403 ADMIN_DISABLED', async () => {
    const { svc } = await start();
    const body = { open: true, reason: 'drill' };
    const none = await call(svc, 'POST', '/admin/breaker', body);
    assert.deepEqual([none.status, none.body.error.code], [401, 'UNAUTHENTICATED']);
    const wrong = await call(svc, 'POST', '/admin/breaker', body, { authorization: `Bearer ${ADMIN}x` });
    assert.deepEqual([wrong.status, wrong.body.error.code], [403, 'FORBIDDEN']);
    const malformedHeader = await call(svc, 'POST', '/admin/breaker', body, { authorization: ADMIN });
    assert.equal(malformedHeader.status, 401);
    await svc.close();
    const off = await start({ adminKey: undefined });
    const disabled = await call(off.svc, 'POST', '/admin/breaker', body, admin);
    assert.deepEqual([disabled.status, disabled.body.error.code], [403, 'ADMIN_DISABLED']);
  });

  it('GIVEN a body over the limit WHEN POST /execute THEN 413 BODY_TOO_LARGE and the server keeps serving', async () => {
    const { svc } = await start();
    const big = JSON.stringify({ ...transfer(1), reasoning: 'x'.repeat(LIMITS.http.maxBodyBytes + 10) });
    const r = await call(svc, 'POST', '/execute', big);
    assert.deepEqual([r.status, r.body.error.code], [413, 'BODY_TOO_LARGE']);
    // Chunked, with no Content-Length to refuse up front: counted as it streams.
    const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(svc.url + '/execute', { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(LIMITS.http.maxBodyBytes / 8));
      req.end();
    });
    assert.deepEqual([chunked.status, JSON.parse(chunked.text).error.code], [413, 'BODY_TOO_LARGE']);
    assert.equal((await call(svc, 'GET', '/health')).status, 200);
  });

  it('GIVEN a body that is not JSON WHEN POST /execute THEN 400 MALFORMED_JSON and nothing is recorded', async () => {
    const { db, svc } = await start();
    const r = await call(svc, 'POST', '/execute', '{"kind": "transfer", ');
    assert.deepEqual([r.status, r.body.error.code], [400, 'MALFORMED_JSON']);
    assert.equal((await call(svc, 'POST', '/execute', '')).status, 400);
    assert.equal(await count(db, 'SELECT count(*)::bigint AS n FROM rejected_proposals'), 0);
  });

  it('GIVEN JSON that is not a proposal WHEN POST /execute THEN 422 MALFORMED from the law (recorded)', async () => {
    const { db, svc } = await start();
    const r = await call(svc, 'POST', '/execute', { kind: 'transfer', agent: 'alice' });
    assert.deepEqual([r.status, r.body.code], [422, 'MALFORMED']);
    assert.equal(await count(db, 'SELECT count(*)::bigint AS n FROM rejected_proposals'), 1);
  });

  it('GIVEN unknown paths and wrong methods WHEN called THEN 404 and 405 (with Allow) as JSON', async () => {
    const { svc } = await start();
    const nf = await call(svc, 'GET', '/nope');
    assert.deepEqual([nf.status, nf.body.error.code, nf.headers.get('content-type')], [404, 'NOT_FOUND', 'application/json; charset=utf-8']);
    const na = await call(svc, 'GET', '/execute');
    assert.deepEqual([na.status, na.body.error.code, na.headers.get('allow')], [405, 'METHOD_NOT_ALLOWED', 'POST']);
    assert.equal((await call(svc, 'DELETE', '/health')).status, 405);
  });

  it('GIVEN GET /world-state THEN the snapshot with string amounts, policy and breaker', async () => {
    const { svc } = await start();
    const r = await call(svc, 'GET', '/world-state');
    assert.equal(r.status, 200);
    assert.equal(r.body.balances.alice.credits, '1000');
    assert.equal(r.body.breaker.open, false);
    assert.ok(r.body.as_of.ledger_id);
  });

  it('GIVEN a balance override WHEN applied THEN a system mint/burn of the difference naming the human, an audit row, and /health still 200', async () => {
    const { db, svc } = await start();
    const up = await call(svc, 'POST', '/admin/balance-override', { actor: 'alice', resource: 'credits', amount: 1500, reason: 'compensation for outage' }, admin);
    assert.equal(up.status, 200, up.text);
    assert.deepEqual([up.body.status, up.body.delta, up.body.proposed_as, up.body.human], ['applied', '500', 'system', 'council']);
    const entry = (await db.query<any>(`SELECT kind, agent, to_actor, amount::text AS amount, metadata FROM ledger WHERE proposal_id = $1`, [up.body.proposal_id])).rows[0];
    assert.deepEqual([entry.kind, entry.agent, entry.to_actor, entry.amount], ['mint', 'system', 'alice', '500']);
    assert.match(entry.metadata.reasoning, /^admin override by council: compensation for outage$/);
    const down = await call(svc, 'POST', '/admin/balance-override', { actor: 'alice', resource: 'credits', amount: '200', reason: 'claw back' }, admin);
    assert.deepEqual([down.status, down.body.delta], [200, '-1300']);
    const noop = await call(svc, 'POST', '/admin/balance-override', { actor: 'alice', resource: 'credits', amount: 200, reason: 'again' }, admin);
    assert.deepEqual([noop.status, noop.body.status], [200, 'noop']);
    assert.equal((await call(svc, 'GET', '/world-state')).body.balances.alice.credits, '200');
    assert.equal(await count(db, `SELECT count(*)::bigint AS n FROM admin_audit WHERE action = 'admin.balance_override' AND actor = 'council'`), 3);
    assert.equal((await call(svc, 'GET', '/health')).status, 200, 'god mode went through the ledger: no drift');
    const bad = await call(svc, 'POST', '/admin/balance-override', { actor: 'alice', resource: 'credits', amount: -5, reason: 'x' }, admin);
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'INVALID_REQUEST']);
  });

  it('GIVEN a credit reset WHEN applied THEN every agent holds the target, in one audited batch, idempotent by reset_id', async () => {
    const { db, svc } = await start();
    const body = { amount: 100, reason: 'new season', reset_id: randomUUID() };
    const r = await call(svc, 'POST', '/admin/credit-reset', body, admin);
    assert.equal(r.status, 200, r.text);
    const ws = (await call(svc, 'GET', '/world-state')).body;
    for (const a of ['alice', 'bob', 'carol', 'dave', 'erin']) assert.equal(ws.balances[a].credits, '100', a);
    const rows = await count(db, 'SELECT count(*)::bigint AS n FROM ledger');
    const again = await call(svc, 'POST', '/admin/credit-reset', body, admin);
    assert.equal(again.status, 200);
    assert.ok(again.body.results.every((x: any) => x.duplicate === true));
    assert.equal(await count(db, 'SELECT count(*)::bigint AS n FROM ledger'), rows);
  });

  it('GIVEN the admin breaker WHEN opened THEN agents get 422 CIRCUIT_OPEN; WHEN closed THEN they trade again; a non-human actor header is refused', async () => {
    const { svc } = await start();
    assert.equal((await call(svc, 'POST', '/admin/breaker', { open: true, reason: 'drill' }, admin)).status, 200);
    const blocked = await call(svc, 'POST', '/execute', transfer(1));
    assert.deepEqual([blocked.status, blocked.body.code], [422, 'CIRCUIT_OPEN']);
    assert.equal((await call(svc, 'GET', '/health')).body.breaker.open, true);
    const notHuman = await call(svc, 'POST', '/admin/breaker', { open: false, reason: 'x' }, { ...admin, 'x-grid-actor': 'alice' });
    assert.deepEqual([notHuman.status, notHuman.body.error.code], [400, 'ADMIN_ACTOR_INVALID']);
    assert.equal((await call(svc, 'POST', '/admin/breaker', { open: false, reason: 'drill over' }, admin)).status, 200);
    assert.equal((await call(svc, 'POST', '/execute', transfer(1))).status, 200);
  });

  it('GIVEN a broken database WHEN called THEN 500/503 JSON without stack traces (the log has them)', async () => {
    const { db, svc } = await start();
    await db.exec(`DROP SCHEMA ${db.schema} CASCADE`);
    const ws = await call(svc, 'GET', '/world-state');
    assert.deepEqual([ws.status, ws.body.error.code], [500, 'INTERNAL']);
    assert.doesNotMatch(ws.text, /\bat \S+ \(|\.js:\d+/);
    assert.ok(logs.some((l) => l.includes('internal error') && /\.js:\d+/.test(l)), 'stack logged server-side');
    const h = await call(svc, 'GET', '/health');
    assert.deepEqual([h.status, h.body.status], [503, 'down']);
  });

  it('GIVEN a client that stalls mid-body WHEN the request timeout passes THEN 503 TIMEOUT as JSON', async () => {
    const { svc } = await start({ requestTimeoutMs: 300 });
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(svc.url + '/execute', { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': '100' } }, (r) => {
        let text = '';
        r.on('data', (c) => (text += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write('{"kind":');
    });
    assert.equal(res.status, 503);
    assert.equal(JSON.parse(res.text).error.code, 'TIMEOUT');
  });
});
