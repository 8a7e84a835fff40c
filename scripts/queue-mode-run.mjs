// The orchestrator of scripts/queue-mode.sh (read its header first). Runs on the project's Node;
// n8n runs on the pinned Node 24 (GRID_N8N_NODE, GRID_N8N_BIN). Every child is started in its own
// process group and killed (group-wide) on any exit path; every wait is bounded.
//   node scripts/queue-mode-run.mjs OUT_DIR PACKAGE_DIR WORK_DIR
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const [outArg, pkgArg, work] = process.argv.slice(2);
const OUT = resolve(outArg), PKG = resolve(pkgArg), ROOT = resolve('.');
const require = createRequire(import.meta.url);
const { Client } = require('pg');
const num = (name, dflt, lo, hi) => Math.min(hi, Math.max(lo, Number(process.env[name] ?? dflt) || dflt));
const SECONDS = num('GRID_QM_SECONDS', 60, 10, 900);
const LOOPS = num('GRID_QM_LOOPS', 8, 1, 32);
const AGENTS = num('GRID_QM_AGENTS', 5, 1, 20);
const INTERVAL = num('GRID_QM_INTERVAL', 1, 1, 60);
const CONCURRENCY = num('GRID_QM_CONCURRENCY', 10, 1, 50);
const KEEP = process.env.GRID_QM_KEEP === '1';
// WHY these bounds: n8n starts in ≈3–10 s here; a hung start or drain must not hang the run.
const READY_TIMEOUT_MS = 180_000, DRAIN_TIMEOUT_MS = 120_000, STOP_TIMEOUT_MS = 45_000, CLI_TIMEOUT_MS = 180_000;
const PG = process.env.GRID_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pgUrl = new URL(PG);
const N8N_DB = 'n8n_queue';
const SCHEMA = `qm_${Date.now().toString(36)}`;
const PREFIX = `gridqm${randomBytes(3).toString('hex')}`; // Bull keys of this run only: Redis is shared
const KEY = randomBytes(24).toString('hex');
const log = (m) => process.stderr.write(`[queue-mode] ${m}\n`);
const ms = () => Math.round(performance.now());
const sleep = (t) => new Promise((r) => setTimeout(r, t));

const children = new Set();
function killAll(signal = 'SIGKILL') {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) try { process.kill(-c.pid, signal); } catch { /* gone */ }
}
process.on('exit', () => killAll());
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(s, async () => {
    log(`${s}: stopping everything`);
    killAll();
    // Bounded: a hung database must not keep an interrupted run alive.
    await Promise.race([cleanup({ ok: false, error: `interrupted by ${s}` }), sleep(15_000)]);
    process.exit(130);
  });
}

function start(name, cmd, args, env) {
  const fd = openSync(join(work, `${name}.log`), 'w');
  const c = spawn(cmd, args, { env, stdio: ['ignore', fd, fd], detached: true });
  c.name = name;
  c.exited = new Promise((r) => c.on('exit', (code, sig) => r({ code, sig })));
  children.add(c);
  return c;
}
async function stop(c, timeout = STOP_TIMEOUT_MS) {
  if (c.exitCode !== null || c.signalCode !== null) return { ms: 0 };
  const t = ms();
  try { process.kill(-c.pid, 'SIGTERM'); } catch { /* gone */ }
  const r = await Promise.race([c.exited, sleep(timeout).then(() => null)]);
  if (!r) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } await c.exited; return { ms: ms() - t, killed: true }; }
  return { ms: ms() - t };
}
async function run(name, cmd, args, env, timeout = CLI_TIMEOUT_MS) {
  const c = start(name, cmd, args, env);
  const r = await Promise.race([c.exited, sleep(timeout).then(() => null)]);
  if (!r) { await stop(c, 1000); throw new Error(`${name} did not finish within ${timeout} ms (log ${work}/${name}.log)`); }
  if (r.code !== 0) throw new Error(`${name} exited ${r.code ?? r.sig}: ${readFileSync(join(work, `${name}.log`), 'utf8').slice(-1500)}`);
}
const freePort = () => new Promise((res, rej) => { const s = createServer(); s.once('error', rej); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); }); });
async function pg(db, sql, params) {
  const u = new URL(PG); u.pathname = `/${db}`;
  const c = new Client({ connectionString: u.toString() });
  await c.connect();
  try { return (await c.query(sql, params)).rows; } finally { await c.end(); }
}
async function waitReady(url, proc) {
  const t0 = ms();
  while (ms() - t0 < READY_TIMEOUT_MS) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${proc.name} exited during start-up (log ${work}/${proc.name}.log)`);
    const r = await fetch(url).catch(() => null);
    if (r?.ok) return ms() - t0;
    await sleep(250);
  }
  throw new Error(`${proc.name} not ready within ${READY_TIMEOUT_MS} ms`);
}
function rssKb(pid) {
  let kb = 0;
  try { kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { return kb; }
  try { for (const k of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) kb += rssKb(Number(k)); } catch { /* none */ }
  return kb;
}

/** A scenario with LOOPS × AGENTS agents: the default grid's five agents, replicated. */
function scenario() {
  const d = JSON.parse(readFileSync(join(ROOT, 'scenarios', 'default.json'), 'utf8'));
  const base = d.actors.filter((a) => a.kind === 'agent').map((a) => a.id);
  const copies = Math.ceil((LOOPS * AGENTS) / base.length);
  const name = (id, k) => `${id}_${String(k).padStart(2, '0')}`;
  const agents = [];
  for (let k = 1; k <= copies; k++) for (const id of base) agents.push(name(id, k));
  const actors = [...d.actors.filter((a) => a.kind !== 'agent'), ...agents.map((id) => ({ id, kind: 'agent' }))];
  const balances = [];
  for (const b of d.balances) {
    if (!base.includes(b.actor)) balances.push({ ...b, amount: b.amount * copies }); // reserves grow with the population
    else for (let k = 1; k <= copies; k++) balances.push({ ...b, actor: name(b.actor, k) });
  }
  return { scenario: { ...d, name: `queue-mode-${agents.length}`, actors, balances }, agents: agents.slice(0, LOOPS * AGENTS) };
}

function n8nEnv(folder, extra = {}) {
  const env = { ...process.env };
  delete env.N8N_CUSTOM_EXTENSIONS; // set-but-empty crashes n8n
  return {
    ...env,
    N8N_USER_FOLDER: folder, N8N_ENCRYPTION_KEY: KEY,
    DB_TYPE: 'postgresdb', DB_POSTGRESDB_HOST: pgUrl.hostname, DB_POSTGRESDB_PORT: pgUrl.port || '5432',
    DB_POSTGRESDB_DATABASE: N8N_DB, DB_POSTGRESDB_USER: decodeURIComponent(pgUrl.username || 'postgres'), DB_POSTGRESDB_PASSWORD: decodeURIComponent(pgUrl.password),
    EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_HOST: '127.0.0.1', QUEUE_BULL_REDIS_PORT: '6379', QUEUE_BULL_PREFIX: PREFIX,
    OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true', N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
    N8N_DIAGNOSTICS_ENABLED: 'false', N8N_VERSION_NOTIFICATIONS_ENABLED: 'false', N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false', N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false', N8N_SECURE_COOKIE: 'false',
    N8N_LOG_LEVEL: 'info', NODE_ENV: 'production', GENERIC_TIMEZONE: 'UTC',
    ...extra,
  };
}
/** Each n8n process gets its own user folder with the package where n8n loads community packages. */
function userFolder(name) {
  const f = join(work, name);
  const nodes = join(f, '.n8n', 'nodes', 'node_modules');
  mkdirSync(nodes, { recursive: true });
  symlinkSync(PKG, join(nodes, 'n8n-nodes-grid-governance'), 'dir');
  return f;
}
const n8n = (name, args, env) => start(name, process.env.GRID_N8N_NODE, [process.env.GRID_N8N_BIN, ...args], env);
const n8nCli = (name, args, env) => run(name, process.env.GRID_N8N_NODE, [process.env.GRID_N8N_BIN, ...args], env);

async function main() {
  const report = { ok: false, settings: { seconds: SECONDS, loops: LOOPS, agentsPerLoop: AGENTS, intervalSeconds: INTERVAL, workerConcurrency: CONCURRENCY, schema: SCHEMA, n8nDatabase: N8N_DB, bullPrefix: PREFIX, package: PKG }, timingsMs: {}, checks: [] };
  const check = (what, ok, detail) => report.checks.push({ what, ok: Boolean(ok), ...(detail === undefined ? {} : { detail }) });
  const T0 = ms();

  // 1. Databases: a fresh n8n database; the ledger initialised (migrations + genesis) in its own schema.
  await pg('postgres', `DROP DATABASE IF EXISTS ${N8N_DB} WITH (FORCE)`);
  await pg('postgres', `CREATE DATABASE ${N8N_DB}`);
  const { scenario: sc, agents } = scenario();
  writeFileSync(join(work, 'scenario.json'), JSON.stringify(sc));
  const gridEnv = { ...process.env, DATABASE_URL: PG, GRID_SCHEMA: SCHEMA };
  await run('grid-init', process.execPath, [join(OUT, 'cli', 'grid.js'), 'init', '--scenario', join(work, 'scenario.json')], gridEnv);
  report.timingsMs.init = ms() - T0;

  // 2. Fakes of Gemini/Linear/Discord (the trade loop alerts rejections to Linear and Discord).
  const fakes = start('fakes', process.execPath, [join(ROOT, 'scripts', 'n8n-fakes.mjs'), OUT, join(work, 'fakes.json')], process.env);
  for (let i = 0; i < 100 && !existsSync(join(work, 'fakes.json')); i++) await sleep(100);
  const f = JSON.parse(readFileSync(join(work, 'fakes.json'), 'utf8'));
  writeFileSync(join(work, 'credentials.json'), JSON.stringify([
    { id: 'gridDbCred000001', name: 'Grid Database', type: 'gridDatabaseApi', data: { connectionString: PG, schema: SCHEMA, dataDir: '' } },
    { id: 'gridGeminiCred01', name: 'Grid Gemini', type: 'gridGeminiApi', data: { apiKey: f.gemini.apiKey, baseUrl: f.gemini.url, model: 'gemini-2.5-flash', apiVersion: 'v1beta' } },
    { id: 'gridLinearCred01', name: 'Grid Linear', type: 'gridLinearApi', data: { apiKey: f.linear.apiKey, apiUrl: f.linear.apiUrl, teamId: f.linear.team, webhookSecret: 'queue-mode' } },
    { id: 'gridDiscordCred1', name: 'Grid Discord', type: 'gridDiscordWebhookApi', data: { connection: 'idToken', webhookId: f.discord.id, webhookToken: f.discord.token, apiBase: f.discord.apiUrl } },
  ]));

  // 3. LOOPS copies of the shipped trade loop: a 1-s Grid Trigger, each speaking for its own agents.
  const wfDir = join(work, 'workflows');
  mkdirSync(wfDir);
  const src = JSON.parse(readFileSync(join(ROOT, 'workflows', 'trade-loop.json'), 'utf8'));
  const ids = [];
  // The nodes that send proposals to the ledger (their output items are the writer's answers).
  const applyNodes = src.nodes.filter((n) => n.type.endsWith('.gridLedger') && n.parameters?.operation === 'apply').map((n) => n.name);
  if (!applyNodes.length) throw new Error('workflows/trade-loop.json has no Grid Ledger → Apply node');
  for (let k = 0; k < LOOPS; k++) {
    const wf = structuredClone(src);
    wf.id = `gridQmLoop${String(k).padStart(6, '0')}`;
    wf.name = `Grid: trade loop (queue mode ${k})`;
    wf.active = false;
    const trig = wf.nodes.find((n) => n.type.endsWith('.gridTrigger'));
    const prop = wf.nodes.find((n) => n.type.endsWith('.gridProposer'));
    if (!trig || !prop) throw new Error('workflows/trade-loop.json has no Grid Trigger or Grid Proposer node');
    trig.parameters.intervalSeconds = INTERVAL;
    Object.assign(prop.parameters, { agents: agents.slice(k * AGENTS, (k + 1) * AGENTS).join(', '), seed: `qm-${k}` });
    writeFileSync(join(wfDir, `${wf.id}.json`), JSON.stringify(wf));
    ids.push(wf.id);
  }
  const cliEnv = n8nEnv(userFolder('cli'), { N8N_RUNNERS_BROKER_PORT: String(await freePort()) });
  let t = ms();
  await n8nCli('import-credentials', ['import:credentials', `--input=${join(work, 'credentials.json')}`], cliEnv);
  await n8nCli('import-workflows', ['import:workflow', '--separate', `--input=${wfDir}`], cliEnv);
  for (const id of ids) await n8nCli(`publish-${id}`, ['publish:workflow', `--id=${id}`], cliEnv);
  report.timingsMs.importAndPublish = ms() - t;

  // 4. One main and two workers, separate processes, all on Redis + n8n_queue.
  t = ms();
  const mainPort = await freePort();
  const main = n8n('main', ['start'], n8nEnv(userFolder('main'), { N8N_PORT: String(mainPort), N8N_LISTEN_ADDRESS: '127.0.0.1', N8N_HOST: '127.0.0.1', N8N_RUNNERS_BROKER_PORT: String(await freePort()) }));
  const workers = [];
  for (const w of [1, 2]) {
    const port = await freePort();
    const proc = n8n(`worker${w}`, ['worker', `--concurrency=${CONCURRENCY}`], n8nEnv(userFolder(`worker${w}`), {
      QUEUE_HEALTH_CHECK_ACTIVE: 'true', QUEUE_HEALTH_CHECK_PORT: String(port), N8N_WORKER_SERVER_ADDRESS: '127.0.0.1', N8N_RUNNERS_BROKER_PORT: String(await freePort()),
    }));
    workers.push({ proc, port });
  }
  report.timingsMs.mainReady = await waitReady(`http://127.0.0.1:${mainPort}/healthz/readiness`, main);
  for (const [i, w] of workers.entries()) report.timingsMs[`worker${i + 1}Ready`] = await waitReady(`http://127.0.0.1:${w.port}/healthz/readiness`, w.proc);
  const runStart = new Date();
  log(`main + 2 workers ready in ${ms() - t} ms; running ${LOOPS} loops × ${AGENTS} agents every ${INTERVAL} s for ${SECONDS} s`);

  // 5. The bounded run. RSS sampled at the end, while everything is still up.
  await sleep(SECONDS * 1000);
  report.rssMb = Object.fromEntries([main, ...workers.map((w) => w.proc)].map((c) => [c.name, Math.round(rssKb(c.pid) / 1024)]));

  // 6. Stop the main first (no more triggers), let the workers drain the queue, then stop them.
  t = ms();
  report.timingsMs.mainStop = (await stop(main)).ms;
  const runEnd = new Date();
  let pending = -1;
  for (const t1 = ms(); ms() - t1 < DRAIN_TIMEOUT_MS; await sleep(500)) {
    pending = Number((await pg(N8N_DB, `SELECT count(*)::int AS n FROM execution_entity WHERE status IN ('new', 'running')`))[0].n);
    if (pending === 0) break;
  }
  report.timingsMs.drain = ms() - t;
  check('the queue drained after the main stopped (no execution left new/running)', pending === 0, { pending });
  for (const w of workers) report.timingsMs[`${w.proc.name}Stop`] = (await stop(w.proc)).ms;
  await stop(fakes);

  // 7. What n8n did: executions by status, which worker ran each, and what Apply answered.
  const execs = await pg(N8N_DB, `SELECT e.id, e.status, e."workflowId" AS wf, extract(epoch FROM e."stoppedAt" - e."startedAt") * 1000 AS ms,
                                         extract(epoch FROM e."startedAt" - e."createdAt") * 1000 AS wait_ms, d.data
                                  FROM execution_entity e LEFT JOIN execution_data d ON d."executionId" = e.id WHERE e."workflowId" = ANY($1)`, [ids]);
  const byStatus = {};
  for (const e of execs) byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
  const perWorker = Object.fromEntries(workers.map((w) => [w.proc.name, (readFileSync(join(work, `${w.proc.name}.log`), 'utf8').match(/Worker finished execution/g) ?? []).length]));
  const durations = execs.filter((e) => e.ms !== null).map((e) => Number(e.ms)).sort((a, b) => a - b);
  const waits = execs.filter((e) => e.wait_ms !== null).map((e) => Number(e.wait_ms)).sort((a, b) => a - b);
  const at = (xs, p) => (xs.length ? Math.round(xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]) : null);
  const pct = (p) => at(durations, p);
  const { parse } = createRequire(process.env.GRID_N8N_BIN)('flatted');
  const answers = new Map(); // proposal_id → outcomes answered by Apply / Record Rejection
  const errors = [];
  for (const e of execs) {
    if (!e.data) continue;
    const run = parse(e.data);
    if (run.resultData?.error && errors.length < 5) errors.push({ id: e.id, message: String(run.resultData.error.message).slice(0, 300), node: run.resultData.lastNodeExecuted });
    for (const node of applyNodes) {
      for (const task of run.resultData?.runData?.[node] ?? []) {
        for (const item of task.data?.main?.[0] ?? []) {
          const j = item.json;
          if (!j?.proposal_id || !j.status) continue;
          (answers.get(j.proposal_id) ?? answers.set(j.proposal_id, []).get(j.proposal_id)).push(j.duplicate ? `${j.status}-duplicate` : j.status);
        }
      }
    }
  }
  const secs = (runEnd - runStart) / 1000;
  report.n8n = { executions: execs.length, byStatus, perWorker, perSecond: Math.round((execs.length / secs) * 10) / 10, executionMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99) },
    queueWaitMs: { p50: at(waits, 0.5), p90: at(waits, 0.9), p99: at(waits, 0.99) }, firstErrors: errors };
  check('executions ran', execs.length >= LOOPS, { executions: execs.length });
  check('both worker processes executed workflows', Object.values(perWorker).every((n) => n > 0), perWorker);
  check('every execution succeeded', (byStatus.success ?? 0) === execs.length, byStatus);

  // 8. The ledger: verified by the CLI in a separate process, then proposal by proposal.
  const vFile = join(work, 'verify.json');
  let vrc = 0;
  try { execFileSync(process.execPath, [join(OUT, 'cli', 'grid.js'), 'verify', '--json'], { env: gridEnv, stdio: ['ignore', openSync(vFile, 'w'), 'ignore'], timeout: CLI_TIMEOUT_MS }); } catch (e) { vrc = e.status ?? 3; }
  const v = JSON.parse(readFileSync(vFile, 'utf8'));
  check('grid verify: chain intact, head matches, replay == cache, conservation', vrc === 0 && v.ok === true, { rowsReplayed: v.rowsReplayed, chainOk: v.chainOk, headMatches: v.headMatches, cacheMatches: v.cacheMatches });
  const q = (sql, p) => pg('postgres', sql.replaceAll('S.', `${SCHEMA}.`), p);
  const [both] = await q(`SELECT count(*)::int AS n FROM (SELECT DISTINCT proposal_id FROM S.ledger) l JOIN S.rejected_proposals r USING (proposal_id)`);
  const [rej] = await q(`SELECT count(*)::int AS n, count(DISTINCT proposal_id)::int AS d, count(*) FILTER (WHERE proposal_id IS NULL)::int AS no_id FROM S.rejected_proposals`);
  const [led] = await q(`SELECT count(*)::int AS rows, count(DISTINCT proposal_id)::int AS proposals, count(*) FILTER (WHERE at >= $1)::int AS during FROM (SELECT proposal_id, executed_at AS at FROM S.ledger) x`, [runStart]);
  const codes = Object.fromEntries((await q(`SELECT code, count(*)::int AS n FROM S.rejected_proposals GROUP BY code ORDER BY n DESC`)).map((r) => [r.code, r.n]));
  const [legs] = await q(`SELECT count(*)::int AS n FROM (SELECT proposal_id, leg FROM S.ledger GROUP BY 1, 2 HAVING count(*) > 1) d`);
  check('no proposal_id is both applied and rejected', both.n === 0, both);
  check('no proposal_id rejected twice', rej.n - rej.no_id === rej.d, rej);
  check('no ledger leg recorded twice', legs.n === 0, legs);
  // Every answer n8n got agrees with the ledger, and exactly one answer per id decided it.
  const ids2 = [...answers.keys()];
  const inLedger = new Set((await q(`SELECT DISTINCT proposal_id::text AS id FROM S.ledger WHERE proposal_id = ANY($1::uuid[])`, [ids2])).map((r) => r.id));
  const inRejected = new Set((await q(`SELECT proposal_id::text AS id FROM S.rejected_proposals WHERE proposal_id = ANY($1::uuid[])`, [ids2])).map((r) => r.id));
  let mismatched = 0, decidedTwice = 0, applied = 0, rejected = 0;
  for (const [id, got] of answers) {
    const truth = inLedger.has(id) ? 'applied' : inRejected.has(id) ? 'rejected' : 'missing';
    if (truth === 'applied') applied++;
    if (truth === 'rejected') rejected++;
    if (got.some((g) => !g.startsWith(truth))) mismatched++;
    if (got.filter((g) => !g.endsWith('-duplicate')).length > 1) decidedTwice++;
  }
  check('every proposal n8n sent was decided, and its answer matches the ledger', answers.size > 0 && mismatched === 0, { proposals: answers.size, mismatched });
  check('every proposal was decided exactly once (no second non-duplicate answer)', decidedTwice === 0, { decidedTwice });
  report.ledger = { rows: led.rows, appliedProposals: led.proposals, rejectedProposals: rej.n, rowsDuringRun: led.during, rejectionCodes: codes, headId: v.lastId, fromN8n: { proposals: answers.size, applied, rejected, perSecond: Math.round((answers.size / secs) * 10) / 10 } };
  const summary = existsSync(join(work, 'fakes.json.summary.json')) ? JSON.parse(readFileSync(join(work, 'fakes.json.summary.json'), 'utf8')) : {};
  report.alerts = { linearIssues: summary.linearIssues?.length, discordMessages: summary.discordMessages ?? summary.discordTitles?.length, handlerErrors: summary.handlerErrors };
  report.timingsMs.total = ms() - T0;
  report.ok = report.checks.every((c) => c.ok);
  return report;
}

/** Drops what this run created (unless GRID_QM_KEEP=1); a failed run keeps its logs. */
async function cleanup(report) {
  killAll();
  if (KEEP) {
    report.logs = work;
    return;
  }
  // Bull leaves a few keys (job id counter, stalled-check) under this run's prefix.
  try {
    const Redis = createRequire(process.env.GRID_N8N_BIN)('ioredis');
    const r = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    const keys = [];
    let cursor = '0';
    do { const [c, k] = await r.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000); cursor = c; keys.push(...k); } while (cursor !== '0' && keys.length < 100_000);
    if (keys.length) await r.del(...keys);
    await r.quit();
  } catch (e) { log(`could not clean Redis keys ${PREFIX}:*: ${e.message}`); }
  await pg('postgres', `DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => {});
  await pg('postgres', `DROP DATABASE IF EXISTS ${N8N_DB} WITH (FORCE)`).catch(() => {});
  if (report.ok) rmSync(work, { recursive: true, force: true });
  else report.logs = work;
}

let report;
try {
  report = await main();
} catch (e) {
  report = { ok: false, error: String(e?.stack ?? e), work };
}
await cleanup(report);
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
process.exit(report.ok ? 0 : 1);
