/**
 * Verify worker: re-hashes the lines of a page slice (db/replay/page.ts, as UTF-8 bytes) and
 * answers with the lines whose stored hash does not match. Each row's hash depends only on its own stored
 * prev_hash and content, so slices are independent; the main thread checks the links.
 */
import { parentPort } from 'node:worker_threads';
import { checkHashes } from './page';

parentPort?.on('message', (m: { id: number; bytes: ArrayBuffer; offset: number; length: number }) => {
  try {
    const r = checkHashes(Buffer.from(m.bytes, m.offset, m.length));
    // The buffer goes back for the next page.
    parentPort!.postMessage({ id: m.id, ...r, bytes: m.bytes }, [m.bytes]);
  } catch (e: any) {
    parentPort!.postMessage({ id: m.id, fatal: String(e?.stack ?? e) });
  }
});
