// What the REST API does with calls: places outbound ones (trunk, destination, limits, pacing), lists and finds calls
// of both directions (live, or ended within the hour), and hangs them up.
import { EventEmitter } from 'node:events';
import { routeCall, type BotSampleRate, type HeaderLimits, customHeaderProblem, type RoutingOptions } from '../bot/index.js';
import type { SipBackend } from '../signaling/index.js';
import type { CallOptions } from './call.js';
import type { CallManager, ManagedCall } from './manager.js';
import { OutboundCall, type OutboundRequest } from './outbound.js';
import { RecordStore, type CallRecord } from './records.js';
import { destination, Pacer, pickTrunk, unpaced, type Refusal, type Trunk } from './trunks.js';
import type { TransferRefusal } from './transfer.js';

/** A validated POST /v1/calls body. */
export interface PlaceRequest {
  readonly to: string;
  readonly from: string;
  readonly trunk?: string;
  readonly botUrl?: URL;
  readonly sampleRate?: BotSampleRate;
  readonly customParameters: Readonly<Record<string, string>>;
  /** X- headers only (the API checks). */
  readonly headers: Readonly<Record<string, string>>;
  readonly webhookUrl?: URL;
  readonly ringTimeoutS: number;
}

export interface CallControlOptions {
  readonly trunks: readonly Trunk[];
  /** Regexes for `to` given as a full SIP URI. */
  readonly allowedTargets: readonly RegExp[];
  readonly backend: SipBackend;
  readonly call: CallOptions;
  readonly maxConcurrentCalls: number;
  readonly headerLimits: HeaderLimits;
  readonly routing: RoutingOptions;
  /** Why calls cannot be placed now (a backend down); empty when they can. */
  readonly outages: () => readonly string[];
}

/** Calls waiting for their turn per trunk: ten seconds' worth of its callsPerSecond. */
const QUEUE_SECONDS = 10;

export type HangupResult = 'accepted' | 'unknown' | 'ended';

export interface CallControlEvents {
  /** An outbound call was accepted (before it runs), for status webhooks. */
  placed: [call: OutboundCall];
}

export class CallControl extends EventEmitter<CallControlEvents> {
  readonly #records = new RecordStore();
  readonly #pacers = new Map<string, Pacer>();
  readonly #perTrunk = new Map<string, number>();

  constructor(
    private readonly manager: CallManager,
    private readonly options: CallControlOptions,
  ) {
    super();
    for (const trunk of options.trunks) {
      if (trunk.callsPerSecond) this.#pacers.set(trunk.name, new Pacer(trunk.callsPerSecond, Math.max(1, Math.ceil(trunk.callsPerSecond * QUEUE_SECONDS))));
    }
    manager.on('ended', (_report, call) => this.#records.add(call.record()));
  }

  /** Starts an outbound call (status `queued`), or says why not. */
  place(request: PlaceRequest): OutboundCall | Refusal {
    const { options, manager } = this;
    if (!manager.accepting) return { status: 503, error: 'the bridge is shutting down', retryAfter: 30 };
    const outages = options.outages();
    if (outages.length > 0) return { status: 503, error: outages.join('; '), retryAfter: 5 };
    const trunk = pickTrunk(options.trunks, request.trunk);
    if ('status' in trunk) return trunk;
    const target = destination(trunk, request.to, options.allowedTargets);
    if ('status' in target) return target;
    const headerProblem = customHeaderProblem(Object.entries(request.headers), options.headerLimits);
    if (headerProblem) return { status: 400, error: `headers: ${headerProblem}` };
    const chosen = this.#bot(request);
    if ('status' in chosen) return chosen;
    // The routing rule that chose the bot gives the call its stream policy; bot_url and the default bot, the global one.
    const { routeIndex, ...bot } = chosen;
    if (manager.activeCalls >= options.maxConcurrentCalls) {
      return { status: 429, error: `${manager.activeCalls} calls in progress, the bridge's limit is ${options.maxConcurrentCalls}`, retryAfter: 5 };
    }
    const onTrunk = this.#perTrunk.get(trunk.name) ?? 0;
    if (trunk.maxConcurrentCalls !== undefined && onTrunk >= trunk.maxConcurrentCalls) {
      return { status: 429, error: `${onTrunk} calls on trunk ${trunk.name}, its limit is ${trunk.maxConcurrentCalls}`, retryAfter: 5 };
    }
    const pacer = this.#pacers.get(trunk.name);
    const ticket = pacer ? pacer.enqueue() : unpaced;
    if (!ticket) {
      return { status: 429, error: `${pacer!.waiting} calls wait for trunk ${trunk.name} (${trunk.callsPerSecond} per second)`, retryAfter: pacer!.retryAfter };
    }
    const call = new OutboundCall(
      {
        trunk,
        uri: target.uri,
        from: request.from,
        to: request.to,
        bot,
        ...(routeIndex !== undefined && { routeIndex }),
        customParameters: request.customParameters,
        headers: Object.entries(request.headers),
        ...(request.webhookUrl && { webhookUrl: request.webhookUrl }),
        ringTimeoutMs: request.ringTimeoutS * 1000,
      },
      { ...options.call, backend: options.backend },
      ticket,
    );
    this.#perTrunk.set(trunk.name, onTrunk + 1);
    call.once('ended', () => this.#perTrunk.set(trunk.name, (this.#perTrunk.get(trunk.name) ?? 1) - 1));
    manager.adopt(call);
    this.emit('placed', call);
    void call.run();
    return call;
  }

  /**
   * The bot for a call: `bot_url` (with bot.protocol and bot.headers), else the routing rules with the custom
   * parameters as X- headers (the route's protocol and headers over the defaults), else the default. A Twilio bot
   * takes 8 kHz whatever the request says.
   */
  #bot(request: PlaceRequest): OutboundRequest['bot'] & { routeIndex?: number } | Refusal {
    const routing = { ...this.options.routing, ...(request.sampleRate && { defaultSampleRate: request.sampleRate }) };
    if (request.botUrl) {
      const url = new URL(request.botUrl.href);
      const protocol = routing.defaultProtocol ?? 'exotel';
      const sampleRate = protocol === 'twilio' ? 8000 : (request.sampleRate ?? routing.defaultSampleRate);
      if (!url.searchParams.has('sample-rate') || protocol === 'twilio') url.searchParams.set('sample-rate', String(sampleRate));
      return { url, sampleRate, protocol, headers: { ...routing.defaultHeaders } };
    }
    const headers = Object.entries(request.customParameters).map(([k, v]) => [`X-${k}`, v] as const);
    // The URL header is for SIP callers; an API caller names its bot in bot_url.
    const { urlHeader: _, ...withoutUrlHeader } = routing;
    const route = routeCall(headers, withoutUrlHeader);
    if (!route.ok) return { status: 400, error: 'bot_url: required: no route matches the custom parameters and no bot.defaultUrl is configured' };
    const sampleRate = route.protocol === 'twilio' ? 8000 : (request.sampleRate ?? route.sampleRate);
    return { url: route.url, sampleRate, protocol: route.protocol, headers: route.headers, ...(route.routeIndex !== undefined && { routeIndex: route.routeIndex }) };
  }

  /** Live calls of both directions. */
  list(): CallRecord[] {
    return [...this.manager.calls].map((call) => call.record());
  }

  get(callSid: string): CallRecord | undefined {
    return this.#live(callSid)?.record() ?? this.#records.get(callSid);
  }

  hangup(callSid: string): HangupResult {
    const call = this.#live(callSid);
    if (call) return call.hangup() ? 'accepted' : 'ended';
    return this.#records.get(callSid) ? 'ended' : 'unknown';
  }

  /** Starts a transfer of a live call (the body is the `transfer` object), or says why not. */
  transfer(callSid: string, body: unknown): 'accepted' | TransferRefusal {
    const call = this.#live(callSid);
    if (!call) return this.#records.get(callSid) ? { status: 409, error: `call ${callSid} has already ended` } : { status: 404, error: `no call ${callSid}` };
    if (!call.transfer) return { status: 501, error: 'transfers of this kind of call are not supported yet' };
    return call.transfer(body) ?? 'accepted';
  }

  #live(callSid: string): ManagedCall | undefined {
    for (const call of this.manager.calls) if (call.callSid === callSid) return call;
    return undefined;
  }
}
