/**
 * What Node's socket read path costs per read at pipeline 1: C loopback connections each send one PING to a
 * real redis-server and the next when the reply is in, reading either through 'data' events (what the proxy's
 * accepted client sockets do: a fresh ArrayBuffer per read, Readable push / emit / maybeReadMore) or through
 * net.connect's `onread` into a buffer the caller owns (what backend connections do, read-slab.ts). µs of this
 * process's CPU per round trip (one read and one write each); the difference is the per-read cost a proxy pays
 * on every client request it reads with 'data' (docs/performance.md, "Pipeline 1"). A third mode, `direct`,
 * reads through `onread` and writes straight to the handle when nothing is buffered (proxy/util/direct-write.ts,
 * what client replies use) instead of socket.write: the difference to `onread` is the per-write cost of
 * Writable (writeOrBuffer, a WriteWrap per write, afterWrite on nextTick).
 *
 *   node --import tsx bench/micro/read-path.bench.ts        READ_CONNS=50 READ_TRIPS=200000 BENCH_ROUNDS=3
 */
import net from 'node:net';
import { startRedis } from '../../deploy/local/spawn/redis.js';
import { writeDirect } from '../../proxy/util/direct-write.js';

const CONNS = Number(process.env.READ_CONNS ?? 50);
const TRIPS = Number(process.env.READ_TRIPS ?? 200_000);
const PING = Buffer.from('*1\r\n$4\r\nPING\r\n');

type Mode = 'data' | 'onread' | 'direct';

async function measure(port: number, mode: Mode): Promise<{ user: number; system: number }> {
  let left = TRIPS;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const send = mode === 'direct' ? (s: net.Socket) => writeDirect(s, PING) : (s: net.Socket) => s.write(PING);
  const next = (s: net.Socket) => {
    if (--left > 0) send(s);
    else if (left === 0) done();
  };
  const socks: net.Socket[] = [];
  for (let i = 0; i < CONNS; i++) {
    let s: net.Socket;
    if (mode !== 'data') {
      s = net.connect({ port, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: () => (next(s), true) } });
    } else {
      s = net.connect(port, '127.0.0.1');
      s.on('data', () => next(s));
    }
    s.setNoDelay(true);
    socks.push(s);
  }
  await Promise.all(socks.map((s) => new Promise((r) => s.once('connect', r))));
  const c0 = process.cpuUsage();
  for (const s of socks) send(s);
  await finished;
  const c = process.cpuUsage(c0);
  for (const s of socks) s.destroy();
  return { user: c.user / TRIPS, system: c.system / TRIPS };
}

export async function run(): Promise<void> {
  const redis = await startRedis();
  try {
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    process.stdout.write(`\n${CONNS} connections, depth 1, PING round trips; µs of CPU per round trip (user / kernel):\n`);
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['data', 'onread', 'direct'] as const) {
        const m = await measure(redis.port, mode);
        process.stdout.write(`  round ${r + 1} ${mode.padEnd(6)} user ${m.user.toFixed(2)}  kernel ${m.system.toFixed(2)}\n`);
      }
    }
  } finally {
    await redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void run();
