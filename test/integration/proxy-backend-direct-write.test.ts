/**
 * Backend writes go straight through the socket's handle (proxy/util/direct-write.ts via
 * proxy/backend/output-batch.ts writeTo): a request alone in its turn is one writeBuffer, a batch of several
 * slices (a big value referenced between packed requests) one handle writev, and neither goes through
 * Writable (a WriteWrap per write, afterWrite on nextTick). Real proxy, real redis-server: fails if the
 * direct path goes inactive for backend writes on this Node.
 */
import type net from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { REF_AT } from '../../proxy/backend/output-batch.js';
import { countWrites } from '../support/write-counts.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { startCluster, type Cluster } from './proxy-cluster.js';

const cleanups = cleanupsAfterEach();

describe('backend writes straight through the socket handle', () => {
  it('pipeline-1 requests and batches of several slices reach redis through the handle, none through Writable, every reply right', async () => {
    const c: Cluster = await startCluster({ groups: 1 });
    cleanups.push(() => c.stop());
    const r = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    cleanups.push(() => r.disconnect());
    expect(await r.set('dw:warm', '1')).toBe('OK'); // the backend connection is up, its handshake done
    const conns = c.proxy.runtime.pool.all().flatMap((s) => s.connections());
    const counts = conns.map((conn) => countWrites((conn as unknown as { socket: net.Socket }).socket));
    for (let i = 0; i < 100; i++) {
      expect(await r.set(`dw:${i}`, `v${i}`)).toBe('OK');
      expect(await r.get(`dw:${i}`)).toBe(`v${i}`);
    }
    // Small requests packed around big values (referenced, not copied): several slices per flush.
    const big = (i: number) => Buffer.alloc(REF_AT * 2 + i, 0x41 + (i % 26));
    const p = r.pipeline();
    for (let i = 0; i < 10; i++) p.set(`dw:s${i}`, 'x').set(`dw:b${i}`, big(i));
    const res = await p.exec();
    expect(res!.every(([err, v]) => err === null && v === 'OK')).toBe(true);
    for (let i = 0; i < 10; i++) expect((await r.getBuffer(`dw:b${i}`))!.equals(big(i))).toBe(true);
    const sum = (k: 'writable' | 'writeBuffer' | 'writev') => counts.reduce((n, x) => n + x[k], 0);
    expect(sum('writable')).toBe(0);
    expect(sum('writeBuffer')).toBeGreaterThanOrEqual(200);
    expect(sum('writev')).toBeGreaterThan(0);
  });
});
