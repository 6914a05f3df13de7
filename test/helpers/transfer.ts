// The caller's side of a transfer by REFER: the bot's `transfer` message, answers to the bridge's REFER, NOTIFYs with
// a sipfrag, and the transfer_status events the bot heard.
import type { SipRequest } from '../../src/signaling/message.js';
import type { BotMessage } from './bot.js';
import type { AnsweredCall } from './carrier.js';
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
