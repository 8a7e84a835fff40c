/**
 * Verify worker: re-hashes the lines of a page slice (db/replay/page.ts) and answers with the
 * offsets whose stored hash does not match. Each row's hash depends only on its own stored
 * prev_hash and content, so slices are independent; the main thread checks the links.
 */
import { parentPort } from 'node:worker_threads';
import { checkHashes } from './page';

parentPort?.on('message', (m: { id: number; text: string }) => {
  try {
    parentPort!.postMessage({ id: m.id, ...checkHashes(m.text) });
  } catch (e: any) {
    parentPort!.postMessage({ id: m.id, fatal: String(e?.stack ?? e) });
  }
});
