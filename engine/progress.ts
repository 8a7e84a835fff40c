/**
 * What a run tells a person: the one-line live progress, the end-of-run summary (survival, gain,
 * Gini, rejections by code, alerts queued), and the markdown table the README shows for the
 * governed vs ungoverned commons.
 */
import type { Scenario } from './scenario';
import { readWorldState } from './world-state';
import { gini } from './telemetry/gini';
import type { AgentLlmTotals } from './agents';
import type { CommonsReport, CommonsSettings } from './commons';
import type { TickEnv, TickReport } from './tick';

export interface LoopSummary {
  scenario: string;
  seed: number | string;
  backend: 'pglite' | 'postgres';
  ticks: number;
  stoppedBy: 'ticks' | 'signal' | 'collapse';
  agents: Record<string, string>;
  attempts: number;
  applied: number;
  rejected: number;
  rejectionsByCode: Record<string, number>;
  impersonations: number;
  dropped: number;
  proposerErrors: Record<string, number>;
  systemRejected: number;
  breaker: { open: boolean; reason: string; by: string | null; trips: Array<{ period: number; reasons: string[] }> };
  /** Outbox rows (rejection and breaker alerts) written during the run. */
  alertsQueued: number;
  commons: CommonsReport | null;
  /** Gini of the agents' holdings, per resource, at the end. */
  gini: Record<string, number>;
  llm: { calls: number; tokens: number; charged: string; frozen: string[]; byAgent: Record<string, AgentLlmTotals> };
  elapsedMs: number;
  ticksPerSecond: number;
}

export class Summarizer {
  private ticks = 0;
  private attempts = 0;
  private applied = 0;
  private rejected = 0;
  private impersonations = 0;
  private dropped = 0;
  private systemRejected = 0;
  private readonly byCode: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};
  private readonly trips: LoopSummary['breaker']['trips'] = [];
  private llm = { calls: 0, tokens: 0, charged: 0n };
  private frozen: string[] = [];

  private constructor(
    private readonly env: TickEnv,
    private readonly scenario: Scenario,
    private readonly outboxStart: bigint,
    private readonly t0: number,
  ) {}

  static async start(env: TickEnv, scenario: Scenario): Promise<Summarizer> {
    const r = await env.db.query<{ m: string }>('SELECT COALESCE(max(id), 0)::text AS m FROM outbox');
    return new Summarizer(env, scenario, BigInt(r.rows[0].m), performance.now());
  }

  add(r: TickReport): void {
    this.ticks++;
    this.attempts += r.attempts;
    this.applied += r.applied;
    this.rejected += r.rejected;
    this.impersonations += r.impersonations;
    this.dropped += r.dropped;
    this.systemRejected += r.systemRejected;
    for (const [c, n] of Object.entries(r.rejectedByCode)) this.byCode[c] = (this.byCode[c] ?? 0) + n;
    for (const [c, n] of Object.entries(r.proposerErrors)) this.errors[c] = (this.errors[c] ?? 0) + n;
    if (r.breaker.tripped) this.trips.push({ period: r.period, reasons: r.breaker.reasons });
    this.llm.calls += r.llm.calls;
    this.llm.tokens += r.llm.tokens;
    this.llm.charged += BigInt(r.llm.charged);
    this.frozen = r.frozen;
  }

  async finish(stoppedBy: LoopSummary['stoppedBy'], byAgent: Record<string, AgentLlmTotals>): Promise<LoopSummary> {
    const world = await readWorldState(this.env.db);
    const ob = await this.env.db.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox WHERE id > $1', [this.outboxStart]);
    const agents = this.env.agents.map((a) => a.id).sort();
    const ginis: Record<string, number> = {};
    for (const r of world.resources.map((x) => x.id).sort()) {
      ginis[r] = Math.round(gini(agents.map((a) => BigInt(world.balances[a]?.[r] ?? '0'))) * 10_000) / 10_000;
    }
    const elapsedMs = Math.round(performance.now() - this.t0);
    return {
      scenario: this.scenario.name,
      seed: this.env.seed,
      backend: this.env.db.kind,
      ticks: this.ticks,
      stoppedBy,
      agents: Object.fromEntries(this.env.agents.map((a) => [a.id, a.kind])),
      attempts: this.attempts,
      applied: this.applied,
      rejected: this.rejected,
      rejectionsByCode: sortKeys(this.byCode),
      impersonations: this.impersonations,
      dropped: this.dropped,
      proposerErrors: sortKeys(this.errors),
      systemRejected: this.systemRejected,
      breaker: { open: world.breaker.open, reason: world.breaker.reason, by: world.breaker.by, trips: this.trips },
      alertsQueued: Number(ob.rows[0].n),
      commons: this.env.metrics ? this.env.metrics.report(world) : null,
      gini: ginis,
      llm: { calls: this.llm.calls, tokens: this.llm.tokens, charged: this.llm.charged.toString(), frozen: this.frozen, byAgent },
      elapsedMs,
      ticksPerSecond: elapsedMs > 0 ? Math.round((this.ticks * 1000 * 10) / elapsedMs) / 10 : 0,
    };
  }
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** e.g. `tick 12/50 | applied 9 | rejected 6 (RATE_LIMITED 4, ...) | breaker closed | commons_reserve energy 10000/10000 water 6000/6000 | frozen 0` */
export function progressLine(r: TickReport, ticks: number, commons: CommonsSettings | null): string {
  const codes = Object.entries(r.rejectedByCode).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c, n]) => `${c} ${n}`).join(', ');
  const parts = [
    `tick ${r.period}/${Number.isFinite(ticks) ? ticks : '∞'}`,
    `applied ${r.applied}`,
    `rejected ${r.rejected}${codes ? ` (${codes})` : ''}`,
    `breaker ${r.breaker.open ? 'OPEN' : 'closed'}${r.breaker.tripped ? ' (tripped now)' : ''}`,
  ];
  for (const [actor, res] of Object.entries(r.reserves)) {
    const levels = Object.entries(res).map(([k, v]) => (commons?.reserve === actor && commons.resources[k] ? `${k} ${v}/${commons.resources[k].capacity}` : `${k} ${v}`));
    parts.push(`${actor} ${levels.join(' ')}`);
  }
  if (r.collapsed) parts.push('COMMONS COLLAPSED');
  if (r.frozen.length) parts.push(`frozen ${r.frozen.length}`);
  if (r.llm.calls) parts.push(`llm ${r.llm.calls} calls ${r.llm.tokens} tokens`);
  const errs = Object.entries(r.proposerErrors);
  if (errs.length) parts.push(`proposer errors ${errs.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  return parts.join(' | ');
}

/** The end-of-run summary as text lines. */
export function formatSummary(s: LoopSummary): string {
  const lines = [
    `scenario ${s.scenario} (seed ${s.seed}, ${s.backend}): ${s.ticks} ticks, stopped by ${s.stoppedBy}, ${s.elapsedMs} ms (${s.ticksPerSecond} ticks/s)`,
    `proposals: ${s.attempts} sent, ${s.applied} applied, ${s.rejected} rejected` + (s.impersonations ? `, ${s.impersonations} impersonation attempts` : ''),
    `rejections by code: ${Object.entries(s.rejectionsByCode).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`,
    `breaker: ${s.breaker.open ? 'OPEN' : 'closed'} (${s.breaker.reason}); automatic trips: ${s.breaker.trips.length}`,
    `alerts queued (outbox): ${s.alertsQueued}`,
  ];
  if (s.commons) {
    const c = s.commons;
    lines.push(
      `commons: ${c.survived ? `survived all ${c.survivalPeriods} periods` : `COLLAPSED in period ${c.collapsedIn} (survival ${c.survivalPeriods})`}; ` +
        `gain ${c.gain.total} (${Object.entries(c.gain.byResource).map(([r, v]) => `${r} ${v}`).join(', ')}); efficiency ${(c.efficiencyBps / 100).toFixed(1)} %; ` +
        `Gini of wealth ${c.gini.wealth.toFixed(3)}; over-use ${c.overuse.applied} applied / ${c.overuse.attempted} attempted`,
    );
  }
  if (s.llm.calls) lines.push(`llm: ${s.llm.calls} calls, ${s.llm.tokens} tokens, ${s.llm.charged} charged to budgets; frozen: ${s.llm.frozen.join(', ') || 'none'}`);
  return lines.join('\n');
}

/** The README's comparison table (markdown). */
export function commonsTable(rows: Array<{ run: string; summary: LoopSummary }>): string {
  const out = [
    '| run | survival (periods) | collapsed in | total gain | efficiency | Gini of wealth | over-use (applied / attempted) | rejections | breaker trips |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { run, summary: s } of rows) {
    const c = s.commons!;
    out.push(
      `| ${run} | ${c.survivalPeriods} / ${c.horizon} | ${c.collapsedIn ?? '—'} | ${c.gain.total} | ${(c.efficiencyBps / 100).toFixed(1)} % | ${c.gini.wealth.toFixed(3)} | ${c.overuse.applied} / ${c.overuse.attempted} | ${s.rejected} | ${s.breaker.trips.length} |`,
    );
  }
  return out.join('\n');
}
