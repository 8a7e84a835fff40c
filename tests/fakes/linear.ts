// Fake Linear GraphQL API (`POST /graphql`) for @linear/sdk 98 on 127.0.0.1.
//
// Point the real SDK at it with (the SDK is ESM-only, and accepts plain http only for local hosts)
//   const { LinearClient } = await import('@linear/sdk');
//   new LinearClient({ apiKey: fake.apiKey, apiUrl: fake.apiUrl })
// Supported root fields: viewer, teams, team, issueLabels, issues, issue; mutations issueCreate,
// issueLabelCreate. Arguments may be $variables or literals. Responses contain exactly the selected
// fields (see ./graphql), so both raw requests and the SDK's generated documents get the shape they
// asked for. Errors use Linear's `extensions.type` strings, which the SDK maps to its LinearError
// subclasses (AuthenticationLinearError, InvalidInputLinearError, RatelimitedLinearError, ...).
import { randomUUID } from 'node:crypto';
import { crashConnection, header, sendJson, sendText, startHttpFake, type FakeServer, type RecordedRequest } from './http';
import { GraphQLSyntaxError, parseOperation, project, type ParsedOperation } from './graphql';

export interface FakeTeam { id: string; key: string; name: string }
export interface FakeState { id: string; name: string; type: 'triage' | 'backlog' | 'unstarted' | 'started' | 'completed' | 'canceled' }
export interface FakeLabel { id: string; name: string; color: string; teamId: string | null; createdAt: string }
export interface FakeIssue {
  id: string; identifier: string; number: number; title: string; description: string | null; priority: number;
  teamId: string; labelIds: string[]; state: FakeState; url: string; createdAt: string; updatedAt: string;
}

export interface LinearCall {
  request: RecordedRequest;
  operation?: ParsedOperation;
  /** Root field names, e.g. ['issueCreate']. */
  fields: string[];
  outcome: 'ok' | 'graphql-error' | 'unauthenticated' | 'failed' | 'crashed';
}

export interface LinearFake extends FakeServer {
  apiUrl: string;
  apiKey: string;
  team: FakeTeam;
  teams: FakeTeam[];
  states: FakeState[];
  labels: FakeLabel[];
  issues: FakeIssue[];
  calls: LinearCall[];
  /** The next `n` GraphQL requests get HTTP `status` with Linear's error body and change nothing. */
  failNext(n: number, status?: 400 | 429 | 500 | 502 | 503): void;
  /** The next `n` mutations are applied (unless applied=false) and then the socket is destroyed unanswered. */
  crashNextMutation(n?: number, opts?: { applied?: boolean }): void;
  setIssueState(idOrIdentifier: string, stateName: string): FakeIssue;
}

export interface LinearFakeOptions { apiKey?: string; teams?: Array<Partial<FakeTeam>>; orgUrlKey?: string }

class GqlError extends Error {
  constructor(message: string, readonly type: string, readonly code: string, readonly presentable?: string) { super(message); }
}

export function linearErrorBody(message: string, type: string, code: string, statusCode: number, presentable?: string): { errors: unknown[] } {
  return {
    errors: [{ message, extensions: { type, code, statusCode, userError: statusCode < 500, userPresentableMessage: presentable ?? message } }],
  };
}

const FAIL_BODIES: Record<number, [string, string, string]> = {
  400: ['Bad request', 'invalid input', 'INPUT_ERROR'],
  429: ['Rate limit exceeded', 'ratelimited', 'RATELIMITED'],
  500: ['Internal server error', 'internal error', 'INTERNAL_SERVER_ERROR'],
};

const STATE_SEED: Array<[string, FakeState['type']]> = [
  ['Triage', 'triage'], ['Backlog', 'backlog'], ['Todo', 'unstarted'], ['In Progress', 'started'], ['Done', 'completed'], ['Canceled', 'canceled'],
];

function matchString(v: string | null, cmp: unknown, field: string): boolean {
  const ops = (cmp ?? {}) as Record<string, unknown>;
  return Object.entries(ops).every(([op, want]) => {
    const s = v ?? '';
    const w = String(want);
    switch (op) {
      case 'eq': return v === want;
      case 'neq': return v !== want;
      case 'eqIgnoreCase': return s.toLowerCase() === w.toLowerCase();
      case 'contains': return s.includes(w);
      case 'containsIgnoreCase': return s.toLowerCase().includes(w.toLowerCase());
      case 'startsWith': return s.startsWith(w);
      case 'in': return Array.isArray(want) && want.includes(v);
      case 'null': return (v === null) === want;
      default: throw new GqlError(`linear fake: comparator ${field}.${op} is not supported`, 'graphql error', 'GRAPHQL_VALIDATION_FAILED');
    }
  });
}

export async function startLinearFake(options: LinearFakeOptions = {}): Promise<LinearFake> {
  const apiKey = options.apiKey ?? 'lin_api_fake0000000000000000000000000000000000';
  const org = options.orgUrlKey ?? 'grid-fake';
  const teams: FakeTeam[] = (options.teams ?? [{}]).map((t, i) => ({ id: t.id ?? randomUUID(), key: t.key ?? (i ? `GRID${i}` : 'GRID'), name: t.name ?? `Grid ${i}` }));
  const states: FakeState[] = STATE_SEED.map(([name, type]) => ({ id: randomUUID(), name, type }));
  const labels: FakeLabel[] = [];
  const issues: FakeIssue[] = [];
  const calls: LinearCall[] = [];
  const viewer = { id: randomUUID(), name: 'Grid Bot', displayName: 'gridbot', email: 'gridbot@example.invalid' };
  const failures: number[] = [];
  const crashes: boolean[] = [];
  let lastSyncId = 1000;
  const counters = new Map<string, number>();
  const now = () => new Date().toISOString();

  const timestamps = (createdAt: string, updatedAt = createdAt) => ({ createdAt, updatedAt, archivedAt: null });
  const userNode = () => ({ __typename: 'User', ...viewer, ...timestamps('2024-01-01T00:00:00.000Z'), active: true, admin: false, guest: false, isMe: true, url: `https://linear.app/${org}/profiles/${viewer.displayName}` });
  const teamNode = (t: FakeTeam) => ({ __typename: 'Team', ...t, ...timestamps('2024-01-01T00:00:00.000Z'), displayName: t.name, private: false, issueCount: issues.filter((i) => i.teamId === t.id).length });
  const labelNode = (l: FakeLabel) => ({ __typename: 'IssueLabel', ...l, ...timestamps(l.createdAt), isGroup: false, team: l.teamId ? { __typename: 'Team', id: l.teamId } : null });
  const stateNode = (s: FakeState) => ({ __typename: 'WorkflowState', ...s, color: '#bec2c8', position: STATE_SEED.findIndex(([n]) => n === s.name) });
  const issueNode = (i: FakeIssue) => ({
    __typename: 'Issue', ...i, ...timestamps(i.createdAt, i.updatedAt), priorityLabel: ['No priority', 'Urgent', 'High', 'Medium', 'Low'][i.priority],
    branchName: `gridbot/${i.identifier.toLowerCase()}`, trashed: false, reactions: [], reactionData: [], labelIds: i.labelIds,
    sharedAccess: { __typename: 'IssueSharedAccess', isShared: false, sharedWithCount: 0, viewerHasOnlySharedAccess: false, disallowedIssueFields: [], sharedWithUsers: [] },
    team: teamNode(teams.find((t) => t.id === i.teamId)!), state: stateNode(i.state), creator: userNode(),
    labels: connection(labels.filter((l) => i.labelIds.includes(l.id)).map(labelNode), undefined),
  });
  function connection<T>(nodes: T[], first: unknown) {
    const n = typeof first === 'number' ? first : 50;
    return { nodes: nodes.slice(0, n), pageInfo: { __typename: 'PageInfo', hasNextPage: nodes.length > n, hasPreviousPage: false, startCursor: null, endCursor: null } };
  }
  const notFound = (what: string) => new GqlError(`Entity not found: ${what}`, 'invalid input', 'INPUT_ERROR', `Could not find referenced ${what}.`);
  const findIssue = (key: unknown) => issues.find((i) => i.id === key || i.identifier === key);

  function matchIssue(i: FakeIssue, filter: unknown): boolean {
    return Object.entries((filter ?? {}) as Record<string, any>).every(([k, v]) => {
      switch (k) {
        case 'id': return matchString(i.id, v, k);
        case 'title': return matchString(i.title, v, k);
        case 'description': return matchString(i.description, v, k);
        case 'number': return v.eq === undefined || v.eq === i.number;
        case 'team': return (!v.id || matchString(i.teamId, v.id, 'team.id')) && (!v.key || matchString(teams.find((t) => t.id === i.teamId)!.key, v.key, 'team.key'));
        case 'state': return (!v.name || matchString(i.state.name, v.name, 'state.name')) && (!v.type || matchString(i.state.type, v.type, 'state.type'));
        case 'labels': {
          const byName = v.some?.name ?? v.name;
          return labels.some((l) => i.labelIds.includes(l.id) && matchString(l.name, byName, 'labels.name'));
        }
        case 'and': return (v as unknown[]).every((f) => matchIssue(i, f));
        case 'or': return (v as unknown[]).some((f) => matchIssue(i, f));
        default: throw new GqlError(`linear fake: issue filter "${k}" is not supported`, 'graphql error', 'GRAPHQL_VALIDATION_FAILED');
      }
    });
  }

  type Resolver = (args: Record<string, any>) => unknown;
  const queries: Record<string, Resolver> = {
    viewer: () => userNode(),
    teams: (a) => connection(teams.map(teamNode), a.first),
    team: (a) => teamNode(teams.find((t) => t.id === a.id || t.key === a.id) ?? (() => { throw notFound('Team'); })()),
    issueLabels: (a) => connection(labels.filter((l) => Object.entries((a.filter ?? {}) as Record<string, unknown>).every(([k, v]) => {
      if (k === 'name') return matchString(l.name, v, k);
      if (k === 'id') return matchString(l.id, v, k);
      throw new GqlError(`linear fake: label filter "${k}" is not supported`, 'graphql error', 'GRAPHQL_VALIDATION_FAILED');
    })).map(labelNode), a.first),
    issues: (a) => connection(issues.filter((i) => matchIssue(i, a.filter)).map(issueNode), a.first),
    issue: (a) => issueNode(findIssue(a.id) ?? (() => { throw notFound('Issue'); })()),
  };
  const mutations: Record<string, Resolver> = {
    issueCreate: ({ input }) => {
      const team = teams.find((t) => t.id === input?.teamId);
      if (!team) throw notFound('Team');
      if (typeof input.title !== 'string' || input.title.trim() === '') throw new GqlError('Argument Validation Error', 'invalid input', 'INPUT_ERROR', 'title must not be empty');
      const labelIds: string[] = input.labelIds ?? [];
      if (labelIds.some((id) => !labels.some((l) => l.id === id))) throw notFound('IssueLabel');
      const number = (counters.get(team.id) ?? 0) + 1;
      counters.set(team.id, number);
      const identifier = `${team.key}-${number}`;
      const slug = input.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
      const issue: FakeIssue = {
        id: randomUUID(), identifier, number, title: input.title, description: input.description ?? null, priority: input.priority ?? 0,
        teamId: team.id, labelIds, state: states[1]!, url: `https://linear.app/${org}/issue/${identifier}/${slug}`, createdAt: now(), updatedAt: now(),
      };
      issues.push(issue);
      return { __typename: 'IssuePayload', success: true, lastSyncId: ++lastSyncId, issue: issueNode(issue) };
    },
    issueLabelCreate: ({ input }) => {
      if (typeof input?.name !== 'string' || !input.name) throw new GqlError('Argument Validation Error', 'invalid input', 'INPUT_ERROR', 'name must not be empty');
      if (labels.some((l) => l.name.toLowerCase() === input.name.toLowerCase() && l.teamId === (input.teamId ?? null))) {
        throw new GqlError('duplicate label name', 'invalid input', 'INPUT_ERROR', `A label named "${input.name}" already exists.`);
      }
      const label: FakeLabel = { id: randomUUID(), name: input.name, color: input.color ?? '#eb5757', teamId: input.teamId ?? null, createdAt: now() };
      labels.push(label);
      return { __typename: 'IssueLabelPayload', success: true, lastSyncId: ++lastSyncId, issueLabel: labelNode(label) };
    },
  };

  const rateHeaders = () => ({ 'x-ratelimit-requests-limit': '5000', 'x-ratelimit-requests-remaining': '4999', 'x-ratelimit-requests-reset': String(Date.now() + 3600_000) });

  const base = await startHttpFake((req, res) => {
    if (req.path !== '/graphql') return sendText(res, 404, 'Not Found');
    const call: LinearCall = { request: req, fields: [], outcome: 'failed' };
    calls.push(call);
    const auth = header(req.headers, 'authorization');
    if (auth !== apiKey) {
      call.outcome = 'unauthenticated';
      return sendJson(res, 401, linearErrorBody('Authentication required, not authenticated', 'authentication error', 'AUTHENTICATION_ERROR', 401, 'You need to authenticate to access this operation.'));
    }
    const failStatus = failures.shift();
    if (failStatus !== undefined) {
      const [msg, type, code] = FAIL_BODIES[failStatus] ?? [];
      if (!msg) return sendText(res, failStatus, 'upstream connect error or disconnect/reset before headers');
      const headers: Record<string, string> = failStatus === 429 ? { ...rateHeaders(), 'x-ratelimit-requests-remaining': '0', 'retry-after': '1' } : {};
      return sendJson(res, failStatus, linearErrorBody(msg, type!, code!, failStatus), headers);
    }
    const body = req.body as { query?: unknown; variables?: Record<string, unknown> } | undefined;
    if (typeof body?.query !== 'string') return sendJson(res, 400, linearErrorBody('Must provide query string.', 'graphql error', 'BAD_REQUEST', 400));
    let op: ParsedOperation;
    try {
      op = parseOperation(body.query, body.variables ?? {});
    } catch (e) {
      if (!(e instanceof GraphQLSyntaxError)) throw e;
      return sendJson(res, 400, linearErrorBody(e.message, 'graphql error', 'GRAPHQL_PARSE_FAILED', 400));
    }
    call.operation = op;
    call.fields = op.root.map((f) => f.name);
    const table = op.type === 'mutation' ? mutations : queries;
    const unknown = op.root.find((f) => !table[f.name]);
    if (unknown) {
      call.outcome = 'graphql-error';
      const msg = `Cannot query field "${unknown.name}" on type "${op.type === 'mutation' ? 'Mutation' : 'Query'}".`;
      return sendJson(res, 400, linearErrorBody(msg, 'graphql error', 'GRAPHQL_VALIDATION_FAILED', 400));
    }
    const crash = op.type === 'mutation' ? crashes.shift() : undefined;
    if (crash === false) {
      call.outcome = 'crashed';
      return crashConnection(res);
    }
    const data: Record<string, unknown> = {};
    const errors: unknown[] = [];
    for (const f of op.root) {
      try {
        data[f.key] = project(table[f.name]!(f.args), f.sub, op.fragments);
      } catch (e) {
        if (!(e instanceof GqlError)) throw e;
        data[f.key] = null;
        const [err] = linearErrorBody(e.message, e.type, e.code, e.type === 'graphql error' ? 400 : 200, e.presentable).errors as Array<Record<string, unknown>>;
        errors.push({ ...err, path: [f.key] });
      }
    }
    if (crash === true) {
      call.outcome = 'crashed';
      return crashConnection(res);
    }
    call.outcome = errors.length ? 'graphql-error' : 'ok';
    const allFailed = errors.length === op.root.length;
    return sendJson(res, 200, errors.length ? { data: allFailed ? null : data, errors } : { data }, rateHeaders());
  });

  return {
    ...base,
    apiUrl: `${base.url}/graphql`,
    apiKey,
    team: teams[0]!,
    teams,
    states,
    labels,
    issues,
    calls,
    failNext: (n, status = 500) => void failures.push(...Array<number>(n).fill(status)),
    crashNextMutation: (n = 1, opts = {}) => void crashes.push(...Array<boolean>(n).fill(opts.applied ?? true)),
    setIssueState: (key, stateName) => {
      const issue = findIssue(key);
      const state = states.find((s) => s.name === stateName);
      if (!issue || !state) throw new Error(`linear fake: unknown issue ${key} or state ${stateName}`);
      issue.state = state;
      issue.updatedAt = now();
      return issue;
    },
  };
}
