/** Reading binary COPY output in tests: whole streams, split into rows with their own bytes. */
import type { Db, Tx } from '../../db/adapter';
import { CopyRowSplitter } from '../../db/replay/copy-rows';
import { rowHashOk } from '../../db/replay/row-hash';

/** One row split out of a COPY stream: a private copy of its bytes with its field offsets relative to them. */
export interface SplitRow {
  bytes: Buffer;
  off: Int32Array;
  len: Int32Array;
}

/** Split a whole COPY stream (fed in one piece) into rows; throws as the splitter does. */
export function splitAll(stream: Buffer): SplitRow[] {
  const rows: SplitRow[] = [];
  const s = new CopyRowSplitter((b, start, end, off, len) => {
    rows.push({ bytes: Buffer.from(b.subarray(start, end)), off: off.map((o) => o - start), len: Int32Array.from(len) });
  });
  s.push(stream);
  s.finish();
  return rows;
}

export const hashOk = (r: SplitRow) => rowHashOk(r.bytes, r.bytes.length, r.off, r.len);
export const fieldText = (r: SplitRow, k: number) => (r.len[k] < 0 ? null : r.bytes.toString('utf8', r.off[k], r.off[k] + r.len[k]));

/** The whole binary COPY output of `select`, copied out of the pieces the adapter hands over. */
export async function copyOutAll(db: Db | Tx, select: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await db.copyOut(select, (c, start, end) => chunks.push(Buffer.from(c.subarray(start, end))));
  return Buffer.concat(chunks);
}
