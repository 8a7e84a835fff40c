import type { Command } from '../commands';
import { configFromEnv, openFromConfig, describeDb } from '../config';
import { migrate } from '../../db/migrate';
import { LedgerWriter } from '../../db/writer';
import { startService, serviceOptionsFromEnv } from '../../engine/service';
import { createDispatcher } from '../../engine/alerts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the HTTP service API (health, world state, execute, admin) and the alert dispatcher',
  description:
    'GET /health (503 on drift), GET /world-state, POST /execute (200 applied or already applied, 422\n' +
    'rejected, 409 ID_CONFLICT), POST /admin/... behind GRID_ADMIN_KEY, POST /webhooks/linear. Alerts\n' +
    'from the outbox go to the console, and to Linear/Discord when their keys are set. Stops cleanly on\n' +
    'Ctrl-C.',
  options: { port: { type: 'string', short: 'p' }, host: { type: 'string' } },
  optionHelp: { port: 'port (default GRID_PORT or 8787; 0 picks a free one)', host: 'interface (default GRID_HOST or 127.0.0.1)' },
  async run(v) {
    const cfg = configFromEnv();
    const db = await openFromConfig(cfg);
    await migrate(db);
    const writer = new LedgerWriter(db);
    const dispatcher = createDispatcher(db);
    const env = serviceOptionsFromEnv();
    const port = v.port !== undefined ? Number(v.port) : env.port ?? 8787;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw Object.assign(new Error(`--port must be a port number, not ${v.port}`), { code: 'USAGE' });
    const svc = await startService({ ...env, db, writer, dispatcher, port, host: v.host ?? env.host ?? '127.0.0.1' });
    dispatcher.start();
    process.stdout.write(`grid service on ${svc.url} — database: ${describeDb(cfg)}\n  GET ${svc.url}/health  GET ${svc.url}/world-state  POST ${svc.url}/execute\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    process.stdout.write('stopping…\n');
    await dispatcher.stop();
    await svc.close();
    await db.close();
    return 0;
  },
};
