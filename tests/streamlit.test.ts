/**
 * Runs the Streamlit app's AppTest suite (tests/streamlit_app_test.py, pytest) against a real
 * bridge started here over a seeded grid. Python with streamlit and pytest comes from GRID_PYTHON
 * or the project venv that scripts/ensure-streamlit.sh creates (.venv). Missing is a failure that
 * says how to fix it — unless GRID_SKIP_STREAMLIT=1 asks to skip on purpose.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BACKENDS } from './support/backends';
import { seedGrid } from './support/bridge-seed';
import { packageRoot } from '../db/migrate';
import { startBridge, type Bridge } from '../streamlit-bridge';
import type { Db } from '../db/adapter';

const ROOT = packageRoot();
const PYTHON = process.env.GRID_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

function pythonReady(): string | null {
  if (!existsSync(PYTHON)) return `no Python at ${PYTHON}`;
  const r = spawnSync(PYTHON, ['-c', 'import streamlit, pytest; print(streamlit.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 ? null : `${PYTHON} cannot import streamlit and pytest: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
}

describe('Streamlit app (AppTest against a running bridge)', function () {
  this.timeout(180_000);
  let db: Db | undefined;
  let bridge: Bridge | undefined;

  before(async function () {
    const problem = pythonReady();
    if (problem) {
      if (process.env.GRID_SKIP_STREAMLIT === '1') return this.skip();
      throw new Error(`${problem}. Run scripts/ensure-streamlit.sh (creates .venv with streamlit and pytest), set GRID_PYTHON, ` +
        'or set GRID_SKIP_STREAMLIT=1 to skip the Streamlit test on purpose.');
    }
    db = await BACKENDS.find((b) => b.name === 'pglite')!.fresh({ migrated: true });
    await seedGrid(db, { trades: 40 });
    bridge = await startBridge({ db, dashboard: false });
  });

  after(async () => {
    await bridge?.close();
    await db?.close();
  });

  it('GIVEN a bridge over a seeded grid WHEN the AppTest suite runs THEN every Streamlit test passes', async () => {
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', join(ROOT, 'tests', 'streamlit_app_test.py')], {
        cwd: ROOT,
        env: { ...process.env, GRID_BRIDGE_URL: bridge!.url, PYTHONDONTWRITEBYTECODE: '1' },
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      const kill = setTimeout(() => child.kill('SIGKILL'), 150_000);
      child.on('close', (code) => {
        clearTimeout(kill);
        resolve({ code, text });
      });
    });
    assert.equal(out.code, 0, `pytest failed:\n${out.text}`);
    const m = /(\d+) passed/.exec(out.text);
    assert.ok(m && Number(m[1]) === 3, `expected 3 Streamlit tests to pass:\n${out.text}`);
    process.stdout.write(`      streamlit AppTest: ${out.text.trim().split('\n').pop()}\n`);
  });
});
