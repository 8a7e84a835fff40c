/**
 * docker-compose.yml is checked without a Docker engine (there is none on the development
 * machines): parsed as YAML (merge keys resolved, as Compose does), compared with the deployment
 * section of the docs, checked for the properties the deployment promises, and — where a Compose
 * CLI is installed — validated by it (`docker compose config`, or Debian's `docker-compose`).
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../db/migrate';

const ROOT = packageRoot();
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any>; volumes?: Record<string, unknown> };
const services = compose.services;

/** Rows `| \`name\` | service|job | …` of the "## Deployment" section of README.md and docs/operations.md. */
function documentedServices(): Map<string, { kind: string; doc: string }> {
  const out = new Map<string, { kind: string; doc: string }>();
  for (const doc of ['README.md', 'docs/operations.md']) {
    if (!existsSync(join(ROOT, doc))) continue;
    const m = /^## Deployment\b[^\n]*\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(read(doc));
    if (!m) continue;
    for (const row of m[1].matchAll(/^\|\s*`([a-z0-9-]+)`\s*\|\s*(service|job)\s*\|/gm)) out.set(row[1], { kind: row[2], doc });
  }
  return out;
}

const env = (s: any): Record<string, string> => (Array.isArray(s.environment) ? Object.fromEntries(s.environment.map((x: string) => x.split(/=(.*)/s).slice(0, 2))) : (s.environment ?? {}));
const n8nServices = () => Object.entries(services).filter(([, s]) => /^grid\/n8n:/.test(s.image ?? ''));

describe('deployment: docker-compose.yml', () => {
  it('GIVEN the deployment section of the docs WHEN it is compared with docker-compose.yml THEN every named service exists with a health check, every job is one-shot, and nothing is undocumented', () => {
    const documented = documentedServices();
    assert.ok(documented.size >= 8, `a "## Deployment" table naming the services and jobs (found ${documented.size})`);
    for (const [name, { kind, doc }] of documented) {
      const s = services[name];
      assert.ok(s, `${doc} names "${name}", which docker-compose.yml does not define`);
      if (kind === 'service') {
        assert.ok(Array.isArray(s.healthcheck?.test) && s.healthcheck.test.length > 1, `service ${name} has a health check`);
        assert.notEqual(s.healthcheck.disable, true, `service ${name}: health check not disabled`);
        assert.equal(s.restart, 'unless-stopped', `service ${name} restarts`);
      } else {
        assert.equal(s.restart, 'no', `job ${name} runs once`);
        const dependents = Object.entries(services).filter(([, o]) => o.depends_on?.[name]);
        assert.ok(dependents.length > 0, `something waits for job ${name}`);
        for (const [d, o] of dependents) assert.equal(o.depends_on[name].condition, 'service_completed_successfully', `${d} waits for ${name} to finish`);
      }
    }
    for (const name of Object.keys(services)) assert.ok(documented.has(name), `docker-compose.yml defines "${name}" but the deployment docs do not name it`);
  });

  it('GIVEN the n8n services WHEN their settings are read THEN main and at least two workers run in queue mode on Redis and Postgres with one shared encryption key and the package baked in', () => {
    const main = services['n8n-main'];
    const worker = services['n8n-worker'];
    assert.ok(main && worker);
    assert.ok(String(worker.command?.[0] ?? worker.command).startsWith('worker'), 'workers run `n8n worker`');
    assert.ok((worker.deploy?.replicas ?? 1) >= 2, 'at least two worker replicas');
    for (const [name, s] of n8nServices()) {
      const e = env(s);
      assert.equal(e.EXECUTIONS_MODE, 'queue', `${name}: queue mode`);
      assert.equal(e.DB_TYPE, 'postgresdb', `${name}: Postgres`);
      assert.equal(e.QUEUE_BULL_REDIS_HOST, 'redis', `${name}: the redis service`);
      assert.equal(e.DB_POSTGRESDB_HOST, 'postgres', `${name}: the postgres service`);
      assert.match(e.N8N_ENCRYPTION_KEY, /^\$\{N8N_ENCRYPTION_KEY:\?/, `${name}: the one key from .env, required`);
      assert.equal(s.build?.target, 'n8n', `${name}: the image with the community package`);
    }
    assert.equal(env(worker).QUEUE_HEALTH_CHECK_ACTIVE, 'true', 'workers serve /healthz for their health check');
    const dockerfile = read('docker/Dockerfile');
    assert.match(dockerfile, /COPY --from=build \S+ \/out\/package \/home\/node\/\.n8n\/nodes\/node_modules\/n8n-nodes-grid-governance/, 'package installed where n8n loads community packages');
    assert.ok(dockerfile.includes(`/home/node/.n8n/nodes/node_modules/${JSON.parse(read('package.json')).name}`), 'under the package name');
  });

  it("GIVEN the n8n environment variables WHEN looked up in the pinned n8n's own code THEN each one is a variable n8n reads (no typo, no invented name)", function () {
    const cache = process.env.GRID_N8N_CACHE ?? join(homedir(), '.cache', 'grid-n8n');
    const dir = existsSync(cache) ? readdirSync(cache).find((d) => /^n8n-2\./.test(d) && existsSync(join(cache, d, '.complete'))) : undefined;
    if (!dir) return this.skip(); // the pinned n8n is installed by scripts/n8n-real.sh install
    const nm = join(cache, dir, 'node_modules');
    const names = new Set<string>();
    for (const d of ['@n8n/config/dist', 'n8n/dist', 'n8n-core/dist', '@n8n/backend-common/dist']) {
      if (!existsSync(join(nm, d))) continue;
      const out = spawnSync('grep', ['-rhoE', `['"][A-Z][A-Z0-9_]{3,}['"]`, '--include=*.js', join(nm, d)], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
      for (const m of out.split('\n')) if (m) names.add(m.slice(1, -1));
    }
    assert.ok(names.has('EXECUTIONS_MODE') && names.has('QUEUE_BULL_REDIS_HOST'), 'n8n config names found');
    const ours = /^(GRID_|GEMINI_|LINEAR_|DISCORD_)/;
    for (const [name, s] of n8nServices()) {
      for (const k of Object.keys(env(s))) if (!ours.test(k)) assert.ok(names.has(k), `${name}: ${k} is not a variable n8n ${dir} reads`);
    }
  });

  it('GIVEN the images WHEN their tags are read THEN every image and base image is pinned to a version', () => {
    const pinned = /^[a-z0-9./-]+:[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z0-9.-]+)?$/;
    for (const [name, s] of Object.entries(services)) assert.match(s.image ?? '', pinned, `${name}: image ${s.image}`);
    for (const f of ['docker/Dockerfile', 'docker/streamlit/Dockerfile']) {
      const text = read(f);
      const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]));
      for (const m of text.matchAll(/^FROM (\S+)/gm)) {
        const ref = m[1].replace(/^\$\{(\w+)\}$/, (_, a) => args[a] ?? '');
        if (/^[a-z]+$/.test(ref)) continue; // a stage name
        assert.match(ref, pinned, `${f}: FROM ${m[1]}`);
      }
    }
  });

  it('GIVEN the secrets WHEN compose interpolates them THEN each comes from .env with no default, every variable is documented in .env.example, and state is on named volumes', () => {
    // Comments may show the syntax; only what compose interpolates counts.
    const text = read('docker-compose.yml').replace(/^\s*#.*$/gm, '');
    const example = read('.env.example');
    const documented = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    const used = new Set([...text.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
    for (const v of used) assert.ok(documented.has(v), `${v} is used by docker-compose.yml but not documented in .env.example`);
    for (const secret of ['POSTGRES_PASSWORD', 'N8N_DB_PASSWORD', 'GRID_APP_PASSWORD', 'GRID_BRIDGE_PASSWORD', 'REDIS_PASSWORD', 'N8N_ENCRYPTION_KEY']) {
      const refs = [...text.matchAll(new RegExp(`\\$\\{${secret}([^}]*)\\}`, 'g'))].map((m) => m[1]);
      assert.ok(refs.length > 0, `${secret} is used`);
      for (const r of refs) assert.match(r, /^:\?/, `${secret} is required, never defaulted (\${${secret}${r}})`);
    }
    assert.match(read('.gitignore'), /^\.env$/m, '.env is git-ignored');
    const volumes = Object.keys(compose.volumes ?? {});
    for (const [svc, path] of [['postgres', '/var/lib/postgresql/data'], ['postgres', '/var/lib/postgresql/wal-archive'], ['redis', '/data']]) {
      const m = (services[svc].volumes as string[]).find((v) => v.endsWith(`:${path}`));
      assert.ok(m && volumes.includes(m.split(':')[0]), `${svc} keeps ${path} on a named volume`);
    }
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s.volumes ?? []) as string[]) if (v.startsWith('./')) assert.ok(existsSync(join(ROOT, v.split(':')[0])), `${name} mounts ${v}: file exists`);
      if (s.build) assert.ok(existsSync(join(ROOT, s.build.dockerfile)), `${name}: ${s.build.dockerfile} exists`);
    }
    const ids = new Set(readdirSync(join(ROOT, 'workflows')).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(read(`workflows/${f}`)).id));
    const publish = /GRID_PUBLISH_WORKFLOWS:-([^}]*)\}/.exec(text)![1].split(/\s+/).filter(Boolean);
    for (const id of publish) assert.ok(ids.has(id), `published workflow ${id} is one of workflows/*.json`);
  });

  it('GIVEN a Compose CLI WHEN it validates the file with .env.example THEN it passes, and without the secrets it refuses', function () {
    this.timeout(60_000);
    const cli = [['docker', 'compose'], ['docker-compose']].find(([cmd, ...a]) => spawnSync(cmd, [...a, 'version'], { encoding: 'utf8' }).status === 0);
    if (!cli) return this.skip(); // no compose CLI here: `apt-get install docker-compose` (Debian) provides one
    const [cmd, ...pre] = cli;
    const ok = execFileSync(cmd, [...pre, '--env-file', '.env.example', 'config'], { cwd: ROOT, encoding: 'utf8' });
    const cfg = parse(ok) as { services: Record<string, unknown> };
    assert.deepEqual(Object.keys(cfg.services).sort(), Object.keys(services).sort(), `${cli.join(' ')} config sees every service`);
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/PASSWORD|ENCRYPTION/.test(k)));
    const empty = join(mkdtempSync(join(tmpdir(), 'grid-compose-')), 'empty.env');
    writeFileSync(empty, '');
    const bad = spawnSync(cmd, [...pre, '--env-file', empty, 'config'], { cwd: ROOT, encoding: 'utf8', env: clean });
    assert.notEqual(bad.status, 0, 'config without secrets must fail');
    assert.match(bad.stderr + bad.stdout, /set [A-Z_]+ in \.env/);
  });
});
