// The drachtio backend: drachtio-server speaks SIP on the wire, drachtio-srf hands us its requests and dialogs, and
// this adapter turns them into the same IncomingCall and Dialog the embedded stack produces.
import { EventEmitter } from 'node:events';
import Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import { DrachtioDialog } from './drachtio-dialog.js';
import { DrachtioLink, type SrfConnection } from './drachtio-link.js';
import { DrachtioOutgoingCall, type SrfUac } from './drachtio-outgoing.js';
import type { HeaderFields } from './message.js';
import { parseMessage } from './parser.js';
import { partyOfHeader } from './party.js';
import { ALLOW, NOT_A_TRANSFER_TARGET, warningValue } from './responses.js';
import type {
  BackendStatus,
  DialRequest,
  OutgoingCall,
  Dialog,
  IncomingCall,
  IncomingCallEvents,
  Party,
  RejectDetails,
  SipBackend,
  SipBackendEvents,
  SipProtocol,
  SipStats,
} from './types.js';

export interface DrachtioOptions {
  /** drachtio-server's admin socket, which the bridge connects to ("inbound" connection). */
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  /** Who may send us SIP; the others get 403 (drachtio-server's transaction needs an answer, so there is no silent drop). */
  readonly allowSource: (address: string) => boolean;
  readonly log: Logger;
}

/** How long stop() waits for the BYEs of the dialogs left before it closes the connection anyway. */
const STOP_BYE_WAIT_MS = 2000;

type Handler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;

/** The slice of drachtio-srf's Srf that the adapter uses; tests give it a stand-in. */
export interface SrfLike extends SrfConnection, SrfUac {
  invite(handler: Handler): void;
  options(handler: Handler): void;
  refer(handler: Handler): void;
  createUAS(req: Srf.SrfRequest, res: Srf.SrfResponse, opts: Srf.CreateUASOptions): Promise<Srf.Dialog>;
}

/** drachtio-srf defines a handler per SIP method at run time (srf.options among them); its types omit them. */
const newSrf = (): SrfLike => new Srf() as unknown as SrfLike;

export class DrachtioBackend extends EventEmitter<SipBackendEvents> implements SipBackend {
  readonly #dialogs = new Set<DrachtioDialog>();
  readonly #pending = new Set<DrachtioIncomingCall>();
  readonly #outgoing = new Set<DrachtioOutgoingCall>();
  readonly #link: DrachtioLink;

  constructor(
    private readonly options: DrachtioOptions,
    private readonly srf: SrfLike = newSrf(),
  ) {
    super();
    this.#link = new DrachtioLink(srf, options);
  }

  get status(): BackendStatus {
    return this.#link.status;
  }

  get listening(): Readonly<Partial<Record<SipProtocol, { host: string; port: number }>>> {
    return {};
  }

  stats(): SipStats {
    // Our own INVITEs still waiting for their outcome count as pending too: idle and leak checks see them.
    return { dialogs: this.#dialogs.size, pendingInvites: this.#pending.size + this.#outgoing.size };
  }

  /** Sends the INVITE through drachtio-server to the trunk (`proxy`); drachtio-srf answers 401/407 challenges itself. */
  dial(request: DialRequest): OutgoingCall {
    const call = new DrachtioOutgoingCall(this.srf, request, {
      settled: () => this.#outgoing.delete(call),
      adopt: (dialog) => this.#dialogs.add(dialog),
      forget: (dialog) => this.#dialogs.delete(dialog),
    });
    this.#outgoing.add(call);
    return call;
  }

  async start(): Promise<void> {
    this.srf.invite((req, res) => {
      if (this.#refuse(req, res)) return;
      const call = new DrachtioIncomingCall(this.srf, req, res, {
        settled: () => this.#pending.delete(call),
        adopt: (dialog) => this.#dialogs.add(dialog),
        forget: (dialog) => this.#dialogs.delete(dialog),
      });
      this.#pending.add(call);
      this.emit('invite', call);
    });
    this.srf.options((req, res) => {
      if (!this.#refuse(req, res)) res.send(200, { headers: { Allow: ALLOW } });
    });
    // A REFER outside a dialog (one inside reaches its dialog).
    this.srf.refer((req, res) => {
      if (!this.#refuse(req, res)) res.send(403, 'Forbidden', { headers: { Warning: warningValue(399, NOT_A_TRANSFER_TARGET) } });
    });
    await this.#link.start();
  }

  /** drachtio-server offers new INVITEs to the other bridges connected to it; our dialogs go on. */
  withdraw(): void {
    this.#link.withdraw();
  }

  /** Cancels the INVITEs on their way and ends the dialogs left (each BYE bounded), then closes the connection. */
  async stop(): Promise<void> {
    for (const call of this.#outgoing) call.abandon('sip backend stopped');
    const byes = [...this.#dialogs].map((dialog) => dialog.bye().catch(() => {}));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(byes), new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_BYE_WAIT_MS)))]);
    clearTimeout(timer);
    await this.#link.stop();
  }

  #refuse(req: Srf.SrfRequest, res: Srf.SrfResponse): boolean {
    const source = req.source_address;
    if (this.options.allowSource(source)) return false;
    this.options.log.warn({ source, reason: 'source-not-allowed' }, 'SIP refused');
    res.send(403, 'Forbidden', { headers: { Warning: warningValue(399, `source address ${source} is not allowed`) } });
    this.emit('refused', { reason: 'source-not-allowed', source });
    return true;
  }
}

interface CallContext {
  settled(): void;
  adopt(dialog: DrachtioDialog): void;
  forget(dialog: DrachtioDialog): void;
}

/** drachtio requests carry the raw message; our own parser gives the header fields in wire order. */
function headerFields(req: Srf.SrfRequest): HeaderFields {
  const parsed = parseMessage(Buffer.from(req.msg?.raw ?? req.raw ?? ''));
  if (parsed.ok) return parsed.message.headers.entries;
  return Object.entries(req.headers ?? {});
}

/** Our own reading of the header (as the embedded stack's), drachtio-srf's URI should ours refuse it. */
function party(req: Srf.SrfRequest, name: 'From' | 'To'): Party {
  return partyOfHeader(req.get(name)) ?? { uri: req.getParsedHeader(name).uri };
}

function protocolOf(req: Srf.SrfRequest): SipProtocol {
  const p = String(req.protocol ?? 'udp').toLowerCase();
  return p === 'tcp' || p === 'tls' ? p : 'udp';
}

class DrachtioIncomingCall extends EventEmitter<IncomingCallEvents> implements IncomingCall {
  readonly callId: string;
  readonly from: Party;
  readonly to: Party;
  readonly requestUri: string;
  readonly protocol: SipProtocol;
  readonly source: { readonly address: string; readonly port: number };
  readonly headers: HeaderFields;
  readonly sdp: string | undefined;
  #cancelled = false;
  #settled = false;

  constructor(
    private readonly srf: SrfLike,
    private readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    private readonly ctx: CallContext,
  ) {
    super();
    this.callId = req.get('Call-ID');
    this.from = party(req, 'From');
    this.to = party(req, 'To');
    this.requestUri = req.uri;
    this.protocol = protocolOf(req);
    this.source = { address: req.source_address, port: Number(req.source_port) };
    this.headers = headerFields(req);
    const contentType = req.has('Content-Type') ? req.get('Content-Type').split(';')[0]!.trim().toLowerCase() : '';
    this.sdp = req.body && contentType === 'application/sdp' ? req.body : undefined;
    // drachtio-server answers the CANCEL with 200 and the INVITE with 487 itself.
    req.on('cancel', () => {
      if (this.#settled) return;
      this.#cancelled = true;
      this.#settle();
      this.emit('cancel');
    });
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  answer(localSdp: string): Dialog {
    if (this.#settled) throw new Error(`INVITE ${this.callId} was already answered or rejected`);
    this.#settle();
    const dialog = new DrachtioDialog(this.callId, localSdp, this.srf.createUAS(this.req, this.res, { localSdp }), () => this.ctx.forget(dialog));
    this.ctx.adopt(dialog);
    return dialog;
  }

  reject(status: number, phrase: string, details: RejectDetails = {}): void {
    if (this.#settled) return;
    this.#settle();
    const headers: Record<string, string> = {};
    if (details.warning) headers.Warning = warningValue(details.warning.code, details.warning.text);
    if (details.retryAfter !== undefined) headers['Retry-After'] = String(details.retryAfter);
    this.res.send(status, phrase, { headers });
  }

  #settle(): void {
    this.#settled = true;
    this.ctx.settled();
  }
}
