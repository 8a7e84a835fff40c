/**
 * Credential names and typed readers. The credential TYPE names carry a `grid` prefix because
 * n8n's credential types share one namespace across all installed packages: `linearApi` or
 * `discordWebhookApi` would collide with n8n-nodes-base's own.
 *
 * Node descriptions spell these names as string literals (`credentials: [{ name: 'gridLinearApi' }]`)
 * rather than through CRED: n8n's lint (valid-credential-references, credential-test-required)
 * checks them against package.json's credentials only when it can read a literal.
 */
import type { ICredentialDataDecryptedObject, IExecuteFunctions, ITriggerFunctions, IWebhookFunctions } from 'n8n-workflow';
import type { GridDbSettings } from './grid-db';
import { GridConfigError } from './grid-db';

export const CRED = {
  database: 'gridDatabaseApi',
  gemini: 'gridGeminiApi',
  linear: 'gridLinearApi',
  discord: 'gridDiscordWebhookApi',
} as const;

type Ctx = IExecuteFunctions | ITriggerFunctions | IWebhookFunctions;

const text = (c: ICredentialDataDecryptedObject, k: string): string => (typeof c[k] === 'string' ? (c[k] as string).trim() : '');

export async function databaseSettings(ctx: Ctx): Promise<GridDbSettings> {
  const c = await ctx.getCredentials(CRED.database);
  return { connectionString: text(c, 'connectionString'), schema: text(c, 'schema') || 'grid', dataDir: text(c, 'dataDir') };
}

export interface GeminiSettings {
  apiKey: string;
  baseUrl: string;
  model: string;
  apiVersion: string;
}

export async function geminiSettings(ctx: IExecuteFunctions): Promise<GeminiSettings> {
  const c = await ctx.getCredentials(CRED.gemini);
  const apiKey = text(c, 'apiKey');
  if (!apiKey) throw new GridConfigError('GRID_GEMINI_KEY_MISSING', 'the Grid Gemini API credential has no API key');
  return {
    apiKey,
    baseUrl: text(c, 'baseUrl').replace(/\/+$/, ''),
    model: text(c, 'model') || 'gemini-2.5-flash',
    apiVersion: text(c, 'apiVersion') || 'v1beta',
  };
}

export interface LinearSettings {
  apiKey: string;
  apiUrl: string;
  teamId: string;
  label: string;
  webhookSecret: string;
}

export async function linearSettings(ctx: Ctx): Promise<LinearSettings> {
  const c = await ctx.getCredentials(CRED.linear);
  return { apiKey: text(c, 'apiKey'), apiUrl: text(c, 'apiUrl'), teamId: text(c, 'teamId'), label: text(c, 'label'), webhookSecret: text(c, 'webhookSecret') };
}

export interface DiscordSettings {
  url?: string;
  id?: string;
  token?: string;
  apiUrl?: string;
}

export async function discordSettings(ctx: IExecuteFunctions): Promise<DiscordSettings> {
  const c = await ctx.getCredentials(CRED.discord);
  const apiBase = text(c, 'apiBase').replace(/\/+$/, '');
  const apiUrl = apiBase && apiBase !== 'https://discord.com/api' ? apiBase : undefined;
  if (text(c, 'connection') === 'idToken') {
    return { id: text(c, 'webhookId'), token: text(c, 'webhookToken'), apiUrl };
  }
  return { url: text(c, 'webhookUrl'), apiUrl };
}
