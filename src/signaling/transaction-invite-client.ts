// RFC 3261 17.1.1 client INVITE transaction (with RFC 6026's Accepted state): retransmissions, the ACK of a non-2xx.
import type { Connection } from './connection.js';
import type { HeaderFields, OutgoingRequest, SipResponse } from './message.js';
import { headerKey } from './message.js';
import { serializeRequest } from './serializer.js';
import type { TransactionLayer } from './transaction.js';
import type { Destination, Flow } from './flow.js';
import { TimerSet } from './timer-set.js';

/** What the transaction user (the outgoing call) hears. */
export interface InviteClientUser {
  /** Every 1xx, the first 2xx and each 2xx after it (retransmitted or forked), the first non-2xx final. */
  response(response: SipResponse, flow: Flow): void;
  /** Timer B: no final response in 64*T1 (only before any provisional, RFC 3261 17.1.1.2). */
  timeout(): void;
  transportError(error: Error): void;
}

type State = 'calling' | 'proceeding' | 'accepted' | 'completed' | 'terminated';

/**
 * - calling:    Timer A resends the INVITE (UDP: T1, 2*T1, ... no cap); 1xx -> proceeding; 2xx -> accepted;
 *               3xx-6xx -> ACK, completed; Timer B (64*T1) -> terminated (timeout)
 * - proceeding: 1xx -> user; 2xx -> accepted; 3xx-6xx -> ACK, completed
 * - accepted:   each 2xx -> user (the dialog ACKs it); Timer M (64*T1) -> terminated
 * - completed:  a retransmitted final -> ACK again; Timer D (64*T1 over UDP, 0 otherwise) -> terminated
 */
export class InviteClientTransaction {
  #state: State = 'calling';
  readonly #timers = new TimerSet();
  #ack: Buffer | undefined;
  readonly #data: Buffer;
  #connection: Connection | undefined;

  constructor(
    private readonly layer: TransactionLayer,
    readonly key: string,
    private readonly request: OutgoingRequest,
    private readonly dest: Destination,
    private readonly user: InviteClientUser,
  ) {
    this.#data = serializeRequest(request);
    const { t1 } = layer.timers;
    this.#send(this.#data);
    if (dest.protocol === 'udp') this.#resend(t1);
    this.#timers.after(64 * t1, () => {
      if (this.#state !== 'calling') return;
      this.terminate();
      this.user.timeout();
    });
  }

  get state(): State {
    return this.#state;
  }

  /** The TCP/TLS connection the INVITE went out on, or the one its latest response came over. */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  received(response: SipResponse, flow: Flow): void {
    const { status } = response;
    if (flow.connection) this.#connection = flow.connection;
    switch (this.#state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          this.#state = 'proceeding';
          this.#timers.clear(); // Timer A stops; Timer B only bounds the calling state
        } else if (status < 300) {
          this.#timers.clear();
          this.#state = 'accepted';
          this.#timers.after(64 * this.layer.timers.t1, () => this.terminate());
        } else {
          this.#timers.clear();
          this.#state = 'completed';
          this.#ack = serializeRequest(sameBranchRequest(this.request, 'ACK', response.headers.get('to')));
          this.#send(this.#ack);
          this.#timers.after(flow.protocol === 'udp' ? 64 * this.layer.timers.t1 : 0, () => this.terminate());
        }
        this.user.response(response, flow);
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.user.response(response, flow);
        return;
      case 'completed':
        if (status >= 300 && this.#ack) this.#send(this.#ack);
        return;
      case 'terminated':
        return;
    }
  }

  /** Ends it quietly (a CANCEL that got no final, or the stack stopping). */
  terminate(): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    this.#timers.clear();
    this.layer.forget(this);
  }

  #send(data: Buffer): void {
    this.layer.transport.send(data, this.dest).then((connection) => {
      if (connection) this.#connection = connection;
    }, (error: Error) => {
      if (this.#state !== 'calling' && this.#state !== 'proceeding') return;
      this.terminate();
      this.user.transportError(error);
    });
  }

  #resend(interval: number): void {
    this.#timers.after(interval, () => {
      if (this.#state !== 'calling') return;
      this.#send(this.#data);
      this.#resend(2 * interval);
    });
  }


}

/**
 * A request on the INVITE's own transaction: the ACK of a non-2xx final (RFC 3261 17.1.1.3, To from the response) or
 * a CANCEL (9.1): the INVITE's Request-URI, top Via (so its branch), Route, From, To, Call-ID and CSeq number.
 */
export function sameBranchRequest(invite: OutgoingRequest, method: 'ACK' | 'CANCEL', to?: string, extra: HeaderFields = []): OutgoingRequest {
  const headers: Array<readonly [string, string]> = [];
  let via = false;
  for (const [name, value] of invite.headers) {
    const key = headerKey(name);
    if (key === 'via' && !via) {
      via = true;
      headers.push([name, value]);
    } else if (key === 'max-forwards' || key === 'route' || key === 'from' || key === 'call-id') {
      headers.push([name, value]);
    } else if (key === 'to') {
      headers.push([name, to ?? value]);
    } else if (key === 'cseq') {
      headers.push([name, `${value.trim().split(/\s+/)[0]} ${method}`]);
    }
  }
  return { method, uri: invite.uri, headers: [...headers, ...extra] };
}
