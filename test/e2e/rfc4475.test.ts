// RFC 4475 torture messages sent raw to the running bridge over UDP and TCP, each with the outcome a UAS owes it;
// then a normal call, to show the bridge survived them. The messages are in test/rfc4475/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { exotelInvite, inDialogRequest } from '../helpers/sip-messages.js';
import { readRaw, type Outcome, type Peer, type RawMessage, type TortureMessage } from '../rfc4475/common.js';
import { INVALID } from '../rfc4475/invalid.js';
import { RESPONSES } from '../rfc4475/responses.js';
import { SEMANTICS } from '../rfc4475/semantics.js';
import { START_LINE } from '../rfc4475/start-line.js';
import { VALID } from '../rfc4475/valid.js';
import { VARIANTS } from '../rfc4475/variants.js';

const RESPONSE_WAIT_MS = 2000;
/** An INVITE's final answer waits for the bot's WebSocket. */
const INVITE_WAIT_MS = 5000;

let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  bot = await TestBot.start();
  bridge = await startTestBridge({ bot: { defaultUrl: bot.url } });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
});

type Transport = 'udp' | 'tcp';

const target = (transport: Transport) => ({ host: '127.0.0.1', port: transport === 'udp' ? bridge.sip.udp!.port : bridge.sip.tcp!.port });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One torture message in flight: what was sent, and what came back on the test's socket. */
class Exchange {
  readonly sent: RawMessage;
  /** Call-IDs whose call this test has already taken down. */
  readonly ended = new Set<string>();
  #cseq = 1000;

  constructor(
    readonly client: SipTestClient,
    readonly peer: Peer,
    readonly bytes: Buffer,
  ) {
    this.sent = readRaw(bytes);
  }

  get received(): RawMessage[] {
    return this.client.raw.map(readRaw);
  }

  /** Responses to the request sent (by its CSeq method), retransmissions included. */
  responses(method = this.sent.cseqMethod): RawMessage[] {
    return this.received.filter((r) => r.status !== undefined && r.cseqMethod === method);
  }

  async final(timeoutMs: number, method = this.sent.cseqMethod): Promise<RawMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.responses(method).find((r) => r.status! >= 200);
      if (found || Date.now() >= deadline) return found;
      await sleep(20);
    }
  }

  /** A request inside the dialog a 2xx set up, to its Contact. */
  inDialog(method: 'ACK' | 'BYE', ok: RawMessage, seq: number): string {
    const target = /<([^>]+)>/.exec(ok.get('contact') ?? '')?.[1] ?? 'sip:bridge@127.0.0.1';
    return [
      `${method} ${target} SIP/2.0`,
      `Via: SIP/2.0/${this.peer.transport} ${this.peer.sentBy};branch=z9hG4bK-${method}-${++this.#cseq};rport`,
      'Max-Forwards: 70',
      `From: ${ok.get('from')}`,
      `To: ${ok.get('to')}`,
      `Call-ID: ${ok.get('call-id')}`,
      `CSeq: ${seq} ${method}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  /** The ACK of a non-2xx final response: same branch (the response's top Via) and Request-URI as the INVITE. */
  ackFailure(response: RawMessage): string {
    const uri = this.sent.startLine.split(/\s+/)[1]?.replace(/^<|>$|;$/g, '') ?? 'sip:bridge@127.0.0.1';
    return [
      `ACK ${uri} SIP/2.0`,
      `Via: ${response.get('via')}`,
      'Max-Forwards: 70',
      `From: ${response.get('from')}`,
      `To: ${response.get('to')}`,
      `Call-ID: ${response.get('call-id')}`,
      `CSeq: ${response.cseqSeq} ACK`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  /** The 2xx's ACK, the bot's `start`, then our BYE and the bot's `stop`. */
  async takeCall(ok: RawMessage, botIndex: number): Promise<void> {
    const callId = ok.get('call-id') ?? '';
    this.ended.add(callId);
    this.client.send(this.inDialog('ACK', ok, ok.cseqSeq));
    const conn = await bot.connectionWhere((_, i) => i >= botIndex, 'bot connection for the call', INVITE_WAIT_MS);
    await conn.waitForEvent('start', INVITE_WAIT_MS);
    this.client.send(this.inDialog('BYE', ok, ok.cseqSeq + 1));
    const byeOk = await this.final(RESPONSE_WAIT_MS, 'BYE');
    expect(byeOk?.startLine ?? 'no response to BYE').toMatch(/^SIP\/2\.0 200 /);
    await conn.waitForEvent('stop', INVITE_WAIT_MS);
  }

  /** Leaves the bridge idle whatever happened: ACKs every INVITE failure, ends every call nobody ended. */
  async cleanUp(): Promise<void> {
    const seen = new Set<string>();
    for (const r of this.responses('INVITE')) {
      const callId = r.get('call-id') ?? '';
      const key = `${callId} ${r.status}`;
      if (r.status! < 200 || seen.has(key)) continue;
      seen.add(key);
      if (r.status! >= 300) this.client.send(this.ackFailure(r));
      else if (!this.ended.has(callId)) {
        this.ended.add(callId);
        this.client.send(this.inDialog('ACK', r, r.cseqSeq));
        this.client.send(this.inDialog('BYE', r, r.cseqSeq + 1));
      }
    }
    await waitForIdle(bridge, 10_000);
  }
}

async function verify(x: Exchange, outcome: Outcome, message: TortureMessage, botIndex: number): Promise<void> {
  const isInvite = x.sent.cseqMethod === 'INVITE';
  if (outcome.kind === 'ignored') {
    await sleep(RESPONSE_WAIT_MS);
    const got = x.received.map((r) => r.startLine);
    expect(got.length, `no response, got ${got.join(' | ')}`).toBe(0);
    return;
  }
  const final = await x.final(isInvite ? INVITE_WAIT_MS : RESPONSE_WAIT_MS);
  const warning = final?.get('warning');
  const got = final ? `${final.startLine}${warning ? ` (Warning: ${warning})` : ''}` : 'no response';
  if (!message.noTo) {
    // RFC 3261 8.2.6.2: every response but 100 carries a To tag (the UAS's own when the request had none).
    const untagged = x.responses().filter((r) => r.status! > 100 && !/;\s*tag\s*=/i.test(r.get('to') ?? ''));
    const lines = untagged.map((r) => `${r.startLine} / To: ${r.get('to')}`);
    expect.soft(lines.length, `responses without a To tag: ${lines.join(' | ')}`).toBe(0);
  }
  if (outcome.kind === 'status') {
    expect(outcome.status, `expected ${outcome.status.join(' or ')}, got ${got}`).toContain(final?.status ?? 0);
    outcome.check?.(final!);
    if (message.tag === 'dblreq' && x.peer.transport === 'UDP') {
      await sleep(500);
      const trailing = x.responses('INVITE').map((r) => r.startLine);
      expect(trailing.length, `no answer to the trailing INVITE, got ${trailing.join(' | ')}`).toBe(0);
    }
    return;
  }
  if (final && outcome.orStatus?.includes(final.status!)) return;
  expect(final?.status, `a call: 200 to the INVITE, got ${got}`).toBe(200);
  await x.takeCall(final!, botIndex);
}

const bySection = (a: TortureMessage, b: TortureMessage) => a.section.localeCompare(b.section, 'en', { numeric: true });
const MESSAGES: readonly TortureMessage[] = [...VALID, ...RESPONSES, ...INVALID, ...START_LINE, ...SEMANTICS, ...VARIANTS].sort(bySection);
// All UDP runs first: the TCP run of a message reuses its branch, so it comes long after the UDP transaction ended.
const CASES = (['udp', 'tcp'] as const).flatMap((transport) =>
  MESSAGES.map((message) => ({ name: `${message.section} ${message.tag} over ${transport.toUpperCase()}`, message, transport })),
);

describe('RFC 4475 torture messages', () => {
  it.each(CASES)('$name', async ({ message, transport }) => {
    const client = await SipTestClient.open(transport, target(transport));
    const peer: Peer = { transport: transport === 'udp' ? 'UDP' : 'TCP', sentBy: `127.0.0.1:${client.localPort}`, u: `.${transport}` };
    const x = new Exchange(client, peer, message.build(peer));
    const botIndex = bot.connections.length;
    let failure: unknown;
    try {
      client.send(x.bytes);
      await verify(x, transport === 'tcp' ? (message.overTcp ?? message.expect) : message.expect, message, botIndex);
    } catch (err) {
      failure = err;
    }
    try {
      await x.cleanUp();
    } catch (err) {
      failure ??= err;
    } finally {
      client.close();
    }
    if (failure) throw failure;
  });

  it('still takes a normal call after all of them', async () => {
    const client = await SipTestClient.open('udp', target('udp'));
    try {
      const botIndex = bot.connections.length;
      client.send(exotelInvite({ callId: 'after-torture-1', transport: 'UDP', port: target('udp').port, localPort: client.localPort }));
      const ok = await client.response(200, 'INVITE');
      client.send(inDialogRequest('ACK', client, ok, ok.cseq.seq));
      const conn = await bot.connection(botIndex);
      await conn.waitForEvent('start');
      client.send(inDialogRequest('BYE', client, ok, ok.cseq.seq + 1));
      await client.response(200, 'BYE');
      await conn.waitForEvent('stop');
      await waitForIdle(bridge);
    } finally {
      client.close();
    }
  });
});
