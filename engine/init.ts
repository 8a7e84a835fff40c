/**
 * `grid init`: migrate, register the scenario's actors and resources, then apply the genesis
 * proposals (opening mints by the system actor, opening policy signed by the founder) through
 * the writer. Idempotent: genesis proposals have deterministic ids.
 */
import type { Db } from '../db/adapter';
import { migrate } from '../db/migrate';
import { LedgerWriter, type ApplyResult } from '../db/writer';
import { DEFAULT_POLICY, policyToJson, jsonSafe } from '../validator';
import { deterministicId, type Scenario } from './scenario';

export interface InitReport {
  migrations: string[];
  actors: number;
  resources: number;
  genesis: { applied: number; duplicate: number; rejected: Array<{ proposal_id: string | null; code: string; message: string }> };
}

export async function initGrid(db: Db, scenario: Scenario, writer = new LedgerWriter(db)): Promise<InitReport> {
  const m = await migrate(db);
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO resources (id, unit) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING', [
      scenario.resources.map((r) => r.id),
      scenario.resources.map((r) => r.unit),
    ]);
    await tx.query('INSERT INTO actors (id, kind) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING', [
      scenario.actors.map((a) => a.id),
      scenario.actors.map((a) => a.kind),
    ]);
    await tx.query(`INSERT INTO policies (version, policy) VALUES (1, $1::jsonb) ON CONFLICT (version) DO NOTHING`, [JSON.stringify(policyToJson(DEFAULT_POLICY))]);
    await tx.query(`INSERT INTO admin_audit (actor, action, details) VALUES ('init', 'registry', $1::jsonb)`, [
      JSON.stringify({ scenario: scenario.name, actors: scenario.actors.length, resources: scenario.resources.length }),
    ]);
  });
  const system = scenario.actors.find((a) => a.kind === 'system')!.id;
  const proposals: unknown[] = scenario.balances.map((b, i) => ({
    kind: 'mint',
    proposal_id: deterministicId(scenario.name, 'genesis-mint', String(i), b.actor, b.resource),
    agent: system,
    to: b.actor,
    resource: b.resource,
    amount: b.amount.toString(),
    reasoning: `genesis: opening balance of scenario ${scenario.name}`,
  }));
  if (scenario.policy) {
    proposals.push({
      kind: 'policy_set',
      proposal_id: deterministicId(scenario.name, 'genesis-policy'),
      agent: scenario.founder,
      patch: jsonSafe(scenario.policy),
      reasoning: `genesis: opening policy of scenario ${scenario.name}`,
    });
  }
  const results: ApplyResult[] = await writer.applyBatch(proposals);
  const genesis: InitReport['genesis'] = { applied: 0, duplicate: 0, rejected: [] };
  for (const r of results) {
    if (r.status === 'applied') r.duplicate ? genesis.duplicate++ : genesis.applied++;
    else genesis.rejected.push({ proposal_id: r.proposal_id, code: r.code, message: r.message });
  }
  return { migrations: m.applied, actors: scenario.actors.length, resources: scenario.resources.length, genesis };
}
