// Runs Debian's rtpengine daemon (userspace forwarding) on loopback for a test file, and asks it what it holds.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import net from 'node:net';
import { Client, type NgResponse } from 'rtpengine-client';

export interface RtpengineDaemon {
  readonly ngPort: number;
  readonly portMin: number;
  readonly portMax: number;
  /** Call-IDs rtpengine still holds. */
  calls(): Promise<string[]>;
  command(name: 'delete' | 'query', params: Record<string, unknown>): Promise<NgResponse>;
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * `interfaces`: rtpengine's `--interface` values (default one unnamed, `127.0.0.1`); e.g. `external/127.0.0.2` and
 * `internal/127.0.0.1` as in production, where each call's `direction` picks the side.
 */
export async function startRtpengine(interfaces: readonly string[] = ['127.0.0.1']): Promise<RtpengineDaemon> {
  const ngPort = await freeUdpPort();
  const portMin = 30_000 + 200 * Math.floor(Math.random() * 40);
  const portMax = portMin + 199;
  const child: ChildProcess = spawn(
    'rtpengine',
    [
      '--foreground',
      '--log-stderr',
      '--table=-1',
      ...interfaces.map((i) => `--interface=${i}`),
      `--listen-ng=127.0.0.1:${ngPort}`,
      // Its CLI and HTTP ports (2224, 2225 by default) would clash with any other rtpengine on the machine.
      `--listen-cli=127.0.0.1:${await freeTcpPort()}`,
      `--listen-http=127.0.0.1:${await freeTcpPort()}`,
      `--port-min=${portMin}`,
      `--port-max=${portMax}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const client = new Client({ localAddress: '127.0.0.1', timeout: 300 });
  client.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await client.ping(ngPort, '127.0.0.1')).result === 'pong') break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      client.close();
      child.kill('SIGKILL');
      await exited;
      throw new Error(`rtpengine did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ngPort,
    portMin,
    portMax,
    async calls() {
      return (await client.list(ngPort, '127.0.0.1')).calls ?? [];
    },
    command: (name, params) => client[name](ngPort, '127.0.0.1', params),
    async stop() {
      client.close();
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    },
  };
}
