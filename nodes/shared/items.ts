/**
 * The per-item loop every Grid node uses, so all of them behave alike in n8n:
 * - each output item carries `pairedItem` back to the input item it came from;
 * - a failing item becomes a NodeOperationError naming the item (`itemIndex`) with a stable
 *   UPPER_SNAKE code first in the message, or — when the node is set to continue on fail — an
 *   output item `{ error, code }` so the workflow can branch on it;
 * - output JSON is plain JSON (bigints become decimal strings).
 */
import { NodeApiError, NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import { jsonSafe } from '../../validator/rules';

type Coded = { code?: unknown; message?: unknown; details?: unknown; name?: unknown };

/** The stable code of any error our engine throws (GridError, ProposerError, DeliveryError, GridConfigError). */
export function errorCode(e: unknown): string {
  const c = (e as Coded)?.code;
  if (typeof c === 'string' && /^[A-Z][A-Z0-9_]+$/.test(c)) return c;
  // Errors raised as NodeOperationError carry their code as the message prefix ("CODE: ...").
  const m = /^([A-Z][A-Z0-9_]{2,}):/.exec(String((e as Coded)?.message ?? ''));
  return m ? m[1]! : 'GRID_NODE_FAILED';
}

export function toNodeError(ctx: IExecuteFunctions, e: unknown, itemIndex: number): Error {
  if (e instanceof NodeOperationError || e instanceof NodeApiError) {
    e.context.itemIndex ??= itemIndex;
    return e;
  }
  const err = e as Coded;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const code = errorCode(e);
  const text = message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
  const details = err?.details && typeof err.details === 'object' ? JSON.stringify(jsonSafe(err.details)).slice(0, 2000) : undefined;
  return new NodeOperationError(ctx.getNode(), text, { itemIndex, ...(details ? { description: details } : {}) });
}

/** An item for one output, paired with its input item. */
export function out(json: unknown, itemIndex: number): INodeExecutionData {
  return { json: jsonSafe(json) as IDataObject, pairedItem: { item: itemIndex } };
}

/** The continue-on-fail item for a failed input item (n8n's shape: `json.error` + `error`). */
export function failed(ctx: IExecuteFunctions, e: unknown, itemIndex: number): INodeExecutionData {
  const error = toNodeError(ctx, e, itemIndex) as NodeOperationError;
  return { json: { error: error.message, code: errorCode(e) }, error, pairedItem: { item: itemIndex } };
}

/**
 * Runs `fn` for every input item. `fn` returns the JSON of the item(s) to emit for that input
 * item (an array for several, `[]` for none).
 */
export async function perItem(
  ctx: IExecuteFunctions,
  fn: (itemIndex: number, item: INodeExecutionData) => Promise<unknown | unknown[]>,
): Promise<INodeExecutionData[]> {
  const items = ctx.getInputData();
  const result: INodeExecutionData[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      const r = await fn(i, items[i]!);
      for (const json of Array.isArray(r) ? r : [r]) result.push(out(json, i));
    } catch (e) {
      if (!ctx.continueOnFail()) throw toNodeError(ctx, e, i);
      result.push(failed(ctx, e, i));
    }
  }
  return result;
}

/** Reads a parameter that holds JSON: an object as-is, a string parsed; anything else refused. */
export function jsonParam(ctx: IExecuteFunctions, name: string, itemIndex: number, what: string): unknown {
  const v = ctx.getNodeParameter(name, itemIndex, undefined, { rawExpressions: false }) as unknown;
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t === '') return undefined;
  try {
    return JSON.parse(t);
  } catch {
    throw Object.assign(new Error(`${what} is not valid JSON`), { code: 'GRID_PARAMETER_INVALID' });
  }
}

/** A deterministic, per execution / node / item key: retrying the same execution reuses it. */
export function runKey(ctx: IExecuteFunctions, itemIndex: number, ...parts: string[]): string[] {
  return [ctx.getWorkflow().id ?? 'workflow', ctx.getExecutionId() ?? 'execution', ctx.getNode().name, String(itemIndex), ...parts];
}
