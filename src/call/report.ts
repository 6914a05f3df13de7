// What a call leaves behind: the post-call record sent to webhooks (snake_case, as the bot protocol is), and the live
// events a call reports to the process-wide metrics while it runs.
import type { LatencyPath, MediaStats, RecordingResult } from '../media/index.js';
import type { LegObserver, LegReport } from '../stream/index.js';
import type { CallFacts } from './records.js';
import { transferReport, type TransferFacts } from './transfer.js';

export interface LatencyReport {
  readonly mean: number;
  readonly p99: number;
}

export interface MediaReport {
  readonly packets_in: number;
  readonly packets_out: number;
  readonly packets_lost: number;
  readonly jitter_ms: number;
  /** Bridge latency in ms, per direction (see LatencyPath). */
  readonly latency_ms: Readonly<Record<LatencyPath, LatencyReport>>;
  /** Listen-only streams: the bot audio that was not played, in ms (absent otherwise). */
  readonly listen_only_ignored_ms?: number;
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
  /** The caller's media. */
  readonly media: MediaReport | null;
  /** A bridge transfer's agent, when one was joined to the caller: its media, as measured on its side. */
  readonly agent_media: MediaReport | null;
  /** The call's recording, when it had one: `error` says why it stopped before the call did. */
  readonly recording?: RecordingResult;
  /** The call's transfer, when one was started. */
  readonly transfer?: ReturnType<typeof transferReport>;
}

/** Live events of a call, for metrics. */
export interface CallObserver extends LegObserver {
  /** The INVITE got its final response: 200, or why not. */
  setup(status: number): void;
  /** A transfer ended (or was refused before it started): bridge_transfers_total{mode,result}. */
  transfer?(mode: TransferFacts['mode'], result: 'completed' | 'failed' | 'refused'): void;
}

/** The post-call report of an ended call (`facts.endedAt` and `facts.cause` set), with what its stream leg measured. */
export function reportOf(f: CallFacts, leg: LegReport | undefined, listenOnly = false): CallReport {
  const endedAt = f.endedAt ?? new Date();
  return {
    call_sid: f.callSid,
    stream_sid: f.streamSid,
    account_sid: f.accountSid,
    sip_call_id: f.sipCallId,
    from: f.from,
    to: f.to,
    custom_parameters: f.customParameters,
    started_at: f.createdAt.toISOString(),
    answered_at: f.answeredAt?.toISOString() ?? null,
    ended_at: endedAt.toISOString(),
    duration_s: f.answeredAt ? (endedAt.getTime() - f.answeredAt.getTime()) / 1000 : 0,
    disconnected_by: f.cause?.by ?? 'system',
    end_reason: f.cause?.reason ?? '',
    sip_status: f.sipStatus ?? 0,
    bot_connect_ms: f.botConnectMs === undefined ? null : Math.round(f.botConnectMs * 10) / 10,
    dtmf: f.dtmf,
    media: leg?.media ? mediaReport(leg.media, listenOnly) : null,
    agent_media: leg?.peerMedia ? mediaReport(leg.peerMedia, false) : null,
    ...(leg?.recording && { recording: leg.recording }),
    ...(f.transfer && { transfer: transferReport(f.transfer) }),
  };
}

function mediaReport(media: MediaStats, listenOnly: boolean): MediaReport {
  return {
    packets_in: media.packetsIn,
    packets_out: media.packetsOut,
    packets_lost: media.packetsLost,
    jitter_ms: media.jitterMs,
    latency_ms: {
      caller_to_bot: { mean: media.latency.caller_to_bot.meanMs, p99: media.latency.caller_to_bot.p99Ms },
      bot_to_caller: { mean: media.latency.bot_to_caller.meanMs, p99: media.latency.bot_to_caller.p99Ms },
    },
    ...(listenOnly && { listen_only_ignored_ms: Math.round(media.listenOnlyIgnoredMs) }),
  };
}
