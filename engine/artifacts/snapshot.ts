/**
 * What one invoke's sandbox host knows: a lazily filled, read-only copy of the state a run
 * touches (artifacts with their content, balances, actors, resources, the world document, and the
 * answers of genesis queries).
 *
 * Why lazy with re-runs: the executor's host API is synchronous (QuickJS calls into the host in
 * the middle of guest code) and the database is not. Every accessor answers from memory; what is
 * not loaded yet is recorded as wanted and answered as absent, which fails or skews the run. The
 * caller then `fill()`s what was wanted and runs again from the start (same clock, same seed):
 * a run is a pure function of its inputs, so only the last run — made with everything it needed
 * in memory — counts. Each round loads at least one new thing; LIMITS.artifacts.maxFetchRounds
 * bounds the rounds. Nothing here is authoritative: the law re-checks everything the run relied
 * on under the writer's locks.
 */
import { LIMITS, type ArtifactState, type ListingState } from '../../validator';
import type { Queryable } from '../../db/adapter';
import { artifactFromRow, listingFromRow } from '../../db/artifacts';
import { readWorldState } from '../world-state';
import { fail } from '../../sandbox/errors';

/** A failure the host answers while data is still being loaded (the run is repeated). */
export const NOT_LOADED = () => fail('EXECUTION_ERROR', 'The host is still loading data for this run; it is run again once loaded.', { reason: 'HOST_FETCH' }, 1);

/** Artifact contents by sha256, shared by every invoke in the process (content never changes). */
export class ContentCache {
  private readonly map = new Map<string, string>();
  private bytes = 0;
  constructor(private readonly maxBytes = LIMITS.artifacts.contentCacheBytes) {}
  get(hash: string): string | undefined {
    const v = this.map.get(hash);
    if (v !== undefined) {
      this.map.delete(hash);
      this.map.set(hash, v); // most recently used last
    }
    return v;
  }
  set(hash: string, content: string): void {
    if (this.map.has(hash)) return;
    this.map.set(hash, content);
    this.bytes += content.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }
}

const key = (actor: string, resource: string) => `${actor}\u0000${resource}`;

export class HostSnapshot {
  /** null: known not to exist. */
  private readonly artifacts = new Map<string, ArtifactState | null>();
  private readonly listings = new Map<string, ListingState>();
  private readonly balances = new Map<string, bigint>();
  private readonly actors = new Map<string, string | null>();
  private resources: Set<string> | null = null;
  private worldDoc: unknown = undefined;
  private readonly queries = new Map<string, unknown>();
  private readonly want = { artifacts: new Set<string>(), actors: new Set<string>(), contents: new Set<string>(), world: false, resources: false, queries: new Map<string, () => Promise<unknown>>() };
  rounds = 0;

  constructor(
    readonly db: Queryable,
    readonly contents: ContentCache,
  ) {}

  get missed(): boolean {
    const w = this.want;
    return w.artifacts.size + w.actors.size + w.contents.size + w.queries.size > 0 || w.world || w.resources;
  }

  artifact(id: string): ArtifactState | null | undefined {
    const a = this.artifacts.get(id);
    if (a === undefined) this.want.artifacts.add(id);
    return a;
  }

  listing(id: string): ListingState | undefined {
    return this.listings.get(id);
  }

  content(hash: string): string | undefined {
    const c = this.contents.get(hash);
    if (c === undefined) this.want.contents.add(hash);
    return c;
  }

  /** Stored balance; undefined (and wanted) when the holder's balances are not loaded. */
  balance(actor: string, resource: string): bigint | undefined {
    if (!this.actors.has(actor)) {
      this.want.actors.add(actor);
      return undefined;
    }
    return this.balances.get(key(actor, resource)) ?? 0n;
  }

  /** Actor kind, null if not an actor, undefined (wanted) if not loaded. */
  actorKind(id: string): string | null | undefined {
    const k = this.actors.get(id);
    if (k === undefined) this.want.actors.add(id);
    return k;
  }

  hasResource(id: string): boolean | undefined {
    if (this.resources === null) {
      this.want.resources = true;
      return undefined;
    }
    return this.resources.has(id);
  }

  world(): unknown {
    if (this.worldDoc === undefined) this.want.world = true;
    return this.worldDoc;
  }

  /** A genesis query's answer by canonical key, or undefined (the loader is queued). */
  query<T>(k: string, loader: () => Promise<T>): T | undefined {
    if (this.queries.has(k)) return this.queries.get(k) as T;
    this.want.queries.set(k, loader);
    return undefined;
  }

  /** Ask for things before the first run (the warm path needs one round). */
  prefetch(artifacts: string[], actors: string[]): void {
    for (const a of artifacts) if (!this.artifacts.has(a)) this.want.artifacts.add(a);
    for (const a of actors) if (!this.actors.has(a)) this.want.actors.add(a);
    if (this.resources === null) this.want.resources = true;
  }

  /**
   * Load everything wanted, in two steps: what was asked for, then what the artifacts just loaded
   * imply (their content, and the actor who earns their price) — so a warm call of an artifact
   * is one round, not two.
   */
  async fill(): Promise<void> {
    this.rounds++;
    const w = this.want;
    const ids = [...w.artifacts];
    const actors = [...w.actors];
    const queries = [...w.queries];
    const needWorld = w.world;
    const needResources = w.resources;
    w.artifacts.clear();
    w.actors.clear();
    w.queries.clear();
    w.world = false;
    w.resources = false;
    const tasks: Array<Promise<unknown>> = [];
    if (ids.length) tasks.push(this.loadArtifacts(ids));
    if (actors.length) tasks.push(this.loadActors(actors));
    if (needWorld) tasks.push(readWorldState(this.db).then((d) => (this.worldDoc = d)));
    if (needResources) tasks.push(this.db.query<{ id: string }>('SELECT id FROM resources').then((r) => (this.resources = new Set(r.rows.map((x) => x.id)))));
    for (const [k, load] of queries) tasks.push(load().then((v) => this.queries.set(k, v)));
    await Promise.all(tasks);
    const then: Array<Promise<unknown>> = [];
    const hashes = [...w.contents].filter((h) => this.contents.get(h) === undefined);
    w.contents.clear();
    if (hashes.length) {
      then.push(
        this.db.query<{ hash: string; content: string }>('SELECT hash, content FROM artifact_blobs WHERE hash = ANY($1::text[])', [hashes]).then((r) => {
          for (const row of r.rows) this.contents.set(row.hash, row.content);
        }),
      );
    }
    const payees = [...w.actors].filter((a) => !this.actors.has(a));
    w.actors.clear();
    if (payees.length) then.push(this.loadActors(payees));
    await Promise.all(then);
  }

  private async loadArtifacts(ids: string[]): Promise<void> {
    const r = await this.db.query<any>(
      `SELECT id, owner, created_by, kind, content_hash, bytes, interface, invoke_price::text AS invoke_price, access, description, rev, deleted, listing_id::text AS listing
       FROM artifacts WHERE id = ANY($1::text[])`,
      [ids],
    );
    for (const id of ids) this.artifacts.set(id, null);
    const listed: string[] = [];
    for (const row of r.rows) {
      const a = artifactFromRow(row);
      this.artifacts.set(a.id, a);
      if (a.listing) listed.push(a.listing);
      if (!a.deleted && this.contents.get(a.content_hash) === undefined) this.want.contents.add(a.content_hash);
      if (!this.actors.has(a.owner)) this.want.actors.add(a.owner);
    }
    if (listed.length) {
      const l = await this.db.query<any>('SELECT listing_id::text AS listing_id, artifact_id, seller, escrow, price::text AS price, test_artifact, test_method, test_rev, rev, status, buyer FROM artifact_listings WHERE listing_id = ANY($1::uuid[])', [listed]);
      for (const row of l.rows) {
        const x = listingFromRow(row);
        this.listings.set(x.listing_id, x);
        if (!this.actors.has(x.seller)) this.want.actors.add(x.seller);
      }
    }
  }

  /** Kinds and balances of actors (or artifacts, which hold balances too) in one round trip. */
  private async loadActors(ids: string[]): Promise<void> {
    const r = await this.db.query<{ id: string; kind: string | null; resource: string | null; amount: bigint | null }>(
      `SELECT x.id, a.kind, b.resource, b.amount FROM unnest($1::text[]) AS x(id)
       LEFT JOIN actors a ON a.id = x.id LEFT JOIN balances b ON b.actor = x.id`,
      [ids],
    );
    for (const row of r.rows) {
      this.actors.set(row.id, row.kind ?? null);
      if (row.resource !== null && row.amount !== null) this.balances.set(key(row.id, row.resource), BigInt(row.amount));
    }
  }

  /** The registered resources, when the caller already read them (saves a round trip). */
  knownResources(ids: string[]): void {
    this.resources = new Set(ids);
  }
}
