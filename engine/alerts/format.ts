/**
 * How an alert reads in each place people see it: one console line, a Linear ticket (title +
 * markdown body), a Discord embed. Pure functions, so the wording is testable without a network.
 *
 * Everything an agent controls (proposal JSON, reasoning, ids in messages) is untrusted text:
 * it goes into code fences in markdown and is cut to Discord's limits; Discord mentions are
 * disabled by the channel (allowed_mentions), so "@everyone" in a proposal cannot ping anybody.
 */
import { LIMITS } from '../../validator/limits';
import type { Alert, BreakerAlert, RejectionAlert, Severity } from './types';

const A = LIMITS.alerts;

export const DISPUTE_PREFIX = 'Dispute: ';
export const BREAKER_PREFIX = 'Circuit breaker opened: ';

export function cut(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, Math.max(0, max - 1)) + '…';
}

/** One line, no newlines (an agent's message must not forge extra log lines). */
function oneLine(s: string, max = 200): string {
  return cut(s.replace(/[\r\n\t]+/g, ' '), max);
}

/** The ticket title; for disputes exactly `Dispute: {proposal_id}` (the idempotency lookup key). */
export function ticketTitle(a: Alert): string {
  if (a.topic === 'rejection') return `${DISPUTE_PREFIX}${a.key}`;
  const tail = ` (${a.key})`;
  return BREAKER_PREFIX + cut(oneLine(a.reason), A.maxTitleChars - BREAKER_PREFIX.length - tail.length) + tail;
}

export function consoleLine(a: Alert): string {
  if (a.topic === 'rejection') {
    return `[alert] rejected ${a.code} agent=${a.agent ?? '-'} kind=${a.kind ?? '-'} proposal=${a.key}: ${oneLine(a.message)}`;
  }
  return `[alert] circuit breaker ${a.open ? 'OPENED' : 'closed'} by ${a.by} (entry ${a.entryId}): ${oneLine(a.reason)}`;
}

/** A fence longer than any backtick run inside, so untrusted text cannot close it early. */
function fenced(text: string, lang = ''): string {
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

function json(v: unknown, max: number): string {
  let s: string;
  try {
    s = JSON.stringify(v, null, 2) ?? 'null';
  } catch {
    s = String(v);
  }
  return cut(s, max);
}

const cell = (s: string) => oneLine(s, 300).replace(/\|/g, '\\|');

export function ticketBody(a: Alert): string {
  return a.topic === 'rejection' ? rejectionBody(a) : breakerBody(a);
}

function rejectionBody(a: RejectionAlert): string {
  const rows: Array<[string, string]> = [
    ['proposal_id', a.proposalId ?? `(none: ${a.key})`],
    ['agent', a.agent ?? '-'],
    ['kind', a.kind ?? '-'],
    ['error code', a.code],
    ['validator_version', a.validatorVersion],
    ['rejected at', a.rejectedAt],
  ];
  const budget = A.maxBodyChars - 4000;
  return [
    `**The law rejected a proposal** with \`${a.code}\`${a.codeDescription ? ` — ${a.codeDescription}` : ''}`,
    '',
    '**Message**',
    fenced(cut(a.message, 2000)),
    '',
    '| field | value |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`),
    '',
    '**Details**',
    fenced(json(a.details, 4000), 'json'),
    '',
    '**Proposal (as received)**',
    fenced(json(a.proposal, Math.max(1000, budget - 4000)), 'json'),
    '',
    '_Review: move this ticket to **Done** to confirm the rejection (resolved) or **Canceled** to dismiss it; the decision is recorded by the grid._',
  ].join('\n');
}

function breakerBody(a: BreakerAlert): string {
  return [
    `**The circuit breaker opened.** Agent trading is halted; human and system proposals still pass.`,
    '',
    '**Reason**',
    fenced(cut(a.reason, 2000)),
    '',
    '| field | value |',
    '|---|---|',
    `| opened by | ${cell(a.by)} |`,
    `| ledger entry | ${cell(a.entryId)} |`,
    `| proposal_id | ${cell(a.key)} |`,
    `| validator_version | ${cell(a.validatorVersion)} |`,
    `| opened at | ${cell(a.executedAt)} |`,
    '',
    '_To resume trading, a human moves this ticket to **Done**: the grid then records a `breaker_set { open: false }` proposal by the human actor. **Canceled** keeps the breaker open (recorded)._',
  ].join('\n');
}

/** Discord embed colours by severity (decimal RGB). */
export const SEVERITY_COLOURS: Record<Severity, number> = {
  critical: 0xe74c3c,
  warning: 0xe67e22,
  info: 0xf1c40f,
  resolved: 0x2ecc71,
};

export interface DiscordEmbed {
  title: string;
  description: string;
  color: number;
  timestamp: string;
  fields: Array<{ name: string; value: string; inline?: boolean }>;
  footer?: { text: string };
}

const field = (name: string, value: string, inline = true) => ({ name, value: cut(value || '-', A.maxEmbedFieldChars), inline });

export function discordEmbed(a: Alert): DiscordEmbed {
  if (a.topic === 'rejection') {
    return {
      title: cut(`Proposal rejected: ${a.code}`, 256),
      description: cut(a.message, A.maxEmbedDescriptionChars),
      color: SEVERITY_COLOURS[a.severity],
      timestamp: a.rejectedAt,
      fields: [
        field('code', a.code),
        field('agent', a.agent ?? '-'),
        field('kind', a.kind ?? '-'),
        field('proposal_id', a.proposalId ?? a.key, false),
        field('validator_version', a.validatorVersion, false),
      ],
      footer: a.codeDescription ? { text: cut(a.codeDescription, 256) } : undefined,
    };
  }
  return {
    title: a.open ? 'Circuit breaker OPENED: agent trading halted' : 'Circuit breaker closed: agent trading resumed',
    description: cut(a.reason, A.maxEmbedDescriptionChars),
    color: SEVERITY_COLOURS[a.severity],
    timestamp: a.executedAt,
    fields: [field('set by', a.by), field('ledger entry', a.entryId), field('proposal_id', a.key, false), field('validator_version', a.validatorVersion, false)],
  };
}
