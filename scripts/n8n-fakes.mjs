#!/usr/bin/env node
// Local fakes of Gemini, Linear and Discord for `npm run test:n8n` (real n8n talks to them over
// HTTP on 127.0.0.1, through the same SDKs as in production). They are the test fakes of
// tests/fakes, loaded from a build.
//   node scripts/n8n-fakes.mjs BUILD_DIR STATE_FILE
// Writes STATE_FILE (urls, keys, webhook id/token) once listening; on SIGTERM writes
// STATE_FILE.summary.json (what each fake received) and exits.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const [buildDir, stateFile] = process.argv.slice(2);
if (!buildDir || !stateFile) {
  process.stderr.write('usage: n8n-fakes.mjs BUILD_DIR STATE_FILE\n');
  process.exit(64);
}
const require = createRequire(import.meta.url);
const fakes = (name) => require(resolve(buildDir, 'tests', 'fakes', `${name}.js`));
const { startGeminiFake, jsonReply } = fakes('gemini');
const { startLinearFake } = fakes('linear');
const { startDiscordFake } = fakes('discord');

// Every Gemini call gets the same well-formed harvest; real n8n must carry it to the ledger.
const gemini = await startGeminiFake({
  respond: () => jsonReply({ kind: 'harvest', from: 'grid_reserve', resource: 'water', amount: 25, reasoning: 'fake gemini: a modest share' }, { promptTokenCount: 250, candidatesTokenCount: 30, totalTokenCount: 280 }),
});
const linear = await startLinearFake();
const discord = await startDiscordFake();
writeFileSync(
  stateFile,
  JSON.stringify({
    gemini: { url: gemini.url, apiKey: gemini.apiKey },
    linear: { apiUrl: linear.apiUrl, apiKey: linear.apiKey, team: linear.team.key },
    discord: { apiUrl: discord.apiUrl, id: discord.webhook.id, token: discord.webhook.token },
  }),
);

process.once('SIGTERM', async () => {
  const summary = {
    geminiCalls: gemini.calls.length,
    linearIssues: linear.issues.map((i) => i.title),
    discordMessages: discord.messages.length,
    discordTitles: discord.messages.map((m) => m.payload.embeds?.[0]?.title ?? m.payload.content ?? ''),
    handlerErrors: [...gemini.handlerErrors, ...linear.handlerErrors, ...discord.handlerErrors].map(String),
  };
  writeFileSync(`${stateFile}.summary.json`, JSON.stringify(summary));
  await Promise.all([gemini.close(), linear.close(), discord.close()]);
  process.exit(0);
});
setInterval(() => {}, 1 << 30); // keep running until SIGTERM
