/**
 * The pure parts of cluster-wide commands: the SCAN cursor encoding, the script cache's bounds, and the INFO
 * merge rules. (Behaviour through the proxy: test/integration/proxy-cluster-wide*.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { bytesToHuman, mergeGroupInfo, parseInfo } from '../../proxy/local/info.js';
import { decodeCursor, encodeCursor, epochNow, epochStartMs, type ScanCursor } from '../../proxy/router/requests/scan.js';
import { ScriptCache, scriptSha, shaArg } from '../../proxy/scripts/cache.js';

const b = (s: string) => Buffer.from(s);

describe('SCAN cursor', () => {
  it('round-trips group, phase, epoch and server cursor; fits a signed 64-bit integer for 32-bit server cursors', () => {
    const cases: ScanCursor[] = [
      { group: 1, phase: 0, epoch: 0, server: 0n },
      { group: 9999, phase: 1, epoch: 0xffff, server: 0xffffffffn },
      { group: 42, phase: 0, epoch: 1234, server: 123456789n },
    ];
    for (const c of cases) {
      const s = encodeCursor(c);
      expect(/^[1-9][0-9]*$/.test(s)).toBe(true);
      expect(BigInt(s) < 1n << 63n).toBe(true);
      expect(decodeCursor(b(s))).toEqual(c);
    }
    // Server cursors of 33 bits still round-trip (as unsigned 64-bit values).
    const big = { group: 3, phase: 0 as const, epoch: 7, server: (1n << 32n) + 5n };
    expect(decodeCursor(b(encodeCursor(big)))).toEqual(big);
    expect(encodeCursor({ group: 2, phase: 0, epoch: 0, server: 0n })).toBe('2');
  });

  it('0 starts; anything but an unsigned 64-bit decimal is an invalid cursor', () => {
    expect(decodeCursor(b('0'))).toBe('start');
    for (const bad of ['', '-1', '+1', '1.5', 'abc', ' 1', '18446744073709551616', '123456789012345678901']) expect(decodeCursor(b(bad)), bad).toBeNull();
    expect(decodeCursor(b('18446744073709551615'))).not.toBeNull();
  });

  it('the epoch wraps every 2^16 s; the rescan looks back to 1 s before the start second', () => {
    const start = Date.UTC(2026, 0, 1, 12, 0, 0, 700);
    const e = epochNow(start);
    expect(epochStartMs(e, start + 5000)).toBe(Math.floor(start / 1000) * 1000 - 1000);
    // Across the wrap.
    const late = start + 0x10000 * 1000 - 2000;
    expect(epochStartMs(epochNow(late), late + 4000)).toBe(Math.floor(late / 1000) * 1000 - 1000);
  });
});

describe('ScriptCache', () => {
  it('names scripts by Redis SHA1, accepts upper-case SHA arguments, keeps copies', () => {
    expect(scriptSha(b('return 1'))).toBe('e0e1f9fabfc9d4800c877a703b823ac0578ff8db');
    expect(shaArg(b('E0E1F9FABFC9D4800C877A703B823AC0578FF8DB'))).toBe('e0e1f9fabfc9d4800c877a703b823ac0578ff8db');
    expect(shaArg(b('short'))).toBeNull();
    const cache = new ScriptCache(1000);
    const body = b('return 1');
    expect(cache.remember(scriptSha(body), body)).toBe(true);
    body.fill(0);
    expect(cache.body(scriptSha(b('return 1')))!.toString()).toBe('return 1');
    expect(cache.remember(scriptSha(b('return 1')), b('return 1'))).toBe(false);
  });

  it('evicts the least recently used bodies beyond its size, and forgets where they were loaded', () => {
    const cache = new ScriptCache(100);
    const bodies = [0, 1, 2].map((i) => b(`return ${i} -- ${'x'.repeat(30)}`));
    const shas = bodies.map(scriptSha);
    cache.remember(shas[0]!, bodies[0]!);
    cache.markKnown('h:1', shas[0]!);
    cache.remember(shas[1]!, bodies[1]!);
    cache.body(shas[0]!); // 0 is now more recent than 1
    cache.remember(shas[2]!, bodies[2]!);
    expect(cache.has(shas[1]!)).toBe(false);
    expect(cache.has(shas[0]!)).toBe(true);
    expect(cache.usedBytes).toBeLessThanOrEqual(100);
    expect(cache.isKnownOn('h:1', shas[0]!)).toBe(true);
    cache.forgetOn('h:1', shas[0]!);
    expect(cache.isKnownOn('h:1', shas[0]!)).toBe(false);
    cache.flush();
    expect(cache.size).toBe(0);
    // A body larger than the cache is not kept; size 0 keeps nothing.
    expect(new ScriptCache(0).remember('x', b('return 1'))).toBe(true);
  });
});

describe('INFO merge over groups', () => {
  const g = (usedMemory: number, rss: number, keys: number, expires: number, ttl: number, hits: number) =>
    parseInfo(
      `# Memory\r\nused_memory:${usedMemory}\r\nused_memory_human:x\r\nused_memory_rss:${rss}\r\nmem_fragmentation_ratio:9.99\r\nused_memory_peak_perc:50.00%\r\nmaxmemory_policy:noeviction\r\n\r\n` +
        `# Stats\r\nkeyspace_hits:${hits}\r\ninstantaneous_input_kbps:1.50\r\nexpired_stale_perc:10.00\r\n\r\n` +
        `# Keyspace\r\ndb0:keys=${keys},expires=${expires},avg_ttl=${ttl}\r\n`,
    );

  it('sums counters, recomputes human sizes and the fragmentation ratio, averages percentages, weights avg_ttl', () => {
    const m = mergeGroupInfo([g(1024, 4096, 10, 2, 1000, 5), g(3072, 4096, 30, 6, 3000, 7)]);
    const mem = Object.fromEntries(m.get('memory')!);
    expect(mem).toMatchObject({ used_memory: '4096', used_memory_human: '4.00K', used_memory_rss: '8192', mem_fragmentation_ratio: '2.00', used_memory_peak_perc: '50.00%', maxmemory_policy: 'noeviction' });
    const stats = Object.fromEntries(m.get('stats')!);
    expect(stats).toMatchObject({ keyspace_hits: '12', instantaneous_input_kbps: '3.00', expired_stale_perc: '10.00' });
    expect(m.get('keyspace')).toEqual([['db0', 'keys=40,expires=8,avg_ttl=2500']]);
    expect(bytesToHuman(0)).toBe('0B');
    expect(bytesToHuman(1536 * 1024)).toBe('1.50M');
  });
});
