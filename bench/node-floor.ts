// The floor step's two processes: what any Node process pays to move the bridge's packets and messages, with none
// of the bridge's work. `endpoint N BOT_URL`: N UDP sockets on the bridge's RTP ports and N WebSockets to the bot;
// every 20 ms each socket sends a 172-byte packet to the callers' port, every 5th packet a socket receives sends a
// 100 ms media message (the bridge's size at 8 kHz) and every message from the bot is parsed as JSON. `callers N`:
// one UDP socket on the callers' port that never reads and sends each endpoint socket 172 bytes every 20 ms, as
// SIPp's rtp_stream does. Each prints "ready" once set up and runs until killed.
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { BRIDGE_RTP, CALLER_MEDIA_BASE, HOST } from './ports.js';

const FRAME_MS = 20;
const PACKET = Buffer.alloc(172, 0xd5);
PACKET[0] = 0x80;
PACKET[1] = 8;
const PACKETS_PER_MESSAGE = 5;
const MEDIA_MESSAGE = `{"event":"media","sequence_number":"1","stream_sid":"floor","media":{"chunk":"1","timestamp":"100","payload":"${Buffer.alloc(1600, 0x55).toString('base64')}"}}`;

const portOf = (n: number) => BRIDGE_RTP.min + 2 * n;

/** Calls `tick` every FRAME_MS on a drift-free schedule, as the bridge's clock does. */
function every20ms(tick: () => void): void {
  let next = performance.now() + FRAME_MS;
  const fire = () => {
    tick();
    next += FRAME_MS;
    setTimeout(fire, Math.max(0, next - performance.now()));
  };
  setTimeout(fire, FRAME_MS);
}

async function bound(port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, HOST, () => resolve());
  });
  return socket;
}

async function endpoint(calls: number, botUrl: string): Promise<void> {
  const sockets: Socket[] = [];
  for (let n = 0; n < calls; n++) {
    const ws = new WebSocket(botUrl);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.on('message', (data) => JSON.parse(data.toString()));
    const socket = await bound(portOf(n));
    let received = 0;
    socket.on('message', () => {
      if (++received % PACKETS_PER_MESSAGE === 0) ws.send(MEDIA_MESSAGE);
    });
    sockets.push(socket);
  }
  every20ms(() => {
    for (const socket of sockets) socket.send(PACKET, CALLER_MEDIA_BASE, HOST);
  });
}

async function callers(calls: number): Promise<void> {
  const socket = await bound(CALLER_MEDIA_BASE);
  // SIPp never reads this port: what the endpoint sends piles up and is dropped by the kernel. dgram always reads,
  // so reading is stopped on its handle (not public API; should it go, this socket reads and costs this process).
  (socket as unknown as { _handle?: { recvStop?: () => void } })._handle?.recvStop?.();
  every20ms(() => {
    for (let n = 0; n < calls; n++) socket.send(PACKET, portOf(n), HOST);
  });
}

const [role, count, botUrl] = process.argv.slice(2);
const calls = Number(count);
const ready = role === 'endpoint' && botUrl ? endpoint(calls, botUrl) : role === 'callers' ? callers(calls) : Promise.reject(new Error(`usage: node-floor.js endpoint N BOT_URL | callers N`));
ready.then(
  () => process.stdout.write('ready\n'),
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  },
);
