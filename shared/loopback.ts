/** Whether an address (a peer's, or one to listen on) is loopback only: Redis's protected-mode rule. */
import { isIP } from 'node:net';

/** Loopback addresses: 127.0.0.0/8, ::1 and IPv4-mapped 127.x. */
export function isLoopback(addr: string | undefined): boolean {
  if (addr === undefined) return false;
  if (addr === '::1') return true;
  const v4 = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** A listen host reachable only from this machine ('localhost' included). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}
