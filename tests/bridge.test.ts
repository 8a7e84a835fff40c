/**
 * The read-only bridge over both backends: every endpoint answers from the read views, pages are
 * keyset-bounded, every mutating method is refused, CORS is off unless one origin is named, and
 * on Postgres the role it connects as cannot write.
 */
import assert from 'node:assert/strict';
import { forEachBackend } from './support/backends';
import { harness, openReader, type Harness } from './support/bridge-harness';
import { readWorldState } from '../engine/world-state';
import { startBridge } from '../streamlit-bridge';
import { LIMITS } from '../validator/limits';
import { count } from './support/fixtures';
import { LedgerWriter } from '../db/writer';

const MUTATING = ['POST', 'PUT', 'PATCH', 'DELETE'];

forEachBackend('bridge: read API', (b) => {
  describe('endpoints', () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it('GIVEN a seeded grid WHEN /api, /api/health and the static files are read THEN they answer with the right types', async () => {
      h = await harness(b);
      const idx = await h.get('/api');
      assert.equal(idx.status, 200);
      for (const p of ['/api/world', '/api/ledger', '/api/rejections', '/api/metrics', '/api/breaker', '/api/verification', '/events']) {
        assert.ok(p in idx.body.endpoints, `${p} not listed`);
      }
      const health = await h.get('/api/health');
      assert.equal(health.body.backend, b.name);
      assert.equal(health.body.tail.lag, '0');
      assert.equal(health.body.read_only, b.name === 'postgres', 'grid_reader on Postgres; PGlite has no roles');
      if (b.name === 'postgres') assert.equal(health.body.role, 'grid_reader');
      const page = await h.get('/');
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(page.text, /Grid Governance/);
      const js = await h.get('/vendor/uplot/uPlot.iife.min.js');
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      assert.ok(js.text.length > 10_000);
      assert.equal((await h.get('/vendor/uplot/uPlot.min.css')).status, 200);
      assert.equal((await h.get('/dashboard/app.js')).status, 200);
      const etag = js.headers.get('etag')!;
      assert.equal((await h.get('/vendor/uplot/uPlot.iife.min.js', { headers: { 'If-None-Match': etag } })).status, 304);
      const missing = await h.get('/dashboard/../package.json');
      assert.equal(missing.status, 404);
      assert.equal((await h.get('/nope')).body.error.code, 'NOT_FOUND');
      assert.equal((await h.get('/api/ledger?x=' + 'a'.repeat(LIMITS.bridge.maxUrlChars))).body.error.code, 'URL_TOO_LONG');
    });

    it('GIVEN a seeded grid WHEN /api/world and /api/balances are read THEN they equal the engine\'s world snapshot', async () => {
      h = await harness(b);
      const world = (await h.get('/api/world')).body;
      const engine = JSON.parse(JSON.stringify(await readWorldState(h.db)));
      assert.deepEqual(world.balances, engine.balances);
      assert.deepEqual(world.as_of, engine.as_of);
      assert.deepEqual(world.breaker, engine.breaker);
      assert.deepEqual(world.actors, engine.actors);
      assert.deepEqual(world.policy, engine.policy);
      const rows = (await h.get('/api/balances')).body.rows as Array<{ actor: string; actor_kind: string; resource: string; amount: string }>;
      assert.equal(rows.length, Object.values(engine.balances).reduce((n: number, m: any) => n + Object.keys(m).length, 0));
      for (const r of rows) assert.equal(engine.balances[r.actor][r.resource], r.amount);
      assert.equal(rows.find((r) => r.actor === 'alice')?.actor_kind, 'agent');
    });

    it('GIVEN N ledger rows WHEN paged forward and backward with limit 7 THEN every id appears once, in order, and the end is marked', async () => {
      h = await harness(b);
      const total = await count(h.db, 'ledger');
      const seen: number[] = [];
      let after = '0';
      for (let i = 0; i < 100; i++) {
        const p = (await h.get(`/api/ledger?after_id=${after}&limit=7`)).body;
        assert.ok(p.rows.length <= 7);
        seen.push(...p.rows.map((r: any) => Number(r.id)));
        after = p.next.after_id;
        if (!p.has_more) break;
      }
      assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i + 1));
      const back: number[] = [];
      let q = '/api/ledger?order=desc&limit=7';
      for (let i = 0; i < 100; i++) {
        const p = (await h.get(q)).body;
        back.push(...p.rows.map((r: any) => Number(r.id)));
        if (!p.next) break;
        q = `/api/ledger?before_id=${p.next.before_id}&limit=7`;
      }
      assert.deepEqual(back, [...seen].reverse());
      const row = (await h.get('/api/ledger?after_id=0&limit=1')).body.rows[0];
      assert.deepEqual(Object.keys(row).sort(), ['agent', 'amount', 'at_ms', 'executed_at', 'from', 'hash', 'id', 'kind', 'leg', 'metadata', 'prev_hash', 'proposal_id', 'resource', 'to', 'validator_version'].sort());
      assert.equal(row.prev_hash, '0'.repeat(64));
      assert.equal(typeof row.amount, 'string');
    });

    it('GIVEN page parameters out of bounds WHEN a page is asked for THEN 400 with a code, and the bounds themselves are served', async () => {
      h = await harness(b, { trades: 5 });
      assert.equal((await h.get('/api/ledger')).body.limit, LIMITS.http.defaultPageSize);
      assert.equal((await h.get(`/api/ledger?limit=${LIMITS.http.maxPageSize}`)).status, 200);
      assert.equal((await h.get('/api/ledger?limit=1')).body.rows.length, 1);
      const bad: Array<[string, string]> = [
        [`/api/ledger?limit=${LIMITS.http.maxPageSize + 1}`, 'LIMIT_OUT_OF_RANGE'],
        ['/api/ledger?limit=0', 'LIMIT_OUT_OF_RANGE'],
        ['/api/ledger?limit=-1', 'BAD_QUERY'],
        ['/api/ledger?after_id=abc', 'BAD_QUERY'],
        ['/api/ledger?after_id=99999999999999999999', 'BAD_QUERY'],
        ['/api/ledger?after_id=1&before_id=5', 'BAD_QUERY'],
        ['/api/ledger?order=sideways', 'BAD_QUERY'],
        ['/api/rejections?limit=100000', 'LIMIT_OUT_OF_RANGE'],
        ['/api/rejections?code=drop%20table', 'BAD_QUERY'],
        ['/api/alerts?before_id=x', 'BAD_QUERY'],
        ['/api/metrics?buckets=0', 'LIMIT_OUT_OF_RANGE'],
      ];
      for (const [path, code] of bad) {
        const r = await h.get(path);
        assert.equal(r.status, 400, path);
        assert.equal(r.body.error.code, code, path);
        assert.ok(r.body.error.message.length > 10, path);
      }
    });

    it('GIVEN refused trades WHEN /api/rejections is read THEN each has its code, and ?code= filters', async () => {
      h = await harness(b);
      const all = (await h.get('/api/rejections?limit=500')).body.rows as any[];
      assert.equal(all.length, h.seed.rejected);
      assert.ok(h.seed.rejected >= 4, 'the seed refuses every 7th trade at least');
      for (const r of all) assert.match(r.code, /^[A-Z][A-Z0-9_]+$/);
      const code = all[0].code;
      const only = (await h.get(`/api/rejections?code=${code}`)).body.rows as any[];
      assert.equal(only.length, all.filter((r) => r.code === code).length);
      assert.ok(only.every((r) => r.code === code));
      const first = (await h.get('/api/rejections?limit=2')).body;
      const next = (await h.get(`/api/rejections?after_id=${first.next.after_id}&limit=2`)).body;
      assert.deepEqual([...first.rows, ...next.rows].map((r: any) => r.id), all.slice(0, 4).map((r) => r.id));
      const alerts = (await h.get('/api/alerts?limit=500')).body.rows as any[];
      assert.equal(alerts.filter((a) => a.topic === 'rejection').length, h.seed.rejected, 'every rejection raised one alert');
    });

    it('GIVEN the breaker WHEN a human opens it THEN /api/breaker and the world say open, with who and why', async () => {
      h = await harness(b, { trades: 3 });
      assert.deepEqual((await h.get('/api/breaker')).body, { open: false, reason: 'genesis', set_by: null, entry_id: null, set_at: null });
      const r = await new LedgerWriter(h.db).apply({ proposal_id: crypto.randomUUID(), kind: 'breaker_set', agent: 'council', open: true, reason: 'storm drill' });
      assert.equal(r.status, 'applied', JSON.stringify(r));
      const br = (await h.get('/api/breaker')).body;
      assert.equal(br.open, true);
      assert.equal(br.reason, 'storm drill');
      assert.equal(br.set_by, 'council');
      assert.equal(br.entry_id, r.status === 'applied' ? r.entries[0].id : '');
      assert.ok(Date.parse(br.set_at) > 0);
      assert.equal((await h.get('/api/world')).body.breaker.open, true);
    });
  });

  describe('cannot write', () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it('GIVEN every path WHEN POST, PUT, PATCH or DELETE is sent THEN 405 METHOD_NOT_ALLOWED and nothing changes', async () => {
      h = await harness(b, { trades: 3 });
      const before = await count(h.db, 'ledger');
      const paths = [...Object.keys((await h.get('/api')).body.endpoints), '/', '/dashboard/app.js', '/vendor/uplot/uPlot.min.css', '/not-a-path'];
      for (const path of paths) {
        for (const method of MUTATING) {
          const r = await h.get(path, { method, body: method === 'DELETE' ? undefined : JSON.stringify({ kind: 'transfer' }), headers: { 'Content-Type': 'application/json' } });
          assert.equal(r.status, 405, `${method} ${path}`);
          assert.equal(r.body.error.code, 'METHOD_NOT_ALLOWED', `${method} ${path}`);
          assert.equal(r.headers.get('allow'), 'GET, HEAD, OPTIONS');
        }
      }
      assert.equal(await count(h.db, 'ledger'), before);
      const head = await fetch(h.bridge.url + '/api/health', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    });

    it('GIVEN no CORS origin WHEN a browser on another origin asks THEN no CORS header is sent; GIVEN one origin THEN only it is allowed', async () => {
      h = await harness(b, { trades: 1 });
      const r = await h.get('/api/breaker', { headers: { Origin: 'http://evil.example' } });
      assert.equal(r.headers.get('access-control-allow-origin'), null);
      const pre = await h.get('/api/ledger', { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), null);
      await h.close();
      h = await harness(b, { trades: 1, corsOrigin: 'http://localhost:8501' });
      const ok = await h.get('/api/breaker', { headers: { Origin: 'http://localhost:8501' } });
      assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:8501');
      const other = await h.get('/api/breaker', { headers: { Origin: 'http://localhost:9999' } });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const post = await h.get('/api/breaker', { method: 'POST', headers: { Origin: 'http://localhost:8501' } });
      assert.equal(post.status, 405);
    });

    if (b.name === 'postgres') {
      it('GIVEN the grid_reader role WHEN it tries to INSERT or UPDATE THEN permission is denied, and it holds no write privilege at all', async () => {
        h = await harness(b, { trades: 1 });
        const reader = h.reader;
        await assert.rejects(
          reader.query(`INSERT INTO actors (id, kind) VALUES ('mallory', 'agent')`),
          (e: any) => e.code === '42501' && /permission denied/.test(e.message),
        );
        await assert.rejects(reader.query(`UPDATE balances SET amount = amount + 1000000`), (e: any) => e.code === '42501');
        await assert.rejects(reader.query(`DELETE FROM outbox`), (e: any) => e.code === '42501');
        const privs = await reader.query<any>(
          `SELECT t.tablename, has_table_privilege('grid_reader', format('%I.%I', t.schemaname, t.tablename), 'INSERT, UPDATE, DELETE, TRUNCATE') AS w
           FROM pg_tables t WHERE t.schemaname = $1`, [h.db.schema],
        );
        assert.ok(privs.rows.length >= 10);
        assert.deepEqual(privs.rows.filter((r) => r.w).map((r) => r.tablename), []);
        const views = await reader.query<any>(`SELECT has_table_privilege('grid_reader', $1 || '.ledger_feed', 'SELECT') AS s`, [h.db.schema]);
        assert.equal(views.rows[0].s, true);
      });

      it('GIVEN a connection that can write WHEN the bridge starts on it THEN it refuses with BRIDGE_NOT_READ_ONLY', async () => {
        const db = await b.fresh({ migrated: true });
        await assert.rejects(startBridge({ db }), (e: any) => e.code === 'BRIDGE_NOT_READ_ONLY' && /grid_reader/.test(e.message));
        const reader = await openReader(b, db);
        const bridge = await startBridge({ db: reader });
        await bridge.close();
        await reader.close();
      });
    }
  });
});
