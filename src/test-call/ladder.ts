// The call's SIP ladder: every message the caller's stack sent or received, summarised and timed from the INVITE.
import { performance } from 'node:perf_hooks';
import { negotiate, type NegotiatedAudio } from '../sdp/index.js';
import { parseDtmfInfo } from '../signaling/dtmf-info.js';
import type { SipMessage, SipResponse } from '../signaling/message.js';
import { parseMessage } from '../signaling/parser.js';
import type { LadderEntry } from './call-types.js';

/** The answered codec and telephone-event payload type, e.g. "PCMA, telephone-event/96". */
export function describeAudio(audio: NegotiatedAudio): string {
  return audio.dtmfPayloadType === undefined ? audio.codec : `${audio.codec}, telephone-event/${audio.dtmfPayloadType}`;
}

export class Ladder {
  readonly entries: LadderEntry[] = [];
  /** Anything arrived from the network. */
  heard = false;
  /** The INVITE's first final response, as it came. */
  final: SipResponse | undefined;
  /** When the first message (the INVITE) went out: the ladder's time zero. */
  #startedAt: number | undefined;
  /** Every message seen so far, by direction and bytes: the same bytes again are a retransmission. */
  readonly #seen = new Set<string>();

  /** @param onEntry hears each entry as it happens. */
  constructor(private readonly onEntry?: (entry: LadderEntry) => void) {}

  /** A message the SIP stack sent or received. */
  traffic(direction: 'in' | 'out', data: Buffer): void {
    if (direction === 'in') this.heard = true;
    const key = `${direction} ${data.toString('latin1')}`;
    const again = this.#seen.has(key);
    this.#seen.add(key);
    const parsed = parseMessage(data);
    const summary = parsed.ok ? this.#summary(parsed.message, direction) : `unparseable message: ${parsed.reason}`;
    this.#record(direction === 'out' ? 'sent' : 'received', again ? `${summary} (retransmission)` : summary, data);
  }

  #summary(message: SipMessage, direction: 'in' | 'out'): string {
    if (message.kind === 'request') {
      const press = message.method === 'INFO' ? parseDtmfInfo(message.headers.get('content-type') ?? '', message.body.toString('utf8')) : undefined;
      return `${message.method} ${message.uri}${press ? ` (key ${press.digit})` : ''}`;
    }
    const { status, reason, cseq } = message;
    if (direction === 'out' || cseq.method !== 'INVITE') return `${status} ${reason} (${cseq.method})`;
    if (status >= 200) this.final ??= message;
    if (status < 200 || status >= 300) return `${status} ${reason}`;
    const answer = negotiate(message.body.toString('utf8'));
    return `${status} ${reason} (${answer.ok ? describeAudio(answer.audio) : 'unusable SDP'})`;
  }

  #record(direction: LadderEntry['direction'], summary: string, data: Buffer): void {
    const now = performance.now();
    this.#startedAt ??= now;
    const entry = { atMs: Math.round(now - this.#startedAt), direction, summary, text: data.toString('utf8') };
    this.entries.push(entry);
    this.onEntry?.(entry);
  }
}
