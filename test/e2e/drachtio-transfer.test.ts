// Transfer by REFER through a real drachtio-server (the bridge's REFER and the caller's NOTIFYs pass through it), a
// bridge transfer (the agent's INVITE goes out through it), and a REFER the caller sends there, answered 403 by the
// bridge as on the embedded stack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge } from '../helpers/bridge.js';
import { bridgeToAgent, TestAgent } from '../helpers/agent.js';
import { answeredCall, callerToneReachesBot } from '../helpers/carrier.js';
import { drachtioBinary, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { inDialogRequest } from '../helpers/sip-messages.js';
import { acceptReferTransfer, refuseReferTransfer } from '../helpers/transfer.js';

const binary = drachtioBinary();
const skip = 'missing' in binary ? `skipping drachtio transfer tests: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

let server: DrachtioServer;
let bot: TestBot;
let bridge: Bridge;

beforeAll(async () => {
  if (skip) return;
  server = await startDrachtioServer();
  bot = await TestBot.start();
  bridge = await startTestBridge({
    sip: { backend: 'drachtio', drachtio: { host: server.host, port: server.adminPort, secret: server.secret }, udp: false, tcp: false },
    bot: { defaultUrl: bot.url },
    trunks: [{ name: 'pstn', uri: 'sip:pstn.example.com:5070;transport=tcp' }],
    transfer: { allowedTargets: ['^sip:agent-[a-z0-9]+@agents\\.example\\.com$', '^sip:agent-[a-z0-9]+@127\\.0\\.0\\.1:\\d+$'] },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  await server?.stop();
});

describe.skipIf(skip)('transfer through drachtio-server', () => {
  it('REFER accepted, NOTIFY 100 then 200: BYE from the bridge, the bot hears trying, completed, then stop transferred', async () => {
    const call = await answeredCall(server.sip, bot, 'drachtio-xfer-ok');
    try {
      const refer = await acceptReferTransfer(call, { to: '+918041234567', trunk: 'pstn', headers: { 'X-UUI': 'ticket-7' } });
      expect(refer.headers.get('refer-to')).toBe('<sip:+918041234567@pstn.example.com>');
      expect(refer.headers.get('referred-by')).toMatch(/^<sip:/);
      expect(refer.headers.get('x-uui')).toBe('ticket-7');
      expect(refer.cseq.seq).toBeGreaterThan(0);
    } finally {
      call.close();
    }
  });

  it('REFER refused 405: transfer_status failed with sip_status 405, and the caller still reaches the bot', async () => {
    const call = await answeredCall(server.sip, bot, 'drachtio-xfer-405');
    try {
      await refuseReferTransfer(call);
      expect(call.conn.messages.some((m) => m.event === 'stop')).toBe(false);
    } finally {
      call.close();
    }
  });

  it('bridge mode: the agent is dialled through drachtio-server, answers, caller and agent hear each other; the agent hangs up and the caller gets BYE', async () => {
    const agent = await TestAgent.open(server.sip);
    const call = await answeredCall(server.sip, bot, 'drachtio-bridge');
    try {
      await bridgeToAgent(call, agent);
    } finally {
      call.close();
      agent.close();
    }
  });

  it("answers the caller's REFER in a call 403 and the call goes on", async () => {
    const call = await answeredCall(server.sip, bot, 'drachtio-refer-in');
    try {
      const refer = inDialogRequest('REFER', call.client, call.ok, 2).replace('Content-Length', 'Refer-To: <sip:someone@example.com>\r\nContent-Length');
      call.client.send(refer);
      const response = await call.client.waitFor((m) => m.kind === 'response' && m.cseq.method === 'REFER', 'response to REFER');
      expect(response).toMatchObject({ status: 403 });
      await callerToneReachesBot(call, 'PCMA');
    } finally {
      call.close();
    }
  });
});


