// rtpengine as the reference relay: Debian's daemon forwarding in userspace (no kernel table), on loopback, its
// control ports free ones so that it runs beside any other rtpengine (tests start their own).
import { Client } from 'rtpengine-client';
import { HOST, RTPENGINE_PORTS, freeTcpPort, freeUdpPort } from './ports.js';
import { sleep, start, within, type Started } from './processes.js';

export interface RtpengineDaemon {
  readonly pid: number;
  readonly ngPort: number;
  stop(): Promise<void>;
}

export async function startRtpengine(): Promise<RtpengineDaemon> {
  const ngPort = await freeUdpPort();
  const daemon = start('rtpengine', 'rtpengine', [
    '--foreground',
    '--log-stderr',
    '--log-level=4',
    '--table=-1',
    `--interface=${HOST}`,
    `--listen-ng=${HOST}:${ngPort}`,
    `--listen-cli=${HOST}:${await freeTcpPort()}`,
    `--listen-http=${HOST}:${await freeTcpPort()}`,
    `--port-min=${RTPENGINE_PORTS.min}`,
    `--port-max=${RTPENGINE_PORTS.max}`,
  ]);
  await within(10_000, 'rtpengine start', answersPing(ngPort, daemon)).catch(async (err: Error) => {
    await daemon.stop('SIGKILL');
    throw new Error(`${err.message}: ${daemon.stderr()}`);
  });
  return { pid: daemon.pid, ngPort, stop: () => daemon.stop('SIGTERM', 3000) };
}

async function answersPing(ngPort: number, daemon: Started): Promise<void> {
  const client = new Client({ localAddress: HOST, timeout: 300 });
  client.on('error', () => {});
  try {
    for (;;) {
      try {
        if ((await client.ping(ngPort, HOST)).result === 'pong') return;
      } catch {
        // not listening yet
      }
      if (daemon.child.exitCode !== null) throw new Error(`rtpengine exited with ${daemon.child.exitCode}`);
      await sleep(100);
    }
  } finally {
    client.close();
  }
}
