// Turns each INVITE from the signaling backend into a Call, after admission: not while shutting down, not while the
// SIP backend or rtpengine is down, not beyond the concurrent-call limit, not while every media host's clock runs late
// or its event loop has no room left (overload), not faster than each source's INVITE rate. Keeps the set of live calls,
// both directions (outbound ones are admitted by CallControl and adopted here).
import { EventEmitter } from 'node:events';
import type { IncomingCall, SipBackend } from '../signaling/index.js';
import { overLimit, preferredHost } from '../stream/index.js';
import { Call, type CallEvents, type CallOptions, type EndCause } from './call.js';
import type { CallRecord } from './records.js';
import type { RecordingSettings } from './recording.js';
import type { CallReport } from './report.js';
import type { TransferRefusal } from './transfer.js';

/** What the manager needs of a call, inbound or outbound. */
export interface ManagedCall {
  readonly callSid: string;
  once(event: 'ended', listener: (...args: CallEvents['ended']) => void): unknown;
  readonly webhookUrl: URL | undefined;
  /** Where the call's recording goes after the call (upload), when it was recorded. */
  readonly recordingSettings?: RecordingSettings | undefined;
  end(cause: EndCause): void;
  /** DELETE through the API; false when already ended. */
  hangup(): boolean;
  record(): CallRecord;
  /** POST .../transfer: undefined when a transfer started, else why not; absent where transfers are not built. */
  transfer?(body: unknown): TransferRefusal | undefined;
}

export interface AdmissionLimits {
  readonly maxConcurrentCalls: number;
  /** New INVITEs per second from one source address; the bucket holds one second's worth. */
  readonly invitesPerSecondPerSource: number;
  /** New calls are refused while every media host's clock has run later than this in the last seconds; 0 never refuses. */
  readonly maxClockLagMs: number;
  /** New calls are refused while every media host's event loop is busier than this share of the time (0-1); 1 never refuses. */
  readonly maxEventLoopUtilization: number;
}

export interface CallManagerEvents {
  /** A call ended, after its teardown. */
  ended: [report: CallReport, call: ManagedCall];
  /** An INVITE turned away before it became a call (shutting down, too many calls, too fast). */
  refused: [refusal: { readonly status: number; readonly reason: string }];
}

/** Per-source token buckets; idle full ones are forgotten so the map stays small. */
class SourceRate {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly perSecond: number) {}

  take(source: string, now = Date.now()): boolean {
    const capacity = Math.max(1, this.perSecond);
    const bucket = this.#buckets.get(source) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.#buckets.set(source, bucket);
    if (this.#buckets.size > 10_000) {
      for (const [key, b] of this.#buckets) if (b.tokens >= capacity && key !== source) this.#buckets.delete(key);
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export class CallManager extends EventEmitter<CallManagerEvents> {
  readonly #calls = new Set<ManagedCall>();
  readonly #idle: Array<() => void> = [];
  readonly #rate: SourceRate;
  #accepting = true;

  constructor(
    backend: SipBackend,
    private readonly options: CallOptions,
    private readonly limits: AdmissionLimits,
    /** Why calls cannot be taken now (a backend down); empty when they can. */
    private readonly outages: () => readonly string[] = () => [],
    /**
     * How busy this thread's event loop is (0-1) when the media runs in workers: SIP and the API still run here. With
     * media in-process the host's own measure is this loop's.
     */
    private readonly signalingBusy?: () => number,
  ) {
    super();
    this.#rate = new SourceRate(limits.invitesPerSecondPerSource);
    backend.on('invite', (invite) => this.#admit(invite));
  }

  get activeCalls(): number {
    return this.#calls.size;
  }

  /** The calls in progress. */
  get calls(): ReadonlySet<ManagedCall> {
    return this.#calls;
  }

  /** False once draining for shutdown has begun. */
  get accepting(): boolean {
    return this.#accepting;
  }

  /**
   * Stops taking calls (503 from now on), lets the calls in progress end on their own for up to `timeoutMs`, then
   * ends the rest with BYE. Resolves when none is left.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    if (this.#calls.size > 0 && timeoutMs > 0) {
      this.options.log.info({ activeCalls: this.#calls.size, timeoutMs }, 'draining: waiting for calls to end');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#whenIdle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    await this.endAll('bridge shutting down');
  }

  /** Ends every call (BYE to answered ones) and resolves when none is left. */
  endAll(reason: string): Promise<void> {
    const idle = this.#whenIdle();
    for (const call of [...this.#calls]) call.end({ by: 'system', reason });
    return idle;
  }

  #whenIdle(): Promise<void> {
    return this.#calls.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #admit(invite: IncomingCall): void {
    const source = invite.source.address;
    const loads = this.options.media.host.load();
    const host = loads[preferredHost(loads, this.limits)];
    const over = host && overLimit(host, this.limits);
    const outages = this.outages();
    let signaling = 0;
    const refusal = !this.#accepting
      ? { reason: 'the bridge is shutting down', retryAfter: 30 }
      : outages.length > 0
        ? { reason: outages.join('; '), retryAfter: 5 }
        : this.#calls.size >= this.limits.maxConcurrentCalls
          ? { reason: `${this.#calls.size} calls in progress, the limit is ${this.limits.maxConcurrentCalls}`, retryAfter: 5 }
          : !host
            ? { reason: 'no media host is up', retryAfter: 5 }
            : over === 'clockLag'
              ? { reason: `overloaded: the media clock ran ${Math.round(host.clockLagMs)} ms late, the limit is ${this.limits.maxClockLagMs}`, retryAfter: 5 }
              : over === 'busy'
                ? { reason: `overloaded: the event loop was busy ${(host.busy * 100).toFixed(1)} % of the last second, the limit is ${Math.round(this.limits.maxEventLoopUtilization * 100)} %`, retryAfter: 5 }
                : (signaling = this.signalingBusy?.() ?? 0) > this.limits.maxEventLoopUtilization
                  ? { reason: `overloaded: the signaling event loop (SIP, API) was busy ${(signaling * 100).toFixed(1)} % of the last second, the limit is ${Math.round(this.limits.maxEventLoopUtilization * 100)} %`, retryAfter: 5 }
                : !this.#rate.take(source)
                  ? { reason: `more than ${this.limits.invitesPerSecondPerSource} INVITEs per second from ${source}`, retryAfter: 1 }
                  : undefined;
    if (refusal) {
      this.options.log.warn({ sip_call_id: invite.callId, source, status: 503, reason: refusal.reason, ...(over && { host: host.name }) }, 'call refused');
      invite.reject(503, 'Service Unavailable', { warning: { code: 399, text: refusal.reason }, retryAfter: refusal.retryAfter });
      this.emit('refused', { status: 503, reason: refusal.reason });
      return;
    }
    const call = new Call(invite, this.options);
    this.adopt(call);
    void call.run();
  }

  /** Counts a call as live until it ends. */
  adopt(call: ManagedCall): void {
    this.#calls.add(call);
    call.once('ended', (report) => {
      this.#calls.delete(call);
      this.emit('ended', report, call);
      if (this.#calls.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    });
  }
}
