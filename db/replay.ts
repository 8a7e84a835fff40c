/**
 * Replay: rebuild every cache from the ledger, verifying as it goes.
 *
 * Per row it checks: ids are gap-free from the start point, prev_hash links to the row before,
 * the stored hash matches a recomputation, time never runs backwards, the entry's shape matches
 * its kind (value is created only by mint/interest and destroyed only by burn/tax), and no
 * balance goes negative. Bad rows are reported by id. The folded state is then compared with the
 * cache (dry run: report only) or written over it (repair) — never when the chain is broken,
 * because a cache rebuilt from a broken ledger would launder the break.
 */
import { createHash } from 'node:crypto';
import { MemoryWorld, type EntryKind, type Effect, policyToJson, policyFromJson } from '../validator';
import type { Db, Queryable } from './adapter';
import { entryHash, GENESIS_HASH } from './hash';
import { LIMITS } from '../validator/limits';
import { GridError } from './errors';

export interface BadRow {
  id: string;
  problem: 'ID_GAP' | 'BROKEN_LINK' | 'HASH_MISMATCH' | 'TIME_REVERSED' | 'BAD_SHAPE' | 'NEGATIVE_BALANCE';
  message: string;
}

export interface BalanceDiff {
  actor: string;
  resource: string;
  cache: string;
  ledger: string;
}

export interface ReplayReport {
  fromId: string;
  rowsReplayed: number;
  lastId: string;
  headHash: string;
  chainOk: boolean;
  badRows: BadRow[];
  cacheMatches: boolean;
  diffs: BalanceDiff[];
  headMatches: boolean;
  checksum: string;
  ms: number;
  rowsPerSecond: number;
  wroteCache: boolean;
  /** Minted minus burned per resource equals the folded supply (conservation). */
  conservation: Record<string, { minted: string; burned: string; supply: string; ok: boolean }>;
}

export interface ReplayOptions {
  fromCheckpoint?: boolean;
  dryRun?: boolean;
  /** Progress callback every page. */
  onProgress?: (rows: number, lastId: bigint) => void;
  /** Stop collecting bad rows after this many (the count still grows). */
  maxBadRows?: number;
}

const CREATES: ReadonlySet<EntryKind> = new Set(['mint', 'interest']);
// compute_charge: the CPU a sandbox run used, charged in the compute resource (validator/artifacts.ts).
const DESTROYS: ReadonlySet<EntryKind> = new Set(['burn', 'tax', 'compute_charge']);

export async function replay(db: Db, opts: ReplayOptions = {}): Promise<ReplayReport> {
  const t0 = performance.now();
  const world = new MemoryWorld();
  const minted = new Map<string, bigint>();
  const burned = new Map<string, bigint>();
  let prevHash = GENESIS_HASH;
  let lastId = 0n;
  let lastAt = 0;
  let fromId = 1n;
  if (opts.fromCheckpoint) {
    const cp = await loadCheckpoint(db);
    if (cp) {
      restoreState(world, cp.state, minted, burned);
      prevHash = cp.headHash;
      lastId = cp.entryId;
      lastAt = cp.state.last_at_ms ?? 0;
      fromId = cp.entryId + 1n;
    }
  }
  const bad: BadRow[] = [];
  const maxBad = opts.maxBadRows ?? 1000;
  const flag = (b: BadRow) => {
    if (bad.length < maxBad) bad.push(b);
  };
  let rows = 0;
  let badCount = 0;
  for (;;) {
    const page = await db.query<any>(
      `SELECT id, proposal_id::text AS proposal_id, leg, kind, agent, from_actor, to_actor, resource, amount, validator_version,
              (extract(epoch from executed_at) * 1000)::bigint AS at_ms, proposal_hash, metadata::text AS metadata,
              encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
       FROM ledger WHERE id > $1 ORDER BY id LIMIT $2`,
      [lastId, LIMITS.ledger.replayPageRows],
    );
    if (page.rows.length === 0) break;
    for (const r of page.rows) {
      const id = BigInt(r.id);
      const idText = id.toString();
      if (id !== lastId + 1n) {
        badCount++;
        flag({ id: idText, problem: 'ID_GAP', message: `expected id ${lastId + 1n}, found ${id}` });
      }
      if (r.prev_hash !== prevHash) {
        badCount++;
        flag({ id: idText, problem: 'BROKEN_LINK', message: `prev_hash does not match the hash of row ${lastId}` });
      }
      const at = Number(r.at_ms);
      const e: Effect = { kind: r.kind, from: r.from_actor, to: r.to_actor, resource: r.resource, amount: r.amount === null ? null : BigInt(r.amount), metadata: JSON.parse(r.metadata) };
      const h = entryHash({ ...e, id, proposal_id: r.proposal_id, leg: r.leg, agent: r.agent, validator_version: r.validator_version, executed_at: at, proposal_hash: r.proposal_hash, prev_hash: r.prev_hash });
      if (h !== r.hash) {
        badCount++;
        flag({ id: idText, problem: 'HASH_MISMATCH', message: 'stored hash does not match the row contents (the row was altered)' });
      }
      if (at < lastAt) {
        badCount++;
        flag({ id: idText, problem: 'TIME_REVERSED', message: `executed_at ${at} is before the previous row's ${lastAt}` });
      }
      if (e.amount !== null && e.resource !== null) {
        const creates = e.from === null;
        const destroys = e.to === null;
        // Value appears only through mint/interest and disappears only through burn/tax.
        const shapeOk =
          creates === CREATES.has(e.kind) && (destroys ? DESTROYS.has(e.kind) : e.kind !== 'burn') && !(creates && destroys);
        if (!shapeOk) {
          badCount++;
          flag({ id: idText, problem: 'BAD_SHAPE', message: `a ${e.kind} entry from ${e.from ?? '(nothing)'} to ${e.to ?? '(nothing)'} breaks conservation` });
        }
        if (creates) minted.set(e.resource, (minted.get(e.resource) ?? 0n) + e.amount);
        if (destroys) burned.set(e.resource, (burned.get(e.resource) ?? 0n) + e.amount);
      }
      world.applyEffect(e, { proposal_id: r.proposal_id, agent: r.agent });
      if (e.from !== null && e.resource !== null && world.balance(e.from, e.resource) < 0n) {
        badCount++;
        flag({ id: idText, problem: 'NEGATIVE_BALANCE', message: `${e.from} holds ${world.balance(e.from, e.resource)} ${e.resource} after this row` });
      }
      prevHash = r.hash;
      lastId = id;
      lastAt = Math.max(lastAt, at);
      rows++;
    }
    opts.onProgress?.(rows, lastId);
  }
  const chainOk = badCount === 0;
  const head = (await db.query<{ last_id: bigint; last_hash: string }>(`SELECT last_id, encode(last_hash, 'hex') AS last_hash FROM ledger_head`)).rows[0];
  const headMatches = head !== undefined && BigInt(head.last_id) === lastId && head.last_hash === prevHash;
  const cache = await db.query<{ actor: string; resource: string; amount: bigint }>('SELECT actor, resource, amount FROM balances ORDER BY actor, resource');
  const diffs = diffBalances(world, cache.rows);
  const conservation: ReplayReport['conservation'] = {};
  const supply = new Map<string, bigint>();
  for (const [, r, v] of world.allBalances()) supply.set(r, (supply.get(r) ?? 0n) + v);
  for (const r of new Set([...minted.keys(), ...burned.keys(), ...supply.keys()])) {
    const m = minted.get(r) ?? 0n;
    const b = burned.get(r) ?? 0n;
    const s = supply.get(r) ?? 0n;
    conservation[r] = { minted: m.toString(), burned: b.toString(), supply: s.toString(), ok: m - b === s };
  }
  let wroteCache = false;
  if (!opts.dryRun && (diffs.length > 0 || !headMatches)) {
    if (!chainOk) throw new GridError('CHAIN_BROKEN', `refusing to rebuild the cache from a ledger with ${badCount} bad row(s); run grid verify`, { badRows: bad.slice(0, 20) });
    await writeCache(db, world, lastId, prevHash, lastAt);
    wroteCache = true;
  }
  const ms = performance.now() - t0;
  return {
    fromId: fromId.toString(),
    rowsReplayed: rows,
    lastId: lastId.toString(),
    headHash: prevHash,
    chainOk,
    badRows: bad,
    cacheMatches: diffs.length === 0,
    diffs: diffs.slice(0, 100),
    headMatches,
    checksum: stateChecksum(world),
    ms: Math.round(ms),
    rowsPerSecond: rows === 0 ? 0 : Math.round(rows / (ms / 1000)),
    wroteCache,
    conservation,
  };
}

function diffBalances(world: MemoryWorld, cache: Array<{ actor: string; resource: string; amount: bigint }>): BalanceDiff[] {
  const diffs: BalanceDiff[] = [];
  const seen = new Set<string>();
  for (const c of cache) {
    seen.add(`${c.actor}\u0000${c.resource}`);
    const l = world.balance(c.actor, c.resource);
    if (l !== BigInt(c.amount)) diffs.push({ actor: c.actor, resource: c.resource, cache: String(c.amount), ledger: l.toString() });
  }
  for (const [a, r, v] of world.allBalances()) {
    if (!seen.has(`${a}\u0000${r}`) && v !== 0n) diffs.push({ actor: a, resource: r, cache: '(missing)', ledger: v.toString() });
  }
  return diffs;
}

/** sha256 over the sorted non-zero balances: equal states have equal checksums on any backend. */
export function stateChecksum(world: MemoryWorld): string {
  const h = createHash('sha256');
  for (const [a, r, v] of world.allBalances()) if (v !== 0n) h.update(`${a}|${r}|${v}\n`);
  return h.digest('hex').slice(0, 16);
}

async function writeCache(db: Db, world: MemoryWorld, lastId: bigint, lastHash: string, lastAt: number): Promise<void> {
  const bal = world.allBalances();
  await db.transaction(async (tx) => {
    await tx.query('SELECT 1 FROM ledger_head FOR UPDATE');
    await tx.query('DELETE FROM balances');
    await tx.query('INSERT INTO balances (actor, resource, amount) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])', [
      bal.map((b) => b[0]),
      bal.map((b) => b[1]),
      bal.map((b) => b[2].toString()),
    ]);
    await tx.query(`UPDATE ledger_head SET last_id = $1, last_hash = decode($2, 'hex'), last_at_ms = $3`, [lastId, lastHash, lastAt]);
    await tx.query('UPDATE breaker SET open = $1, reason = $2, set_by = $3', [world.breaker.open, world.breaker.reason, world.breaker.by]);
    await tx.query('DELETE FROM offers');
    for (const o of world.offers.values()) {
      await tx.query(
        `INSERT INTO offers (offer_id, maker, give_resource, give_amount, want_resource, want_amount, counterparty, expires_at_ms, status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [o.offer_id, o.maker, o.give.resource, o.give.amount, o.want.resource, o.want.amount, o.counterparty, o.expires_at, o.status],
      );
    }
    await tx.query(`INSERT INTO policies (version, policy) VALUES ($1, $2::jsonb) ON CONFLICT (version) DO NOTHING`, [world.policy.version, JSON.stringify(policyToJson(world.policy))]);
    await tx.query(`INSERT INTO admin_audit (actor, action, details) VALUES ('replay', 'cache_rebuilt', $1::jsonb)`, [JSON.stringify({ last_id: lastId.toString(), checksum: stateChecksum(world) })]);
  });
}

interface CheckpointState {
  balances: Array<[string, string, string]>;
  policy: Record<string, unknown>;
  breaker: { open: boolean; reason: string; by: string | null };
  offers: Array<Record<string, unknown>>;
  minted: Record<string, string>;
  burned: Record<string, string>;
  last_at_ms: number;
}

/** Fold and verify the whole ledger, then record a checkpoint at its head. */
export async function createCheckpoint(db: Db): Promise<{ entryId: string; checksum: string }> {
  const r = await replay(db, { dryRun: true, fromCheckpoint: true });
  if (!r.chainOk) throw new GridError('CHAIN_BROKEN', 'refusing to checkpoint a ledger that does not verify', { badRows: r.badRows.slice(0, 20) });
  const world = await foldToState(db);
  const state = { ...world.state, last_at_ms: world.lastAt };
  const text = JSON.stringify(state);
  const checksum = createHash('sha256').update(text).digest('hex');
  await db.query(`INSERT INTO checkpoints (entry_id, head_hash, state, checksum) VALUES ($1, decode($2, 'hex'), $3::jsonb, $4)`, [world.lastId, world.headHash, text, checksum]);
  return { entryId: world.lastId.toString(), checksum };
}

async function foldToState(db: Db): Promise<{ state: Omit<CheckpointState, 'last_at_ms'>; lastId: bigint; headHash: string; lastAt: number }> {
  // The cache was just verified equal to the ledger, so the checkpoint can be taken from it
  // under the head lock (no writer moves the head meanwhile).
  return db.transaction(async (tx) => {
    const h = (await tx.query<any>(`SELECT last_id, encode(last_hash, 'hex') AS last_hash, last_at_ms FROM ledger_head FOR UPDATE`)).rows[0];
    const bal = await tx.query<any>('SELECT actor, resource, amount FROM balances WHERE amount <> 0 ORDER BY actor, resource');
    const pol = await tx.query<any>('SELECT policy FROM policies ORDER BY version DESC LIMIT 1');
    const br = (await tx.query<any>('SELECT open, reason, set_by FROM breaker')).rows[0];
    const offers = await tx.query<any>(`SELECT offer_id::text AS offer_id, maker, give_resource, give_amount::text AS give_amount, want_resource, want_amount::text AS want_amount, counterparty, expires_at_ms, status FROM offers`);
    const sums = await tx.query<any>(
      `SELECT resource, COALESCE(sum(amount) FILTER (WHERE from_actor IS NULL), 0)::text AS minted,
              COALESCE(sum(amount) FILTER (WHERE to_actor IS NULL), 0)::text AS burned
       FROM ledger WHERE resource IS NOT NULL GROUP BY resource`,
    );
    return {
      lastId: BigInt(h.last_id),
      headHash: h.last_hash,
      lastAt: Number(h.last_at_ms),
      state: {
        balances: bal.rows.map((b) => [b.actor, b.resource, String(b.amount)] as [string, string, string]),
        policy: pol.rows[0]?.policy ?? policyToJson(new MemoryWorld().policy),
        breaker: { open: br.open, reason: br.reason, by: br.set_by },
        offers: offers.rows,
        minted: Object.fromEntries(sums.rows.map((s) => [s.resource, s.minted])),
        burned: Object.fromEntries(sums.rows.map((s) => [s.resource, s.burned])),
      },
    };
  });
}

async function loadCheckpoint(db: Queryable): Promise<{ entryId: bigint; headHash: string; state: CheckpointState } | null> {
  const r = await db.query<any>(`SELECT entry_id, encode(head_hash, 'hex') AS head_hash, state::text AS state, checksum FROM checkpoints ORDER BY entry_id DESC, id DESC LIMIT 1`);
  if (!r.rows.length) return null;
  const row = r.rows[0];
  const state = JSON.parse(row.state) as CheckpointState;
  // jsonb reorders keys, so the checksum is over the re-serialized object in our own key order.
  const text = JSON.stringify({ balances: state.balances, policy: state.policy, breaker: state.breaker, offers: state.offers, minted: state.minted, burned: state.burned, last_at_ms: state.last_at_ms });
  if (createHash('sha256').update(text).digest('hex') !== row.checksum) {
    throw new GridError('CHAIN_BROKEN', `checkpoint at entry ${row.entry_id} fails its checksum; replay from row 0 instead`);
  }
  return { entryId: BigInt(row.entry_id), headHash: row.head_hash, state };
}

function restoreState(world: MemoryWorld, s: CheckpointState, minted: Map<string, bigint>, burned: Map<string, bigint>) {
  for (const [a, r, v] of s.balances) world.setBalance(a, r, BigInt(v));
  world.policy = policyFromJson(s.policy);
  world.breaker = { ...s.breaker };
  for (const o of s.offers as any[]) {
    world.offers.set(o.offer_id, {
      offer_id: o.offer_id,
      maker: o.maker,
      give: { resource: o.give_resource, amount: BigInt(o.give_amount) },
      want: { resource: o.want_resource, amount: BigInt(o.want_amount) },
      counterparty: o.counterparty,
      expires_at: o.expires_at_ms === null ? null : Number(o.expires_at_ms),
      status: o.status,
    });
  }
  for (const [r, v] of Object.entries(s.minted)) minted.set(r, BigInt(v));
  for (const [r, v] of Object.entries(s.burned)) burned.set(r, BigInt(v));
}
