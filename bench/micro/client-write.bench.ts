/**
 * Writing a flush's worth of small replies to a socket: one Buffer.concat + one write (what proxy/util/flush
 * does for buffers < 16 KB) vs cork + one write per reply + uncork (libuv writev of many small buffers), on a
 * real loopback socket whose peer discards. CPU of this process per batch (the syscall and the peer's TCP
 * receive path on loopback are included, as in the proxy).
 */
import type net from 'node:net';
import { cpuPerStep, discardingConnection } from './loopback.js';

const BATCH = Number(process.env.WRITE_BATCH ?? 16);
const REPLY = Buffer.from('$3\r\nxxx\r\n');

function measure(sock: net.Socket, write: (list: Buffer[]) => void, batches: number): Promise<number> {
  const list = Array.from({ length: BATCH }, () => Buffer.from(REPLY));
  return cpuPerStep(sock, batches, () => write(list), 64);
}

export async function run(): Promise<void> {
  const { sock, close } = await discardingConnection();
  const concat = (list: Buffer[]) => {
    let total = 0;
    for (const b of list) total += b.length;
    sock.write(Buffer.concat(list, total));
  };
  const writev = (list: Buffer[]) => {
    sock.cork();
    for (const b of list) sock.write(b);
    sock.uncork();
  };
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const res: Record<string, number[]> = { concat: [], writev: [] };
  await measure(sock, concat, 20000);
  await measure(sock, writev, 20000);
  for (let r = 0; r < rounds; r++) {
    res.concat!.push(await measure(sock, concat, 50000));
    res.writev!.push(await measure(sock, writev, 50000));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`\n${BATCH} replies of ${REPLY.length} B per flush, µs CPU per flush (median of ${rounds}):\n`);
  process.stdout.write(`  Buffer.concat + 1 write        ${med(res.concat!).toFixed(2)}\n`);
  process.stdout.write(`  cork + ${BATCH} writes + uncork    ${med(res.writev!).toFixed(2)}  x${(med(res.writev!) / med(res.concat!)).toFixed(2)}\n`);
  close();
}

if (import.meta.url === `file://${process.argv[1]}`) void run();
