// Call transfer: the REFER the bridge sends (RFC 3515, NOTIFY sipfrag), its outcome for the bot, and REFERs sent to
// the bridge, which is never a transfer target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { SipResponse } from '../../src/signaling/message.js';
import { TestBot } from '../helpers/bot.js';
import { startTestBridge } from '../helpers/bridge.js';
import { answeredCall } from '../helpers/carrier.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { inDialogRequest, okTo } from '../helpers/sip-messages.js';

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

const sipTcp = () => ({ host: '127.0.0.1', port: bridge.sip.tcp!.port });

describe('REFER sent to the bridge', () => {
  it('answers an out-of-dialog REFER 403 with a Warning', async () => {
    const client = await SipTestClient.open('tcp', sipTcp());
    try {
      client.send(
        [
          `REFER sip:bridge@127.0.0.1:${bridge.sip.tcp!.port};transport=tcp SIP/2.0`,
          `Via: SIP/2.0/TCP 127.0.0.1:${client.localPort};branch=z9hG4bK-refer-ood;rport`,
          'Max-Forwards: 70',
          'From: <sip:carrier@127.0.0.1>;tag=c1',
          'To: <sip:bridge@127.0.0.1>',
          'Call-ID: refer-ood-1',
          'CSeq: 1 REFER',
          `Contact: <sip:carrier@127.0.0.1:${client.localPort};transport=tcp>`,
          'Refer-To: <sip:agent@127.0.0.1>',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
      const refused = await client.response(403, 'REFER');
      expect(refused.headers.get('warning')).toMatch(/not a transfer target/);
    } finally {
      client.close();
    }
  });

  it('answers a REFER in a call 403 and the call goes on', async () => {
    const call = await answeredCall(sipTcp(), bot, 'refer-in-1');
    try {
      const refer = inDialogRequest('REFER', call.client, call.ok, 2).replace('Content-Length', 'Refer-To: <sip:agent@127.0.0.1>\r\nContent-Length');
      call.client.send(refer);
      const refused: SipResponse = await call.client.response(403, 'REFER');
      expect(refused.headers.get('warning')).toMatch(/not a transfer target/);
      call.client.send(inDialogRequest('BYE', call.client, call.ok, 3));
      await call.client.response(200, 'BYE');
      await call.conn.waitForEvent('stop');
    } finally {
      call.close();
    }
  });
});
void okTo;
