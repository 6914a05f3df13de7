// The caller's side of a transfer by REFER: the bot's `transfer` message, answers to the bridge's REFER, NOTIFYs with
// a sipfrag, and the transfer_status events the bot heard.
import { expect } from 'vitest';
import type { SipRequest } from '../../src/signaling/message.js';
import type { BotMessage } from './bot.js';
import { callerToneReachesBot, type AnsweredCall } from './carrier.js';
import { inDialogRequest, okTo } from './sip-messages.js';

/** A response from the caller's side to a request the bridge sent (REFER, NOTIFY's partner). */
export function answer(request: SipRequest, status: number, reason: string): string {
  return okTo(request).replace('SIP/2.0 200 OK', `SIP/2.0 ${status} ${reason}`);
}

let lastNotifyCseq = 100;

/** The CSeq number of the last NOTIFY built. */
export const notifyCseq = (): number => lastNotifyCseq;

/** A NOTIFY for the bridge's REFER (Event: refer;id=<REFER CSeq>), with a sipfrag status line. */
export function notify(call: AnsweredCall, refer: SipRequest, sipfrag: string, state: string): string {
  const body = `${sipfrag}\r\n`;
  return inDialogRequest('NOTIFY', call.client, call.ok, ++lastNotifyCseq)
    .replace('Content-Length', `Event: refer;id=${refer.cseq.seq}\r\nSubscription-State: ${state}\r\nContent-Type: message/sipfrag\r\nContent-Length`)
    .replace(/Content-Length: 0\r\n\r\n$/, `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

export const statuses = (messages: BotMessage[]) =>
  messages.filter((m) => m.event === 'transfer_status').map((m) => (m as unknown as { transfer: { status: string; sip_status?: number; reason?: string } }).transfer);

/** The bot's `transfer` message for the call's stream. */
export function transferMessage(call: AnsweredCall, transfer: object): object {
  const start = call.conn.messages.find((m) => m.event === 'start') as unknown as { stream_sid: string };
  return { event: 'transfer', stream_sid: start.stream_sid, transfer };
}

/**
 * The bot asks for `transfer`; the caller's side takes the REFER (202, NOTIFY 100 Trying, NOTIFY 200 OK, each NOTIFY
 * answered 200 by the bridge) and answers the bridge's BYE; resolves with the REFER once the bot got `stop`.
 */
export async function acceptReferTransfer(call: AnsweredCall, transfer: object): Promise<SipRequest> {
  call.conn.send(transferMessage(call, transfer));
  const refer = await call.client.request('REFER');
  call.client.send(answer(refer, 202, 'Accepted'));
  call.client.send(notify(call, refer, 'SIP/2.0 100 Trying', 'active;expires=60'));
  await call.client.waitFor((m) => m.kind === 'response' && m.cseq.method === 'NOTIFY' && m.status === 200, '200 to NOTIFY 100');
  await call.conn.until((ms) => statuses(ms).length >= 1, 5000, 'transfer_status trying');
  call.client.send(notify(call, refer, 'SIP/2.0 200 OK', 'terminated;reason=noresource'));
  call.client.send(okTo(await call.client.request('BYE')));
  expect(call.client.count((m) => m.kind === 'response' && m.cseq.method === 'NOTIFY' && m.status === 200)).toBe(2);
  await call.conn.waitForEvent('stop');
  const stop = call.conn.messages.find((m) => m.event === 'stop') as unknown as { stop: { reason: string } };
  expect(stop.stop.reason).toBe('transferred');
  const seen = statuses(call.conn.messages);
  expect(seen[0]!.status).toBe('trying');
  expect(seen.at(-1)).toMatchObject({ status: 'completed', sip_status: 200 });
  return refer;
}

/** The bot asks for a REFER transfer that the caller's side refuses 405: the bot hears failed 405, the call goes on. */
export async function refuseReferTransfer(call: AnsweredCall): Promise<void> {
  call.conn.send(transferMessage(call, { to: 'sip:agent-7@agents.example.com', mode: 'refer' }));
  const refer = await call.client.request('REFER');
  expect(refer.headers.get('refer-to')).toBe('<sip:agent-7@agents.example.com>');
  call.client.send(answer(refer, 405, 'Method Not Allowed'));
  await call.conn.until((ms) => statuses(ms).some((s) => s.status === 'failed'), 5000, 'transfer_status failed');
  expect(statuses(call.conn.messages).at(-1)).toMatchObject({ status: 'failed', sip_status: 405 });
  await callerToneReachesBot(call, 'PCMA');
}
