// What the call API shows of a call (live or recently ended), and the bounded store of ended calls' records.

import { transferReport, type TransferFacts } from './transfer.js';

export type CallStatus = 'queued' | 'dialing' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export const FINAL_STATUSES: ReadonlySet<CallStatus> = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

export interface CallRecord {
  readonly call_sid: string;
  readonly stream_sid: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  /** The trunk an outbound call went through; null for inbound calls. */
  readonly trunk: string | null;
  readonly status: CallStatus;
  /** The final response to the INVITE once there is one (200 when answered). */
  readonly sip_status: number | null;
  readonly created_at: string;
  readonly answered_at: string | null;
  readonly ended_at: string | null;
  readonly disconnected_by: string | null;
  readonly end_reason: string | null;
  readonly custom_parameters: Readonly<Record<string, string>>;
  /** The call's transfer, once one was started (as in the post-call report). */
  readonly transfer?: ReturnType<typeof transferReport>;
}

/** What a call knows of itself, whichever direction: its record and its report are made from these. */
export interface CallFacts {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  readonly sipCallId: string;
  readonly direction: CallRecord['direction'];
  readonly from: string;
  readonly to: string;
  readonly trunk: string | null;
  readonly customParameters: Readonly<Record<string, string>>;
  readonly status: CallStatus;
  readonly sipStatus: number | null;
  readonly createdAt: Date;
  readonly answeredAt: Date | undefined;
  readonly endedAt: Date | undefined;
  readonly cause: { readonly by: 'caller' | 'bot' | 'system'; readonly reason: string } | undefined;
  readonly botConnectMs: number | undefined;
  readonly dtmf: string;
  /** The call's last transfer, when one was asked for and started. */
  readonly transfer?: TransferFacts | undefined;
}

export function recordOf(f: CallFacts): CallRecord {
  return {
    call_sid: f.callSid,
    stream_sid: f.streamSid,
    direction: f.direction,
    from: f.from,
    to: f.to,
    trunk: f.trunk,
    status: f.status,
    sip_status: f.sipStatus,
    created_at: f.createdAt.toISOString(),
    answered_at: f.answeredAt?.toISOString() ?? null,
    ended_at: f.endedAt?.toISOString() ?? null,
    disconnected_by: f.cause?.by ?? null,
    end_reason: f.cause?.reason ?? null,
    custom_parameters: f.customParameters,
    ...(f.transfer && { transfer: transferReport(f.transfer) }),
  };
}

/** The SIP final status of an outbound INVITE as a call status (the spec's table). */
export function statusOfFailure(sipStatus: number): CallStatus {
  if (sipStatus === 486 || sipStatus === 600) return 'busy';
  if (sipStatus === 408 || sipStatus === 480 || sipStatus === 487) return 'no-answer';
  return 'failed';
}

export interface RecordStoreOptions {
  /** Ended calls are kept this long. */
  readonly keepMs: number;
  /** And at most this many; the oldest go first. */
  readonly maxRecords: number;
}

/** Ended calls' records by call_sid, in the order they ended (Map order), evicted by age and count. */
export class RecordStore {
  readonly #records = new Map<string, { record: CallRecord; at: number }>();

  constructor(private readonly options: RecordStoreOptions = { keepMs: 3_600_000, maxRecords: 10_000 }) {}

  add(record: CallRecord, now = Date.now()): void {
    this.#records.delete(record.call_sid);
    this.#records.set(record.call_sid, { record, at: now });
    this.#evict(now);
  }

  get(callSid: string, now = Date.now()): CallRecord | undefined {
    this.#evict(now);
    return this.#records.get(callSid)?.record;
  }

  get size(): number {
    return this.#records.size;
  }

  #evict(now: number): void {
    for (const [sid, entry] of this.#records) {
      if (this.#records.size <= this.options.maxRecords && now - entry.at < this.options.keepMs) break;
      this.#records.delete(sid);
    }
  }
}
