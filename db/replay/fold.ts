/**
 * The per-row half of replay: checks ids, links, time, shape and balances, and folds each entry
 * into a MemoryWorld through `applyEffect` (the one definition of what an entry does to state).
 * The hash check arrives per page (computed after the fold, or by the verify workers): a page's
 * problems are collected with their line numbers and merged in row order once its hashes are known.
 */
import { MemoryWorld, type EntryKind, type Effect } from '../../validator';
import { GENESIS_HASH } from '../hash';

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
 * check canonicalizes it). Every other kind — including any kind added later — goes through
 * applyEffect with its parsed metadata. Listing the plain kinds, not the others, keeps a new kind
 * correct (only slower) until it is listed here.
 */
export const MOVE_ONLY_KINDS: ReadonlySet<string> = new Set<EntryKind>(['transfer', 'harvest', 'tax', 'mint', 'burn', 'interest', 'compute_charge']);

/** Rank of each problem within one row: the order the checks run in. */
const RANK = { ID_GAP: 0, BROKEN_LINK: 1, HASH_MISMATCH: 2, TIME_REVERSED: 3, BAD_SHAPE: 4, NEGATIVE_BALANCE: 5 } as const;

interface Flag {
  pos: number;
  bad: BadRow;
}

export class Fold {
  readonly world = new MemoryWorld();
  readonly minted = new Map<string, bigint>();
  readonly burned = new Map<string, bigint>();
  prevHash = GENESIS_HASH;
  lastAt = 0;
  rows = 0;
  badCount = 0;
  readonly bad: BadRow[] = [];
  /** This page's problems, in row order (HASH_MISMATCH merged in by `endPage`). */
  private flags: Flag[] = [];
  /** The last id as text and, while it is a safe integer, as a number (BigInt per row is slow). */
  private lastIdText = '0';
  private lastIdNum = 0;
  /**
   * Balances during the fold, by resource then actor: MemoryWorld keys them by a concatenated
   * string, which costs more than the rest of a row's fold. Same keys and values as
   * world.balances would hold; `finish` writes them back.
   */
  private readonly balances = new Map<string, Map<string, bigint>>();
  private lastResource = '';
  private lastHolders: Map<string, bigint> | null = null;

  constructor(private readonly maxBad: number) {}

  get lastId(): bigint {
    return BigInt(this.lastIdText);
  }
  set lastId(v: bigint) {
    this.lastIdText = v.toString();
    this.lastIdNum = Number(v);
  }

  /** Call once the world holds the starting state (a checkpoint), before the first row. */
  start(): void {
    for (const [a, r, v] of this.world.allBalances()) this.holders(r).set(a, v);
  }

  /** Call after the last row: the world then holds the folded balances. */
  finish(): void {
    for (const [r, m] of this.balances) for (const [a, v] of m) this.world.setBalance(a, r, v);
  }

  private holders(resource: string): Map<string, bigint> {
    if (resource === this.lastResource && this.lastHolders) return this.lastHolders;
    let m = this.balances.get(resource);
    if (!m) this.balances.set(resource, (m = new Map()));
    this.lastResource = resource;
    return (this.lastHolders = m);
  }

  private flag(pos: number, bad: BadRow) {
    this.badCount++;
    this.flags.push({ pos, bad });
  }

  /**
   * One ledger row, in id order. `pos` identifies the row within its page (for merging the hash
   * verdict); `hashOk` is undefined when the verdict comes later through `endPage`. `agent`,
   * `proposalId` and `metadata` are not read for MOVE_ONLY_KINDS (applyEffect does not read them).
   */
  row(
    pos: number,
    idText: string,
    atText: string,
    kind: string,
    agent: string,
    from: string | null,
    to: string | null,
    resource: string | null,
    amountText: string | null,
    proposalId: string,
    metadata: string,
    prevHex: string,
    hashHex: string,
    hashOk: boolean | undefined,
  ): void {
    const idNum = idText.length <= 15 ? Number(idText) : NaN;
    const safe = idNum === idNum && Number.isSafeInteger(this.lastIdNum) && this.lastIdNum < Number.MAX_SAFE_INTEGER;
    if (safe ? idNum !== this.lastIdNum + 1 : BigInt(idText) !== this.lastId + 1n) {
      this.flag(pos, { id: idText, problem: 'ID_GAP', message: `expected id ${this.lastId + 1n}, found ${BigInt(idText)}` });
    }
    if (prevHex !== this.prevHash) this.flag(pos, { id: idText, problem: 'BROKEN_LINK', message: `prev_hash does not match the hash of row ${this.lastIdText}` });
    if (hashOk === false) this.flag(pos, { id: idText, problem: 'HASH_MISMATCH', message: 'stored hash does not match the row contents (the row was altered)' });
    const at = Number(atText);
    if (at < this.lastAt) this.flag(pos, { id: idText, problem: 'TIME_REVERSED', message: `executed_at ${at} is before the previous row's ${this.lastAt}` });
    const amount = amountText === null ? null : BigInt(amountText);
    const moves = amount !== null && resource !== null;
    if (moves) {
      const creates = from === null;
      const destroys = to === null;
      // Value appears only through mint/interest and disappears only through burn/tax.
      const shapeOk = creates === CREATES.has(kind) && (destroys ? DESTROYS.has(kind) : kind !== 'burn') && !(creates && destroys);
      if (!shapeOk) this.flag(pos, { id: idText, problem: 'BAD_SHAPE', message: `a ${kind} entry from ${from ?? '(nothing)'} to ${to ?? '(nothing)'} breaks conservation` });
      if (creates) this.minted.set(resource, (this.minted.get(resource) ?? 0n) + amount);
      if (destroys) this.burned.set(resource, (this.burned.get(resource) ?? 0n) + amount);
    }
    if (!MOVE_ONLY_KINDS.has(kind)) {
      // applyEffect is the definition of what an entry does; hand it the current balances it
      // moves and take back what it wrote.
      const e: Effect = { kind: kind as EntryKind, from, to, resource, amount, metadata: JSON.parse(metadata) };
      const h = resource === null ? null : this.holders(resource);
      if (moves) {
        if (from !== null && h!.has(from)) this.world.setBalance(from, resource, h!.get(from)!);
        if (to !== null && h!.has(to)) this.world.setBalance(to, resource, h!.get(to)!);
      }
      this.world.applyEffect(e, { proposal_id: proposalId, agent });
      if (moves) {
        if (from !== null) h!.set(from, this.world.balance(from, resource));
        if (to !== null) h!.set(to, this.world.balance(to, resource));
      }
    } else if (moves) {
      // What applyEffect does for every other kind: move `amount` from `from` to `to`.
      const h = this.holders(resource);
      if (from !== null) h.set(from, (h.get(from) ?? 0n) - amount);
      if (to !== null) h.set(to, (h.get(to) ?? 0n) + amount);
    }
    if (from !== null && resource !== null) {
      const b = this.holders(resource).get(from) ?? 0n;
      if (b < 0n) this.flag(pos, { id: idText, problem: 'NEGATIVE_BALANCE', message: `${from} holds ${b} ${resource} after this row` });
    }
    this.prevHash = hashHex;
    this.lastIdText = idText;
    this.lastIdNum = safe ? idNum : Number(BigInt(idText));
    if (at > this.lastAt) this.lastAt = at;
    this.rows++;
  }

  /**
   * Close a page: merge the hash verdicts that arrived separately (`mismatches`: sorted line
   * offsets with the row id) into the page's problems in row order, then keep up to maxBad.
   */
  endPage(mismatches: Array<[number, string]>): void {
    let flags = this.flags;
    if (mismatches.length) {
      this.badCount += mismatches.length;
      const merged: Flag[] = [];
      let i = 0;
      for (const [pos, id] of mismatches) {
        while (i < flags.length && (flags[i].pos < pos || (flags[i].pos === pos && RANK[flags[i].bad.problem] < RANK.HASH_MISMATCH))) merged.push(flags[i++]);
        merged.push({ pos, bad: { id, problem: 'HASH_MISMATCH', message: 'stored hash does not match the row contents (the row was altered)' } });
      }
      while (i < flags.length) merged.push(flags[i++]);
      flags = merged;
    }
    for (const f of flags) if (this.bad.length < this.maxBad) this.bad.push(f.bad);
    this.flags = [];
    // Slices of the page text would keep the whole page alive.
    this.prevHash = Buffer.from(this.prevHash, 'latin1').toString('latin1');
  }
}
