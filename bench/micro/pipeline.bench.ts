/**
 * The proxy's whole per-request JS path, in process, without the kernel: C fake client sockets each send a
 * chunk of P pipelined requests into real Sessions (decoder -> command lookup -> router -> backend
 * connection queue); the write flush hands the backend bytes to fake backend sockets; the replies Redis would
 * send come back as one chunk per backend into the real reply framers -> ordered reply queues -> client
 * flush. What is left out is exactly the socket syscalls (see bench/profile for those), so the µs per request
 * here is the proxy's own CPU cost per request, stable enough to compare code changes on a noisy machine.
 *
 *   node --import tsx bench/micro/pipeline.bench.ts           (or node dist/bench/micro/pipeline.bench.js)
 *   PIPE_CLIENTS=50 PIPE_DEPTH=16 PIPE_CMD=get|set|incr|mset|lpush|zunionstore BENCH_MS=3000
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { loadProxyConfig } from '../../proxy/config.js';
import { ProxyCore } from '../../proxy/core.js';
import { topologyFromConfig } from '../../proxy/topology-static.js';
import type { BackendConnection } from '../../proxy/backend/connection.js';
import { ReadSlab, type HeldReply } from '../../proxy/backend/read-slab.js';
import { DirectWriter } from '../../proxy/util/direct-write.js';
import { tuneHeap } from '../../proxy/util/heap-tuning.js';
import { createLogger, setLogLevel } from '../../shared/log.js';
import { encodeCommand } from '../../shared/resp/encoder.js';

/** Just enough of net.Socket for a Session: events, write (counted), pause/resume. */
class FakeClient extends EventEmitter {
  written = 0;
  writes = 0;
  writableLength = 0;
  writableNeedDrain = false;
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  /** No handle: writes go through write() below (proxy/util/direct-write.ts falls back to it). */
  _handle = null;
  localAddress = '127.0.0.1';
  localPort = 2;
  private paused = false;
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  write(b: Buffer): boolean {
    this.written += b.length;
    this.writes++;
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  isPaused(): boolean {
    return this.paused;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    return this;
  }
  destroySoon(): void {}
}

/** A backend socket: collects what the proxy writes; the bench answers it. */
class FakeBackend extends FakeClient {
  pending: Buffer[] = [];
  override write(b: Buffer): boolean {
    super.write(b);
    this.pending.push(b);
    return true;
  }
}

const CLIENTS = Number(process.env.PIPE_CLIENTS ?? 50);
const DEPTH = Number(process.env.PIPE_DEPTH ?? 16);

function request(CMD: string, i: number): Buffer {
  const key = `key:${String((i * 7919) % 100000).padStart(12, '0')}`;
  switch (CMD) {
    case 'set':
      return encodeCommand(['SET', key, 'xxx']);
    case 'incr':
      return encodeCommand(['INCR', `counter:${key.slice(4)}`]);
    case 'lpush':
      return encodeCommand(['LPUSH', 'mylist', 'xxx']);
    case 'zunionstore': // keys found from numkeys: the argv path (no offsets routing)
      return encodeCommand(['ZUNIONSTORE', `{${key}}d`, '2', `{${key}}a`, `{${key}}b`]);
    case 'mset': {
      const args = ['MSET'];
      for (let j = 0; j < 10; j++) args.push(`key:${String((i * 7919 + j * 104729) % 100000).padStart(12, '0')}`, 'xxx');
      return encodeCommand(args);
    }
    default:
      return encodeCommand(['GET', key]);
  }
}

/** Redis's reply to each request the backend received (the bench plays Redis). */
const REPLY: Record<string, Buffer> = { get: Buffer.from('$3\r\nxxx\r\n'), set: Buffer.from('+OK\r\n'), mset: Buffer.from('+OK\r\n'), incr: Buffer.from(':12345\r\n'), lpush: Buffer.from(':7\r\n'), zunionstore: Buffer.from(':2\r\n') };

/** Requests in what the proxy wrote: every one starts with '*' (keys and values here contain none). */
function countRequests(bufs: Buffer[]): number {
  let n = 0;
  for (const b of bufs) for (let i = b.indexOf(0x2a); i >= 0; i = b.indexOf(0x2a, i + 1)) n++;
  return n;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function main(CMD: string): Promise<void> {
  setLogLevel('silent');
  const config = loadProxyConfig({
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      admin: '',
      limits: { maxClients: 100000 },
      topology: {
        groups: [
          { id: 1, servers: [{ addr: '127.0.0.1:1', role: 'master' }] },
          { id: 2, servers: [{ addr: '127.0.0.1:2', role: 'master' }] },
        ],
        slots: [
          [0, 511, 1],
          [512, 1023, 2],
        ],
      },
    },
  });
  tuneHeap(); // as a proxy process (proxy/data-path.ts)
  const core = new ProxyCore(config, createLogger(), { defaultMetrics: false });
  await core.applyTopology(topologyFromConfig(config.topology!));
  // Backend connections, forced ready on fake sockets (no dial).
  const backends: Array<{ conn: BackendConnection; sock: FakeBackend }> = [];
  for (const addr of ['127.0.0.1:1', '127.0.0.1:2']) {
    const conn = core.pool.server(addr).conn(0, 0);
    const sock = new FakeBackend();
    const c = conn as unknown as { state: number; socket: unknown; writer: unknown };
    c.state = 3; // State.Ready
    c.socket = sock;
    c.writer = new DirectWriter(sock as unknown as Socket); // no handle: writes go through sock.write
    // What the connection's socket reads do: land in its read slab, then receive() with that slab (older builds:
    // receive() of the chunk, or straight to the framer).
    const c2 = conn as unknown as { receive?: (b: Buffer, slab: unknown) => void; framer: HeldReply & { push(b: Buffer): void } };
    const slab = new ReadSlab(c2.framer);
    const viaSlab = (b: Buffer): void => {
      const into = slab.next();
      b.copy(into);
      c2.receive!(slab.take(b.length, into), (slab as { reading?: unknown }).reading ?? null);
    };
    const feed = c2.receive ? viaSlab : (b: Buffer) => c2.framer.push(b);
    sock.on('data', feed);
    backends.push({ conn, sock });
  }
  // Clients through the real RespServer connection handler.
  const listener = (core.server as unknown as { server: EventEmitter }).server;
  const clients: FakeClient[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = new FakeClient();
    listener.emit('connection', c as unknown as Socket);
    clients.push(c);
  }
  const chunks = clients.map((_, ci) => Buffer.concat(Array.from({ length: DEPTH }, (_, j) => request(CMD, ci * DEPTH + j))));
  const reply = REPLY[CMD]!;
  const perRound = CLIENTS * DEPTH;

  async function round(): Promise<void> {
    for (let i = 0; i < clients.length; i++) clients[i]!.emit('data', chunks[i]);
    await tick(); // backend flush
    for (const b of backends) {
      const n = countRequests(b.sock.pending);
      b.sock.pending = [];
      if (n > 0) b.sock.emit('data', Buffer.concat(Array.from({ length: n }, () => reply)));
    }
    await tick(); // client flush
  }

  // Warm-up, and check every reply came back.
  const before = clients.reduce((n, c) => n + c.written, 0);
  for (let i = 0; i < 200; i++) await round();
  const got = clients.reduce((n, c) => n + c.written, 0) - before;
  const expectBytes = 200 * perRound * reply.length;
  if (got !== expectBytes) throw new Error(`replies: got ${got} bytes, expected ${expectBytes}`);

  const ms = Number(process.env.BENCH_MS ?? 3000);
  const samples: number[] = [];
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  for (let r = 0; r < rounds; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < ms / rounds) {
      await round();
      n += perRound;
    }
    const cpu = process.cpuUsage(cpu0);
    samples.push((cpu.user + cpu.system) / n);
  }
  samples.sort((a, b) => a - b);
  const med = samples[Math.floor(samples.length / 2)]!;
  const clientWrites = clients.reduce((n, c) => n + c.writes, 0);
  process.stdout.write(
    `pipeline ${CMD.toUpperCase()} ${CLIENTS} clients x ${DEPTH} deep: ${med.toFixed(3)} µs CPU per request (median of ${rounds}; all: ${samples.map((s) => s.toFixed(3)).join(' ')}); client writes/request ${(clientWrites / (clients.reduce((n, c) => n + c.written, 0) / reply.length)).toFixed(3)}\n`,
  );
  for (const c of clients) c.emit('close');
}

/** PIPE_CMD, or GET, SET and MSET in turn (npm run bench:micro). */
export async function run(): Promise<void> {
  for (const cmd of (process.env.PIPE_CMD ?? 'get,set,mset').split(',')) await main(cmd);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
