/** A scenario with N agent accounts holding one resource, for concurrency and crash tests. */
import { parseScenario } from '../../engine/scenario';

export function manyAccounts(n: number, each = 1000) {
  const agents = Array.from({ length: n }, (_, i) => `acct${String(i).padStart(3, '0')}`);
  return {
    agents,
    total: BigInt(n) * BigInt(each),
    scenario: parseScenario({
      name: `many-${n}`,
      resources: [{ id: 'credits', unit: 'cr' }],
      actors: [{ id: 'system', kind: 'system' }, { id: 'council', kind: 'human' }, ...agents.map((id) => ({ id, kind: 'agent' }))],
      balances: agents.map((actor) => ({ actor, resource: 'credits', amount: each })),
      founder: 'council',
    }),
  };
}

/** Deterministic PRNG (mulberry32) so a failing run can be reproduced from its seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
