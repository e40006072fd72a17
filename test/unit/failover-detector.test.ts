/** DownDetector's quorum rule and elect's choice, on plain inputs (no servers: pure decision logic). */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { DownDetector } from '../../dashboard/failover/detector.js';
import { candidateFromInfo, pickReplica } from '../../dashboard/failover/elect.js';
import type { ReachabilityReport } from '../../shared/model/reachability.js';
import { parseInfo } from '../../dashboard/redis/admin.js';

const M = '127.0.0.1:7000';

function report(proxyId: string, ok: boolean, failingForMs: number): ReachabilityReport {
  return { proxyId, at: new Date().toISOString(), servers: { [M]: { ok, lastOkAt: null, failingForMs } } };
}

function assess(d: DownDetector, reports: ReachabilityReport[], live: string[]) {
  d.proxyReports(reports);
  return d.assess(1, M, live, new Map(reports.map((r) => [r.proxyId, r])));
}

describe('DownDetector', () => {
  it('needs the leader AND a strict majority of live proxies, each failing for downAfter', () => {
    const d = new DownDetector(1000);
    d.selfProbe(M, false, performance.now() - 2000);
    // 1 of 2 proxies: no majority.
    expect(assess(d, [report('a', false, 5000), report('b', true, 0)], ['a', 'b'])).toMatchObject({ down: false, downVotes: 1, quorum: 2 });
    // 2 of 3: majority.
    const d2 = new DownDetector(1000);
    d2.selfProbe(M, false, performance.now() - 2000);
    expect(assess(d2, [report('a', false, 5000), report('b', false, 5000), report('c', true, 0)], ['a', 'b', 'c'])).toMatchObject({ down: true, downVotes: 2, quorum: 2 });
  });

  it('the leader reaching the master vetoes every proxy vote', () => {
    const d = new DownDetector(1000);
    d.selfProbe(M, true, performance.now());
    expect(assess(d, [report('a', false, 5000), report('b', false, 5000)], ['a', 'b'])).toMatchObject({ down: false, downVotes: 2, selfOk: true });
  });

  it('votes too young, from dead proxies, or missing do not count; no live proxy means no failover', () => {
    const d = new DownDetector(1000);
    d.selfProbe(M, false, performance.now() - 2000);
    expect(assess(d, [report('a', false, 100), report('b', false, 100)], ['a', 'b']).down).toBe(false);
    const d2 = new DownDetector(1000);
    d2.selfProbe(M, false, performance.now() - 2000);
    expect(assess(d2, [report('gone', false, 5000)], ['a']).downVotes).toBe(0);
    expect(assess(d2, [], []).down).toBe(false);
  });

  it('the leader failing for less than downAfter is not enough', () => {
    const d = new DownDetector(1000);
    d.selfProbe(M, false, performance.now());
    expect(assess(d, [report('a', false, 5000)], ['a']).down).toBe(false);
  });
});

describe('elect', () => {
  const info = (text: string) => parseInfo(`# Replication\r\n${text.split('\n').join('\r\n')}\r\n`);
  it('picks the highest offset among replicas of the failed master heard from within maxLag', () => {
    const a = candidateFromInfo('r1', info('role:slave\nmaster_host:127.0.0.1\nmaster_port:7000\nmaster_link_status:down\nmaster_link_down_since_seconds:6\nslave_repl_offset:100'), M, 20_000);
    const b = candidateFromInfo('r2', info('role:slave\nmaster_host:127.0.0.1\nmaster_port:7000\nmaster_link_status:down\nmaster_link_down_since_seconds:6\nslave_repl_offset:250'), M, 20_000);
    const late = candidateFromInfo('r3', info('role:slave\nmaster_host:127.0.0.1\nmaster_port:7000\nmaster_link_status:down\nmaster_link_down_since_seconds:60\nslave_repl_offset:900'), M, 20_000);
    const other = candidateFromInfo('r4', info('role:slave\nmaster_host:127.0.0.1\nmaster_port:7001\nmaster_link_status:up\nmaster_last_io_seconds_ago:0\nslave_repl_offset:999'), M, 20_000);
    expect([a.eligible, b.eligible, late.eligible, other.eligible]).toEqual([true, true, false, false]);
    expect(late.why).toMatch(/maxLag/);
    expect(pickReplica([a, b, late, other])?.addr).toBe('r2');
    expect(pickReplica([late, other])).toBeNull();
  });
});
