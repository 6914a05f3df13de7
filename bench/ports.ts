// Where everything listens. Control ports are whatever the kernel has free; the media ranges are fixed, below the
// kernel's ephemeral range (32768-60999) and apart from the ranges the tests use (20000-39999), so that a test run
// on the same machine does not take them.
import { createSocket } from 'node:dgram';
import net from 'node:net';

export const HOST = '127.0.0.1';

/** The bridge's RTP ports (one even port per call). */
export const BRIDGE_RTP = { min: 10000, max: 13999 } as const;

/**
 * The callers' media: SIPp binds BASE and BASE+2 itself (unread), and with play_pcap_audio call n sends from
 * and is sent to BASE + 4n (`[auto_media_port+4]`); with rtp_stream every call uses BASE.
 */
export const CALLER_MEDIA_BASE = 14000;
export const MAX_CALLS = Math.floor((19999 - CALLER_MEDIA_BASE) / 4) - 1;

/** rtpengine's ports: four per call (RTP and RTCP on both legs); it skips the ones that are taken. */
export const RTPENGINE_PORTS = { min: 40000, max: 59999 } as const;

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether a UDP port on HOST can be bound now (another bench, or a test, may hold the fixed ranges above). */
export async function udpPortFree(port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, HOST, () => resolve(true));
  });
  if (bound) await new Promise<void>((resolve) => socket.close(() => resolve()));
  return bound;
}
