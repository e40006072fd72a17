/**
 * guard.maxClientsMemory (Redis 7 maxmemory-clients): the bytes all clients hold in this process - replies
 * not yet taken by their sockets and requests received but not dispatched - are summed every CHECK_MS;
 * over the cap, the biggest clients are closed (never one that said CLIENT NO-EVICT ON) until the sum is
 * under it again. One slow reader or one huge pipeline cannot take the memory every other client needs.
 */

/** What the guard reads of a client session. */
export interface MemoryClient {
  readonly id: number;
  readonly remoteAddress: string;
  /** Reply bytes queued in the proxy and in the socket. */
  readonly outputBytes: number;
  /** Request bytes received and not dispatched yet. */
  readonly queryBytes: number;
  /** CLIENT NO-EVICT. */
  readonly client: { readonly noEvict: boolean };
  kill(): void;
}

export const CHECK_MS = 100;

/** One check: closes the biggest clients while the total is over `capBytes`; returns those closed. */
export function evictOverCap(clients: Iterable<MemoryClient>, capBytes: number): Array<{ client: MemoryClient; bytes: number; total: number }> {
  const sized: Array<{ client: MemoryClient; bytes: number }> = [];
  let total = 0;
  for (const c of clients) {
    const bytes = c.outputBytes + c.queryBytes;
    total += bytes;
    if (bytes > 0 && !c.client.noEvict) sized.push({ client: c, bytes });
  }
  if (total <= capBytes) return [];
  sized.sort((a, b) => b.bytes - a.bytes);
  const evicted: Array<{ client: MemoryClient; bytes: number; total: number }> = [];
  for (const s of sized) {
    if (total <= capBytes) break;
    evicted.push({ ...s, total });
    s.client.kill();
    total -= s.bytes;
  }
  return evicted;
}

/** Runs evictOverCap every CHECK_MS (the timer does not keep the process alive); returns a stop function. */
export function guardClientMemory(clients: () => Iterable<MemoryClient>, capBytes: number, onEvict: (client: MemoryClient, bytes: number, total: number) => void): () => void {
  if (capBytes <= 0) return () => {};
  const timer = setInterval(() => {
    for (const e of evictOverCap(clients(), capBytes)) onEvict(e.client, e.bytes, e.total);
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
