// What a call leaves behind: the post-call record sent to webhooks (snake_case, as the bot protocol is), and the live
// events a call reports to the process-wide metrics while it runs.
import type { LatencyPath } from '../media/index.js';

export interface LatencyReport {
  readonly mean: number;
  readonly p99: number;
}

export interface CallReport {
  readonly call_sid: string;
  readonly stream_sid: string;
  readonly account_sid: string;
  readonly sip_call_id: string;
  readonly from: string;
  readonly to: string;
  readonly custom_parameters: Readonly<Record<string, string>>;
  /** ISO 8601 times: the INVITE arrived, the 200 OK went out (null if it never did), the call was torn down. */
  readonly started_at: string;
  readonly answered_at: string | null;
  readonly ended_at: string;
  /** Seconds from the answer to the end; 0 for a call never answered. */
  readonly duration_s: number;
  readonly disconnected_by: 'caller' | 'bot' | 'system';
  readonly end_reason: string;
  /** The final response to the INVITE: 200, or the rejection (487 when the caller cancelled). */
  readonly sip_status: number;
  /** How long the bot's WebSocket took to open, when it did. */
  readonly bot_connect_ms: number | null;
  /** Keys the caller pressed, in order (RFC 4733 and SIP INFO). */
  readonly dtmf: string;
  readonly media: {
    readonly packets_in: number;
    readonly packets_out: number;
    readonly packets_lost: number;
    readonly jitter_ms: number;
    /** Bridge latency in ms, per direction (see LatencyPath). */
    readonly latency_ms: Readonly<Record<LatencyPath, LatencyReport>>;
  } | null;
}

/** Live events of a call, for metrics. */
export interface CallObserver {
  /** The INVITE got its final response: 200, or why not. */
  setup(status: number): void;
  botConnected(ms: number): void;
  dtmf(direction: 'caller_to_bot' | 'bot_to_caller'): void;
  latency(path: LatencyPath, ms: number): void;
}
