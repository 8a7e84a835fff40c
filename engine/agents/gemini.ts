/**
 * The Gemini proposer: asks a Gemini model, through Google's maintained SDK `@google/genai`, for
 * one proposal per agent per tick, with structured JSON output constrained by a schema derived
 * from the law (prompt.ts).
 *
 * Model output is never repaired: if the text is a JSON object the engine adds only the envelope
 * it owns (a proposal_id, and the agent it asked) where the model left them out; anything else —
 * prose, truncated JSON, an array — goes to the writer as the raw text and is recorded as a
 * MALFORMED rejection. Token usage (usageMetadata) is returned with the attempt so the engine
 * charges it to the agent's llm_budget (budget.ts); an agent with no budget left is frozen.
 *
 * Retries: the SDK retries only when configured and ignores Retry-After and RetryInfo, so this
 * file retries itself — 429, 408 and 5xx and network errors, at most LIMITS.llm.maxAttempts
 * calls, exponential backoff with full jitter capped at LIMITS.llm.maxBackoffMs, and never less
 * than the RetryInfo `retryDelay` Google sends with a 429 (a delay above
 * LIMITS.agents.maxRetryDelayMs is not waited for: LLM_RATE_LIMITED). Each call has a deadline
 * of LIMITS.llm.requestTimeoutMs.
 */
import { sleep } from '../sleep';
import { LIMITS } from '../../validator';
import { Prng } from './prng';
import { buildPrompt, llmResponseSchema } from './prompt';
import { DEFAULT_BUDGET_RESOURCE, isBudgetFrozen } from './budget';
import { ProposerError, type LlmUsage, type ProposalAttempt, type ProposeContext, type Proposer } from './types';

type GenAI = typeof import('@google/genai', { with: { 'resolution-mode': 'import' } });
type Client = InstanceType<GenAI['GoogleGenAI']>;
type Response = Awaited<ReturnType<Client['models']['generateContent']>>;

export const DEFAULT_GEMINI_MODEL = 'gemini-2.5-flash';

export interface GeminiProposerOptions {
  apiKey: string;
  /** e.g. a local fake or a proxy; default: Google's endpoint. */
  baseUrl?: string;
  /** Pinned: SDK 3.x defaults to /v1, older ones to /v1beta (FIELD-NOTES). */
  apiVersion?: string;
  model?: string;
  /** Keys the proposal ids and the retry jitter (deterministic runs against a fake). */
  seed?: number | string;
  budgetResource?: string;
  maxAttempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  temperature?: number;
  /** Injected in tests to observe waits; must honour the signal. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Totals per agent, for the run summary. */
export interface AgentLlmTotals {
  calls: number;
  httpAttempts: number;
  failures: number;
  promptTokens: number;
  outputTokens: number;
  thoughtsTokens: number;
  totalTokens: number;
}

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

export class GeminiProposer implements Proposer {
  readonly kind = 'gemini';
  readonly model: string;
  readonly totals = new Map<string, AgentLlmTotals>();
  /** Every wait made before a retry (ms), in order: observable backoff. */
  readonly waits: number[] = [];
  private client: Promise<Client> | null = null;
  private readonly o: Required<Omit<GeminiProposerOptions, 'baseUrl' | 'sleep' | 'temperature'>> & Pick<GeminiProposerOptions, 'baseUrl' | 'temperature'>;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: GeminiProposerOptions) {
    if (!options.apiKey) throw new ProposerError('PROPOSER_CONFIG', 'the Gemini proposer needs an API key (GEMINI_API_KEY)');
    this.o = {
      apiVersion: 'v1beta',
      model: DEFAULT_GEMINI_MODEL,
      seed: 0,
      budgetResource: DEFAULT_BUDGET_RESOURCE,
      maxAttempts: LIMITS.llm.maxAttempts,
      baseBackoffMs: LIMITS.llm.baseBackoffMs,
      maxBackoffMs: LIMITS.llm.maxBackoffMs,
      timeoutMs: LIMITS.llm.requestTimeoutMs,
      // An explicit `undefined` must not override a default.
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as GeminiProposerOptions),
    };
    this.o.maxAttempts = Math.max(1, Math.min(this.o.maxAttempts, LIMITS.llm.maxAttempts));
    this.o.maxBackoffMs = Math.min(this.o.maxBackoffMs, LIMITS.llm.maxBackoffMs);
    this.o.timeoutMs = Math.min(this.o.timeoutMs, LIMITS.llm.requestTimeoutMs);
    this.model = this.o.model;
    this.sleep = options.sleep ?? sleep;
  }

  isFrozen(ctx: ProposeContext): boolean {
    return isBudgetFrozen(ctx.world, ctx.agent, this.o.budgetResource);
  }

  async propose(ctx: ProposeContext): Promise<ProposalAttempt[]> {
    // Frozen, or the breaker is open (every agent proposal would be CIRCUIT_OPEN): calling the
    // model would only burn the agent's budget.
    if (this.isFrozen(ctx) || ctx.world.breaker.open) return [];
    const t = this.totalsOf(ctx.agent);
    const rng = new Prng(this.o.seed, 'gemini', ctx.agent, ctx.tick);
    const proposalId = rng.uuid();
    const prompt = buildPrompt(ctx.world, ctx.agent, ctx.tick);
    t.calls++;
    let res: Response;
    let attempts: number;
    try {
      ({ res, attempts } = await this.generate(prompt.system, prompt.user, ctx.signal, rng, t));
    } catch (e) {
      t.failures++;
      throw e;
    }
    const usage = usageOf(res, this.model, attempts);
    t.promptTokens += usage.promptTokens;
    t.outputTokens += usage.outputTokens;
    t.thoughtsTokens += usage.thoughtsTokens;
    t.totalTokens += usage.totalTokens;
    return [{ raw: withEnvelope(textOf(res), proposalId, ctx.agent), usage, label: 'gemini' }];
  }

  private totalsOf(agent: string): AgentLlmTotals {
    let t = this.totals.get(agent);
    if (!t) this.totals.set(agent, (t = { calls: 0, httpAttempts: 0, failures: 0, promptTokens: 0, outputTokens: 0, thoughtsTokens: 0, totalTokens: 0 }));
    return t;
  }

  private getClient(): Promise<Client> {
    // @google/genai is ESM-only: loaded with import(), which tsc keeps as-is under module Node16.
    this.client ??= import('@google/genai').then(
      (g) => new g.GoogleGenAI({ apiKey: this.o.apiKey, httpOptions: { apiVersion: this.o.apiVersion, ...(this.o.baseUrl ? { baseUrl: this.o.baseUrl } : {}) } }),
    );
    return this.client;
  }

  private async generate(system: string, user: string, stop: AbortSignal | undefined, rng: Prng, t: AgentLlmTotals): Promise<{ res: Response; attempts: number }> {
    const client = await this.getClient();
    for (let attempt = 1; ; attempt++) {
      if (stop?.aborted) throw new ProposerError('ABORTED', 'the loop was stopped before the model call');
      const deadline = AbortSignal.timeout(this.o.timeoutMs);
      t.httpAttempts++;
      try {
        const res = await client.models.generateContent({
          model: this.o.model,
          contents: user,
          config: {
            systemInstruction: system,
            responseMimeType: 'application/json',
            responseJsonSchema: llmResponseSchema(),
            maxOutputTokens: LIMITS.agents.maxOutputTokens,
            ...(this.o.temperature !== undefined ? { temperature: this.o.temperature } : {}),
            abortSignal: stop ? AbortSignal.any([stop, deadline]) : deadline,
          },
        });
        return { res, attempts: attempt };
      } catch (e) {
        if (stop?.aborted) throw new ProposerError('ABORTED', 'the loop was stopped during the model call');
        const c = classify(e, deadline.aborted);
        if (!c.retry) throw new ProposerError('LLM_REQUEST_REFUSED', `the model service refused the request (${c.what}); not retried`, { status: c.status });
        const rateLimited = c.status === 429;
        if (attempt >= this.o.maxAttempts) {
          throw new ProposerError(rateLimited ? 'LLM_RATE_LIMITED' : 'LLM_UNAVAILABLE', `the model call failed ${attempt} times; last: ${c.what}`, { status: c.status, attempts: attempt });
        }
        if (c.retryDelayMs !== undefined && c.retryDelayMs > LIMITS.agents.maxRetryDelayMs) {
          throw new ProposerError('LLM_RATE_LIMITED', `the model service asked to wait ${c.retryDelayMs} ms, more than the ${LIMITS.agents.maxRetryDelayMs} ms allowed`, { status: c.status, retryDelayMs: c.retryDelayMs });
        }
        // Full jitter (AWS architecture blog): spreads retries of many agents hitting one quota.
        const backoff = Math.floor(rng.next() * Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (attempt - 1)));
        const wait = Math.max(backoff, c.retryDelayMs ?? 0);
        this.waits.push(wait);
        await this.sleep(wait, stop);
      }
    }
  }
}

interface Classified {
  retry: boolean;
  status?: number;
  retryDelayMs?: number;
  what: string;
}

/** ApiError carries the HTTP status and Google's JSON error body as its message. */
function classify(e: unknown, timedOut: boolean): Classified {
  if (timedOut) return { retry: true, what: `no answer within ${LIMITS.llm.requestTimeoutMs} ms` };
  const err = e as { status?: unknown; message?: unknown; name?: unknown };
  const message = typeof err?.message === 'string' ? err.message : String(e);
  if (typeof err?.status === 'number') {
    const status = err.status;
    const m = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(message);
    const retryDelayMs = m ? Math.ceil(Number(m[1]) * 1000) : undefined;
    return { retry: RETRY_STATUSES.has(status), status, retryDelayMs, what: `HTTP ${status}: ${briefly(message)}` };
  }
  // No status: the request never got an HTTP answer (connection reset, DNS, refused) — transient.
  return { retry: true, what: `network error: ${briefly(message)}` };
}

function briefly(s: string): string {
  const m = /"message"\s*:\s*"([^"]{0,300})/.exec(s);
  return (m ? m[1] : s).slice(0, 300);
}

function usageOf(res: Response, model: string, attempts: number): LlmUsage {
  const u = res.usageMetadata ?? {};
  const promptTokens = u.promptTokenCount ?? 0;
  const outputTokens = u.candidatesTokenCount ?? 0;
  const thoughtsTokens = u.thoughtsTokenCount ?? 0;
  return {
    model: res.modelVersion ?? model,
    promptTokens,
    outputTokens,
    thoughtsTokens,
    totalTokens: u.totalTokenCount ?? promptTokens + outputTokens + thoughtsTokens,
    attempts,
    ...(res.responseId ? { responseId: res.responseId } : {}),
  };
}

/** All text parts of the first candidate, or '' (a blocked or empty reply is then MALFORMED). */
function textOf(res: Response): string {
  const parts = res.candidates?.[0]?.content?.parts ?? [];
  return parts.map((p) => (typeof p.text === 'string' && !p.thought ? p.text : '')).join('');
}

/**
 * The model writes the action; the engine owns the envelope. A JSON object gets the proposal_id
 * and agent it lacks (what the model did write is kept, even if wrong — the law judges it);
 * anything else is returned as the model's text, unchanged.
 */
export function withEnvelope(text: string, proposalId: string, agent: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return text;
  return { proposal_id: proposalId, agent, ...(v as Record<string, unknown>) };
}

