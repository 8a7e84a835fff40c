/**
 * The per-row half of replay: for each row of the COPY stream (copy-rows.ts), in id order, checks
 * the id, the link to the row before, the stored hash (row-hash.ts), time, the entry's shape and
 * balances, and folds the entry into a MemoryWorld through `applyEffect` (the one definition of
 * what an entry does to state). Problems are recorded by row id, in row order.
 */
import { MemoryWorld, type EntryKind, type Effect } from '../../validator';
import { GENESIS_HASH } from '../hash';
import { PG_EPOCH_MS, hexOf, uuidText } from '../entry-binary';
import { rowHashOk, metadataText, F } from './row-hash';
import { readInt32 } from './copy-rows';
import { Holdings, Interner } from './holdings';

export interface BadRow {
  id: string;
  problem: 'ID_GAP' | 'BROKEN_LINK' | 'HASH_MISMATCH' | 'TIME_REVERSED' | 'BAD_SHAPE' | 'NEGATIVE_BALANCE';
  message: string;
}

const CREATES: ReadonlySet<string> = new Set<EntryKind>(['mint', 'interest']);
// compute_charge: the CPU a sandbox run used, charged in the compute resource (validator/artifacts.ts).
const DESTROYS: ReadonlySet<string> = new Set<EntryKind>(['burn', 'tax', 'compute_charge']);
/**
 * The kinds whose effect is only the balance move (the default branch of MemoryWorld.applyEffect's
 * switch): for them the fold moves the balances itself and does not parse the metadata (the hash
 * check covers it). Every other kind — including any kind added later — goes through applyEffect
 * with its parsed metadata. Listing the plain kinds, not the others, keeps a new kind correct
 * (only slower) until it is listed here.
 */
export const MOVE_ONLY_KINDS: ReadonlySet<string> = new Set<EntryKind>(['transfer', 'harvest', 'tax', 'mint', 'burn', 'interest', 'compute_charge']);

const TWO32 = 4294967296;
/** Ids below 2^53 are handled as numbers (BigInt per row is slow); beyond, as bigint. */
const SAFE_HI = 0x200000;

export class Fold {
  readonly world = new MemoryWorld();
  readonly minted = new Map<string, bigint>();
  readonly burned = new Map<string, bigint>();
  lastAt = 0;
  rows = 0;
  /** Rows by the chain version they state (hash_version): v1 before migration 0008, v2 since. */
  readonly versions = [0, 0, 0];
  badCount = 0;
  readonly bad: BadRow[] = [];
  /** The last id: a number while it is safe, else `lastIdBig`. */
  private lastIdNum = 0;
  private lastIdBig: bigint | null = null;
  /** Hash of the last row — the prev_hash the next row must carry — at prevAt in prevBuf (a reference, not a copy). */
  private prevBuf: Buffer = Buffer.from(GENESIS_HASH, 'hex');
  private prevAt = 0;
  /**
   * Balances during the fold, by resource then actor: MemoryWorld keys them by a concatenated
   * string, which costs more than the rest of a row's fold. Same keys and values as
   * world.balances would hold; `finish` writes them back.
   */
  private readonly balances = new Map<string, Holdings>();
  private lastResource = '';
  private lastHolders: Holdings | null = null;
  /** Ids, kinds and resource names repeat across rows: decoded once each (bounded). */
  private readonly names = new Interner();

  constructor(private readonly maxBad: number) {}

  get lastId(): bigint {
    return this.lastIdBig ?? BigInt(this.lastIdNum);
  }
  set lastId(v: bigint) {
    if (v < 2n ** 53n) {
      this.lastIdNum = Number(v);
      this.lastIdBig = null;
    } else this.lastIdBig = v;
  }

  /** The id the next row must have, as a number; NaN beyond 2^53. */
  get nextIdNumber(): number {
    return this.lastIdBig === null ? this.lastIdNum + 1 : NaN;
  }

  /** The chain head so far (hex): the last row's hash. */
  get prevHash(): string {
    return hexOf(this.prevBuf, this.prevAt, 32);
  }
  set prevHash(hex: string) {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`replay: not a sha256 hex digest: ${JSON.stringify(hex)}`);
    this.prevBuf = Buffer.from(hex, 'hex');
    this.prevAt = 0;
  }

  /** Call once the world holds the starting state (a checkpoint), before the first row. */
  start(): void {
    for (const [a, r, v] of this.world.allBalances()) this.holders(r).set(a, v);
  }

  /** Call after the last row: the world then holds the folded balances. */
  finish(): void {
    for (const [r, m] of this.balances) m.forEach((a, v) => this.world.setBalance(a, r, v));
  }

  private holders(resource: string): Holdings {
    if (resource === this.lastResource && this.lastHolders) return this.lastHolders;
    let m = this.balances.get(resource);
    if (!m) this.balances.set(resource, (m = new Holdings()));
    this.lastResource = resource;
    return (this.lastHolders = m);
  }

  private flag(id: string, problem: BadRow['problem'], message: string) {
    this.badCount++;
    if (this.bad.length < this.maxBad) this.bad.push({ id, problem, message });
  }

  /** One ledger row of the COPY stream (copy-rows.ts OnRow), in id order. */
  row(b: Buffer, end: number, off: Int32Array, len: Int32Array): void {
    const before = this.lastIdBig ?? this.lastIdNum;
    // id
    let idText: string;
    if (len[F.id] !== 8) {
      // Only a tampered table (a dropped NOT NULL) gets here; the row cannot be placed.
      idText = `(after ${this.lastId})`;
      this.flag(idText, 'BAD_SHAPE', 'the row has no id');
    } else {
      const hi = readInt32(b, off[F.id]);
      const lo = readInt32(b, off[F.id] + 4) >>> 0;
      if (this.lastIdBig === null && hi >= 0 && hi < SAFE_HI) {
        const id = hi * TWO32 + lo;
        idText = '';
        if (id !== this.lastIdNum + 1) {
          idText = String(id);
          this.flag(idText, 'ID_GAP', `expected id ${this.lastIdNum + 1}, found ${id}`);
        }
        this.lastIdNum = id;
      } else {
        const id = b.readBigInt64BE(off[F.id]);
        idText = id.toString();
        const expected = this.lastId + 1n;
        if (id !== expected) this.flag(idText, 'ID_GAP', `expected id ${expected}, found ${id}`);
        if (id < 2n ** 53n && id >= 0n) {
          this.lastIdNum = Number(id);
          this.lastIdBig = null;
        } else this.lastIdBig = id;
      }
    }
    // Only rows with a problem need their id as text.
    const idOf = () => idText || (idText = String(this.lastIdNum));
    // link, then hash
    const p = off[F.prev];
    let linked = len[F.prev] === 32;
    const pb = this.prevBuf;
    const pa = this.prevAt;
    for (let i = 0; linked && i < 32; i++) if (b[p + i] !== pb[pa + i]) linked = false;
    if (!linked) this.flag(idOf(), 'BROKEN_LINK', `prev_hash does not match the hash of row ${before}`);
    if (!rowHashOk(b, end, off, len)) this.flag(idOf(), 'HASH_MISMATCH', 'stored hash does not match the row contents (the row was altered)');
    const v = len[F.version] === 2 ? (b[off[F.version]] << 8) | b[off[F.version] + 1] : 0;
    this.versions[v === 1 || v === 2 ? v : 0]++;
    // The chunk `b` is never written again (each is a fresh buffer), so keeping a reference is safe.
    if (len[F.hash] === 32) {
      this.prevBuf = b;
      this.prevAt = off[F.hash];
    } else {
      this.prevBuf = Buffer.alloc(32); // no row's prev_hash can match a missing hash… except 32 zero bytes: flagged above anyway
      this.prevAt = 0;
    }
    // time (microseconds since 2000 in the row; a v2 hash covers them exactly)
    let at = this.lastAt;
    if (len[F.at] === 8) {
      const us = readInt32(b, off[F.at]) * TWO32 + (readInt32(b, off[F.at] + 4) >>> 0);
      at = Math.floor(us / 1000) + PG_EPOCH_MS;
      if (at < this.lastAt) this.flag(idOf(), 'TIME_REVERSED', `executed_at ${at} is before the previous row's ${this.lastAt}`);
    }
    // the entry
    const names = this.names;
    const kind = len[F.kind] < 0 ? '' : names.text(b, off[F.kind], len[F.kind]);
    const from = len[F.from] < 0 ? null : names.text(b, off[F.from], len[F.from]);
    const to = len[F.to] < 0 ? null : names.text(b, off[F.to], len[F.to]);
    const resource = len[F.resource] < 0 ? null : names.text(b, off[F.resource], len[F.resource]);
    // The amount as a number while it is exact (the law caps amounts far below 2^53), else bigint.
    let amountNum = NaN;
    let amount: bigint | null = null;
    if (len[F.amount] === 8) {
      const hi = readInt32(b, off[F.amount]);
      if (hi >= 0 && hi < SAFE_HI) amountNum = hi * TWO32 + (readInt32(b, off[F.amount] + 4) >>> 0);
      else amount = b.readBigInt64BE(off[F.amount]);
    }
    const moves = (amountNum === amountNum || amount !== null) && resource !== null;
    if (moves && amount === null && !MOVE_ONLY_KINDS.has(kind)) amount = BigInt(amountNum);
    if (moves) {
      const big = amount ?? BigInt(amountNum);
      const creates = from === null;
      const destroys = to === null;
      // Value appears only through mint/interest and disappears only through burn/tax.
      const shapeOk = creates === CREATES.has(kind) && (destroys ? DESTROYS.has(kind) : kind !== 'burn') && !(creates && destroys);
      if (!shapeOk) this.flag(idOf(), 'BAD_SHAPE', `a ${kind} entry from ${from ?? '(nothing)'} to ${to ?? '(nothing)'} breaks conservation`);
      if (creates) this.minted.set(resource, (this.minted.get(resource) ?? 0n) + big);
      if (destroys) this.burned.set(resource, (this.burned.get(resource) ?? 0n) + big);
    }
    if (!MOVE_ONLY_KINDS.has(kind)) {
      // applyEffect is the definition of what an entry does; hand it the current balances it
      // moves and take back what it wrote.
      let metadata: Record<string, unknown> = {};
      try {
        metadata = JSON.parse(metadataText(b, off, len) ?? '{}');
      } catch {
        this.flag(idOf(), 'BAD_SHAPE', 'the metadata is not JSON');
      }
      const e: Effect = { kind: kind as EntryKind, from, to, resource, amount: moves ? amount : null, metadata };
      const h = resource === null ? null : this.holders(resource);
      if (moves) {
        if (from !== null && h!.has(from)) this.world.setBalance(from, resource, h!.get(from)!);
        if (to !== null && h!.has(to)) this.world.setBalance(to, resource, h!.get(to)!);
      }
      const text = (k: number) => (len[k] < 0 ? '' : b.toString('utf8', off[k], off[k] + len[k]));
      const proposalId = len[F.proposalId] === 16 ? uuidText(b, off[F.proposalId]) : '';
      this.world.applyEffect(e, { proposal_id: proposalId, agent: text(F.agent) });
      if (moves) {
        if (from !== null) h!.set(from, this.world.balance(from, resource));
        if (to !== null) h!.set(to, this.world.balance(to, resource));
      }
      if (from !== null && resource !== null && h!.get(from) < 0n) this.flag(idOf(), 'NEGATIVE_BALANCE', `${from} holds ${h!.get(from)} ${resource} after this row`);
    } else if (moves) {
      // What applyEffect does for every other kind: move the amount from `from` to `to`.
      const h = this.holders(resource);
      if (to !== null) {
        if (amount === null) h.add(to, amountNum);
        else h.addBig(to, amount);
      }
      if (from !== null && (amount === null ? h.add(from, -amountNum) : h.addBig(from, -amount))) {
        this.flag(idOf(), 'NEGATIVE_BALANCE', `${from} holds ${h.get(from)} ${resource} after this row`);
      }
    }
    if (at > this.lastAt) this.lastAt = at;
    this.rows++;
  }
}
