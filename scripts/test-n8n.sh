#!/usr/bin/env bash
# npm run test:n8n — this package in REAL n8n (pinned n8n 2.x on Node 24 via scripts/n8n-real.sh):
#   build → grid init on a fresh database → local fakes of Gemini/Linear/Discord → import the
#   shipped workflows (+ a Gemini variant of trade-loop) and credentials → `n8n execute` each →
#   stop the fakes → `grid verify` on the ledger → check what each workflow did.
# Prints one JSON summary (versions, timings, results) on stdout; exit 0 iff everything passed.
#
# Environment:
#   GRID_N8N_BACKEND=pglite|postgres   database (default pglite: a fresh data dir; postgres: the local
#                                      server, a fresh schema that is dropped afterwards)
#   GRID_N8N_OUT=dist                  build to use (a private dist-* build is linked as dist/)
#   GRID_N8N_BUILD=0                   skip `npm run build` (use the existing build)
#   GRID_N8N_KEEP=1                    keep the temp directory (logs, report, data dir)
#   GRID_N8N_ONLY=webhook              only the webhook check (debugging; the other checks then fail)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${GRID_N8N_OUT:-dist}"
BACKEND="${GRID_N8N_BACKEND:-pglite}"
PG_URL="${GRID_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/grid-test-n8n-XXXXXX")"
FAKES_PID=""
log() { printf '[test:n8n] %s\n' "$*" >&2; }
ms() { date +%s%3N; }
T0=$(ms)

cleanup() {
  if [[ -n "$FAKES_PID" ]] && kill -0 "$FAKES_PID" 2>/dev/null; then kill -TERM "$FAKES_PID" 2>/dev/null || true; wait "$FAKES_PID" 2>/dev/null || true; fi
  if [[ "$BACKEND" == postgres && -n "${GRID_SCHEMA:-}" ]]; then
    node -e "const {Client}=require('pg');const c=new Client({connectionString:process.argv[1]});c.connect().then(()=>c.query('DROP SCHEMA IF EXISTS '+process.argv[2]+' CASCADE')).finally(()=>c.end())" "$PG_URL" "$GRID_SCHEMA" 2>/dev/null || true
  fi
  if [[ "${GRID_N8N_KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT

# 1. Build (tsc + icons/codex) unless told to reuse one.
if [[ "${GRID_N8N_BUILD:-1}" != 0 ]]; then
  [[ "$OUT" == dist ]] || { log "GRID_N8N_OUT=$OUT needs GRID_N8N_BUILD=0 (npm run build writes dist/)"; exit 2; }
  log "building"; npm run build --silent >&2
else
  node scripts/copy-assets.mjs "$OUT" >&2
fi
T_BUILD=$(ms)
scripts/n8n-real.sh install >&2
T_INSTALL=$(ms)

# 2. The package directory n8n links: the repo for dist/, else a shell whose dist/ is the build.
PKG="$ROOT"
if [[ "$OUT" != dist ]]; then
  PKG="$WORK/package"; mkdir -p "$PKG"; cp package.json "$PKG/"; ln -s "$ROOT/$OUT" "$PKG/dist"
fi

# 3. A fresh, initialized grid.
export GRID_SCHEMA="grid"
if [[ "$BACKEND" == postgres ]]; then
  export DATABASE_URL="$PG_URL" GRID_SCHEMA="n8n_real_$(date +%s)_$$"
  DB_CRED="{\"connectionString\":\"$PG_URL\",\"schema\":\"$GRID_SCHEMA\",\"dataDir\":\"\"}"
else
  unset DATABASE_URL; export GRID_DATA_DIR="$WORK/pgdata"
  DB_CRED="{\"connectionString\":\"\",\"schema\":\"grid\",\"dataDir\":\"$GRID_DATA_DIR\"}"
fi
node "$OUT/cli/grid.js" init >&2
T_INIT=$(ms)

# 4. Fakes (Node 20, this project's SDK fakes) and the credentials pointing at them.
node scripts/n8n-fakes.mjs "$OUT" "$WORK/fakes.json" >"$WORK/fakes.log" 2>&1 &
FAKES_PID=$!
for _ in $(seq 1 100); do [[ -s "$WORK/fakes.json" ]] && break; sleep 0.1; done
[[ -s "$WORK/fakes.json" ]] || { log "fakes did not start: $(cat "$WORK/fakes.log")"; exit 3; }
node - "$WORK/fakes.json" "$DB_CRED" "$WORK/credentials.json" <<'JS'
const fs = require('fs');
const [fakesFile, dbCred, out] = process.argv.slice(2);
const f = JSON.parse(fs.readFileSync(fakesFile, 'utf8'));
fs.writeFileSync(out, JSON.stringify([
  { id: 'gridDbCred000001', name: 'Grid Database', type: 'gridDatabaseApi', data: JSON.parse(dbCred) },
  { id: 'gridGeminiCred01', name: 'Grid Gemini', type: 'gridGeminiApi', data: { apiKey: f.gemini.apiKey, baseUrl: f.gemini.url, model: 'gemini-2.5-flash', apiVersion: 'v1beta' } },
  { id: 'gridLinearCred01', name: 'Grid Linear', type: 'gridLinearApi', data: { apiKey: f.linear.apiKey, apiUrl: f.linear.apiUrl, teamId: f.linear.team, webhookSecret: 'test-n8n-secret' } },
  { id: 'gridDiscordCred1', name: 'Grid Discord', type: 'gridDiscordWebhookApi', data: { connection: 'idToken', webhookId: f.discord.id, webhookToken: f.discord.token, apiBase: f.discord.apiUrl } },
], null, 2));
JS

# 5. The shipped workflows, plus trade-loop with the Gemini operation (a copy: new id and name).
node - workflows/trade-loop.json "$WORK/trade-loop-gemini.json" <<'JS'
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
const wf = JSON.parse(fs.readFileSync(src, 'utf8'));
wf.id = 'gridTradeLoopGem'; wf.name = 'Grid: trade loop (Gemini)';
const p = wf.nodes.find((n) => n.name === 'Propose');
Object.assign(p.parameters, { operation: 'gemini', agents: 'alice, bob' });
fs.writeFileSync(dst, JSON.stringify(wf));
JS
T_SETUP=$(ms)
RC=0
if [[ "${GRID_N8N_ONLY:-}" == webhook ]]; then echo '{"ok":true,"workflows":[]}' >"$WORK/report.json"; else
scripts/n8n-real.sh run "$PKG" workflows/trade-loop.json "$WORK/trade-loop-gemini.json" workflows/circuit-breaker.json workflows/rehydrate.json workflows/dispute-review.json \
  --credentials "$WORK/credentials.json" >"$WORK/report.json" || RC=$?
fi
T_RUN=$(ms)
# The webhook path (Grid Linear Trigger) needs a running `n8n start`: see scripts/n8n-webhook-check.mjs.
WRC=0
node scripts/n8n-webhook-check.mjs "$OUT" "$PKG" "$WORK" >"$WORK/webhook.json" 2>"$WORK/webhook.err" || WRC=$?
T_WEBHOOK=$(ms)
kill -TERM "$FAKES_PID"; wait "$FAKES_PID" || true; FAKES_PID=""

# 6. The ledger after real n8n wrote it: verified by the CLI (a separate process).
VRC=0
node "$OUT/cli/grid.js" verify --json >"$WORK/verify.json" || VRC=$?
T_VERIFY=$(ms)

node - "$WORK" "$RC" "$VRC" "$BACKEND" "$T0" "$T_BUILD" "$T_INSTALL" "$T_INIT" "$T_SETUP" "$T_RUN" "$T_WEBHOOK" "$T_VERIFY" "$WRC" <<'JS'
const fs = require('fs');
const [work, rc, vrc, backend, t0, tBuild, tInstall, tInit, tSetup, tRun, tWebhook, tVerify, wrc] = process.argv.slice(2);
const read = (f) => { try { return JSON.parse(fs.readFileSync(`${work}/${f}`, 'utf8')); } catch { return null; } };
const report = read('report.json') ?? { workflows: [] };
const verify = read('verify.json') ?? {};
const fakes = read('fakes.json.summary.json') ?? {};
const webhook = read('webhook.json') ?? { ok: false, error: (() => { try { return fs.readFileSync(`${work}/webhook.err`, 'utf8').slice(-1500); } catch { return 'no output'; } })() };
const wf = (name) => report.workflows.find((w) => w.name === name) ?? { nodes: {} };
const first = (w, node, out = 0) => w.nodes?.[node]?.[out]?.[0];
const checks = [];
const check = (what, ok, detail) => checks.push({ what, ok: Boolean(ok), ...(detail === undefined ? {} : { detail }) });
check('every workflow executed successfully in n8n', Number(rc) === 0 && report.ok, report.workflows.map((w) => `${w.name}: ${w.status}${w.error ? ` (${w.error.node}: ${w.error.message.slice(0, 200)})` : ''}`));
const scripted = wf('Grid: trade loop');
check('trade-loop: scripted proposals were applied', (scripted.nodes?.Apply?.[0] ?? []).some((x) => x.status === 'applied'));
const gem = wf('Grid: trade loop (Gemini)');
check('trade-loop (Gemini): the model\'s proposal and its llm charge were applied', (gem.nodes?.Apply?.[0] ?? []).filter((x) => x.status === 'applied').length >= 2, (gem.nodes?.Apply?.[0] ?? []).map((x) => x.status));
check('trade-loop (Gemini): the fake Gemini API was called over HTTP', fakes.geminiCalls >= 2, fakes.geminiCalls);
check('circuit-breaker: levels checked, nothing tripped on a healthy grid', first(wf('Grid: circuit breaker'), 'Check Levels')?.tripped === false);
check('rehydrate: verify ok', first(wf('Grid: rehydrate'), 'Verify Ledger')?.ok === true);
check('dispute-review: manual path answers HITL_NO_PAYLOAD', first(wf('Grid: dispute review'), 'Record Decision')?.error?.code === 'HITL_NO_PAYLOAD');
check('dispute-review via n8n start: a forged Linear webhook is refused (401), a signed one resets the breaker as the human, once', Number(wrc) === 0 && webhook.ok, {
  forged: webhook.forged?.status, valid: webhook.valid?.status, breaker: webhook.breaker, hitl: webhook.hitl?.map((h) => h.outcome?.action), ...(webhook.ok ? {} : { error: webhook.error, log: webhook.log }),
});
check('Discord got the reset announcement from the webhook-started execution', (fakes.discordTitles ?? []).includes('Circuit breaker closed: agent trading resumed'), fakes.discordTitles);
check('grid verify: the ledger written by n8n verifies', Number(vrc) === 0 && verify.ok === true, { rowsReplayed: verify.rowsReplayed, chainOk: verify.chainOk, cacheMatches: verify.cacheMatches });
check('fakes: no handler errors', (fakes.handlerErrors ?? []).length === 0, fakes.handlerErrors);
const ok = checks.every((c) => c.ok);
const cacheDir = process.env.GRID_N8N_CACHE ?? `${process.env.HOME}/.cache/grid-n8n`;
const cache = (() => { try { const d = fs.readdirSync(cacheDir).find((x) => x.startsWith('n8n-')); return fs.readFileSync(`${cacheDir}/${d}/.complete`, 'utf8').trim(); } catch { return 'unknown'; } })();
process.stdout.write(JSON.stringify({
  ok,
  backend,
  versions: { n8n: cache, node: report.node, package: require(`${process.cwd()}/package.json`).version },
  timingsMs: {
    build: tBuild - t0, install: tInstall - tBuild, init: tInit - tInstall, setup: tSetup - tInit,
    n8n: { total: tRun - tSetup, ...report.timingsMs, perWorkflow: Object.fromEntries(report.workflows.map((w) => [w.name, w.ms])) },
    webhook: { total: tWebhook - tRun, ...webhook.timingsMs },
    verify: tVerify - tWebhook, total: tVerify - t0,
  },
  ledger: { rows: verify.rowsReplayed, headHash: verify.headHash },
  fakes,
  checks,
}, null, 2) + '\n');
process.exit(ok ? 0 : 1);
JS
