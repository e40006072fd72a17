/**
 * The proxy's admin HTTP API and metrics: health and readiness, the proxy document without secrets, and a
 * Prometheus scrape whose metric names are exactly those proxyMetricNames() promises (Grafana checks them).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { build } from '../../proxy/admin/app.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { ProxyCore } from '../../proxy/core.js';
import { proxyMetricNames } from '../../proxy/metrics.js';
import { createLogger } from '../../shared/log.js';
import { keysForEveryGroup, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
let io: Redis;
const base = () => `http://${c.proxy.adminAddr}`;

useProxyCluster(
  { groups: 2, overrides: { auth: { password: 'client-pw' }, backend: { password: '' } }, clients: 'ioredis', ioredis: { password: 'client-pw' } },
  (s) => ({ cluster: c, io } = s),
);

describe('admin HTTP', () => {
  it('/healthz and /readyz', async () => {
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', revision: 1 });
  });

  it('/readyz is 503 before any topology is applied', async () => {
    const core = new ProxyCore(loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0' } }), createLogger(), { defaultMetrics: false });
    const app = build({ proxy: core, addr: () => 'x:1', adminAddr: () => 'x:2' });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not ready', reason: 'no topology applied yet' });
    await app.close();
    await core.pool.close();
  });

  it('/api/v1/proxy shows config without secrets, topology, stats and backends', async () => {
    await io.set('admin:k', 'v');
    const doc = (await (await fetch(`${base()}/api/v1/proxy`)).json()) as Record<string, any>;
    expect(doc.config.auth.password).toBe('***');
    expect(JSON.stringify(doc)).not.toContain('client-pw');
    expect(doc.topology).toEqual({ revision: 1, loaded: true, drainingRequests: 0 });
    expect(doc.fenced).toBeNull();
    expect(doc.stats.clients).toBeGreaterThanOrEqual(1);
    expect(doc.addr).toBe(c.proxy.addr);
    expect(doc.backends.map((b: { addr: string }) => b.addr).sort()).toEqual(c.groups.map((g) => g.addr).sort());
    expect(doc.memory.heapUsed).toBeGreaterThan(0);
  });
});

describe('metrics', () => {
  it('counts commands by name, errors, latency, backends; names match proxyMetricNames()', async () => {
    const keys = keysForEveryGroup(c, 2, 'met:');
    for (const k of keys) await io.set(k, '1');
    await io.mget(...keys);
    await io.call('NOSUCHCMD').catch(() => {});
    await io.get('a').catch(() => {});
    await io.call('GET').catch(() => {});
    const text = await (await fetch(`${base()}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('redslot_proxy_downstream_rq_total{command="set"}')).toBeGreaterThanOrEqual(keys.length);
    expect(value('redslot_proxy_downstream_rq_total{command="mget"}')).toBe(1);
    expect(value('redslot_proxy_downstream_rq_total{command="unknown"}')).toBe(1);
    expect(value('redslot_proxy_downstream_rq_errors_total{command="get"}')).toBe(1);
    expect(value('redslot_proxy_downstream_rq_duration_seconds_count')).toBeGreaterThan(keys.length);
    expect(value('redslot_proxy_downstream_rq_duration_seconds_bucket{le="+Inf"}')).toBe(value('redslot_proxy_downstream_rq_duration_seconds_count'));
    for (const g of c.groups) {
      expect(value(`redslot_proxy_upstream_healthy{backend="${g.addr}"}`)).toBe(1);
      expect(value(`redslot_proxy_upstream_rq_total{backend="${g.addr}"}`)).toBeGreaterThan(0);
    }
    expect(value('redslot_proxy_topology_revision')).toBe(1);
    expect(value('redslot_proxy_fenced')).toBe(0);
    expect(value('redslot_proxy_downstream_cx_active')).toBeGreaterThanOrEqual(1);
    // Every series in the scrape is a name proxyMetricNames() lists, and every declared proxy metric is scraped.
    const known = new Set(proxyMetricNames());
    const scraped = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]!));
    for (const n of scraped) expect(known.has(n), n).toBe(true);
    for (const n of known) if (!n.includes('_process_') && !n.includes('_nodejs_')) expect(text, n).toContain(n);
    // Labels are bounded: command names come from the table only, never from client input.
    expect(text).not.toContain('nosuchcmd');
  });

  it('proxyMetricNames() lists every metric with the redslot_proxy_ prefix', () => {
    const names = proxyMetricNames();
    expect(names.length).toBeGreaterThan(20);
    for (const n of names) expect(n.startsWith('redslot_proxy_'), n).toBe(true);
    expect(names).toContain('redslot_proxy_downstream_rq_duration_seconds_bucket');
    expect(names).toContain('redslot_proxy_process_cpu_seconds_total');
  });
});
