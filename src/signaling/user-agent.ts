// The embedded SIP backend: a UAS core over our transports and transactions that hands the application calls.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Logger } from 'pino';
import { inviteContentRefusal } from './content.js';
import { dialogKey, type SipDialog } from './dialog.js';
import { IncomingInvite, type InviteContext } from './incoming-call.js';
import { OutgoingInvite, type DialContext } from './outgoing-call.js';
import type { SipHeaders, SipRequest } from './message.js';
import { parseVia, type MalformedRequest, type MalformedStatus } from './parser.js';
import { ACCEPT, ALLOW, buildResponse, buildStatelessResponse, NOT_A_TRANSFER_TARGET, REASON_PHRASES, warningValue } from './responses.js';
import { serializeResponse } from './serializer.js';
import { TransactionLayer, type ServerTransaction, type SipTimers } from './transaction.js';
import { responseDestination, type Endpoint, type Flow, type Protocol } from './flow.js';
import type { TlsEndpoint, TlsMaterial } from './tls-context.js';
import { SipTransport, type TrafficObserver } from './transport.js';
import type { BackendStatus, DialRequest, OutgoingCall, Refusal, SipBackend, SipBackendEvents, SipStats } from './types.js';

export interface EmbeddedSipOptions {
  readonly udp?: Endpoint;
  readonly tcp?: Endpoint;
  readonly tls?: TlsEndpoint;
  /** Host (name or IP) we put in Via and Contact; the listener's address when unset. */
  readonly advertisedHost?: string;
  readonly maxMessageBytes: number;
  readonly timers: SipTimers;
  /** Who may send us SIP, and what the others get: 403, or silence. */
  readonly allowSource: (address: string) => boolean;
  readonly refusedSources: 'reject' | 'drop';
  readonly maxConnectionsPerSource: number;
  readonly messageTimeoutMs: number;
  readonly log: Logger;
  /** Sees every SIP message sent (once sent) and received (before parsing), e.g. to print a ladder. */
  readonly onTraffic?: TrafficObserver;
}

/** Refusals are logged once a minute per source and reason: a scanner must not flood the log. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

export class EmbeddedSipBackend extends EventEmitter<SipBackendEvents> implements SipBackend {
  readonly #transport: SipTransport;
  readonly #layer: TransactionLayer;
  readonly #dialogs = new Map<string, SipDialog>();
  readonly #invites = new Map<ServerTransaction, IncomingInvite>();
  readonly #outgoing = new Set<OutgoingInvite>();
  readonly #log: Logger;
  readonly #ctx: InviteContext;
  readonly #dialCtx: DialContext;
  readonly #lastRefusalLog = new Map<string, number>();
  #status: BackendStatus = { up: false, reason: 'SIP listeners not bound yet' };

  constructor(private readonly options: EmbeddedSipOptions) {
    super();
    this.#log = options.log;
    this.#transport = new SipTransport({
      ...(options.udp && { udp: options.udp }),
      ...(options.tcp && { tcp: options.tcp }),
      ...(options.tls && { tls: options.tls }),
      maxMessageBytes: options.maxMessageBytes,
      // In "reject" mode a refused source may connect, so that its requests can be answered 403.
      acceptConnection: (address) => options.refusedSources === 'reject' || options.allowSource(address),
      maxConnectionsPerSource: options.maxConnectionsPerSource,
      messageTimeoutMs: options.messageTimeoutMs,
      log: options.log,
      ...(options.onTraffic && { onTraffic: options.onTraffic }),
    });
    this.#layer = new TransactionLayer(this.#transport, options.timers, options.log);
    this.#layer.on('request', (tx) => this.#onRequest(tx));
    this.#layer.on('ack', (ack) => this.#dialogOf(ack)?.acked(ack));
    this.#transport.on('message', (message, flow) => {
      // A response only reaches a client transaction by the random branch of a request we sent: any source may answer.
      if (message.kind === 'response' || this.options.allowSource(flow.address)) this.#layer.receive(message, flow);
      else this.#refuse(message.kind === 'request' ? message.headers : undefined, message.kind === 'request' ? message.method : undefined, flow);
    });
    this.#transport.on('malformed', (error, flow) => {
      if (this.options.allowSource(flow.address)) this.#onMalformed(error, flow);
      else this.#refuse(error.request?.headers, error.request?.method, flow);
    });
    this.#transport.on('refusedConnection', (address, reason) => this.#refused(reason, address));
    this.#transport.on('connectionClosed', (connection) => {
      for (const dialog of [...this.#dialogs.values()]) if (dialog.usesConnection(connection)) dialog.connectionLost();
      for (const call of [...this.#outgoing]) call.connectionLost(connection);
    });
    this.#ctx = {
      layer: this.#layer,
      contact: (flow) => this.#contact(flow),
      sentBy: (protocol) => this.#sentBy(protocol),
      forget: (dialog) => this.#dialogs.delete(dialog.key),
      adopt: (dialog) => this.#dialogs.set(dialog.key, dialog),
      settled: (invite) => this.#invites.delete(invite.tx),
    };
    this.#dialCtx = {
      ...this.#ctx,
      contactFor: (protocol, user) => `<sip:${user === undefined ? '' : `${user}@`}${this.#sentBy(protocol)}${protocol === 'udp' ? '' : `;transport=${protocol}`}>`,
      family: (protocol) => (net.isIPv6(this.#transport.listening[protocol]?.host ?? '') ? 6 : 4),
      settled: (call) => this.#outgoing.delete(call),
    };
  }

  get listening() {
    return this.#transport.listening;
  }

  stats(): SipStats {
    const { server, client } = this.#layer.size;
    return {
      dialogs: this.#dialogs.size,
      pendingInvites: this.#invites.size + this.#outgoing.size,
      outgoingInvites: this.#outgoing.size,
      transactions: server + client,
      clientTransactions: client,
      connections: this.#transport.connectionCount,
    };
  }

  get status(): BackendStatus {
    return this.#status;
  }

  dial(request: DialRequest): OutgoingCall {
    const call = new OutgoingInvite(this.#dialCtx, request);
    this.#outgoing.add(call);
    return call;
  }

  async start(): Promise<void> {
    await this.#transport.start();
    this.#status = { up: true };
  }

  reloadTls(material: TlsMaterial): void {
    this.#transport.reloadTls(material);
  }

  async stop(): Promise<void> {
    this.#status = { up: false, reason: 'SIP listeners closed' };
    for (const call of [...this.#outgoing]) call.terminate();
    this.#layer.stop();
    await this.#transport.stop();
  }

  #onRequest(tx: ServerTransaction): void {
    const { request } = tx;
    const require = request.headers.getList('require');
    if (require.length > 0 && request.method !== 'CANCEL') {
      tx.respond(buildResponse(tx, 420, 'Bad Extension', { headers: [['Unsupported', require.join(', ')]] }));
      return;
    }
    if (request.method === 'CANCEL') {
      this.#onCancel(tx);
      return;
    }
    if (request.to.params.has('tag')) {
      const dialog = this.#dialogOf(request);
      if (dialog) dialog.handle(tx);
      else tx.respond(buildResponse(tx, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    switch (request.method) {
      case 'INVITE':
        this.#onInvite(tx);
        return;
      case 'OPTIONS':
        tx.respond(buildResponse(tx, 200, 'OK', { headers: [['Allow', ALLOW], ['Accept', ACCEPT]] }));
        return;
      case 'REFER':
        tx.respond(buildResponse(tx, 403, 'Forbidden', { headers: [['Warning', warningValue(399, NOT_A_TRANSFER_TARGET)]] }));
        return;
      case 'BYE':
      case 'INFO':
      case 'UPDATE':
        tx.respond(buildResponse(tx, 481, 'Call/Transaction Does Not Exist'));
        return;
      default:
        tx.respond(buildResponse(tx, 405, 'Method Not Allowed', { headers: [['Allow', ALLOW]] }));
    }
  }

  #onInvite(tx: ServerTransaction): void {
    tx.respond(buildResponse(tx, 100, 'Trying'));
    if (!tx.request.headers.has('contact')) {
      tx.respond(buildResponse(tx, 400, 'Bad Request', { headers: [['Warning', warningValue(399, 'missing Contact header')]] }));
      return;
    }
    const refusal = inviteContentRefusal(tx.request.headers, tx.request.body);
    if (refusal) {
      this.#log.info({ sip_call_id: tx.request.callId, source: tx.flow.address, status: refusal.status, reason: refusal.reason }, 'INVITE refused');
      const warning = ['Warning', warningValue(399, refusal.reason)] as const;
      tx.respond(buildResponse(tx, refusal.status, refusal.phrase, { headers: [...refusal.headers, warning] }));
      return;
    }
    const invite = new IncomingInvite(this.#ctx, tx);
    this.#invites.set(tx, invite);
    this.emit('invite', invite);
  }

  #onCancel(tx: ServerTransaction): void {
    const inviteTx = this.#layer.inviteFor(tx.request);
    if (!inviteTx) {
      tx.respond(buildResponse(tx, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    // RFC 3261 9.2: the same To tag as the INVITE's responses.
    tx.respond(buildResponse(tx, 200, 'OK', { toTag: inviteTx.localTag }));
    this.#invites.get(inviteTx)?.cancel();
  }

  #dialogOf(request: SipRequest): SipDialog | undefined {
    const local = request.to.params.get('tag');
    const remote = request.from.params.get('tag') ?? '';
    return local ? this.#dialogs.get(dialogKey(request.callId, local, remote)) : undefined;
  }

  #onMalformed(error: { reason: string; status: MalformedStatus; request?: MalformedRequest }, flow: Flow): void {
    this.#refused('malformed', flow.address, error.reason);
    const { request } = error;
    if (!request || request.method === 'ACK') return;
    this.#sendStateless(request.headers, error.status, REASON_PHRASES[error.status], error.reason, flow);
  }

  /** A message from a source that may not send us SIP: 403 (for requests other than ACK), or nothing. */
  #refuse(headers: SipHeaders | undefined, method: string | undefined, flow: Flow): void {
    this.#refused('source-not-allowed', flow.address);
    if (this.options.refusedSources === 'reject' && headers && method !== 'ACK') {
      this.#sendStateless(headers, 403, 'Forbidden', `source address ${flow.address} is not allowed`, flow);
    }
  }

  #refused(reason: Refusal['reason'], source: string, detail?: string): void {
    const key = `${reason}|${source}`;
    const now = Date.now();
    if ((this.#lastRefusalLog.get(key) ?? 0) + REFUSAL_LOG_INTERVAL_MS <= now) {
      if (this.#lastRefusalLog.size > 10_000) this.#lastRefusalLog.clear();
      this.#lastRefusalLog.set(key, now);
      this.#log.warn({ source, reason, ...(detail && { detail }) }, 'SIP refused');
    }
    this.emit('refused', { reason, source });
  }

  #sendStateless(headers: SipHeaders, status: number, phrase: string, warning: string, flow: Flow): void {
    const data = serializeResponse(buildStatelessResponse(headers, status, phrase, warning));
    const topVia = headers.getList('via')[0];
    const via = topVia ? parseVia(topVia) : undefined;
    const dest = via?.ok
      ? responseDestination(via.value, flow)
      : { protocol: flow.protocol, host: flow.address, port: flow.port, ...(flow.connection && { connection: flow.connection }) };
    this.#transport.send(data, dest).catch((err: Error) => this.#log.debug({ err: err.message }, 'could not send stateless response'));
  }

  #contact(flow: Flow): string {
    const transport = flow.protocol === 'udp' ? '' : `;transport=${flow.protocol}`;
    return `<sip:${hostForUri(this.options.advertisedHost ?? flow.local.host)}:${flow.local.port}${transport}>`;
  }

  #sentBy(protocol: Protocol): string {
    const bound = this.#transport.listening[protocol];
    return `${hostForUri(this.options.advertisedHost ?? bound?.host ?? '127.0.0.1')}:${bound?.port ?? 5060}`;
  }
}

function hostForUri(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}
