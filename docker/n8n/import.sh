#!/bin/sh
# One-shot job (service n8n-import): import the credentials (from .env) and the shipped workflows
# into n8n's database, then publish (activate) the ones named in GRID_PUBLISH_WORKFLOWS. Runs
# before n8n-main starts because n8n reads published workflows at start-up ("changes will not take
# effect if n8n is running"). Idempotent: imports upsert by id; publishing twice is harmless.
set -eu
CREDS="$(mktemp /tmp/grid-credentials.XXXXXX.json)"
trap 'rm -f "$CREDS"' EXIT
node /opt/grid/credentials.js "$CREDS"
n8n import:credentials --input="$CREDS"
n8n import:workflow --separate --input=/opt/grid/workflows
for id in ${GRID_PUBLISH_WORKFLOWS:-}; do
  n8n publish:workflow --id="$id"
done
echo "n8n-import: credentials and workflows imported; published: ${GRID_PUBLISH_WORKFLOWS:-none}"
