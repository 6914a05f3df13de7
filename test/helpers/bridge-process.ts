// Runs the built bridge (dist/main.js) as its own process, as `npm start` does, on free loopback ports: for signals,
// exit codes and process-wide resource counts. test/global-setup.ts builds dist/ first.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { BridgeConfigInput } from '../../src/config/index.js';
import { Waiters } from './waiters.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
/** The V8 flags `npm start` and docker/Dockerfile run the bridge with (see there). */
export const BRIDGE_NODE_FLAGS = ['--max-semi-space-size=16'];

type Address = { host: string; port: number };

export class BridgeProcess {
  /** Parsed JSON log lines from stdout. */
  readonly logs: Array<Record<string, unknown>> = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiters = new Waiters();

  private constructor(
    private readonly child: ChildProcess,
    dir: string,
  ) {
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.stderr += `${line}\n`;
        }
      }
      this.#waiters.wake();
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => {
      rmSync(dir, { recursive: true, force: true });
      this.#waiters.wake();
    });
  }

  /** Starts the bridge with `config` (ports 0 unless given) and resolves once it logs that it has started; `env` adds to
   * this process's environment (NODE_OPTIONS there reaches the media worker threads too, unlike `nodeArgs`). */
  static async start(config: BridgeConfigInput, nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ bridge: BridgeProcess; sip: { udp: Address; tcp: Address }; httpPort: number }> {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-process-'));
    const file = join(dir, 'bridge.yaml');
    writeFileSync(
      file,
      stringify({
        ...config,
        sip: { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 }, ...config.sip },
        http: { host: '127.0.0.1', port: 0, ...config.http },
        media: { address: '127.0.0.1', rtpPorts: { min: 30000, max: 39999 }, ...config.media },
        log: { level: 'info', ...config.log },
        // As in the in-process helper: a loaded test machine must not make the bridge refuse calls as overloaded.
        limits: { maxClockLagMs: 0, maxEventLoopUtilization: 1, ...config.limits },
      }),
    );
    const child = spawn(process.execPath, [...BRIDGE_NODE_FLAGS, ...nodeArgs, MAIN, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const bridge = new BridgeProcess(child, dir);
    try {
      const started = await bridge.waitForLog('bridge started', 10_000);
      return { bridge, sip: started.sip as { udp: Address; tcp: Address }, httpPort: started.http as number };
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Ends the process at once (test cleanup); resolves when it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** The first log line whose `msg` is `msg`, once it has been written. */
  waitForLog(msg: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const failure = () => `bridge process: no log "${msg}" within ${timeoutMs} ms (exit ${this.child.exitCode}); stderr:\n${this.stderr}`;
    return this.#waiters.find(
      () => {
        const found = this.logs.find((line) => line.msg === msg);
        // A bridge that has exited writes no more.
        if (!found && this.child.exitCode !== null) throw new Error(failure());
        return found;
      },
      timeoutMs,
      failure,
    );
  }
}
