/** The registry of subcommands. One file per command under ./commands. */
import type { ParseArgsConfig } from 'node:util';
import { initCommand } from './commands/init';
import { replayCommand } from './commands/replay';
import { verifyCommand } from './commands/verify';
import { statusCommand } from './commands/status';
import { checkpointCommand } from './commands/checkpoint';
import { serveCommand } from './commands/serve';
import { startCommand } from './commands/start';

export interface Command {
  name: string;
  summary: string;
  description: string;
  options: NonNullable<ParseArgsConfig['options']>;
  optionHelp: Record<string, string>;
  run(values: Record<string, any>): Promise<number>;
}

export const COMMANDS: Record<string, Command> = Object.fromEntries(
  [startCommand, initCommand, replayCommand, verifyCommand, statusCommand, checkpointCommand, serveCommand].map((c) => [c.name, c]),
);
