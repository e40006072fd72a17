/**
 * `redslot split` / `redslot splits` against a real dashboard, proxies and redis-servers (memory://
 * coordinator): preview without --confirm, start and follow with --watch to the end, list, refusals and
 * usage errors with their exit codes, and the split metrics on /metrics.
 */
import { describe, expect, it } from 'vitest';
import { TOKEN } from '../../bench/migration/cluster.js';
import { runAdminCommand } from '../../dashboard/cli/index.js';
import { setLogLevel } from '../../shared/log.js';
import { useSplitCluster } from '../support/split.js';

setLogLevel('silent');

const f = useSplitCluster({ split: { retryMs: 200 }, keys: 5000, key: (i) => `c${i}`, value: () => 'v' });

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCommand([...argv, '--dashboard', f.c.dashboards[0]!.url, '--token', TOKEN], { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
  return { code, out, err };
}

describe('redslot split CLI', () => {
  it('previews without --confirm, starts and follows with --watch, lists; refusals exit 1, usage 2', async () => {
    const url = f.c.dashboards[0]!.url;
    const pre = await run('split', '1', '--to', '2');
    expect(pre.code).toBe(0);
    expect(pre.out).toMatch(/512 slot\(s\) move: 512-1023; group 1 keeps 512/);
    expect(pre.out).toMatch(/preview only/);
    expect((await run('splits')).out).toMatch(/no split/);

    const started = await run('split', '1', '--to', '2', '--confirm', '--watch', '--interval', '0.05');
    expect(started.code).toBe(0);
    expect(started.out).toMatch(/started split split-/);
    expect(started.out).toMatch(/: DONE/);
    expect(started.out).toMatch(/slots held \d+ ms at the switch/);
    expect(started.out).toMatch(/purged [\d,]+ key\(s\) from the source/);
    const listed = JSON.parse((await run('splits', '--json')).out) as { splits: Array<{ step: string; holdMs: number }> };
    expect(listed.splits[0]!.step).toBe('done');

    const again = await run('split', '1', '--to', '2');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/REDSLOT_ERR_SPLIT_REFUSED/);
    expect((await run('split', 'abort', '1')).err).toMatch(/REDSLOT_ERR_SPLIT_ABORT_REFUSED/);
    expect((await run('split', '1')).code).toBe(2);
    expect((await run('split', '1', '--to', '2', '--slots', '9-1')).code).toBe(2);
    expect((await run('split', 'x', '--to', '2')).code).toBe(2);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/redslot_dashboard_split_finished_total\{outcome="done"\} 1/);
    expect(metrics).toMatch(/redslot_dashboard_split_hold_seconds_count 1/);
    expect(metrics).toMatch(/redslot_dashboard_split_purged_keys_total\{side="source"\} \d+/);
  });
});
