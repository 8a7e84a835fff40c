// Fake Discord REST API (webhook routes only) for discord.js 14 / @discordjs/rest 2 on 127.0.0.1.
//
// Point the real SDK at it with
//   new WebhookClient({ id: hook.id, token: hook.token }, { rest: { api: fake.apiUrl } })
// (`WebhookClient({ url })` rejects any host but discord.com.) discord.js appends `/v10`.
// Bodies, codes and rate-limit headers follow Discord's documented wire format, so the SDK's own
// rate-limit logic runs: on a 429 it waits Retry-After / X-RateLimit-Reset-After (+ its 50 ms
// offset) and retries; 5xx it retries immediately up to `rest.retries` (3) times.
import { randomInt } from 'node:crypto';
import { crashConnection, sendJson, startHttpFake, type FakeServer, type RecordedRequest } from './http';

export interface DiscordWebhook {
  /** A snowflake (17–19 digits): @discordjs/rest buckets webhook routes by id only when it looks like one. */
  id: string;
  token: string;
  channelId: string;
  guildId: string;
  name: string;
}

/** Scripted answer for the next webhook request(s). */
export type DiscordFault =
  | {
      status: 429;
      /** Seconds; sent as `Retry-After`, `X-RateLimit-Reset-After` and body `retry_after`. */
      retryAfter: number;
      global?: boolean;
      scope?: 'user' | 'global' | 'shared';
      /** Drop all rate-limit headers. WARNING: discord.js then retries at once, forever, unless rejectOnRateLimit is set. */
      omitHeaders?: boolean;
    }
  | { status: 500 | 502 | 503 | 504 }
  | { status: 401 | 404 }
  | { crash: true };

export interface DiscordMessageRecord {
  request: RecordedRequest;
  webhookId: string;
  /** The JSON body discord.js posted (content, embeds, username, allowed_mentions, ...). */
  payload: { content?: string; embeds?: unknown[]; [k: string]: unknown };
  /** The message object returned (only when wait=true). */
  message?: Record<string, unknown>;
}

export interface DiscordFake extends FakeServer {
  /** `${url}/api`: pass as `rest.api`. */
  apiUrl: string;
  webhook: DiscordWebhook;
  webhooks: DiscordWebhook[];
  /** Messages accepted (2xx), in order. Rejected attempts are only in `requests`. */
  messages: DiscordMessageRecord[];
  enqueue(...faults: DiscordFault[]): void;
  pending(): number;
}

export interface DiscordFakeOptions {
  webhooks?: Array<Partial<DiscordWebhook>>;
}

/** Discord's documented message limits (https://discord.com/developers/docs/resources/message). */
export const DISCORD_LIMITS = { contentChars: 2000, embeds: 10, embedTotalChars: 6000 } as const;

function snowflake(): string {
  // Epoch-ms shifted by 22 bits, as Discord does; random low bits keep ids unique within a test.
  return ((BigInt(Date.now() - 1420070400000) << 22n) | BigInt(randomInt(0, 1 << 22))).toString();
}

const BUCKET = 'fake0webhook0bucket0hash0000000';
const ROUTE = /^\/api\/v(\d+)\/webhooks\/(\d+)\/([^/]+)(\/messages\/(\d+|@original))?$/;

function embedChars(embeds: unknown[]): number {
  let n = 0;
  for (const e of embeds as Array<Record<string, any>>) {
    n += (e.title ?? '').length + (e.description ?? '').length + (e.footer?.text ?? '').length + (e.author?.name ?? '').length;
    for (const f of (e.fields ?? []) as Array<{ name?: string; value?: string }>) n += (f.name ?? '').length + (f.value ?? '').length;
  }
  return n;
}

function invalidForm(field: string, code: string, message: string): Record<string, unknown> {
  return { message: 'Invalid Form Body', code: 50035, errors: { [field]: { _errors: [{ code, message }] } } };
}

export async function startDiscordFake(options: DiscordFakeOptions = {}): Promise<DiscordFake> {
  const webhooks: DiscordWebhook[] = (options.webhooks ?? [{}]).map((w, i) => ({
    id: w.id ?? snowflake(),
    token: w.token ?? `fake-webhook-token-${i}-${randomInt(1e9)}`,
    channelId: w.channelId ?? snowflake(),
    guildId: w.guildId ?? snowflake(),
    name: w.name ?? `Grid Alerts ${i}`,
  }));
  const faults: DiscordFault[] = [];
  const messages: DiscordMessageRecord[] = [];

  const okHeaders = (): Record<string, string> => ({
    // Remaining never reaches 0, so discord.js never pre-emptively waits on successful traffic.
    'x-ratelimit-bucket': BUCKET,
    'x-ratelimit-limit': '5',
    'x-ratelimit-remaining': '4',
    'x-ratelimit-reset': ((Date.now() + 2000) / 1000).toFixed(3),
    'x-ratelimit-reset-after': '2.000',
  });

  const base = await startHttpFake((req, res) => {
    const m = ROUTE.exec(req.path);
    if (!m) return sendJson(res, 404, { message: '404: Not Found', code: 0 });
    const [, , id, token, messagePart] = m as unknown as [string, string, string, string, string | undefined];
    const hook = webhooks.find((w) => w.id === id);
    if (!hook) return sendJson(res, 404, { message: 'Unknown Webhook', code: 10015 });

    const fault = faults.shift();
    if (fault && 'crash' in fault) return crashConnection(res);
    if (fault?.status === 429) {
      const body = { message: 'You are being rate limited.', retry_after: fault.retryAfter, global: fault.global ?? false };
      if (fault.omitHeaders) return sendJson(res, 429, body);
      const headers: Record<string, string> = {
        'retry-after': String(Math.ceil(fault.retryAfter)),
        'x-ratelimit-bucket': BUCKET,
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': ((Date.now() + fault.retryAfter * 1000) / 1000).toFixed(3),
        'x-ratelimit-reset-after': fault.retryAfter.toFixed(3),
        'x-ratelimit-scope': fault.scope ?? (fault.global ? 'global' : 'user'),
      };
      if (fault.global) headers['x-ratelimit-global'] = 'true';
      return sendJson(res, 429, body, headers);
    }
    if (fault && fault.status >= 500) return sendJson(res, fault.status, { message: '500: Internal Server Error', code: 0 });
    if (fault?.status === 404) return sendJson(res, 404, { message: 'Unknown Webhook', code: 10015 });
    if (fault?.status === 401 || token !== hook.token) return sendJson(res, 401, { message: 'Invalid Webhook Token', code: 50027 });

    if (req.method === 'GET' && !messagePart) {
      return sendJson(res, 200, {
        application_id: null, avatar: null, channel_id: hook.channelId, guild_id: hook.guildId,
        id: hook.id, name: hook.name, type: 1, token: hook.token,
      }, okHeaders());
    }
    if (req.method !== 'POST' || messagePart) return sendJson(res, 405, { message: '405: Method Not Allowed', code: 0 });

    if (req.body === undefined || typeof req.body !== 'object') {
      return sendJson(res, 400, { message: 'The request body contains invalid JSON.', code: 50109 });
    }
    const payload = req.body as DiscordMessageRecord['payload'];
    const embeds = Array.isArray(payload.embeds) ? payload.embeds : [];
    if (!payload.content && embeds.length === 0) return sendJson(res, 400, { message: 'Cannot send an empty message', code: 50006 });
    if ((payload.content ?? '').length > DISCORD_LIMITS.contentChars) {
      return sendJson(res, 400, invalidForm('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.'));
    }
    if (embeds.length > DISCORD_LIMITS.embeds) {
      return sendJson(res, 400, invalidForm('embeds', 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.'));
    }
    if (embedChars(embeds) > DISCORD_LIMITS.embedTotalChars) {
      return sendJson(res, 400, invalidForm('embeds', 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000'));
    }

    const record: DiscordMessageRecord = { request: req, webhookId: hook.id, payload };
    messages.push(record);
    // Without ?wait=true Discord answers 204 and no message object.
    if (req.query.wait !== 'true') {
      res.writeHead(204, okHeaders());
      return void res.end();
    }
    record.message = {
      id: snowflake(), type: 0, content: payload.content ?? '', channel_id: hook.channelId,
      author: { id: hook.id, username: (payload.username as string | undefined) ?? hook.name, avatar: null, discriminator: '0000', public_flags: 0, flags: 0, bot: true, global_name: null },
      attachments: [], embeds: embeds.map((e) => ({ type: 'rich', ...(e as object) })), mentions: [], mention_roles: [], pinned: false, mention_everyone: false, tts: false,
      timestamp: new Date().toISOString(), edited_timestamp: null, flags: 0, components: [], webhook_id: hook.id,
    };
    return sendJson(res, 200, record.message, okHeaders());
  });

  return {
    ...base,
    apiUrl: `${base.url}/api`,
    webhook: webhooks[0]!,
    webhooks,
    messages,
    enqueue: (...f) => void faults.push(...f),
    pending: () => faults.length,
  };
}
