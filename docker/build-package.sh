#!/usr/bin/env bash
# Assembles the installable community-node package — what n8n would find in
# ~/.n8n/nodes/node_modules/n8n-nodes-grid-governance after installing it — from a built tree.
# Used by docker/Dockerfile (the images) and scripts/queue-mode.sh (real n8n on this machine), so
# the package the images ship is the package that was exercised here.
#
# Usage: docker/build-package.sh OUT_DIR [DIST_DIR]   (DIST_DIR default: dist, already built)
#
# WHY the explicit n8n-workflow install: it is a peerDependency (n8n provides it at runtime for
# packages installed through its UI, where npm installs peers), and a devDependency for our build,
# so `npm ci --omit=dev` leaves it out. Our nodes require it at runtime (NodeOperationError, ...),
# and require() resolves from the package's own node_modules, not from n8n's — so it is installed
# here at the exact version the lockfile pins (the one the tests ran against).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: build-package.sh OUT_DIR [DIST_DIR]}"
DIST="${2:-dist}"
cd "$ROOT"
[[ -f "$DIST/cli/grid.js" && -f "$DIST/nodes/GridLedger/GridLedger.node.js" ]] || { echo "build-package: $DIST is not a complete build (run npm run build)" >&2; exit 2; }
rm -rf "$OUT"; mkdir -p "$OUT/db"
cp package.json package-lock.json .npmrc "$OUT/"
cp -r "$DIST" "$OUT/dist"
# Test and benchmark code is compiled with the rest but never loaded at runtime.
rm -rf "$OUT/dist/tests" "$OUT/dist/bench" "$OUT/dist/.tsbuildinfo"
cp -r db/migrations "$OUT/db/migrations"
cp -r scenarios "$OUT/scenarios"
# The bridge serves its dashboard from streamlit-bridge/dashboard under the package root.
mkdir -p "$OUT/streamlit-bridge"; cp -r streamlit-bridge/dashboard "$OUT/streamlit-bridge/dashboard"
WF_VERSION="$(node -p "require('./package-lock.json').packages['node_modules/n8n-workflow'].version")"
cd "$OUT"
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
# The shipped manifest has no devDependencies (nothing reads them at runtime); without them npm
# installs the peer as an ordinary package instead of omitting it as dev.
node -e "const f='package.json',p=JSON.parse(require('fs').readFileSync(f));delete p.devDependencies;delete p.scripts;require('fs').writeFileSync(f,JSON.stringify(p,null,2)+'\\n')"
npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "n8n-workflow@$WF_VERSION"
node -e "require('n8n-workflow'); require('./dist/nodes/GridLedger/GridLedger.node.js'); console.error('build-package: nodes load; n8n-workflow ' + require('n8n-workflow/package.json').version)"
echo "build-package: $(du -sh . | cut -f1) in $OUT" >&2
