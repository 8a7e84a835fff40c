#!/usr/bin/env bash
# A backup-and-restore drill on a throwaway Postgres cluster, with the same setup as the compose
# postgres service (docker/postgres/10-grid.sh roles, WAL archiving as in start.sh):
#   1. init the ledger as grid_app; the bridge's login can read but not write
#   2. pg_basebackup; apply transfers; note the time T and the chain head at T
#   3. more transfers, then a disaster (DROP SCHEMA grid CASCADE)
#   4. restore the base backup + archived WAL up to T (recovery_target_time)
#   5. `grid verify` passes and the chain head is exactly the one at T
#   6. pg_dump -Fc of the restored ledger, pg_restore into a new database: verifies, same head
# Prints one JSON line of results. Needs the machine's Postgres binaries (initdb, pg_ctl,
# pg_basebackup) and a build (DIST, default dist). Runs the server as the `postgres` OS user.
#
# Usage: docker/postgres/pitr-drill.sh [DIST]     (env: DRILL_PORT, default 55432)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIST="$ROOT/${1:-dist}"
PORT="${DRILL_PORT:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
W="$(mktemp -d /tmp/grid-pitr-XXXXXX)"
chown postgres:postgres "$W"; chmod 700 "$W"
as_pg() { runuser -u postgres -- "$@"; }
log() { printf '[pitr-drill] %s\n' "$*" >&2; }
stop_server() { as_pg "$BIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true; }
cleanup() { stop_server "$W/data"; stop_server "$W/restored"; rm -rf "$W"; }
trap cleanup EXIT

export N8N_DB_PASSWORD=drill-n8n GRID_APP_PASSWORD=drill-app GRID_BRIDGE_PASSWORD=drill-bridge POSTGRES_USER=postgres
APP_URL="postgres://grid_app:$GRID_APP_PASSWORD@127.0.0.1:$PORT/grid"
BRIDGE_URL="postgres://grid_bridge:$GRID_BRIDGE_PASSWORD@127.0.0.1:$PORT/grid"
SU_URL="postgres://postgres@127.0.0.1:$PORT/grid"

# Password auth over TCP (as in the container), trust on the local socket for the superuser.
as_pg "$BIN/initdb" -D "$W/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
as_pg mkdir -p "$W/wal-archive"
cat >>"$W/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $W/wal-archive/%f && cp %p $W/wal-archive/%f'
CONF
# The superuser connects over TCP too in this drill (pg_basebackup, the disaster); trust it there.
sed -i "1i host all postgres 127.0.0.1/32 trust\nhost replication postgres 127.0.0.1/32 trust" "$W/data/pg_hba.conf"
as_pg "$BIN/pg_ctl" -D "$W/data" -l "$W/server.log" -w start >/dev/null
as_pg env PGHOST="$W" PGPORT="$PORT" N8N_DB_PASSWORD="$N8N_DB_PASSWORD" GRID_APP_PASSWORD="$GRID_APP_PASSWORD" \
  GRID_BRIDGE_PASSWORD="$GRID_BRIDGE_PASSWORD" POSTGRES_USER=postgres sh "$ROOT/docker/postgres/10-grid.sh" >/dev/null
log "roles and databases created"

DATABASE_URL="$APP_URL" GRID_SCHEMA=grid node "$DIST/cli/grid.js" init >&2
node - "$DIST" "$BRIDGE_URL" <<'JS'
// The bridge's login: opens as grid_reader, startBridge accepts it, and a write is refused.
const [dist, url] = process.argv.slice(2);
const { openBridgeDb, startBridge } = require(`${dist}/streamlit-bridge`);
const { Client } = require('pg');
(async () => {
  const db = await openBridgeDb({ url, schema: 'grid' });
  const bridge = await startBridge({ db, port: 0 });
  const health = await (await fetch(`${bridge.url}/api/health`)).json();
  await bridge.close(); await db.close();
  if (health.read_only !== true || health.role !== 'grid_reader') throw new Error(`bridge not read-only: ${JSON.stringify(health)}`);
  const c = new Client({ connectionString: url }); await c.connect();
  let refused = false;
  try { await c.query(`INSERT INTO grid.admin_audit (actor, action, details) VALUES ('x', 'x', '{}')`); } catch (e) { refused = e.code === '42501'; }
  await c.end();
  if (!refused) throw new Error('grid_bridge could write to the ledger schema');
  process.stderr.write('[pitr-drill] bridge login is read-only (health.role grid_reader; INSERT refused 42501)\n');
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
JS

apply() { # apply N transfers as grid_app through the real writer
  node - "$DIST" "$APP_URL" "$1" "$2" <<'JS'
const [dist, url, n, seed] = process.argv.slice(2);
const { openDb } = require(`${dist}/db/adapter`);
const { LedgerWriter } = require(`${dist}/db/writer`);
const { deterministicId } = require(`${dist}/engine/scenario`);
(async () => {
  const db = await openDb({ url, schema: 'grid' });
  const w = new LedgerWriter(db);
  const list = (await db.query(`SELECT id FROM actors WHERE kind = 'agent' ORDER BY id`)).rows.map((r) => r.id);
  let applied = 0;
  for (let i = 0; i < Number(n); i++) {
    const from = list[i % list.length], to = list[(i + 1) % list.length];
    const r = await w.apply({ proposal_id: deterministicId('drill', seed, String(i)), agent: from, from, to, resource: 'credits', amount: 1 });
    if (r.status === 'applied') applied++;
  }
  await db.close();
  process.stdout.write(String(applied));
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
JS
}
head_of() { psql "$SU_URL" -Atc "SELECT last_id || ':' || encode(last_hash, 'hex') FROM grid.ledger_head"; }

as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$W/base" -Fp -Xstream -c fast
log "base backup taken"
A1=$(apply 40 before)
sleep 1.2   # recovery_target_time has millisecond-ish precision; keep T clear of both sides
T=$(psql "$SU_URL" -Atc "SELECT now()")
HEAD_T=$(head_of)
sleep 1.2
A2=$(apply 40 after)
HEAD_AFTER=$(head_of)
PGOPTIONS="-c client_min_messages=warning" psql "$SU_URL" -qc "DROP SCHEMA grid CASCADE"
psql "$SU_URL" -qAtc "SELECT pg_switch_wal()" >/dev/null   # make sure the WAL holding T is archived
for _ in $(seq 1 50); do
  [[ "$(psql "$SU_URL" -Atc "SELECT last_failed_wal IS NULL AND archived_count > 0 FROM pg_stat_archiver")" == t ]] && break; sleep 0.2
done
sleep 1
stop_server "$W/data"
log "disaster done (schema dropped); restoring to $T"

# Restore: the base backup, WAL from the archive, stop at T, then open for writes.
as_pg cp -a "$W/base" "$W/restored"
as_pg sh -c "cat >> '$W/restored/postgresql.conf' <<CONF
restore_command = 'cp $W/wal-archive/%f %p'
recovery_target_time = '$T'
recovery_target_action = 'promote'
archive_mode = off
CONF
touch '$W/restored/recovery.signal'"
as_pg "$BIN/pg_ctl" -D "$W/restored" -l "$W/restored.log" -w -t 120 start >/dev/null
for _ in $(seq 1 100); do [[ "$(psql "$SU_URL" -Atc 'SELECT pg_is_in_recovery()')" == f ]] && break; sleep 0.2; done
HEAD_RESTORED=$(head_of)
VRC=0
DATABASE_URL="$APP_URL" GRID_SCHEMA=grid node "$DIST/cli/grid.js" verify --json >"$W/verify.json" || VRC=$?
# 6. A logical dump of the restored ledger (pg_dump -Fc) restored into a new database verifies too.
as_pg "$BIN/pg_dump" -h "$W" -p "$PORT" -U postgres -Fc -d grid -f "$W/grid.dump"
as_pg "$BIN/createdb" -h "$W" -p "$PORT" -U postgres -O grid_app grid_from_dump
as_pg "$BIN/psql" -h "$W" -p "$PORT" -U postgres -qc "GRANT CONNECT ON DATABASE grid_from_dump TO grid_app" -d postgres
as_pg "$BIN/pg_restore" -h "$W" -p "$PORT" -U postgres -d grid_from_dump "$W/grid.dump"
DRC=0
DATABASE_URL="postgres://grid_app:$GRID_APP_PASSWORD@127.0.0.1:$PORT/grid_from_dump" GRID_SCHEMA=grid \
  node "$DIST/cli/grid.js" verify --json >"$W/verify-dump.json" || DRC=$?
HEAD_DUMP=$(psql "postgres://postgres@127.0.0.1:$PORT/grid_from_dump" -Atc "SELECT last_id || ':' || encode(last_hash, 'hex') FROM grid.ledger_head")
node - "$W/verify.json" "$VRC" "$A1" "$A2" "$HEAD_T" "$HEAD_AFTER" "$HEAD_RESTORED" "$T" "$W/verify-dump.json" "$DRC" "$HEAD_DUMP" <<'JS'
const fs = require('fs');
const [file, vrc, a1, a2, headT, headAfter, headRestored, t, dumpFile, drc, headDump] = process.argv.slice(2);
const v = JSON.parse(fs.readFileSync(file, 'utf8'));
const d = JSON.parse(fs.readFileSync(dumpFile, 'utf8'));
const out = { ok: Number(vrc) === 0 && v.ok === true && headRestored === headT && headAfter !== headT && Number(drc) === 0 && d.ok === true && headDump === headT,
  targetTime: t, appliedBeforeT: Number(a1), appliedAfterT: Number(a2), headAtT: headT, headBeforeDisaster: headAfter, headRestored,
  verify: { ok: v.ok, rowsReplayed: v.rowsReplayed, chainOk: v.chainOk, cacheMatches: v.cacheMatches },
  fromDump: { verifyOk: d.ok, head: headDump } };
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(out.ok ? 0 : 1);
JS
