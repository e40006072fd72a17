/**
 * What Node's socket write path costs per write at pipeline 1: C loopback connections each send one PING to a
 * real redis-server and the next when the reply is in (reads through `onread`, as the proxy does), writing
 * either through socket.write (Writable: writeOrBuffer, a WriteWrap per write, afterWrite on nextTick) or
 * straight to the handle when nothing is buffered (proxy/util/direct-write.ts). µs of this process's CPU per
 * round trip (one read and one write each); the difference is what a proxy saves per client reply.
 *
 *   node --import tsx bench/micro/write-path.bench.ts        WRITE_CONNS=50 WRITE_TRIPS=200000 BENCH_ROUNDS=3
 */
import net from 'node:net';
import { startRedis } from '../../deploy/local/spawn/redis.js';
import { writeDirect } from '../../proxy/util/direct-write.js';

const CONNS = Number(process.env.WRITE_CONNS ?? 50);
const TRIPS = Number(process.env.WRITE_TRIPS ?? 200_000);
const PING = Buffer.from('*1\r\n$4\r\nPING\r\n');

type Mode = 'write' | 'direct';

async function measure(port: number, mode: Mode): Promise<{ user: number; system: number }> {
  let left = TRIPS;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const send = mode === 'write' ? (s: net.Socket) => s.write(PING) : (s: net.Socket) => writeDirect(s, PING);
  const next = (s: net.Socket) => {
    if (--left > 0) send(s);
    else if (left === 0) done();
  };
  const socks: net.Socket[] = [];
  for (let i = 0; i < CONNS; i++) {
    const s: net.Socket = net.connect({ port, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: () => (next(s), true) } });
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
      for (const mode of ['write', 'direct'] as const) {
        const m = await measure(redis.port, mode);
        process.stdout.write(`  round ${r + 1} ${mode.padEnd(6)} user ${m.user.toFixed(2)}  kernel ${m.system.toFixed(2)}\n`);
      }
    }
  } finally {
    await redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void run();
