// The bot for the load: an AgentStream (or Twilio Media Streams) WebSocket server in the bench's own process that
// sends every caller chunk straight back, so the bridge carries audio both ways on every call (as src/example-bot does,
// without its parsing).
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { HOST } from './ports.js';

/** How both protocols' media messages from the bridge begin. */
const MEDIA_PREFIX = '{"event":"media"';

export interface EchoBot {
  readonly url: string;
  close(): Promise<void>;
}

export async function startEchoBot(): Promise<EchoBot> {
  const server = new WebSocketServer({ host: HOST, port: 0, path: '/media' });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.on('connection', (ws) => {
    ws.on('message', (data: Buffer, isBinary) => {
      // A media message goes back as it came, unparsed: both protocols take a media message with more fields than a
      // bot sends (stream ids, chunk, timestamp, track), and a bot far away costs this machine nothing, so the load
      // generator should cost it little. Everything else (connected, start, dtmf, mark, stop) is not answered.
      if (!isBinary && data.length > MEDIA_PREFIX.length && data.toString('latin1', 0, MEDIA_PREFIX.length) === MEDIA_PREFIX) ws.send(data, { binary: false });
    });
    ws.on('error', () => ws.terminate());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://${HOST}:${port}/media`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
