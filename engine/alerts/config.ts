/**
 * Which channels are on, from the environment (or explicit options). The console is always on;
 * Linear and Discord only when their keys are set — with no keys, alerts stay in the outbox and
 * reach the console only (the embedded default).
 *
 *   LINEAR_API_KEY        enables Linear        LINEAR_API_URL   (fakes; default api.linear.app)
 *   LINEAR_TEAM_ID        team id or key        LINEAR_SKIP_CODES comma list of codes with no ticket
 *   DISCORD_WEBHOOK_URL   or DISCORD_WEBHOOK_ID + DISCORD_WEBHOOK_TOKEN enables Discord
 *   DISCORD_API_URL       REST base for fakes (http://127.0.0.1:PORT/api)
 */
import type { Db } from '../../db/adapter';
import { ConsoleChannel } from './console';
import { DiscordChannel, type DiscordChannelOptions } from './discord';
import { AlertDispatcher, type DispatcherOptions } from './dispatcher';
import { LinearChannel, type LinearChannelOptions } from './linear';
import type { AlertChannel } from './types';

export interface AlertConfig {
  linear?: LinearChannelOptions;
  discord?: DiscordChannelOptions;
  /** Console line sink (default console.log). */
  log?: (line: string) => void;
}

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

export function alertConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AlertConfig {
  const cfg: AlertConfig = {};
  if (env.LINEAR_API_KEY) {
    cfg.linear = { apiKey: env.LINEAR_API_KEY, apiUrl: env.LINEAR_API_URL || undefined, team: env.LINEAR_TEAM_ID || undefined, skipCodes: list(env.LINEAR_SKIP_CODES), ...(env.LINEAR_LABEL ? { label: env.LINEAR_LABEL } : {}) };
  }
  if (env.DISCORD_WEBHOOK_URL || (env.DISCORD_WEBHOOK_ID && env.DISCORD_WEBHOOK_TOKEN)) {
    cfg.discord = env.DISCORD_WEBHOOK_URL
      ? { url: env.DISCORD_WEBHOOK_URL, apiUrl: env.DISCORD_API_URL || undefined }
      : { id: env.DISCORD_WEBHOOK_ID, token: env.DISCORD_WEBHOOK_TOKEN, apiUrl: env.DISCORD_API_URL || undefined };
  }
  return cfg;
}

export function channelsFromConfig(cfg: AlertConfig): AlertChannel[] {
  const out: AlertChannel[] = [new ConsoleChannel(cfg.log)];
  if (cfg.linear) out.push(new LinearChannel(cfg.linear));
  if (cfg.discord) out.push(new DiscordChannel(cfg.discord));
  return out;
}

/** The dispatcher the CLI runs: channels from env (or `cfg`), problems logged to `log`. */
export function createDispatcher(db: Db, cfg: AlertConfig = alertConfigFromEnv(), opts: Omit<DispatcherOptions, 'channels'> = {}): AlertDispatcher {
  return new AlertDispatcher(db, { log: cfg.log, ...opts, channels: channelsFromConfig(cfg) });
}
