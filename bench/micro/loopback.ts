/**
 * Socket-write micro-benchmarks: a real loopback TCP connection whose peer discards what it reads, and the CPU
 * of this process per write step (the syscall and the peer's TCP receive path on loopback included, as in
 * the proxy).
 */
import net from 'node:net';

/** A connected loopback socket whose peer reads and discards; close() tears both down. */
export async function discardingConnection(): Promise<{ sock: net.Socket; close(): void }> {
  const server = net.createServer((s) => s.on('data', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  return {
    sock,
    close() {
      sock.destroy();
      server.close();
    },
  };
}

/**
 * µs of this process's CPU per call of `step` over `n` calls, waiting for 'drain' when the socket asks and
 * yielding to the event loop every `yieldEvery` calls (so the peer reads).
 */
export async function cpuPerStep(sock: net.Socket, n: number, step: () => void, yieldEvery: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    step();
    if (sock.writableNeedDrain) await new Promise((r) => sock.once('drain', r));
    if (i % yieldEvery === yieldEvery - 1) await new Promise((r) => setImmediate(r));
  }
  const c = process.cpuUsage(cpu0);
  return (c.user + c.system) / n;
}
