/**
 * Backpressure toward a slow backend: when a backend connection's socket buffer passes
 * MAX_BACKEND_BUFFERED_BYTES, the sessions sending to it hold and stop reading, so what clients keep
 * sending stays in the kernel and the proxy's memory is bounded; when the backend drains, everything held
 * is sent in order and every client gets every reply. The backend sits behind a TCP relay (the network)
 * that the test pauses.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BACKEND_BUFFERED_BYTES } from '../../proxy/backend/connection.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { setLogLevel } from '../../shared/log.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { sleep } from './proxy-cluster.js';

setLogLevel('silent');

let redis: RedisServerHandle;
let relay: TcpRelay;
let proxy: ProxyHandle;

beforeAll(async () => {
  redis = await startRedis();
  relay = await startTcpRelay(redis.port);
  proxy = await newProxy();
});

afterAll(async () => {
  relay?.resume();
  await proxy?.close({ deadlineMs: 2000 });
  await relay?.stop();
  await redis?.stop();
});

/** Bytes a proxy has read from all its clients. */
function bytesRead(p: ProxyHandle): number {
  let n = 0;
  for (const s of p.runtime.server.sessions) n += (s as unknown as { socket: net.Socket }).socket.bytesRead;
  return n;
}

async function newProxy(): Promise<ProxyHandle> {
  const config = loadProxyConfig({
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      admin: '',
      backend: { dialTimeout: '30s' }, // the handshake case stalls a fresh connection for seconds
      topology: { groups: [{ id: 1, servers: [{ addr: relay.endpoint, role: 'master' }] }], slots: [[0, 1023, 1]] },
    },
  });
  return startProxy({ config, defaultMetrics: false });
}

/**
 * 8 clients each pipeline 1,500 SETs of 8 KB (96 MB in all) while the network to the backend is stalled;
 * `warm`: the backend connection is up first (else it is stuck in its handshake: requests queue for it).
 */
async function stalledBackend(p: ProxyHandle, warm: boolean): Promise<void> {
  const CLIENTS = 8;
  const PER_CLIENT = 1500;
  const value = Buffer.alloc(8192, 0x61);
  const wire = (c: number) => Buffer.concat(Array.from({ length: PER_CLIENT }, (_, i) => encodeCommand(['SET', `bp:${c}:${i}`, value])));
  const offered = CLIENTS * wire(0).length;
  if (warm) {
    const w = net.connect(p.port, '127.0.0.1');
    await new Promise<void>((resolve) => {
      w.on('connect', () => w.write('*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n1\r\n'));
      w.on('data', (d: Buffer) => d.toString().includes('+OK') && resolve());
    });
    w.destroy();
  }
  relay.pause();
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, (_, c) => {
      return new Promise<{ socket: net.Socket; replies: () => string }>((resolve) => {
        const s = net.connect(p.port, '127.0.0.1');
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString('latin1')));
        s.on('error', () => {});
        s.on('connect', () => {
          s.write(wire(c));
          resolve({ socket: s, replies: () => got });
        });
      });
    }),
  );
  try {
    // Let the proxy read and forward whatever it will.
    let last = -1;
    for (let i = 0; i < 40 && bytesRead(p) !== last; i++) {
      last = bytesRead(p);
      await sleep(150);
    }
    const conn = p.runtime.pool.all()[0]!.connections()[0]!;
    expect(conn.congested).toBe(true);
    const read = bytesRead(p);
    // Bounded: the backend socket's buffer (or the handshake queue), the kernel's buffers and about a chunk
    // per client, not 96 MB.
    expect(read).toBeLessThan(offered / 3);
    expect(read).toBeGreaterThan(MAX_BACKEND_BUFFERED_BYTES);
    for (const s of p.runtime.server.sessions) expect(s.pendingRequests).toBeLessThan(PER_CLIENT);
    await sleep(500);
    expect(bytesRead(p)).toBe(read); // still not reading
  } finally {
    relay.resume();
  }
  const expected = '+OK\r\n'.repeat(PER_CLIENT);
  const deadline = Date.now() + 20_000;
  while (clients.some((c) => c.replies().length < expected.length) && Date.now() < deadline) await sleep(100);
  for (const c of clients) expect(c.replies()).toBe(expected);
  expect(p.runtime.pool.all()[0]!.connections()[0]!.congested).toBe(false);
  for (const c of clients) c.socket.destroy();
}

describe('a congested backend holds its senders', () => {
  it('stops reading from clients while the backend cannot take more, then delivers every reply in order', async () => {
    await stalledBackend(proxy, true);
  });

  it('the same while the backend connection is still in its handshake (requests queued for it)', async () => {
    const p = await newProxy();
    try {
      await stalledBackend(p, false);
    } finally {
      await p.close({ deadlineMs: 2000 });
    }
  });
});
