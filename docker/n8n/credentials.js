// Writes the n8n credentials file for `n8n import:credentials` from the environment, so secrets
// live only in .env (docker compose passes them to the one-shot import job) and n8n's database,
// where n8n encrypts them with N8N_ENCRYPTION_KEY. The ids are the ones the shipped workflows
// reference (workflows/*.json), so imported workflows find their credentials.
// Usage: node credentials.js OUT_FILE
'use strict';
const fs = require('node:fs');
const env = process.env;
const need = (name) => {
  const v = env[name];
  if (!v) {
    process.stderr.write(`credentials: ${name} is not set (see .env.example)\n`);
    process.exit(2);
  }
  return v;
};
const ledgerUrl = `postgres://grid_app:${encodeURIComponent(need('GRID_APP_PASSWORD'))}@${env.GRID_DB_HOST || 'postgres'}:5432/grid`;
const creds = [
  { id: 'gridDbCred000001', name: 'Grid Database', type: 'gridDatabaseApi', data: { connectionString: ledgerUrl, schema: env.GRID_SCHEMA || 'grid', dataDir: '' } },
  // Optional services: an empty key leaves the credential in place but unusable, and the nodes
  // that need it fail with their own error code (the scripted trade loop needs none of them).
  { id: 'gridGeminiCred01', name: 'Grid Gemini', type: 'gridGeminiApi', data: { apiKey: env.GEMINI_API_KEY || '', model: env.GEMINI_MODEL || 'gemini-2.5-flash', apiVersion: 'v1beta' } },
  { id: 'gridLinearCred01', name: 'Grid Linear', type: 'gridLinearApi', data: { apiKey: env.LINEAR_API_KEY || '', teamId: env.LINEAR_TEAM_ID || '', webhookSecret: env.LINEAR_WEBHOOK_SECRET || '' } },
  { id: 'gridDiscordCred1', name: 'Grid Discord', type: 'gridDiscordWebhookApi', data: { connection: 'idToken', webhookId: env.DISCORD_WEBHOOK_ID || '', webhookToken: env.DISCORD_WEBHOOK_TOKEN || '' } },
];
fs.writeFileSync(process.argv[2], JSON.stringify(creds, null, 2), { mode: 0o600 });
