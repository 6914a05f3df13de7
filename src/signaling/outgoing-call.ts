// An INVITE we send (RFC 3261 13.2): provisional responses, digest retries, CANCEL, and the dialog of the 2xx.
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { DialogContext, SipDialog } from './dialog.js';
import { UacDialog } from './dialog-uac.js';
import { authorization, parseChallenge } from './digest.js';
import type { HeaderFields, OutgoingRequest, SipResponse } from './message.js';
import { ALLOW, SERVER_NAME, warningText } from './responses.js';
import { nextHop } from './route-set.js';
import { newBranch, newTag } from './transaction.js';
import { sameBranchRequest, type InviteClientTransaction } from './transaction-invite-client.js';
import type { Connection } from './connection.js';
import type { Destination, Flow, Protocol } from './flow.js';
import type { DialFailure, DialRequest, OutgoingCall, OutgoingCallEvents } from './types.js';

/** What an outgoing INVITE needs from the user agent besides what its dialog needs. */
export interface DialContext extends DialogContext {
  /** Our Contact URI (with angle brackets) for requests sent over a protocol, with a user part when given one. */
  contactFor(protocol: Protocol, user?: string): string;
  /** The address family our socket for a protocol can send to. */
  family(protocol: Protocol): 4 | 6;
  adopt(dialog: SipDialog): void;
  /** The INVITE ended: answered or failed. */
  settled(call: OutgoingInvite): void;
}

type Cancelling = 'no' | 'wanted' | 'sent';

export class OutgoingInvite extends EventEmitter<OutgoingCallEvents> implements OutgoingCall {
  readonly callId = randomBytes(12).toString('hex');
  readonly #fromTag = newTag();
  #cseq = 1;
  #dest: Destination | undefined;
  #invite: OutgoingRequest | undefined;
  #branch = '';
  #tx: InviteClientTransaction | undefined;
  #provisional = false;
  #cancelling: Cancelling = 'no';
  #cancelTimer: NodeJS.Timeout | undefined;
  #outcome: 'pending' | 'answered' | 'failed' = 'pending';
  /** Every dialog a 2xx made, by remote tag: a retransmitted 2xx is ACKed again by its dialog. */
  readonly #dialogs = new Map<string, UacDialog>();
  /** Authorization headers by realm (RFC 3261 22.3: kept for the retries of this request). */
  readonly #credentials = new Map<string, readonly [string, string]>();
  readonly #nonceCounts = new Map<string, number>();

  constructor(
    private readonly ctx: DialContext,
    private readonly request: DialRequest,
  ) {
    super();
    // After the caller has attached its listeners: even a failure found at once is reported as an event.
    queueMicrotask(() => void this.#start());
  }

  cancel(): void {
    if (this.#outcome !== 'pending' || this.#cancelling !== 'no') return;
    if (!this.#tx) {
      this.#fail({ status: 487, reason: 'Request Terminated', detail: 'cancelled before the INVITE was sent' });
      return;
    }
    this.#cancelling = 'wanted';
    // RFC 3261 9.1: no CANCEL before a provisional response; it goes when the first one comes.
    if (this.#provisional) this.#sendCancel();
  }

  /** The stack is stopping: the INVITE is abandoned without a word on the wire. */
  terminate(): void {
    this.#tx?.terminate();
    this.#fail({ status: 503, reason: 'Service Unavailable', detail: 'the SIP stack stopped' });
  }

  /**
   * A stream connection closed. If the INVITE went out (or its responses came) on it, no final response can come any
   * more (RFC 3261 18.4, 17.1.1.2: a transport error): before any response Timer B would only say so 64*T1 later,
   * after a provisional no timer would at all. The INVITE fails 503 at once (8.1.3.1).
   */
  connectionLost(connection: Connection): void {
    if (this.#outcome !== 'pending' || this.#tx?.connection !== connection) return;
    this.#tx?.terminate();
    this.#fail({ status: 503, reason: 'Service Unavailable', detail: `the ${connection.protocol} connection to the trunk closed before a final response` });
  }

  async #start(): Promise<void> {
    if (this.#outcome !== 'pending') return;
    const hop = nextHop(this.request.proxy, 'udp');
    if (!hop) {
      this.#fail({ status: 503, reason: 'Service Unavailable', detail: `unusable proxy URI ${this.request.proxy}` });
      return;
    }
    let host = hop.host;
    if (net.isIP(host) === 0) {
      try {
        host = (await lookup(host, { family: this.ctx.family(hop.protocol) })).address;
      } catch (err) {
        this.#fail({ status: 503, reason: 'Service Unavailable', detail: `cannot resolve ${hop.host}: ${(err as Error).message}` });
        return;
      }
    }
    if (this.#outcome !== 'pending') return;
    this.#dest = {
      protocol: hop.protocol,
      host,
      port: hop.port,
      ...(host !== hop.host && { servername: hop.host }),
      ...(hop.protocol === 'tls' && this.request.tls?.ca && { ca: this.request.tls.ca }),
    };
    this.#send();
  }

  #send(): void {
    const dest = this.#dest!;
    const { request } = this;
    this.#branch = newBranch();
    const display = request.from.displayName === undefined ? '' : `"${request.from.displayName.replace(/["\\]/g, '\\$&')}" `;
    const headers: HeaderFields = [
      ['Via', `SIP/2.0/${dest.protocol.toUpperCase()} ${this.ctx.sentBy(dest.protocol)};branch=${this.#branch};rport`],
      ['Max-Forwards', '70'],
      ['From', `${display}<sip:${request.from.user}@${request.from.host}>;tag=${this.#fromTag}`],
      ['To', `<${request.to ?? request.uri}>`],
      ['Call-ID', this.callId],
      ['CSeq', `${this.#cseq} INVITE`],
      ['Contact', this.ctx.contactFor(dest.protocol, request.contactUser)],
      ['Allow', ALLOW],
      ['User-Agent', request.userAgent ?? SERVER_NAME],
      ...request.headers,
      ...[...this.#credentials.values()],
      ['Content-Type', 'application/sdp'],
    ];
    this.#invite = { method: 'INVITE', uri: request.uri, headers, body: request.sdp };
    this.#provisional = false;
    this.#tx = this.ctx.layer.invite(this.#invite, dest, this.#branch, {
      response: (response, flow) => this.#onResponse(response, flow),
      timeout: () => this.#fail({ status: 408, reason: 'Request Timeout', detail: 'no response to the INVITE' }),
      transportError: (error) => this.#fail({ status: 503, reason: 'Service Unavailable', detail: error.message }),
    });
  }

  #onResponse(response: SipResponse, flow: Flow): void {
    const { status } = response;
    if (status >= 200 && status < 300) {
      this.#on2xx(response, flow);
      return;
    }
    if (this.#outcome !== 'pending') return;
    if (status < 200) {
      this.#provisional = true;
      if (this.#cancelling === 'wanted') this.#sendCancel();
      if (status > 100 && this.#cancelling === 'no') this.emit('progress', status, response.reason, sdpOf(response));
      return;
    }
    const refused = (status === 401 || status === 407) && this.#cancelling === 'no' ? this.#authenticate(response) : undefined;
    if (refused === 'retried') return;
    const warning = response.headers.get('warning');
    this.#fail(refused ?? { status, reason: response.reason, ...(warning && { detail: warningText(warning) }) });
  }

  /** RFC 3261 22.2/22.3: one retry per challenge, a new branch and CSeq+1 with the credentials. */
  #authenticate(response: SipResponse): DialFailure | 'retried' {
    const { status, reason } = response;
    const { credentials } = this.request;
    if (!credentials) return { status, reason, detail: `the trunk asks for authentication (${status}) and no credentials are configured` };
    const challenges = response.headers.getAll(status === 401 ? 'www-authenticate' : 'proxy-authenticate');
    const problems: string[] = [];
    let answered = 0;
    for (const value of challenges) {
      const challenge = parseChallenge(value);
      if (typeof challenge === 'string') {
        problems.push(challenge);
        continue;
      }
      if (this.#credentials.has(challenge.realm) && !challenge.stale) {
        return { status, reason, detail: `credentials for realm "${challenge.realm}" were refused` };
      }
      const nonceCount = (this.#nonceCounts.get(challenge.nonce) ?? 0) + 1;
      this.#nonceCounts.set(challenge.nonce, nonceCount);
      const header = authorization({ challenge, method: 'INVITE', uri: this.request.uri, ...credentials, nonceCount });
      this.#credentials.set(challenge.realm, [status === 401 ? 'Authorization' : 'Proxy-Authorization', header]);
      answered++;
    }
    if (answered === 0) return { status, reason, detail: problems.join('; ') || 'no Digest challenge in the response' };
    this.#cseq++;
    this.#send();
    return 'retried';
  }

  #on2xx(response: SipResponse, flow: Flow): void {
    const remoteTag = response.to.params.get('tag') ?? '';
    const known = this.#dialogs.get(remoteTag);
    if (known) {
      known.reAck();
      return;
    }
    let dialog: UacDialog;
    try {
      dialog = new UacDialog(this.ctx, this.#invite!, response, flow, this.request.sdp, [...this.#credentials.values()]);
    } catch (err) {
      this.ctx.layer.log.warn({ callId: this.callId, err: (err as Error).message }, 'cannot ACK the 2xx');
      this.#fail({ status: 502, reason: 'Bad Gateway', detail: (err as Error).message });
      return;
    }
    this.#dialogs.set(remoteTag, dialog);
    this.ctx.adopt(dialog);
    if (this.#outcome === 'pending' && this.#cancelling === 'no') {
      this.#outcome = 'answered';
      this.#settle();
      this.emit('answered', dialog, sdpOf(response) ?? '');
      return;
    }
    // A second 2xx of a forked INVITE, or a 2xx that crossed our CANCEL (RFC 3261 13.2.2.4, 9.1): ACKed, then BYE.
    this.ctx.layer.log.info({ callId: this.callId, remoteTag }, 'ending an unwanted 2xx dialog with BYE');
    dialog.bye().catch((err: Error) => this.ctx.layer.log.debug({ callId: this.callId, err: err.message }, 'BYE of an unwanted dialog failed'));
    this.#fail({ status: 487, reason: 'Request Terminated', detail: 'cancelled; a 2xx crossed the CANCEL and was ended with BYE' });
  }

  #sendCancel(): void {
    this.#cancelling = 'sent';
    const cancel = sameBranchRequest(this.#invite!, 'CANCEL', undefined, [['User-Agent', this.request.userAgent ?? SERVER_NAME]]);
    this.ctx.layer.request(cancel, this.#dest!, this.#branch).then((result) => {
      if (result.kind !== 'response') this.ctx.layer.log.debug({ callId: this.callId, result: result.kind }, 'CANCEL got no response');
    });
    const tx = this.#tx;
    // RFC 3261 9.1: a final response should follow within 64*T1; past that the INVITE is given up.
    this.#cancelTimer = setTimeout(() => {
      tx?.terminate();
      this.#fail({ status: 487, reason: 'Request Terminated', detail: 'cancelled; no final response to the INVITE after the CANCEL' });
    }, 64 * this.ctx.layer.timers.t1);
  }

  #fail(failure: DialFailure): void {
    if (this.#outcome !== 'pending') return;
    this.#outcome = 'failed';
    this.#settle();
    this.emit('failed', failure);
  }

  #settle(): void {
    clearTimeout(this.#cancelTimer);
    this.ctx.settled(this);
  }
}

function sdpOf(response: SipResponse): string | undefined {
  const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  return response.body.length > 0 && type === 'application/sdp' ? response.body.toString('utf8') : undefined;
}
