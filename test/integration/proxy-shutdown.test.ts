/**
 * Graceful shutdown: stop accepting, finish in-flight commands within the deadline and flush their replies,
 * close clients, exit 0 on SIGTERM (the real CLI entry, spawned).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../support/compiled.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess } from '../support/processes.js';
import { startRedis } from '../support/redis-server.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { RawConn, sleep, startCluster } from './proxy-cluster.js';

const cleanups = cleanupsAfterEach();

const SLOW_SCRIPT = `local s = redis.call('TIME'); local t0 = s[1] * 1000000 + s[2]
repeat local t = redis.call('TIME') until (t[1] * 1000000 + t[2]) - t0 > tonumber(ARGV[1]) * 1000
return 1`;
const slowEval = (key: string, ms: number) =>
  `*5\r\n$4\r\nEVAL\r\n$${Buffer.byteLength(SLOW_SCRIPT)}\r\n${SLOW_SCRIPT}\r\n$1\r\n1\r\n$${key.length}\r\n${key}\r\n$${String(ms).length}\r\n${ms}\r\n`;

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

describe('graceful shutdown', () => {
  it('finishes in-flight commands, refuses new connections, then closes clients', async () => {
    const c = await startCluster({ groups: 2 });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await c.stop();
      else await Promise.all(c.groups.map((g) => g.stop()));
    });
    const conn = await RawConn.open(c.port);
    conn.send(slowEval('foo', 500));
    await sleep(100);
    const t0 = Date.now();
    const closing = c.proxy.close({ deadlineMs: 5000 });
    stopped = true;
    await sleep(50);
    expect(await refused(c.port)).toBe(true);
    await closing;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(conn.received()).toBe(':1\r\n');
    await conn.waitFor('never', 1500);
    expect(conn.closed).toBe(true);
  });

  it('closes whatever is still running at the deadline', async () => {
    const c = await startCluster({ groups: 1 });
    cleanups.push(async () => Promise.all(c.groups.map((g) => g.stop())).then(() => undefined));
    const conn = await RawConn.open(c.port);
    conn.send(slowEval('foo', 1500));
    await sleep(100);
    const t0 = Date.now();
    await c.proxy.close({ deadlineMs: 200 });
    expect(Date.now() - t0).toBeLessThan(1200);
    await conn.waitFor('never', 500);
    expect(conn.closed).toBe(true);
    expect(conn.received()).toBe('');
  });

  it('SIGTERM: the CLI process answers in-flight commands and exits 0', async () => {
    const r = await startRedis();
    cleanups.push(() => r.stop());
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-sigterm-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'proxy.yaml');
    writeFileSync(
      file,
      [
        `listen: 127.0.0.1:${port}`,
        "admin: ''",
        'shutdownDeadline: 5s',
        'topology:',
        '  groups:',
        `    - { id: 1, servers: [{ addr: "${r.addr}", role: master }] }`,
        '  slots: [[0, 1023, 1]]',
      ].join('\n'),
    );
    const proc = spawnProcess('proxy', process.execPath, [...nodeArgsFor('deploy/bin/redslot.ts'), 'proxy', '--config', file], {
      ...process.env,
      REDSLOT_LOG_LEVEL: 'warn',
    });
    cleanups.push(() => proc.stop());
    await waitForPort(port, '127.0.0.1', 20_000);
    const conn = await RawConn.open(port);
    conn.send(slowEval('k', 600));
    await sleep(150);
    proc.child.kill('SIGTERM');
    expect(await conn.waitFor(':1\r\n', 5000)).toBe(':1\r\n');
    expect(await proc.exited).toBe(0);
  });
});
