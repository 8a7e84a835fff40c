/**
 * State of ONE top-level call and everything it invokes: the effects journal, the shared
 * deadline and the first failure.
 *
 * Why a journal instead of applying payments: the ledger must see a call tree as one atomic
 * proposal. Payments and invoke edges are collected here and handed back only if every call in
 * the tree succeeded; the first failure anywhere aborts the whole tree (remaining guest code is
 * interrupted) and the caller receives that failure with no effects at all. Balances seen inside
 * the tree are the stored balance plus this journal, so a tree cannot spend the same credit
 * twice.
 */
import { LIMITS } from '../validator/limits';
import { fail, type ErrorResponse } from './errors';
import type { SandboxLimits } from './interface';
import type { HostApi, InvokeEdge, InvokeEvent, Payment } from './types';

/** Ids of actors, artifacts and resources: printable, no whitespace, bounded. */
const ID_PATTERN = new RegExp(`^[^\\s\\u0000-\\u001f\\u007f]{1,${LIMITS.proposal.maxIdLength}}$`);

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Decimal text of a positive integer, as the guest's pay() sends it. */
const AMOUNT_PATTERN = /^[1-9][0-9]{0,30}$/;

export function parseAmount(text: string): { ok: true; value: bigint } | { ok: false; error: ErrorResponse } {
  if (!AMOUNT_PATTERN.test(text)) {
    return {
      ok: false,
      error: fail('INVALID_ARGS', 'The amount must be a positive integer (a safe integer number, a bigint, or a decimal string).', {
        amount: text.slice(0, 40),
      }),
    };
  }
  const value = BigInt(text);
  if (value > LIMITS.proposal.maxAmount) {
    return {
      ok: false,
      error: fail('INVALID_ARGS', `The amount exceeds the largest allowed amount ${LIMITS.proposal.maxAmount}.`, { amount: text }),
    };
  }
  return { ok: true, value };
}

export class CallTree {
  readonly payments: Payment[] = [];
  readonly edges: InvokeEdge[] = [];
  readonly events: InvokeEvent[] = [];
  /** First failure anywhere in the tree; once set, every guest is interrupted. */
  failure: ErrorResponse | null = null;
  /** The interrupt handler fired because the deadline passed. */
  timedOut = false;
  calls = 0;
  private nextCallId = 1;
  private readonly deltas = new Map<string, bigint>();
  private worldText: string | null = null;

  constructor(
    readonly host: HostApi,
    readonly limits: SandboxLimits,
    /** performance.now() at the start of the tree. */
    startedAt: number,
    /** Milliseconds the whole tree may run: min(cpuDeadlineMs, the caller's compute budget). */
    readonly deadlineMs: number,
    /** True when the caller's compute budget, not the sandbox deadline, set `deadlineMs`. */
    readonly budgetBound: boolean,
    readonly now: number,
    readonly seed: number,
  ) {
    this.deadline = startedAt + deadlineMs;
  }

  /** performance.now() value after which every guest in the tree is interrupted. */
  readonly deadline: number;

  allocateCallId(): number {
    return this.nextCallId++;
  }

  /** Called by every runtime's interrupt handler; cheap (one clock read). */
  shouldInterrupt(): boolean {
    if (this.failure !== null) return true;
    if (performance.now() > this.deadline) {
      this.timedOut = true;
      return true;
    }
    return false;
  }

  deadlineFailure(): ErrorResponse {
    return this.budgetBound
      ? fail('INSUFFICIENT_COMPUTE', "The call used up the caller's compute budget before it finished.", {
          budget_ms: this.deadlineMs,
        })
      : fail('TIMEOUT', `The call exceeded the sandbox deadline of ${this.limits.cpuDeadlineMs} ms.`, {
          deadline_ms: this.limits.cpuDeadlineMs,
        });
  }

  /** Record the first failure; later ones are consequences of it. */
  abort(failure: ErrorResponse): void {
    if (this.failure === null) this.failure = failure;
  }

  /** Stored balance plus everything this tree has journaled so far. */
  balance(actor: string, resource: string): bigint {
    const stored = this.host.balance(actor, resource);
    return stored + (this.deltas.get(key(actor, resource)) ?? 0n);
  }

  /**
   * Journal a payment after checking it. Returns the failure instead of journaling when the
   * payment is malformed, unaffordable, vetoed by the host, or the journal is full.
   */
  propose(p: Payment): ErrorResponse | null {
    if (!isValidId(p.to) || !isValidId(p.resource)) {
      return fail('INVALID_ARGS', 'The payee and resource must be ids (1–64 printable characters, no spaces).', {
        to: String(p.to).slice(0, 80),
        resource: String(p.resource).slice(0, 80),
      });
    }
    if (p.amount <= 0n) return fail('INVALID_ARGS', 'The amount must be positive.', { amount: p.amount.toString() });
    if (p.from === p.to) return fail('INVALID_ARGS', 'A payment to oneself is not a payment.', { actor: p.from });
    if (this.payments.length >= this.limits.maxPaymentsPerTree) {
      return fail('EXECUTION_ERROR', `The call made more than ${this.limits.maxPaymentsPerTree} payments.`, { reason: 'JOURNAL_FULL' });
    }
    const available = this.balance(p.from, p.resource);
    if (available < p.amount) {
      return fail('INSUFFICIENT_FUNDS', `${p.from} holds ${available} ${p.resource}, which is less than ${p.amount}.`, {
        payer: p.from,
        resource: p.resource,
        available: available.toString(),
        requested: p.amount.toString(),
      });
    }
    const veto = this.host.validatePayment?.(p);
    if (veto && !veto.ok) return fail(veto.code, veto.message, { payer: p.from, to: p.to, resource: p.resource });
    this.payments.push(p);
    this.addDelta(p.from, p.resource, -p.amount);
    this.addDelta(p.to, p.resource, p.amount);
    return null;
  }

  /** JSON text of the world snapshot, read from the host once per tree. */
  worldJson(): { ok: true; json: string } | { ok: false; error: ErrorResponse } {
    if (this.worldText === null) {
      const text = JSON.stringify(this.host.world() ?? null);
      const bytes = Buffer.byteLength(text);
      if (bytes > this.limits.maxWorldBytes) {
        return {
          ok: false,
          error: fail('EXECUTION_ERROR', `The world snapshot is ${bytes} bytes; the sandbox limit is ${this.limits.maxWorldBytes}.`, {
            reason: 'WORLD_TOO_LARGE',
          }),
        };
      }
      this.worldText = text;
    }
    return { ok: true, json: this.worldText };
  }

  private addDelta(actor: string, resource: string, amount: bigint): void {
    const k = key(actor, resource);
    this.deltas.set(k, (this.deltas.get(k) ?? 0n) + amount);
  }
}

function key(actor: string, resource: string): string {
  return `${actor}\u0000${resource}`;
}
