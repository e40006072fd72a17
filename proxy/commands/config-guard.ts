/**
 * CONFIG GET / SET through the proxy never reveal or change the backends' secrets, file paths, network
 * settings or admin switches: a client of the data port must not read `requirepass` / `masterauth`, point
 * `dir` + `dbfilename` at a file of its choice, or move a backend off its port (every proxy's next reconnect
 * would fail). CONFIG GET leaves such parameters out of its reply (a pattern like `*` skips them); CONFIG SET
 * naming one is refused before anything is sent. Everything else behaves as Redis.
 */
import { arrayElements, bulkValue } from '../../shared/resp/reply-reader.js';
import { encodeArrayHeader } from '../../shared/resp/encoder.js';

/** What a denied parameter is, for the error message. Checked in order; names are lower-case. */
const DENIED: ReadonlyArray<[RegExp, string]> = [
  [/^(requirepass|masterauth|masteruser|primaryauth|primaryuser|tls-key-file-pass|tls-client-key-file-pass)$/, 'secrets'],
  [/^(dir|dbfilename|logfile|aclfile|pidfile|appendfilename|appenddirname|unixsocket|cluster-config-file|tls-[a-z-]*(file|dir))$/, 'file paths'],
  [/^(bind|bind-source-addr|port|tls-port|unixsocketperm|protected-mode|replicaof|slaveof|(replica|slave)-announce-[a-z-]+|cluster-announce-[a-z-]+|tls-[a-z-]+)$/, 'network settings'],
  [/^enable-[a-z-]*(command|configs)$/, 'admin switches'],
];

/** What `name` is when clients may not see or change it, else null. */
export function deniedConfig(name: string): string | null {
  const n = name.toLowerCase();
  for (const [re, what] of DENIED) if (re.test(n)) return what;
  return null;
}

/** CONFIG SET's first denied parameter and what it is, else null. argv: CONFIG SET name value [name value ...]. */
export function deniedConfigSet(argv: readonly Buffer[]): { param: string; what: string } | null {
  for (let i = 2; i < argv.length; i += 2) {
    const param = argv[i]!.toString('latin1');
    const what = deniedConfig(param);
    if (what !== null) return { param, what };
  }
  return null;
}

/**
 * CONFIG GET's reply without the denied pairs: RESP2 flat array `*2N name value ...` or RESP3 map `%N`.
 * Anything else (an error) is returned as is.
 */
export function filterConfigGet(reply: Buffer): Buffer {
  const isMap = reply[0] === 0x25;
  const flat = isMap ? mapElements(reply) : arrayElements(reply);
  if (flat === null || flat === undefined) return reply;
  const kept: Buffer[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = bulkValue(flat[i]!);
    if (name && deniedConfig(name.toString('latin1')) !== null) continue;
    kept.push(flat[i]!, flat[i + 1]!);
  }
  if (kept.length === flat.length) return reply;
  const header = isMap ? Buffer.from(`%${kept.length / 2}\r\n`) : encodeArrayHeader(kept.length);
  return Buffer.concat([header, ...kept]);
}

/** The 2N element frames of a RESP3 map `%N` (its header counts pairs: re-read as an array of 2N). */
function mapElements(reply: Buffer): Buffer[] {
  const hdrEnd = reply.indexOf(0x0d);
  const pairs = Number(reply.toString('latin1', 1, hdrEnd));
  const asArray = Buffer.concat([Buffer.from(`*${pairs * 2}`), reply.subarray(hdrEnd)]);
  return arrayElements(asArray) ?? [];
}
