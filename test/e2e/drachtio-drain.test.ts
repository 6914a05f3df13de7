// Two bridges on one drachtio-server, as a rolling restart has them: the one draining is offered no new calls (they
// go to the other, none gets 503), while the call it still holds gets its BYE and ends as usual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { expectSippPassed, placeCall } from '../helpers/carrier.js';
import { drachtioBinary, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { callScenario, runSipp, tracedMessages } from '../helpers/sipp.js';
import { sdpOffer } from '../helpers/sip-messages.js';

const binary = drachtioBinary();
const skip = 'missing' in binary ? `skipping drachtio-server tests: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

let server: DrachtioServer;
let botA: TestBot;
let botB: TestBot;
let bridgeA: Bridge | undefined;
let bridgeB: Bridge | undefined;

const startBridge = (bot: TestBot) =>
  startTestBridge({
    sip: { backend: 'drachtio', drachtio: { host: server.host, port: server.adminPort, secret: server.secret }, udp: false, tcp: false },
    bot: { defaultUrl: bot.url },
  });

beforeAll(async () => {
  if (skip) return;
  server = await startDrachtioServer();
  botA = await TestBot.start();
  botB = await TestBot.start();
});

afterAll(async () => {
  await bridgeA?.stop();
  await bridgeB?.stop();
  await botA?.close();
  await botB?.close();
  await server?.stop();
});

describe.skipIf(skip)('a bridge draining behind drachtio-server', () => {
  it('gets no new calls while its call in progress still ends on the caller BYE', async () => {
    const target = server.sip;
    // Only A is connected yet, so the first call is A's.
    bridgeA = await startBridge(botA);
    const held = await placeCall(botA, {
      scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'hangup', afterMs: 8000 } }) },
      transport: 'u1',
      target,
    });
    await held.conn.waitForEvent('start');
    bridgeB = await startBridge(botB);

    const drained = bridgeA.stop(20_000);
    const results = [];
    for (let i = 0; i < 6; i++) {
      results.push(await runSipp({ scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'hangup', afterMs: 100 } }) }, transport: 'u1', target, timeoutMs: 5000 }));
    }
    const finalStatus = (m: string[]) => m.find((x) => /^SIP\/2\.0 [2-6]\d\d/.test(x))?.split(/\r?\n/)[0];
    expect(results.map((r) => finalStatus(tracedMessages(r)))).toEqual(Array(6).fill('SIP/2.0 200 OK'));
    results.forEach(expectSippPassed);
    expect(botB.connections).toHaveLength(6);
    expect(botA.connections).toHaveLength(1);

    expectSippPassed(await held.sipp);
    await held.conn.waitForEvent('stop');
    expect(held.conn.stop!.stop.reason).toBe('callended');
    await drained;
    await waitForIdle(bridgeB);
  });
});
