#!/usr/bin/env node
// The Linear → n8n → ledger path in REAL n8n (part of `npm run test:n8n`): trip the breaker and
// ticket it in the Linear fake, publish workflows/dispute-review.json in a running `n8n start`,
// POST a forged and then a correctly signed "ticket moved to Done" webhook to the Grid Linear
// Trigger, stop n8n (it finishes running executions first), and check the ledger: the breaker was
// reset by the human actor exactly once.
//   node scripts/n8n-webhook-check.mjs BUILD_DIR PACKAGE_DIR WORK_DIR
// Database from GRID_DATA_DIR / DATABASE_URL / GRID_SCHEMA (as the grid CLI); WORK_DIR holds
// fakes.json and credentials.json written by scripts/test-n8n.sh. Prints one JSON result.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [buildArg, pkgArg, workArg] = process.argv.slice(2);
if (!buildArg || !pkgArg || !workArg) {
  process.stderr.write('usage: n8n-webhook-check.mjs BUILD_DIR PACKAGE_DIR WORK_DIR\n');
  process.exit(64);
}
const here = dirname(fileURLToPath(import.meta.url));
const build = resolve(buildArg);
const work = resolve(workArg);
const require = createRequire(import.meta.url);
const mod = (p) => require(join(build, p));
const { openDb } = mod('db/adapter.js');
const { LedgerWriter } = mod('db/writer.js');
const { checkBreaker } = mod('engine/breaker.js');
const { AlertDispatcher, LinearChannel, DiscordChannel } = mod('engine/alerts/index.js');
const SECRET = 'test-n8n-secret'; // the webhookSecret scripts/test-n8n.sh put in the credential
const WORKFLOW_ID = 'gridDisputeRev01';
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 60_000;
const t0 = performance.now();
const result = { timingsMs: {} };
const lap = (k) => (result.timingsMs[k] = Math.round(performance.now() - t0));

const dbOpts = () => ({ url: process.env.DATABASE_URL || undefined, dataDir: process.env.GRID_DATA_DIR, schema: process.env.GRID_SCHEMA || 'grid' });

// 1. A trip and its Linear ticket, through the engine (the same path the circuit-breaker workflow takes).
const fakes = JSON.parse(readFileSync(join(work, 'fakes.json'), 'utf8'));
let issue;
{
  const db = await openDb(dbOpts());
  try {
    const writer = new LedgerWriter(db);
    await writer.apply({ proposal_id: randomUUID(), kind: 'policy_set', agent: 'council', patch: { breaker: { reserve_min: { energy: 1_000_000 } } } });
    const trip = await checkBreaker(db, writer);
    if (!trip.tripped) throw new Error(`the breaker did not trip: ${JSON.stringify(trip.reasons)}`);
    const d = new AlertDispatcher(db, {
      channels: [
        new LinearChannel({ apiKey: fakes.linear.apiKey, apiUrl: fakes.linear.apiUrl, team: fakes.linear.team }),
        new DiscordChannel({ id: fakes.discord.id, token: fakes.discord.token, apiUrl: fakes.discord.apiUrl }),
      ],
    });
    await d.drain(5);
    await d.stop();
    const r = await db.query(`SELECT d.remote_id, d.remote_url FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE o.topic = 'breaker' AND d.channel = 'linear' AND d.status = 'delivered'`);
    if (!r.rows[0]) throw new Error('the trip was not ticketed in the Linear fake');
    issue = { id: r.rows[0].remote_id, url: r.rows[0].remote_url };
  } finally {
    await db.close();
  }
}
lap('setup');

// 2. n8n with the package linked, the dispute-review workflow imported and published.
const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
const userFolder = mkdtempSync(join(tmpdir(), 'grid-n8n-webhook-'));
const pkg = JSON.parse(readFileSync(join(pkgArg, 'package.json'), 'utf8'));
mkdirSync(join(userFolder, '.n8n', 'nodes', 'node_modules'), { recursive: true });
symlinkSync(resolve(pkgArg), join(userFolder, '.n8n', 'nodes', 'node_modules', pkg.name), 'dir');
const port = await freePort();
const env = {
  ...process.env,
  N8N_USER_FOLDER: userFolder,
  N8N_PORT: String(port),
  N8N_LISTEN_ADDRESS: '127.0.0.1',
  N8N_HOST: '127.0.0.1',
  WEBHOOK_URL: `http://127.0.0.1:${port}/`,
  N8N_RUNNERS_BROKER_PORT: String(await freePort()),
};
const realSh = join(here, 'n8n-real.sh');
const cli = (...args) => {
  const r = spawnSync('bash', [realSh, 'n8n', ...args], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`n8n ${args[0]} exited ${r.status}: ${(r.stdout + r.stderr).slice(-1500)}`);
};
cli('import:credentials', `--input=${join(work, 'credentials.json')}`);
cli('import:workflow', `--input=${resolve(here, '..', 'workflows', 'dispute-review.json')}`);
cli('publish:workflow', `--id=${WORKFLOW_ID}`);
lap('import');

const log = join(userFolder, 'start.log');
const child = spawn('bash', ['-c', `exec bash "${realSh}" n8n start >"${log}" 2>&1`], { env, stdio: 'ignore' });
let exited = false;
child.on('exit', () => (exited = true));
const base = `http://127.0.0.1:${port}`;
const until = Date.now() + READY_TIMEOUT_MS;
while (Date.now() < until && !exited) {
  const r = await fetch(`${base}/healthz/readiness`).catch(() => undefined);
  if (r?.ok) break;
  await new Promise((r) => setTimeout(r, 200));
}
lap('ready');

// 3. Deliveries as Linear sends them: signed raw body, linear-signature / linear-delivery headers.
const webhook = JSON.parse(readFileSync(resolve(here, '..', 'workflows', 'dispute-review.json'), 'utf8')).nodes.find((n) => n.name === 'Linear Webhook').webhookId;
const url = `${base}/webhook/${webhook}/grid-linear`;
const post = async (secret) => {
  const now = Date.now();
  const body = JSON.stringify({
    action: 'update',
    type: 'Issue',
    actor: { id: randomUUID(), name: 'Grid Operator', type: 'user' },
    data: { id: issue.id, identifier: 'GRID-1', title: 'Circuit breaker opened', url: issue.url, state: { id: randomUUID(), name: 'Done', type: 'completed' } },
    updatedFrom: { stateId: randomUUID() },
    webhookTimestamp: now,
    webhookId: 'fake-webhook-id',
    createdAt: new Date(now).toISOString(),
  });
  const signature = createHmac('sha256', secret).update(body).digest('hex');
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'linear-signature': signature, 'linear-delivery': randomUUID(), 'linear-event': 'Issue' }, body });
  return { status: r.status, body: await r.text() };
};
try {
  // Published workflows are activated AFTER /healthz/readiness: until then the path is unknown
  // (404). An unsigned probe is answered 401 by the trigger itself and starts nothing.
  const activeBy = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
    result.probe = { status: r?.status ?? 0, body: r ? (await r.text()).slice(0, 300) : '' };
    if ((r && r.status !== 404) || Date.now() > activeBy || exited) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  lap('active');
  result.forged = await post('not-the-secret');
  result.valid = await post(SECRET);
} finally {
  // n8n finishes running executions before it exits on SIGTERM (graceful shutdown).
  await new Promise((r) => setTimeout(r, 1000));
  child.kill('SIGTERM');
  const stopBy = Date.now() + STOP_TIMEOUT_MS;
  while (!exited && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
  if (!exited) child.kill('SIGKILL');
}
lap('n8n');

// 4. What the ledger says now.
{
  const db = await openDb(dbOpts());
  try {
    result.breaker = (await db.query(`SELECT b.open, b.set_by, l.agent FROM breaker b LEFT JOIN ledger l ON l.id = b.entry_id`)).rows[0];
    result.hitl = (await db.query(`SELECT delivery_id, outcome FROM hitl_deliveries`)).rows;
  } finally {
    await db.close();
  }
}
lap('check');
const outcome = result.hitl[0]?.outcome ?? {};
result.ok =
  result.probe?.status === 401 &&
  /WEBHOOK_SIGNATURE_MISSING/.test(result.probe.body) &&
  result.forged.status === 401 &&
  /WEBHOOK_SIGNATURE_INVALID/.test(result.forged.body) &&
  result.valid.status === 200 &&
  /"ok":true/.test(result.valid.body) &&
  result.breaker?.open === false &&
  result.breaker?.set_by === 'council' &&
  result.hitl.length === 1 &&
  outcome.action === 'breaker_reset';
if (!result.ok) result.log = readFileSync(log, 'utf8').slice(-3000);
if (result.ok) rmSync(userFolder, { recursive: true, force: true });
else result.userFolder = userFolder;
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(result.ok ? 0 : 1);
