/**
 * A small pool of verify workers (verify-worker.ts). sha256 is most of verify's client-side cost
 * (≈1 µs a row here), and rows hash independently, so a page is cut into one slice per worker at
 * line boundaries and hashed in parallel while the main thread folds the same page.
 *
 * Started per replay and only for large ledgers: a worker costs tens of ms to start, more than
 * hashing a small ledger inline.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { utf8, type HashCheck } from './page';

interface Pending {
  resolve: (r: HashCheck) => void;
  reject: (e: Error) => void;
}

export class HashPool {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failed: Error | null = null;
  /** Byte buffers the workers handed back, reused for the next pages (fresh ones cost page faults). */
  private readonly spare: ArrayBuffer[] = [];

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: { id: number; fatal?: string; bytes?: ArrayBuffer } & HashCheck) => {
        if (m.bytes && this.spare.length < 2 * workers.length) this.spare.push(m.bytes);
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.fatal) p.reject(new Error(`verify worker failed: ${m.fatal}`));
        else p.resolve({ bad: m.bad, errors: m.errors, lines: m.lines });
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`verify worker exited with code ${code}`));
      });
    }
  }

  /** null when workers cannot be started here (e.g. running from sources without the compiled worker). */
  static open(size: number): HashPool | null {
    const file = join(__dirname, 'verify-worker.js');
    if (size < 1 || !existsSync(file)) return null;
    try {
      return new HashPool(Array.from({ length: size }, () => new Worker(file)));
    } catch {
      return null;
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Hash-check every line of `text`; line numbers in the answer count from its first line. */
  async check(text: string): Promise<HashCheck> {
    if (this.failed) throw this.failed;
    const cuts = [0];
    for (let k = 1; k < this.workers.length; k++) {
      const at = text.indexOf('\n', Math.max(cuts[k - 1], Math.floor((text.length * k) / this.workers.length)));
      cuts.push(at === -1 ? text.length : at + 1);
    }
    cuts.push(text.length);
    const parts = await Promise.all(
      this.workers.map((w, k) => {
        if (cuts[k] >= cuts[k + 1]) return Promise.resolve<HashCheck>({ bad: [], errors: [], lines: 0 });
        const id = this.nextId++;
        // Sent as UTF-8 bytes (what the hash is over) and transferred: cloning a string would copy
        // it on this thread, the one replay waits on.
        const bytes = utf8(text.slice(cuts[k], cuts[k + 1]), this.spare.pop());
        return new Promise<HashCheck>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          w.postMessage({ id, bytes: bytes.buffer, offset: bytes.byteOffset, length: bytes.length }, [bytes.buffer as ArrayBuffer]);
        });
      }),
    );
    const out: HashCheck = { bad: [], errors: [], lines: 0 };
    for (const p of parts) {
      for (const [l, v] of p.bad) out.bad.push([l + out.lines, v]);
      for (const [l, m] of p.errors) out.errors.push([l + out.lines, m]);
      out.lines += p.lines;
    }
    return out;
  }

  private fail(e: Error) {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
