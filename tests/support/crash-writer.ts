/**
 * A writer process for the crash test: applies random transfers with several in flight (so
 * group commits happen) and prints one line per ACKNOWLEDGED decision — only after `apply`
 * resolved, i.e. after the commit. The parent kills it with SIGKILL at a random moment and then
 * checks that every acknowledged decision is in the database.
 *
 * argv: <url|-> <dataDir|-> <schema> <seed> <accounts>
 */
import { openDb } from '../../db/adapter';
import { LedgerWriter } from '../../db/writer';
import { rng } from './many-accounts';

async function main() {
  const [url, dataDir, schema, seedText, accountsText] = process.argv.slice(2);
  const db = await openDb({ url: url === '-' ? undefined : url, dataDir: dataDir === '-' ? undefined : dataDir, schema, poolSize: 4 });
  const writer = new LedgerWriter(db);
  const next = rng(Number(seedText));
  const n = Number(accountsText);
  const acct = (i: number) => `acct${String(i).padStart(3, '0')}`;
  const uuid = () => {
    const h = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  process.stdout.write('READY\n');
  const lane = async () => {
    for (;;) {
      const from = acct(Math.floor(next() * n));
      const to = acct(Math.floor(next() * n));
      const p = { proposal_id: uuid(), agent: from, from, to, resource: 'credits', amount: 1 + Math.floor(next() * 300) };
      const r = await writer.apply(p);
      process.stdout.write(`ACK ${r.proposal_id} ${r.status}\n`);
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(3);
});
