/**
 * Capital-structure telemetry over artifact invocations: dependency depth, Lindy scores and
 * control entropy. Pure functions over an array of invoke events (no I/O, no clock: `now` is an
 * argument so results are reproducible).
 *
 * Definitions:
 *  - Dependency graph: one node per artifact named by any event (as child or parent); one edge
 *    parent_artifact → child_artifact per distinct pair seen in a SUCCESSFUL invocation (a call
 *    that failed is not something the parent builds on; option includeFailed to count them).
 *  - depth: number of artifacts on the longest dependency chain, so A → B → C has depth 3, a lone
 *    artifact 1, no artifacts 0. Cycles (A → B → A, or A invoking itself) make "longest path"
 *    unbounded, so every strongly connected component is collapsed into ONE level before the
 *    longest path is taken on the resulting DAG; the components are reported in `cycles`.
 *  - Lindy score = ageBuckets × distinctInvokers, where ageMs = max(0, now − firstSeenAt),
 *    firstSeenAt = earliest `at` of any event naming the artifact, ageBuckets = ⌊ageMs / bucketMs⌋
 *    (whole buckets survived: a brand-new artifact scores 0 however popular), and distinctInvokers
 *    = distinct `invoker` ids over its successful invocations (reuse by many, not spam by one).
 *  - Control: an invocation is "command" when invoker == owner_of_child (the owner drives its own
 *    artifact), else "autonomous". With p = command share, entropyBits = −p·log2 p − (1−p)·log2(1−p)
 *    (0·log 0 = 0): 0 = all one mode, 1 = an even mix. autonomyRatio = autonomous / command (null
 *    when there is no command invocation). All invocations count here, failed ones included:
 *    who initiates a call is the question, not whether it worked. No invocations: shares null,
 *    entropy 0.
 */
import { LIMITS } from '../../validator/limits';
import { TelemetryError } from './common';

export interface InvokeEvent {
  parent_artifact: string | null;
  child_artifact: string;
  invoker: string;
  owner_of_child: string;
  /** Milliseconds since the epoch. */
  at: number;
  success: boolean;
}

export interface DependencyReport {
  artifacts: number;
  edges: number;
  depth: number;
  /** One longest chain, parent first; a cycle appears as its smallest artifact id. */
  longestChain: string[];
  /** Strongly connected components with a cycle, members sorted; at most maxCyclesReported. */
  cycles: string[][];
  cycleCount: number;
}

export interface LindyRow {
  artifact: string;
  firstSeenAt: number;
  lastInvokedAt: number | null;
  ageMs: number;
  ageBuckets: number;
  invocations: number;
  successes: number;
  distinctInvokers: number;
  score: number;
}

export interface ControlEntropy {
  invocations: number;
  command: number;
  autonomous: number;
  commandShare: number | null;
  autonomousShare: number | null;
  autonomyRatio: number | null;
  entropyBits: number;
}

export interface ArtifactReport {
  dependency: DependencyReport;
  lindy: LindyRow[];
  control: ControlEntropy;
}

export interface ArtifactOptions {
  now: number;
  bucketMs?: number;
  includeFailed?: boolean;
}

function validate(events: readonly InvokeEvent[]): void {
  if (events.length > LIMITS.telemetry.maxInvokeEvents) {
    throw new TelemetryError('TOO_MANY_EVENTS', `${events.length} invoke events exceed ${LIMITS.telemetry.maxInvokeEvents}`);
  }
  for (const [i, e] of events.entries()) {
    if (typeof e.child_artifact !== 'string' || e.child_artifact === '' || typeof e.invoker !== 'string' ||
        typeof e.owner_of_child !== 'string' || typeof e.success !== 'boolean' || !Number.isFinite(e.at) ||
        !(e.parent_artifact === null || (typeof e.parent_artifact === 'string' && e.parent_artifact !== ''))) {
      throw new TelemetryError('INVALID_EVENT', `invoke event #${i} is malformed (child_artifact, invoker, ` +
        'owner_of_child strings, parent_artifact string or null, finite `at`, boolean success)');
    }
  }
}

/** Longest chain (in artifacts) of a directed graph whose cycles are collapsed to one level each. */
export function dependencyDepth(nodes: Iterable<string>, edges: Iterable<readonly [string, string]>): DependencyReport {
  const succ = new Map<string, Set<string>>();
  const add = (n: string) => { if (!succ.has(n)) succ.set(n, new Set()); };
  for (const n of nodes) add(n);
  let edgeCount = 0;
  for (const [from, to] of edges) {
    add(from); add(to);
    const s = succ.get(from) as Set<string>;
    if (!s.has(to)) { s.add(to); edgeCount++; }
  }
  if (succ.size > LIMITS.telemetry.maxArtifacts) {
    throw new TelemetryError('TOO_MANY_ARTIFACTS', `${succ.size} artifacts exceed ${LIMITS.telemetry.maxArtifacts}`);
  }
  // Sorted adjacency so the witness chain and the cycle list do not depend on event order.
  const adj = new Map<string, string[]>([...succ].map(([k, v]) => [k, [...v].sort()]));
  const order = [...adj.keys()].sort();

  // Tarjan's SCC, iterative (a recursive walk would overflow the JS stack on long chains).
  // Components come out in reverse topological order: sinks first.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const comps: string[][] = [];
  const compOf = new Map<string, number>();
  let counter = 0;
  for (const root of order) {
    if (index.has(root)) continue;
    const work: Array<{ v: string; next: number }> = [];
    const enter = (v: string) => {
      index.set(v, counter); low.set(v, counter); counter++;
      stack.push(v); onStack.add(v); work.push({ v, next: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const out = adj.get(top.v) as string[];
      if (top.next < out.length) {
        const w = out[top.next++];
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v) as number, index.get(w) as number));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const p = work[work.length - 1].v;
        low.set(p, Math.min(low.get(p) as number, low.get(top.v) as number));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do { w = stack.pop() as string; onStack.delete(w); comp.push(w); compOf.set(w, comps.length); } while (w !== top.v);
        comps.push(comp.sort());
      }
    }
  }

  // Longest path on the condensation: successors of a component were emitted before it.
  const depth: number[] = [];
  const best: number[] = [];
  const cycles: string[][] = [];
  comps.forEach((comp, c) => {
    let d = 0;
    let via = -1;
    let cyclic = comp.length > 1;
    for (const v of comp) {
      for (const w of adj.get(v) as string[]) {
        const k = compOf.get(w) as number;
        if (k === c) { cyclic = true; continue; }
        if (depth[k] > d || (depth[k] === d && via >= 0 && comps[k][0] < comps[via][0])) { d = depth[k]; via = k; }
      }
    }
    depth[c] = d + 1;
    best[c] = via;
    if (cyclic) cycles.push(comp);
  });
  let start = -1;
  comps.forEach((comp, c) => {
    if (start < 0 || depth[c] > depth[start] || (depth[c] === depth[start] && comp[0] < comps[start][0])) start = c;
  });
  const longestChain: string[] = [];
  for (let c = start; c >= 0; c = best[c]) longestChain.push(comps[c][0]);
  cycles.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    artifacts: adj.size,
    edges: edgeCount,
    depth: start < 0 ? 0 : depth[start],
    longestChain,
    cycles: cycles.slice(0, LIMITS.telemetry.maxCyclesReported),
    cycleCount: cycles.length,
  };
}

export function lindyScores(events: readonly InvokeEvent[], opts: ArtifactOptions): LindyRow[] {
  const bucketMs = opts.bucketMs ?? LIMITS.telemetry.defaultBucketMs;
  if (!Number.isFinite(opts.now) || !Number.isSafeInteger(bucketMs) || bucketMs < LIMITS.telemetry.minBucketMs ||
      bucketMs > LIMITS.telemetry.maxBucketMs) {
    throw new TelemetryError('INVALID_OPTION', `now must be finite and bucketMs an integer in ` +
      `[${LIMITS.telemetry.minBucketMs}, ${LIMITS.telemetry.maxBucketMs}]`);
  }
  validate(events);
  interface Acc { first: number; last: number | null; invocations: number; successes: number; invokers: Set<string> }
  const acc = new Map<string, Acc>();
  const touch = (a: string, at: number): Acc => {
    let x = acc.get(a);
    if (!x) acc.set(a, (x = { first: at, last: null, invocations: 0, successes: 0, invokers: new Set() }));
    else if (at < x.first) x.first = at;
    return x;
  };
  for (const e of events) {
    if (e.parent_artifact !== null) touch(e.parent_artifact, e.at);
    const x = touch(e.child_artifact, e.at);
    x.invocations++;
    if (e.success) {
      x.successes++;
      x.invokers.add(e.invoker);
      if (x.last === null || e.at > x.last) x.last = e.at;
    }
  }
  if (acc.size > LIMITS.telemetry.maxArtifacts) {
    throw new TelemetryError('TOO_MANY_ARTIFACTS', `${acc.size} artifacts exceed ${LIMITS.telemetry.maxArtifacts}`);
  }
  const rows = [...acc].map(([artifact, x]): LindyRow => {
    const ageMs = Math.max(0, opts.now - x.first);
    const ageBuckets = Math.floor(ageMs / bucketMs);
    return {
      artifact, firstSeenAt: x.first, lastInvokedAt: x.last, ageMs, ageBuckets,
      invocations: x.invocations, successes: x.successes, distinctInvokers: x.invokers.size,
      score: ageBuckets * x.invokers.size,
    };
  });
  return rows.sort((a, b) => b.score - a.score || (a.artifact < b.artifact ? -1 : a.artifact > b.artifact ? 1 : 0));
}

/** Shannon entropy in bits of a two-outcome distribution (p, 1 − p). */
export function binaryEntropy(p: number): number {
  const h = (q: number) => (q <= 0 ? 0 : -q * Math.log2(q));
  return h(p) + h(1 - p);
}

export function controlEntropy(events: readonly InvokeEvent[]): ControlEntropy {
  validate(events);
  let command = 0;
  for (const e of events) if (e.invoker === e.owner_of_child) command++;
  const n = events.length;
  const autonomous = n - command;
  return {
    invocations: n,
    command,
    autonomous,
    commandShare: n === 0 ? null : command / n,
    autonomousShare: n === 0 ? null : autonomous / n,
    autonomyRatio: command === 0 ? null : autonomous / command,
    entropyBits: n === 0 ? 0 : binaryEntropy(command / n),
  };
}

export function analyzeArtifacts(events: readonly InvokeEvent[], opts: ArtifactOptions): ArtifactReport {
  validate(events);
  const nodes = new Set<string>();
  const edges: Array<[string, string]> = [];
  for (const e of events) {
    nodes.add(e.child_artifact);
    if (e.parent_artifact === null) continue;
    nodes.add(e.parent_artifact);
    if (e.success || opts.includeFailed) edges.push([e.parent_artifact, e.child_artifact]);
  }
  return { dependency: dependencyDepth(nodes, edges), lindy: lindyScores(events, opts), control: controlEntropy(events) };
}
