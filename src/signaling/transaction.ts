// RFC 3261 section 17 server transactions (with RFC 6026's Accepted state), and the layer that matches messages to every transaction.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { BRANCH_COOKIE, type OutgoingRequest, type OutgoingResponse, type SipMessage, type SipRequest, type Via } from './message.js';
import { serializeRequest, serializeResponse } from './serializer.js';
import { ClientTransaction, type ClientResult } from './transaction-client.js';
import { InviteClientTransaction, type InviteClientUser } from './transaction-invite-client.js';
import { responseDestination, type Destination, type Flow } from './flow.js';
import type { SipTransport } from './transport.js';
import { TimerSet } from './timer-set.js';

export interface SipTimers {
  /** RTT estimate; retransmissions start here and double. */
  readonly t1: number;
  /** Retransmission cap. */
  readonly t2: number;
  /** How long the network may hold a message. */
  readonly t4: number;
}

export const DEFAULT_TIMERS: SipTimers = { t1: 500, t2: 4000, t4: 5000 };

export function newBranch(): string {
  return `${BRANCH_COOKIE}${randomBytes(8).toString('hex')}`;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

type ServerState = 'trying' | 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

/**
 * What happens in each state (I = INVITE transaction, N = non-INVITE):
 * - trying (N):      retransmission absorbed; 1xx -> proceeding; final -> completed
 * - proceeding:      retransmission -> resend last 1xx; I: 2xx -> accepted, 3xx-6xx -> completed; N: final -> completed
 * - accepted (I):    INVITE retransmission absorbed (the dialog resends 2xx); Timer L -> terminated
 * - completed:       retransmission -> resend final; I: ACK -> confirmed, Timer G resends (UDP), Timer H -> terminated
 *                    (ACK lost); N: Timer J -> terminated
 * - confirmed (I):   Timer I -> terminated
 */
export class ServerTransaction {
  #state: ServerState;
  #last: Buffer | undefined;
  readonly #timers = new TimerSet();
  readonly #dest: Destination;
  /** The top Via with received/rport filled in, as copied into responses. */
  readonly topVia: string;
  /** Our To tag in every response to this request (the dialog's local tag, for an INVITE that makes one). */
  readonly localTag = newTag();

  constructor(
    private readonly layer: TransactionLayer,
    readonly key: string,
    readonly request: SipRequest,
    readonly flow: Flow,
  ) {
    this.#state = request.method === 'INVITE' ? 'proceeding' : 'trying';
    this.topVia = stampVia(request.via[0], flow);
    this.#dest = responseDestination(request.via[0], flow);
  }

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  get state(): ServerState {
    return this.#state;
  }

  /** Whether a final response has been sent. */
  get finished(): boolean {
    return this.#state !== 'trying' && this.#state !== 'proceeding';
  }

  respond(response: OutgoingResponse): void {
    if (this.finished) {
      this.layer.log.debug({ callId: this.request.callId, status: response.status }, 'response after final ignored');
      return;
    }
    this.#last = serializeResponse(response);
    this.#transmit();
    const { status } = response;
    const t = this.layer.timers;
    const reliable = this.flow.protocol !== 'udp';
    if (status < 200) {
      this.#state = 'proceeding';
    } else if (this.isInvite && status < 300) {
      this.#state = 'accepted';
      this.#timers.after(64 * t.t1, () => this.terminate());
    } else if (this.isInvite) {
      this.#state = 'completed';
      if (!reliable) this.#retransmit(t.t1);
      this.#timers.after(64 * t.t1, () => {
        this.layer.log.debug({ callId: this.request.callId }, 'no ACK for a final non-2xx response');
        this.terminate();
      });
    } else {
      this.#state = 'completed';
      this.#timers.after(reliable ? 0 : 64 * t.t1, () => this.terminate());
    }
  }

  /** The same request arrived again. */
  retransmitted(): void {
    if ((this.#state === 'proceeding' || this.#state === 'completed') && this.#last) this.#transmit();
  }

  /** The UAS core's 2xx retransmission (RFC 3261 13.3.1.4); the transaction itself never resends a 2xx. */
  resend2xx(): void {
    if (this.#state === 'accepted') this.#transmit();
  }

  /** An ACK matched this INVITE transaction (only meaningful after a non-2xx final). */
  acked(): void {
    if (this.#state !== 'completed') return;
    this.#timers.clear();
    this.#state = 'confirmed';
    this.#timers.after(this.flow.protocol === 'udp' ? this.layer.timers.t4 : 0, () => this.terminate());
  }

  terminate(): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    this.#timers.clear();
    this.layer.forget(this);
  }

  #retransmit(interval: number): void {
    this.#timers.after(interval, () => {
      if (this.#state !== 'completed') return;
      this.#transmit();
      this.#retransmit(Math.min(2 * interval, this.layer.timers.t2));
    });
  }

  #transmit(): void {
    const data = this.#last!;
    this.layer.transport.send(data, this.#dest).catch((err: Error) => {
      this.layer.log.warn({ callId: this.request.callId, err: err.message }, 'could not send response');
    });
  }


}

interface TransactionEvents {
  /** A new request that is not a retransmission; ACKs for 2xx arrive as `ack`. */
  request: [tx: ServerTransaction];
  /** An ACK that belongs to no INVITE transaction: the ACK of a 2xx, for the dialog layer. */
  ack: [ack: SipRequest, flow: Flow];
}

export class TransactionLayer extends EventEmitter<TransactionEvents> {
  readonly #server = new Map<string, ServerTransaction>();
  readonly #client = new Map<string, ClientTransaction | InviteClientTransaction>();

  constructor(
    readonly transport: SipTransport,
    readonly timers: SipTimers,
    readonly log: Logger,
  ) {
    super();
  }

  /** A message the transport received and the user agent admitted. */
  receive(message: SipMessage, flow: Flow): void {
    if (message.kind === 'request') this.#onRequest(message, flow);
    else this.#client.get(clientKey(message.via[0].params.get('branch') ?? '', message.cseq.method))?.received(message, flow);
  }

  get size(): { server: number; client: number } {
    return { server: this.#server.size, client: this.#client.size };
  }

  /** The INVITE transaction a CANCEL targets (same branch, RFC 3261 9.2). */
  inviteFor(cancel: SipRequest): ServerTransaction | undefined {
    return this.#server.get(serverKey(cancel, 'INVITE'));
  }

  /** Sends a non-INVITE request whose top Via carries `branch` (from newBranch()). */
  request(request: OutgoingRequest, dest: Destination, branch: string): Promise<ClientResult> {
    const key = clientKey(branch, request.method);
    const tx = new ClientTransaction(this, key, serializeRequest(request), dest);
    this.#client.set(key, tx);
    return tx.result;
  }

  /** Sends an INVITE whose top Via carries `branch`; responses go to `user`. */
  invite(request: OutgoingRequest, dest: Destination, branch: string, user: InviteClientUser): InviteClientTransaction {
    const key = clientKey(branch, 'INVITE');
    const tx = new InviteClientTransaction(this, key, request, dest, user);
    // A synchronous transport failure may already have ended it.
    if (tx.state !== 'terminated') this.#client.set(key, tx);
    return tx;
  }

  forget(tx: ServerTransaction | ClientTransaction | InviteClientTransaction): void {
    if (tx instanceof ServerTransaction) {
      if (this.#server.get(tx.key) === tx) this.#server.delete(tx.key);
    } else if (this.#client.get(tx.key) === tx) {
      this.#client.delete(tx.key);
    }
  }

  stop(): void {
    for (const tx of [...this.#server.values()]) tx.terminate();
    for (const tx of [...this.#client.values()]) tx.terminate();
  }

  #onRequest(request: SipRequest, flow: Flow): void {
    if (request.method === 'ACK') {
      const invite = this.#server.get(serverKey(request, 'INVITE'));
      if (invite && invite.state === 'completed') invite.acked();
      else if (!invite || invite.state !== 'confirmed') this.emit('ack', request, flow);
      return;
    }
    const key = serverKey(request, request.method);
    const existing = this.#server.get(key);
    if (existing) {
      existing.retransmitted();
      return;
    }
    const tx = new ServerTransaction(this, key, request, flow);
    this.#server.set(key, tx);
    this.emit('request', tx);
  }
}

/** RFC 3261 17.2.3 matching; falls back to RFC 2543 fields when the branch lacks the magic cookie. */
function serverKey(request: SipRequest, method: string): string {
  const via = request.via[0];
  const branch = via.params.get('branch');
  if (branch?.startsWith(BRANCH_COOKIE)) return `${branch}|${via.host}:${via.port ?? ''}|${method}`;
  return `${request.callId}|${request.from.params.get('tag') ?? ''}|${request.cseq.seq}|${via.raw}|${method}`;
}

function clientKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

/** Adds received= when the source differs from sent-by and fills in an empty rport (RFC 3581). */
function stampVia(via: Via, flow: Flow): string {
  let raw = via.raw;
  if (via.params.has('rport') && !via.params.get('rport')) {
    raw = raw.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${flow.port}`);
  }
  if (via.host !== flow.address && !via.params.has('received')) raw += `;received=${flow.address}`;
  return raw;
}
