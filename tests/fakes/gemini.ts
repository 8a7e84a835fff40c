// Fake Google Generative Language API (the "Gemini API") for @google/genai 2.32 on 127.0.0.1.
//
// Point the real SDK at it with
//   new GoogleGenAI({ apiKey: fake.apiKey, httpOptions: { baseUrl: fake.url, apiVersion: 'v1beta' } })
// Error bodies follow Google's `{ error: { code, message, status, details } }` shape, and the
// statuses are the ones the real service uses: a wrong key is 400 INVALID_ARGUMENT with reason
// API_KEY_INVALID (not 401), a missing or revoked key is 403 PERMISSION_DENIED, quota is 429
// RESOURCE_EXHAUSTED with a RetryInfo detail.
import { crashConnection, header, sendJson, startHttpFake, type FakeServer, type RecordedRequest } from './http';

export const GEMINI_DEFAULT_MODELS = ['gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.5-pro'];

export interface GeminiUsage {
  promptTokenCount: number;
  candidatesTokenCount: number;
  totalTokenCount: number;
  thoughtsTokenCount?: number;
}

/** What the fake answers to one generateContent call. */
export type GeminiReply =
  | { text: string; usage?: Partial<GeminiUsage>; finishReason?: string; delayMs?: number }
  | {
      /** HTTP status: 400, 429, 500, 503, ... */
      error: number;
      message?: string;
      /** 429 only: adds Google's RetryInfo detail `retryDelay: "<n>s"` (what the real API sends). */
      retryDelaySeconds?: number;
      /** Adds a `Retry-After` header (the real API normally does not send one). */
      retryAfterHeader?: number;
    }
  /** Close the socket without answering: the SDK sees a network error (`TypeError: fetch failed`). */
  | { crash: true };

/** Convenience: a reply whose text is `JSON.stringify(value)`, as structured output returns it. */
export function jsonReply(value: unknown, usage?: Partial<GeminiUsage>): GeminiReply {
  return { text: JSON.stringify(value), usage };
}

/** A generateContent call as received, pre-digested for assertions. */
export interface GeminiCall {
  request: RecordedRequest;
  apiVersion: string;
  model: string;
  /** All text parts of `contents` joined with "\n". */
  promptText: string;
  systemText: string;
  /** `generationConfig` as the SDK put it on the wire (responseMimeType, responseJsonSchema, ...). */
  generationConfig: Record<string, unknown>;
}

export interface GeminiFakeOptions {
  apiKey?: string;
  /** Keys answered with 403 PERMISSION_DENIED (a revoked/leaked key). */
  deniedKeys?: string[];
  models?: string[];
  /** Used when the queue is empty. Without one, an unscripted call gets a 500 so it cannot pass silently. */
  respond?: (call: GeminiCall) => GeminiReply;
}

export interface GeminiFake extends FakeServer {
  apiKey: string;
  /** Only the generateContent calls (auth failures included), in order. */
  calls: GeminiCall[];
  enqueue(...replies: GeminiReply[]): void;
  /** Replies still queued (a test can assert all were consumed). */
  pending(): number;
  setResponder(fn: ((call: GeminiCall) => GeminiReply) | undefined): void;
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};
const DEFAULT_MESSAGES: Record<number, string> = {
  429: 'You exceeded your current quota, please check your plan and billing details.',
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  503: 'The model is overloaded. Please try again later.',
};

export function googleError(code: number, message: string, details: unknown[] = []): { error: Record<string, unknown> } {
  return { error: { code, message, status: STATUS_NAMES[code] ?? 'UNKNOWN', ...(details.length ? { details } : {}) } };
}

const errorInfo = (reason: string) => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: 'googleapis.com',
  metadata: { service: 'generativelanguage.googleapis.com' },
});

/** Rough token estimate (≈4 characters a token), deterministic so tests can assert exact numbers. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function partsText(content: unknown): string {
  const parts = (content as { parts?: Array<{ text?: unknown }> } | undefined)?.parts ?? [];
  return parts.map((p) => (typeof p.text === 'string' ? p.text : '')).join('');
}

function digest(request: RecordedRequest, apiVersion: string, model: string): GeminiCall {
  const body = (request.body ?? {}) as { contents?: unknown[]; systemInstruction?: unknown; generationConfig?: Record<string, unknown> };
  return {
    request,
    apiVersion,
    model,
    promptText: (body.contents ?? []).map(partsText).join('\n'),
    systemText: partsText(body.systemInstruction),
    generationConfig: body.generationConfig ?? {},
  };
}

function modelObject(model: string): Record<string, unknown> {
  const pretty = model.replace(/^gemini-/, 'Gemini ').replace(/-/g, ' ');
  return {
    name: `models/${model}`,
    version: '001',
    displayName: pretty.replace(/\b([a-z])/g, (c) => c.toUpperCase()),
    description: `Fake ${pretty} served by the Grid Governance Engine tests.`,
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
  };
}

const ROUTE = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+)(?::([A-Za-z]+))?$/;

export async function startGeminiFake(options: GeminiFakeOptions = {}): Promise<GeminiFake> {
  const apiKey = options.apiKey ?? 'fake-gemini-key';
  const denied = new Set(options.deniedKeys ?? []);
  const models = new Set(options.models ?? GEMINI_DEFAULT_MODELS);
  const queue: GeminiReply[] = [];
  const calls: GeminiCall[] = [];
  let responder = options.respond;
  let responseSeq = 0;

  const base = await startHttpFake(async (req, res) => {
    const m = ROUTE.exec(req.path);
    if (!m) return sendJson(res, 404, googleError(404, `Requested entity was not found: ${req.method} ${req.path}`));
    const [, apiVersion, model, method] = m as unknown as [string, string, string, string | undefined];
    const call = method === 'generateContent' && req.method === 'POST' ? digest(req, apiVersion, model) : undefined;
    if (call) calls.push(call);

    const key = header(req.headers, 'x-goog-api-key') ?? req.query.key;
    if (!key) {
      return sendJson(res, 403, googleError(403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."));
    }
    if (denied.has(key)) {
      return sendJson(res, 403, googleError(403, 'Your API key was reported as leaked. Please use another API key.'));
    }
    if (key !== apiKey) {
      return sendJson(res, 400, googleError(400, 'API key not valid. Please pass a valid API key.', [errorInfo('API_KEY_INVALID')]));
    }
    if (!models.has(model)) {
      return sendJson(res, 404, googleError(404, `models/${model} is not found for API version ${apiVersion}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`));
    }
    if (req.method === 'GET' && method === undefined) return sendJson(res, 200, modelObject(model));
    if (!call) return sendJson(res, 404, googleError(404, `Method not found: ${req.method} ${method ?? ''}`));
    const contents = (req.body as { contents?: unknown[] } | undefined)?.contents;
    if (!Array.isArray(contents) || contents.length === 0) {
      return sendJson(res, 400, googleError(400, '* GenerateContentRequest.contents: contents is not specified\n'));
    }

    const reply = queue.shift() ?? responder?.(call) ?? {
      error: 500, message: 'gemini fake: no reply queued and no responder set for this call',
    };
    if ('crash' in reply) return crashConnection(res);
    if ('error' in reply) {
      const details: unknown[] = [];
      if (reply.retryDelaySeconds !== undefined) {
        details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${reply.retryDelaySeconds}s` });
      }
      const headers: Record<string, string> = reply.retryAfterHeader !== undefined ? { 'retry-after': String(reply.retryAfterHeader) } : {};
      const message = reply.message ?? DEFAULT_MESSAGES[reply.error] ?? 'Request failed.';
      return sendJson(res, reply.error, googleError(reply.error, message, details), headers);
    }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const promptTokenCount = reply.usage?.promptTokenCount ?? estimateTokens(call.systemText + call.promptText);
    const candidatesTokenCount = reply.usage?.candidatesTokenCount ?? estimateTokens(reply.text);
    const thoughts = reply.usage?.thoughtsTokenCount;
    const usageMetadata = {
      promptTokenCount,
      candidatesTokenCount,
      totalTokenCount: reply.usage?.totalTokenCount ?? promptTokenCount + candidatesTokenCount + (thoughts ?? 0),
      ...(thoughts !== undefined ? { thoughtsTokenCount: thoughts } : {}),
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokenCount }],
    };
    responseSeq += 1;
    return sendJson(res, 200, {
      candidates: [{ content: { parts: [{ text: reply.text }], role: 'model' }, finishReason: reply.finishReason ?? 'STOP', index: 0 }],
      usageMetadata,
      modelVersion: model,
      responseId: `fake-response-${responseSeq}`,
    });
  });

  return {
    ...base,
    apiKey,
    calls,
    enqueue: (...replies) => void queue.push(...replies),
    pending: () => queue.length,
    setResponder: (fn) => void (responder = fn),
  };
}
