// The bridge's Prometheus metrics. Per-packet counts are not pushed into prom-client on the hot path: they are read
// from the media hosts' cumulative counters when /metrics is scraped.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallObserver, CallReport } from '../call/index.js';
import type { LatencyPath } from '../media/index.js';

/** What the metrics read at scrape time: the calls in progress, and the media hosts' counters summed. */
export interface LiveCalls {
  readonly count: number;
  /** RTP packets over every call the hosts have carried, ended ones included. */
  readonly packets: { readonly in: number; readonly out: number; readonly lost: number };
  /** Bot audio queued in the calls in progress, ms: all of it, and in the call with the most. */
  readonly queuedMs: number;
  readonly maxQueuedMs: number;
  /** The media clocks' lateness, 90th percentile over the last 2 s (the latest host's). */
  readonly clockLagMs: number;
  /** The event loops' utilisation over the last 0.5-1 s, 0-1 (the busiest host's). */
  readonly eventLoopUtilization: number;
}

export class BridgeMetrics implements CallObserver {
  readonly registry = new Registry();
  readonly #setups: Counter<'status'>;
  readonly #endedCalls: Counter<'by'>;
  readonly #duration: Histogram;
  readonly #jitter: Histogram;
  readonly #botConnect: Histogram;
  readonly #latency: Histogram<'path'>;
  readonly #latencyDropped: Counter;
  readonly #dtmf: Counter<'direction'>;
  readonly #transfers: Counter<'mode' | 'result'>;
  readonly #refused: Counter<'reason'>;
  readonly #webhooks: Counter<'result'>;
  readonly #recordingErrors: Counter;
  readonly #uploads: Counter<'result'>;
  #live: () => LiveCalls = () => ({ count: 0, packets: { in: 0, out: 0, lost: 0 }, queuedMs: 0, maxQueuedMs: 0, clockLagMs: 0, eventLoopUtilization: 0 });
  #backends: () => Readonly<Record<string, boolean>> = () => ({});

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const live = () => this.#live();
    new Gauge({
      name: 'bridge_active_calls',
      help: 'Calls being set up or in progress',
      registers,
      collect() {
        this.set(live().count);
      },
    });
    this.#setups = new Counter({
      name: 'bridge_call_setups_total',
      help: 'INVITEs by the final response they got: 200 answered, else the reason as a SIP status',
      labelNames: ['status'],
      registers,
    });
    this.#endedCalls = new Counter({ name: 'bridge_calls_ended_total', help: 'Answered calls ended, by who ended them', labelNames: ['by'], registers });
    this.#duration = new Histogram({
      name: 'bridge_call_duration_seconds',
      help: 'Answered calls, from the answer to the end',
      buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    });
    new Counter({
      name: 'bridge_rtp_packets_total',
      help: 'RTP packets from callers (in) and to callers (out)',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset();
        const { packets } = live();
        this.inc({ direction: 'in' }, packets.in);
        this.inc({ direction: 'out' }, packets.out);
      },
    });
    new Counter({
      name: 'bridge_rtp_lost_packets_total',
      help: 'Caller RTP packets that never arrived (RFC 3550: expected minus received)',
      registers,
      collect() {
        this.reset();
        this.inc(live().packets.lost);
      },
    });
    this.#jitter = new Histogram({
      name: 'bridge_rtp_inbound_jitter_seconds',
      help: "Each answered call's RFC 3550 interarrival jitter of the caller's RTP, at its end",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1],
      registers,
    });
    this.#botConnect = new Histogram({
      name: 'bridge_bot_connect_seconds',
      help: "Time to open the bot's WebSocket (retries included)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers,
    });
    this.#latency = new Histogram({
      name: 'bridge_latency_seconds',
      help: "Time audio spends in the bridge: caller_to_bot from the RTP packet completing a chunk (each packet, for a mu-law bot) to its WebSocket send; bot_to_caller from a bot media message to the RTP packet with its first sample",
      labelNames: ['path'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.5, 1],
      registers,
    });
    this.#latencyDropped = new Counter({
      name: 'bridge_latency_samples_dropped_total',
      help: 'Latency observations a media worker left out of bridge_latency_seconds (beyond its cap of samples a second)',
      registers,
    });
    new Gauge({
      name: 'bridge_clock_lag_seconds',
      help: 'How late the 20 ms media clock fires, 90th percentile over the last 2 s; above limits.maxClockLagMs new calls get 503',
      registers,
      collect() {
        this.set(live().clockLagMs / 1000);
      },
    });
    new Gauge({
      name: 'bridge_event_loop_utilization',
      help: 'Share of the last second the event loop was busy (0-1), while calls are up; above limits.maxEventLoopUtilization new calls get 503',
      registers,
      collect() {
        this.set(live().eventLoopUtilization);
      },
    });
    new Gauge({
      name: 'bridge_bot_queue_seconds',
      help: 'Bot audio waiting to be played, over all calls',
      registers,
      collect() {
        this.set(live().queuedMs / 1000);
      },
    });
    new Gauge({
      name: 'bridge_bot_queue_max_seconds',
      help: 'Bot audio waiting to be played in the call with the most',
      registers,
      collect() {
        this.set(live().maxQueuedMs / 1000);
      },
    });
    const backends = () => this.#backends();
    new Gauge({
      name: 'bridge_backend_up',
      help: 'Whether what calls need answers: 1 up, 0 down (sip: the SIP backend; rtpengine: its ng ping, when configured)',
      labelNames: ['component'],
      registers,
      collect() {
        this.reset();
        for (const [component, up] of Object.entries(backends())) this.set({ component }, up ? 1 : 0);
      },
    });
    this.#transfers = new Counter({ name: 'bridge_transfers_total', help: 'Call transfers, by mode and result (refused: never sent)', labelNames: ['mode', 'result'], registers });
    this.#dtmf = new Counter({ name: 'bridge_dtmf_total', help: 'Key presses relayed, by direction', labelNames: ['direction'], registers });
    this.#refused = new Counter({
      name: 'bridge_sip_refused_total',
      help: 'SIP requests and connections turned away before reaching a call, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.#webhooks = new Counter({ name: 'bridge_webhooks_total', help: 'Post-call reports, by outcome', labelNames: ['result'], registers });
    this.#recordingErrors = new Counter({ name: 'bridge_recording_errors_total', help: 'Recordings stopped by a disk error (the calls went on)', registers });
    this.#uploads = new Counter({ name: 'bridge_recording_uploads_total', help: 'Recordings PUT after their call, by outcome', labelNames: ['result'], registers });
  }

  /** Where the calls in progress are read from at scrape time. */
  track(live: () => LiveCalls): void {
    this.#live = live;
  }

  /** Where the state of the SIP backend and rtpengine is read from at scrape time, by component. */
  trackBackends(backends: () => Readonly<Record<string, boolean>>): void {
    this.#backends = backends;
  }

  setup(status: number): void {
    this.#setups.inc({ status: String(status) });
  }

  botConnected(ms: number): void {
    this.#botConnect.observe(ms / 1000);
  }

  dtmf(direction: 'caller_to_bot' | 'bot_to_caller'): void {
    this.#dtmf.inc({ direction });
  }

  transfer(mode: 'refer' | 'bridge', result: 'completed' | 'failed' | 'refused'): void {
    this.#transfers.inc({ mode, result });
  }

  latency(path: LatencyPath, ms: number): void {
    this.#latency.observe({ path }, ms / 1000);
  }

  latencyDropped(count: number): void {
    this.#latencyDropped.inc(count);
  }

  callEnded(report: CallReport): void {
    if (report.answered_at === null) return;
    this.#endedCalls.inc({ by: report.disconnected_by });
    this.#duration.observe(report.duration_s);
    if (report.media && report.media.packets_in > 1) this.#jitter.observe(report.media.jitter_ms / 1000);
  }

  sipRefused(reason: string): void {
    this.#refused.inc({ reason });
  }

  webhook(result: 'delivered' | 'failed' | 'dropped'): void {
    this.#webhooks.inc({ result });
  }

  recordingError(): void {
    this.#recordingErrors.inc();
  }

  recordingUpload(result: 'uploaded' | 'failed'): void {
    this.#uploads.inc({ result });
  }
}
