/**
 * Genesis (system) artifacts, callable from artifact code like any other (gap 15):
 *   genesis:ledger     balance, transfer (a transfer is a journaled payment from the caller)
 *   genesis:store      list, list_by_owner, search, get_artifact_info (gap 16: interface + invoke count)
 *   genesis:event_log  read (ledger entries by offset/limit)
 *   genesis:escrow     list_active, get_listing
 * They read through the HostSnapshot (a query not loaded yet answers HOST_FETCH and the run is
 * repeated with it loaded) and never apply anything: value moves only as journaled payments.
 */
import { z } from 'zod/v4';
import { fail } from '../../sandbox/errors';
import type { GenesisCall, GenesisOutcome, ToolSpec } from '../../sandbox/types';
import { IdSchema, LIMITS, SCRIP } from '../../validator';
import { NOT_LOADED, type HostSnapshot } from './snapshot';

const L = LIMITS.artifacts;
const page = { offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(), limit: z.number().int().min(1).max(L.maxPageSize).optional() };
const Amount = z
  .union([z.string().regex(/^[1-9][0-9]{0,15}$/), z.number().int().positive().max(Number.MAX_SAFE_INTEGER)])
  .refine((v) => BigInt(v) <= LIMITS.proposal.maxAmount, `amount must be at most ${LIMITS.proposal.maxAmount}`);

const METHODS = {
  'genesis:ledger': {
    balance: { args: z.strictObject({ actor: IdSchema.optional(), resource: IdSchema.optional() }), description: "An actor's (default: the caller's) balance of a resource (default credits), as a decimal string." },
    transfer: { args: z.strictObject({ to: IdSchema, amount: Amount, resource: IdSchema.optional() }), description: 'Move value from the caller to `to`; applied with the run, through the law.' },
  },
  'genesis:store': {
    list: { args: z.strictObject({ ...page, include_deleted: z.boolean().optional() }), description: 'Artifacts by id (tombstones only with include_deleted).' },
    list_by_owner: { args: z.strictObject({ owner: IdSchema, ...page }), description: 'Live artifacts held by an owner.' },
    search: { args: z.strictObject({ query: z.string().min(1).max(L.maxQueryChars), limit: page.limit }), description: 'Live artifacts whose id, description or interface mentions the query.' },
    get_artifact_info: { args: z.strictObject({ artifact_id: IdSchema }), description: 'Metadata, interface and invoke counts of one artifact (no content).' },
  },
  'genesis:event_log': {
    read: { args: z.strictObject(page), description: 'Ledger entries after `offset` (an entry id), oldest first.' },
  },
  'genesis:escrow': {
    list_active: { args: z.strictObject(page), description: 'Open escrow listings.' },
    get_listing: { args: z.strictObject({ listing_id: z.string().uuid() }), description: 'One escrow listing.' },
  },
} as const;

type GenesisId = keyof typeof METHODS;

/** MCP-style interfaces of the genesis artifacts (what get_artifact_info answers for them). */
export function genesisInterface(id: string): { tools: ToolSpec[] } | null {
  const m = (METHODS as Record<string, Record<string, { args: z.ZodType; description: string }>>)[id];
  if (!m) return null;
  return { tools: Object.entries(m).map(([name, x]) => ({ name, description: x.description, inputSchema: z.toJSONSchema(x.args, { io: 'input' }) as Record<string, unknown> })) };
}

export function genesisCall(s: HostSnapshot, call: GenesisCall): GenesisOutcome {
  const methods = (METHODS as Record<string, Record<string, { args: z.ZodType }>>)[call.id];
  if (!methods) return fail('NOT_FOUND', `System artifact ${call.id} does not exist.`, { available: Object.keys(METHODS) });
  const spec = Object.prototype.hasOwnProperty.call(methods, call.method) ? methods[call.method] : undefined;
  if (!spec) return fail('INVALID_ARGS', `System artifact ${call.id} has no method "${call.method}".`, { reason: 'UNKNOWN_METHOD', available: Object.keys(methods) });
  const parsed = spec.args.safeParse(call.args);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return fail('INVALID_ARGS', `${call.id}.${call.method}: ${i.path.join('.') || 'arguments'}: ${i.message}`);
  }
  const a = parsed.data as Record<string, any>;
  const limit = Math.min(a.limit ?? L.defaultPageSize, L.maxPageSize);
  const offset = a.offset ?? 0;
  const q = <T>(k: unknown[], load: () => Promise<T>): T | undefined => s.query(JSON.stringify([call.id, call.method, ...k]), load);
  const answer = (v: unknown): GenesisOutcome => (v === undefined ? NOT_LOADED() : { success: true, result: v });
  switch (`${call.id as GenesisId}.${call.method}`) {
    case 'genesis:ledger.balance':
      return { success: true, result: call.balance(a.actor ?? call.invoker, a.resource ?? SCRIP).toString() };
    case 'genesis:ledger.transfer':
      return { success: true, result: { to: a.to, amount: String(a.amount) }, payments: [{ from: call.invoker, to: a.to, resource: a.resource ?? SCRIP, amount: BigInt(a.amount) }] };
    case 'genesis:store.list':
      return answer(q([a.include_deleted === true, offset, limit], async () => (await s.db.query(`SELECT id, owner, kind, invoke_price::text AS invoke_price, description, rev, deleted FROM artifacts WHERE ($1 OR NOT deleted) ORDER BY id OFFSET $2 LIMIT $3`, [a.include_deleted === true, offset, limit])).rows));
    case 'genesis:store.list_by_owner':
      return answer(q([a.owner, offset, limit], async () => (await s.db.query(`SELECT id, kind, invoke_price::text AS invoke_price, description, rev FROM artifacts WHERE owner = $1 AND NOT deleted ORDER BY id OFFSET $2 LIMIT $3`, [a.owner, offset, limit])).rows));
    case 'genesis:store.search': {
      const pattern = `%${String(a.query).replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      return answer(q([a.query, limit], async () => (await s.db.query(`SELECT id, owner, kind, invoke_price::text AS invoke_price, description FROM artifacts WHERE NOT deleted AND (id ILIKE $1 OR description ILIKE $1 OR interface::text ILIKE $1) ORDER BY id LIMIT $2`, [pattern, limit])).rows));
    }
    case 'genesis:store.get_artifact_info':
      return info(s, String(a.artifact_id), q);
    case 'genesis:event_log.read':
      return answer(q([offset, limit], async () => (await s.db.query(`SELECT f.id::text AS id, f.proposal_id, f.leg, f.kind, f.agent, f.from_actor, f.to_actor, f.resource, f.amount::text AS amount, f.at_ms::text AS at_ms FROM ledger_feed f WHERE f.id > $1 ORDER BY f.id LIMIT $2`, [offset, limit])).rows));
    case 'genesis:escrow.list_active':
      return answer(q([offset, limit], async () => (await s.db.query(`SELECT listing_id, artifact_id, seller, price::text AS price, test_artifact, test_method FROM escrow_listings WHERE status = 'open' ORDER BY opened_entry OFFSET $1 LIMIT $2`, [offset, limit])).rows));
    case 'genesis:escrow.get_listing': {
      const rows = q([a.listing_id], async () => (await s.db.query(`SELECT listing_id, artifact_id, seller, price::text AS price, test_artifact, test_method, status, buyer FROM escrow_listings WHERE listing_id = $1`, [a.listing_id])).rows);
      if (rows === undefined) return NOT_LOADED();
      return rows.length ? { success: true, result: rows[0] } : fail('NOT_FOUND', `Escrow listing ${a.listing_id} does not exist.`);
    }
    default:
      return fail('INVALID_ARGS', `System artifact ${call.id} has no method "${call.method}".`);
  }
}

function info(s: HostSnapshot, id: string, q: <T>(k: unknown[], load: () => Promise<T>) => T | undefined): GenesisOutcome {
  const g = genesisInterface(id);
  if (g) return { success: true, result: { id, owner: 'system', kind: 'code', genesis: true, interface: g, invoke_price: '0', access: { mode: 'public' } } };
  const rows = q([id], async () =>
    (
      await s.db.query<any>(
        `SELECT c.id, c.owner, c.created_by, c.kind, c.interface, c.invoke_price::text AS invoke_price, c.access, c.description, c.rev, c.deleted,
                c.listing_id::text AS listing_id, c.invoke_count::text AS invoke_count, c.success_count::text AS success_count,
                (SELECT f.at_ms FROM ledger_feed f WHERE f.id = c.created_entry)::text AS created_at_ms
         FROM artifact_catalog c WHERE c.id = $1`,
        [id],
      )
    ).rows,
  );
  if (rows === undefined) return NOT_LOADED();
  const r = rows[0];
  if (!r) return fail('NOT_FOUND', `Artifact ${id} does not exist.`);
  if (r.deleted) return fail('DELETED', `Artifact ${id} was deleted.`, { artifact_id: id });
  return { success: true, result: { ...r, invoke_count: Number(r.invoke_count), success_count: Number(r.success_count), created_at_ms: r.created_at_ms === null ? null : Number(r.created_at_ms) } };
}
