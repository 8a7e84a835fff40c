/**
 * Discord channel: one embed per alert through discord.js `WebhookClient`.
 *
 * Why not discord.js's own retry handling: on a 429 it waits for the headers' reset and retries
 * with NO limit (and retries at once, forever, when the headers are missing); on 5xx it retries
 * immediately, without backoff. So the client is built with `rejectOnRateLimit` (a 429 throws
 * RateLimitError with `retryAfter` in ms) and `retries: 0`, and this channel does the bounded
 * part itself: a Retry-After up to LIMITS.alerts.maxRateLimitWaitMs is waited out in place, at
 * most maxRateLimitRetries times; anything longer, and every 5xx or network error, goes back to
 * the dispatcher, which reschedules with exponential backoff (and honours Retry-After).
 *
 * Discord webhooks have no idempotency key, so delivery here is at-least-once: a crash between
 * a successful send and the dispatcher's mark can repeat a message (Linear, by contrast, is
 * deduplicated by ticket lookup).
 */
import type { WebhookClient } from 'discord.js';
import { LIMITS } from '../../validator/limits';
import { discordEmbed } from './format';
import { DeliveryError, type Alert, type AlertChannel, type Delivered } from './types';

const A = LIMITS.alerts;

export interface DiscordChannelOptions {
  /** Webhook id and token, or a full https://discord.com/api/webhooks/{id}/{token} URL. */
  id?: string;
  token?: string;
  url?: string;
  /** REST base (`http://127.0.0.1:PORT/api` for a local fake); discord.js appends /v10. */
  apiUrl?: string;
  username?: string;
  /** Only alerts at these severities are posted (default: all). */
  severities?: ReadonlyArray<Alert['severity']>;
  maxRateLimitWaitMs?: number;
  maxRateLimitRetries?: number;
  timeoutMs?: number;
  /** Injected for tests that measure waits; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

const WEBHOOK_URL = /^https:\/\/(?:(?:canary|ptb)\.)?discord(?:app)?\.com\/api(?:\/v\d+)?\/webhooks\/(\d+)\/([\w-]+)\/?$/;

export function parseWebhookUrl(url: string): { id: string; token: string } {
  const m = WEBHOOK_URL.exec(url.trim());
  if (!m) throw new DeliveryError('MISCONFIGURED', 'DISCORD_WEBHOOK_URL must look like https://discord.com/api/webhooks/{id}/{token}', false);
  return { id: m[1]!, token: m[2]! };
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class DiscordChannel implements AlertChannel {
  readonly name = 'discord';
  readonly batchSize = A.outboxBatch;
  private client: WebhookClient | null = null;
  private readonly id: string;
  private readonly token: string;

  constructor(private readonly opts: DiscordChannelOptions) {
    const creds = opts.url ? parseWebhookUrl(opts.url) : { id: opts.id ?? '', token: opts.token ?? '' };
    if (!/^\d{5,25}$/.test(creds.id) || !creds.token) {
      throw new DeliveryError('MISCONFIGURED', 'the Discord webhook needs a numeric id and a token (DISCORD_WEBHOOK_ID/TOKEN or DISCORD_WEBHOOK_URL)', false);
    }
    this.id = creds.id;
    this.token = creds.token;
  }

  accepts(alert: Alert): boolean {
    return !this.opts.severities || this.opts.severities.includes(alert.severity);
  }

  private async webhook(): Promise<WebhookClient> {
    if (this.client) return this.client;
    // Loaded on first use: discord.js is large and most runs have no webhook configured. require,
    // not import(): discord.js is CommonJS, and import() would type it from its ESM declarations.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { WebhookClient: Client } = require('discord.js') as typeof import('discord.js');
    const client = new Client(
      { id: this.id, token: this.token },
      {
        allowedMentions: { parse: [] },
        rest: {
          ...(this.opts.apiUrl ? { api: this.opts.apiUrl } : {}),
          rejectOnRateLimit: () => true,
          retries: 0,
          timeout: this.opts.timeoutMs ?? A.deliveryTimeoutMs,
        },
      },
    );
    this.client = client;
    return client;
  }

  async deliver(alert: Alert): Promise<Delivered> {
    const client = await this.webhook();
    const maxWait = this.opts.maxRateLimitWaitMs ?? A.maxRateLimitWaitMs;
    const maxRetries = this.opts.maxRateLimitRetries ?? A.maxRateLimitRetries;
    const sleep = this.opts.sleep ?? defaultSleep;
    for (let waited = 0; ; waited++) {
      try {
        const msg = await client.send({ embeds: [discordEmbed(alert)], username: this.opts.username, allowedMentions: { parse: [] } });
        return { remoteId: msg.id };
      } catch (e) {
        const err = classify(e);
        if (err.code === 'RATE_LIMITED' && err.retryAfterMs !== undefined && err.retryAfterMs <= maxWait && waited < maxRetries) {
          await sleep(err.retryAfterMs);
          continue;
        }
        throw err;
      }
    }
  }

  close(): void {
    this.client?.destroy();
    this.client = null;
  }
}

/** discord.js errors → DeliveryError (duck-typed: the classes live in an ESM-agnostic package). */
export function classify(e: unknown): DeliveryError {
  if (e instanceof DeliveryError) return e;
  const err = e as { name?: string; message?: string; status?: number; code?: number | string; retryAfter?: number; global?: boolean };
  const msg = String(err?.message ?? e);
  if (typeof err?.retryAfter === 'number' && (err.name?.includes('RateLimit') ?? false)) {
    // retryAfter is in ms (Retry-After plus discord.js's 50 ms offset); a 429 without headers gives 0.
    return new DeliveryError('RATE_LIMITED', `Discord rate limit${err.global ? ' (global)' : ''}: retry after ${err.retryAfter} ms`, true, Math.max(err.retryAfter, A.baseBackoffMs));
  }
  if (typeof err?.status === 'number') {
    if (err.status >= 500) return new DeliveryError('REMOTE_UNAVAILABLE', `Discord answered ${err.status}: ${msg}`, true);
    if (err.status === 401 || err.status === 403) return new DeliveryError('AUTH_FAILED', `Discord refused the webhook credentials (${err.status}): ${msg}`, false);
    if (err.status === 404) return new DeliveryError('MISCONFIGURED', `Discord does not know this webhook (404): ${msg}`, false);
    if (err.status === 408) return new DeliveryError('TIMEOUT', `Discord timed out (408)`, true);
    return new DeliveryError('REMOTE_REJECTED', `Discord rejected the message (${err.status}): ${msg}`, false);
  }
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError') return new DeliveryError('TIMEOUT', `Discord did not answer in time: ${msg}`, true);
  return new DeliveryError('NETWORK', `Discord request failed: ${msg}`, true);
}
