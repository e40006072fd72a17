/**
 * How many CPUs this process may use, for `workers: auto`: os.availableParallelism() (the CPU affinity mask),
 * capped by a cgroup CPU quota when one is set (a container with a CPU limit: Kubernetes `limits.cpu`), so a
 * proxy limited to 2 CPUs on a 64-core node starts 2 workers, not 64.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/** CPU quota in CPUs (e.g. 1.5), or null when none is set or it cannot be read. */
export function cgroupCpuQuota(root = '/sys/fs/cgroup'): number | null {
  // cgroup v2: "max 100000" (no limit) or "<quota> <period>".
  const v2 = read(`${root}/cpu.max`);
  if (v2 !== null) {
    const [quota, period] = v2.split(/\s+/);
    if (quota === undefined || quota === 'max') return null;
    const q = Number(quota);
    const p = Number(period);
    return q > 0 && p > 0 ? q / p : null;
  }
  // cgroup v1: cfs_quota_us is -1 without a limit.
  const q = Number(read(`${root}/cpu/cpu.cfs_quota_us`) ?? NaN);
  const p = Number(read(`${root}/cpu/cpu.cfs_period_us`) ?? NaN);
  return q > 0 && p > 0 ? q / p : null;
}

export function availableCpus(root?: string): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const quota = cgroupCpuQuota(root);
  return quota === null ? n : Math.max(1, Math.min(n, Math.ceil(quota)));
}
