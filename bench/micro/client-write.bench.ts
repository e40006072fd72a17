/**
 * Writing a flush's worth of small replies to a socket: one Buffer.concat + one write (what proxy/util/flush
 * does for buffers < 16 KB) vs cork + one write per reply + uncork (libuv writev of many small buffers), on a
 * real loopback socket whose peer discards. CPU of this process per batch (the syscall and the peer's TCP
 * receive path on loopback are included, as in the proxy).
 */
import net from 'node:net';

const BATCH = Number(process.env.WRITE_BATCH ?? 16);
const REPLY = Buffer.from('$3\r\nxxx\r\n');

async function measure(name: string, sock: net.Socket, write: (list: Buffer[]) => void, batches: number): Promise<number> {
  const list = Array.from({ length: BATCH }, () => Buffer.from(REPLY));
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < batches; i++) {
    write(list);
    if (sock.writableNeedDrain) await new Promise((r) => sock.once('drain', r));
    if (i % 64 === 63) await new Promise((r) => setImmediate(r));
  }
  const c = process.cpuUsage(cpu0);
  return (c.user + c.system) / batches;
}

export async function run(): Promise<void> {
  const server = net.createServer((s) => s.on('data', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
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
  await measure('warm', sock, concat, 20000);
  await measure('warm', sock, writev, 20000);
  for (let r = 0; r < rounds; r++) {
    res.concat!.push(await measure('concat', sock, concat, 50000));
    res.writev!.push(await measure('writev', sock, writev, 50000));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`\n${BATCH} replies of ${REPLY.length} B per flush, µs CPU per flush (median of ${rounds}):\n`);
  process.stdout.write(`  Buffer.concat + 1 write        ${med(res.concat!).toFixed(2)}\n`);
  process.stdout.write(`  cork + ${BATCH} writes + uncork    ${med(res.writev!).toFixed(2)}  x${(med(res.writev!) / med(res.concat!)).toFixed(2)}\n`);
  sock.destroy();
  server.close();
}

if (import.meta.url === `file://${process.argv[1]}`) void run();
