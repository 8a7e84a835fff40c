/**
 * The commons (GovSim-style) settings of a scenario: `settings.commons` in the scenario file.
 *
 * GovSim's fishery: a lake of capacity C whose stock doubles each month up to C, and which
 * collapses when fewer than a threshold remain after fishing. Here the lake is a `reserve` actor
 * holding several resources, each with its own capacity and collapse level; the regrowth rate is
 * in basis points (10000 = doubling) so all arithmetic stays integer.
 */
import { z } from 'zod/v4';
import { IdSchema, AmountSchema, PolicyPatchSchema, LIMITS } from '../../validator';
import { AGENT_KINDS } from '../agents';
import { ScenarioError, type Scenario } from '../scenario';

export const CommonsSettingsSchema = z.strictObject({
  /** The reserve actor that holds the commons. */
  reserve: IdSchema,
  /** Regrowth per period, in bps of the stock left after harvest (10000 = doubles), capped at capacity. */
  regrowth_bps: z.number().int().min(0).max(100_000),
  /** Simulated ms per period (the loop's tick); rate-limit windows are measured in it. */
  period_ms: z.number().int().min(1).max(LIMITS.rate.maxWindowMs).optional(),
  /** Periods a run plans for; the sustainable optimum (efficiency) is measured over it. */
  horizon: z.number().int().min(1).max(LIMITS.loop.maxTicks).optional(),
  resources: z.record(IdSchema, z.strictObject({ capacity: AmountSchema, collapse_below: AmountSchema })),
  /** The default policy of each agent (agent id → kind). */
  mix: z.record(IdSchema, z.enum(AGENT_KINDS)).optional(),
  /**
   * The permissive policy patch of the UNGOVERNED comparison run (a policy patch merged onto the
   * built-in default; {} = the default itself: no transfer cap, no effective rate limit, no breaker).
   */
  ungoverned_policy: PolicyPatchSchema.optional(),
});

export type CommonsSettings = z.output<typeof CommonsSettingsSchema>;

/** The scenario's commons settings, validated against its registry; null when it has none. */
export function commonsOf(scenario: Scenario): CommonsSettings | null {
  const raw = scenario.settings?.commons;
  if (raw === undefined) return null;
  const r = CommonsSettingsSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ScenarioError(`${scenario.name}: settings.commons.${i.path.join('.')}: ${i.message}`);
  }
  const c = r.data;
  const reserve = scenario.actors.find((a) => a.id === c.reserve);
  if (reserve?.kind !== 'reserve') throw new ScenarioError(`${scenario.name}: settings.commons.reserve ${c.reserve} must be an actor of kind "reserve"`);
  for (const [res, rc] of Object.entries(c.resources)) {
    if (!scenario.resources.some((x) => x.id === res)) throw new ScenarioError(`${scenario.name}: settings.commons.resources names unknown resource ${res}`);
    if (rc.capacity <= 0n) throw new ScenarioError(`${scenario.name}: commons capacity of ${res} must be positive`);
    if (rc.collapse_below < 0n || rc.collapse_below >= rc.capacity) {
      throw new ScenarioError(`${scenario.name}: commons collapse_below of ${res} must be ≥ 0 and below its capacity`);
    }
  }
  for (const id of Object.keys(c.mix ?? {})) {
    if (scenario.actors.find((a) => a.id === id)?.kind !== 'agent') throw new ScenarioError(`${scenario.name}: settings.commons.mix names ${id}, which is not an agent`);
  }
  return c;
}

/**
 * The same scenario with its governance removed: the policy replaced by `ungoverned_policy`
 * (default: none at all) and the name changed so genesis ids differ from the governed grid's.
 */
export function ungoverned(scenario: Scenario): Scenario {
  const c = commonsOf(scenario);
  const patch = c?.ungoverned_policy;
  return { ...scenario, name: `${scenario.name}-ungoverned`, policy: patch && Object.keys(patch).length ? patch : undefined };
}
