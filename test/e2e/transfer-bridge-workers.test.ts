// Bridge transfers with the calls' media in worker threads (media.workers: 2): the agent's port is bound, joined and
// closed in the worker that runs the caller's leg, through the worker messages; the audio never leaves that worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { bridgeToAgent, rfc4733Digits, TestAgent } from '../helpers/agent.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { answeredCall, callerToneReachesBot } from '../helpers/carrier.js';
import { inDialogRequest, okTo } from '../helpers/sip-messages.js';
import { freeUdpPort } from '../helpers/sipp-trunk.js';
import { statuses, transferMessage } from '../helpers/transfer.js';
import { WebhookServer } from '../helpers/webhook-server.js';

let bot: TestBot;
let webhook: WebhookServer;
let bridge: Bridge;
let sipUdp: number;

beforeAll(async () => {
  bot = await TestBot.start();
  webhook = await WebhookServer.start();
  sipUdp = await freeUdpPort();
  bridge = await startTestBridge({
    sip: { udp: { host: '127.0.0.1', port: sipUdp }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 500 } },
    bot: { defaultUrl: bot.url },
    media: { workers: 2 },
    transfer: { allowedTargets: ['^sip:agent-[a-z0-9]+@127\\.0\\.0\\.1:\\d+$'] },
    webhook: { url: webhook.url },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await webhook?.close();
});

const sipTcp = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });

describe('bridge transfer with media workers', () => {
  it('joins caller and agent inside the worker: audio both ways, then the agent hangs up', async () => {
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'workers-bridge');
    try {
      expect(bridge.stats().media.map((h) => h.name)).toEqual(['worker-0', 'worker-1']);
      await bridgeToAgent(call, agent);
      // The agent's counts come back from the worker with the caller's, in the report.
      const report = await webhook.reportFor('workers-bridge');
      expect(report.agent_media!.packets_in).toBeGreaterThan(50);
      expect(report.agent_media!.packets_out).toBeGreaterThan(50);
      await waitForIdle(bridge);
    } finally {
      call.close();
      agent.close();
    }
  });

  it('a busy agent leaves the caller with the bot; a second agent answers and key presses cross both ways', async () => {
    const busy = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const call = await answeredCall(sipTcp(), bot, 'workers-busy');
    try {
      call.conn.send(transferMessage(call, { to: busy.uri(), mode: 'bridge' }));
      await busy.invite();
      busy.respond(486, 'Busy Here');
      await call.conn.until((ms) => statuses(ms).some((s) => s.status === 'failed'), 5000, 'failed');
      await callerToneReachesBot(call, 'PCMA');
      call.conn.send(transferMessage(call, { to: agent.uri('agent-2'), mode: 'bridge', bot: 'listen' }));
      await agent.invite();
      await agent.answer();
      await call.conn.until((ms) => statuses(ms).some((s) => s.status === 'completed'), 5000, 'completed');
      await call.caller.sendDtmf(call.bridgeRtp, 96, ['3'], 100);
      await agent.rtp.sendDtmf(agent.bridgeRtp, 101, ['9'], 100);
      await new Promise((r) => setTimeout(r, 400));
      expect(rfc4733Digits(agent.rtp.received, 101)).toBe('3');
      expect(rfc4733Digits(call.caller.received, 96)).toBe('9');
      call.client.send(inDialogRequest('BYE', call.client, call.ok, 2));
      await call.client.response(200, 'BYE');
      agent.sip.send(okTo(await agent.sip.request('BYE')));
      await call.conn.waitForEvent('stop');
      await waitForIdle(bridge);
    } finally {
      call.close();
      busy.close();
      agent.close();
    }
  });
});
