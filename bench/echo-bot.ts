// The bot for the load: an AgentStream (or Twilio Media Streams) WebSocket server in the bench's own process that
// sends every caller chunk straight back, so the bridge carries audio both ways on every call (as src/example-bot does).
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { HOST } from './ports.js';

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
    let streamSid = '';
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { event?: string; stream_sid?: string; streamSid?: string; media?: { payload?: string } };
      if (message.event === 'start') streamSid = message.stream_sid ?? message.streamSid ?? '';
      else if (message.event === 'media' && message.streamSid !== undefined) ws.send(JSON.stringify({ event: 'media', streamSid, media: { payload: message.media?.payload ?? '' } }));
      else if (message.event === 'media') ws.send(JSON.stringify({ event: 'media', stream_sid: streamSid, media: { payload: message.media?.payload ?? '' } }));
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
