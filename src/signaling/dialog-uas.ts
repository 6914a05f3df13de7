// The UAS start of a dialog (RFC 3261 12.1.1): made from the INVITE we answer, 2xx resent until the ACK.
import { SipDialog, type DialogContext } from './dialog.js';
import { contactUri } from './parser.js';
import type { ServerTransaction } from './transaction.js';

/** The UAS side: the dialog an answered INVITE makes, its 200 OK sent at once. */
export class UasDialog extends SipDialog {
  /** Creates the dialog from an INVITE with a Contact (checked by the caller) and sends the 200 OK. */
  constructor(ctx: DialogContext, invite: ServerTransaction, localSdp: string) {
    const { request } = invite;
    super(ctx, {
      callId: request.callId,
      localTag: invite.localTag,
      remoteTag: request.from.params.get('tag') ?? '',
      localUri: `${request.headers.get('to')!};tag=${invite.localTag}`,
      remoteUri: request.headers.get('from')!,
      remoteTarget: contactUri(request) ?? request.from.uri,
      routeSet: request.headers.getList('record-route'),
      flow: invite.flow,
      localSeq: 0,
      remoteSeq: request.cseq.seq,
      localSdp,
      state: 'early',
    });
    this.answerInvite(invite, request.headers.getAll('record-route'));
  }
}
