/**
 * Grid Alert — Linear dispute tickets and Discord messages for rejections and breaker events.
 *
 * Alerts are not composed here: the ledger writer already recorded each one in the `outbox`, in
 * the same transaction as the decision. This node runs the engine's outbox dispatcher
 * (engine/alerts) with the channels of its credentials, then reports, per input item, what
 * happened to THAT item's alert (found by its proposal_id). Consequences:
 * - exactly once per alert and channel, across items, retries and executions: a retried run
 *   whose Apply answered `duplicate: true` sends nothing new, and a Linear ticket an earlier
 *   attempt created is adopted, not duplicated;
 * - alerts still pending from earlier runs (a channel was down) go out with this run too, oldest
 *   first, at most "Max Alerts per Run" per channel.
 */
import {
  NodeConnectionTypes,
  NodeOperationError,
  type IExecuteFunctions,
  type INodeExecutionData,
  type INodeType,
  type INodeTypeDescription,
} from 'n8n-workflow';
import { AlertDispatcher, DiscordChannel, LinearChannel, type AlertChannel, type RoundReport, type Severity } from '../../engine/alerts';
import type { Db } from '../../db/adapter';
import { LIMITS } from '../../validator/limits';
import { databaseSettings, discordSettings, linearSettings } from '../shared/credentials';
import { gridDatabaseConnectionTest } from '../shared/credential-test';
import { gridDb } from '../shared/grid-db';
import { out, toNodeError } from '../shared/items';

interface Options {
  maxAlerts?: number;
  skipCodes?: string;
  discordSeverities?: Severity[];
  failOnFailed?: boolean;
}

interface DeliveryRow {
  topic: string;
  key: string;
  channel: string | null;
  status: string | null;
  attempts: number | null;
  remote_id: string | null;
  remote_url: string | null;
  last_error: string | null;
}

export class GridAlert implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Grid Alert',
    name: 'gridAlert',
    icon: { light: 'file:grid.svg', dark: 'file:grid.dark.svg' },
    group: ['output'],
    version: 1,
    subtitle: '={{ $parameter["channels"].join(" + ") }}',
    description: 'Open Linear dispute tickets and post Discord alerts for rejections and breaker events',
    defaults: { name: 'Grid Alert' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [
      { name: 'gridDatabaseApi', required: true, testedBy: 'gridDatabaseConnectionTest' },
      { name: 'gridLinearApi', required: true, displayOptions: { show: { channels: ['linear'] } } },
      { name: 'gridDiscordWebhookApi', required: true, displayOptions: { show: { channels: ['discord'] } } },
    ],
    properties: [
      {
        displayName: 'Channels',
        name: 'channels',
        type: 'multiOptions',
        default: ['linear', 'discord'],
        required: true,
        options: [
          { name: 'Discord (Webhook Message)', value: 'discord' },
          { name: 'Linear (Dispute / Breaker Tickets)', value: 'linear' },
        ],
      },
      {
        displayName: 'Options',
        name: 'options',
        type: 'collection',
        placeholder: 'Add option',
        default: {},
        options: [
          { displayName: 'Max Alerts per Run', name: 'maxAlerts', type: 'number', default: 50, typeOptions: { minValue: 1, maxValue: LIMITS.n8n.maxAlertsPerRun } },
          { displayName: 'Linear: Skip Codes', name: 'skipCodes', type: 'string', default: 'CIRCUIT_OPEN', description: 'Rejection codes that never open a ticket (comma-separated)' },
          {
            displayName: 'Discord: Severities',
            name: 'discordSeverities',
            type: 'multiOptions',
            default: ['critical', 'warning', 'info', 'resolved'],
            options: ['critical', 'info', 'resolved', 'warning'].map((s) => ({ name: s, value: s })),
          },
          { displayName: 'Fail on Failed Delivery', name: 'failOnFailed', type: 'boolean', default: true, description: "Whether an item fails when its alert's delivery failed for good (e.g. a refused key)" },
        ],
      },
    ],
  };

  methods = { credentialTest: { gridDatabaseConnectionTest } };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const items = this.getInputData();
    const o = this.getNodeParameter('options', 0, {}) as Options;
    let round: RoundReport;
    let db: Db;
    try {
      db = (await gridDb(await databaseSettings(this))).db;
      const channels = await channelsFor(this, o);
      const dispatcher = new AlertDispatcher(db, { channels });
      const max = Math.min(LIMITS.n8n.maxAlertsPerRun, Math.max(1, o.maxAlerts ?? 50));
      try {
        round = await dispatcher.drain(Math.ceil(max / LIMITS.alerts.outboxBatch));
      } finally {
        await dispatcher.stop();
      }
    } catch (e) {
      throw toNodeError(this, e, 0);
    }
    const keys = items.map((it) => alertKey(it.json));
    const wanted = [...new Set(keys.filter((k): k is string => k !== null))];
    const rows = wanted.length
      ? (
          await db.query<DeliveryRow>(
            `SELECT o.topic, o.key, d.channel, d.status, d.attempts, d.remote_id, d.remote_url, d.last_error
             FROM outbox o LEFT JOIN outbox_deliveries d ON d.outbox_id = o.id WHERE o.key = ANY($1::text[]) ORDER BY o.id, d.channel`,
            [wanted],
          )
        ).rows
      : [];
    const result: INodeExecutionData[] = [];
    for (let i = 0; i < items.length; i++) {
      const mine = rows.filter((r) => r.key === keys[i] && r.channel !== null);
      const deliveries = mine.map((r) => ({ topic: r.topic, channel: r.channel, status: r.status, attempts: r.attempts, remote_id: r.remote_id, remote_url: r.remote_url, last_error: r.last_error }));
      const bad = deliveries.find((d) => d.status === 'failed');
      if (bad && (o.failOnFailed ?? true)) {
        const e = new NodeOperationError(this.getNode(), `ALERT_DELIVERY_FAILED: ${bad.channel} gave up on the alert for ${keys[i]}: ${bad.last_error ?? 'unknown error'}`, { itemIndex: i });
        if (!this.continueOnFail()) throw e;
        result.push({ json: { error: e.message, code: 'ALERT_DELIVERY_FAILED', deliveries }, error: e, pairedItem: { item: i } });
        continue;
      }
      result.push(out({ alert_key: keys[i], alerted: deliveries.some((d) => d.status === 'delivered'), deliveries, round }, i));
    }
    return [result];
  }

}

// A function, not a method: n8n calls execute() with its own context as `this`, not the node.
async function channelsFor(ctx: IExecuteFunctions, o: Options): Promise<AlertChannel[]> {
  const wanted = ctx.getNodeParameter('channels', 0, []) as string[];
  const channels: AlertChannel[] = [];
  if (wanted.includes('linear')) {
    const l = await linearSettings(ctx);
    const skipCodes = (o.skipCodes ?? 'CIRCUIT_OPEN').split(',').map((s) => s.trim()).filter(Boolean);
    channels.push(new LinearChannel({ apiKey: l.apiKey, apiUrl: l.apiUrl || undefined, team: l.teamId || undefined, label: l.label || undefined, skipCodes }));
  }
  if (wanted.includes('discord')) {
    channels.push(new DiscordChannel({ ...(await discordSettings(ctx)), severities: o.discordSeverities }));
  }
  if (!channels.length) throw new NodeOperationError(ctx.getNode(), 'GRID_ALERT_NO_CHANNEL: choose Linear and/or Discord');
  return channels;
}

/** The outbox key of an item's alert: the proposal_id of a rejection, a breaker trip or reset. */
function alertKey(json: Record<string, unknown>): string | null {
  const direct = json.proposal_id ?? (json.result as Record<string, unknown> | undefined)?.proposal_id ?? json.alert_key;
  return typeof direct === 'string' && direct ? direct : null;
}
