// The bridge of the bridge-transfer tests: in-process, with a UDP SIP listener that agents answer on, the `agents`
// trunk (one channel) to a shared agent, the `callee` trunk for outbound calls, a recorded route (X-Rec: yes), a
// webhook for the reports and a 1.5 s ring timeout; and the steps those tests share.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { relativeLevelDb, tone } from './audio.js';
import { TestAgent } from './agent.js';
import { TestBot } from './bot.js';
import { startTestBridge } from './bridge.js';
import { callApiClient, type CallApiClient } from './call-api.js';
import { answeredCall, type AnsweredCall } from './carrier.js';
import type { RtpPeer } from './rtp-peer.js';
import { inDialogRequest } from './sip-messages.js';
import { freeUdpPort } from './sipp-trunk.js';
import { statuses } from './transfer.js';
import { WebhookServer } from './webhook-server.js';

const TOKEN = 'bridge-transfer-token';

export class TransferBed {
  private constructor(
    readonly bot: TestBot,
    readonly webhook: WebhookServer,
    readonly bridge: Bridge,
    readonly api: CallApiClient,
    readonly sipUdp: number,
    /** The `agents` trunk's far end. */
    readonly trunkAgent: TestAgent,
    /** The `callee` trunk's far end: the called party of outbound calls. */
    readonly callee: TestAgent,
    readonly recordings: string,
  ) {}

  static async start(): Promise<TransferBed> {
    const bot = await TestBot.start();
    const webhook = await WebhookServer.start();
    const sipUdp = await freeUdpPort();
    const trunkAgent = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const callee = await TestAgent.open({ host: '127.0.0.1', port: sipUdp });
    const recordings = mkdtempSync(join(tmpdir(), 'bridge-transfer-rec-'));
    const bridge = await startTestBridge({
      api: { token: TOKEN },
      webhook: { url: webhook.url },
      sip: { udp: { host: '127.0.0.1', port: sipUdp }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 500 } },
      bot: { defaultUrl: bot.url, connectTimeoutMs: 1500, connectRetries: 0 },
      routes: [{ header: 'X-Rec', equals: 'yes', url: bot.url, recording: { dir: recordings, flushMs: 200 } }],
      trunks: [
        { name: 'agents', uri: `sip:127.0.0.1:${trunkAgent.sip.localPort}`, headers: { 'X-Trunk': 'agents' }, maxConcurrentCalls: 1 },
        { name: 'callee', uri: `sip:127.0.0.1:${callee.sip.localPort}` },
      ],
      transfer: { allowedTargets: ['^sip:agent-[a-z0-9]+@127\\.0\\.0\\.1:\\d+$'], ringTimeoutMs: 1500 },
    });
    return new TransferBed(bot, webhook, bridge, callApiClient(bridge.httpPort, TOKEN), sipUdp, trunkAgent, callee, recordings);
  }

  /** The bridge's TCP listener, where callers call. */
  get sipTcp(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.bridge.sip.tcp!.port };
  }

  /** An agent of the test's own, reached straight at its URI. */
  agent(): Promise<TestAgent> {
    return TestAgent.open({ host: '127.0.0.1', port: this.sipUdp });
  }

  /** Once earlier calls are gone: a fresh agent and a caller the bot answered (`name`), for `body`; both closed after. */
  async withAgentCall(name: string, body: (call: AnsweredCall, agent: TestAgent) => Promise<void>): Promise<void> {
    await this.noCalls();
    const agent = await this.agent();
    const call = await answeredCall(this.sipTcp, this.bot, name);
    try {
      await body(call, agent);
    } finally {
      call.close();
      agent.close();
    }
  }

  /** Every earlier call gone: the test calls share one call_sid (the INVITE's X-Exotel-CallSid). */
  async noCalls(): Promise<void> {
    for (let i = 0; i < 200 && (await this.api('GET', '/v1/calls')).body.calls.length > 0; i++) await sleep(50);
  }

  async close(): Promise<void> {
    await this.bridge.stop();
    this.trunkAgent.close();
    this.callee.close();
    rmSync(this.recordings, { recursive: true, force: true });
    await this.webhook.close();
    await this.bot.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const statusOf = (call: AnsweredCall) => statuses(call.conn.messages);

export const waitStatus = (call: AnsweredCall, status: string) =>
  call.conn.until((ms) => statuses(ms).some((s) => s.status === status), 10_000, `transfer_status ${status}`);

/** The caller's BYE, answered. */
export async function callerHangsUp(call: AnsweredCall, cseq = 2): Promise<void> {
  call.client.send(inDialogRequest('BYE', call.client, call.ok, cseq));
  await call.client.response(200, 'BYE');
}

/** A second of 1000 Hz from `caller` (PCMA, to `to`) reaches `agent` as PCMU: 30 packets at least, 1000 Hz dominant. */
export async function toneReachesAgent(caller: RtpPeer, to: { address: string; port: number }, agent: RtpPeer): Promise<void> {
  const before = agent.received.length;
  await caller.send(to, 'PCMA', tone(1000, 8000, 8000));
  await sleep(200);
  expect(agent.received.length - before).toBeGreaterThan(30);
  expect(relativeLevelDb(agent.audio('PCMU').slice(-6000, -1000), 8000, 1000, 440)).toBeGreaterThan(30);
}
