/**
 * The runtime work around each request at pipeline 1 (docs/performance.md, "callback work per request"): a
 * GET, SET or MSET creates no nextTick, microtask, promise or timer in the proxy, and at most one immediate
 * (the write flush, proxy/util/flush.ts, one per event-loop turn whatever the number of requests in it).
 * Every one of those would make Node's callback scope run its tick queue or a timer per read. Counted with
 * async_hooks in a real proxy process (a hook module given to node with --import), toggled around the
 * measured requests by SIGUSR2 so that start-up and connection set-up are left out.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../support/compiled.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { until } from '../support/until.js';

/** Counts async resources by type, and nextTick / queueMicrotask calls, between two SIGUSR2s; then writes them to COUNTS_OUT. */
const HOOK = `
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
const counts = {};
let on = false;
const add = (k) => { if (on) counts[k] = (counts[k] ?? 0) + 1; };
createHook({ init(_id, type) { add(type); } }).enable();
const tick = process.nextTick;
process.nextTick = function (...a) { add('nextTick()'); return tick.apply(this, a); };
const micro = globalThis.queueMicrotask;
globalThis.queueMicrotask = (f) => { add('queueMicrotask()'); return micro(f); };
process.on('SIGUSR2', () => {
  on = !on;
  if (on) for (const k of Object.keys(counts)) delete counts[k];
  else writeFileSync(process.env.COUNTS_OUT, JSON.stringify(counts));
});
`;

const CLIENTS = 10;
const PER_CLIENT = 300;

let groups: RedisServerHandle[] = [];
let proxy: Spawned | undefined;
let dir = '';
let port = 0;
let out = '';
let clients: Redis[] = [];

beforeAll(async () => {
  groups = [await startRedis(), await startRedis()];
  port = await freePort();
  dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-callbacks-'));
  const hook = path.join(dir, 'hook.mjs');
  writeFileSync(hook, HOOK);
  out = path.join(dir, 'counts.json');
  const file = path.join(dir, 'proxy.json');
  writeFileSync(
    file,
    JSON.stringify({
      listen: `127.0.0.1:${port}`,
      admin: '',
      topology: {
        groups: groups.map((g, i) => ({ id: i + 1, servers: [{ addr: g.addr, role: 'master' }] })),
        slots: [[0, 511, 1], [512, 1023, 2]],
      },
    }),
  );
  proxy = spawnProcess('proxy', process.execPath, ['--import', hook, ...nodeArgsFor('deploy/bin/redslot.ts'), 'proxy', '--config', file], {
    ...process.env,
    REDSLOT_LOG_LEVEL: 'warn',
    COUNTS_OUT: out,
  });
  await waitForPort(port, '127.0.0.1', 20_000).catch((err: unknown) => {
    throw new Error(`proxy did not start: ${proxy?.log()}`, { cause: err });
  });
  clients = Array.from({ length: CLIENTS }, () => new Redis({ port, maxRetriesPerRequest: 0 }));
  // Connections, backend connections and JIT warmed up outside the counted window.
  await Promise.all(clients.map(async (c, i) => {
    for (let j = 0; j < 50; j++) await c.mset(`k${i}-${j}`, 'v', `{k${i}-${j}}x`, 'v', `j${i}-${j}`, 'v');
  }));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await proxy?.stop();
  await Promise.all(groups.map((g) => g.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Async resources (and nextTick / queueMicrotask calls) the proxy created per request while `run` sent `requests` at pipeline 1. */
async function perRequest(requests: number, run: (c: Redis, i: number, j: number) => Promise<unknown>): Promise<Record<string, number>> {
  rmSync(out, { force: true });
  process.kill(proxy!.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 100));
  // Each client waits for its reply before sending the next request: pipeline 1.
  await Promise.all(clients.map(async (c, i) => {
    for (let j = 0; j < PER_CLIENT; j++) await run(c, i, j);
  }));
  process.kill(proxy!.pid, 'SIGUSR2');
  await until('the proxy wrote its counts', () => {
    try {
      return readFileSync(out, 'utf8').length > 0;
    } catch {
      return false;
    }
  }, 5000);
  const counts = JSON.parse(readFileSync(out, 'utf8')) as Record<string, number>;
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / requests]));
}

describe('callback work per request at pipeline 1', () => {
  const cases: Array<[string, (c: Redis, i: number, j: number) => Promise<unknown>]> = [
    ['SET', (c, i, j) => c.set(`k${i}-${j}`, 'abc')],
    ['GET', (c, i, j) => c.get(`k${i}-${j}`)],
    ['MSET over two groups', (c, i, j) => c.mset(`k${i}-${j}`, 'v', `{k${i}-${j}}x`, 'v', `j${i}-${j}`, 'v')],
  ];
  for (const [name, run] of cases) {
    it(`${name}: no nextTick, microtask, promise or timer per request; at most one immediate`, async () => {
      const per = await perRequest(CLIENTS * PER_CLIENT, run);
      // A few from the proxy's own periodic work (reachability pings, pool trims) over the window are allowed.
      for (const kind of ['nextTick()', 'TickObject', 'queueMicrotask()', 'Microtask', 'PROMISE', 'Timeout']) {
        expect(per[kind] ?? 0, `${kind} per request (${JSON.stringify(per)})`).toBeLessThan(0.02);
      }
      expect(per['Immediate'] ?? 0, JSON.stringify(per)).toBeLessThanOrEqual(1.02);
      // Nothing else that is per request either (sockets, writes, DNS ...).
      for (const [kind, n] of Object.entries(per)) if (kind !== 'Immediate') expect(n, `${kind} per request`).toBeLessThan(0.02);
    }, 60_000);
  }
});
