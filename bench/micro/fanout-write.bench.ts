/**
 * Writing fan-out parts to a backend socket: values copied into the output batch's slab (one contiguous write)
 * vs referenced where they lie in the client's read buffer (the slab holds the headers; cork + one write per
 * slice + uncork: libuv writev), as proxy/backend/output-batch.ts does, on a real loopback socket whose peer
 * discards. CPU of this process per flush (the syscall and the peer's TCP receive path on loopback included,
 * as in the proxy); the threshold REF_AT in output-batch.ts is chosen from this.
 *
 *   node --import tsx bench/micro/fanout-write.bench.ts
 *   FANOUT_SIZES="1024 4096 8192 16384" FANOUT_PARTS=10 FANOUT_KEYS=5 BENCH_ROUNDS=5
 */
import type net from 'node:net';
import { cpuPerStep, discardingConnection } from './loopback.js';
import { OutputBatch } from '../../proxy/backend/output-batch.js';
import { DirectWriter } from '../../proxy/util/direct-write.js';

const SIZES = (process.env.FANOUT_SIZES ?? '1024 2048 4096 8192 16384').split(/\s+/).filter(Boolean).map(Number);
/** Parts per flush (MSETs of one backend in one event-loop turn) and keys per part. */
const PARTS = Number(process.env.FANOUT_PARTS ?? 10);
const KEYS = Number(process.env.FANOUT_KEYS ?? 5);

/** An MSET argv whose keys and values are views into one buffer, as the request decoder leaves them. */
function msetArgv(size: number, seed: number): { argv: Buffer[]; keys: number[] } {
  const chunk = Buffer.alloc(KEYS * (16 + size), 0x61 + (seed % 26));
  const argv = [Buffer.from('MSET')];
  const keys: number[] = [];
  for (let k = 0; k < KEYS; k++) {
    const at = k * (16 + size);
    keys.push(argv.length);
    argv.push(chunk.subarray(at, at + 16), chunk.subarray(at + 16, at + 16 + size));
  }
  return { argv, keys };
}

function measure(sock: net.Socket, size: number, refAt: number, flushes: number): Promise<number> {
  const batch = new OutputBatch(refAt);
  const writer = new DirectWriter(sock);
  const reqs = Array.from({ length: PARTS }, (_, i) => msetArgv(size, i));
  const flush = () => {
    for (const r of reqs) batch.pushSelected(r.argv, r.keys, 2);
    batch.writeTo(writer);
  };
  return cpuPerStep(sock, flushes, flush, 16);
}

export async function run(): Promise<void> {
  const { sock, close } = await discardingConnection();
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`\n${PARTS} MSET parts of ${KEYS} keys per flush, µs CPU per flush (median of ${rounds} interleaved rounds):\n`);
  for (const size of SIZES) {
    const flushes = Math.max(200, Math.round(2_000_000 / size));
    await measure(sock, size, Infinity, flushes / 4);
    await measure(sock, size, 1, flushes / 4);
    const copy: number[] = [];
    const ref: number[] = [];
    for (let r = 0; r < rounds; r++) {
      copy.push(await measure(sock, size, Infinity, flushes));
      ref.push(await measure(sock, size, 1, flushes));
    }
    const c = med(copy);
    const f = med(ref);
    process.stdout.write(`  values of ${String(size).padStart(5)} B: copied into the slab ${c.toFixed(2).padStart(8)}   referenced ${f.toFixed(2).padStart(8)}  x${(f / c).toFixed(2)}\n`);
  }
  close();
}

if (import.meta.url === `file://${process.argv[1]}`) void run();
