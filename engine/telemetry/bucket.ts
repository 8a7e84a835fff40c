/**
 * One time bucket of the MetricsWindow: running bigint sums for the entries and rejections that
 * fell into [index·bucketMs, (index+1)·bucketMs), and their JSON-safe form. The definitions of
 * every figure are in window.ts (the header comment), next to the code that feeds the bucket.
 */
import { LIMITS } from '../../validator/limits';
import type { LedgerEntry } from '../../validator/types';
import { ratio, sortedRecord } from './common';

export interface ResourceBucketSnapshot {
  volume: string; minted: string; burned: string;
  supplyOpen: string; supplyClose: string;
  velocity: number | null;
}

export interface BucketSnapshot {
  index: number; startMs: number; endMs: number;
  entries: number; proposals: number;
  rejections: { total: number; rate: number; byCode: Record<string, { count: number; rate: number }> };
  resources: Record<string, ResourceBucketSnapshot>;
  efficiency: {
    artifactWrites: number; outputBytes: string;
    burn: Record<string, { amount: string; writesPerUnit: number; bytesPerUnit: number }>;
  };
}

interface ResStats { volume: bigint; minted: bigint; burned: bigint; supplyOpen: bigint; supplyClose: bigint }

export interface Bucket {
  index: number; entries: number; proposals: number; rejections: number;
  codes: Map<string, number>; writes: number; bytes: bigint;
  res: Map<string, ResStats>; burn: Map<string, bigint>;
}

const VOLUME_KINDS: ReadonlySet<string> = new Set(['transfer', 'swap', 'tax']);
/** Rejection codes beyond LIMITS.telemetry.maxRejectionCodesPerBucket are counted here. */
export const OTHER_CODE = '_OTHER';

export function newBucket(index: number): Bucket {
  return { index, entries: 0, proposals: 0, rejections: 0, codes: new Map(), writes: 0, bytes: 0n,
    res: new Map(), burn: new Map() };
}

/** metadata.bytes of an artifact_write: a non-negative integer or digit string, else 0. */
function metadataBytes(md: Record<string, unknown>): bigint {
  const b = md?.bytes;
  if (typeof b === 'number' && Number.isSafeInteger(b) && b >= 0) return BigInt(b);
  if (typeof b === 'string' && /^[0-9]{1,30}$/.test(b)) return BigInt(b);
  return 0n;
}

/**
 * Adds one (already validated) entry. `supplyBefore` / `supplyAfter` are the resource's supply
 * around this entry (ignored for entries without an amount); `isCharge` says whether its amount
 * is resource burn for the efficiency ratio.
 */
export function addEntry(b: Bucket, e: LedgerEntry, supplyBefore: bigint, supplyAfter: bigint, isCharge: boolean): void {
  b.entries++;
  if (e.leg === 0) b.proposals++;
  if (e.kind === 'artifact_write') { b.writes++; b.bytes += metadataBytes(e.metadata); }
  if (e.amount === null || e.resource === null) return;
  const r = e.resource;
  const a = e.amount;
  let s = b.res.get(r);
  if (!s) {
    s = { volume: 0n, minted: 0n, burned: 0n, supplyOpen: supplyBefore, supplyClose: supplyBefore };
    b.res.set(r, s);
  }
  s.supplyClose = supplyAfter;
  if (VOLUME_KINDS.has(e.kind)) s.volume += a;
  if (e.from === null) s.minted += a;
  if (e.to === null) s.burned += a;
  if (isCharge) b.burn.set(r, (b.burn.get(r) ?? 0n) + a);
}

export function addRejection(b: Bucket, code: string): void {
  b.rejections++;
  // Codes come from outside the window; bound the map so a buggy emitter cannot grow it.
  const key = b.codes.has(code) || b.codes.size < LIMITS.telemetry.maxRejectionCodesPerBucket ? code : OTHER_CODE;
  b.codes.set(key, (b.codes.get(key) ?? 0) + 1);
}

export function bucketSnapshot(b: Bucket, bucketMs: number): BucketSnapshot {
  const den = b.proposals + b.rejections;
  const rate = (n: number) => (den === 0 ? 0 : n / den);
  return {
    index: b.index,
    startMs: b.index * bucketMs,
    endMs: (b.index + 1) * bucketMs,
    entries: b.entries,
    proposals: b.proposals,
    rejections: {
      total: b.rejections,
      rate: rate(b.rejections),
      byCode: sortedRecord(b.codes, (count) => ({ count, rate: rate(count) })),
    },
    resources: sortedRecord(b.res, (s) => {
      const avg2 = s.supplyOpen + s.supplyClose;
      return {
        volume: s.volume.toString(), minted: s.minted.toString(), burned: s.burned.toString(),
        supplyOpen: s.supplyOpen.toString(), supplyClose: s.supplyClose.toString(),
        // volume / ((open + close) / 2) kept as one exact fraction until this division.
        velocity: avg2 > 0n ? ratio(2n * s.volume, avg2) : null,
      };
    }),
    efficiency: {
      artifactWrites: b.writes,
      outputBytes: b.bytes.toString(),
      burn: sortedRecord(
        new Map([...b.burn].filter(([, v]) => v > 0n)),
        (v) => ({ amount: v.toString(), writesPerUnit: ratio(BigInt(b.writes), v), bytesPerUnit: ratio(b.bytes, v) }),
      ),
    },
  };
}
