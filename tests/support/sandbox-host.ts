/**
 * An in-memory HostApi for the sandbox tests and bench: artifacts and balances in Maps, and
 * small genesis implementations (ledger, store, event_log, escrow) that follow the same rules
 * the real ones must (they propose payments; the executor journals them, nothing is applied).
 */
import { fail } from '../../sandbox/errors';
import type { ArtifactRecord, ArtifactTombstone, GenesisCall, GenesisOutcome, HostApi, Payment, ToolSpec } from '../../sandbox/types';

export function tool(name: string, inputSchema: Record<string, unknown> = { type: 'object' }): ToolSpec {
  return { name, description: `${name} (test tool)`, inputSchema };
}

export class MemoryHost implements HostApi {
  readonly artifacts = new Map<string, ArtifactRecord | ArtifactTombstone>();
  readonly balances = new Map<string, bigint>();
  readonly eventLog: Array<{ type: string; data: unknown }> = [];
  /** Every genesis call seen, for assertions. */
  readonly genesisCalls: Array<{ id: string; method: string; invoker: string; depth: number }> = [];
  /** Payments the host was asked to validate (it applies none of them). */
  readonly validated: Payment[] = [];
  worldState: unknown = { tick: 42, resources: ['credits', 'energy'] };
  denyAccess = new Set<string>();

  add(id: string, content: string, tools: Array<string | ToolSpec>, opts: { owner?: string; price?: bigint } = {}): this {
    this.artifacts.set(id, {
      id,
      owner: opts.owner ?? `owner-of-${id}`,
      content,
      interface: { tools: tools.map((t) => (typeof t === 'string' ? tool(t) : t)) },
      invokePrice: opts.price ?? 0n,
    });
    return this;
  }

  setBalance(actor: string, amount: bigint, resource = 'credits'): this {
    this.balances.set(`${actor}/${resource}`, amount);
    return this;
  }

  loadArtifact(id: string): ArtifactRecord | ArtifactTombstone | null {
    return this.artifacts.get(id) ?? null;
  }

  balance(actor: string, resource: string): bigint {
    return this.balances.get(`${actor}/${resource}`) ?? 0n;
  }

  world(): unknown {
    return this.worldState;
  }

  checkAccess(invoker: string, artifact: ArtifactRecord): { ok: true } | { ok: false; message: string } {
    return this.denyAccess.has(artifact.id) ? { ok: false, message: `${invoker} may not call ${artifact.id}.` } : { ok: true };
  }

  validatePayment(p: Payment): { ok: true } {
    this.validated.push(p);
    return { ok: true };
  }

  genesis(call: GenesisCall): GenesisOutcome {
    this.genesisCalls.push({ id: call.id, method: call.method, invoker: call.invoker, depth: call.depth });
    const a = call.args;
    const amountOf = (v: unknown): bigint | null => (typeof v === 'string' && /^[1-9][0-9]*$/.test(v) ? BigInt(v) : null);
    switch (`${call.id}.${call.method}`) {
      case 'genesis:ledger.balance':
        return { success: true, result: call.balance(String(a.actor ?? call.invoker), String(a.resource ?? 'credits')).toString() };
      case 'genesis:ledger.transfer': {
        const amount = amountOf(a.amount);
        if (amount === null || typeof a.to !== 'string') return fail('INVALID_ARGS', 'transfer needs { to, amount: "<positive integer>" }.');
        return { success: true, result: { moved: a.amount }, payments: [{ from: call.invoker, to: a.to, resource: 'credits', amount }] };
      }
      case 'genesis:store.get': {
        const rec = typeof a.id === 'string' ? this.artifacts.get(a.id) : undefined;
        if (!rec) return fail('NOT_FOUND', `No artifact ${String(a.id)}.`);
        if ('deleted' in rec) return fail('DELETED', `Artifact ${rec.id} was deleted.`);
        return { success: true, result: { id: rec.id, owner: rec.owner, interface: rec.interface, price: rec.invokePrice.toString() } };
      }
      case 'genesis:store.list':
        return { success: true, result: [...this.artifacts.keys()].sort() };
      case 'genesis:event_log.read':
        return { success: true, result: this.eventLog.slice(-Number(a.limit ?? 10)) };
      case 'genesis:escrow.deposit': {
        const amount = amountOf(a.amount);
        if (amount === null) return fail('INVALID_ARGS', 'deposit needs { amount: "<positive integer>" }.');
        return { success: true, result: { held: a.amount }, payments: [{ from: call.invoker, to: 'genesis:escrow', resource: 'credits', amount }] };
      }
      case 'genesis:broken.malformed':
        return { success: false, error_code: 'NOPE', message: '' } as unknown as GenesisOutcome;
      case 'genesis:broken.big':
        return { success: true, result: 'y'.repeat(Number(a.bytes ?? 1000)) };
      default:
        return fail('INVALID_ARGS', `Genesis artifact ${call.id} has no method "${call.method}".`, { reason: 'UNKNOWN_METHOD' });
    }
  }
}
