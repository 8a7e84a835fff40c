/**
 * A seeded grid with a bridge over it, per test: on Postgres the bridge gets its own connection
 * as grid_reader (as in production), on PGlite it shares the one embedded database. The writer
 * side keeps the owner connection, so tests can apply proposals while the bridge watches.
 */
import { openDb, type Db } from '../../db/adapter';
import { startBridge, type Bridge, type BridgeOptions } from '../../streamlit-bridge';
import type { Backend } from './backends';
import { seedGrid, type SeedReport } from './bridge-seed';

export interface Harness {
  /** The owner connection (migrations, writer, tampering). */
  db: Db;
  /** What the bridge reads through (grid_reader on Postgres). */
  reader: Db;
  bridge: Bridge;
  seed: SeedReport;
  get(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: any; text: string }>;
  close(): Promise<void>;
}

export async function openReader(b: Backend, db: Db): Promise<Db> {
  return b.name === 'postgres' ? openDb({ url: b.url, schema: db.schema, role: 'grid_reader', poolSize: 4 }) : db;
}

export async function harness(b: Backend, opts: Partial<BridgeOptions> & { trades?: number } = {}): Promise<Harness> {
  const db = await b.fresh({ migrated: true });
  const seed = await seedGrid(db, { trades: opts.trades ?? 30 });
  const reader = await openReader(b, db);
  const bridge = await startBridge({ db: reader, pollMs: 50, verifyMinIntervalMs: 0, ...opts });
  let closing: Promise<void> | null = null;
  return {
    db, reader, bridge, seed,
    async get(path, init) {
      const res = await fetch(bridge.url + path, init);
      const text = await res.text();
      let body: any = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      return { status: res.status, headers: res.headers, body, text };
    },
    close() {
      closing ??= (async () => {
        await bridge.close();
        if (reader !== db) await reader.close();
      })();
      return closing;
    },
  };
}

/** Polls `f` until it returns a truthy value (bounded), for state the bridge reaches by polling. */
export async function eventually<T>(f: () => Promise<T | null | undefined | false>, timeoutMs = 3_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
