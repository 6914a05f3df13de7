// Every process the bench starts is recorded here, so that each one is ended by its PID when its step ends,
// fails or runs out of time, and when the bench itself exits or is interrupted.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Started {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  /** The last few KB the process wrote to stderr (always read, so a chatty process never blocks on the pipe). */
  stderr(): string;
  /** Sends `signal`, then SIGKILL after `graceMs` if the process is still there; resolves once it is gone. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const running = new Map<number, Started>();
const STDERR_KEPT = 8000;

export function start(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Started {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  if (child.pid === undefined) throw new Error(`cannot start ${name} (${command}): is it installed?`);
  const pid = child.pid;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(pid);
      resolve({ code, signal });
    }),
  );
  // An 'error' after spawn (e.g. a failed kill) must not crash the bench.
  child.on('error', () => {});
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT)));
  const started: Started = {
    name,
    pid,
    child,
    exited,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM', graceMs = 3000) {
      if (!running.has(pid)) return;
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
  running.set(pid, started);
  return started;
}

/** SIGKILL for every process still running; synchronous, so it also works from an 'exit' handler. */
export function killAll(): void {
  for (const { child } of running.values()) child.kill('SIGKILL');
}

/** Processes started and not yet exited, for the final check that none is left behind. */
export function stillRunning(): Array<{ name: string; pid: number }> {
  return [...running.values()].map(({ name, pid }) => ({ name, pid }));
}

process.on('exit', killAll);

/** Rejects with "`what` took longer than `ms` ms" if `work` has not settled by then. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
