/**
 * Linear channel: one ticket per rejected proposal (`Dispute: {proposal_id}`) and one per breaker
 * trip (`Circuit breaker opened: … ({proposal_id})`), through @linear/sdk's raw GraphQL client.
 *
 * Idempotent across crashes: before creating, the ticket is looked up by its title (the title
 * carries the alert's key), and an existing one is adopted. So a crash after Linear created the
 * issue but before the dispatcher marked the delivery (or a lost response) never yields a second
 * ticket. Small raw documents instead of the SDK's models: `await payload.issue` would send a
 * second, large query per ticket (FIELD-NOTES).
 */
import { LIMITS } from '../../validator/limits';
import { BREAKER_PREFIX, ticketBody, ticketTitle } from './format';
import { DeliveryError, type Alert, type AlertChannel, type Delivered } from './types';

type LinearSdk = typeof import('@linear/sdk', { with: { 'resolution-mode': 'import' } });

const A = LIMITS.alerts;

export interface LinearChannelOptions {
  apiKey: string;
  /** GraphQL endpoint; default https://api.linear.app/graphql. */
  apiUrl?: string;
  /** Team id or key (LINEAR_TEAM_ID); when absent the workspace must have exactly one team. */
  team?: string;
  /** Rejection codes that never open a ticket (e.g. CIRCUIT_OPEN floods while the breaker is open). */
  skipCodes?: readonly string[];
  /** The label every dispute ticket carries next to its code (LINEAR_LABEL; default "dispute"). */
  label?: string;
  timeoutMs?: number;
}

const FIND_ISSUES = `query GridFindIssues($filter: IssueFilter!) {
  issues(filter: $filter, first: 5) { nodes { id identifier url title } } }`;
const CREATE_ISSUE = `mutation GridCreateIssue($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } } }`;
const FIND_LABELS = `query GridFindLabels($name: String!) {
  issueLabels(filter: { name: { eqIgnoreCase: $name } }, first: 20) { nodes { id name team { id } } } }`;
const CREATE_LABEL = `mutation GridCreateLabel($input: IssueLabelCreateInput!) {
  issueLabelCreate(input: $input) { success issueLabel { id name } } }`;
const TEAM = `query GridTeam($id: String!) { team(id: $id) { id key name } }`;
const TEAMS = `query GridTeams { teams(first: 2) { nodes { id key name } } }`;

const PRIORITY: Record<Alert['severity'], number> = { critical: 1, warning: 2, info: 4, resolved: 0 };
const LABEL_COLOURS: Record<string, string> = { dispute: '#eb5757', 'circuit-breaker': '#e5484d' };

interface IssueRef {
  id: string;
  identifier: string;
  url: string;
}

export class LinearChannel implements AlertChannel {
  readonly name = 'linear';
  readonly batchSize = A.outboxBatch;
  private sdk: LinearSdk | null = null;
  private teamId: string | null = null;
  private readonly labelIds = new Map<string, string>();

  constructor(private readonly opts: LinearChannelOptions) {
    if (!opts.apiKey) throw new DeliveryError('MISCONFIGURED', 'LINEAR_API_KEY is empty', false);
  }

  accepts(alert: Alert): boolean {
    if (alert.topic === 'breaker') return alert.open; // a reset is the answer to a ticket, not a new one
    return !(this.opts.skipCodes ?? []).includes(alert.code);
  }

  async deliver(alert: Alert): Promise<Delivered> {
    const teamId = await this.team();
    const existing = await this.find(alert, teamId);
    if (existing) return { remoteId: existing.id, remoteUrl: existing.url, adopted: true };
    const labelNames = alert.topic === 'rejection' ? [this.opts.label || 'dispute', alert.code] : ['circuit-breaker'];
    const labelIds: string[] = [];
    for (const n of labelNames) labelIds.push(await this.label(n, teamId));
    const res = await this.request<{ issueCreate: { success: boolean; issue: IssueRef | null } }>(CREATE_ISSUE, {
      input: { teamId, title: ticketTitle(alert), description: ticketBody(alert), labelIds, priority: PRIORITY[alert.severity] },
    });
    const issue = res.issueCreate.issue;
    if (!res.issueCreate.success || !issue) throw new DeliveryError('REMOTE_REJECTED', 'Linear answered issueCreate without success', true);
    return { remoteId: issue.id, remoteUrl: issue.url };
  }

  /** The ticket an earlier attempt may already have created for this alert. */
  async find(alert: Alert, teamId: string): Promise<IssueRef | null> {
    const title = ticketTitle(alert);
    const byTitle = alert.topic === 'rejection' ? [{ title: { eq: title } }] : [{ title: { startsWith: BREAKER_PREFIX } }, { title: { contains: `(${alert.key})` } }];
    const res = await this.request<{ issues: { nodes: Array<IssueRef & { title: string }> } }>(FIND_ISSUES, {
      filter: { and: [{ team: { id: { eq: teamId } } }, ...byTitle] },
    });
    return res.issues.nodes[0] ?? null;
  }

  private async team(): Promise<string> {
    if (this.teamId) return this.teamId;
    if (this.opts.team) {
      const r = await this.request<{ team: { id: string } | null }>(TEAM, { id: this.opts.team });
      if (!r.team) throw new DeliveryError('MISCONFIGURED', `Linear has no team ${this.opts.team} (LINEAR_TEAM_ID)`, false);
      this.teamId = r.team.id;
    } else {
      const r = await this.request<{ teams: { nodes: Array<{ id: string; key: string }> } }>(TEAMS, {});
      if (r.teams.nodes.length !== 1) {
        throw new DeliveryError('MISCONFIGURED', `the Linear workspace has ${r.teams.nodes.length === 0 ? 'no' : 'several'} teams: set LINEAR_TEAM_ID (id or key)`, false);
      }
      this.teamId = r.teams.nodes[0]!.id;
    }
    return this.teamId;
  }

  /** Find-or-create a label usable on the team (a workspace label or the team's own). */
  private async label(name: string, teamId: string): Promise<string> {
    const key = name.toLowerCase();
    const cached = this.labelIds.get(key);
    if (cached) return cached;
    const found = async () => {
      const r = await this.request<{ issueLabels: { nodes: Array<{ id: string; team: { id: string } | null }> } }>(FIND_LABELS, { name });
      return r.issueLabels.nodes.find((l) => l.team === null || l.team.id === teamId)?.id ?? null;
    };
    let id = await found();
    if (!id) {
      try {
        const r = await this.request<{ issueLabelCreate: { success: boolean; issueLabel: { id: string } | null } }>(CREATE_LABEL, {
          input: { name, teamId, color: LABEL_COLOURS[key] ?? '#f2994a' },
        });
        id = r.issueLabelCreate.issueLabel?.id ?? null;
      } catch (e) {
        // Another dispatcher created it first (Linear refuses a duplicate name): use theirs.
        id = await found();
        if (!id) throw e;
      }
      if (!id) throw new DeliveryError('REMOTE_REJECTED', `Linear did not create label ${name}`, true);
    }
    if (this.labelIds.size >= A.maxCachedLabels) this.labelIds.clear();
    this.labelIds.set(key, id);
    return id;
  }

  private async request<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    this.sdk ??= await import('@linear/sdk');
    // A client per request: its fetch options (the abort signal) are fixed at construction.
    const client = new this.sdk.LinearClient({
      apiKey: this.opts.apiKey,
      ...(this.opts.apiUrl ? { apiUrl: this.opts.apiUrl } : {}),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? A.deliveryTimeoutMs),
    });
    try {
      const res = await client.client.rawRequest<T, Record<string, unknown>>(query, variables);
      if (!res.data) throw new DeliveryError('REMOTE_UNAVAILABLE', 'Linear answered without data', true);
      return res.data;
    } catch (e) {
      throw classify(e);
    }
  }
}

/** @linear/sdk errors (LinearError with .type/.status; fetch's TypeError on a dropped connection) → DeliveryError. */
export function classify(e: unknown): DeliveryError {
  if (e instanceof DeliveryError) return e;
  const err = e as { name?: string; message?: string; type?: string; status?: number; retryAfter?: number };
  const msg = String(err?.message ?? e).slice(0, 500);
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError') return new DeliveryError('TIMEOUT', `Linear did not answer within the delivery timeout`, true);
  switch (err?.type) {
    case 'Ratelimited': {
      const after = typeof err.retryAfter === 'number' ? err.retryAfter * 1000 : undefined;
      return new DeliveryError('RATE_LIMITED', `Linear rate limit: ${msg}`, true, after);
    }
    case 'AuthenticationError':
    case 'Forbidden':
      return new DeliveryError('AUTH_FAILED', `Linear refused the API key: ${msg}`, false);
    case 'InvalidInput':
    case 'GraphqlError':
    case 'UserError':
    case 'FeatureNotAccessible':
    case 'UsageLimitExceeded':
      return new DeliveryError('REMOTE_REJECTED', `Linear rejected the request: ${msg}`, false);
    case undefined:
      return new DeliveryError('NETWORK', `Linear request failed: ${msg}`, true);
    default:
      return new DeliveryError('REMOTE_UNAVAILABLE', `Linear is unavailable (${err.status ?? err.type}): ${msg}`, true);
  }
}
