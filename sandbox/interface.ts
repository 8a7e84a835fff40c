/**
 * MCP-style artifact interfaces (architecture gap 14) and argument checking.
 *
 * An executable artifact carries `{ tools: [{ name, description, inputSchema }] }`. The executor
 * only runs methods named there, so an agent learns what it can call from the interface instead
 * of reading source. Arguments are checked against a documented SUBSET of JSON Schema — enough
 * to turn obvious mistakes into INVALID_ARGS before paying for a runtime:
 *   - args must be a JSON object (MCP tool arguments are objects);
 *   - `required` keys must be present;
 *   - `properties.<key>.type` (string or array of: string, number, integer, boolean, object,
 *     array, null) must match when the key is present; `enum` must contain the value;
 *   - `additionalProperties: false` rejects unknown keys.
 * Everything else in the schema (formats, nested schemas, min/max…) is the artifact's own job.
 */
import { z } from 'zod/v4';
import { LIMITS } from '../validator/limits';
import { fail, type ErrorResponse } from './errors';
import type { ArtifactInterface, ToolSpec } from './types';

/** LIMITS.sandbox with plain number fields, so tests and benches can pass tighter values. */
export type SandboxLimits = { [K in keyof typeof LIMITS.sandbox]: number };

const JSON_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
type JsonType = (typeof JSON_TYPES)[number];

const propertySchema = z.looseObject({
  type: z.union([z.enum(JSON_TYPES), z.array(z.enum(JSON_TYPES)).min(1)]).optional(),
  enum: z.array(z.unknown()).optional(),
});

const inputSchemaSchema = z.looseObject({
  type: z.literal('object').optional(),
  properties: z.record(z.string(), propertySchema).optional(),
  required: z.array(z.string()).optional(),
  additionalProperties: z.unknown().optional(),
});

/** Other MCP tool fields (title, outputSchema, annotations) are allowed and ignored. */
const toolSchema = z.looseObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a JS identifier of at most 64 characters'),
  description: z.string().max(2000),
  inputSchema: inputSchemaSchema,
});

export const artifactInterfaceSchema = z.strictObject({
  tools: z.array(toolSchema).min(1).max(LIMITS.sandbox.maxInterfaceTools),
});

/** Nesting allowed in argument values; deeper is INVALID_ARGS (keeps host walks bounded). */
const MAX_ARG_NESTING = 64;

/** Parse an interface read from storage. Failure is the artifact's fault: EXECUTION_ERROR. */
export function parseInterface(
  raw: unknown,
  limits: SandboxLimits = LIMITS.sandbox,
): { ok: true; value: ArtifactInterface } | { ok: false; error: ErrorResponse } {
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(raw) ?? '');
  } catch {
    return { ok: false, error: fail('EXECUTION_ERROR', 'The artifact interface is not JSON.', { reason: 'INVALID_INTERFACE' }) };
  }
  if (bytes > limits.maxInterfaceBytes) {
    return {
      ok: false,
      error: fail('EXECUTION_ERROR', `The artifact interface is ${bytes} bytes; the limit is ${limits.maxInterfaceBytes}.`, {
        reason: 'INVALID_INTERFACE',
      }),
    };
  }
  const parsed = artifactInterfaceSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      error: fail('EXECUTION_ERROR', `The artifact interface is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, {
        reason: 'INVALID_INTERFACE',
      }),
    };
  }
  const names = new Set<string>();
  for (const t of parsed.data.tools) {
    if (names.has(t.name)) {
      return { ok: false, error: fail('EXECUTION_ERROR', `The artifact interface declares tool "${t.name}" twice.`, { reason: 'INVALID_INTERFACE' }) };
    }
    names.add(t.name);
  }
  return { ok: true, value: parsed.data as ArtifactInterface };
}

export function findTool(iface: ArtifactInterface, method: string): ToolSpec | undefined {
  return iface.tools.find((t) => t.name === method);
}

/** Why a value is not plain JSON, or null if it is. Plain: null, boolean, finite number, string, array, plain object. */
function notJsonReason(v: unknown, depth: number): string | null {
  if (depth > MAX_ARG_NESTING) return `nested deeper than ${MAX_ARG_NESTING} levels`;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : 'a non-finite number';
  if (Array.isArray(v)) {
    for (const item of v) {
      const r = notJsonReason(item, depth + 1);
      if (r) return r;
    }
    return null;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return 'an object that is not a plain object';
    for (const key of Object.keys(v)) {
      const r = notJsonReason((v as Record<string, unknown>)[key], depth + 1);
      if (r) return r;
    }
    return null;
  }
  return `a ${typeof v}`;
}

function typeOf(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

/**
 * Check args against the tool and return them with their JSON text (what the guest receives).
 * `undefined` args mean `{}`.
 */
export function checkArgs(
  tool: ToolSpec,
  args: unknown,
  limits: SandboxLimits = LIMITS.sandbox,
): { ok: true; value: Record<string, unknown>; json: string } | { ok: false; error: ErrorResponse } {
  const value = args === undefined ? {} : args;
  const bad = (message: string, details?: Record<string, unknown>) => ({
    ok: false as const,
    error: fail('INVALID_ARGS', message, { tool: tool.name, ...details }),
  });
  const reason = notJsonReason(value, 0);
  if (reason) return bad(`Arguments of "${tool.name}" must be plain JSON; found ${reason}.`);
  if (typeOf(value) !== 'object') return bad(`Arguments of "${tool.name}" must be a JSON object, not ${typeOf(value)}.`);
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json);
  if (bytes > limits.maxArgsBytes) {
    return bad(`Arguments of "${tool.name}" are ${bytes} bytes; the limit is ${limits.maxArgsBytes}.`);
  }
  const obj = value as Record<string, unknown>;
  const schema = tool.inputSchema as z.infer<typeof inputSchemaSchema>;
  for (const key of schema.required ?? []) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) return bad(`Argument "${key}" of "${tool.name}" is required.`, { argument: key });
  }
  const props = schema.properties ?? {};
  for (const [key, v] of Object.entries(obj)) {
    const prop = Object.prototype.hasOwnProperty.call(props, key) ? props[key] : undefined;
    if (!prop) {
      if (schema.additionalProperties === false) return bad(`Argument "${key}" is not accepted by "${tool.name}".`, { argument: key });
      continue;
    }
    if (prop.type !== undefined) {
      const allowed = Array.isArray(prop.type) ? prop.type : [prop.type];
      const actual = typeOf(v);
      // An integer is also a number in JSON Schema.
      const matches = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
      if (!matches) {
        return bad(`Argument "${key}" of "${tool.name}" must be ${allowed.join(' or ')}, not ${actual}.`, { argument: key });
      }
    }
    if (prop.enum !== undefined && !prop.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
      return bad(`Argument "${key}" of "${tool.name}" must be one of ${JSON.stringify(prop.enum)}.`, { argument: key });
    }
  }
  return { ok: true, value: obj, json };
}
