// A bridge transfer with rtpengine facing the carrier: the agent leg gets an rtpengine session of its own, the
// caller's and the agent's audio both pass through rtpengine and are joined in the bridge; both sessions are deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { bridgeToAgent, TestAgent } from '../helpers/agent.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { answeredCall } from '../helpers/carrier.js';
import { startRtpengine, type RtpengineDaemon } from '../helpers/rtpengine.js';
import { freeUdpPort } from '../helpers/sipp-trunk.js';

const root = process.getuid?.() === 0;
if (!root) console.warn('skipping rtpengine bridge-transfer tests: the rtpengine daemon needs root');

let rtpengine: RtpengineDaemon;
let bot: TestBot;
let bridge: Bridge;
let sipUdp: number;

beforeAll(async () => {
  if (!root) return;
  rtpengine = await startRtpengine();
  bot = await TestBot.start();
  sipUdp = await freeUdpPort();
  bridge = await startTestBridge({
    sip: { udp: { host: '127.0.0.1', port: sipUdp }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 500 } },
    bot: { defaultUrl: bot.url },
    media: { relay: 'rtpengine', rtpengine: { host: '127.0.0.1', port: rtpengine.ngPort, localAddress: '127.0.0.1' } },
    transfer: { allowedTargets: ['^sip:agent-[a-z0-9]+@127\\.0\\.0\\.1:\\d+$'] },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await rtpengine?.stop();
});

const inRelayPorts = (port: number) => port >= rtpengine.portMin && port <= rtpengine.portMax;

describe.skipIf(!root)('bridge transfer through rtpengine', () => {
  it("the agent's INVITE offers an rtpengine port, audio flows both ways through it, and both sessions are deleted", async () => {
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall({ host: '127.0.0.1', port: bridge.sip.tcp!.port }, bot, 'rtpengine-bridge');
    try {
      expect(inRelayPorts(call.bridgeRtp.port)).toBe(true);
      const sessions = async () => (await rtpengine.calls()).length;
      expect(await sessions()).toBe(1);
      const bridging = bridgeToAgent(call, agent);
      await agent.sip.waitFor((m) => m.kind === 'request' && m.method === 'INVITE', 'INVITE');
      // The agent's own session beside the caller's.
      expect(await sessions()).toBe(2);
      await bridging;
      expect(inRelayPorts(agent.bridgeRtp.port)).toBe(true);
      await waitForIdle(bridge);
      for (let i = 0; i < 100 && (await sessions()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await sessions()).toBe(0);
    } finally {
      call.close();
      agent.close();
    }
  });
});
