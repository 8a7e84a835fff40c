/**
 * Which policy drives which agent. Accepted forms (CLI flag, n8n parameter, or code):
 *   "greedy"                          every agent greedy
 *   "greedy:3,cooperative:1,random:1" counts, assigned in sorted agent order
 *   "alice=cooperative,bob=greedy"    by name
 *   { alice: 'cooperative', ... }     by name, as an object
 * Agents not named get `fallback` (the scenario's mix, else cooperative).
 */
import { AGENT_KINDS, ProposerError, type AgentKind } from './agents';
import { LIMITS } from '../validator';

export type MixSpec = string | Record<string, string>;

export function resolveMix(spec: MixSpec | undefined, agents: readonly string[], fallback: Record<string, AgentKind> = {}): Map<string, AgentKind> {
  if (agents.length > LIMITS.loop.maxAgents) throw new ProposerError('PROPOSER_CONFIG', `${agents.length} agents is more than the ${LIMITS.loop.maxAgents} a loop runs`);
  const sorted = [...agents].sort();
  const out = new Map<string, AgentKind>(sorted.map((a) => [a, fallback[a] ?? 'cooperative']));
  if (spec === undefined || spec === '') return out;
  const kind = (k: string): AgentKind => {
    if (!(AGENT_KINDS as readonly string[]).includes(k)) throw new ProposerError('PROPOSER_CONFIG', `unknown agent kind ${JSON.stringify(k)}; use one of ${AGENT_KINDS.join(', ')}`);
    return k as AgentKind;
  };
  const named = (id: string, k: string) => {
    if (!out.has(id)) throw new ProposerError('PROPOSER_CONFIG', `the agent mix names ${JSON.stringify(id)}, which is not a registered agent`);
    out.set(id, kind(k));
  };
  if (typeof spec === 'object') {
    for (const [id, k] of Object.entries(spec)) named(id, k);
    return out;
  }
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 1 && !/[:=]/.test(parts[0])) {
    const k = kind(parts[0]);
    for (const a of sorted) out.set(a, k);
    return out;
  }
  let next = 0;
  for (const p of parts) {
    const byName = /^([^=]+)=(.+)$/.exec(p);
    const byCount = /^([a-z]+):(\d+)$/.exec(p);
    if (byName) named(byName[1].trim(), byName[2].trim());
    else if (byCount) {
      const k = kind(byCount[1]);
      const n = Number(byCount[2]);
      if (next + n > sorted.length) throw new ProposerError('PROPOSER_CONFIG', `the agent mix asks for ${next + n} agents but only ${sorted.length} are registered`);
      for (let i = 0; i < n; i++) out.set(sorted[next++], k);
    } else {
      throw new ProposerError('PROPOSER_CONFIG', `cannot read agent mix entry ${JSON.stringify(p)}; write kind:count or agent=kind`);
    }
  }
  return out;
}
