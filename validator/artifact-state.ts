/**
 * Artifact state as the law reads it and as replay rebuilds it: artifacts (owner, kind, content
 * hash, revision, price, access, tombstone), escrow listings, content sizes and disk use per
 * owner.
 *
 * Why a separate book inside MemoryWorld: this state changes only through `artifact_write`,
 * `artifact_delete` and `escrow` entries, and `apply` below is the one definition of what those
 * entries do — the writer applies it after a decision, replay folds the ledger through it, so
 * the `artifacts` / `artifact_listings` tables are caches exactly like `balances`.
 */
import type { Effect } from './types';

export type AccessPolicy = { mode: 'public' } | { mode: 'private' } | { mode: 'allow'; allow: string[] };

export interface ArtifactState {
  id: string;
  /** Current holder: the creator, a buyer, or the escrow actor while listed. */
  owner: string;
  created_by: string;
  kind: 'data' | 'code';
  /** Lowercase hex sha256 of the content (artifact_blobs). */
  content_hash: string;
  bytes: number;
  /** MCP-style `{ tools: [...] }` (JSON) or null for data. */
  interface: unknown;
  invoke_price: bigint;
  access: AccessPolicy;
  description: string | null;
  /** 1 on creation, +1 on every write: a sandbox run records the revision it executed. */
  rev: number;
  deleted: boolean;
  /** The open escrow listing holding it, if any. */
  listing: string | null;
}

export interface ListingState {
  listing_id: string;
  artifact_id: string;
  seller: string;
  escrow: string;
  price: bigint;
  test_artifact: string | null;
  test_method: string;
  /** Revision of the test artifact when listed: a test changed afterwards cannot release the sale. */
  test_rev: number | null;
  /** Revision of the artifact when it was listed (it cannot change while held). */
  rev: number;
  status: 'open' | 'sold' | 'cancelled';
  buyer: string | null;
}

/** Who earns the invoke price: the seller while the artifact is held in escrow, else the owner. */
export function payeeOf(a: ArtifactState, listing: (id: string) => ListingState | undefined): string {
  const l = a.listing ? listing(a.listing) : undefined;
  return l && l.status === 'open' ? l.seller : a.owner;
}

/** May `caller` invoke / read the artifact? The owner (or listing seller) always may. */
export function accessAllows(a: ArtifactState, caller: string, payee: string): boolean {
  if (caller === a.owner || caller === payee) return true;
  if (a.access.mode === 'public') return true;
  if (a.access.mode === 'allow') return a.access.allow.includes(caller);
  return false;
}

export class ArtifactBook {
  readonly artifacts = new Map<string, ArtifactState>();
  readonly listings = new Map<string, ListingState>();
  /** Content sizes by hash, as far as loaded (the loader fills the hashes a batch names). */
  readonly blobs = new Map<string, number>();
  /** Bytes of live artifacts per owner. The loader fills the owners a batch names. */
  readonly disk = new Map<string, number>();

  diskUsed(owner: string): number {
    return this.disk.get(owner) ?? 0;
  }

  private addDisk(owner: string, bytes: number): void {
    this.disk.set(owner, this.diskUsed(owner) + bytes);
  }

  /**
   * Apply one artifact entry. Returns the principal on whose behalf a trusted proposer acted
   * (metadata.principal), so the world can count that action for the principal's rate limit.
   */
  apply(e: Effect, ctx: { proposal_id: string; agent: string }): string | null {
    const m = e.metadata as Record<string, any>;
    // A fold that skips parsing metadata (db/replay/fold.ts, for speed) passes {}: nothing to apply.
    if (m.artifact_id === undefined && m.listing_id === undefined && m.principal === undefined) return null;
    switch (e.kind) {
      case 'artifact_write': {
        const prev = this.artifacts.get(String(m.artifact_id));
        const bytes = Number(m.bytes);
        if (prev) this.addDisk(prev.owner, -prev.bytes);
        this.addDisk(prev?.owner ?? ctx.agent, bytes);
        this.blobs.set(String(m.content_hash), bytes);
        this.artifacts.set(String(m.artifact_id), {
          id: String(m.artifact_id),
          owner: prev?.owner ?? ctx.agent,
          created_by: prev?.created_by ?? ctx.agent,
          kind: m.artifact_kind === 'code' ? 'code' : 'data',
          content_hash: String(m.content_hash),
          bytes,
          interface: m.interface ?? null,
          invoke_price: BigInt(m.invoke_price ?? 0),
          access: (m.access as AccessPolicy) ?? { mode: 'public' },
          description: (m.description as string | undefined) ?? null,
          rev: Number(m.rev),
          deleted: false,
          listing: null,
        });
        return null;
      }
      case 'artifact_delete': {
        const a = this.artifacts.get(String(m.artifact_id));
        if (a && !a.deleted) {
          this.addDisk(a.owner, -a.bytes);
          a.deleted = true;
        }
        return null;
      }
      case 'escrow':
        return this.applyEscrow(m, ctx);
      case 'invoke':
        // Only the record leg (no movement) names the principal; payment legs are plain moves.
        return e.amount === null && typeof m.principal === 'string' ? m.principal : null;
      default:
        return null;
    }
  }

  private applyEscrow(m: Record<string, any>, ctx: { proposal_id: string; agent: string }): string | null {
    if (m.action === 'deposit') {
      const a = this.artifacts.get(String(m.artifact_id));
      this.listings.set(ctx.proposal_id, {
        listing_id: ctx.proposal_id,
        artifact_id: String(m.artifact_id),
        seller: String(m.seller),
        escrow: String(m.escrow),
        price: BigInt(m.price),
        test_artifact: (m.test_artifact as string | null) ?? null,
        test_method: String(m.test_method ?? 'test'),
        test_rev: m.test_rev === null || m.test_rev === undefined ? null : Number(m.test_rev),
        rev: Number(m.rev),
        status: 'open',
        buyer: null,
      });
      if (a) this.transferOwnership(a, String(m.escrow), ctx.proposal_id);
      return null;
    }
    const l = this.listings.get(String(m.listing_id));
    const a = l ? this.artifacts.get(l.artifact_id) : undefined;
    if (!l) return null;
    if (m.action === 'purchase') {
      l.status = 'sold';
      l.buyer = String(m.buyer);
      if (a) this.transferOwnership(a, l.buyer, null);
      return typeof m.principal === 'string' ? m.principal : null;
    }
    if (m.action === 'cancel') {
      l.status = 'cancelled';
      if (a) this.transferOwnership(a, l.seller, null);
    }
    return null;
  }

  private transferOwnership(a: ArtifactState, to: string, listing: string | null): void {
    if (!a.deleted) {
      this.addDisk(a.owner, -a.bytes);
      this.addDisk(to, a.bytes);
    }
    a.owner = to;
    a.listing = listing;
  }
}
