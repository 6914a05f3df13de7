// The bot WebSocket session on a real socket: what it does with messages it cannot use, and how it reports closes.
import { afterEach, describe, expect, it } from 'vitest';
import { BotSession } from '../../src/bot/index.js';
import { TestBot } from '../helpers/bot.js';
import { testLogger } from '../helpers/bridge.js';

let bot: TestBot | undefined;
afterEach(async () => bot?.close());

async function connected(maxMessageBytes = 1024) {
  bot = await TestBot.start();
  const session = await BotSession.connect({ url: new URL(bot.url), connectTimeoutMs: 1000, retries: 0, maxMessageBytes, pingIntervalMs: 0, log: testLogger() });
  const conn = await bot.connection(0);
  return { session, conn };
}

describe('bot session', () => {
  it('counts and ignores messages it cannot use, and keeps acting on good ones', async () => {
    const { session, conn } = await connected();
    const marks: string[] = [];
    session.on('mark', (name) => marks.push(name));
    for (const text of ['{oops', '{"event":"media","media":{"payload":"%%%"}}', '{"event":"hold"}', '{"event":"dance"}']) conn.ws.send(text);
    conn.ws.send(Buffer.from([0]), { binary: true });
    conn.ws.send(JSON.stringify({ event: 'media', media: { payload: Buffer.alloc(2000).toString('base64') } }));
    conn.send({ event: 'mark', mark: { name: 'still-here' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(session.rejected).toEqual({ invalid: 3, oversize: 1, unknownEvent: 2 });
    expect(marks).toEqual(['still-here']);
    session.close();
  });

  it('tells a clean close from a dropped connection', async () => {
    const clean = await connected();
    const info = new Promise((resolve) => clean.session.once('closed', resolve));
    clean.conn.ws.close(1000, 'bye');
    expect(await info).toMatchObject({ byBot: true, clean: true, code: 1000 });
    await bot!.close();

    const dropped = await connected();
    const dropInfo = new Promise((resolve) => dropped.session.once('closed', resolve));
    dropped.conn.ws.terminate();
    expect(await dropInfo).toMatchObject({ byBot: true, clean: false, code: 1006 });
  });
});
