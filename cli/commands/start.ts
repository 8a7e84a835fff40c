import type { Command } from '../commands';
import { configFromEnv, openFromConfig, describeDb } from '../config';
import { openDb, type Db } from '../../db/adapter';
import { migrate } from '../../db/migrate';
import { runLoop } from '../../engine/loop';
import { formatSummary } from '../../engine/progress';
import { startService, serviceOptionsFromEnv } from '../../engine/service';
import { createDispatcher, alertConfigFromEnv } from '../../engine/alerts';
import { startBridge } from '../../streamlit-bridge';
import { LedgerWriter } from '../../db/writer';

export const startCommand: Command = {
  name: 'start',
  summary: 'run the governance loop: agents propose, the law decides, the breaker guards the commons',
  description:
    'The main job. Opens the ledger (embedded PGlite in ./.grid unless DATABASE_URL is set), seeds the\n' +
    'scenario if the ledger is empty (default: the commons), then each tick: agents read the world and\n' +
    'propose, the writer decides and appends, the breaker checks critical levels, the system regenerates\n' +
    'the reserve. Meanwhile the service API and the live dashboard run on localhost and alerts are\n' +
    'dispatched from the outbox. Prints a live progress line and a summary; Ctrl-C stops cleanly after\n' +
    'the current tick. Uses Gemini when GEMINI_API_KEY is set, scripted agents otherwise.',
  options: {
    scenario: { type: 'string', short: 's' },
    ticks: { type: 'string', short: 't' },
    seed: { type: 'string' },
    agents: { type: 'string', short: 'a' },
    ungoverned: { type: 'boolean' },
    'interval-ms': { type: 'string' },
    'no-serve': { type: 'boolean' },
    port: { type: 'string', short: 'p' },
    linger: { type: 'boolean' },
  },
  optionHelp: {
    scenario: 'scenario JSON (default: scenarios/commons.json)',
    ticks: 'ticks to run (default: the scenario horizon; "forever" runs until Ctrl-C)',
    seed: 'seed for the scripted agents (default 42): same seed, same proposals',
    agents: 'agent mix, e.g. "greedy:3,random:1" or "bob=adversarial"',
    ungoverned: 'run the permissive comparison policy (no limits, no breaker)',
    'interval-ms': 'pause between ticks in ms (default 0 = as fast as possible)',
    'no-serve': 'do not start the service API and dashboard',
    port: 'service API port (default GRID_PORT or 8787; the dashboard picks a free port)',
    linger: 'keep the service and dashboard running after the last tick, until Ctrl-C',
  },
  async run(v) {
    const cfg = configFromEnv();
    const ticks = v.ticks === undefined ? undefined : v.ticks === 'forever' ? Infinity : Number(v.ticks);
    if (ticks !== undefined && !(ticks === Infinity || (Number.isInteger(ticks) && ticks > 0))) throw usage(`--ticks must be a positive whole number or "forever", not ${v.ticks}`);
    const intervalMs = v['interval-ms'] === undefined ? 0 : Number(v['interval-ms']);
    if (!Number.isInteger(intervalMs) || intervalMs < 0) throw usage(`--interval-ms must be a whole number of milliseconds`);
    const db = await openFromConfig(cfg);
    const stop = new AbortController();
    const onSignal = () => {
      if (stop.signal.aborted) process.exit(130); // a second Ctrl-C does not wait
      process.stderr.write('\nstopping after the current tick… (Ctrl-C again to quit at once)\n');
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const closers: Array<() => Promise<void>> = [];
    try {
      await migrate(db);
      process.stdout.write(`grid start — database: ${describeDb(cfg)}\n`);
      if (!v['no-serve']) {
        // Alert lines are printed above the live progress line, not through it.
        const log = (line: string) => process.stdout.write(process.stdout.isTTY ? `\r\x1b[K${line}\n` : `${line}\n`);
        const dispatcher = createDispatcher(db, { ...alertConfigFromEnv(), log });
        const env = serviceOptionsFromEnv();
        const port = v.port !== undefined ? Number(v.port) : env.port ?? 8787;
        const svc = await startService({ ...env, db, writer: new LedgerWriter(db), dispatcher, port, host: '127.0.0.1' }).catch(() =>
          startService({ ...env, db, writer: new LedgerWriter(db), dispatcher, port: 0, host: '127.0.0.1' }),
        );
        dispatcher.start();
        closers.push(async () => {
          await dispatcher.stop();
          await svc.close();
        });
        // PGlite has one connection, so the bridge shares it; on Postgres it reads as grid_reader.
        let readDb: Db = db;
        if (cfg.databaseUrl) {
          readDb = await openDb({ url: cfg.databaseUrl, schema: cfg.schema, role: 'grid_reader', poolSize: 4 }).catch(() => db);
          if (readDb !== db) closers.push(() => readDb.close());
        }
        const bridge = await startBridge({ db: readDb, port: 0, requireReadOnly: readDb !== db });
        closers.push(() => bridge.close());
        process.stdout.write(`service API: ${svc.url}   live dashboard: ${bridge.dashboardUrl}\n`);
      }
      const tty = process.stdout.isTTY;
      const summary = await runLoop({
        db,
        scenario: v.scenario,
        ticks,
        seed: v.seed,
        agents: v.agents,
        governed: !v.ungoverned,
        intervalMs,
        signal: stop.signal,
        onProgress: (line) => process.stdout.write(tty ? `\r\x1b[K${line}` : `${line}\n`),
      });
      if (tty) process.stdout.write('\n');
      process.stdout.write(formatSummary(summary) + '\n');
      if (v.linger && !stop.signal.aborted) {
        process.stdout.write('lingering: the service and dashboard stay up until Ctrl-C\n');
        await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
      }
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const c of closers.reverse()) await c().catch(() => {});
      await db.close();
    }
  },
};

function usage(message: string) {
  return Object.assign(new Error(message), { code: 'USAGE' });
}
