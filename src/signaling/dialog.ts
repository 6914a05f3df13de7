// A SIP dialog (RFC 3261 section 12-15) once established, whichever side made it: in-dialog requests, BYE both
// ways; and the UAS start (2xx until ACK). The UAC start is in dialog-uac.ts.
import { EventEmitter } from 'node:events';
import type { HeaderFields, OutgoingRequest, SipRequest } from './message.js';
import { inDialogTarget } from './route-set.js';
import { DTMF_INFO_TYPES, parseDtmfInfo } from './dtmf-info.js';
import { PendingReoffer } from './reoffer.js';
import { DEFAULT_REFER_TIMEOUT_MS, ReferSubscription, type Refer, type ReferRequest } from './refer.js';
import { parseNameAddr } from './parser.js';
import { ALLOW, buildResponse, NOT_A_TRANSFER_TARGET, SERVER_NAME, warningValue } from './responses.js';
import { newBranch, type ServerTransaction, type TransactionLayer } from './transaction.js';
import type { Connection } from './connection.js';
import type { Destination, Flow, Protocol } from './flow.js';
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

/** A request inside the dialog, ready for the transaction layer or the transport. */
export interface InDialogRequest {
  readonly request: OutgoingRequest;
  readonly dest: Destination;
  readonly branch: string;
}

/** A 2xx to an INVITE (initial or re-INVITE) waiting for its ACK. */
interface PendingAck {
  readonly tx: ServerTransaction;
  readonly timers: NodeJS.Timeout[];
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
  #pendingAck: PendingAck | undefined;
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
      case 'INFO': {
        const press = parseDtmfInfo(request.headers.get('content-type') ?? '', body ?? '');
        if (!press) {
          tx.respond(buildResponse(tx, 415, 'Unsupported Media Type', { headers: [['Accept', DTMF_INFO_TYPES.join(', ')]] }));
          return;
        }
        tx.respond(buildResponse(tx, 200, 'OK'));
        this.emit('dtmf', press.digit, press.durationMs);
        return;
      }
      case 'OPTIONS': {
        tx.respond(buildResponse(tx, 200, 'OK', { headers: [['Allow', ALLOW]] }));
        return;
      }
      case 'NOTIFY': {
        this.#onNotify(tx, body ?? '');
        return;
      }
      case 'REFER': {
        tx.respond(buildResponse(tx, 403, 'Forbidden', { headers: [['Warning', warningValue(399, NOT_A_TRANSFER_TARGET)]] }));
        return;
      }
      default:
        tx.respond(buildResponse(tx, 405, 'Method Not Allowed', { headers: [['Allow', ALLOW]] }));
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

  /** RFC 3515 NOTIFY for our REFER's implicit subscription (Event: refer;id=<REFER CSeq>); anything else is 481. */
  #onNotify(tx: ServerTransaction, body: string): void {
    const { request } = tx;
    const event = request.headers.get('event') ?? '';
    const [pkg, ...params] = event.split(';').map((p) => p.trim());
    const id = params.find((p) => /^id=/i.test(p))?.slice(3);
    const refer = this.#refer;
    if (pkg?.toLowerCase() !== 'refer' || !refer || (id !== undefined && Number(id) !== refer.id)) {
      tx.respond(buildResponse(tx, 481, 'Subscription Does Not Exist'));
      return;
    }
    tx.respond(buildResponse(tx, 200, 'OK'));
    refer.notified({ body, subscriptionState: request.headers.get('subscription-state') });
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
      const local = parseNameAddr(this.#localUri);
      const referredBy = local.ok ? local.value.uri : this.#localUri;
      sent = this.inDialogRequest('REFER', seq, [
        ['Refer-To', `<${request.target}>`],
        ['Referred-By', `<${referredBy}>`],
        ['Contact', this.ctx.contact(this.flow)],
        ...(request.headers ?? []),
      ]);
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

  /**
   * A request to the remote target over the route set (RFC 3261 12.2.1.1); throws when there is no usable next hop.
   * An ACK for 2xx takes the INVITE's CSeq number (13.2.2.4).
   */
  protected inDialogRequest(method: string, seq: number, extra: HeaderFields = []): InDialogRequest {
    const target = inDialogTarget(this.#routeSet, this.#remoteTarget, this.flow.protocol);
    const { hop } = target;
    if (!hop) {
      throw new Error(`cannot send ${method}: no usable next hop in route set [${this.#routeSet.join(', ')}] and remote target ${this.#remoteTarget}`);
    }
    const branch = newBranch();
    const headers: Array<readonly [string, string]> = [
      ['Via', `SIP/2.0/${hop.protocol.toUpperCase()} ${this.ctx.sentBy(hop.protocol)};branch=${branch};rport`],
      ['Max-Forwards', '70'],
      ...target.routes.map((route) => ['Route', route] as const),
      ['From', this.#localUri],
      ['To', this.#remoteUri],
      ['Call-ID', this.callId],
      ['CSeq', `${seq} ${method}`],
      ['User-Agent', SERVER_NAME],
      ...extra,
    ];
    const dest: Destination = {
      ...hop,
      ...(this.flow.connection && this.flow.protocol === hop.protocol && { connection: this.flow.connection }),
    };
    return { request: { method, uri: target.uri, headers }, dest, branch };
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
    const { t1, t2 } = this.ctx.layer.timers;
    const timers: NodeJS.Timeout[] = [];
    const pending: PendingAck = { tx, timers };
    this.#pendingAck = pending;
    if (tx.flow.protocol === 'udp') {
      const resend = (interval: number) => {
        timers.push(
          setTimeout(() => {
            tx.resend2xx();
            resend(Math.min(2 * interval, t2));
          }, interval),
        );
      };
      resend(t1);
    }
    timers.push(
      setTimeout(() => {
        if (this.#pendingAck !== pending) return;
        this.#stopWaitingForAck();
        // The session is established without its ACK; the application is expected to end it with BYE.
        if (this.#state === 'early') this.#state = 'confirmed';
        this.emit('ackTimeout');
      }, 64 * t1),
    );
  }

  #stopWaitingForAck(): void {
    if (!this.#pendingAck) return;
    for (const timer of this.#pendingAck.timers) clearTimeout(timer);
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
