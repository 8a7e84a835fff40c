// The bridge service (read-only HTTP API, SSE stream, live dashboard) for docker-compose.yml.
// Connects as a login role that is a member of grid_reader; openBridgeDb SETs grid_reader, and
// startBridge refuses to run if that role could write to the ledger schema.
'use strict';
const { startBridge, openBridgeDb } = require('/app/dist/streamlit-bridge');

async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw Object.assign(new Error('DATABASE_URL is not set'), { code: 'CONFIG' });
  const db = await openBridgeDb({ url, schema: process.env.GRID_SCHEMA || 'grid' });
  const bridge = await startBridge({
    db,
    host: process.env.GRID_BRIDGE_HOST || '0.0.0.0',
    port: Number(process.env.GRID_BRIDGE_PORT || 8787),
    corsOrigin: process.env.GRID_BRIDGE_CORS_ORIGIN || undefined,
  });
  process.stdout.write(`bridge on ${bridge.url} — dashboard ${bridge.dashboardUrl}\n`);
  const stop = async () => {
    await bridge.close();
    await db.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`bridge: ${e && e.code ? `[${e.code}] ` : ''}${(e && e.message) || e}\n`);
  process.exit(3);
});
