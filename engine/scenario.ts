/**
 * Scenario files: the registry (actors, resources), opening balances and opening policy of a
 * grid. Validated with zod before anything is written; `grid init` turns them into genesis
 * proposals that go through the same writer as everything else, so replay from row 0
 * reproduces the opening state too.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { z } from 'zod/v4';
import { IdSchema, AmountSchema, PolicyPatchSchema, type ActorKind } from '../validator';

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1).max(100),
  description: z.string().max(2000).optional(),
  resources: z.array(z.strictObject({ id: IdSchema, unit: z.string().max(32) })).min(1).max(1000),
  actors: z
    .array(z.strictObject({ id: IdSchema, kind: z.enum(['agent', 'human', 'system', 'governor', 'treasury', 'reserve', 'escrow']) }))
    .min(1)
    .max(100_000),
  balances: z.array(z.strictObject({ actor: IdSchema, resource: IdSchema, amount: AmountSchema })).max(1_000_000),
  policy: PolicyPatchSchema.optional(),
  /** The human who signs the opening policy. */
  founder: IdSchema,
  /** Free-form settings for scenario-specific engines (e.g. the commons). */
  settings: z.record(z.string(), z.unknown()).optional(),
});

export type Scenario = z.output<typeof ScenarioSchema>;

export class ScenarioError extends Error {
  readonly code = 'SCENARIO_INVALID';
}

export function parseScenario(json: unknown, source = 'scenario'): Scenario {
  const r = ScenarioSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ScenarioError(`${source}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const s = r.data;
  const actors = new Map(s.actors.map((a) => [a.id, a.kind as ActorKind]));
  const resources = new Set(s.resources.map((r) => r.id));
  if (actors.size !== s.actors.length) throw new ScenarioError(`${source}: actor ids must be unique`);
  if (![...actors.values()].includes('system')) throw new ScenarioError(`${source}: a scenario needs an actor of kind "system" (it mints the opening balances)`);
  if (actors.get(s.founder) !== 'human') throw new ScenarioError(`${source}: founder ${s.founder} must be an actor of kind "human"`);
  for (const b of s.balances) {
    if (!actors.has(b.actor)) throw new ScenarioError(`${source}: balance names unknown actor ${b.actor}`);
    if (!resources.has(b.resource)) throw new ScenarioError(`${source}: balance names unknown resource ${b.resource}`);
    if (b.amount <= 0n) throw new ScenarioError(`${source}: opening balance of ${b.actor}/${b.resource} must be positive`);
  }
  return s;
}

export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e: any) {
    throw new ScenarioError(`cannot read scenario ${path}: ${e.code ?? e.message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e: any) {
    throw new ScenarioError(`${path} is not valid JSON: ${e.message}`);
  }
  return parseScenario(json, path);
}

/**
 * A deterministic proposal id (UUID-shaped) for genesis proposals, so running init twice
 * answers "already applied" instead of minting twice.
 */
export function deterministicId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
