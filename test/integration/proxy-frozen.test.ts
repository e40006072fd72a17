/**
 * Issue 15 holes 4 and 5 with real processes: `redslot proxy` (2 workers, and 1 process) following a real
 * etcd, real redis-servers, frozen with SIGSTOP past its lease and resumed with SIGCONT.
 * - Workers fence on their own deadline: with the primary frozen, no IPC fence can reach them.
 * - Commands that reach a frozen proxy (in its socket buffers when it resumes) are refused, never routed
 *   with the table it had before the freeze, while the slot moved meanwhile.
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { slotOfString } from '../../shared/slot.js';
import { until } from '../support/until.js';
import { registeredPid as registeredFrozen, startProxyProcess as startFrozenProxy, useFrozenCluster } from './frozen-support.js';

const fc = useFrozenCluster('frozen');
const groups = fc.groups;
const startProxyProcess = (workers: number) => startFrozenProxy(fc, workers);
const registeredPid = (pid: number) => registeredFrozen(fc.coord, pid);

describe('a proxy frozen past its lease (SIGSTOP / SIGCONT)', () => {
  it('workers: with the primary frozen, each worker fences on its own deadline; after SIGCONT the proxy serves again under a new id', async () => {
    // Fails before issue 15: workers fenced only on an IPC message from the primary, which a frozen primary
    // never sends: they kept serving their old table after etcd expired the proxy's lease.
    const { proc, port } = await startProxyProcess(2);
    const c = new Redis({ port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    expect(await c.set('w:k', '1')).toBe('OK');
    process.kill(proc.pid, 'SIGSTOP'); // the primary only: the workers keep running
    try {
      await until('lease expired in etcd', async () => !(await registeredPid(proc.pid)), 10_000);
      await expect(c.set('w:k', '2')).rejects.toThrow(/CLUSTERDOWN .*lease/);
    } finally {
      process.kill(proc.pid, 'SIGCONT');
    }
    await until('serving again', async () => (await c.set('w:k', '3')) === 'OK', 20_000);
    const regs = await fc.coord.coordinator.getPrefix(fc.coord.paths.proxies);
    const mine = regs.kvs.map((kv) => JSON.parse(kv.value) as { id: string; baseId: string; pid: number }).filter((r) => r.pid === proc.pid);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.id).toBe(`${mine[0]!.baseId}.2`); // a new identity after the lost lease
    c.disconnect();
    await proc.stop();
  }, 60_000);

  it('single process with writes in flight: nothing it held while frozen lands on the old group after the slot moved', async () => {
    const { proc, port } = await startProxyProcess(1);
    const key = 'foo'; // slot 289: group 1
    const slot = slotOfString(key);
    expect(slot).toBeLessThan(512); // group 1
    const g1 = new Redis({ port: groups[0]!.port });
    const g2 = new Redis({ port: groups[1]!.port });
    // A raw client, pipelining SETs with increasing values; replies are counted as they come.
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let replies = '';
    sock.on('data', (d) => (replies += d.toString()));
    const set = (v: number) => `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${String(v).length}\r\n${v}\r\n`;
    sock.write(set(0));
    await until('first reply', () => replies.includes('+OK'));
    process.kill(proc.pid, 'SIGSTOP');
    let resumed = false;
    try {
      // In flight while frozen: these sit in the proxy's socket buffer.
      for (let v = 1; v <= 50; v++) sock.write(set(v));
      await until('lease expired in etcd', async () => !(await registeredPid(proc.pid)), 10_000);
      // The dashboard's step (the barrier skips the expired proxy): the key moves to group 2, the slot too.
      await g1.migrate('127.0.0.1', groups[1]!.port, key, 0, 5000);
      await fc.coord.coordinator.put(fc.coord.paths.slot(slot), JSON.stringify({ id: slot, group: 2 }));
      process.kill(proc.pid, 'SIGCONT');
      resumed = true;
      await until('50 replies', () => (replies.match(/\r\n/g) ?? []).length >= 51, 20_000);
    } finally {
      if (!resumed) process.kill(proc.pid, 'SIGCONT');
    }
    const lines = replies.split('\r\n').filter((l) => l !== '');
    const oks = lines.slice(1).filter((l) => l === '+OK').length;
    const refused = lines.slice(1).filter((l) => /^-CLUSTERDOWN .*lease/.test(l)).length;
    expect(oks + refused).toBe(50);
    // The old group must not have got the key back (a write routed with the pre-freeze table).
    expect(await g1.exists(key)).toBe(0);
    // Whatever was acknowledged is on group 2 (here: nothing was, every in-flight SET was refused).
    expect(oks).toBe(0);
    expect(await g2.get(key)).toBe('0');
    sock.destroy();
    g1.disconnect();
    g2.disconnect();
    await proc.stop();
  }, 60_000);
});
