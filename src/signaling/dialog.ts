// The UAS side of a dialog (RFC 3261 section 12-15): 2xx until ACK, in-dialog requests, BYE both ways.
import { EventEmitter } from 'node:events';
import type { SipRequest } from './message.js';
import { contactUri } from './parser.js';
import { inDialogTarget } from './route-set.js';
import { DTMF_INFO_TYPES, parseDtmfInfo } from './dtmf-info.js';
import { PendingReoffer } from './reoffer.js';
import { ALLOW, buildResponse, SERVER_NAME } from './responses.js';
import { newBranch, type ServerTransaction, type TransactionLayer } from './transaction.js';
import type { Connection, Destination, Flow, Protocol } from './transport.js';
import type { Dialog, DialogEvents } from './types.js';

/** What a dialog needs from the user agent that created it. */
export interface DialogContext {
  readonly layer: TransactionLayer;
  /** Our Contact URI (with angle brackets) for the listener a flow arrived on. */
  contact(flow: Flow): string;
  /** host:port for the Via of requests we send over a protocol. */
  sentBy(protocol: Protocol): string;
  forget(dialog: UasDialog): void;
}

type DialogState = 'early' | 'confirmed' | 'terminating' | 'terminated';

/** A 2xx to an INVITE (initial or re-INVITE) waiting for its ACK. */
interface PendingAck {
  readonly tx: ServerTransaction;
  readonly timers: NodeJS.Timeout[];
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

export class UasDialog extends EventEmitter<DialogEvents> implements Dialog {
  readonly callId: string;
  readonly key: string;
  #state: DialogState = 'early';
  #localSeq = 0;
  #remoteSeq: number;
  #pendingAck: PendingAck | undefined;
  #bye: Promise<void> | undefined;
  /** A re-offer the application has not answered yet. */
  #reoffer: PendingReoffer | undefined;
  #localSdp: string;
  readonly #localUri: string;
  readonly #remoteUri: string;
  readonly #remoteTarget: string;
  readonly #routeSet: string[];
  readonly #flow: Flow;

  /** Creates the dialog from an INVITE with a Contact (checked by the caller) and sends the 200 OK. */
  constructor(
    private readonly ctx: DialogContext,
    invite: ServerTransaction,
    localSdp: string,
  ) {
    super();
    const { request } = invite;
    const localTag = invite.localTag;
    this.callId = request.callId;
    this.key = dialogKey(request.callId, localTag, request.from.params.get('tag') ?? '');
    this.#remoteSeq = request.cseq.seq;
    this.#localSdp = localSdp;
    this.#localUri = `${request.headers.get('to')!};tag=${localTag}`;
    this.#remoteUri = request.headers.get('from')!;
    this.#remoteTarget = contactUri(request) ?? request.from.uri;
    this.#routeSet = request.headers.getList('record-route');
    this.#flow = invite.flow;
    this.#answer(invite, request.headers.getAll('record-route'));
  }

  get state(): DialogState {
    return this.#state;
  }

  /** Whether the dialog's requests come over this stream connection. */
  usesConnection(connection: Connection): boolean {
    return this.#flow.connection === connection;
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
          this.#answer(tx, []);
          return;
        }
        tx.respond(buildResponse(tx, 100, 'Trying'));
        this.#offered(tx, body, () => this.#answer(tx, []));
        return;
      }
      case 'UPDATE': {
        if (this.#reoffer) {
          tx.respond(buildResponse(tx, 500, 'Server Internal Error', { headers: [['Retry-After', '1']] }));
          return;
        }
        const contact: [string, string] = ['Contact', this.ctx.contact(this.#flow)];
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
    const target = inDialogTarget(this.#routeSet, this.#remoteTarget, this.#flow.protocol);
    const { hop } = target;
    if (!hop) {
      this.#terminate();
      throw new Error(`cannot send BYE: no usable next hop in route set [${this.#routeSet.join(', ')}] and remote target ${this.#remoteTarget}`);
    }
    const branch = newBranch();
    const headers: Array<readonly [string, string]> = [
      ['Via', `SIP/2.0/${hop.protocol.toUpperCase()} ${this.ctx.sentBy(hop.protocol)};branch=${branch};rport`],
      ['Max-Forwards', '70'],
      ...target.routes.map((route) => ['Route', route] as const),
      ['From', this.#localUri],
      ['To', this.#remoteUri],
      ['Call-ID', this.callId],
      ['CSeq', `${++this.#localSeq} BYE`],
      ['User-Agent', SERVER_NAME],
    ];
    const dest: Destination = {
      ...hop,
      ...(this.#flow.connection && this.#flow.protocol === hop.protocol && { connection: this.#flow.connection }),
    };
    const result = await this.ctx.layer.request({ method: 'BYE', uri: target.uri, headers }, dest, branch);
    this.#terminate();
    if (result.kind === 'timeout') throw new Error('BYE got no response');
    if (result.kind === 'transport-error') throw new Error(`BYE could not be sent: ${result.error.message}`);
    if (result.response.status >= 300) throw new Error(`BYE answered ${result.response.status} ${result.response.reason}`);
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
  #answer(tx: ServerTransaction, recordRoute: string[]): void {
    const headers: Array<readonly [string, string]> = [
      ...recordRoute.map((rr) => ['Record-Route', rr] as const),
      ['Contact', this.ctx.contact(this.#flow)],
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
    this.#stopWaitingForAck();
    this.#state = 'terminated';
    this.ctx.forget(this);
  }
}
