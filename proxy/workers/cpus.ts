/**
 * How many CPUs this process may use: os.availableParallelism() (the CPU affinity mask), capped by a cgroup CPU
 * quota when one is set (a container with a CPU limit: Kubernetes `limits.cpu`), so a proxy limited to 2 CPUs on
 * a 64-core node counts 2, not 64. `workers: auto` is one fewer (autoWorkers).
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

/**
 * `workers: auto`. CPUs given to the proxy explicitly (a cgroup CPU quota, or an affinity mask narrower than the
 * machine: taskset, a cpuset) are its own: one worker each. On a machine it was given whole, it shares the cores
 * with the kernel's network stack and, often, Redis or the clients: one worker per CPU less one, at least one.
 * Measured on 2 CPUs (docs/performance.md, Workers): a second worker costs ~45 % more CPU per request at
 * pipeline 1 (half the batching per wake-up, two event loops preempting each other and the co-located
 * processes), so one process is faster there; the kernel's share of a proxy's work is over half its CPU per
 * request at pipeline 1, and Redis advises the same spare core for its io-threads.
 */
export function autoWorkers(root?: string, machineCpus: number = os.cpus().length): number {
  const n = availableCpus(root);
  const given = cgroupCpuQuota(root) !== null || n < machineCpus;
  return given ? n : Math.max(1, n - 1);
}
