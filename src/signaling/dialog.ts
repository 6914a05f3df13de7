// A SIP dialog (RFC 3261 section 12-15) once established, whichever side made it: in-dialog requests, BYE both
// ways; and the UAS start (2xx until ACK). The UAC start is in dialog-uac.ts; request building in dialog-requests.ts,
// the 2xx resends in dialog-ack.ts, the answers to INFO/OPTIONS/NOTIFY/REFER in dialog-answers.ts.
import { EventEmitter } from 'node:events';
import type { HeaderFields, SipRequest } from './message.js';
import { AckWait } from './dialog-ack.js';
import { answerInDialog } from './dialog-answers.js';
import { buildInDialogRequest, referHeaders, type InDialogRequest } from './dialog-requests.js';
import { PendingReoffer } from './reoffer.js';
import { DEFAULT_REFER_TIMEOUT_MS, ReferSubscription, type Refer, type ReferRequest } from './refer.js';
import { ALLOW, buildResponse } from './responses.js';
import type { ServerTransaction, TransactionLayer } from './transaction.js';
import type { Connection } from './connection.js';
import type { Flow, Protocol } from './flow.js';
import type { Dialog, DialogEvents } from './types.js';

/** What a dialog needs from the user agent that created it. */
export interface DialogContext {
  readonly layer: TransactionLayer;
  /** Our Contact URI (with angle brackets) for the listener a flow arrived on. */
  contact(flow: Flow): string;
  /** host:port for the Via of requests we send over a protocol. */
  sentBy(protocol: Protocol): string;
  forget(dialog: SipDialog): void;
}

type DialogState = 'early' | 'confirmed' | 'terminating' | 'terminated';

/** What a dialog is made of (RFC 3261 12.1.1 for the UAS, 12.1.2 for the UAC). */
export interface DialogInit {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Our URI with our tag: the To of a UAS, the From of a UAC. */
  readonly localUri: string;
  readonly remoteUri: string;
  readonly remoteTarget: string;
  /** In the order our requests traverse it (a UAC's is the Record-Route reversed). */
  readonly routeSet: string[];
  /** The flow the dialog was made on: its connection carries our requests when still open. */
  readonly flow: Flow;
  readonly localSeq: number;
  readonly remoteSeq: number;
  readonly localSdp: string;
  /** early: a UAS waits for the ACK of its 2xx; a UAC's dialog is confirmed once it sends its ACK. */
  readonly state: 'early' | 'confirmed';
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

/** The in-dialog part, the same for both sides. */
export class SipDialog extends EventEmitter<DialogEvents> implements Dialog {
  readonly callId: string;
  readonly key: string;
  #state: DialogState;
  #localSeq: number;
  #remoteSeq: number;
  /** Our 2xx to an INVITE (initial or re-INVITE) waiting for its ACK. */
  #pendingAck: AckWait | undefined;
  #bye: Promise<void> | undefined;
  /** A re-offer the application has not answered yet. */
  #reoffer: PendingReoffer | undefined;
  #localSdp: string;
  /** The REFER whose subscription is open (one at a time). */
  #refer: ReferSubscription | undefined;
  readonly #localUri: string;
  readonly #remoteUri: string;
  readonly #remoteTarget: string;
  readonly #routeSet: string[];
  protected readonly flow: Flow;

  constructor(
    protected readonly ctx: DialogContext,
    init: DialogInit,
  ) {
    super();
    this.callId = init.callId;
    this.key = dialogKey(init.callId, init.localTag, init.remoteTag);
    this.#state = init.state;
    this.#localSeq = init.localSeq;
    this.#remoteSeq = init.remoteSeq;
    this.#localSdp = init.localSdp;
    this.#localUri = init.localUri;
    this.#remoteUri = init.remoteUri;
    this.#remoteTarget = init.remoteTarget;
    this.#routeSet = init.routeSet;
    this.flow = init.flow;
  }

  get state(): DialogState {
    return this.#state;
  }

  /** Whether the dialog's requests come over this stream connection. */
  usesConnection(connection: Connection): boolean {
    return this.flow.connection === connection;
  }

  /** Its connection closed under it: nothing more can be said to the caller. */
  connectionLost(): void {
    if (this.#state === 'terminating' || this.#state === 'terminated') return;
    this.#terminate();
    this.emit('lost');
  }

  /** An ACK routed to this dialog. */
  acked(ack: SipRequest): void {
    const pending = this.#pendingAck;
    if (!pending || ack.cseq.seq !== pending.tx.request.cseq.seq) return;
    this.#stopWaitingForAck();
    if (this.#state === 'early') {
      this.#state = 'confirmed';
      this.emit('confirmed');
    }
  }

  /** A new in-dialog request (not ACK, not CANCEL). */
  handle(tx: ServerTransaction): void {
    const { request } = tx;
    if (request.cseq.seq < this.#remoteSeq) {
      tx.respond(buildResponse(tx, 500, 'CSeq Out of Order'));
      return;
    }
    this.#remoteSeq = request.cseq.seq;
    const body = request.body.length > 0 ? request.body.toString('utf8') : undefined;
    switch (request.method) {
      case 'BYE': {
        tx.respond(buildResponse(tx, 200, 'OK'));
        if (this.#state === 'terminating' || this.#state === 'terminated') return;
        this.#stopWaitingForAck();
        this.#terminate();
        this.emit('bye');
        return;
      }
      case 'INVITE': {
        // RFC 3261 14.2, RFC 3311 5.2: one offer at a time.
        if (this.#pendingAck || this.#reoffer || this.#state !== 'confirmed') {
          tx.respond(buildResponse(tx, 500, 'Server Internal Error', { headers: [['Retry-After', '1']] }));
          return;
        }
        if (!body) {
          this.answerInvite(tx, []);
          return;
        }
        tx.respond(buildResponse(tx, 100, 'Trying'));
        this.#offered(tx, body, () => this.answerInvite(tx, []));
        return;
      }
      case 'UPDATE': {
        if (this.#reoffer) {
          tx.respond(buildResponse(tx, 500, 'Server Internal Error', { headers: [['Retry-After', '1']] }));
          return;
        }
        const contact: [string, string] = ['Contact', this.ctx.contact(this.flow)];
        if (!body) {
          tx.respond(buildResponse(tx, 200, 'OK', { headers: [contact] }));
          return;
        }
        this.#offered(tx, body, (sdp) => tx.respond(buildResponse(tx, 200, 'OK', { headers: [contact], body: sdp })));
        return;
      }
      default: {
        const refer = this.#refer;
        answerInDialog(tx, body ?? '', { refer, dtmf: (digit, durationMs) => this.emit('dtmf', digit, durationMs) });
      }
    }
  }

  /** Hands an offer to the application; `ok` sends the 2xx once it has answered. */
  #offered(tx: ServerTransaction, offer: string, ok: (answerSdp: string) => void): void {
    const reoffer = new PendingReoffer(
      offer,
      (status, phrase, answer) => {
        if (this.#reoffer === reoffer) this.#reoffer = undefined;
        if (answer && 'sdp' in answer) ok(answer.sdp);
        else tx.respond(buildResponse(tx, status, phrase, { headers: answer ? [['Warning', answer.warning]] : [] }));
      },
      (answerSdp) => (this.#localSdp = answerSdp),
    );
    this.#reoffer = reoffer;
    if (this.listenerCount('reoffer') === 0) reoffer.accept(this.#localSdp);
    else this.emit('reoffer', reoffer);
  }

  refer(request: ReferRequest): Refer {
    const seq = ++this.#localSeq;
    const refer = new ReferSubscription(seq, request.timeoutMs ?? DEFAULT_REFER_TIMEOUT_MS, (done) => {
      if (this.#refer === done) this.#refer = undefined;
    });
    if (this.#refer) {
      setImmediate(() => refer.finish({ ok: false, sipStatus: 491, reason: 'a transfer is already in progress', stage: 'dialog' }));
      return refer;
    }
    if (this.#state !== 'confirmed') {
      setImmediate(() => refer.finish({ ok: false, sipStatus: 481, reason: `the dialog is ${this.#state}`, stage: 'dialog' }));
      return refer;
    }
    this.#refer = refer;
    let sent: InDialogRequest;
    try {
      sent = this.inDialogRequest('REFER', seq, referHeaders(this.#localUri, request.target, this.ctx.contact(this.flow), request.headers));
    } catch (err) {
      setImmediate(() => refer.finish({ ok: false, sipStatus: 503, reason: (err as Error).message, stage: 'refer' }));
      return refer;
    }
    void this.ctx.layer.request(sent.request, sent.dest, sent.branch).then((result) => {
      if (result.kind === 'timeout') refer.answered(408, 'no response to REFER');
      else if (result.kind === 'transport-error') refer.answered(503, `REFER could not be sent: ${result.error.message}`);
      else refer.answered(result.response.status, result.response.reason);
    });
    return refer;
  }

  bye(): Promise<void> {
    this.#bye ??= this.#sendBye();
    return this.#bye;
  }

  async #sendBye(): Promise<void> {
    // RFC 3261 15: no BYE before the ACK arrives or the wait for it ends.
    if (this.#state === 'early') await this.#ackSettled();
    if (this.#state === 'terminating' || this.#state === 'terminated') return;
    this.#state = 'terminating';
    this.#reoffer?.terminate();
    let bye: InDialogRequest;
    try {
      bye = this.inDialogRequest('BYE', ++this.#localSeq);
    } catch (err) {
      this.#terminate();
      throw err;
    }
    const result = await this.ctx.layer.request(bye.request, bye.dest, bye.branch);
    this.#terminate();
    if (result.kind === 'timeout') throw new Error('BYE got no response');
    if (result.kind === 'transport-error') throw new Error(`BYE could not be sent: ${result.error.message}`);
    if (result.response.status >= 300) throw new Error(`BYE answered ${result.response.status} ${result.response.reason}`);
  }

  /** A request to the remote target over the route set; see buildInDialogRequest. */
  protected inDialogRequest(method: string, seq: number, extra: HeaderFields = []): InDialogRequest {
    const address = {
      callId: this.callId,
      flow: this.flow,
      localUri: this.#localUri,
      remoteUri: this.#remoteUri,
      remoteTarget: this.#remoteTarget,
      routeSet: this.#routeSet,
      sentBy: (protocol: Protocol) => this.ctx.sentBy(protocol),
    };
    return buildInDialogRequest(address, method, seq, extra);
  }

  #ackSettled(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.off('confirmed', done);
        this.off('ackTimeout', done);
        this.off('bye', done);
        resolve();
      };
      this.on('confirmed', done);
      this.on('ackTimeout', done);
      this.on('bye', done);
    });
  }

  /** Sends a 200 OK to an INVITE and keeps it coming until the ACK (RFC 3261 13.3.1.4). */
  protected answerInvite(tx: ServerTransaction, recordRoute: string[]): void {
    const headers: Array<readonly [string, string]> = [
      ...recordRoute.map((rr) => ['Record-Route', rr] as const),
      ['Contact', this.ctx.contact(this.flow)],
      ['Allow', ALLOW],
    ];
    tx.respond(buildResponse(tx, 200, 'OK', { headers, body: this.#localSdp }));
    const pending: AckWait = new AckWait(tx, this.ctx.layer.timers, () => {
      if (this.#pendingAck !== pending) return;
      this.#stopWaitingForAck();
      // The session is established without its ACK; the application is expected to end it with BYE.
      if (this.#state === 'early') this.#state = 'confirmed';
      this.emit('ackTimeout');
    });
    this.#pendingAck = pending;
  }

  #stopWaitingForAck(): void {
    if (!this.#pendingAck) return;
    this.#pendingAck.stop();
    this.#pendingAck = undefined;
  }

  #terminate(): void {
    this.#reoffer?.terminate();
    this.#refer?.finish({ ok: false, sipStatus: 481, reason: 'the call ended during the transfer', stage: 'dialog' });
    this.#stopWaitingForAck();
    this.#state = 'terminated';
    this.ctx.forget(this);
  }
}
