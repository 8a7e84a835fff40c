/**
 * Agents: one Proposer interface; scripted policies and the Gemini proposer behind it.
 * `proposerFor` builds one proposer per policy kind (they are stateless per agent, so one
 * instance serves every agent of that kind).
 */
export * from './types';
export { Prng } from './prng';
export { viewOf, sustainableShare, sustainableTotal, capAt, type AgentView } from './view';
export { scriptedProposer, SCRIPTED_KINDS, type ScriptedKind, type ScriptedOptions } from './scripted';
export { ATTACKS, adversarialAttempts } from './adversarial';
export { GeminiProposer, DEFAULT_GEMINI_MODEL, withEnvelope, type GeminiProposerOptions, type AgentLlmTotals } from './gemini';
export { buildPrompt, llmResponseSchema, LlmProposalSchema, SYSTEM_INSTRUCTION } from './prompt';
export { chargeFor, isBudgetFrozen, budgetOf, budgetTracked, DEFAULT_BUDGET_RESOURCE } from './budget';

import { scriptedProposer, SCRIPTED_KINDS, type ScriptedKind, type ScriptedOptions } from './scripted';
import { GeminiProposer, type GeminiProposerOptions } from './gemini';
import { ProposerError, type Proposer } from './types';

export const AGENT_KINDS = [...SCRIPTED_KINDS, 'gemini'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];

export function proposerFor(kind: AgentKind, opts: { scripted: ScriptedOptions; gemini?: GeminiProposerOptions }): Proposer {
  if (kind === 'gemini') {
    if (!opts.gemini) throw new ProposerError('PROPOSER_CONFIG', 'a gemini agent needs Gemini settings (GEMINI_API_KEY, optionally GEMINI_BASE_URL)');
    return new GeminiProposer(opts.gemini);
  }
  if (!(SCRIPTED_KINDS as readonly string[]).includes(kind)) {
    throw new ProposerError('PROPOSER_CONFIG', `unknown agent kind ${JSON.stringify(kind)}; use one of ${AGENT_KINDS.join(', ')}`);
  }
  return scriptedProposer(kind as ScriptedKind, opts.scripted);
}
