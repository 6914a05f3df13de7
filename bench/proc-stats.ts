// What Linux's /proc says about a process and the machine: CPU time, resident memory, UDP drops.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { performance } from 'node:perf_hooks';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** A process's CPU time (all threads, user + system) at one moment. */
export interface CpuReading {
  readonly atMs: number;
  readonly cpuSeconds: number;
}

/** The whole process (all its threads), or with `tid` one of its threads. */
export function readCpu(pid: number, tid?: number): CpuReading {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { atMs: performance.now(), cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
}

/** Each thread's CPU time at one moment, by thread id, with its name (`MainThread`, `media-worker-0`, `V8Worker`...). */
export interface ThreadsReading {
  readonly atMs: number;
  readonly threads: ReadonlyMap<number, { readonly name: string; readonly cpuSeconds: number }>;
}

export function readThreads(pid: number): ThreadsReading {
  const threads = new Map<number, { name: string; cpuSeconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      threads.set(Number(tid), { name, cpuSeconds: readCpu(pid, Number(tid)).cpuSeconds });
    } catch {
      // the thread ended while we looked
    }
  }
  return { atMs: performance.now(), threads };
}

/** CPU between two readings by thread name (threads of one name summed; one started since counts from 0), % of one core, busiest first. */
export function threadPercents(before: ThreadsReading, after: ThreadsReading): Array<[name: string, percent: number]> {
  const seconds = (after.atMs - before.atMs) / 1000;
  const byName = new Map<string, number>();
  for (const [tid, { name, cpuSeconds }] of after.threads) {
    byName.set(name, (byName.get(name) ?? 0) + (100 * (cpuSeconds - (before.threads.get(tid)?.cpuSeconds ?? 0))) / seconds);
  }
  return [...byName].sort((a, b) => b[1] - a[1]);
}

/** CPU used between two readings, in % of one core. */
export function cpuPercent(before: CpuReading, after: CpuReading): number {
  return (100 * (after.cpuSeconds - before.cpuSeconds)) / ((after.atMs - before.atMs) / 1000);
}

export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** The highest RSS of a process, read once a second until stop(). */
export function watchRss(pid: number): { stop(): number } {
  let highest = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      highest = Math.max(highest, rssBytes(pid));
    } catch {
      // the process is gone: keep what was seen
    }
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      return highest;
    },
  };
}

/** Busy and total jiffies of all cores together (the first line of /proc/stat). */
export interface MachineReading {
  readonly busy: number;
  readonly total: number;
}

export function readMachine(): MachineReading {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

/** How busy the whole machine was between two readings, in % of one core (200 = both cores of two). */
export function machinePercent(before: MachineReading, after: MachineReading): number {
  return (100 * cpus().length * (after.busy - before.busy)) / Math.max(1, after.total - before.total);
}

/** The kernel's UDP counters for the whole network namespace (every process's sockets). */
export interface UdpCounters {
  readonly inErrors: number;
  readonly rcvbufErrors: number;
}

export function readUdpCounters(): UdpCounters {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/).map(Number);
  const value = (name: string) => values[names.indexOf(name)] ?? 0;
  return { inErrors: value('InErrors'), rcvbufErrors: value('RcvbufErrors') };
}

/** Datagrams the kernel dropped at this process's own UDP sockets (full receive buffer): the last column of /proc/net/udp. */
export function socketDrops(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed while we looked
    }
  }
  let drops = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 13 && inodes.has(fields[9]!)) drops += Number(fields[12]);
    }
  }
  return drops;
}

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly kernel: string;
}

export function describeMachine(): Machine {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return { cores: cpus().length, cpuModel: model?.[1]?.trim() ?? 'unknown', node: process.version, kernel: release() };
}
