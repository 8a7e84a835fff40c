#!/bin/sh
# First start of an empty data directory only (the image runs /docker-entrypoint-initdb.d once):
# n8n's own database, the ledger database, and their roles. The ledger's tables come later from
# `grid init` (service grid-init), run as grid_app, the owner of database grid.
#   n8n          owns database n8n (workflows, credentials, executions)
#   grid_app     owns database grid: migrations, and the writes of the n8n nodes
#   grid_writer  NOLOGIN, append-only privileges (migration 0002 grants them)
#   grid_reader  NOLOGIN, SELECT only (migrations 0002/0004/0005 grant it)
#   grid_bridge  LOGIN, member of grid_reader: the bridge connects as it and SETs grid_reader
# grid_writer/grid_reader are created here because grid_app has no CREATEROLE (0002 then only grants).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v n8n_pw="$N8N_DB_PASSWORD" -v app_pw="$GRID_APP_PASSWORD" -v bridge_pw="$GRID_BRIDGE_PASSWORD" <<'SQL'
CREATE ROLE n8n LOGIN PASSWORD :'n8n_pw';
CREATE DATABASE n8n OWNER n8n;
REVOKE ALL ON DATABASE n8n FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE n8n TO n8n;

CREATE ROLE grid_writer NOLOGIN;
CREATE ROLE grid_reader NOLOGIN;
CREATE ROLE grid_app LOGIN PASSWORD :'app_pw';
CREATE ROLE grid_bridge LOGIN PASSWORD :'bridge_pw' IN ROLE grid_reader;
CREATE DATABASE grid OWNER grid_app;
REVOKE ALL ON DATABASE grid FROM PUBLIC;
GRANT CONNECT ON DATABASE grid TO grid_app, grid_bridge;
-- db/adapter.ts runs `CREATE SCHEMA IF NOT EXISTS <schema>` on connect, and Postgres checks the
-- CREATE privilege before it sees the schema exists. grid_bridge needs it for that statement
-- only: its queries run as grid_reader, which cannot write the ledger. Drop this grant once the
-- adapter checks for the schema first.
GRANT CREATE ON DATABASE grid TO grid_bridge;
SQL
