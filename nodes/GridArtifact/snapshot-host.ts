/**
 * A read-only sandbox host over a world-state snapshot, for running an artifact from n8n before
 * the ledger-backed artifact store exists: the artifact given in the node's parameters is the
 * only one it knows, balances are the snapshot's, and nothing is ever applied — the executor
 * journals payments and returns them as proposed effects. `genesis:*` system artifacts are not
 * served here (NOT_FOUND); they belong to the ledger host.
 */
import { fail } from '../../sandbox/errors';
import type { ArtifactRecord, GenesisCall, GenesisOutcome, HostApi } from '../../sandbox/types';
import type { WorldSnapshot } from '../../engine/world-state';

export class SnapshotHost implements HostApi {
  constructor(
    private readonly artifact: ArtifactRecord,
    private readonly snapshot: WorldSnapshot | null,
  ) {}

  loadArtifact(id: string): ArtifactRecord | null {
    return id === this.artifact.id ? this.artifact : null;
  }

  balance(actor: string, resource: string): bigint {
    const v = this.snapshot?.balances[actor]?.[resource];
    return v === undefined ? 0n : BigInt(v);
  }

  world(): unknown {
    return this.snapshot ?? {};
  }

  genesis(call: GenesisCall): GenesisOutcome {
    return fail('NOT_FOUND', `System artifact ${call.id} is not available to an artifact run from n8n with a snapshot host.`);
  }
}
