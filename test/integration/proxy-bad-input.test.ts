/**
 * Hostile and broken clients. The proxy runs as its own process (`node --expose-gc`, the real CLI entry) so
 * its memory can be measured: every bad input below gets the right error or a clean close, a healthy client
 * keeps working throughout, and after it all the proxy's heap and buffers return to their baseline.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../support/compiled.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { RawConn, rawExchange, sleep } from './proxy-cluster.js';

let groups: RedisServerHandle[] = [];
let proxy: Spawned | undefined;
let port = 0;
let adminPort = 0;
let dir = '';
let healthy: Redis;

async function memory(): Promise<{ heapUsed: number; arrayBuffers: number; external: number }> {
  // Two rounds: the first GC may only promote; numbers settle on the second.
  await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy/gc`, { method: 'POST' });
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy/gc`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as { heapUsed: number; arrayBuffers: number; external: number };
}

beforeAll(async () => {
  groups = [await startRedis(), await startRedis()];
  port = await freePort();
  adminPort = await freePort();
  dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-badinput-'));
  const file = path.join(dir, 'proxy.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      listen: `127.0.0.1:${port}`,
      admin: `127.0.0.1:${adminPort}`,
      topology: {
        groups: groups.map((g, i) => ({ id: i + 1, servers: [{ addr: g.addr, role: 'master' }] })),
        slots: [[0, 511, 1], [512, 1023, 2]],
      },
    }),
  );
  proxy = spawnProcess('proxy', process.execPath, ['--expose-gc', ...nodeArgsFor('deploy/bin/redslot.ts'), 'proxy', '--config', file], {
    ...process.env,
    REDSLOT_LOG_LEVEL: 'warn',
  });
  await waitForPort(port, '127.0.0.1', 20_000).catch((err: unknown) => {
    throw new Error(`proxy did not start: ${proxy?.log()}`, { cause: err });
  });
  healthy = new Redis({ port, maxRetriesPerRequest: 0 });
  await healthy.set('healthy', '1');
}, 60_000);

afterAll(async () => {
  healthy?.disconnect();
  await proxy?.stop();
  await Promise.all(groups.map((g) => g.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface BadCase {
  name: string;
  input: string | Buffer | Array<string | Buffer>;
  /** Exact bytes expected back. */
  reply: string;
  /** The proxy must close the connection. */
  closes: boolean;
}

const CASES: BadCase[] = [
  { name: 'malformed bulk length', input: '*1\r\n$x\r\n', reply: '-ERR Protocol error: invalid bulk length\r\n', closes: true },
  { name: 'bulk without $', input: '*1\r\n+PING\r\n', reply: "-ERR Protocol error: expected '$', got '+'\r\n", closes: true },
  { name: 'negative bulk length', input: '*1\r\n$-5\r\n', reply: '-ERR Protocol error: invalid bulk length\r\n', closes: true },
  { name: 'huge bulk length', input: '*1\r\n$999999999999\r\n', reply: '-ERR Protocol error: invalid bulk length\r\n', closes: true },
  { name: '2M-element array header', input: '*2000000\r\n', reply: '-ERR Protocol error: invalid multibulk length\r\n', closes: true },
  { name: 'array length with garbage', input: '*12x\r\n', reply: '-ERR Protocol error: invalid multibulk length\r\n', closes: true },
  { name: 'negative array length is ignored (Redis)', input: '*-5\r\n*1\r\n$4\r\nPING\r\n', reply: '+PONG\r\n', closes: false },
  { name: 'unbalanced quotes inline', input: 'SET "a b\r\n', reply: '-ERR Protocol error: unbalanced quotes in request\r\n', closes: true },
  { name: 'inline request over 64 KB', input: 'x'.repeat(70 * 1024), reply: '-ERR Protocol error: too big inline request\r\n', closes: true },
  {
    name: 'unknown command keeps the connection',
    input: '*2\r\n$6\r\nNOSUCH\r\n$1\r\na\r\nPING\r\n',
    reply: "-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n+PONG\r\n",
    closes: false,
  },
  { name: 'wrong arity keeps the connection', input: 'GET\r\nPING\r\n', reply: "-ERR wrong number of arguments for 'get' command\r\n+PONG\r\n", closes: false },
  {
    name: 'replies to earlier requests come before the protocol error',
    input: ['*2\r\n$3\r\nGET\r\n$7\r\nhealthy\r\n', '*1\r\n$x\r\n'],
    reply: '$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n',
    closes: true,
  },
  { name: 'HTTP to the RESP port: closed without a reply', input: 'POST / HTTP/1.1\r\nHost: x\r\n\r\n', reply: '', closes: true },
];

describe('bad input table', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const r = await rawExchange(port, c.input, c.closes ? 3000 : 400);
      expect(r.data.toString('latin1')).toBe(c.reply);
      expect(r.closed).toBe(c.closes);
      // Other clients are unaffected.
      expect(await healthy.get('healthy')).toBe('1');
    });
  }

  it('random bytes: only error replies, then the connection is closed or stays usable', async () => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let round = 0; round < 12; round++) {
      const junk = Buffer.alloc(2000);
      for (let i = 0; i < junk.length; i++) junk[i] = rand();
      const r = await rawExchange(port, junk, 150);
      const text = r.data.toString('latin1');
      for (const line of text.split('\r\n').filter((l) => l.length > 0)) expect(line.startsWith('-')).toBe(true);
    }
    expect(await healthy.get('healthy')).toBe('1');
  });

  it('a client that sends half a request and stalls gets nothing and blocks nobody', async () => {
    const stalled = await RawConn.open(port);
    stalled.send('*3\r\n$3\r\nSET\r\n$5\r\nhalf1\r\n$100\r\nabc');
    await sleep(200);
    expect(stalled.received()).toBe('');
    expect(stalled.closed).toBe(false);
    expect(await healthy.get('healthy')).toBe('1');
    // Finishing the request later works: the decoder resumed where it stopped.
    stalled.send('d'.repeat(97) + '\r\n');
    expect(await stalled.waitFor('+OK\r\n')).toBe('+OK\r\n');
    stalled.close();
  });
});

describe('memory returns to baseline', () => {
  it('after big partial requests, huge declared lengths and many bad clients', async () => {
    // Warm up code paths, then measure.
    await healthy.set('warm', Buffer.alloc(1024 * 1024));
    await healthy.get('warm');
    const before = await memory();

    // 8 clients each declare a 200 MB value, send 4 MB of it, then vanish.
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const s = await RawConn.open(port);
        s.send(`*3\r\n$3\r\nSET\r\n$4\r\nbig${i}\r\n$${200 * 1024 * 1024}\r\n`);
        const chunk = Buffer.alloc(1024 * 1024, 0x61);
        for (let j = 0; j < 4; j++) s.send(chunk);
        await sleep(100);
        s.close();
      }),
    );
    // Array headers that promise a lot, then disconnect.
    for (let i = 0; i < 20; i++) await rawExchange(port, '*1048576\r\n$3\r\nGET\r\n', 50);
    // And the whole bad-input table again, twice.
    for (let round = 0; round < 2; round++) for (const c of CASES) await rawExchange(port, c.input, c.closes ? 2000 : 100);
    await sleep(300);

    const after = await memory();
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    const detail = `heap ${mb(before.heapUsed)} -> ${mb(after.heapUsed)} MB, arrayBuffers ${mb(before.arrayBuffers)} -> ${mb(after.arrayBuffers)} MB`;
    expect(after.heapUsed - before.heapUsed, detail).toBeLessThan(8 * 1024 * 1024);
    expect(after.arrayBuffers - before.arrayBuffers, detail).toBeLessThan(4 * 1024 * 1024);
    expect(await healthy.get('healthy')).toBe('1');
  });
});
