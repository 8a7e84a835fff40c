/**
 * Replay: rebuild every cache from the ledger, verifying as it goes.
 *
 * Per row it checks: ids are gap-free from the start point, prev_hash links to the row before,
 * the stored hash matches a recomputation, time never runs backwards, the entry's shape matches
 * its kind (value is created only by mint/interest and destroyed only by burn/tax), and no
 * balance goes negative. Bad rows are reported by id. The folded state is then compared with the
 * cache (dry run: report only) or written over it (repair) — never when the chain is broken,
 * because a cache rebuilt from a broken ledger would launder the break.
 *
 * How it is fast (db/replay/): the ledger arrives as binary COPY (copy-rows.ts) — on Postgres one
 * statement, rows as stored (in-order.ts puts them in id order), streamed while they are verified,
 * the server producing rows on one core while this thread checks them on the other; on PGlite,
 * which hands COPY output over as one blob, in pages of LIMITS.replay.pageRows. Each row is read
 * by offset, its hash checked over a slice of what arrived (row-hash.ts, chain v2) and folded
 * (fold.ts). One statement also means one snapshot.
 */
import type { Db } from './adapter';
import { LIMITS } from '../validator/limits';
import { GridError } from './errors';
import { Fold, type BadRow } from './replay/fold';
import { CopyRowSplitter, ledgerSelect } from './replay/copy-rows';
import { InOrder, TooScrambled } from './replay/in-order';
import { checkpointChecksum, diffBalances, foldToState, loadCheckpoint, restoreState, stateChecksum, writeCache, type BalanceDiff } from './replay/state';

export type { BadRow, BalanceDiff };
export { stateChecksum };

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
  /** Rows replayed by chain version (hash_version; `other` for a value no writer stores). */
  hashVersions: { v1: number; v2: number; other: number };
}

export interface ReplayOptions {
  fromCheckpoint?: boolean;
  dryRun?: boolean;
  /** Progress callback, every LIMITS.replay.progressEveryRows rows or so. */
  onProgress?: (rows: number, lastId: bigint) => void;
  /** Stop collecting bad rows after this many (the count still grows). */
  maxBadRows?: number;
  /** Rows per COPY statement; default: all of them on Postgres, LIMITS.replay.pageRows on PGlite. */
  pageRows?: number;
  /** Rows that may wait for their turn when Postgres streams them as stored (default LIMITS.replay.maxEarlyRows; see db/replay/in-order.ts). */
  maxEarlyRows?: number;
}

export async function replay(db: Db, opts: ReplayOptions = {}): Promise<ReplayReport> {
  const t0 = performance.now();
  const fold = new Fold(opts.maxBadRows ?? 1000);
  let fromId = 1n;
  if (opts.fromCheckpoint) {
    const cp = await loadCheckpoint(db);
    if (cp) {
      restoreState(fold.world, cp.state, fold.minted, fold.burned);
      fold.prevHash = cp.headHash;
      fold.lastId = cp.entryId;
      fold.lastAt = cp.state.last_at_ms ?? 0;
      fromId = cp.entryId + 1n;
    }
  }
  fold.start();
  let nextProgress = LIMITS.replay.progressEveryRows;
  const progress = () => {
    if (fold.rows < nextProgress) return;
    nextProgress = fold.rows + LIMITS.replay.progressEveryRows;
    opts.onProgress?.(fold.rows, fold.lastId);
  };
  if (db.kind === 'postgres' && opts.pageRows === undefined) {
    // One statement, rows as stored (in-order.ts), streamed while they are checked.
    const inOrder = new InOrder(fold, opts.maxEarlyRows ?? LIMITS.replay.maxEarlyRows);
    const split = new CopyRowSplitter((b, start, end, off, len) => inOrder.row(b, start, end, off, len));
    try {
      await db.copyOut(ledgerSelect(fold.lastId, { order: 'stored' }), (chunk, start, end) => {
        split.push(chunk, start, end);
        progress();
      });
      split.finish();
      inOrder.finish();
    } catch (e) {
      if (!(e instanceof TooScrambled)) throw e;
      inOrder.reset();
      await readPages(db, fold, undefined, progress);
    }
  } else {
    // PGlite hands a COPY's whole output over as one blob: pages bound it.
    await readPages(db, fold, opts.pageRows ?? (db.kind === 'postgres' ? undefined : LIMITS.replay.pageRows), progress);
  }
  opts.onProgress?.(fold.rows, fold.lastId);
  fold.finish();
  const { world, minted, burned, lastId, lastAt, rows, badCount } = fold;
  const prevHash = fold.prevHash;
  const bad = fold.bad;
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
    hashVersions: { v1: fold.versions[1], v2: fold.versions[2], other: fold.versions[0] },
  };
}

/** The rows after the fold's last id, in id order: `pageRows` per COPY statement (all in one when undefined). */
async function readPages(db: Db, fold: Fold, pageRows: number | undefined, progress: () => void): Promise<void> {
  for (;;) {
    const after = fold.lastId;
    const split = new CopyRowSplitter((b, _start, end, off, len) => fold.row(b, end, off, len));
    await db.copyOut(ledgerSelect(after, { limit: pageRows }), (chunk, start, end) => {
      split.push(chunk, start, end);
      progress();
    });
    split.finish();
    if (pageRows === undefined || split.rows < pageRows) return;
    if (fold.lastId <= after) throw new Error(`replay: a page after id ${after} did not advance`); // ids are a primary key: cannot happen
  }
}

/** Fold and verify the whole ledger, then record a checkpoint at its head. */
export async function createCheckpoint(db: Db): Promise<{ entryId: string; checksum: string }> {
  const r = await replay(db, { dryRun: true, fromCheckpoint: true });
  if (!r.chainOk) throw new GridError('CHAIN_BROKEN', 'refusing to checkpoint a ledger that does not verify', { badRows: r.badRows.slice(0, 20) });
  const world = await foldToState(db);
  const state = { ...world.state, last_at_ms: world.lastAt };
  const text = JSON.stringify(state);
  const checksum = checkpointChecksum(state);
  await db.query(`INSERT INTO checkpoints (entry_id, head_hash, state, checksum) VALUES ($1, decode($2, 'hex'), $3::jsonb, $4)`, [world.lastId, world.headHash, text, checksum]);
  return { entryId: world.lastId.toString(), checksum };
}
