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
 * How it is fast (see db/replay/): the ledger arrives as one text value per page (page.ts), pages
 * read ahead on parallel connections (source.ts); the main thread folds each page (fold.ts) and
 * re-hashes it from its UTF-8 bytes (page.ts) — or, with cores to spare, a worker pool does that
 * beside it (hash-pool.ts): every row stores its prev_hash, so rows hash independently and only
 * the links need the row before. Rows the page layout cannot carry are read the original way, row
 * by row, with the same checks.
 */
import { availableParallelism, cpus } from 'node:os';
import type { Db } from './adapter';
import { entryHash } from './hash';
import { LIMITS } from '../validator/limits';
import { GridError } from './errors';
import { Fold, MOVE_ONLY_KINDS, type BadRow } from './replay/fold';
import { PageReader, type LedgerRow, type Page } from './replay/source';
import { checkHashes, splitLine, utf8, FIELDS, metadataAligned, type HashCheck } from './replay/page';
import { HashPool } from './replay/hash-pool';
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
}

export interface ReplayOptions {
  fromCheckpoint?: boolean;
  dryRun?: boolean;
  /** Progress callback every page. */
  onProgress?: (rows: number, lastId: bigint) => void;
  /** Stop collecting bad rows after this many (the count still grows). */
  maxBadRows?: number;
  /** Pages read at once (default: see `readAhead`). More than 1 only for a pooled Db outside a transaction. */
  readAhead?: number;
  /** Threads that re-hash pages beside the main thread (default: see `defaultWorkers`; 0: hash on the main thread). */
  workers?: number;
}

/**
 * Pages to read at once. Each needs a connection of its own, which a pooled Db has outside a
 * transaction (each statement runs on whichever connection is free) — but a Db that is one
 * transaction (health, verification: one snapshot) has one connection, where concurrent queries
 * are deprecated in pg. In autocommit every statement starts its own transaction, so now() (the
 * transaction's start) equals statement_timestamp() exactly; inside a transaction block it is earlier.
 */
async function readAhead(db: Db): Promise<number> {
  if (db.kind !== 'postgres') return 1; // PGlite runs one query at a time in this thread anyway
  const r = await db.query<{ own: boolean }>('SELECT now() = statement_timestamp() AS own');
  return r.rows[0]?.own ? LIMITS.replay.pagesInFlight : 1;
}

/**
 * One verify worker per core beyond two: the main thread (reading, folding) and the database
 * server (building the pages; on this machine for Postgres, in this thread for PGlite) keep two
 * cores busy already. Measured on 2 cores: workers only added the cost of handing them the pages.
 */
export function defaultWorkers(): number {
  return Math.max(0, (availableParallelism?.() ?? cpus().length) - 2);
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
  const reader = new PageReader(db, fold.lastId, opts.readAhead ?? (await readAhead(db)));
  let workers = Math.min(LIMITS.replay.maxWorkers, opts.workers ?? defaultWorkers());
  let pool: HashPool | null = null;
  try {
    for (let page = await reader.read(); page !== null; page = await reader.read()) {
      if (page.rows) {
        page.rows.forEach((r, i) => foldRow(fold, i, r));
        fold.endPage([]);
      } else {
        if (!pool && workers > 0 && page.n >= LIMITS.replay.workerMinRows) {
          pool = HashPool.open(workers);
          if (!pool) workers = 0;
        }
        const hashing = pool?.check(page.text);
        hashing?.catch(() => {});
        const cutoff = await foldPage(fold, page as Page & { text: string }, reader);
        let hc: HashCheck;
        try {
          hc = hashing ? await hashing : checkHashes(utf8(page.text));
        } catch {
          // A worker died: go on without workers.
          await pool?.close();
          pool = null;
          workers = 0;
          hc = checkHashes(utf8(page.text));
        }
        // Lines from `cutoff` on were read row by row, and hashed then.
        const err = hc.errors.find(([line]) => line < cutoff);
        if (err) throw new SyntaxError(`ledger line ${err[0] + 1} of the page after id ${page.after}: metadata is not JSON (${err[1]})`);
        fold.endPage(hc.bad.filter(([line]) => line < cutoff));
      }
      opts.onProgress?.(fold.rows, fold.lastId);
    }
  } finally {
    // Nothing of ours may still run on the connection when the caller goes on (or rolls back).
    await reader.drain();
    await pool?.close();
  }
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
  };
}

/** A row read the original way: hashed here with entryHash itself. */
function foldRow(fold: Fold, pos: number, r: LedgerRow): void {
  const amount = r.amount === null ? null : BigInt(r.amount);
  const at = Number(r.at_ms);
  const h = entryHash({
    kind: r.kind as any, from: r.from_actor, to: r.to_actor, resource: r.resource, amount, metadata: JSON.parse(r.metadata),
    id: BigInt(r.id), proposal_id: r.proposal_id, leg: r.leg, agent: r.agent, validator_version: r.validator_version, executed_at: at, proposal_hash: r.proposal_hash, prev_hash: r.prev_hash,
  });
  fold.row(pos, String(r.id), String(r.at_ms), r.kind, r.agent, r.from_actor, r.to_actor, r.resource, amount === null ? null : amount.toString(), r.proposal_id, r.metadata, r.prev_hash, r.hash, h === r.hash);
}

/**
 * Fold one page in the text layout; hashes are checked elsewhere. Returns the line from which the
 * page was read row by row instead (those rows' hash verdicts are already in), else its line count.
 */
async function foldPage(fold: Fold, page: Page & { text: string }, reader: PageReader): Promise<number> {
  const text = page.text;
  const sep = new Int32Array(FIELDS - 1);
  let prevText = page.after.toString();
  let prevNum = prevText.length <= 15 ? Number(prevText) : NaN;
  // Consecutive rows mostly share kind and resource: reuse the string instead of slicing a new one.
  let kind = '';
  let resource = '';
  let line = 0;
  for (let pos = 0; pos < text.length; line++) {
    const end = splitLine(text, pos, text.length, sep);
    const metaStart = end === -1 ? 0 : sep[14] + 1;
    const plain = end - metaStart === 2 && text.charCodeAt(metaStart) === 123 && text.charCodeAt(metaStart + 1) === 125;
    const meta = plain ? '{}' : end === -1 ? '' : text.slice(metaStart, end);
    if (end === -1 || sep[2] !== sep[1] + 1 || (!plain && !metadataAligned(meta))) {
      // Only a tampered ledger gets here: fewer fields than the layout prints (a NOT NULL
      // constraint was dropped), an empty-string actor/resource, or a '|' inside a text field.
      // The rest of this page the original way, row by row.
      const rest = await reader.rows(fold.lastId, page.last);
      rest.forEach((r, i) => foldRow(fold, line + i, r));
      return line;
    }
    const idText = text.slice(sep[2] + 1, sep[3]);
    // The page query aggregates an id-ordered subquery; Postgres feeds an aggregate in that order.
    const idNum = idText.length <= 15 ? Number(idText) : NaN; // exact: int8 text of at most 15 characters
    if (idNum === idNum && prevNum === prevNum ? idNum <= prevNum : BigInt(idText) <= BigInt(prevText)) {
      throw new Error(`replay: ledger page after id ${page.after} arrived out of order`);
    }
    prevText = idText;
    prevNum = idNum;
    if (sep[7] - sep[6] - 1 !== kind.length || !text.startsWith(kind, sep[6] + 1)) kind = text.slice(sep[6] + 1, sep[7]);
    if (sep[11] - sep[10] - 1 !== resource.length || !text.startsWith(resource, sep[10] + 1)) resource = text.slice(sep[10] + 1, sep[11]);
    // applyEffect reads the proposal id and agent (like the metadata) only beyond MOVE_ONLY_KINDS.
    const ctx = !MOVE_ONLY_KINDS.has(kind);
    fold.row(
      line, idText, text.slice(sep[3] + 1, sep[4]), kind,
      ctx ? text.slice(sep[7] + 1, sep[8]) : '',
      sep[9] === sep[8] + 1 ? null : text.slice(sep[8] + 1, sep[9]),
      sep[10] === sep[9] + 1 ? null : text.slice(sep[9] + 1, sep[10]),
      resource === '' ? null : resource,
      sep[12] === sep[11] + 1 ? null : text.slice(sep[11] + 1, sep[12]),
      ctx ? text.slice(sep[4] + 1, sep[5]) : '',
      meta, text.slice(pos, sep[0]), text.slice(sep[0] + 1, sep[1]), undefined,
    );
    pos = end + 1;
  }
  return line;
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
