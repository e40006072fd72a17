/**
 * The split's knobs as a dashboard config section (`split:`, dashboard/migration/split/config.ts): defaults as
 * the runner had them, operator spellings and env names, errors that name the knob, and the way to the runner.
 */
import { describe, expect, it } from 'vitest';
import { loadDashboardConfig, parseDashboardConfig } from '../../dashboard/config.js';
import { dashboardOptionsFromConfig } from '../../dashboard/main.js';
import { DEFAULT_SPLIT_KNOBS } from '../../dashboard/migration/split/context.js';

const base = { coordinator: 'memory://x', token: 'operator-token-123' };
const bad = (split: Record<string, unknown>) => () => parseDashboardConfig({ ...base, split });

describe('split config section', () => {
  it('defaults to the values the runner used before it was configurable', () => {
    expect(parseDashboardConfig(base).split).toEqual({ lagBytes: 256 * 1024, pollMs: 20, lockTimeoutMs: 5000, purgeBatchKeys: 500, purgePauseMs: 1, retryMs: 1000, replicaTimeoutMs: 600_000 });
    expect(DEFAULT_SPLIT_KNOBS).toEqual({ ...parseDashboardConfig(base).split, stepDelayMs: 0 });
  });

  it('reads the operator spellings from the file, env and flags and hands them to the split runner', () => {
    const cfg = loadDashboardConfig(
      { ...base, split: { lag: '1mb', lockTimeout: '2s', purgePause: 0 } },
      { REDSLOT_DASHBOARD_SPLIT__PURGE_BATCH_KEYS: '2000', REDSLOT_DASHBOARD_SPLIT__REPLICA_TIMEOUT: '90s' },
    );
    expect(cfg.split).toMatchObject({ lagBytes: 1024 * 1024, lockTimeoutMs: 2000, purgePauseMs: 0, purgeBatchKeys: 2000, replicaTimeoutMs: 90_000, pollMs: 20 });
    expect(dashboardOptionsFromConfig(cfg).options?.split).toEqual(cfg.split);
  });

  it('refuses a bad value with a message naming the knob, the value and what is allowed', () => {
    expect(bad({ purgeBatchKeys: 0 })).toThrow('split.purgeBatchKeys: expected an integer in [1, 100000] (got 0)');
    expect(bad({ lockTimeout: 'soon' })).toThrow('split.lockTimeout: expected a duration like 30s, 500ms, 30m (got "soon")');
    expect(bad({ lag: '1tb' })).toThrow('split.lag: expected a size like 512mb, 64kb (got "1tb")');
    expect(bad({ poll: -5 })).toThrow('split.poll: expected a duration like 30s, 500ms, 30m (got -5)');
    expect(() => parseDashboardConfig({ ...base, split: 3 })).toThrow('split: expected a mapping (got 3)');
  });
});
