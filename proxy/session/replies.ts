/**
 * Replies and checks the session makes itself, off the hot path: Redis's unknown (sub)command errors, the
 * HTTP-on-the-RESP-port check, and where a request went for the slow log.
 */
import { encodeErrorBytes } from '../../shared/resp/encoder.js';
import type { CommandSpec } from '../commands/lookup.js';
import { errorReply, ProxyErrors } from '../errors.js';
import { ClientRequest } from '../router/requests/base.js';
import type { SlotRoute } from '../router/slot-table.js';
import { equalsIgnoreCase } from '../util/ascii.js';

const HTTP_POST = Buffer.from('post');
const HTTP_HOST = Buffer.from('host:');

/** An unknown command named `POST` or `Host:`: someone speaks HTTP to the RESP port (browser, SSRF). */
export function looksLikeHttp(name: Buffer): boolean {
  return equalsIgnoreCase(name, HTTP_POST) || equalsIgnoreCase(name, HTTP_HOST);
}

/** Where a request went, for the slow log: its route's server, else the proxy or every group. */
export function backendOf(req: ClientRequest): string {
  const route = (req as { route?: SlotRoute | null }).route;
  if (route !== undefined && route !== null && route.server !== null) return route.server.addr;
  return req instanceof ClientRequest && req.constructor === ClientRequest ? 'proxy' : 'all';
}

/** Redis 7: `unknown subcommand 'x'. Try CONFIG HELP.` (the subcommand cut at 128 bytes). */
export function unknownSubcommandError(spec: CommandSpec, sub: Buffer): Buffer {
  return errorReply(ProxyErrors.REDSLOT_ERR_UNKNOWN_SUBCOMMAND, {
    sub: sub.toString('latin1').replace(/[\r\n]/g, ' ').slice(0, 128),
    name: spec.name.toUpperCase(),
  });
}

/** Redis 7: `unknown command 'x', with args beginning with: 'a' 'b' ` (args until 128 bytes, NUL-terminated like C). */
export function unknownCommandError(argv: Buffer[]): Buffer {
  const cstr = (b: Buffer, max: number): Buffer => {
    const nul = b.indexOf(0);
    const end = Math.min(nul < 0 ? b.length : nul, max);
    return b.subarray(0, end);
  };
  const parts: Buffer[] = [Buffer.from("ERR unknown command '"), cstr(argv[0]!, 128), Buffer.from("', with args beginning with: ")];
  let argsLen = 0;
  for (let i = 1; i < argv.length && argsLen < 128; i++) {
    const a = cstr(argv[i]!, 128 - argsLen);
    const piece = Buffer.concat([Buffer.from("'"), a, Buffer.from("' ")]);
    parts.push(piece);
    argsLen += piece.length;
  }
  return encodeErrorBytes(Buffer.concat(parts));
}

/** The reply to a refused (or proxy-only, not answered here) command; `cache` keeps one per CommandSpec.id. */
export function refusalReply(spec: CommandSpec, cache: Array<Buffer | undefined>): Buffer {
  // Subcommands share their container's id: only containers' and plain commands' refusals are cached.
  let r = spec.parent === undefined ? cache[spec.id] : undefined;
  if (r === undefined) {
    r = errorReply(ProxyErrors.REDSLOT_ERR_COMMAND_REFUSED, { refusal: spec.refusal ?? `command '${spec.name}' is not supported by redslot` });
    if (spec.parent === undefined) cache[spec.id] = r;
  }
  return r;
}
