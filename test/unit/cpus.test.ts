// The CPUs media workers default to: the CPUs the process may run on, capped by a container's cgroup CPU quota.
import { describe, expect, it } from 'vitest';
import { cpuQuota, usableCpus } from '../../src/config/cpus.js';

const files = (entries: Record<string, string>) => (path: string) => entries[path];

describe('cpuQuota', () => {
  it("reads cgroup v2's cpu.max of the process's group", () => {
    expect(cpuQuota(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '200000 100000\n' }))).toBe(2);
    expect(cpuQuota(files({ '/proc/self/cgroup': '0::/system.slice/bridge.service\n', '/sys/fs/cgroup/system.slice/bridge.service/cpu.max': '150000 100000' }))).toBe(1.5);
  });

  it('says none for "max", for no cgroup files, and for garbage', () => {
    expect(cpuQuota(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
    expect(cpuQuota(files({}))).toBeUndefined();
    expect(cpuQuota(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'lots\n' }))).toBeUndefined();
  });

  it('reads cgroup v1 cfs quota over period, -1 being none (also beside a v2 line of a hybrid hierarchy)', () => {
    const v1 = { '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n0::/docker/abc\n', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n' };
    expect(cpuQuota(files({ ...v1, '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000\n' }))).toBe(0.5);
    expect(cpuQuota(files({ ...v1, '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n' }))).toBeUndefined();
  });
});

describe('usableCpus', () => {
  const quota = (cpuMax: string) => files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': cpuMax });

  it('is the CPUs the process may run on without a quota, the quota rounded up with one, never more than the CPUs', () => {
    expect(usableCpus(files({}), 16)).toBe(16);
    expect(usableCpus(quota('200000 100000'), 16)).toBe(2);
    expect(usableCpus(quota('150000 100000'), 16)).toBe(2);
    expect(usableCpus(quota('50000 100000'), 16)).toBe(1);
    expect(usableCpus(quota('800000 100000'), 4)).toBe(4);
  });
});
