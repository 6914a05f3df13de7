// A sample voicebot for trying the bridge: accepts AgentStream connections and echoes the caller's audio back.
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';

const USAGE = `usage: npm run example-bot -- [options]   (or: node dist/example-bot/main.js [options])
  --host HOST   address to listen on (default $BOT_HOST or 127.0.0.1; 0.0.0.0 for containers to reach it)
  --port PORT   port to listen on (default $BOT_PORT or 5001; 0 for any free port)
  --path PATH   WebSocket path the bridge dials (default $BOT_PATH or /media)
  --help, -h    prints this`;

function usageError(reason: string): never {
  process.stderr.write(`example-bot: ${reason}\n${USAGE}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      host: { type: 'string', default: process.env.BOT_HOST ?? '127.0.0.1' },
      port: { type: 'string', default: process.env.BOT_PORT ?? '5001' },
      path: { type: 'string', default: process.env.BOT_PATH ?? '/media' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  // parseArgs explains how to pass a positional that starts with "-": one sentence is enough here.
  usageError((err as Error).message.split('. ')[0]!);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) usageError(`--port "${values.port}" is not a port number`);

const log = pino({ base: { service: 'example-bot' } });
const server = new WebSocketServer({ host: values.host, port: Number(values.port), path: values.path });

server.on('connection', (ws, req) => {
  let streamSid = '';
  let chunks = 0;
  log.info({ url: req.url }, 'bridge connected');
  ws.on('message', (data) => {
    let msg: {
      event?: string;
      stream_sid?: string;
      start?: unknown;
      media?: { payload?: string };
      dtmf?: { digit?: string; duration?: string };
      stop?: unknown;
    };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      log.warn('ignored a message that is not JSON');
      return;
    }
    switch (msg.event) {
      case 'start':
        streamSid = msg.stream_sid ?? '';
        log.info({ start: msg.start }, 'stream started');
        break;
      case 'media':
        chunks++;
        ws.send(JSON.stringify({ event: 'media', stream_sid: streamSid, media: { payload: msg.media?.payload ?? '' } }));
        break;
      case 'dtmf':
        log.info({ digit: msg.dtmf?.digit, duration: msg.dtmf?.duration }, 'dtmf');
        break;
      case 'stop':
        log.info({ stop: msg.stop, chunks }, 'stream stopped');
        break;
      default:
        log.info({ event: msg.event }, 'message');
    }
  });
  ws.on('close', () => log.info({ streamSid, chunks }, 'bridge disconnected'));
});

server.on('listening', () => {
  const { port } = server.address() as AddressInfo;
  log.info({ url: `ws://${values.host}:${port}${values.path}` }, 'example bot listening (echo)');
});
const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
