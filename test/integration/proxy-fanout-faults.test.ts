/**
 * Fan-out requests (MSET / MGET / DEL) at the edges of how their parts are written (proxy/backend/output-batch.ts):
 * values on both sides of the 4 KB threshold where a part's runs of keys stop being copied into the backend
 * batch and are referenced as ranges of the client's bytes, requests spanning reads; and a backend dying while
 * such parts are in flight: every fan-out gets its reply or one error, nothing wedges, the client and the
 * other group go on.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { waitForPort } from '../support/free-port.js';
import { spawnProcess } from '../support/processes.js';
import { REF_AT } from '../../proxy/backend/output-batch.js';
import { sleep, startCluster, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

/** Busy-waits inside redis for `ms` (scripts block the server: requests behind it stay pending). */
const SLOW_SCRIPT = `local s = redis.call('TIME'); local t0 = s[1] * 1000000 + s[2]
repeat local t = redis.call('TIME') until (t[1] * 1000000 + t[2]) - t0 > tonumber(ARGV[1]) * 1000
return 1`;

/** `n` keys of group `g`, named `prefix<i>`. */
function keysOf(c: Cluster, g: number, n: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (c.groupOfKey(`${prefix}${i}`) === g) out.push(`${prefix}${i}`);
  return out;
}

/** Value sizes around REF_AT and around a read (64 KB), small ones between big ones. */
const SIZES = [0, 1, REF_AT - 1, REF_AT, REF_AT + 1, 3, 2 * REF_AT - 1, 100, 70_000, REF_AT - 200, 5, 20_000];

describe('fan-out parts across the range threshold', () => {
  let c: Cluster;
  let io: Redis;
  useProxyCluster({ groups: 2, clients: 'ioredis' }, (s) => ({ cluster: c, io } = s));

  it('MSET of mixed sizes (runs copied and referenced, adjacent keys on one group and alternating): every value byte for byte, through the proxy and on its backend', async () => {
    const a = keysOf(c, 0, 40, 'mix:a:');
    const b = keysOf(c, 1, 40, 'mix:b:');
    // Layouts: groups alternating key by key, in runs of 3, all of one group, and every size rotated.
    const layouts: Array<(i: number) => string> = [
      (i) => (i % 2 === 0 ? a : b)[i]!,
      (i) => (Math.floor(i / 3) % 2 === 0 ? a : b)[i]!,
      (i) => a[i]!,
    ];
    const written = new Map<string, Buffer>();
    const p = io.pipeline();
    for (let l = 0; l < layouts.length; l++) {
      for (let rot = 0; rot < SIZES.length; rot += 5) {
        const args: Array<string | Buffer> = [];
        for (let i = 0; i < SIZES.length; i++) {
          const key = `${layouts[l]!(i)}:${rot}`;
          const value = randomBytes(SIZES[(i + rot) % SIZES.length]!);
          written.set(key, value);
          args.push(key, value);
        }
        p.mset(...args);
      }
    }
    for (const [err, res] of (await p.exec())!) {
      expect(err).toBeNull();
      expect(res).toBe('OK');
    }
    const keys = [...written.keys()];
    const got = await io.mgetBuffer(...keys);
    keys.forEach((k, i) => {
      if (!got[i]!.equals(written.get(k)!)) throw new Error(`${k}: ${got[i]!.length} bytes read, ${written.get(k)!.length} written, contents differ`);
    });
    for (const k of keys.slice(0, 30)) {
      const direct = await c.direct(c.groupOfKey(k)).getBuffer(k);
      expect(direct!.equals(written.get(k)!)).toBe(true);
    }
    expect(await io.del(...keys)).toBe(keys.length);
  }, 60_000);
});

describe('a backend dies while fan-out parts are in flight', () => {
  it('every MSET / MGET / DEL touching it gets one error, those that do not are answered; nothing wedges; it recovers', async () => {
    const c = await startCluster({ groups: 2, overrides: { backend: { backoffMin: '20ms', backoffMax: '100ms' } } });
    const io = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    const other = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    let revived: ReturnType<typeof spawnProcess> | undefined;
    try {
      const a = keysOf(c, 0, 10, 'die:a:');
      const b = keysOf(c, 1, 10, 'die:b:');
      const big = randomBytes(3 * REF_AT);
      await io.mset(...b.flatMap((k) => [k, big]));
      // Group 0 runs a script for 2 s: the fan-out parts sent to it after the script stay pending.
      const p = io.pipeline();
      p.eval(SLOW_SCRIPT, 1, a[0]!, '2000');
      for (let m = 0; m < 6; m++) {
        const mixed = a.slice(0, 5).flatMap((k, i) => [k, randomBytes(m % 2 === 0 ? 10 : 2 * REF_AT), b[i]!, randomBytes(m % 2 === 0 ? 2 * REF_AT : 10)]);
        p.mset(...mixed);
        p.mgetBuffer(a[m]!, b[m]!);
        p.mgetBuffer(...b.slice(5, 9)); // group 1 alone (keys the other fan-outs do not write: not atomic across groups)
        p.del(a[m]!, b[9]!, 'die:none');
      }
      const pending = p.exec();
      await sleep(300);
      await c.groups[0]!.proc.kill9();
      const res = (await pending)!;
      const lost = `ERR backend ${c.groups[0]!.addr} connection lost`;
      expect((res[0]![0] as Error).message).toBe(lost);
      for (let m = 0; m < 6; m++) {
        const [mset, mget, onlyB, del] = res.slice(1 + 4 * m, 5 + 4 * m);
        expect((mset![0] as Error).message).toBe(lost);
        expect((mget![0] as Error).message).toBe(lost);
        expect(onlyB![0]).toBeNull();
        for (const v of onlyB![1] as Buffer[]) expect(v.equals(big)).toBe(true);
        expect((del![0] as Error).message).toBe(lost);
      }
      // Not wedged: the same connection and another one are answered at once; fan-outs touching the dead
      // group fail fast with one error.
      expect(await io.ping()).toBe('PONG');
      expect((await other.mgetBuffer(...b.slice(5, 9))).every((v) => v!.equals(big))).toBe(true);
      await expect(io.mset(a[0]!, 'x', b[0]!, 'y')).rejects.toThrow(`ERR backend ${c.groups[0]!.addr} unavailable`);
      await expect(io.mget(a[0]!, b[0]!)).rejects.toThrow(`ERR backend ${c.groups[0]!.addr} unavailable`);

      // Back on the same port: fan-outs over both groups work again, byte for byte.
      const port = c.groups[0]!.port;
      revived = spawnProcess('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
      await waitForPort(port);
      const value = randomBytes(2 * REF_AT);
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await io.mset(a[1]!, value, b[1]!, 'small').then(
          () => true,
          () => false,
        );
        if (!ok) await sleep(50);
      }
      expect(ok).toBe(true);
      const [va, vb] = await io.mgetBuffer(a[1]!, b[1]!);
      expect(va!.equals(value)).toBe(true);
      expect(vb!.toString()).toBe('small');
    } finally {
      io.disconnect();
      other.disconnect();
      await revived?.stop();
      await c.stop();
    }
  }, 60_000);
});
