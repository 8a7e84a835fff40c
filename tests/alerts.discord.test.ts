// The Discord channel through the dispatcher: real discord.js WebhookClient against the local fake.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { forEachBackend } from './support/backends';
import { startDiscordFake, type DiscordFake } from './fakes/discord';
import { LedgerWriter } from '../db/writer';
import type { Db } from '../db/adapter';
import { AlertDispatcher, DiscordChannel, SEVERITY_COLOURS, parseWebhookUrl } from '../engine/alerts';

const overdraw = () => ({ kind: 'transfer', proposal_id: randomUUID(), agent: 'dave', from: 'dave', to: 'alice', resource: 'credits', amount: 900, reasoning: 'ping @everyone' });

async function row(db: Db) {
  return (await db.query<any>(`SELECT status, attempts, remote_id, last_error, next_attempt_at FROM outbox_deliveries WHERE channel = 'discord'`)).rows[0];
}

describe('alerts: Discord webhook URL parsing', () => {
  it('GIVEN a discord.com webhook URL WHEN parsed THEN id and token; GIVEN another host THEN MISCONFIGURED', () => {
    assert.deepEqual(parseWebhookUrl('https://discord.com/api/webhooks/123456789012345678/abc-DEF_1'), { id: '123456789012345678', token: 'abc-DEF_1' });
    assert.throws(() => parseWebhookUrl('https://evil.example/api/webhooks/1/x'), /DISCORD_WEBHOOK_URL must look like/);
  });
});

forEachBackend('alerts: Discord channel', (b) => {
  let fake: DiscordFake;
  let channel: DiscordChannel;
  let now: number;
  beforeEach(async () => {
    fake = await startDiscordFake();
    now = Date.parse('2030-01-01T00:00:00Z');
  });
  afterEach(async () => {
    channel?.close();
    assert.deepEqual(fake.handlerErrors, []);
    await fake.close();
  });
  const setup = async (opts: Partial<ConstructorParameters<typeof DiscordChannel>[0]> = {}, maxAttempts = 8) => {
    const db = await b.fresh({ init: true });
    channel = new DiscordChannel({ id: fake.webhook.id, token: fake.webhook.token, apiUrl: fake.apiUrl, ...opts });
    const d = new AlertDispatcher(db, { channels: [channel], clock: () => now, random: () => 0.5, maxAttempts });
    const p = overdraw();
    await new LedgerWriter(db).apply(p);
    return { db, d, p };
  };

  it('GIVEN a rejection WHEN dispatched THEN one embed coloured by severity with code, agent, proposal_id, validator_version and mentions disabled', async () => {
    const { db, d, p } = await setup();
    assert.equal((await d.runOnce()).delivered, 1);
    const [m] = fake.messages;
    const embed = m!.payload.embeds![0] as any;
    assert.equal(embed.title, 'Proposal rejected: INSUFFICIENT_BALANCE');
    assert.equal(embed.color, SEVERITY_COLOURS.info);
    const fields = Object.fromEntries(embed.fields.map((f: any) => [f.name, f.value]));
    assert.equal(fields.code, 'INSUFFICIENT_BALANCE');
    assert.equal(fields.agent, 'dave');
    assert.equal(fields.proposal_id, p.proposal_id);
    assert.match(fields.validator_version, /\S/);
    assert.deepEqual(m!.payload.allowed_mentions, { parse: [] });
    assert.equal((await row(db)).remote_id, (m!.message as any).id);
  });

  it('GIVEN a 429 with Retry-After 1 WHEN dispatched THEN the channel waits about one second and delivers on the same attempt', async () => {
    const { db, d } = await setup();
    fake.enqueue({ status: 429, retryAfter: 1 });
    const r = await d.runOnce();
    assert.equal(r.delivered, 1);
    assert.equal(fake.requests.length, 2);
    const gap = fake.requests[1]!.monotonicMs - fake.requests[0]!.monotonicMs;
    assert.ok(gap >= 1000 && gap < 3000, `gap ${gap} ms honours Retry-After 1 s`);
    assert.deepEqual([(await row(db)).status, (await row(db)).attempts], ['delivered', 1]);
  });

  it('GIVEN a 429 longer than the in-place wait limit WHEN dispatched THEN nothing waits: the delivery is rescheduled no earlier than Retry-After', async () => {
    const { db, d } = await setup({ maxRateLimitWaitMs: 500 });
    fake.enqueue({ status: 429, retryAfter: 30 });
    const t0 = performance.now();
    assert.equal((await d.runOnce()).retried, 1);
    assert.ok(performance.now() - t0 < 1000, 'did not sleep');
    const r = await row(db);
    assert.equal(r.status, 'pending');
    assert.match(r.last_error, /^RATE_LIMITED: /);
    assert.ok(new Date(r.next_attempt_at).getTime() - now >= 30_000, 'rescheduled after Retry-After');
    now += 29_000;
    assert.equal((await d.runOnce()).claimed, 0);
    now += 1_100;
    assert.equal((await d.runOnce()).delivered, 1);
    assert.equal(fake.messages.length, 1);
  });

  it('GIVEN a 429 without rate-limit headers WHEN dispatched THEN it is bounded (discord.js alone would retry forever)', async () => {
    const { db, d } = await setup({ maxRateLimitRetries: 2 });
    fake.enqueue({ status: 429, retryAfter: 0, omitHeaders: true }, { status: 429, retryAfter: 0, omitHeaders: true }, { status: 429, retryAfter: 0, omitHeaders: true }, { status: 429, retryAfter: 0, omitHeaders: true });
    const r = await d.runOnce();
    assert.equal(r.retried, 1);
    assert.equal(fake.requests.length, 3, 'one send plus two bounded in-place retries');
    assert.equal((await row(db)).status, 'pending');
  });

  it('GIVEN 5xx answers WHEN dispatched THEN one request per attempt (discord.js retries off), backoff between, failed after maxAttempts', async () => {
    const { db, d } = await setup({}, 3);
    fake.enqueue({ status: 500 }, { status: 502 }, { status: 503 }, { status: 503 });
    for (let i = 1; i <= 3; i++) {
      await d.runOnce();
      assert.equal(fake.requests.length, i);
      now = new Date((await row(db)).next_attempt_at).getTime();
    }
    const r = await row(db);
    assert.deepEqual([r.status, r.attempts], ['failed', 3]);
    assert.match(r.last_error, /^REMOTE_UNAVAILABLE: Discord answered 503/);
    assert.equal(fake.messages.length, 0);
  });
});
