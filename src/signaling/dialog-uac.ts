// The UAC start of a dialog (RFC 3261 12.1.2, 13.2.2.4): made from a 2xx to our INVITE, confirmed by our ACK.
import { SipDialog, type DialogContext } from './dialog.js';
import type { InDialogRequest } from './dialog-requests.js';
import type { HeaderFields, OutgoingRequest, SipResponse } from './message.js';
import { contactUri } from './parser.js';
import { serializeRequest } from './serializer.js';
import type { Flow } from './flow.js';

export class UacDialog extends SipDialog {
  readonly #ack: InDialogRequest;
  readonly #ackData: Buffer;

  /**
   * Route set from Record-Route reversed, remote target from Contact; sends the ACK at once (the same credentials
   * as the INVITE, 13.2.2.4). Throws when the 2xx leaves no way to reach the far end.
   */
  constructor(ctx: DialogContext, invite: OutgoingRequest, response: SipResponse, flow: Flow, localSdp: string, credentials: HeaderFields) {
    const from = invite.headers.find(([name]) => name === 'From')![1];
    super(ctx, {
      callId: response.callId,
      localTag: response.from.params.get('tag') ?? '',
      remoteTag: response.to.params.get('tag') ?? '',
      localUri: from,
      remoteUri: response.headers.get('to')!,
      remoteTarget: contactUri(response) ?? response.to.uri,
      routeSet: response.headers.getList('record-route').reverse(),
      flow,
      localSeq: response.cseq.seq,
      remoteSeq: 0,
      localSdp,
      state: 'confirmed',
    });
    this.#ack = this.inDialogRequest('ACK', response.cseq.seq, credentials);
    this.#ackData = serializeRequest(this.#ack.request);
    this.#sendAck(true);
  }

  /** The 2xx came again: its ACK was lost, send the same one (RFC 3261 13.2.2.4). */
  reAck(): void {
    this.#sendAck(false);
  }

  #sendAck(first: boolean): void {
    this.ctx.layer.transport.send(this.#ackData, this.#ack.dest).then(
      () => {
        if (first) this.emit('confirmed');
      },
      (err: Error) => this.ctx.layer.log.warn({ callId: this.callId, err: err.message }, 'could not send ACK'),
    );
  }
}
