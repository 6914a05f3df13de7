// An INVITE waiting for the application's answer: the embedded stack's IncomingCall.
import { EventEmitter } from 'node:events';
import type { HeaderFields } from './message.js';
import { partyOf } from './party.js';
import { buildResponse, warningValue } from './responses.js';
import type { DialogContext, SipDialog } from './dialog.js';
import { UasDialog } from './dialog-uas.js';
import type { ServerTransaction } from './transaction.js';
import type { Dialog, IncomingCall, IncomingCallEvents, Party, RejectDetails, SipProtocol } from './types.js';

/** What a pending INVITE needs from the user agent besides what its dialog needs. */
export interface InviteContext extends DialogContext {
  adopt(dialog: SipDialog): void;
  /** The INVITE got its final response: a CANCEL can no longer change anything. */
  settled(invite: IncomingInvite): void;
}

export class IncomingInvite extends EventEmitter<IncomingCallEvents> implements IncomingCall {
  readonly callId: string;
  readonly from: Party;
  readonly to: Party;
  readonly requestUri: string;
  readonly protocol: SipProtocol;
  readonly source: { readonly address: string; readonly port: number };
  readonly headers: HeaderFields;
  readonly sdp: string | undefined;
  #cancelled = false;

  constructor(
    private readonly ctx: InviteContext,
    readonly tx: ServerTransaction,
  ) {
    super();
    const { request, flow } = tx;
    this.callId = request.callId;
    this.from = partyOf(request.from);
    this.to = partyOf(request.to);
    this.requestUri = request.uri;
    this.protocol = flow.protocol;
    this.source = { address: flow.address, port: flow.port };
    this.headers = request.headers.entries;
    const contentType = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    this.sdp = request.body.length > 0 && contentType === 'application/sdp' ? request.body.toString('utf8') : undefined;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  answer(localSdp: string): Dialog {
    if (this.tx.finished) throw new Error(`INVITE ${this.callId} was already answered or rejected`);
    const dialog = new UasDialog(this.ctx, this.tx, localSdp);
    this.ctx.adopt(dialog);
    this.ctx.settled(this);
    return dialog;
  }

  reject(status: number, phrase: string, details: RejectDetails = {}): void {
    const headers: Array<readonly [string, string]> = [];
    if (details.warning) headers.push(['Warning', warningValue(details.warning.code, details.warning.text)]);
    if (details.retryAfter !== undefined) headers.push(['Retry-After', String(details.retryAfter)]);
    this.tx.respond(buildResponse(this.tx, status, phrase, { headers }));
    this.ctx.settled(this);
  }

  /** CANCEL matched this INVITE before its final response. */
  cancel(): void {
    if (this.tx.finished) return;
    this.#cancelled = true;
    this.reject(487, 'Request Terminated');
    this.emit('cancel');
  }
}
