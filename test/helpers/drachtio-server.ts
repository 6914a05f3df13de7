// Runs a private drachtio-server for a test file on free loopback ports: drachtio-server shares new INVITEs out
// round-robin among the applications connected to it, so two test files must never share one.
// test/global-setup.ts installs the binary (as root) and provides its path.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

export interface DrachtioServerOptions {
  readonly secret?: string;
  /** Admin port the applications connect to; a free one by default. */
  readonly adminPort?: number;
}

export interface DrachtioServer {
  readonly host: '127.0.0.1';
  readonly adminPort: number;
  readonly secret: string;
  /** Where drachtio-server takes SIP, over UDP and TCP. */
  readonly sip: { readonly host: '127.0.0.1'; readonly port: number };
  /** Its log so far. */
  log(): string;
  /** Resolves once `pattern` appears in its log. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Stops it and waits for it to exit; once. */
  stop(): Promise<void>;
}

/** The binary test/global-setup.ts found or installed, or why there is none (for a skip message). */
export function drachtioBinary(): { bin: string } | { missing: string } {
  return inject('drachtio');
}

export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function udpFree(port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  await new Promise<void>((resolve) => (bound ? socket.close(() => resolve()) : resolve()));
  return bound;
}

/** A port free for both TCP and UDP, for a SIP listener on both. */
async function freeSipPort(): Promise<number> {
  for (;;) {
    const port = await freeTcpPort();
    if (await udpFree(port)) return port;
  }
}

function config(adminPort: number, sipPort: number, secret: string): string {
  return `<drachtio>
  <admin port="${adminPort}" secret="${secret}">127.0.0.1</admin>
  <sip><contacts><contact>sip:127.0.0.1:${sipPort};transport=udp,tcp</contact></contacts></sip>
  <cdrs>false</cdrs>
  <logging><console/><sofia-loglevel>3</sofia-loglevel><loglevel>info</loglevel></logging>
</drachtio>
`;
}

/** Starts drachtio-server and waits until its admin and SIP listeners are up; retries once on a port taken meanwhile. */
export async function startDrachtioServer(options: DrachtioServerOptions = {}): Promise<DrachtioServer> {
  const found = drachtioBinary();
  if ('missing' in found) throw new Error(found.missing);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(found.bin, options);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function launch(bin: string, options: DrachtioServerOptions): Promise<DrachtioServer> {
  const secret = options.secret ?? 'cymru';
  const adminPort = options.adminPort ?? (await freeTcpPort());
  const sipPort = await freeSipPort();
  const dir = mkdtempSync(join(tmpdir(), 'drachtio-'));
  const file = join(dir, 'drachtio.conf.xml');
  writeFileSync(file, config(adminPort, sipPort, secret));
  const child: ChildProcess = spawn(bin, ['-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let waiters: Array<() => void> = [];
  const take = (d: Buffer) => {
    log = (log + d.toString()).slice(-200_000);
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  // Should the test worker exit without stop(), drachtio-server goes with it.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    process.off('exit', orphaned);
    for (const wake of waiters.splice(0)) wake();
  });

  const waitForLog = async (pattern: RegExp, timeoutMs = 5000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(log)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`drachtio-server exited; its log:\n${log}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`drachtio-server: no ${pattern} in its log within ${timeoutMs} ms:\n${log}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killer);
      }
      waiters = [];
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    // It logs this after its admin listener and SIP transports are up.
    await waitForLog(/Starting sofia event loop/, 10_000);
    if (/error|failed/i.test(log.split(/Starting sofia event loop/)[0]!)) throw new Error(`drachtio-server did not start cleanly:\n${log}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    host: '127.0.0.1',
    adminPort,
    secret,
    sip: { host: '127.0.0.1', port: sipPort },
    log: () => log,
    waitForLog,
    stop,
  };
}
