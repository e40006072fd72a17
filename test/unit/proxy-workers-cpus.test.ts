/** `workers: auto` = CPUs, capped by a cgroup CPU quota (v2 cpu.max, v1 cfs_quota_us/cfs_period_us). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { autoWorkers, availableCpus, cgroupCpuQuota } from '../../proxy/workers/cpus.js';
import { loadProxyConfig } from '../../proxy/config/load.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function cgroup(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'redslot-cgroup-'));
  dirs.push(root);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text + '\n');
  }
  return root;
}

describe('worker count from the CPU quota', () => {
  it('reads cgroup v2 cpu.max', () => {
    expect(cgroupCpuQuota(cgroup({ 'cpu.max': '150000 100000' }))).toBe(1.5);
    expect(cgroupCpuQuota(cgroup({ 'cpu.max': 'max 100000' }))).toBeNull();
  });

  it('reads cgroup v1 cfs quota and period', () => {
    expect(cgroupCpuQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '200000', 'cpu/cpu.cfs_period_us': '100000' }))).toBe(2);
    expect(cgroupCpuQuota(cgroup({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }))).toBeNull();
    expect(cgroupCpuQuota(cgroup({}))).toBeNull();
  });

  it('caps the CPU count by the quota (rounded up), never below 1', () => {
    const n = os.availableParallelism();
    expect(availableCpus(cgroup({}))).toBe(n);
    expect(availableCpus(cgroup({ 'cpu.max': '50000 100000' }))).toBe(1);
    expect(availableCpus(cgroup({ 'cpu.max': `${(n + 8) * 100000} 100000` }))).toBe(n);
    if (n >= 2) expect(availableCpus(cgroup({ 'cpu.max': '150000 100000' }))).toBe(2);
  });

  it('workers: auto is one per CPU given to the proxy (quota, narrowed mask), else one fewer than the machine has, at least one', () => {
    const n = os.availableParallelism();
    // The whole machine (no quota, mask = every CPU): one spare core.
    expect(autoWorkers(cgroup({}), n)).toBe(Math.max(1, n - 1));
    // A quota: those CPUs are the proxy's own.
    expect(autoWorkers(cgroup({ 'cpu.max': '50000 100000' }), n)).toBe(1);
    if (n >= 2) expect(autoWorkers(cgroup({ 'cpu.max': '200000 100000' }), n)).toBe(2);
    // A mask narrower than the machine (taskset, cpuset): every CPU in it.
    expect(autoWorkers(cgroup({}), n + 1)).toBe(n);
    // The config's default and an explicit `auto` resolve to it; a number is taken as it is.
    expect(loadProxyConfig({ env: {} }).workers).toBe(autoWorkers());
    expect(loadProxyConfig({ env: {}, overrides: { workers: 'auto' } }).workers).toBe(autoWorkers());
    expect(loadProxyConfig({ env: {}, overrides: { workers: 2 } }).workers).toBe(2);
  });
});
