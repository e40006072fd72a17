/**
 * `redslot import codis --from http://CODIS_DASHBOARD:18080 | --from-file FILE [--confirm] [--if-revision N]`
 *
 * Reads the Codis dashboard's model (unauthenticated `GET /topom`, falling back to `GET /topom/stats`), or a
 * file holding either body, and posts it to redslot's dashboard: a preview without --confirm, the import
 * with it. The redslot dashboard never dials the Codis dashboard itself (SSRF guard); this CLI does.
 */
import { readFile } from 'node:fs/promises';
import type { CodisImportResult } from '../imports/codis-import.js';
import { flagString, UsageError } from './args.js';
import { rangesText, table } from './format.js';
import type { CliRun } from './run.js';

/** Codis answers in a few hundred ms; a stuck dashboard should not hang the CLI. */
const CODIS_TIMEOUT_MS = 15_000;

async function fetchCodis(base: string): Promise<unknown> {
  if (!/^https?:\/\/[^/?#\s]+\/?$/.test(base)) throw new UsageError(`--from: expected http://host:port of a Codis dashboard, got ${JSON.stringify(base)}`);
  const root = base.replace(/\/+$/, '');
  let lastError = '';
  // /topom first: the same stats plus the product name and Codis build.
  for (const path of ['/topom', '/topom/stats']) {
    let res: Response;
    try {
      res = await fetch(`${root}${path}`, { signal: AbortSignal.timeout(CODIS_TIMEOUT_MS), redirect: 'error' });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new Error(`Codis dashboard ${root} unreachable: ${cause?.code ?? (err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    if (res.ok) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new Error(`Codis dashboard ${root}${path} did not answer JSON: ${text.slice(0, 120)}`);
      }
    }
    lastError = `${path}: HTTP ${res.status}`;
  }
  throw new Error(`Codis dashboard ${root} has neither /topom nor /topom/stats (${lastError})`);
}

async function readCodisFile(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new UsageError(`--from-file: cannot read ${file}: ${(err as Error).message}`);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`--from-file: ${file} is not JSON: ${(err as Error).message}`);
  }
}

export function formatImport(r: CodisImportResult): string {
  const lines: string[] = [];
  lines.push(`Codis ${r.product ? `product ${r.product}` : 'cluster'}${r.codisVersion ? ` (${r.codisVersion.split(' ').pop()})` : ''}: ${r.groups.length} group(s), ${1024 - r.offlineSlots} slots served, ${r.offlineSlots} offline`);
  const rangesOf = (gid: number) => rangesText(r.ranges.filter((x) => x.group === gid));
  lines.push(
    table(
      ['GROUP', 'SERVERS', 'SLOTS', 'RANGES', 'REDSLOT'],
      r.groups.map((g) => [
        String(g.id),
        g.servers.map((s) => `${s.addr} (${s.role}${s.redisVersion ? ` ${s.redisVersion}` : ''})`).join(', ') || '(none)',
        String(g.slots),
        rangesOf(g.id),
        r.createGroups.includes(g.id) ? 'create' : 'exists',
      ]),
    ),
  );
  if (r.offlineSlots > 0) lines.push(`offline (group 0): ${rangesOf(0)}`);
  if (r.codisProxies.length > 0) lines.push(`codis-proxy instances: ${r.codisProxies.join(', ')} (keep them until clients moved)`);
  lines.push(`redslot will ${r.applied ? 'have' : ''}${r.applied ? ' created' : 'create'} ${r.createGroups.length} group(s) and ${r.applied ? 'assigned' : 'assign'} ${r.assignSlots} slot(s)${r.assignRanges.length ? `: ${r.assignRanges.map((x) => `${x.from === x.to ? x.from : `${x.from}-${x.to}`}->g${x.group}`).join(', ')}` : ''}`);
  for (const c of r.checked ?? []) lines.push(`checked ${c.addr} (group ${c.group}): ${c.role ?? '?'}, redis ${c.redisVersion ?? '?'}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  for (const x of r.refusals) lines.push(`refused: ${x}`);
  return lines.join('\n');
}

export async function cmdImport(r: CliRun): Promise<void> {
  if (r.rest[0] !== 'codis') throw new UsageError('expected: import codis --from http://HOST:PORT | --from-file FILE [--confirm]');
  if (r.rest.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(r.rest[1])}`);
  const from = flagString(r.args, 'from');
  const file = flagString(r.args, 'from-file');
  if ((from === undefined) === (file === undefined)) throw new UsageError('import codis needs exactly one of --from http://CODIS_DASHBOARD:PORT or --from-file FILE');
  const codis = from !== undefined ? await fetchCodis(from) : await readCodisFile(file!);
  const confirm = r.args.flags.has('confirm');
  const res = await r.client.importCodis({ codis: codis as Record<string, unknown>, ...(confirm ? { confirm: true } : {}), ...(r.ifRevision !== undefined ? { ifRevision: r.ifRevision } : {}) });
  let human = formatImport(res);
  if (!res.applied) {
    const again = from !== undefined ? `--from ${from}` : `--from-file ${file}`;
    human += res.refusals.length > 0 ? '\nnothing written: fix the refusals above, then preview again' : `\npreview only (revision ${res.revision}); write it with: redslot import codis ${again} --confirm --if-revision ${res.revision}`;
  }
  r.out(human, res);
  if (!res.applied && res.refusals.length > 0) r.fail();
}
