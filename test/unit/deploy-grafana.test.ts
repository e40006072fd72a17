/**
 * deploy/grafana/redslot.json charts only metrics redslot exports.
 *
 * Every PromQL expression in the dashboard (panel targets and template variable queries) is reduced to its
 * metric identifiers (strings, label matchers, range selectors, grouping clauses and function calls removed)
 * and each one must be a name that proxy/metrics.ts (`proxyMetricNames()`) or dashboard/metrics/dashboard.ts
 * (`dashboardMetricNames()`) exports — read from those modules, never copied. `_bucket`, `_sum` and `_count`
 * are accepted only on histograms (known from the proxy's name list and the dashboard registry's TYPE lines).
 * The extractor is tested on its own, including the ways a query can go wrong.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDashboardMetrics, dashboardMetricNames } from '../../dashboard/metrics/dashboard.js';
import { createMigrationMetrics, migrationMetricNames } from '../../dashboard/metrics/migration.js';
import { proxyMetricNames } from '../../proxy/metrics.js';

type J = any;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GRAFANA = path.join(ROOT, 'deploy/grafana/redslot.json');

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan']);

/** Metric identifiers used by a PromQL expression. Throws on what it cannot account for. */
export function metricIdentifiers(expr: string): string[] {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range / subquery selectors (incl. $__rate_interval)
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping label lists
  e = e
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ' ') // leftover dashboard variables
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?\b/gi, ' '); // numbers and durations (offset 1h)
  const ids: string[] = [];
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const id = m[0];
    const after = e.slice(m.index! + id.length).trimStart();
    if (after.startsWith('(')) continue; // function call
    if (KEYWORDS.has(id.toLowerCase())) continue;
    if (/^\d/.test(id)) continue;
    ids.push(id);
  }
  return ids;
}

interface Known {
  names: Set<string>;
  histograms: Set<string>;
}

export function unknownMetrics(expr: string, known: Known): string[] {
  return metricIdentifiers(expr).filter((id) => {
    if (known.names.has(id)) return false;
    const m = /^(.*)_(bucket|sum|count)$/.exec(id);
    return !(m && known.histograms.has(m[1]!));
  });
}

function allExprs(dash: J): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const visit = (panels: J[]): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
      visit(p.panels);
    }
  };
  visit(dash.panels);
  for (const v of dash.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    // label_values(metric, label): the metric is the first argument.
    const lv = /^label_values\(\s*([^,)]+)/.exec(q ?? '');
    out.push({ where: `variable ${v.name}`, expr: lv ? lv[1]! : q });
  }
  return out;
}

const dash: J = JSON.parse(readFileSync(GRAFANA, 'utf8'));
let known: Known;

beforeAll(async () => {
  const names = new Set<string>(dashboardMetricNames());
  const histograms = new Set<string>();
  // The dashboard registry's own exposition says which of its metrics are histograms.
  const m = createDashboardMetrics();
  for (const line of (await m.registry.metrics()).split('\n')) {
    const t = /^# TYPE (\S+) histogram$/.exec(line);
    if (t) histograms.add(t[1]!);
  }
  m.registry.clear();
  // The migration engine registers its metrics on the dashboard's registry when the plugin loads.
  for (const n of migrationMetricNames()) names.add(n);
  const mm = createMigrationMetrics();
  for (const line of (await mm.registry.metrics()).split('\n')) {
    const t = /^# TYPE (\S+) histogram$/.exec(line);
    if (t) histograms.add(t[1]!);
  }
  const proxyNames = proxyMetricNames();
  for (const n of proxyNames) names.add(n);
  for (const n of proxyNames) if (proxyNames.includes(`${n}_bucket`)) histograms.add(n);
  known = { names, histograms };
});

describe('PromQL metric extraction', () => {
  it('finds metrics and ignores functions, labels, ranges, grouping, variables and numbers', () => {
    expect(
      metricIdentifiers(
        'histogram_quantile(0.99, sum by (pod, le) (rate(redslot_proxy_downstream_rq_duration_seconds_bucket{namespace=~"$namespace", x="a{b}"}[$__rate_interval])))',
      ),
    ).toEqual(['redslot_proxy_downstream_rq_duration_seconds_bucket']);
    expect(metricIdentifiers('max(a_total{x="y"} and on() (b == 1)) - min(c) or vector(0) > 0')).toEqual(['a_total', 'b', 'c']);
    expect(metricIdentifiers('sum(rate(x[5m] offset 1h)) / ignoring(le) group_left count(y) * 1e3')).toEqual(['x', 'y']);
  });

  it('flags a misspelled metric, a suffix on a non-histogram, and a metric nobody exports', () => {
    const k: Known = { names: new Set(['redslot_proxy_downstream_rq_total', 'redslot_x_duration_seconds']), histograms: new Set(['redslot_x_duration_seconds']) };
    expect(unknownMetrics('sum(rate(redslot_proxy_downstream_rq_totl[1m]))', k)).toEqual(['redslot_proxy_downstream_rq_totl']);
    expect(unknownMetrics('sum(redslot_proxy_downstream_rq_total_count)', k)).toEqual(['redslot_proxy_downstream_rq_total_count']);
    expect(unknownMetrics('rate(redslot_x_duration_seconds_bucket[1m]) + redslot_x_duration_seconds_count', k)).toEqual([]);
    expect(unknownMetrics('redis_up', k)).toEqual(['redis_up']);
  });
});

describe('deploy/grafana/redslot.json', () => {
  it('is an importable dashboard: datasource variable, unique ids, every target has a refId and an expr', () => {
    expect(dash.uid).toBe('redslot-overview');
    expect(typeof dash.schemaVersion).toBe('number');
    const vars = dash.templating.list.map((v: J) => v.name);
    expect(vars).toContain('datasource');
    const ids = dash.panels.map((p: J) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) {
      if (p.type === 'row') continue;
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        expect(t.refId, p.title).toMatch(/^[A-Z]$/);
        expect(typeof t.expr, p.title).toBe('string');
      }
    }
  });

  it('panels fit the 24-column grid without overlapping', () => {
    const cells = new Map<string, string>();
    for (const p of dash.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const k = `${x},${y}`;
          expect(cells.get(k), `${p.title} overlaps ${cells.get(k)}`).toBeUndefined();
          cells.set(k, p.title);
        }
      }
    }
  });

  it('every query scopes to the chosen namespace', () => {
    for (const { where, expr } of allExprs(dash).filter((x) => !x.where.startsWith('variable'))) {
      for (const id of metricIdentifiers(expr)) {
        // Each selector of a redslot metric carries the namespace matcher.
        const re = new RegExp(`${id}\\{[^}]*namespace=~"\\$namespace"`);
        expect(re.test(expr), `${where}: ${id} without {namespace=~"$namespace"}`).toBe(true);
      }
    }
  });

  it('covers ops/s by command, latency percentiles, connections, backend health, fencing and topology revision', () => {
    const exprs = allExprs(dash).map((x) => x.expr).join('\n');
    expect(exprs).toMatch(/sum by \(command\) \(rate\(redslot_proxy_downstream_rq_total\{/);
    expect(exprs).toMatch(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(redslot_proxy_downstream_rq_duration_seconds_bucket\{/);
    for (const m of ['redslot_proxy_downstream_cx_active', 'redslot_proxy_upstream_healthy', 'redslot_proxy_fenced', 'redslot_proxy_topology_revision']) {
      expect(exprs).toContain(`${m}{`);
    }
  });

  it('dashboard metrics: every redslot_dashboard_* the JSON uses is exported by dashboard/metrics/dashboard.ts', () => {
    const bad = allExprs(dash).flatMap(({ where, expr }) =>
      unknownMetrics(expr, known).filter((id) => !id.startsWith('redslot_proxy_')).map((id) => `${where}: ${id}`),
    );
    expect(bad).toEqual([]);
  });

  it('proxy metrics: every redslot_proxy_* the JSON uses is exported by proxy/metrics.ts', () => {
    const bad = allExprs(dash).flatMap(({ where, expr }) => unknownMetrics(expr, known).map((id) => `${where}: ${id}`));
    expect(bad).toEqual([]);
  });
});
