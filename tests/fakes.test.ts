// Drives each local fake with the REAL SDK, so the fakes are proven to speak the wire protocol the
// SDKs expect (and so SDK behaviour the project relies on — error shapes, retries — is pinned).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DiscordAPIError, HTTPError, RateLimitError, Routes, WebhookClient } from 'discord.js';
import { jsonReply, startGeminiFake, type GeminiFake } from './fakes/gemini';
import { startLinearFake, type LinearFake } from './fakes/linear';
import { buildLinearIssueWebhook, postLinearWebhook, sendLinearIssueWebhook, verifyLinearWebhook } from './fakes/linear-webhook';
import { startDiscordFake, type DiscordFake } from './fakes/discord';

// Both SDKs resolve to ESM type declarations under `moduleResolution: Node16`, so a CommonJS file
// may only load them with import(); type positions need the resolution-mode attribute.
type GenAI = typeof import('@google/genai', { with: { 'resolution-mode': 'import' } });
type LinearSdk = typeof import('@linear/sdk', { with: { 'resolution-mode': 'import' } });

describe('fakes: Gemini (generativelanguage) with @google/genai', () => {
  let fake: GeminiFake;
  let genai: GenAI;
  before(async () => {
    genai = await import('@google/genai');
    fake = await startGeminiFake();
  });
  after(() => fake.close());
  afterEach(() => assert.deepEqual(fake.handlerErrors, []));

  const client = (apiKey = fake.apiKey, extra: Record<string, unknown> = {}) =>
    new genai.GoogleGenAI({ apiKey, httpOptions: { baseUrl: fake.url, apiVersion: 'v1beta', ...extra } });
  const schema = { type: 'object', properties: { action: { type: 'string' }, amount: { type: 'string' } }, required: ['action', 'amount'] };

  it('GIVEN a queued JSON reply WHEN generateContent asks for structured output THEN the JSON text and token usage come back', async () => {
    fake.enqueue(jsonReply({ action: 'transfer', amount: '30' }, { promptTokenCount: 120, candidatesTokenCount: 9 }));
    const res = await client().models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Propose one trade.',
      config: { systemInstruction: 'You are agent A.', responseMimeType: 'application/json', responseJsonSchema: schema },
    });
    assert.deepEqual(JSON.parse(res.text ?? ''), { action: 'transfer', amount: '30' });
    assert.deepEqual(
      { p: res.usageMetadata?.promptTokenCount, c: res.usageMetadata?.candidatesTokenCount, t: res.usageMetadata?.totalTokenCount },
      { p: 120, c: 9, t: 129 },
    );
    assert.equal(res.modelVersion, 'gemini-2.5-flash');
    assert.equal(res.candidates?.[0]?.finishReason, 'STOP');
    const call = fake.calls.at(-1)!;
    assert.equal(call.request.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(call.request.headers['x-goog-api-key'], fake.apiKey);
    assert.equal(call.promptText, 'Propose one trade.');
    assert.equal(call.systemText, 'You are agent A.');
    assert.equal(call.generationConfig.responseMimeType, 'application/json');
    assert.deepEqual(call.generationConfig.responseJsonSchema, schema);
    assert.equal(fake.pending(), 0);
  });

  it('GIVEN a queued 429 WHEN generateContent is called without retryOptions THEN an ApiError with status 429 surfaces after one request', async () => {
    fake.enqueue({ error: 429, retryDelaySeconds: 7 });
    const before = fake.calls.length;
    const err = await client().models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e: unknown) => e);
    assert.ok(err instanceof genai.ApiError, String(err));
    assert.equal(err.status, 429);
    const body = JSON.parse(err.message) as { error: { status: string; details: Array<{ retryDelay?: string }> } };
    assert.equal(body.error.status, 'RESOURCE_EXHAUSTED');
    assert.equal(body.error.details[0]?.retryDelay, '7s');
    assert.equal(fake.calls.length - before, 1);
  });

  it('GIVEN retryOptions WHEN the first attempt gets a 500 THEN the SDK retries and returns the second reply', async () => {
    fake.enqueue({ error: 500 }, { text: '{"ok":true}' });
    const before = fake.calls.length;
    const res = await client(fake.apiKey, { retryOptions: { attempts: 2, initialDelay: 0.02, maxDelay: 0.05 } })
      .models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' });
    assert.equal(res.text, '{"ok":true}');
    assert.equal(fake.calls.length - before, 2);
  });

  it('GIVEN a wrong API key WHEN the model is fetched THEN 400 API_KEY_INVALID, and with the right key the model object', async () => {
    const err = await client('wrong-key').models.get({ model: 'gemini-2.5-flash' }).catch((e: unknown) => e);
    assert.ok(err instanceof genai.ApiError);
    assert.equal(err.status, 400);
    assert.match(err.message, /API_KEY_INVALID/);
    const model = await client().models.get({ model: 'gemini-2.5-flash' });
    assert.equal(model.name, 'models/gemini-2.5-flash');
    assert.equal(model.inputTokenLimit, 1048576);
  });

  it('GIVEN no reply queued and no responder WHEN generateContent is called THEN it fails loudly with 500', async () => {
    const err = await client().models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e: unknown) => e);
    assert.ok(err instanceof genai.ApiError);
    assert.equal(err.status, 500);
    assert.match(err.message, /no reply queued/);
  });
});

describe('fakes: Linear GraphQL with @linear/sdk', () => {
  let fake: LinearFake;
  let sdk: LinearSdk;
  before(async () => {
    sdk = await import('@linear/sdk');
    fake = await startLinearFake();
  });
  after(() => fake.close());
  afterEach(() => assert.deepEqual(fake.handlerErrors, []));
  const client = (apiKey = fake.apiKey) => new sdk.LinearClient({ apiKey, apiUrl: fake.apiUrl });

  const CREATE = `mutation CreateAlert($input: IssueCreateInput!) {
    issueCreate(input: $input) { success issue { id identifier url } } }`;
  const FIND = `query FindByTitle($title: String!) { issues(filter: { title: { eq: $title } }, first: 5) { nodes { id identifier title } } }`;

  it('GIVEN a raw issueCreate mutation WHEN sent through rawRequest THEN exactly one issue exists and a title query finds it', async () => {
    const title = 'REJECTED: p-001 exceeds energy cap';
    const res = await client().client.rawRequest<{ issueCreate: { success: boolean; issue: { id: string; identifier: string; url: string } } }, Record<string, unknown>>(
      CREATE, { input: { teamId: fake.team.id, title, description: 'key: alert-p-001' } });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.data!.issueCreate.issue).sort(), ['id', 'identifier', 'url']);
    assert.equal(res.data!.issueCreate.success, true);
    assert.equal(fake.issues.filter((i) => i.title === title).length, 1);
    const found = await client().client.rawRequest<{ issues: { nodes: Array<{ identifier: string }> } }, Record<string, unknown>>(FIND, { title });
    assert.deepEqual(found.data!.issues.nodes.map((n) => n.identifier), [res.data!.issueCreate.issue.identifier]);
    const none = await client().client.rawRequest<{ issues: { nodes: unknown[] } }, Record<string, unknown>>(FIND, { title: 'no such title' });
    assert.deepEqual(none.data!.issues.nodes, []);
  });

  it('GIVEN the SDK models WHEN viewer, teams, labels and createIssue are used THEN they parse the fake answers', async () => {
    const c = client();
    assert.equal((await c.viewer).name, 'Grid Bot');
    assert.deepEqual((await c.teams()).nodes.map((t) => t.key), [fake.team.key]);
    assert.equal((await c.issueLabels({ filter: { name: { eq: 'grid-alert' } } })).nodes.length, 0);
    const labelPayload = await c.createIssueLabel({ name: 'grid-alert' });
    const labels = await c.issueLabels({ filter: { name: { eq: 'grid-alert' } } });
    assert.deepEqual(labels.nodes.map((l) => l.id), [labelPayload.issueLabelId]);
    const payload = await c.createIssue({ teamId: fake.team.id, title: 'SDK-created', labelIds: [labelPayload.issueLabelId!] });
    assert.equal(payload.success, true);
    const issue = await payload.issue; // a second, large query through the SDK's generated document
    assert.equal(issue?.title, 'SDK-created');
    assert.match(issue?.identifier ?? '', new RegExp(`^${fake.team.key}-\\d+$`));
    const byTitle = await c.issues({ filter: { title: { eq: 'SDK-created' } } });
    assert.deepEqual(byTitle.nodes.map((n) => n.id), [issue?.id]);
  });

  it('GIVEN a wrong API key WHEN the viewer is queried THEN an AuthenticationLinearError with status 401', async () => {
    const err = await client('lin_api_wrong').viewer.catch((e: unknown) => e);
    assert.ok(err instanceof sdk.AuthenticationLinearError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.type, sdk.LinearErrorType.AuthenticationError);
  });

  it('GIVEN failNext(1, 500) WHEN the mutation is sent THEN it fails with status 500 and nothing is created', async () => {
    const count = fake.issues.length;
    fake.failNext(1, 500);
    const err = await client().client.rawRequest(CREATE, { input: { teamId: fake.team.id, title: 'never' } }).catch((e: unknown) => e);
    assert.ok(err instanceof sdk.InternalLinearError, String(err));
    assert.equal(err.status, 500);
    assert.equal(fake.issues.length, count);
  });

  it('GIVEN crashNextMutation WHEN the mutation is sent THEN the client sees a network error but the issue was created and is findable', async () => {
    const title = 'crash-between-send-and-mark';
    fake.crashNextMutation(1);
    const err = await client().client.rawRequest(CREATE, { input: { teamId: fake.team.id, title } }).catch((e: unknown) => e);
    assert.ok(err instanceof TypeError, String(err)); // rawRequest does not wrap fetch failures
    assert.equal(fake.calls.at(-1)!.outcome, 'crashed');
    const found = await client().client.rawRequest<{ issues: { nodes: unknown[] } }, Record<string, unknown>>(FIND, { title });
    assert.equal(found.data!.issues.nodes.length, 1);
  });

  it('GIVEN an issue filter the fake does not model WHEN queried THEN it answers a GraphQL error instead of an empty list', async () => {
    const err = await client().issues({ filter: { estimate: { eq: 3 } } }).catch((e: unknown) => e);
    assert.ok(err instanceof sdk.LinearError);
    assert.match(err.message, /not supported/);
  });
});

describe('fakes: Linear webhooks verified by @linear/sdk/webhooks', () => {
  const secret = 'whsec-test-secret';
  let receiver: http.Server;
  let url: string;
  const received: unknown[] = [];
  before(async () => {
    const { LinearWebhookClient } = await import('@linear/sdk/webhooks');
    const handler = new LinearWebhookClient(secret).createHandler();
    handler.on('Issue', (p) => void received.push(p));
    receiver = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/linear`;
  });
  after(() => new Promise<void>((r) => receiver.close(() => r())));
  const issue = { id: 'issue-1', identifier: 'GRID-1', title: 'alert', state: { name: 'Done', type: 'completed' } };

  it('GIVEN a correctly signed webhook WHEN posted to an SDK handler THEN it is accepted and verifyLinearWebhook agrees', async () => {
    const sent = await sendLinearIssueWebhook(url, issue, { secret, action: 'update' });
    assert.equal(sent.status, 200);
    assert.equal(received.length, 1);
    const verdict = await verifyLinearWebhook(sent.rawBody, sent.signature, secret);
    assert.ok(verdict.ok);
    assert.deepEqual((verdict.payload.data as { state: unknown }).state, { id: null, name: 'Done', type: 'completed', color: '#5e6ad2' });
  });

  it('GIVEN a forged signature or a stale timestamp WHEN posted THEN the SDK rejects both with 400', async () => {
    const forged = await sendLinearIssueWebhook(url, issue, { secret, forgeWithSecret: 'guessed' });
    const stale = await sendLinearIssueWebhook(url, issue, { secret, staleBySeconds: 120 });
    assert.deepEqual([forged.status, stale.status], [400, 400]);
    assert.deepEqual(await verifyLinearWebhook(forged.rawBody, forged.signature, secret), { ok: false, reason: 'Invalid webhook signature' });
    assert.deepEqual(await verifyLinearWebhook(stale.rawBody, stale.signature, secret), { ok: false, reason: 'Invalid webhook timestamp' });
    const tampered = buildLinearIssueWebhook(issue, { secret });
    const sent = await postLinearWebhook(url, { ...tampered, rawBody: tampered.rawBody.replace('alert', 'alarm') });
    assert.equal(sent.status, 400);
    assert.equal(received.length, 1); // only the first test's webhook got through
  });
});

describe('fakes: Discord webhooks with discord.js WebhookClient', () => {
  let fake: DiscordFake;
  const clients: WebhookClient[] = [];
  before(async () => (fake = await startDiscordFake()));
  after(async () => {
    for (const c of clients) c.destroy();
    await fake.close();
  });
  afterEach(() => assert.deepEqual(fake.handlerErrors, []));
  const client = (rest: Record<string, unknown> = {}, token = fake.webhook.token) => {
    const c = new WebhookClient({ id: fake.webhook.id, token }, { rest: { api: fake.apiUrl, ...rest } });
    clients.push(c);
    return c;
  };
  const embed = { title: 'Proposal rejected', description: 'CAP_EXCEEDED', color: 0xcc3333 };

  it('GIVEN a webhook WHEN send({ embeds }) THEN the message object comes back and the embed is recorded', async () => {
    const msg = await client().send({ embeds: [embed] });
    assert.equal(msg.webhook_id, fake.webhook.id);
    assert.equal(msg.embeds[0]?.title, 'Proposal rejected');
    const rec = fake.messages.at(-1)!;
    assert.equal(rec.request.path, `/api/v10/webhooks/${fake.webhook.id}/${fake.webhook.token}`);
    assert.equal(rec.request.query.wait, 'true');
    assert.deepEqual(rec.payload.embeds, [embed]);
  });

  it('GIVEN a scripted 429 with Retry-After 1 WHEN send THEN discord.js waits about one second and then succeeds', async () => {
    fake.enqueue({ status: 429, retryAfter: 1 });
    const start = fake.requests.length;
    await client().send({ embeds: [embed] });
    const [first, second] = fake.requests.slice(start);
    assert.equal(fake.requests.length - start, 2);
    const gap = second!.monotonicMs - first!.monotonicMs;
    assert.ok(gap >= 1000 && gap < 2000, `gap ${gap} ms`);
  });

  it('GIVEN rejectOnRateLimit WHEN a 429 arrives THEN send rejects with RateLimitError without retrying', async () => {
    fake.enqueue({ status: 429, retryAfter: 1 });
    const start = fake.requests.length;
    const err = await client({ rejectOnRateLimit: ['/webhooks'] }).send({ content: 'x' }).catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitError, String(err));
    assert.equal(err.retryAfter, 1050); // ms: Retry-After plus discord.js's 50 ms offset
    assert.equal(fake.requests.length - start, 1);
  });

  it('GIVEN 5xx answers WHEN send THEN discord.js retries 3 times at once and then throws HTTPError', async () => {
    fake.enqueue({ status: 500 });
    const start = fake.requests.length;
    await client().send({ content: 'after one 500' });
    assert.equal(fake.requests.length - start, 2);
    fake.enqueue({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
    const err = await client().send({ content: 'never' }).catch((e: unknown) => e);
    assert.ok(err instanceof HTTPError, String(err));
    assert.equal(err.status, 503);
    assert.equal(fake.requests.length - start, 6);
  });

  it('GIVEN a wrong token WHEN send THEN DiscordAPIError 50027; GIVEN the right one THEN GET returns the webhook object', async () => {
    const err = await client({}, 'wrong-token').send({ content: 'x' }).catch((e: unknown) => e);
    assert.ok(err instanceof DiscordAPIError, String(err));
    assert.deepEqual([err.status, err.code, err.message], [401, 50027, 'Invalid Webhook Token']);
    const hook = (await client().rest.get(Routes.webhook(fake.webhook.id, fake.webhook.token), { auth: false })) as { id: string; type: number };
    assert.deepEqual([hook.id, hook.type], [fake.webhook.id, 1]);
  });
});
