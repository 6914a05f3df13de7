// A sample voicebot for trying the bridge: accepts AgentStream connections and echoes the caller's audio back.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.BOT_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.BOT_PORT ?? '5001' },
    path: { type: 'string', default: process.env.BOT_PATH ?? '/media' },
  },
});

const log = pino({ base: { service: 'example-bot' } });
const server = new WebSocketServer({ host: values.host, port: Number(values.port), path: values.path });

server.on('connection', (ws, req) => {
  let streamSid = '';
  let chunks = 0;
  log.info({ url: req.url }, 'bridge connected');
  ws.on('message', (data) => {
    let msg: { event?: string; stream_sid?: string; start?: unknown; media?: { payload?: string }; stop?: unknown };
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
      case 'stop':
        log.info({ stop: msg.stop, chunks }, 'stream stopped');
        break;
      default:
        log.info({ event: msg.event }, 'message');
    }
  });
  ws.on('close', () => log.info({ streamSid, chunks }, 'bridge disconnected'));
});

server.on('listening', () => log.info({ url: `ws://${values.host}:${values.port}${values.path}` }, 'example bot listening (echo)'));
const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
