/**
 * How a measured bucket of one slot's keys becomes MIGRATE calls: keys over the big-key limit alone; the others in
 * batches of at most `maxKeys` keys / `maxBytes` bytes, the members of one {tag} family kept in one batch (a family
 * larger than a batch goes on its own). Keys measured as gone (-1: a proxy moved them on access) are dropped.
 */
import { hashTag } from '../../shared/slot.js';

export interface Batch {
  keys: Buffer[];
  bytes: number;
}

export interface BucketPlan {
  big: Array<{ key: Buffer; size: number }>;
  batches: Batch[];
}

export function planBucket(keys: readonly Buffer[], sizes: readonly number[], bigKeyBytes: number, maxKeys: number, maxBytes: number): BucketPlan {
  const big: Array<{ key: Buffer; size: number }> = [];
  // Untagged keys are families of one; tagged ones are sorted so each family is one run.
  const plain: Array<{ key: Buffer; size: number }> = [];
  const tagged: Array<{ key: Buffer; tag: Buffer; size: number }> = [];
  for (let i = 0; i < keys.length; i++) {
    const size = sizes[i]!;
    if (size < 0) continue;
    const key = keys[i]!;
    if (size > bigKeyBytes) big.push({ key, size });
    else if (key.indexOf(0x7b) < 0) plain.push({ key, size });
    else {
      const tag = hashTag(key);
      if (tag === key) plain.push({ key, size });
      else tagged.push({ key, tag, size });
    }
  }
  tagged.sort((a, b) => Buffer.compare(a.tag, b.tag));
  const batches: Batch[] = [];
  let batch: Batch = { keys: [], bytes: 0 };
  const flush = (): void => {
    if (batch.keys.length > 0) batches.push(batch);
    batch = { keys: [], bytes: 0 };
  };
  for (let i = 0; i < tagged.length; ) {
    let j = i + 1;
    let famBytes = tagged[i]!.size;
    while (j < tagged.length && tagged[j]!.tag.equals(tagged[i]!.tag)) famBytes += tagged[j++]!.size;
    // Start a new batch rather than split the family.
    if (batch.keys.length > 0 && (batch.keys.length + (j - i) > maxKeys || batch.bytes + famBytes > maxBytes)) flush();
    for (; i < j; i++) batch.keys.push(tagged[i]!.key);
    batch.bytes += famBytes;
  }
  for (const p of plain) {
    if (batch.keys.length > 0 && (batch.keys.length + 1 > maxKeys || batch.bytes + p.size > maxBytes)) flush();
    batch.keys.push(p.key);
    batch.bytes += p.size;
  }
  flush();
  return { big, batches };
}

/**
 * Keys per MIGRATE now: batchKeys, or fewer so that one call blocks the source about targetBatchMs. Prefers the
 * source's own accounting (MIGRATE time per key, INFO commandstats): round trips also count the time spent queued
 * behind clients, which would shrink batches exactly when clients are busy.
 */
export function batchLimit(batchKeys: number, targetBatchMs: number, sourceUsPerKey: number, roundTripMsPerKey: number): number {
  const perKey = sourceUsPerKey > 0 ? sourceUsPerKey / 1000 : roundTripMsPerKey;
  if (!(targetBatchMs > 0) || perKey <= 0) return batchKeys;
  return Math.max(16, Math.min(batchKeys, Math.floor(targetBatchMs / perKey)));
}
