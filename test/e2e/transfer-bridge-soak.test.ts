// Bridge-transfer soak: 500 inbound calls, each transferred in bridge mode (bot stopped or listening) to an agent of
// its own, the agent busy, rung while the caller hangs up, or answered and the call then ended at random by the
// caller's BYE, the agent's BYE or DELETE; afterwards every report says how its transfer went, the metrics count them
// all, and the bridge holds no call, RTP port, clock listener, dialog or INVITE. SOAK_TRANSFER_CALLS changes the number
// of calls; SOAK_SEED replays a run (the seed is printed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { TestAgent } from '../helpers/agent.js';
import { tone } from '../helpers/audio.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { callApiClient, type CallApiClient } from '../helpers/call-api.js';
import { answeredCall, type AnsweredCall } from '../helpers/carrier.js';
import { seededRandom } from '../helpers/random.js';
import { inDialogRequest, okTo } from '../helpers/sip-messages.js';
import { freeUdpPort } from '../helpers/sipp-trunk.js';
import { statuses, transferMessage } from '../helpers/transfer.js';
import { WebhookServer } from '../helpers/webhook-server.js';

const CALLS = Number(process.env.SOAK_TRANSFER_CALLS ?? 500);
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const AT_ONCE = 10;
const TOKEN = 'bridge-soak-token';
const ENDINGS = ['busy', 'caller gone while ringing', 'caller BYE', 'agent BYE', 'DELETE'] as const;
type Ending = (typeof ENDINGS)[number];

let bot: TestBot;
let bridge: Bridge;
let api: CallApiClient;
let webhook: WebhookServer;
let sipUdp: number;

beforeAll(async () => {
  console.log(`bridge-transfer soak: SOAK_SEED=${SEED}`);
  bot = await TestBot.start();
  webhook = await WebhookServer.start();
  sipUdp = await freeUdpPort();
  bridge = await startTestBridge({
    api: { token: TOKEN },
    webhook: { url: webhook.url, backoffMs: 10 },
    sip: { udp: { host: '127.0.0.1', port: sipUdp }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 200 } },
    bot: { defaultUrl: bot.url, connectRetries: 0 },
    limits: { invitesPerSecondPerSource: 1000 },
    transfer: { allowedTargets: ['^sip:agent-[a-z0-9]+@127\\.0\\.0\\.1:\\d+$'] },
  });
  api = callApiClient(bridge.httpPort, TOKEN);
}, 30_000);

afterAll(async () => {
  await bridge?.stop();
  await webhook?.close();
  await bot?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bridge-transfer soak', () => {
  const rand = seededRandom(SEED);
  const counts: Record<Ending, number> = { busy: 0, 'caller gone while ringing': 0, 'caller BYE': 0, 'agent BYE': 0, DELETE: 0 };

  async function transferredCall(n: number): Promise<void> {
    const how = ENDINGS[Math.floor(rand() * ENDINGS.length)]!;
    const botMode = rand() < 0.5 ? 'stop' : 'listen';
    counts[how]++;
    const agent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    let call: AnsweredCall | undefined;
    const id = `soak-${n}`;
    try {
      call = await answeredCall({ host: '127.0.0.1', port: bridge.sip.tcp!.port }, bot, id, [], `sid-${n}`);
      const c = call;
      const callerBye = async () => {
        c.client.send(inDialogRequest('BYE', c.client, c.ok, 2));
        await c.client.response(200, 'BYE');
      };
      c.conn.send(transferMessage(c, { to: agent.uri(`agent-${n}`), mode: 'bridge', bot: botMode }));
      await agent.invite();
      agent.respond(180, 'Ringing');
      if (how === 'busy') {
        agent.respond(486, 'Busy Here');
        await c.conn.until((ms) => statuses(ms).some((s) => s.status === 'failed'), 5000, 'failed');
        await callerBye();
      } else if (how === 'caller gone while ringing') {
        await c.conn.until((ms) => statuses(ms).some((s) => s.status === 'ringing'), 5000, 'ringing');
        await callerBye();
        await agent.takeCancel();
      } else {
        await agent.answer();
        await c.conn.until((ms) => statuses(ms).some((s) => s.status === 'completed'), 5000, 'completed');
        const talkMs = 40 + Math.floor(rand() * 200);
        await Promise.all([c.caller.send(c.bridgeRtp, 'PCMA', tone(1000, 8000, talkMs * 8)), agent.rtp.send(agent.bridgeRtp, 'PCMU', tone(440, 8000, talkMs * 8))]);
        if (how === 'caller BYE') {
          await callerBye();
          agent.sip.send(okTo(await agent.sip.request('BYE')));
        } else if (how === 'agent BYE') {
          agent.bye();
          await agent.sip.response(200, 'BYE');
          c.client.send(okTo(await c.client.request('BYE')));
        } else {
          expect((await api('DELETE', `/v1/calls/sid-${n}`)).status).toBe(202);
          agent.sip.send(okTo(await agent.sip.request('BYE')));
          c.client.send(okTo(await c.client.request('BYE')));
        }
      }
      const report = await webhook.reportFor(id);
      const expected = how === 'busy' ? { status: 'failed', sip_status: 486 } : how === 'caller gone while ringing' ? { status: 'failed', sip_status: 487 } : { status: 'completed', sip_status: 200 };
      expect(report.transfer, `call ${n} (${how})`).toMatchObject({ mode: 'bridge', ...expected });
    } catch (err) {
      throw new Error(`call ${n} (${how}, bot ${botMode}): ${(err as Error).message.slice(0, 300)}`);
    } finally {
      // The last responses must leave before the sockets close.
      await sleep(20);
      call?.close();
      agent.close();
      if (call) bot.connections.splice(bot.connections.indexOf(call.conn), 1);
    }
  }

  it(`${CALLS} calls transferred in bridge mode and ended by any party leave nothing behind`, async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(AT_ONCE, CALLS) }, async () => {
        while (next < CALLS) {
          const n = next++;
          await transferredCall(n);
        }
      }),
    );
    console.log(`bridge-transfer soak: ${JSON.stringify(counts)}`);
    await waitForIdle(bridge, 20_000);
    const text = await (await fetch(`http://127.0.0.1:${bridge.httpPort}/metrics`)).text();
    const count = (result: string) => Number(new RegExp(`^bridge_transfers_total\\{mode="bridge",result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(count('completed')).toBe(counts['caller BYE'] + counts['agent BYE'] + counts.DELETE);
    expect(count('failed')).toBe(counts.busy + counts['caller gone while ringing']);
    const stats = bridge.stats();
    expect(stats.rtpPortsInUse).toBe(0);
    expect(stats.sip.dialogs).toBe(0);
  }, 600_000);
});
