#!/usr/bin/env bash
# n8n queue mode for real on this machine: the pinned n8n 2.x (Node 24, scripts/n8n-real.sh) as
# one main and two worker PROCESSES on the local Redis (127.0.0.1:6379) and Postgres
# (127.0.0.1:5432: n8n's own database `n8n_queue`, the ledger in a fresh schema of `postgres`),
# with this package installed as a community package, N copies of the trade loop published with a
# 1-second Grid Trigger and many agents, run for a bounded time, stopped, then checked:
# `grid verify` passes (chain intact, replay == cache, conservation), every proposal is applied
# once or rejected once, no proposal_id twice, and what n8n's executions reported matches the
# ledger. Prints one JSON report on stdout; exit 0 iff every check passed.
#
# Environment (all optional):
#   GRID_QM_SECONDS=60     how long the loops run (bounded: 10..900)
#   GRID_QM_LOOPS=8        trade-loop copies published (each fires every GRID_QM_INTERVAL s)
#   GRID_QM_AGENTS=5       agents per loop (the scenario gets LOOPS × AGENTS agents)
#   GRID_QM_INTERVAL=1     Grid Trigger interval in seconds
#   GRID_QM_CONCURRENCY=10 `n8n worker --concurrency`
#   GRID_QM_OUT=dist       build to use (GRID_QM_BUILD=0 to skip `npm run build`)
#   GRID_QM_PACKAGE=build  build: assemble the package with docker/build-package.sh (what the
#                          image ships); link: link the repo as the package (faster)
#   GRID_QM_KEEP=1         keep the work dir, n8n's database and the ledger schema
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${GRID_QM_OUT:-dist}"
log() { printf '[queue-mode] %s\n' "$*" >&2; }

if [[ "${GRID_QM_BUILD:-1}" != 0 ]]; then
  [[ "$OUT" == dist ]] || { log "GRID_QM_OUT=$OUT needs GRID_QM_BUILD=0"; exit 2; }
  log "building"; npm run build --silent >&2
else
  node scripts/copy-assets.mjs "$OUT" >&2
fi
scripts/n8n-real.sh install >&2
# The orchestrator runs on the project's Node; only n8n itself runs on the pinned Node 24.
N8N_ENV="$(scripts/n8n-real.sh env)"
export GRID_N8N_NODE="$(bash -c "$N8N_ENV"'; command -v node')"
export GRID_N8N_BIN="$(bash -c "$N8N_ENV"'; echo "$GRID_N8N_BIN"')"
[[ -x "$GRID_N8N_NODE" && -f "$GRID_N8N_BIN" ]] || { log "pinned n8n not found"; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/grid-queue-mode-XXXXXX")"
PKG="$ROOT"
if [[ "${GRID_QM_PACKAGE:-build}" == build ]]; then
  log "assembling the package (docker/build-package.sh)"
  docker/build-package.sh "$WORK/package" "$OUT" >&2
  PKG="$WORK/package"
elif [[ "$OUT" != dist ]]; then
  PKG="$WORK/package"; mkdir -p "$PKG"; cp package.json "$PKG/"; ln -s "$ROOT/$OUT" "$PKG/dist"
fi
# The orchestrator traps its own exit and kills every process it started (process groups).
exec node scripts/queue-mode-run.mjs "$OUT" "$PKG" "$WORK"
