/**
 * The sandbox host over the ledger's state (HostApi of sandbox/types.ts): artifacts from the
 * `artifacts` cache and `artifact_blobs`, balances from `balances`, genesis artifacts
 * (genesis.ts). It reads a HostSnapshot (snapshot.ts) and never writes: payments are journaled
 * by the executor and applied by the `invoke` proposal, through the law.
 *
 * One LedgerHost (and one Executor) per database per process: records handed to the executor
 * are cached by (id, revision), so the executor's parsed-interface cache and the content cache
 * stay warm across invokes. `use(snapshot)` switches the state a run reads; runs are synchronous
 * (Executor.runSync), so two invokes never interleave inside one run.
 */
import type { ErrorCode } from '../../sandbox/errors';
import type { ArtifactRecord, ArtifactTombstone, GenesisCall, GenesisOutcome, HostApi, Payment } from '../../sandbox/types';
import { accessAllows, payeeOf, type ArtifactState } from '../../validator';
import { genesisCall } from './genesis';
import type { HostSnapshot } from './snapshot';

/** Interface of a data artifact: reading it is calling `read` (its price applies as for code). */
export const DATA_INTERFACE = {
  tools: [{ name: 'read', description: 'Returns the content of this data artifact as text.', inputSchema: { type: 'object', properties: {}, additionalProperties: false } }],
};

const MAX_CACHED_RECORDS = 1_000;

export class LedgerHost implements HostApi {
  private snap: HostSnapshot | null = null;
  /** Evaluation runs (the judiciary) pay no prices: nothing they journal is ever applied. */
  evaluation = false;
  private readonly records = new Map<string, ArtifactRecord>();

  use(snap: HostSnapshot, opts: { evaluation?: boolean } = {}): this {
    this.snap = snap;
    this.evaluation = opts.evaluation ?? false;
    return this;
  }

  get snapshot(): HostSnapshot {
    if (!this.snap) throw new Error('LedgerHost: no snapshot in use');
    return this.snap;
  }

  /** Revision of a loaded, live artifact (what the `invoke` proposal records for each call). */
  revOf(id: string): number | null {
    const a = this.snapshot.artifact(id);
    return a && !a.deleted ? a.rev : null;
  }

  loadArtifact(id: string): ArtifactRecord | ArtifactTombstone | null {
    const s = this.snapshot;
    const a = s.artifact(id);
    if (!a) return null;
    if (a.deleted) return { id, deleted: true };
    const content = s.content(a.content_hash);
    if (content === undefined) return null; // wanted; the run is repeated once it is loaded
    return this.record(a, content);
  }

  private record(a: ArtifactState, content: string): ArtifactRecord {
    const owner = payeeOf(a, (l) => this.snapshot.listing(l));
    const price = this.evaluation ? 0n : a.invoke_price;
    const k = `${a.id}\u0000${a.rev}\u0000${owner}\u0000${price}`;
    let rec = this.records.get(k);
    if (rec === undefined) {
      rec =
        a.kind === 'code'
          ? { id: a.id, owner, content, interface: a.interface, invokePrice: price }
          : { id: a.id, owner, content: `var methods = { read: function () { return ${JSON.stringify(content)}; } };`, interface: DATA_INTERFACE, invokePrice: price };
      if (this.records.size >= MAX_CACHED_RECORDS) this.records.delete(this.records.keys().next().value!);
      this.records.set(k, rec);
    }
    return rec;
  }

  balance(actor: string, resource: string): bigint {
    return this.snapshot.balance(actor, resource) ?? 0n;
  }

  world(): unknown {
    return this.snapshot.world() ?? {};
  }

  genesis(call: GenesisCall): GenesisOutcome {
    return genesisCall(this.snapshot, call);
  }

  checkAccess(invoker: string, rec: ArtifactRecord): { ok: true } | { ok: false; message: string } {
    const a = this.snapshot.artifact(rec.id);
    if (!a) return { ok: false, message: `Artifact ${rec.id} is not loaded.` };
    // The judiciary examines the delivered artifact whatever its access policy (nothing it does is applied).
    if (this.evaluation) return { ok: true };
    return accessAllows(a, invoker, rec.owner) ? { ok: true } : { ok: false, message: `${invoker} may not call ${rec.id} (access: ${a.access.mode}).` };
  }

  /** A payee must be an actor or a live artifact, and the resource must exist (the law re-checks). */
  validatePayment(p: Payment): { ok: true } | { ok: false; code: ErrorCode; message: string } {
    const s = this.snapshot;
    const res = s.hasResource(p.resource);
    if (res === false) return { ok: false, code: 'INVALID_ARGS', message: `Resource ${p.resource} is not registered.` };
    const kind = s.actorKind(p.to);
    if (kind === undefined || kind !== null) return { ok: true };
    const a = s.artifact(p.to);
    if (a === undefined || (a !== null && !a.deleted)) return { ok: true };
    return a === null
      ? { ok: false, code: 'NOT_FOUND', message: `${p.to} is neither an actor nor an artifact.` }
      : { ok: false, code: 'DELETED', message: `Artifact ${p.to} was deleted; it cannot receive payments.` };
  }
}
