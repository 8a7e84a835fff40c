// Sends Linear-shaped webhooks to a URL (the project's receiver), signed as Linear signs them, and
// verifies them with the SDK's own verifier so tests compare against the real rule, not a copy.
//
// What @linear/sdk 98 (`@linear/sdk/webhooks`, class LinearWebhookClient) checks:
//   - `linear-signature` header == hex(HMAC-SHA256(secret, raw body bytes)), compared in constant time;
//   - `webhookTimestamp` (ms, a number) INSIDE the signed body is within ±60 s of Date.now().
//     The `linear-timestamp` header is ignored by verify(); only the signed body field counts.
// `verify()` and `parseData()` THROW on failure (they never return false).
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { FakeIssue } from './linear';

/** Linear's replay window as enforced by LinearWebhookClient.verify (ms). */
export const LINEAR_WEBHOOK_WINDOW_MS = 60_000;

export interface IssueWebhookData {
  id: string;
  identifier: string;
  title: string;
  state: { id?: string; name: string; type: string };
  number?: number;
  description?: string | null;
  teamId?: string;
  url?: string;
  labelIds?: string[];
}

export interface LinearWebhookOptions {
  secret: string;
  action?: 'create' | 'update' | 'remove';
  /** Extra/overriding fields of `data`. */
  data?: Record<string, unknown>;
  updatedFrom?: Record<string, unknown>;
  /** webhookTimestamp (ms). Default: now. */
  timestamp?: number;
  /** Shift the timestamp this many seconds into the past (beyond 60 it fails verification). */
  staleBySeconds?: number;
  /** Sign with this secret instead (a forged sender who does not know the real one). */
  forgeWithSecret?: string;
  /** Send exactly this header value instead of a computed signature. */
  signatureOverride?: string;
  organizationId?: string;
}

export function signLinearWebhook(rawBody: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

/** Issue fields as Linear puts them in `data`, from a fake issue or a hand-built object. */
export function issueWebhookData(issue: FakeIssue | IssueWebhookData): Record<string, unknown> {
  const state = issue.state;
  return {
    id: issue.id,
    identifier: issue.identifier,
    title: issue.title,
    number: issue.number ?? Number(issue.identifier.split('-')[1] ?? 0),
    description: issue.description ?? null,
    priority: 'priority' in issue ? issue.priority : 0,
    teamId: issue.teamId ?? null,
    stateId: state.id ?? null,
    labelIds: issue.labelIds ?? [],
    url: issue.url ?? null,
    createdAt: 'createdAt' in issue ? issue.createdAt : new Date().toISOString(),
    updatedAt: 'updatedAt' in issue ? issue.updatedAt : new Date().toISOString(),
    state: { id: state.id ?? null, name: state.name, type: state.type, color: '#5e6ad2' },
  };
}

export interface BuiltWebhook {
  payload: Record<string, unknown>;
  rawBody: string;
  signature: string;
  headers: Record<string, string>;
}

export function buildLinearIssueWebhook(issue: FakeIssue | IssueWebhookData, opts: LinearWebhookOptions): BuiltWebhook {
  const timestamp = (opts.timestamp ?? Date.now()) - (opts.staleBySeconds ?? 0) * 1000;
  const data = { ...issueWebhookData(issue), ...opts.data };
  const payload: Record<string, unknown> = {
    action: opts.action ?? 'update',
    actor: { id: randomUUID(), name: 'Grid Operator', type: 'user' },
    createdAt: new Date(timestamp).toISOString(),
    data,
    ...(opts.updatedFrom ? { updatedFrom: opts.updatedFrom } : {}),
    url: data.url ?? null,
    type: 'Issue',
    organizationId: opts.organizationId ?? 'fake-org-id',
    webhookTimestamp: timestamp,
    webhookId: 'fake-webhook-id',
  };
  const rawBody = JSON.stringify(payload);
  const signature = opts.signatureOverride ?? signLinearWebhook(rawBody, opts.forgeWithSecret ?? opts.secret);
  return {
    payload,
    rawBody,
    signature,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Linear-Webhook',
      'linear-delivery': randomUUID(),
      'linear-event': 'Issue',
      'linear-signature': signature,
      'linear-timestamp': String(timestamp),
    },
  };
}

export interface SentWebhook extends BuiltWebhook {
  status: number;
  responseText: string;
}

/** POSTs a built webhook to `url` over a fresh connection (agent: false: no pooled socket outlives the test). */
export function postLinearWebhook(url: string, built: BuiltWebhook): Promise<SentWebhook> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { ...built.headers, 'content-length': String(Buffer.byteLength(built.rawBody)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ ...built, status: res.statusCode ?? 0, responseText: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(built.rawBody);
  });
}

export function sendLinearIssueWebhook(url: string, issue: FakeIssue | IssueWebhookData, opts: LinearWebhookOptions): Promise<SentWebhook> {
  return postLinearWebhook(url, buildLinearIssueWebhook(issue, opts));
}

export type WebhookVerdict = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string };

/** Verifies with the SDK's LinearWebhookClient (the same code a production receiver should call). */
export async function verifyLinearWebhook(rawBody: string | Buffer, signature: string, secret: string): Promise<WebhookVerdict> {
  const { LinearWebhookClient } = await import('@linear/sdk/webhooks');
  try {
    const body = Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, 'utf8');
    const payload = new LinearWebhookClient(secret).parseData(body, signature) as unknown as Record<string, unknown>;
    return { ok: true, payload };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
