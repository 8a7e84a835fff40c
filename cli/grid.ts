#!/usr/bin/env node
/**
 * `grid` — the command line. Each subcommand is a thin shell over the engine and answers
 * `--help`. Exit codes: 0 success, 1 the checked thing is wrong (verify found drift), 2 usage or
 * configuration error, 3 the operation failed.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { COMMANDS, type Command } from './commands';

const GLOBAL_HELP = `grid — the Grid Governance Engine

Usage: grid <command> [options]

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.name.padEnd(11)} ${c.summary}`)
  .join('\n')}

Every command answers --help. The database is embedded PGlite in ./.grid unless DATABASE_URL
points at Postgres. See README.md for configuration.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic && COMMANDS[topic]) {
      process.stdout.write(helpOf(COMMANDS[topic]) + '\n');
      return 0;
    }
    process.stdout.write(GLOBAL_HELP + '\n');
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`grid: unknown command "${name}". Run "grid --help" for the list.\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } } as ParseArgsConfig['options'], allowPositionals: false, strict: true });
  } catch (e: any) {
    process.stderr.write(`grid ${name}: ${e.message}\nRun "grid ${name} --help".\n`);
    return 2;
  }
  if ((parsed.values as Record<string, unknown>).help) {
    process.stdout.write(helpOf(cmd) + '\n');
    return 0;
  }
  try {
    return await cmd.run(parsed.values as Record<string, any>);
  } catch (e: any) {
    const code = e?.code && typeof e.code === 'string' ? `[${e.code}] ` : '';
    process.stderr.write(`grid ${name}: ${code}${e?.message ?? e}\n`);
    if (process.env.GRID_DEBUG) process.stderr.write(String(e?.stack) + '\n');
    return e?.code === 'SCENARIO_INVALID' || e?.code === 'USAGE' ? 2 : 3;
  }
}

function helpOf(c: Command): string {
  const opts = Object.entries(c.options).map(([k, o]) => {
    const flag = `--${k}${o.type === 'string' ? ' <value>' : ''}`;
    return `  ${flag.padEnd(26)} ${c.optionHelp[k] ?? ''}`;
  });
  return `grid ${c.name} — ${c.summary}\n\nUsage: grid ${c.name} [options]\n\n${c.description}\n\nOptions:\n${[...opts, `  ${'--help'.padEnd(26)} show this help`].join('\n')}`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`grid: ${e?.stack ?? e}\n`);
      process.exitCode = 3;
    },
  );
}
