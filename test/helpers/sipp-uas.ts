// Runs SIPp as a trunk that answers our INVITEs (a UAS scenario from test/sipp/) on a free loopback port.
import { createSocket } from 'node:dgram';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { runSipp, type SippResult } from './sipp.js';

export interface SippUas {
  readonly port: number;
  /** The trunk's URI for DialRequest.proxy. */
  readonly proxy: string;
  /** SIPp's run, once it has exited. */
  readonly result: Promise<SippResult>;
}

/** Starts SIPp with `test/sipp/<name>.xml` and resolves once it listens. */
export async function startSippUas(name: string, transport: 'udp' | 'tcp', timeoutMs = 15_000): Promise<SippUas> {
  const port = await freePort();
  const file = fileURLToPath(new URL(`../sipp/${name}.xml`, import.meta.url));
  const result = runSipp({
    scenario: { file },
    transport: transport === 'udp' ? 'u1' : 't1',
    target: { host: '127.0.0.1', port },
    timeoutMs,
    extraArgs: ['-p', String(port)],
  });
  const deadline = Date.now() + 5000;
  while (!(await inUse(port, transport))) {
    if (Date.now() > deadline) throw new Error(`SIPp did not listen on ${transport} ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { port, proxy: `sip:127.0.0.1:${port};transport=${transport}`, result };
}

/** A port free for both UDP and TCP on 127.0.0.1. */
async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
    await new Promise((resolve) => server.close(resolve));
    if (!(await inUse(port, 'udp'))) return port;
  }
}

/** Whether something is bound there: our own bind fails. */
function inUse(port: number, transport: 'udp' | 'tcp'): Promise<boolean> {
  return new Promise((resolve) => {
    if (transport === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(true));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(false)));
    } else {
      const server = net.createServer();
      server.once('error', () => resolve(true));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
    }
  });
}
