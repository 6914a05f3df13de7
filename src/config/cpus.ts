// How many CPUs the process may really use: Node counts the CPUs it may be scheduled on, not a container's CPU quota
// (compose `cpus:`, `docker run --cpus`, a Kubernetes CPU limit), which Linux enforces through the cgroup.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text, or undefined when there is none (tests pass their own). */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The CPU quota of the process's cgroup in CPUs (1.5 = one and a half), or undefined when there is none. cgroup v2:
 * `cpu.max` ("200000 100000", or "max 100000" for none) of the group /proc/self/cgroup names; v1: cpu.cfs_quota_us
 * over cpu.cfs_period_us (-1 for none).
 */
export function cpuQuota(read: ReadText = readText): number | undefined {
  const groups = read('/proc/self/cgroup') ?? '';
  const v2 = /^0::(.*)$/m.exec(groups)?.[1]?.trim();
  if (v2 !== undefined) {
    const max = read(`/sys/fs/cgroup${v2 === '/' ? '' : v2}/cpu.max`) ?? read('/sys/fs/cgroup/cpu.max');
    if (max !== undefined) {
      const [quota, period] = max.trim().split(/\s+/);
      return ratio(quota, period);
    }
  }
  for (const dir of ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu']) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    if (quota !== undefined) return ratio(quota.trim(), read(`${dir}/cpu.cfs_period_us`)?.trim());
  }
  return undefined;
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0 ? q / p : undefined;
}

/** The CPUs the process may use: the CPUs it may run on, capped by its cgroup's quota (rounded up; at least 1). */
export function usableCpus(read: ReadText = readText, cpus = availableParallelism()): number {
  const quota = cpuQuota(read);
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
}
