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

export function readCpu(pid: number): CpuReading {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { atMs: performance.now(), cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
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
