// Drives the real n8n CLI for scripts/n8n-real.sh (which sets PATH to Node 24 and GRID_N8N_BIN).
//   run PACKAGE_DIR WORKFLOW.json... [--credentials FILE.json] [--keep]
//   start [PACKAGE_DIR] [--hold SECONDS]
// Prints one JSON report on stdout; n8n's own output goes to files in the temp user folder.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, basename } from 'node:path';

const N8N_BIN = process.env.GRID_N8N_BIN;
if (!N8N_BIN) fail('N8N_REAL_NOT_CONFIGURED', 'GRID_N8N_BIN is unset; run this through scripts/n8n-real.sh');
// WHY limits: a hung n8n must not hang CI; these are far above the measured ~2.3 s / ~2.5 s.
const EXECUTE_TIMEOUT_MS = 120_000;
const HEALTHZ_TIMEOUT_MS = 60_000;

function fail(code, message) {
  process.stderr.write(`${code}: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const positional = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') flags.keep = true;
    else if (a === '--credentials' || a === '--hold') flags[a.slice(2)] = argv[++i];
    else if (a.startsWith('--credentials=')) flags.credentials = a.slice('--credentials='.length);
    else positional.push(a);
  }
  return { positional, flags };
}

async function freePort() {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Fresh N8N_USER_FOLDER with the package linked where n8n looks for installed community nodes. */
function prepareUserFolder(packageDir) {
  const userFolder = mkdtempSync(join(tmpdir(), 'grid-n8n-run-'));
  let packageName;
  if (packageDir) {
    const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
    if (!pkg.n8n) fail('N8N_REAL_NOT_A_NODE_PACKAGE', `${packageDir}/package.json has no "n8n" section`);
    packageName = pkg.name;
    const nodesDir = join(userFolder, '.n8n', 'nodes', 'node_modules');
    mkdirSync(join(nodesDir, ...packageName.split('/').slice(0, -1)), { recursive: true });
    symlinkSync(packageDir, join(nodesDir, packageName), 'dir');
  }
  return { userFolder, packageName };
}

async function n8nEnv(userFolder, extra = {}) {
  return {
    ...process.env,
    N8N_USER_FOLDER: userFolder,
    // 2.x always starts a task broker (default port 5679): a free port lets runs go in parallel.
    N8N_RUNNERS_BROKER_PORT: String(await freePort()),
    // `execute --rawOutput` prints its JSON through the logger at level info: lower levels hide it.
    N8N_LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Runs one n8n CLI command; output (stdout+stderr interleaved) is kept in a log file and returned. */
function n8n(args, env, logFile, timeoutMs = EXECUTE_TIMEOUT_MS) {
  return new Promise((res) => {
    const started = performance.now();
    const child = spawn(process.execPath, [N8N_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      writeFileSync(logFile, out);
      res({ code, signal, out, ms: Math.round(performance.now() - started) });
    });
  });
}

/**
 * `--rawOutput` is mixed with log lines (task broker, license SDK, errors). The IRun is printed by
 * JSON.stringify(run, null, 2): a line that is exactly "{" up to a line that is exactly "}".
 */
function extractRun(output) {
  const lines = output.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '{') continue;
    for (let j = i + 1; j < lines.length; j++) {
      if (lines[j] !== '}') continue;
      try {
        const parsed = JSON.parse(lines.slice(i, j + 1).join('\n'));
        if (parsed?.data?.resultData) return parsed;
      } catch {
        // not the matching brace yet
      }
    }
  }
  return undefined;
}

function summarize(run) {
  const nodes = {};
  for (const [name, tasks] of Object.entries(run.data.resultData.runData ?? {})) {
    const last = tasks[tasks.length - 1];
    nodes[name] = (last?.data?.main ?? []).map((output) => (output ?? []).map((item) => item.json));
  }
  const err = run.data.resultData.error;
  const error = err ? { message: err.message, node: err.node?.name ?? run.data.resultData.lastNodeExecuted } : undefined;
  return { status: run.status, mode: run.mode, nodes, error };
}

/** import:workflow needs an id for `execute --id`; a file without one gets a stable derived id. */
function stageWorkflow(file, dir) {
  const wf = JSON.parse(readFileSync(file, 'utf8'));
  if (!wf.id) wf.id = createHash('sha256').update(resolve(file)).digest('hex').slice(0, 16);
  wf.active = false;
  writeFileSync(join(dir, basename(file)), JSON.stringify(wf));
  return { file, id: wf.id, name: wf.name };
}

async function run(positional, flags) {
  const [packageDirArg, ...workflowFiles] = positional;
  if (!packageDirArg || workflowFiles.length === 0) fail('N8N_REAL_USAGE', 'run PACKAGE_DIR WORKFLOW.json... [--credentials FILE] [--keep]');
  const packageDir = resolve(packageDirArg);
  const { userFolder, packageName } = prepareUserFolder(packageDir);
  const stageDir = join(userFolder, 'import');
  mkdirSync(stageDir);
  const staged = workflowFiles.map((f) => stageWorkflow(f, stageDir));
  const env = await n8nEnv(userFolder);
  const report = { packageName, packageDir, userFolder, node: process.version, timingsMs: {}, workflows: [] };
  const total = performance.now();

  if (flags.credentials) {
    const r = await n8n(['import:credentials', `--input=${resolve(flags.credentials)}`], env, join(userFolder, 'import-credentials.log'));
    report.timingsMs.importCredentials = r.ms;
    if (r.code !== 0) fail('N8N_REAL_IMPORT_FAILED', `import:credentials exited ${r.code}:\n${r.out.slice(-2000)}`);
  }
  // One process for all workflows: every n8n CLI start costs ~2 s (DB init, node loading).
  const imp = await n8n(['import:workflow', '--separate', `--input=${stageDir}`], env, join(userFolder, 'import-workflows.log'));
  report.timingsMs.importWorkflows = imp.ms;
  if (imp.code !== 0) fail('N8N_REAL_IMPORT_FAILED', `import:workflow exited ${imp.code}:\n${imp.out.slice(-2000)}`);

  for (const wf of staged) {
    const r = await n8n(['execute', `--id=${wf.id}`, '--rawOutput'], env, join(userFolder, `execute-${wf.id}.log`));
    const parsed = extractRun(r.out);
    report.workflows.push({
      ...wf,
      exitCode: r.code,
      signal: r.signal ?? undefined,
      ms: r.ms,
      ...(parsed ? summarize(parsed) : { status: 'no-output', error: { message: r.out.slice(-1500) } }),
    });
  }
  report.timingsMs.total = Math.round(performance.now() - total);
  report.ok = report.workflows.every((w) => w.exitCode === 0 && w.status === 'success');
  if (!flags.keep) rmSync(userFolder, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exit(report.ok ? 0 : 1);
}

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** RSS of a process and its descendants (n8n starts a JS task-runner child process). */
function treeRssKb(pid) {
  let total = rssKb(pid) ?? 0;
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    // process gone
  }
  for (const c of children) total += treeRssKb(Number(c));
  return total;
}

async function start(positional, flags) {
  const packageDir = positional[0] ? resolve(positional[0]) : undefined;
  const { userFolder, packageName } = prepareUserFolder(packageDir);
  const port = Number(process.env.GRID_N8N_PORT ?? 5688);
  const env = await n8nEnv(userFolder, { N8N_PORT: String(port), N8N_LISTEN_ADDRESS: '127.0.0.1', N8N_HOST: '127.0.0.1' });
  const log = openSync(join(userFolder, 'start.log'), 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [N8N_BIN, 'start'], { env, stdio: ['ignore', log, log] });
  const base = `http://127.0.0.1:${port}`;
  const report = { node: process.version, port, userFolder, packageName };
  let exited = false;
  child.on('exit', () => (exited = true));
  // /healthz answers "ok" as soon as the HTTP server listens, BEFORE DB migrations and node loading
  // finish; /healthz/readiness turns 200 only then. Stopping n8n before that hangs for 30 s.
  const poll = async (path) => {
    while (performance.now() - started < HEALTHZ_TIMEOUT_MS && !exited) {
      const res = await fetch(`${base}${path}`).catch(() => undefined);
      if (res?.ok) return Math.round(performance.now() - started);
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  };
  report.healthzMs = await poll('/healthz');
  report.readinessMs = await poll('/healthz/readiness');
  if (report.readinessMs !== undefined) {
    if (packageName) {
      // The editor's node catalogue proves `n8n start` loaded the linked package. /types/nodes.json
      // needs a login over HTTP, but n8n writes it to $N8N_USER_FOLDER/.cache/n8n/public first.
      const catalogue = join(userFolder, '.cache', 'n8n', 'public', 'types', 'nodes.json');
      const types = JSON.parse(readFileSync(catalogue, 'utf8'));
      report.packageNodeTypes = types.filter((t) => t.name?.startsWith(`${packageName}.`)).map((t) => t.name);
    }
    await new Promise((r) => setTimeout(r, Number(flags.hold ?? 0) * 1000));
    report.rssKb = rssKb(child.pid);
    report.rssKbWithChildren = treeRssKb(child.pid);
  }
  const stopping = performance.now();
  child.kill('SIGTERM');
  await new Promise((r) => (exited ? r() : child.once('exit', r)));
  report.shutdownMs = Math.round(performance.now() - stopping);
  report.ok = report.readinessMs !== undefined && (!packageName || report.packageNodeTypes?.length > 0);
  if (report.ok && !flags.keep) rmSync(userFolder, { recursive: true, force: true });
  else report.log = join(userFolder, 'start.log');
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exit(report.ok ? 0 : 1);
}

const [cmd, ...rest] = process.argv.slice(2);
const { positional, flags } = parseArgs(rest);
if (cmd === 'run') await run(positional, flags);
else if (cmd === 'start') await start(positional, flags);
else fail('N8N_REAL_USAGE', 'expected "run" or "start"');
