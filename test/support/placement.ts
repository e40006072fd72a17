/** Where keys live on a MigrationCluster: the slot records, and every key on every master checked against them. */
import { expect } from 'vitest';
import { Redis } from 'ioredis';
import type { MigrationCluster } from '../../bench/migration/cluster.js';
import type { SlotRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';

export async function slotRecords(c: MigrationCluster): Promise<SlotRecord[]> {
  return (await c.opened.coordinator.getPrefix(c.opened.paths.slots)).kvs.map((kv) => JSON.parse(kv.value) as SlotRecord);
}

/** Every key on every master lives in the group its slot names now (no slot has an action left); the keys counted. */
export async function countPlacedKeys(c: MigrationCluster): Promise<number> {
  const owner = new Array<number>(1024).fill(0);
  for (const s of await slotRecords(c)) {
    expect(s.action, `slot ${s.id} still has an action`).toBeUndefined();
    owner[s.id] = s.group;
  }
  let total = 0;
  for (let i = 0; i < c.redis.length; i++) {
    const r = new Redis({ port: c.redis[i]!.port, host: '127.0.0.1' });
    let cursor = '0';
    do {
      const [next, keys] = await r.scanBuffer(cursor, 'COUNT', 2000);
      cursor = String(next);
      for (const k of keys) {
        expect(owner[slotOf(k)], `key ${k.toString()} on group ${i + 1}`).toBe(i + 1);
        total++;
      }
    } while (cursor !== '0');
    r.disconnect();
  }
  return total;
}
